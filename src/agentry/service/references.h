// What an agent refers to: its tools (by id) and its instructions (by id and
// version, or inline). Publishing checks and pins these references
// (ResolveForPublish); rendering resolves them and renders every
// instruction of `first_step` with the session's context (RenderAgent).
//
// Context of a render (DESIGN §5): `session` (the request's object),
// `agent` ({id, key, name, metadata}), `currentDate` (the server's UTC
// date, "YYYY-MM-DD") and `tools` (the agent's tools: {id, name,
// description, argument_bindings}; a tool deleted since is listed with its
// id and bindings only).
//
// Every method may block on the store: call it from a worker. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentry/common/clock.h"
#include "agentry/common/status.h"
#include "agentry/service/agent_service.h"
#include "agentry/service/instruction_service.h"
#include "agentry/store/store.h"

namespace agentry {

struct RenderedInstruction {
  std::string name;
  std::string text;
};

class References final : public PublishResolver {
 public:
  // All must outlive this object.
  References(Store& store, InstructionService& instructions,
             const Clock& clock);

  // Every tools.available[i].id names a tool of the organization, whose
  // parameter schema the argument_bindings fit; every first_step
  // instruction of type reference names an instruction (and, when given,
  // a version) of the organization; every inline velocity template parses.
  // Returns `config` with each reference's version pinned (the latest when
  // it had none). kInvalidRequest naming the field otherwise
  // ("tools.available[2].argument_bindings.timeout",
  // "first_step.instructions[0].version").
  Result<boost::json::object> ResolveForPublish(
      std::string_view organization_id,
      const boost::json::object& config) override;

  // The instructions of `agent.config`'s first_step, in order, rendered
  // with `session`. A reference without a version renders the latest
  // (drafts). kInvalidRequest naming the field when a reference no longer
  // resolves or a template does not parse or exceeds a render bound.
  Result<std::vector<RenderedInstruction>> RenderAgent(
      const AgentConfigAt& agent, const boost::json::object& session);

  // The context an instruction renders with outside an agent: `session`
  // and `currentDate`.
  boost::json::value InstructionContext(
      const boost::json::object& session) const;

 private:
  // The instruction a reference ({id, version?}) names; kInvalidRequest
  // naming `field`.id (no such instruction) or `field`.version (no such
  // version) otherwise.
  Result<std::shared_ptr<const CompiledInstruction>> Resolve(
      std::string_view organization_id, const boost::json::object& reference,
      const std::string& field);
  // An inline template, parsed once per distinct text (bounded cache).
  Result<std::shared_ptr<const templating::Template>> ParseInline(
      std::string_view text, const std::string& field);
  boost::json::value AgentContext(const AgentConfigAt& agent,
                                  const boost::json::object& session);

  Store& store_;
  InstructionService& instructions_;
  const Clock& clock_;

  std::mutex mu_;
  // template text → parsed. Cleared when it reaches 4096 entries.
  // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::shared_ptr<const templating::Template>>
      inline_;
};

}  // namespace agentry
