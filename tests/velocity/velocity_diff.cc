// The differential test of the Velocity engine: renders every case of
// tests/velocity/corpus.txt with Agentry and compares the bytes with what
// Apache Velocity 1.7 rendered (VelocityOracle's output). A parse or render
// error on both sides counts as agreement. Cases marked `--- differs:` are
// where the subset deliberately differs: they are checked against their
// `--- expect` text (or `--- expect-error`) instead, and listed.
//
// Usage: velocity_diff corpus.txt oracle.tsv
// Exit status 0 when every case agrees, 1 otherwise (each mismatch is
// printed with its template and both outputs).
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "agentry/common/crypto.h"
#include "agentry/templating/velocity.h"

namespace {

struct Case {
  std::string name;
  std::string context = "{}";
  std::string templ;
  bool differs = false;
  std::string reason;
  bool expect_error = false;
  std::string expect;
};

std::string TrimLast(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// The corpus format (see the head of corpus.txt): "=== name" starts a case;
// "--- context", "--- template", "--- differs: reason", "--- expect",
// "--- expect-error" start sections; a section's text ends with the line
// before the next marker, without that last line's newline.
std::vector<Case> ParseCorpus(const std::string& text) {
  std::vector<Case> out;
  std::string section;
  std::string context, templ, expect;
  auto flush = [&] {
    if (out.empty()) return;
    Case& c = out.back();
    if (!context.empty()) c.context = context;
    c.templ = TrimLast(templ);
    c.expect = TrimLast(expect);
  };
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  if (!text.empty() && text.back() == '\n') {
    // getline drops the final empty line; the Java side keeps it as "".
    lines.push_back("");
  }
  for (const std::string& l : lines) {
    if (l.rfind("=== ", 0) == 0) {
      flush();
      out.emplace_back();
      std::string name = l.substr(4);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\r')) {
        name.pop_back();
      }
      out.back().name = name;
      section.clear();
      context.clear();
      templ.clear();
      expect.clear();
    } else if (l.rfind("--- ", 0) == 0) {
      section = l.substr(4);
      if (section.rfind("differs", 0) == 0) {
        out.back().differs = true;
        const size_t colon = section.find(':');
        out.back().reason =
            colon == std::string::npos ? "" : section.substr(colon + 2);
        section = "differs";
      } else if (section == "expect-error") {
        out.back().expect_error = true;
      }
    } else if (!out.empty()) {
      if (section == "context") context += l + "\n";
      if (section == "template") templ += l + "\n";
      if (section == "expect") expect += l + "\n";
    }
  }
  flush();
  return out;
}

struct Outcome {
  bool ok = false;
  std::string text;  // output, or the error
};

Outcome RenderWithAgentry(const Case& c) {
  boost::system::error_code ec;
  boost::json::value context = boost::json::parse(c.context, ec);
  if (ec) return {false, "bad context JSON: " + ec.message()};
  auto parsed = agentry::templating::Template::Parse(c.templ);
  if (!parsed.ok()) return {false, parsed.status().ToString()};
  auto rendered = (*parsed)->Render(context);
  if (!rendered.ok()) return {false, rendered.status().ToString()};
  return {true, std::move(rendered).value()};
}

std::string Show(const std::string& s) {
  std::string out = "«";
  for (char ch : s) {
    if (ch == '\n') {
      out += "⏎\n";
    } else {
      out += ch;
    }
  }
  return out + "»";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: velocity_diff corpus.txt oracle.tsv\n");
    return 2;
  }
  if (!agentry::InitCrypto()) return 2;
  std::ifstream corpus_file(argv[1], std::ios::binary);
  std::stringstream corpus_text;
  corpus_text << corpus_file.rdbuf();
  const std::vector<Case> cases = ParseCorpus(corpus_text.str());

  std::map<std::string, Outcome> oracle;
  std::ifstream oracle_file(argv[2], std::ios::binary);
  std::string line;
  while (std::getline(oracle_file, line)) {
    const size_t t1 = line.find('\t');
    const size_t t2 = line.find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) continue;
    auto body = agentry::Base64Decode(line.substr(t2 + 1));
    oracle[line.substr(0, t1)] =
        Outcome{line.substr(t1 + 1, t2 - t1 - 1) == "ok", body.value_or("")};
  }

  int agree = 0, differ = 0, failed = 0;
  std::vector<std::string> deliberate;
  for (const Case& c : cases) {
    const Outcome mine = RenderWithAgentry(c);
    bool same = false;
    std::string theirs;
    if (c.differs) {
      same = c.expect_error ? !mine.ok : (mine.ok && mine.text == c.expect);
      theirs = c.expect_error ? "(an error)" : c.expect;
      deliberate.push_back(c.name + ": " + c.reason);
      if (same) ++differ;
    } else {
      auto it = oracle.find(c.name);
      if (it == oracle.end()) {
        std::printf("MISSING oracle result for %s\n", c.name.c_str());
        ++failed;
        continue;
      }
      const Outcome& o = it->second;
      same = (!o.ok && !mine.ok) || (o.ok && mine.ok && o.text == mine.text);
      theirs = o.ok ? o.text : "(Velocity error: " + o.text + ")";
      if (same) ++agree;
    }
    if (!same) {
      ++failed;
      std::printf(
          "MISMATCH %s\n  template: %s\n  velocity: %s\n  agentry:  %s\n",
          c.name.c_str(), Show(c.templ).c_str(), Show(theirs).c_str(),
          mine.ok ? Show(mine.text).c_str()
                  : ("(error: " + mine.text + ")").c_str());
    }
  }
  std::printf("\nDeliberate differences (%zu):\n", deliberate.size());
  for (const std::string& d : deliberate) std::printf("  %s\n", d.c_str());
  std::printf(
      "\n%zu cases: %d agree with Apache Velocity 1.7, %d deliberate "
      "differences as expected, %d failed\n",
      cases.size(), agree, differ, failed);
  return failed == 0 && !cases.empty() ? 0 : 1;
}
