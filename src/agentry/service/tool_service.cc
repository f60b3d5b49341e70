#include "agentry/service/tool_service.h"

#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/common/json_patch.h"
#include "agentry/common/text.h"
#include "agentry/service/prefixed_ids.h"

namespace agentry {

namespace {

constexpr int kMaxWriteAttempts = 8;

Status NotFound(std::string_view id) {
  return Status::NotFound("tool " + std::string(id) + " not found");
}

Status Stale(std::string_view id) {
  return Status::PreconditionFailed(
      "If-Match does not name the current version of tool " + std::string(id));
}

}  // namespace

std::string SerializeTool(const Tool& tool) {
  boost::json::object o;
  o["id"] = tool.id;
  for (const auto& m : tool.config) o[m.key()] = m.value();
  o["created_at"] = FormatRfc3339Ms(tool.created_at_ms);
  o["updated_at"] = FormatRfc3339Ms(tool.updated_at_ms);
  return json::Serialize(o);
}

ToolService::ToolService(Store& store, const Clock& clock)
    : store_(store), clock_(clock) {}

std::string ToolService::Etag(const Tool& tool) {
  // Creation time and revision: a tool deleted and made again under the same
  // id never repeats a tag.
  return "\"" + std::to_string(tool.created_at_ms) + "." +
         std::to_string(tool.revision) + "\"";
}

bool ToolService::IfMatchHolds(std::string_view if_match, const Tool& tool) {
  return if_match.empty() || EtagListMatches(if_match, Etag(tool), false);
}

Result<Tool> ToolService::Create(const Principal& caller,
                                 const boost::json::object& body) {
  boost::json::object config = body;
  AGENTRY_ASSIGN_OR_RETURN(std::optional<std::string> id,
                           TakePrefixedId(config, "tol_"));
  Tool tool;
  AGENTRY_ASSIGN_OR_RETURN(tool.config, NormalizeToolConfig(config));
  tool.organization_id = caller.organization_id;
  tool.created_at_ms = clock_.NowMs();
  tool.updated_at_ms = tool.created_at_ms;
  AGENTRY_RETURN_IF_ERROR(InsertWithId(
      id, "tol_", &tool.id, [&] { return store_.tools().Create(tool); }));
  return tool;
}

Result<Tool> ToolService::Get(const Principal& caller, std::string_view id) {
  auto tool = store_.tools().Get(caller.organization_id, id);
  if (!tool.ok() && tool.status().code() == ErrorCode::kNotFound) {
    return NotFound(id);
  }
  return tool;
}

Result<Page<Tool>> ToolService::List(const Principal& caller,
                                     const PageRequest& page) {
  return store_.tools().List(caller.organization_id, page);
}

Result<Tool> ToolService::Patch(const Principal& caller, std::string_view id,
                                const boost::json::object& patch,
                                std::string_view if_match) {
  boost::json::object body = patch;
  if (const boost::json::value* v = body.if_contains("id")) {
    if (!v->is_string() || v->get_string() != id) {
      return Status::InvalidRequest("a tool's id cannot be changed", "id");
    }
    body.erase("id");
  }
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    AGENTRY_ASSIGN_OR_RETURN(Tool current, Get(caller, id));
    if (!IfMatchHolds(if_match, current)) return Stale(id);
    boost::json::value merged = json::MergePatch(current.config, body);
    if (!merged.is_object()) {
      return Status::InvalidRequest("request body must be a JSON object");
    }
    AGENTRY_ASSIGN_OR_RETURN(boost::json::object config,
                             NormalizeToolConfig(merged.get_object()));
    if (config == current.config) return current;  // nothing changes
    auto updated = store_.tools().Update(
        caller.organization_id, id, current.revision, config, clock_.NowMs());
    if (updated.ok()) return updated;
    if (updated.status().code() == ErrorCode::kPreconditionFailed) {
      if (!if_match.empty()) return Stale(id);
      continue;  // lost a race with another writer: merge again
    }
    if (updated.status().code() == ErrorCode::kNotFound) return NotFound(id);
    return updated.status();
  }
  return Status::Unavailable("tool is changing too fast; try again");
}

Status ToolService::Delete(const Principal& caller, std::string_view id,
                           std::string_view if_match) {
  AGENTRY_ASSIGN_OR_RETURN(Tool current, Get(caller, id));
  if (!IfMatchHolds(if_match, current)) return Stale(id);
  std::optional<int64_t> expected;
  if (!if_match.empty()) expected = current.revision;
  Status st = store_.tools().Delete(caller.organization_id, id, expected);
  if (st.code() == ErrorCode::kNotFound) return NotFound(id);
  if (st.code() == ErrorCode::kPreconditionFailed) return Stale(id);
  return st;
}

}  // namespace agentry
