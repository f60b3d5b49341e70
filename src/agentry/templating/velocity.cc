// The Velocity-subset engine: a hand-written scanner/parser producing an
// immutable AST, and a renderer bounded by Limits. Behaviour was checked
// against Apache Velocity 1.7 (see velocity_test.cc).
#include "agentry/templating/velocity.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace agentry::templating {

namespace json = boost::json;

namespace vt {

// A reference as written: `$name.prop.prop`, `${…}`, `$!…`.
struct Ref {
  std::string name;
  std::vector<std::string> props;
  bool quiet = false;
  std::string source;  // the text as written, rendered when undefined
};

enum class CmpOp : uint8_t { kEq, kNe, kLt, kGt, kLe, kGe };

struct Expr {
  enum class Kind : uint8_t {
    kRef,
    kLiteral,  // number, boolean or single-quoted string
    kString,   // double-quoted string, interpolated
    kList,
    kRange,
    kNot,
    kAnd,
    kOr,
    kCompare,
  };
  Kind kind = Kind::kLiteral;
  Ref ref;
  json::value literal;
  std::shared_ptr<const Template::Node> interp;  // kString: a block
  std::vector<Expr> kids;  // operands (kList, kRange, kNot, kAnd, kOr, kCmp)
  std::vector<CmpOp> ops;  // kCompare: ops[i] sits between kids[i], kids[i+1]
};

}  // namespace vt

struct Template::Node {
  enum class Kind : uint8_t {
    kBlock,
    kText,
    kRef,
    kEscRef,
    kSet,
    kIf,
    kForeach
  };
  Kind kind = Kind::kBlock;
  std::string text;             // kText
  bool plain = false;           // kText scanned from ordinary template text
  vt::Ref ref;                  // kRef, kEscRef; kSet target; kForeach variable
  size_t backslashes = 0;       // kEscRef
  std::vector<vt::Expr> exprs;  // kIf conditions; kSet value; kForeach list
  std::vector<Node> children;   // kBlock nodes; kIf branches; kForeach body
};

Template::~Template() = default;

namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-';
}
bool IsWordChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

using Node = Template::Node;
using vt::CmpOp;
using vt::Expr;
using vt::Ref;

enum class StopKind : uint8_t { kEof, kEnd, kElse, kElseIf };
struct Stop {
  StopKind kind = StopKind::kEof;
  size_t at = 0;
};

class Parser {
 public:
  Parser(std::string_view src, const Limits& limits)
      : s_(src), limits_(limits) {}

  Status ParseTop(size_t depth, Node* root) {
    root->kind = Node::Kind::kBlock;
    Stop stop;
    AGENTRY_RETURN_IF_ERROR(ParseBlock(depth, &root->children, &stop));
    switch (stop.kind) {
      case StopKind::kEof:
        return Status::Ok();
      case StopKind::kEnd:
        return Error(stop.at, "#end without a matching directive");
      case StopKind::kElse:
        return Error(stop.at, "#else without a matching #if");
      case StopKind::kElseIf:
        return Error(stop.at, "#elseif without a matching #if");
    }
    return Status::Ok();
  }

 private:
  Status Error(size_t at, std::string_view what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Status::InvalidRequest("line " + std::to_string(line) + ", column " +
                                  std::to_string(col) + ": " +
                                  std::string(what));
  }

  char At(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  bool StartsWith(size_t i, std::string_view w) const {
    return s_.substr(std::min(i, s_.size())).starts_with(w);
  }

  static void AddText(std::vector<Node>* out, std::string text, bool plain) {
    Node n;
    n.kind = Node::Kind::kText;
    n.text = std::move(text);
    n.plain = plain;
    out->push_back(std::move(n));
  }

  // Consumes `[ \t]*` plus one line break when a line break follows, as
  // Velocity 1.7 does after a directive's `)`, `#else` and `#end`.
  void SkipTrailingNewline() {
    size_t i = pos_;
    while (At(i) == ' ' || At(i) == '\t') ++i;
    if (At(i) == '\r' && At(i + 1) == '\n') {
      pos_ = i + 2;
    } else if (At(i) == '\n' || At(i) == '\r') {
      pos_ = i + 1;
    }
  }

  // Recognizes `#name` / `#{name}` for a known directive at `at`; returns the
  // name and sets *end past it.
  std::optional<std::string_view> DirectiveName(size_t at, size_t* end,
                                                bool* formal) const {
    if (At(at) != '#') return std::nullopt;
    size_t i = at + 1;
    *formal = At(i) == '{';
    if (*formal) ++i;
    size_t b = i;
    while ((At(i) >= 'a' && At(i) <= 'z')) ++i;
    std::string_view name = s_.substr(b, i - b);
    if (*formal) {
      if (At(i) != '}') return std::nullopt;
      ++i;
    } else if (IsWordChar(At(i))) {
      return std::nullopt;
    }
    static constexpr std::string_view kNames[] = {"set",  "if",  "elseif",
                                                  "else", "end", "foreach"};
    for (std::string_view k : kNames) {
      if (k == name) {
        *end = i;
        return name;
      }
    }
    return std::nullopt;
  }

  // Tries to read a reference at `at` (a '$'). Ok(false) when the text there
  // is not a reference; an error for an unterminated `${`.
  Result<bool> TryRef(size_t at, Ref* ref, size_t* end) const {
    size_t i = at + 1;
    bool quiet = At(i) == '!';
    if (quiet) ++i;
    bool formal = At(i) == '{';
    if (formal) ++i;
    if (!IsIdentStart(At(i))) return false;
    size_t b = i;
    while (IsIdentChar(At(i))) ++i;
    ref->name = std::string(s_.substr(b, i - b));
    ref->props.clear();
    while (At(i) == '.' && IsIdentStart(At(i + 1))) {
      b = ++i;
      while (IsIdentChar(At(i))) ++i;
      ref->props.emplace_back(s_.substr(b, i - b));
    }
    if (formal) {
      if (At(i) != '}') return Error(i, "unterminated ${");
      ++i;
    }
    ref->quiet = quiet;
    ref->source = std::string(s_.substr(at, i - at));
    *end = i;
    return true;
  }

  Status ParseBlock(size_t depth, std::vector<Node>* out, Stop* stop) {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '$') {
        Ref ref;
        size_t end = 0;
        AGENTRY_ASSIGN_OR_RETURN(bool is_ref, TryRef(pos_, &ref, &end));
        if (is_ref) {
          Node n;
          n.kind = Node::Kind::kRef;
          n.ref = std::move(ref);
          out->push_back(std::move(n));
          pos_ = end;
        } else if (At(pos_ + 1) == '!' && At(pos_ + 2) != '{') {
          // "$!" before anything that starts no reference: Velocity 1.7
          // prints "$" and drops the "!".
          AddText(out, "$", false);
          pos_ += 2;
        } else {
          AddText(out, "$", false);
          ++pos_;
        }
      } else if (c == '\\') {
        size_t i = pos_;
        while (At(i) == '\\') ++i;
        size_t n = i - pos_;
        if (At(i) == '$') {
          Ref ref;
          size_t end = 0;
          AGENTRY_ASSIGN_OR_RETURN(bool is_ref, TryRef(i, &ref, &end));
          if (is_ref) {
            Node node;
            node.kind = Node::Kind::kEscRef;
            node.ref = std::move(ref);
            node.backslashes = n;
            out->push_back(std::move(node));
            pos_ = end;
            continue;
          }
        } else if (At(i) == '#') {
          size_t end = 0;
          bool formal = false;
          if (DirectiveName(i, &end, &formal)) {
            if (n % 2 == 1) {
              AddText(
                  out,
                  std::string(n / 2, '\\') + std::string(s_.substr(i, end - i)),
                  false);
              pos_ = end;
            } else {
              AddText(out, std::string(n / 2, '\\'), false);
              pos_ = i;  // the directive itself is parsed next
            }
            continue;
          }
        }
        AddText(out, std::string(n, '\\'), false);
        pos_ = i;
      } else if (c == '#') {
        bool stopped = false;
        AGENTRY_RETURN_IF_ERROR(ParseHash(depth, out, stop, &stopped));
        if (stopped) return Status::Ok();
      } else {
        size_t b = pos_;
        while (pos_ < s_.size() && s_[pos_] != '$' && s_[pos_] != '#' &&
               s_[pos_] != '\\') {
          ++pos_;
        }
        AddText(out, std::string(s_.substr(b, pos_ - b)), true);
      }
    }
    stop->kind = StopKind::kEof;
    stop->at = pos_;
    return Status::Ok();
  }

  Status CheckDepth(size_t depth, size_t at) const {
    if (depth > limits_.max_nesting) {
      return Error(at, "directives nest deeper than " +
                           std::to_string(limits_.max_nesting));
    }
    return Status::Ok();
  }

  Status ParseHash(size_t depth, std::vector<Node>* out, Stop* stop,
                   bool* stopped) {
    size_t at = pos_;
    if (StartsWith(at, "#[[")) {
      size_t e = s_.find("]]#", at + 3);
      if (e == std::string_view::npos) return Error(at, "unterminated #[[");
      AddText(out, std::string(s_.substr(at + 3, e - at - 3)), false);
      pos_ = e + 3;
      return Status::Ok();
    }
    if (StartsWith(at, "##")) {
      size_t e = s_.find('\n', at);
      pos_ = e == std::string_view::npos ? s_.size() : e + 1;
      return Status::Ok();
    }
    if (StartsWith(at, "#*")) {
      size_t e = s_.find("*#", at + 2);
      // Unterminated, it runs to the end of the template (as in Velocity).
      pos_ = e == std::string_view::npos ? s_.size() : e + 2;
      return Status::Ok();
    }
    size_t end = 0;
    bool formal = false;
    std::optional<std::string_view> name = DirectiveName(at, &end, &formal);
    if (!name) {
      AddText(out, "#", false);
      ++pos_;
      return Status::Ok();
    }
    pos_ = end;
    if (*name == "end" || *name == "else") {
      SkipTrailingNewline();
      *stopped = true;
      stop->kind = *name == "end" ? StopKind::kEnd : StopKind::kElse;
      stop->at = at;
      return Status::Ok();
    }
    if (*name == "elseif") {
      *stopped = true;
      stop->kind = StopKind::kElseIf;
      stop->at = at;
      return Status::Ok();
    }
    if (*name == "set") return ParseSet(depth, at, out);
    if (*name == "if") return ParseIf(depth, at, out);
    return ParseForeach(depth, at, out);
  }

  void SkipWs() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                                s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  Status Expect(char c, std::string_view what) {
    SkipWs();
    if (At(pos_) != c) return Error(pos_, what);
    ++pos_;
    return Status::Ok();
  }

  // `( expr )` followed by Velocity's newline swallowing.
  Status ParseCondition(size_t depth, std::string_view directive, Expr* e) {
    AGENTRY_RETURN_IF_ERROR(
        Expect('(', "expected '(' after " + std::string(directive)));
    expr_depth_ = 0;
    AGENTRY_RETURN_IF_ERROR(ParseExpr(depth, e));
    AGENTRY_RETURN_IF_ERROR(
        Expect(')', "expected ')' to close " + std::string(directive)));
    SkipTrailingNewline();
    return Status::Ok();
  }

  Status ParseSet(size_t depth, size_t at, std::vector<Node>* out) {
    // Velocity 1.7 drops the whitespace that starts a text run before #set.
    if (!out->empty() && out->back().kind == Node::Kind::kText &&
        out->back().plain &&
        out->back().text.find_first_not_of(" \t") == std::string::npos) {
      out->pop_back();
    }
    Node n;
    n.kind = Node::Kind::kSet;
    AGENTRY_RETURN_IF_ERROR(Expect('(', "expected '(' after #set"));
    SkipWs();
    size_t end = 0;
    if (At(pos_) != '$') return Error(pos_, "#set expects a $reference");
    AGENTRY_ASSIGN_OR_RETURN(bool is_ref, TryRef(pos_, &n.ref, &end));
    if (!is_ref) return Error(pos_, "#set expects a $reference");
    if (!n.ref.props.empty()) {
      return Error(pos_, "#set of a property is not supported");
    }
    pos_ = end;
    AGENTRY_RETURN_IF_ERROR(Expect('=', "expected '=' in #set"));
    Expr e;
    expr_depth_ = 0;
    AGENTRY_RETURN_IF_ERROR(ParseExpr(depth, &e));
    AGENTRY_RETURN_IF_ERROR(Expect(')', "expected ')' to close #set"));
    SkipTrailingNewline();
    n.exprs.push_back(std::move(e));
    out->push_back(std::move(n));
    (void)at;
    return Status::Ok();
  }

  Status ParseIf(size_t depth, size_t at, std::vector<Node>* out) {
    AGENTRY_RETURN_IF_ERROR(CheckDepth(depth + 1, at));
    Node n;
    n.kind = Node::Kind::kIf;
    Expr cond;
    AGENTRY_RETURN_IF_ERROR(ParseCondition(depth, "#if", &cond));
    n.exprs.push_back(std::move(cond));
    bool in_else = false;
    while (true) {
      Node body;
      Stop stop;
      AGENTRY_RETURN_IF_ERROR(ParseBlock(depth + 1, &body.children, &stop));
      n.children.push_back(std::move(body));
      if (stop.kind == StopKind::kEof) {
        return Error(at, "#if without a matching #end");
      }
      if (stop.kind == StopKind::kEnd) break;
      if (in_else) {
        return Error(stop.at, stop.kind == StopKind::kElse
                                  ? "#else after #else"
                                  : "#elseif after #else");
      }
      if (stop.kind == StopKind::kElse) {
        in_else = true;
        continue;
      }
      Expr c;
      AGENTRY_RETURN_IF_ERROR(ParseCondition(depth, "#elseif", &c));
      n.exprs.push_back(std::move(c));
    }
    out->push_back(std::move(n));
    return Status::Ok();
  }

  Status ParseForeach(size_t depth, size_t at, std::vector<Node>* out) {
    AGENTRY_RETURN_IF_ERROR(CheckDepth(depth + 1, at));
    Node n;
    n.kind = Node::Kind::kForeach;
    AGENTRY_RETURN_IF_ERROR(Expect('(', "expected '(' after #foreach"));
    SkipWs();
    size_t end = 0;
    if (At(pos_) != '$') return Error(pos_, "#foreach expects a $variable");
    AGENTRY_ASSIGN_OR_RETURN(bool is_ref, TryRef(pos_, &n.ref, &end));
    if (!is_ref || !n.ref.props.empty()) {
      return Error(pos_, "#foreach expects a $variable");
    }
    pos_ = end;
    SkipWs();
    if (!StartsWith(pos_, "in") || IsWordChar(At(pos_ + 2))) {
      return Error(pos_, "expected 'in' in #foreach");
    }
    pos_ += 2;
    Expr list;
    expr_depth_ = 0;
    AGENTRY_RETURN_IF_ERROR(ParseExpr(depth, &list));
    AGENTRY_RETURN_IF_ERROR(Expect(')', "expected ')' to close #foreach"));
    SkipTrailingNewline();
    n.exprs.push_back(std::move(list));
    Node body;
    Stop stop;
    AGENTRY_RETURN_IF_ERROR(ParseBlock(depth + 1, &body.children, &stop));
    if (stop.kind == StopKind::kEof) {
      return Error(at, "#foreach without a matching #end");
    }
    if (stop.kind != StopKind::kEnd) {
      return Error(stop.at, "#else without a matching #if");
    }
    n.children.push_back(std::move(body));
    out->push_back(std::move(n));
    return Status::Ok();
  }

  // ---- expressions ----

  bool MatchWord(std::string_view w) {
    if (StartsWith(pos_, w) && !IsWordChar(At(pos_ + w.size()))) {
      pos_ += w.size();
      return true;
    }
    return false;
  }

  Status Enter(size_t at) {
    if (++expr_depth_ > limits_.max_nesting) {
      return Error(at, "expression nests deeper than " +
                           std::to_string(limits_.max_nesting));
    }
    return Status::Ok();
  }

  Status ParseExpr(size_t depth, Expr* e) { return ParseOr(depth, e); }

  // One precedence level: operands parsed by `operand`, joined by the
  // operators `match` consumes (nullopt: no more). A single operand is the
  // level's result; several make a node of `kind` (kCompare keeps the
  // operators).
  template <class Operand, class Match>
  Status ParseLevel(size_t depth, Expr* e, Expr::Kind kind, Operand operand,
                    Match match) {
    Expr first;
    AGENTRY_RETURN_IF_ERROR((this->*operand)(depth, &first));
    std::vector<Expr> kids;
    std::vector<CmpOp> ops;
    while (std::optional<CmpOp> op = (this->*match)()) {
      if (kids.empty()) kids.push_back(std::move(first));
      Expr next;
      AGENTRY_RETURN_IF_ERROR((this->*operand)(depth, &next));
      kids.push_back(std::move(next));
      ops.push_back(*op);
    }
    if (kids.empty()) {
      *e = std::move(first);
      return Status::Ok();
    }
    e->kind = kind;
    e->kids = std::move(kids);
    if (kind == Expr::Kind::kCompare) e->ops = std::move(ops);
    return Status::Ok();
  }

  // `||` / `or` and `&&` / `and` (the CmpOp is unused at these levels).
  std::optional<CmpOp> MatchOr() {
    SkipWs();
    if (StartsWith(pos_, "||")) {
      pos_ += 2;
      return CmpOp::kEq;
    }
    return MatchWord("or") ? std::optional<CmpOp>(CmpOp::kEq) : std::nullopt;
  }
  std::optional<CmpOp> MatchAnd() {
    SkipWs();
    if (StartsWith(pos_, "&&")) {
      pos_ += 2;
      return CmpOp::kEq;
    }
    return MatchWord("and") ? std::optional<CmpOp>(CmpOp::kEq) : std::nullopt;
  }

  Status ParseOr(size_t depth, Expr* e) {
    return ParseLevel(depth, e, Expr::Kind::kOr, &Parser::ParseAnd,
                      &Parser::MatchOr);
  }
  Status ParseAnd(size_t depth, Expr* e) {
    return ParseLevel(depth, e, Expr::Kind::kAnd, &Parser::ParseEq,
                      &Parser::MatchAnd);
  }

  std::optional<CmpOp> MatchEqOp() {
    SkipWs();
    if (StartsWith(pos_, "==")) {
      pos_ += 2;
      return CmpOp::kEq;
    }
    if (StartsWith(pos_, "!=")) {
      pos_ += 2;
      return CmpOp::kNe;
    }
    if (MatchWord("eq")) return CmpOp::kEq;
    if (MatchWord("ne")) return CmpOp::kNe;
    return std::nullopt;
  }

  std::optional<CmpOp> MatchRelOp() {
    SkipWs();
    if (StartsWith(pos_, "<=")) {
      pos_ += 2;
      return CmpOp::kLe;
    }
    if (StartsWith(pos_, ">=")) {
      pos_ += 2;
      return CmpOp::kGe;
    }
    if (At(pos_) == '<') {
      ++pos_;
      return CmpOp::kLt;
    }
    if (At(pos_) == '>') {
      ++pos_;
      return CmpOp::kGt;
    }
    if (MatchWord("lt")) return CmpOp::kLt;
    if (MatchWord("gt")) return CmpOp::kGt;
    if (MatchWord("le")) return CmpOp::kLe;
    if (MatchWord("ge")) return CmpOp::kGe;
    return std::nullopt;
  }

  Status ParseEq(size_t depth, Expr* e) {
    return ParseLevel(depth, e, Expr::Kind::kCompare, &Parser::ParseRel,
                      &Parser::MatchEqOp);
  }
  Status ParseRel(size_t depth, Expr* e) {
    return ParseLevel(depth, e, Expr::Kind::kCompare, &Parser::ParseUnary,
                      &Parser::MatchRelOp);
  }

  Status ParseUnary(size_t depth, Expr* e) {
    SkipWs();
    size_t at = pos_;
    bool is_not = false;
    if (At(pos_) == '!' && At(pos_ + 1) != '=') {
      ++pos_;
      is_not = true;
    } else if (MatchWord("not")) {
      is_not = true;
    }
    if (!is_not) return ParsePrimary(depth, e);
    AGENTRY_RETURN_IF_ERROR(Enter(at));
    Expr operand;
    AGENTRY_RETURN_IF_ERROR(ParseUnary(depth, &operand));
    --expr_depth_;
    e->kind = Expr::Kind::kNot;
    e->kids.push_back(std::move(operand));
    return Status::Ok();
  }

  Status ParseNumber(Expr* e) {
    size_t b = pos_;
    if (At(pos_) == '-') ++pos_;
    while (IsDigit(At(pos_))) ++pos_;
    bool is_double = false;
    if (At(pos_) == '.' && IsDigit(At(pos_ + 1))) {
      is_double = true;
      ++pos_;
      while (IsDigit(At(pos_))) ++pos_;
    }
    if ((At(pos_) == 'e' || At(pos_) == 'E') &&
        (IsDigit(At(pos_ + 1)) ||
         ((At(pos_ + 1) == '+' || At(pos_ + 1) == '-') &&
          IsDigit(At(pos_ + 2))))) {
      is_double = true;
      pos_ += 2;
      while (IsDigit(At(pos_))) ++pos_;
    }
    const char* first = s_.data() + b;
    const char* last = s_.data() + pos_;
    e->kind = Expr::Kind::kLiteral;
    if (is_double) {
      double d = 0;
      auto r = std::from_chars(first, last, d);
      if (r.ec != std::errc() || !std::isfinite(d)) {
        return Error(b, "number out of range");
      }
      e->literal = d;
    } else {
      int64_t v = 0;
      auto r = std::from_chars(first, last, v);
      if (r.ec != std::errc()) return Error(b, "integer out of range");
      e->literal = v;
    }
    return Status::Ok();
  }

  Status ParseString(size_t depth, Expr* e) {
    size_t at = pos_;
    char q = s_[pos_++];
    std::string body;
    while (true) {
      if (pos_ >= s_.size()) return Error(at, "unterminated string literal");
      char c = s_[pos_++];
      if (c == q) {
        if (At(pos_) == q) {  // a doubled quote stands for one
          body += q;
          ++pos_;
          continue;
        }
        break;
      }
      body += c;
    }
    if (q == '\'' || body.find_first_of("$#\\") == std::string::npos) {
      e->kind = Expr::Kind::kLiteral;
      e->literal = json::string(body);
      return Status::Ok();
    }
    AGENTRY_RETURN_IF_ERROR(CheckDepth(depth + 1, at));
    Parser inner(body, limits_);
    auto node = std::make_shared<Node>();
    Status st = inner.ParseTop(depth + 1, node.get());
    if (!st.ok()) {
      return Error(at, "in string literal: " + st.message());
    }
    e->kind = Expr::Kind::kString;
    e->interp = std::move(node);
    return Status::Ok();
  }

  Status ParsePrimary(size_t depth, Expr* e) {
    SkipWs();
    size_t at = pos_;
    char c = At(pos_);
    if (c == '(') {
      AGENTRY_RETURN_IF_ERROR(Enter(at));
      ++pos_;
      AGENTRY_RETURN_IF_ERROR(ParseExpr(depth, e));
      AGENTRY_RETURN_IF_ERROR(Expect(')', "expected ')'"));
      --expr_depth_;
      return Status::Ok();
    }
    if (c == '"' || c == '\'') return ParseString(depth, e);
    if (IsDigit(c) || (c == '-' && IsDigit(At(pos_ + 1)))) {
      return ParseNumber(e);
    }
    if (c == '[') {
      AGENTRY_RETURN_IF_ERROR(Enter(at));
      ++pos_;
      e->kind = Expr::Kind::kList;
      SkipWs();
      if (At(pos_) == ']') {
        ++pos_;
        --expr_depth_;
        return Status::Ok();
      }
      while (true) {
        Expr item;
        AGENTRY_RETURN_IF_ERROR(ParseExpr(depth, &item));
        e->kids.push_back(std::move(item));
        SkipWs();
        if (e->kids.size() == 1 && StartsWith(pos_, "..")) {
          pos_ += 2;
          Expr hi;
          AGENTRY_RETURN_IF_ERROR(ParseExpr(depth, &hi));
          e->kids.push_back(std::move(hi));
          e->kind = Expr::Kind::kRange;
          AGENTRY_RETURN_IF_ERROR(Expect(']', "expected ']'"));
          break;
        }
        if (At(pos_) == ',') {
          ++pos_;
          continue;
        }
        AGENTRY_RETURN_IF_ERROR(Expect(']', "expected ',' or ']'"));
        break;
      }
      --expr_depth_;
      return Status::Ok();
    }
    if (c == '$') {
      size_t end = 0;
      AGENTRY_ASSIGN_OR_RETURN(bool is_ref, TryRef(pos_, &e->ref, &end));
      if (!is_ref) return Error(at, "expected a reference after '$'");
      e->kind = Expr::Kind::kRef;
      pos_ = end;
      return Status::Ok();
    }
    if (MatchWord("true")) {
      e->kind = Expr::Kind::kLiteral;
      e->literal = true;
      return Status::Ok();
    }
    if (MatchWord("false")) {
      e->kind = Expr::Kind::kLiteral;
      e->literal = false;
      return Status::Ok();
    }
    if (pos_ >= s_.size()) return Error(at, "unexpected end of template");
    return Error(at, "expected an expression");
  }

  std::string_view s_;
  const Limits& limits_;
  size_t pos_ = 0;
  size_t expr_depth_ = 0;
};

// ---- rendering ----

// Java's Double.toString.
void AppendJavaDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    *out += d < 0 ? "-Infinity" : "Infinity";
    return;
  }
  if (d == 0) {
    *out += std::signbit(d) ? "-0.0" : "0.0";
    return;
  }
  char buf[64];
  auto r =
      std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, r.ptr - buf);  // "-1.2345e+07"
  bool neg = sci.front() == '-';
  if (neg) sci.remove_prefix(1);
  size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.') digits += c;
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exp = 0;
  std::string_view es = sci.substr(epos + 1);
  if (es.front() == '+') es.remove_prefix(1);
  std::from_chars(es.data(), es.data() + es.size(), exp);
  if (neg) *out += '-';
  double mag = std::fabs(d);
  if (mag >= 1e-3 && mag < 1e7) {
    if (exp < 0) {
      *out += "0.";
      out->append(static_cast<size_t>(-exp - 1), '0');
      *out += digits;
    } else {
      size_t int_len = static_cast<size_t>(exp) + 1;
      if (digits.size() <= int_len) {
        *out += digits;
        out->append(int_len - digits.size(), '0');
        *out += ".0";
      } else {
        out->append(digits, 0, int_len);
        *out += '.';
        out->append(digits, int_len);
      }
    }
    return;
  }
  *out += digits[0];
  *out += '.';
  if (digits.size() > 1) {
    out->append(digits, 1);
  } else {
    *out += '0';
  }
  *out += 'E';
  *out += std::to_string(exp);
}

constexpr size_t kMaxValueDepth = 256;

// Java's toString of the value Velocity would hold (List, Map, …).
Status AppendJava(const json::value& v, std::string* out, size_t depth) {
  if (depth > kMaxValueDepth) {
    return Status::InvalidRequest("value nests deeper than " +
                                  std::to_string(kMaxValueDepth));
  }
  switch (v.kind()) {
    case json::kind::null:
      *out += "null";
      break;
    case json::kind::bool_:
      *out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      *out += std::to_string(v.get_int64());
      break;
    case json::kind::uint64:
      *out += std::to_string(v.get_uint64());
      break;
    case json::kind::double_:
      AppendJavaDouble(v.get_double(), out);
      break;
    case json::kind::string:
      out->append(v.get_string().data(), v.get_string().size());
      break;
    case json::kind::array: {
      *out += '[';
      bool first = true;
      for (const json::value& item : v.get_array()) {
        if (!first) *out += ", ";
        first = false;
        AGENTRY_RETURN_IF_ERROR(AppendJava(item, out, depth + 1));
      }
      *out += ']';
      break;
    }
    case json::kind::object: {
      *out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) *out += ", ";
        first = false;
        out->append(kv.key().data(), kv.key().size());
        *out += '=';
        AGENTRY_RETURN_IF_ERROR(AppendJava(kv.value(), out, depth + 1));
      }
      *out += '}';
      break;
    }
  }
  return Status::Ok();
}

bool IsNumber(const json::value& v) { return v.is_number(); }

// Three-way numeric comparison; ints compare exactly.
int CompareNumbers(const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) {
    return a.get_int64() < b.get_int64() ? -1 : a.get_int64() > b.get_int64();
  }
  if (!a.is_double() && !b.is_double()) {  // int64 / uint64 mix
    auto neg = [](const json::value& v) {
      return v.is_int64() && v.get_int64() < 0;
    };
    if (neg(a) != neg(b)) return neg(a) ? -1 : 1;
    uint64_t x =
        a.is_int64() ? static_cast<uint64_t>(a.get_int64()) : a.get_uint64();
    uint64_t y =
        b.is_int64() ? static_cast<uint64_t>(b.get_int64()) : b.get_uint64();
    return x < y ? -1 : x > y;
  }
  double x = a.to_number<double>();
  double y = b.to_number<double>();
  return x < y ? -1 : x > y;
}

// A value during evaluation: borrowed from the context or owned.
struct Val {
  const json::value* ptr = nullptr;
  json::value own;
  size_t depth = 0;  // of `own` (built lists: 1 + their deepest element)
  bool defined() const { return ptr != nullptr || !own.is_null(); }
  const json::value& get() const { return ptr ? *ptr : own; }
};

class Renderer {
 public:
  Renderer(const json::value& context, const Limits& limits)
      : context_(context), limits_(limits) {}

  Status RenderBlock(const Node& block) {
    for (const Node& n : block.children) {
      AGENTRY_RETURN_IF_ERROR(RenderNode(n));
      if (out_.size() > limits_.max_output_bytes) {
        return Status::InvalidRequest("output exceeds " +
                                      std::to_string(limits_.max_output_bytes) +
                                      " bytes");
      }
    }
    return Status::Ok();
  }

  std::string Take() { return std::move(out_); }

 private:
  // Charges `units` of work; kInvalidRequest naming the bound when the
  // render has used it up.
  Status Charge(size_t units) {
    work_ += units;
    if (work_ > limits_.max_work) {
      return Status::InvalidRequest(
          "rendering needs more than " + std::to_string(limits_.max_work) +
          " steps of work (values built or copied); simplify the template");
    }
    return Status::Ok();
  }

  // Charges the size of `v` (elements and string bytes) before it is
  // copied and returns its depth (0 for a scalar); refuses values nested
  // deeper than max_value_depth. The walk stops as soon as the budget is
  // spent, so it costs no more than what it charges.
  Result<size_t> ChargeCopy(const json::value& v, size_t depth = 0) {
    if (depth > limits_.max_value_depth) {
      return Status::InvalidRequest("a value nests deeper than " +
                                    std::to_string(limits_.max_value_depth) +
                                    " levels");
    }
    size_t deepest = depth;
    switch (v.kind()) {
      case json::kind::string:
        AGENTRY_RETURN_IF_ERROR(Charge(1 + v.get_string().size()));
        break;
      case json::kind::array:
        AGENTRY_RETURN_IF_ERROR(Charge(1));
        deepest = depth + 1;
        for (const json::value& item : v.get_array()) {
          AGENTRY_ASSIGN_OR_RETURN(size_t d, ChargeCopy(item, depth + 1));
          deepest = std::max(deepest, d);
        }
        break;
      case json::kind::object:
        AGENTRY_RETURN_IF_ERROR(Charge(1));
        deepest = depth + 1;
        for (const auto& kv : v.get_object()) {
          AGENTRY_RETURN_IF_ERROR(Charge(kv.key().size()));
          AGENTRY_ASSIGN_OR_RETURN(size_t d, ChargeCopy(kv.value(), depth + 1));
          deepest = std::max(deepest, d);
        }
        break;
      default:
        AGENTRY_RETURN_IF_ERROR(Charge(1));
    }
    return deepest;
  }

  const json::value* Lookup(const Ref& ref) const {
    const json::value* v = nullptr;
    auto it = locals_.find(ref.name);
    if (it != locals_.end()) {
      v = &it->second;
    } else if (context_.is_object()) {
      v = context_.get_object().if_contains(ref.name);
    }
    for (const std::string& p : ref.props) {
      if (v == nullptr || !v->is_object()) return nullptr;
      v = v->get_object().if_contains(p);
    }
    if (v == nullptr || v->is_null()) return nullptr;
    return v;
  }

  Status RenderNode(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kBlock:
        return RenderBlock(n);
      case Node::Kind::kText:
        out_ += n.text;
        return Status::Ok();
      case Node::Kind::kRef: {
        const json::value* v = Lookup(n.ref);
        if (v != nullptr) return AppendJava(*v, &out_, 0);
        if (!n.ref.quiet) out_ += n.ref.source;
        return Status::Ok();
      }
      case Node::Kind::kEscRef: {
        const json::value* v = Lookup(n.ref);
        if (v == nullptr) {
          out_.append(n.backslashes, '\\');
          out_ += n.ref.source;
          return Status::Ok();
        }
        out_.append(n.backslashes / 2, '\\');
        if (n.backslashes % 2 == 1) {
          out_ += n.ref.source;
          return Status::Ok();
        }
        return AppendJava(*v, &out_, 0);
      }
      case Node::Kind::kSet: {
        Val v;
        AGENTRY_RETURN_IF_ERROR(Eval(n.exprs[0], &v));
        // Velocity 1.7 leaves the variable untouched when the value is null.
        if (v.defined()) {
          if (v.ptr != nullptr) {
            AGENTRY_RETURN_IF_ERROR(ChargeCopy(*v.ptr).status());
            json::value copy = *v.ptr;
            locals_[n.ref.name] = std::move(copy);
          } else {
            locals_[n.ref.name] = std::move(v.own);  // built and charged
          }
        }
        return Status::Ok();
      }
      case Node::Kind::kIf: {
        for (size_t i = 0; i < n.children.size(); ++i) {
          bool take = true;
          if (i < n.exprs.size()) {
            AGENTRY_ASSIGN_OR_RETURN(take, Truthy(n.exprs[i]));
          }
          if (take) return RenderBlock(n.children[i]);
        }
        return Status::Ok();
      }
      case Node::Kind::kForeach:
        return RenderForeach(n);
    }
    return Status::Ok();
  }

  Status RenderForeach(const Node& n) {
    Val list;
    AGENTRY_RETURN_IF_ERROR(Eval(n.exprs[0], &list));
    // The items: borrowed when they cannot change during the loop (the
    // context and the template's literals are immutable; locals are not, a
    // #set in the body could replace them), else a (charged) copy.
    const json::array* items = nullptr;
    json::array owned;
    if (list.defined() && list.get().is_array()) {
      const bool in_locals = n.exprs[0].kind == Expr::Kind::kRef &&
                             locals_.count(n.exprs[0].ref.name) != 0;
      if (list.ptr != nullptr && in_locals) {
        AGENTRY_RETURN_IF_ERROR(ChargeCopy(*list.ptr).status());
        owned = list.ptr->get_array();
      } else if (list.ptr == nullptr) {
        owned = std::move(list.own.get_array());
      } else {
        items = &list.ptr->get_array();
      }
    } else if (list.defined() && list.get().is_object()) {
      AGENTRY_RETURN_IF_ERROR(ChargeCopy(list.get()).status());
      for (const auto& kv : list.get().get_object()) {
        owned.push_back(kv.value());
      }
    }
    if (items == nullptr) items = &owned;
    if (items->empty()) return Status::Ok();
    const size_t size = items->size();
    const std::string names[] = {n.ref.name, "foreach", "velocityCount"};
    std::optional<json::value> saved[3];
    for (int k = 0; k < 3; ++k) {
      auto it = locals_.find(names[k]);
      if (it != locals_.end()) saved[k] = std::move(it->second);
    }
    for (size_t i = 0; i < size; ++i) {
      if (++iterations_ > limits_.max_loop_iterations) {
        return Status::InvalidRequest(
            "more than " + std::to_string(limits_.max_loop_iterations) +
            " loop iterations");
      }
      // $foreach is updated in place (the body may have replaced it).
      json::value& scope = locals_["foreach"];
      if (!scope.is_object() || scope.get_object().size() != 3) {
        scope = json::object{{"count", 0}, {"index", 0}, {"hasNext", false}};
      }
      json::object& o = scope.get_object();
      o["count"] = static_cast<int64_t>(i + 1);
      o["index"] = static_cast<int64_t>(i);
      o["hasNext"] = i + 1 < size;
      locals_["velocityCount"] = static_cast<int64_t>(i + 1);
      AGENTRY_RETURN_IF_ERROR(ChargeCopy((*items)[i]).status());
      locals_[n.ref.name] = (*items)[i];
      AGENTRY_RETURN_IF_ERROR(RenderBlock(n.children[0]));
    }
    for (int k = 0; k < 3; ++k) {
      if (saved[k]) {
        locals_[names[k]] = std::move(*saved[k]);
      } else {
        locals_.erase(names[k]);
      }
    }
    return Status::Ok();
  }

  // Velocity 1.7's Node.evaluate: a reference is true unless null or false;
  // string, number and list literals are false.
  Result<bool> Truthy(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kRef: {
        const json::value* v = Lookup(e.ref);
        return v != nullptr && !(v->is_bool() && !v->get_bool());
      }
      case Expr::Kind::kLiteral:
        return e.literal.is_bool() && e.literal.get_bool();
      case Expr::Kind::kString:
      case Expr::Kind::kList:
      case Expr::Kind::kRange:
        return false;
      case Expr::Kind::kNot: {
        AGENTRY_ASSIGN_OR_RETURN(bool b, Truthy(e.kids[0]));
        return !b;
      }
      case Expr::Kind::kAnd:
        for (const Expr& k : e.kids) {
          AGENTRY_ASSIGN_OR_RETURN(bool b, Truthy(k));
          if (!b) return false;
        }
        return true;
      case Expr::Kind::kOr:
        for (const Expr& k : e.kids) {
          AGENTRY_ASSIGN_OR_RETURN(bool b, Truthy(k));
          if (b) return true;
        }
        return false;
      case Expr::Kind::kCompare: {
        Val v;
        AGENTRY_RETURN_IF_ERROR(Eval(e, &v));
        return v.own.is_bool() && v.own.get_bool();
      }
    }
    return false;
  }

  Result<bool> Compare(CmpOp op, const Val& a, const Val& b) {
    if (op == CmpOp::kEq || op == CmpOp::kNe) {
      bool eq = false;
      if (!a.defined() || !b.defined()) {
        eq = a.defined() == b.defined();
      } else {
        const json::value& x = a.get();
        const json::value& y = b.get();
        if (IsNumber(x) && IsNumber(y)) {
          eq = CompareNumbers(x, y) == 0;
        } else if (x.kind() == y.kind()) {
          eq = x == y;
        } else {  // different classes: Velocity compares toString()
          AGENTRY_RETURN_IF_ERROR(ChargeCopy(x).status());
          AGENTRY_RETURN_IF_ERROR(ChargeCopy(y).status());
          std::string sx, sy;
          AGENTRY_RETURN_IF_ERROR(AppendJava(x, &sx, 0));
          AGENTRY_RETURN_IF_ERROR(AppendJava(y, &sy, 0));
          eq = sx == sy;
        }
      }
      return op == CmpOp::kEq ? eq : !eq;
    }
    if (!a.defined() || !b.defined() || !IsNumber(a.get()) ||
        !IsNumber(b.get())) {
      return false;
    }
    int c = CompareNumbers(a.get(), b.get());
    switch (op) {
      case CmpOp::kLt:
        return c < 0;
      case CmpOp::kGt:
        return c > 0;
      case CmpOp::kLe:
        return c <= 0;
      default:
        return c >= 0;
    }
  }

  static void Materialize(Val* v) {
    if (v->ptr != nullptr) {
      v->own = *v->ptr;
      v->ptr = nullptr;
    }
  }

  Status Eval(const Expr& e, Val* out) {
    switch (e.kind) {
      case Expr::Kind::kRef:
        out->ptr = Lookup(e.ref);
        return Status::Ok();
      case Expr::Kind::kLiteral:
        out->ptr = &e.literal;
        return Status::Ok();
      case Expr::Kind::kString: {
        std::string saved = std::move(out_);
        out_.clear();
        Status st = RenderBlock(*e.interp);
        std::string text = std::move(out_);
        out_ = std::move(saved);
        AGENTRY_RETURN_IF_ERROR(st);
        AGENTRY_RETURN_IF_ERROR(Charge(1 + text.size()));
        out->own = json::string(text);
        return Status::Ok();
      }
      case Expr::Kind::kList: {
        json::array arr;
        arr.reserve(e.kids.size());
        size_t depth = 1;
        for (const Expr& k : e.kids) {
          Val v;
          AGENTRY_RETURN_IF_ERROR(Eval(k, &v));
          if (v.ptr != nullptr) {
            AGENTRY_ASSIGN_OR_RETURN(size_t d, ChargeCopy(*v.ptr));
            depth = std::max(depth, d + 1);
            arr.push_back(*v.ptr);
          } else {
            // Built (and charged) just now, with its depth known.
            depth = std::max(depth, v.depth + 1);
            arr.push_back(std::move(v.own));
          }
        }
        if (depth > limits_.max_value_depth) {
          return Status::InvalidRequest(
              "a value nests deeper than " +
              std::to_string(limits_.max_value_depth) + " levels");
        }
        AGENTRY_RETURN_IF_ERROR(Charge(1 + arr.size()));
        out->own = std::move(arr);
        out->depth = depth;
        return Status::Ok();
      }
      case Expr::Kind::kRange: {
        Val lo, hi;
        AGENTRY_RETURN_IF_ERROR(Eval(e.kids[0], &lo));
        Materialize(&lo);
        AGENTRY_RETURN_IF_ERROR(Eval(e.kids[1], &hi));
        if (!lo.get().is_int64() || !hi.get().is_int64()) {
          return Status::Ok();  // undefined, as Velocity logs and skips
        }
        int64_t a = lo.get().get_int64(), b = hi.get().get_int64();
        uint64_t span = a <= b ? static_cast<uint64_t>(b) - a
                               : static_cast<uint64_t>(a) - b;
        if (span >= limits_.max_loop_iterations) {
          return Status::InvalidRequest(
              "more than " + std::to_string(limits_.max_loop_iterations) +
              " loop iterations");
        }
        AGENTRY_RETURN_IF_ERROR(Charge(span + 1));
        json::array arr;
        arr.reserve(span + 1);
        int64_t step = a <= b ? 1 : -1;
        for (int64_t x = a;; x += step) {
          arr.push_back(x);
          if (x == b) break;
        }
        out->own = std::move(arr);
        out->depth = 1;
        return Status::Ok();
      }
      case Expr::Kind::kNot:
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr: {
        AGENTRY_ASSIGN_OR_RETURN(bool b, Truthy(e));
        out->own = b;
        return Status::Ok();
      }
      case Expr::Kind::kCompare: {
        Val left;
        AGENTRY_RETURN_IF_ERROR(Eval(e.kids[0], &left));
        for (size_t i = 0; i < e.ops.size(); ++i) {
          // Evaluating the right side may render a string that #sets or
          // loops, which could move the local `left` points to.
          if (e.kids[i + 1].kind != Expr::Kind::kRef &&
              e.kids[i + 1].kind != Expr::Kind::kLiteral) {
            if (left.ptr != nullptr) {
              AGENTRY_RETURN_IF_ERROR(ChargeCopy(*left.ptr).status());
            }
            Materialize(&left);
          }
          Val right;
          AGENTRY_RETURN_IF_ERROR(Eval(e.kids[i + 1], &right));
          AGENTRY_ASSIGN_OR_RETURN(bool b, Compare(e.ops[i], left, right));
          left = Val();
          left.own = b;
        }
        *out = std::move(left);
        return Status::Ok();
      }
    }
    return Status::Ok();
  }

  const json::value& context_;
  const Limits& limits_;
  std::map<std::string, json::value, std::less<>> locals_;
  std::string out_;
  size_t iterations_ = 0;
  size_t work_ = 0;
};

}  // namespace

Result<std::shared_ptr<const Template>> Template::Parse(std::string_view source,
                                                        const Limits& limits) {
  if (source.size() > limits.max_template_bytes) {
    return Status::InvalidRequest("template exceeds " +
                                  std::to_string(limits.max_template_bytes) +
                                  " bytes");
  }
  // Velocity 1.7's parser refuses a template whose last characters are a
  // "$", "$!" or "#" (wherever they stand, even in a comment).
  if (source.ends_with('$') || source.ends_with('#') ||
      source.ends_with("$!")) {
    size_t line = 1, column = 1;
    const size_t at = source.size() - (source.ends_with("$!") ? 2 : 1);
    for (size_t i = 0; i < at; ++i) {
      if (source[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return Status::InvalidRequest(
        "line " + std::to_string(line) + ", column " + std::to_string(column) +
        ": a template cannot end with \"" + std::string(source.substr(at)) +
        "\" (escape it or add text after it)");
  }
  std::shared_ptr<Template> t(new Template());
  t->limits_ = limits;
  t->root_ = std::make_unique<Node>();
  Parser parser(source, t->limits_);
  AGENTRY_RETURN_IF_ERROR(parser.ParseTop(0, t->root_.get()));
  return std::shared_ptr<const Template>(std::move(t));
}

Result<std::string> Template::Render(const json::value& context) const {
  Renderer r(context, limits_);
  AGENTRY_RETURN_IF_ERROR(r.RenderBlock(*root_));
  return r.Take();
}

}  // namespace agentry::templating
