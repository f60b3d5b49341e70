#include "agentry/service/instruction_service.h"

#include <utility>

#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/common/json_patch.h"
#include "agentry/common/text.h"
#include "agentry/service/prefixed_ids.h"
#include "agentry/templating/velocity.h"

namespace agentry {

namespace {

constexpr int kMaxWriteAttempts = 8;
constexpr size_t kMaxCompiled = 4096;

Status NotFound(std::string_view id) {
  return Status::NotFound("instruction " + std::string(id) + " not found");
}

Status Stale(std::string_view id) {
  return Status::PreconditionFailed(
      "If-Match does not name the latest version of instruction " +
      std::string(id));
}

// The store's kNotFound for the instruction itself, reworded; a missing
// version keeps the store's message.
template <class T>
Result<T> Found(Result<T> r, std::string_view id, bool versioned) {
  if (!r.ok() && r.status().code() == ErrorCode::kNotFound && !versioned) {
    return NotFound(id);
  }
  return r;
}

std::string CacheKey(std::string_view organization_id, std::string_view id,
                     int version) {
  std::string key;
  key.reserve(organization_id.size() + id.size() + 12);
  key.append(organization_id).push_back('\n');
  key.append(id).push_back('\n');
  key += std::to_string(version);
  return key;
}

}  // namespace

std::string SerializeInstruction(const Instruction& ins) {
  boost::json::object o;
  o["id"] = ins.id;
  for (const auto& m : ins.config) o[m.key()] = m.value();
  o["version"] = ins.version;
  o["created_at"] = FormatRfc3339Ms(ins.created_at_ms);
  o["updated_at"] = FormatRfc3339Ms(ins.updated_at_ms);
  return json::Serialize(o);
}

InstructionService::InstructionService(Store& store, const Clock& clock)
    : store_(store), clock_(clock) {}

InstructionService::~InstructionService() = default;

std::string InstructionService::Etag(const Instruction& ins) {
  // Creation time and version: versions never change, and an id is never
  // reused for another instruction with the same creation time.
  return "\"" + std::to_string(ins.created_at_ms) + "." +
         std::to_string(ins.version) + "\"";
}

Result<std::shared_ptr<const templating::Template>>
InstructionService::ParseTemplate(std::string_view text,
                                  const std::string& field) {
  templating::Limits limits;
  limits.max_template_bytes = kMaxInstructionTemplateBytes;
  auto parsed = templating::Template::Parse(text, limits);
  if (!parsed.ok()) {
    return Status::InvalidRequest(
        "template does not parse: " + parsed.status().message(), field);
  }
  return std::move(parsed).value();
}

Result<std::string> InstructionService::Render(
    const CompiledInstruction& compiled, const boost::json::value& context) {
  if (!compiled.parsed) {
    return std::string(TemplateText(compiled.instruction.config));
  }
  return compiled.parsed->Render(context);
}

Result<Instruction> InstructionService::Create(
    const Principal& caller, const boost::json::object& body) {
  boost::json::object config = body;
  AGENTRY_ASSIGN_OR_RETURN(std::optional<std::string> id,
                           TakePrefixedId(config, "ins_"));
  Instruction ins;
  AGENTRY_ASSIGN_OR_RETURN(ins.config, NormalizeInstructionConfig(config));
  if (IsVelocity(ins.config)) {
    AGENTRY_RETURN_IF_ERROR(
        ParseTemplate(TemplateText(ins.config), "template").status());
  }
  ins.organization_id = caller.organization_id;
  ins.version = 1;
  ins.created_at_ms = clock_.NowMs();
  ins.updated_at_ms = ins.created_at_ms;
  ins.created_by = caller.key_id;
  AGENTRY_RETURN_IF_ERROR(InsertWithId(
      id, "ins_", &ins.id, [&] { return store_.instructions().Create(ins); }));
  return ins;
}

Result<Instruction> InstructionService::Get(const Principal& caller,
                                            std::string_view id,
                                            std::optional<int> version) {
  return Found(store_.instructions().Get(caller.organization_id, id, version),
               id, version.has_value());
}

Result<Page<Instruction>> InstructionService::List(const Principal& caller,
                                                   const PageRequest& page) {
  return store_.instructions().List(caller.organization_id, page);
}

Result<Page<Instruction>> InstructionService::ListVersions(
    const Principal& caller, std::string_view id,
    std::optional<int> before_version, size_t limit) {
  return Found(store_.instructions().ListVersions(caller.organization_id, id,
                                                  before_version, limit),
               id, false);
}

Result<Instruction> InstructionService::Patch(const Principal& caller,
                                              std::string_view id,
                                              const boost::json::object& patch,
                                              std::string_view if_match) {
  boost::json::object body = patch;
  if (const boost::json::value* v = body.if_contains("id")) {
    if (!v->is_string() || v->get_string() != id) {
      return Status::InvalidRequest("an instruction's id cannot be changed",
                                    "id");
    }
    body.erase("id");
  }
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    AGENTRY_ASSIGN_OR_RETURN(Instruction latest, Get(caller, id, std::nullopt));
    if (!if_match.empty() && !EtagListMatches(if_match, Etag(latest), false)) {
      return Stale(id);
    }
    boost::json::value merged = json::MergePatch(latest.config, body);
    if (!merged.is_object()) {
      return Status::InvalidRequest("request body must be a JSON object");
    }
    AGENTRY_ASSIGN_OR_RETURN(boost::json::object config,
                             NormalizeInstructionConfig(merged.get_object()));
    if (config == latest.config) return latest;  // nothing changes
    if (IsVelocity(config)) {
      AGENTRY_RETURN_IF_ERROR(
          ParseTemplate(TemplateText(config), "template").status());
    }
    auto added = store_.instructions().AddVersion(
        caller.organization_id, id, latest.version, config, clock_.NowMs(),
        caller.key_id);
    if (added.ok()) return added;
    if (added.status().code() == ErrorCode::kPreconditionFailed) {
      if (!if_match.empty()) return Stale(id);
      continue;  // lost a race with another writer: merge again
    }
    if (added.status().code() == ErrorCode::kNotFound) return NotFound(id);
    return added.status();
  }
  return Status::Unavailable("instruction is changing too fast; try again");
}

Result<std::shared_ptr<const CompiledInstruction>> InstructionService::Compile(
    Instruction instruction) {
  auto compiled = std::make_shared<CompiledInstruction>();
  if (IsVelocity(instruction.config)) {
    AGENTRY_ASSIGN_OR_RETURN(
        compiled->parsed,
        ParseTemplate(TemplateText(instruction.config), "template"));
  }
  compiled->instruction = std::move(instruction);
  return std::shared_ptr<const CompiledInstruction>(std::move(compiled));
}

Result<std::shared_ptr<const CompiledInstruction>> InstructionService::Compiled(
    std::string_view organization_id, std::string_view id,
    std::optional<int> version) {
  if (version) {
    const std::string key = CacheKey(organization_id, id, *version);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = compiled_.find(key);
      if (it != compiled_.end()) return it->second;
    }
  }
  AGENTRY_ASSIGN_OR_RETURN(
      Instruction ins,
      Found(store_.instructions().Get(organization_id, id, version), id,
            version.has_value()));
  const std::string key = CacheKey(organization_id, id, ins.version);
  AGENTRY_ASSIGN_OR_RETURN(auto compiled, Compile(std::move(ins)));
  std::lock_guard<std::mutex> lock(mu_);
  if (compiled_.size() >= kMaxCompiled) compiled_.clear();
  // Versions are immutable: whichever thread inserted first holds the same
  // content.
  return compiled_.emplace(key, std::move(compiled)).first->second;
}

void InstructionService::Forget(std::string_view organization_id,
                                std::string_view id) {
  std::string prefix;
  prefix.append(organization_id).push_back('\n');
  prefix.append(id).push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(compiled_, [&](const auto& entry) {
    return entry.first.starts_with(prefix);
  });
}

void InstructionService::ForgetAll() {
  std::lock_guard<std::mutex> lock(mu_);
  compiled_.clear();
}

}  // namespace agentry
