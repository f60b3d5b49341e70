// The Velocity-subset template engine (DESIGN §5 "Tools and instructions"):
// lexer, parser to an immutable AST (parse once per instruction version),
// and a bounded renderer. Pure: no I/O, no Asio, no SQL.
//
// Semantics follow Apache Velocity 1.7: an undefined reference renders as
// written ("$x", "${x}"), a quiet one ("$!x") as nothing; `\$x` / `\#` are
// escapes; #set, #if/#elseif/#else/#end (and #{else}, #{end}), #foreach with
// $foreach.count/.index/.hasNext, `##` and `#* *#` comments; comparison and
// boolean operators with Velocity's number and string rules.
//
// Thread-safety: a parsed Template is immutable and may be rendered from
// many threads at once.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry::templating {

struct Limits {
  size_t max_output_bytes = 1 << 20;    // 1 MiB
  size_t max_loop_iterations = 100000;  // over all #foreach loops of a render
  size_t max_nesting = 64;              // directives inside directives
  size_t max_template_bytes = 64 << 10;
  // Work of one render beyond its output: list elements built (literals and
  // ranges), values copied by #set and #foreach (elements and string
  // bytes), bytes of interpolated strings. Keeps a short template from
  // building huge values ([$a,$a] doubling, ranges in loops, copies of big
  // strings) that never reach the output.
  size_t max_work = 8'000'000;
  // Deepest value a render may build ([[[…]]]).
  size_t max_value_depth = 64;
};

class Template {
 public:
  // Parses `source`. kInvalidRequest with a message that gives the line and
  // column ("line 3, column 7: #end without a matching directive") when it
  // does not parse, or when it nests deeper than `limits.max_nesting`.
  static Result<std::shared_ptr<const Template>> Parse(
      std::string_view source, const Limits& limits = {});

  // Renders with `context` (a JSON object: "session", "agent", "currentDate",
  // "tools", …). kInvalidRequest naming the bound ("output exceeds 1048576
  // bytes", "more than 100000 loop iterations") when a bound is hit. Never
  // crashes, never loops forever.
  Result<std::string> Render(const boost::json::value& context) const;

  ~Template();

  struct Node;  // the AST (velocity.cc)

 private:
  Template() = default;
  std::unique_ptr<Node> root_;
  Limits limits_;
};

}  // namespace agentry::templating
