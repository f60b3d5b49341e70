#include "agentry/http/compat/compat.h"

#include "agentry/common/json.h"
#include "agentry/service/agent_service.h"

namespace agentry::http {

RouteOptions SurfaceOptions(Scope scope, Dialect dialect) {
  RouteOptions o;
  o.scope = scope;
  o.dialect = dialect;
  return o;
}

std::optional<Result<std::shared_ptr<const CachedAgent>>> HotAgent(
    AgentService& agents, const Request& req, std::string_view id_or_key) {
  if (req.on_io_thread) return agents.Peek(*req.principal, id_or_key);
  return agents.Get(*req.principal, id_or_key);
}

Status RenameField(const Status& status,
                   const std::function<std::string(std::string_view)>& rename) {
  if (status.code() != ErrorCode::kInvalidRequest || status.field().empty()) {
    return status;
  }
  const std::string& field = status.field();
  const std::string renamed = rename(field);
  if (renamed == field) return status;
  std::string message = status.message();
  const std::string quoted = json::Quoted(field);
  if (size_t at = message.find(quoted); at != std::string::npos) {
    message.replace(at, quoted.size(), json::Quoted(renamed));
  } else if (message.starts_with(field)) {
    message.replace(0, field.size(), renamed);
  }
  return Status::InvalidRequest(std::move(message), renamed);
}

}  // namespace agentry::http
