// Unit tests of the Velocity engine's contract beyond Velocity's semantics
// (which tests/velocity/ checks against Apache Velocity 1.7 itself): every
// bound is enforced with an error naming it, parse errors give line and
// column, hostile templates neither crash nor hang.
#include "agentry/templating/velocity.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <thread>
#include <vector>

namespace agentry::templating {
namespace {

boost::json::value Ctx() {
  return boost::json::parse(
      R"({"session":{"name":"Ada","items":["x","y"],"n":3}})");
}

std::string Render(std::string_view source, const Limits& limits = {}) {
  auto t = Template::Parse(source, limits);
  if (!t.ok()) return "PARSE: " + t.status().message();
  auto r = (*t)->Render(Ctx());
  if (!r.ok()) return "RENDER: " + r.status().message();
  return *r;
}

TEST(VelocityTest, RendersTheSubset) {
  EXPECT_EQ(Render("Hi ${session.name}, $!nope $nope"), "Hi Ada,  $nope");
  EXPECT_EQ(Render("#foreach($i in $session.items)$foreach.count=$i "
                   "#end"),
            "1=x 2=y ");
  EXPECT_EQ(Render("#if($session.n == \"3\")eq#else ne#end"), "eq");
  EXPECT_EQ(Render("#set($x = [1..3])$x"), "[1, 2, 3]");
}

TEST(VelocityTest, ParseErrorsGiveLineAndColumn) {
  auto t = Template::Parse("line one\n  #end");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(t.status().message().rfind("line 2, column 3: ", 0), 0u)
      << t.status().message();
  for (const char* bad : {"#if(true)x", "#set($x = )", "#foreach($i in)#end",
                          "#set($x = \"abc)", "end$", "#else", "x #"}) {
    auto r = Template::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("line ", 0), 0u)
        << bad << ": " << r.status().message();
  }
}

TEST(VelocityTest, OutputBound) {
  Limits limits;
  limits.max_output_bytes = 1000;
  EXPECT_EQ(Render("#foreach($i in [1..99])1234567890#end", limits).size(),
            990u);
  const std::string r =
      Render("#foreach($i in [1..101])1234567890#end", limits);
  EXPECT_EQ(r, "RENDER: output exceeds 1000 bytes");
  // The default is 1 MiB.
  const std::string big = Render(
      "#set($s = "
      "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\")"
      "#foreach($i in [1..20000])$s#end");
  EXPECT_EQ(big, "RENDER: output exceeds 1048576 bytes");
}

TEST(VelocityTest, LoopBound) {
  Limits limits;
  limits.max_loop_iterations = 100;
  // Every iteration counts, outer and inner: 9 + 9 * 10 = 99.
  EXPECT_EQ(
      Render("#foreach($i in [1..9])#foreach($j in [1..10])#end#end", limits),
      "");
  EXPECT_EQ(
      Render("#foreach($i in [1..10])#foreach($j in [1..10])#end#end", limits),
      "RENDER: more than 100 loop iterations");
}

TEST(VelocityTest, NestingBound) {
  Limits limits;
  limits.max_nesting = 8;
  std::string ok, deep;
  for (int i = 0; i < 8; ++i) ok += "#if(true)";
  for (int i = 0; i < 8; ++i) ok += "#end";
  EXPECT_EQ(Render(ok, limits), "");
  for (int i = 0; i < 9; ++i) deep += "#if(true)";
  for (int i = 0; i < 9; ++i) deep += "#end";
  auto t = Template::Parse(deep, limits);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("nest deeper than 8"), std::string::npos)
      << t.status().message();
  // Far deeper than any stack would take, with the default limits.
  std::string hostile;
  for (int i = 0; i < 10000; ++i) hostile += "#if(true)";
  EXPECT_FALSE(Template::Parse(hostile).ok());
  std::string parens = "#if(";
  parens += std::string(10000, '(');
  parens += "true";
  EXPECT_FALSE(Template::Parse(parens).ok());
}

TEST(VelocityTest, TemplateSizeBound) {
  Limits limits;
  limits.max_template_bytes = 100;
  EXPECT_TRUE(Template::Parse(std::string(100, 'a'), limits).ok());
  auto t = Template::Parse(std::string(101, 'a'), limits);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "template exceeds 100 bytes");
}

TEST(VelocityTest, WorkBoundStopsValuesThatNeverReachTheOutput) {
  // Each of these once ran out of memory or time (fuzz/regressions/).
  for (const char* hostile :
       {"#set($a=[0..9])#foreach($i in [1..40])#set($a=[$a,$a])#end",
        "#foreach($i in [0..99998])#set($b=[0..99998])#end",
        "#set($s=\"x\")#foreach($i in [1..20])#set($s=\"$s$s\")#end"
        "#foreach($i in [1..99900])#set($t=\"$s\")#end"}) {
    const std::string r = Render(hostile);
    EXPECT_EQ(r.rfind("RENDER: rendering needs more than 8000000 steps", 0), 0u)
        << hostile << ": " << r.substr(0, 200);
  }
  Limits limits;
  limits.max_work = 50;
  EXPECT_EQ(Render("#set($a = [1..40])", limits), "");
  EXPECT_EQ(Render("#set($a = [1..60])", limits)
                .rfind("RENDER: rendering needs more than 50 steps", 0),
            0u);
}

TEST(VelocityTest, ValueDepthBound) {
  std::string deep = "#set($a = [])";
  for (int i = 0; i < 70; ++i) deep += "#set($a = [$a])";
  EXPECT_EQ(Render(deep), "RENDER: a value nests deeper than 64 levels");
}

TEST(VelocityTest, OneTemplateRendersFromManyThreads) {
  auto t = Template::Parse(
      "#foreach($i in $session.items)#set($x = \"$i!\")$x#end $session.name");
  ASSERT_TRUE(t.ok());
  std::vector<std::thread> threads;
  std::vector<std::string> out(8);
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      for (int n = 0; n < 200; ++n) {
        auto r = (*t)->Render(Ctx());
        out[k] = r.ok() ? *r : r.status().message();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string& s : out) EXPECT_EQ(s, "x!y! Ada");
}

}  // namespace
}  // namespace agentry::templating
