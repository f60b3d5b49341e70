// Instructions (DESIGN §5 "Tools and instructions"): versioned templates.
// Create makes version 1, every effective patch version n+1; versions are
// immutable, so each one is parsed once and kept parsed (Compiled) for as
// long as it is used. Templates of type "velocity" must parse: create and
// patch refuse them otherwise (400, field "template", with line and column).
//
// Every method may block on the store: call it from a worker. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agentry/common/clock.h"
#include "agentry/common/status.h"
#include "agentry/domain/instruction.h"
#include "agentry/service/principal.h"
#include "agentry/store/store.h"

namespace agentry {

namespace templating {
class Template;
}

// One instruction version, ready to render.
struct CompiledInstruction {
  Instruction instruction;
  // The parsed template; null for template_type "plain".
  std::shared_ptr<const templating::Template> parsed;
};

class InstructionService {
 public:
  // `store` and `clock` must outlive the service.
  InstructionService(Store& store, const Clock& clock);
  ~InstructionService();

  // A create body: configuration members plus an optional `id` (generated
  // as ins_… when absent). kInvalidRequest naming the field; kConflict
  // (field "id") for a taken id.
  Result<Instruction> Create(const Principal& caller,
                             const boost::json::object& body);

  // The latest version, or `version`. kNotFound when either is absent or
  // the instruction is another organization's.
  Result<Instruction> Get(const Principal& caller, std::string_view id,
                          std::optional<int> version);

  Result<Page<Instruction>> List(const Principal& caller,
                                 const PageRequest& page);

  // Newest first, below `before_version`.
  Result<Page<Instruction>> ListVersions(const Principal& caller,
                                         std::string_view id,
                                         std::optional<int> before_version,
                                         size_t limit);

  // JSON Merge Patch on the latest version's configuration, stored as the
  // next version. A patch that changes nothing makes no version and answers
  // the latest. `if_match` as for tools (kPreconditionFailed when stale).
  Result<Instruction> Patch(const Principal& caller, std::string_view id,
                            const boost::json::object& patch,
                            std::string_view if_match);

  // The organization's instruction `id` at `version` (latest when nullopt),
  // parsed. Pinned versions are served from memory after their first use.
  Result<std::shared_ptr<const CompiledInstruction>> Compiled(
      std::string_view organization_id, std::string_view id,
      std::optional<int> version);

  // Renders the template with `context` (kInvalidRequest naming the bound
  // it exceeds). Plain templates render as written.
  static Result<std::string> Render(const CompiledInstruction& compiled,
                                    const boost::json::value& context);

  // kInvalidRequest naming `field` ("line 3, column 7: …") when `text`
  // does not parse as a Velocity template; the parsed template otherwise.
  static Result<std::shared_ptr<const templating::Template>> ParseTemplate(
      std::string_view text, const std::string& field);

  static std::string Etag(const Instruction& instruction);

  // Another node changed the instruction: drops its parsed versions (with
  // several nodes, DESIGN §7). Versions are immutable, so this matters only
  // if the instruction is deleted and made again.
  void Forget(std::string_view organization_id, std::string_view id);
  // Drops every parsed version.
  void ForgetAll();

 private:
  Result<std::shared_ptr<const CompiledInstruction>> Compile(
      Instruction instruction);

  Store& store_;
  const Clock& clock_;

  std::mutex mu_;
  // "org\nid\nversion" → compiled version. Bounded: cleared when it reaches
  // kMaxCompiled entries. GUARDED_BY(mu_)
  std::unordered_map<std::string, std::shared_ptr<const CompiledInstruction>>
      compiled_;
};

// The native answer of one instruction version: {id, name, description,
// template_type, template, version, created_at, updated_at}.
std::string SerializeInstruction(const Instruction& instruction);

}  // namespace agentry
