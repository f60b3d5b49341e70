#include "agentry/store/agent_rows.h"

#include "agentry/common/ids.h"

namespace agentry::store_rows {

AgentRef RefOf(std::string_view id_or_key) {
  AgentRef ref;
  ref.by_id = IsUuid(id_or_key);
  ref.value = ref.by_id ? LowercaseUuid(id_or_key) : std::string(id_or_key);
  return ref;
}

Status AgentNotFound(std::string_view id_or_key) {
  return Status::NotFound("agent " + std::string(id_or_key) + " not found");
}

Result<CurrentView> CurrentOf(const boost::json::object& config) {
  CurrentView out;
  const boost::json::value* name = config.if_contains("name");
  if (name == nullptr || !name->is_string()) {
    return Status::InvalidRequest("the configuration has no string name",
                                  "name");
  }
  out.name = std::string(name->get_string());
  if (const boost::json::value* enabled = config.if_contains("enabled")) {
    if (!enabled->is_bool()) {
      return Status::InvalidRequest("enabled must be a boolean", "enabled");
    }
    out.enabled = enabled->get_bool();
  }
  return out;
}

}  // namespace agentry::store_rows
