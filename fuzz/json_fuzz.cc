// libFuzzer target: the strict JSON reader (src/agentry/common/json.h) and
// the domain validators that every write of every surface goes through
// (agents, tools, instructions, profiles, pools, acquire and renew bodies).
//
// Input: one document. Besides ASan/UBSan/leak/timeout findings, the target
// traps when a documented contract breaks:
//   - ParseStrict either succeeds or fails with kInvalidRequest; what it
//     accepts serialises (json::Serialize) to text it accepts again, and that
//     text is a fixed point: parsed and serialised again it gives the same
//     bytes (what the store writes reads back to the same ETag);
//   - every validator either refuses with kInvalidRequest or answers a
//     canonical document that the same validator maps to itself
//     (normalising is idempotent: ETags and diffs rely on it);
//   - a refused document names a field (or none, for the document itself)
//     and never crashes the validator.
//
// Run by fuzz/run.sh; seeds in fuzz/corpus/json/, dictionary in
// fuzz/dict/json.dict, crash reproducers kept in fuzz/regressions/json/.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agentry/common/json.h"
#include "agentry/domain/agent.h"
#include "agentry/domain/instruction.h"
#include "agentry/domain/profile.h"
#include "agentry/domain/tool.h"

namespace {

namespace bj = boost::json;
using agentry::ErrorCode;
using agentry::Result;
using agentry::Status;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "contract broken: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void ExpectRefusal(const Status& st, const char* what) {
  if (st.code() != ErrorCode::kInvalidRequest) Fail(what, st.ToString());
  if (st.message().empty()) Fail(what, "empty message");
}

// A validator's answer: a refusal, or a fixed point.
template <class Normalize>
void CheckValidator(const bj::object& in, Normalize normalize,
                    const char* what) {
  Result<bj::object> once = normalize(in);
  if (!once.ok()) {
    ExpectRefusal(once.status(), what);
    return;
  }
  Result<bj::object> twice = normalize(*once);
  if (!twice.ok())
    Fail(what, "canonical output refused: " + twice.status().ToString());
  if (*twice != *once) {
    Fail(what, agentry::json::Serialize(*once) + " -> " +
                   agentry::json::Serialize(*twice));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<bj::value> parsed = agentry::json::ParseStrict(text);
  if (!parsed.ok()) {
    ExpectRefusal(parsed.status(), "ParseStrict");
    return 0;
  }
  const std::string again = agentry::json::Serialize(*parsed);
  Result<bj::value> reparsed = agentry::json::ParseStrict(again);
  if (!reparsed.ok()) Fail("Serialize output refused", again);
  const std::string third = agentry::json::Serialize(*reparsed);
  if (third != again) Fail("Serialize round trip", again + " -> " + third);

  if (!parsed->is_object()) return 0;
  const bj::object& in = parsed->get_object();
  CheckValidator(
      in, [](const bj::object& o) { return agentry::NormalizeAgentConfig(o); },
      "NormalizeAgentConfig");
  CheckValidator(
      in, [](const bj::object& o) { return agentry::NormalizeToolConfig(o); },
      "NormalizeToolConfig");
  CheckValidator(
      in,
      [](const bj::object& o) {
        return agentry::NormalizeInstructionConfig(o);
      },
      "NormalizeInstructionConfig");
  CheckValidator(
      in,
      [](const bj::object& o) { return agentry::NormalizeProfileConfig(o); },
      "NormalizeProfileConfig");
  CheckValidator(
      in, [](const bj::object& o) { return agentry::NormalizePoolConfig(o); },
      "NormalizePoolConfig");
  if (auto a = agentry::ParseAcquireRequest(in); !a.ok()) {
    ExpectRefusal(a.status(), "ParseAcquireRequest");
  }
  if (auto r = agentry::ParseRenewRequest(in); !r.ok()) {
    ExpectRefusal(r.status(), "ParseRenewRequest");
  }
  if (const bj::value* p = in.if_contains("parameters")) {
    if (Status st = agentry::ValidateParameterSchema(*p, "parameters");
        !st.ok()) {
      ExpectRefusal(st, "ValidateParameterSchema");
    } else if (p->is_object()) {
      if (const bj::value* b = in.if_contains("bindings");
          b != nullptr && b->is_object()) {
        if (Status bst = agentry::CheckArgumentBindings(
                b->get_object(), p->get_object(), "bindings");
            !bst.ok()) {
          ExpectRefusal(bst, "CheckArgumentBindings");
        }
      }
    }
  }
  return 0;
}
