#include "agentry/service/prefixed_ids.h"

#include "agentry/common/ids.h"
#include "agentry/domain/agent.h"

namespace agentry {

Result<std::optional<std::string>> TakePrefixedId(boost::json::object& body,
                                                  std::string_view prefix) {
  std::optional<std::string> id;
  if (const boost::json::value* v = body.if_contains("id")) {
    if (!v->is_null()) {
      if (!v->is_string()) {
        return Status::InvalidRequest("\"id\" must be a string", "id");
      }
      id = std::string(v->get_string());
      AGENTRY_RETURN_IF_ERROR(ValidatePrefixedId(*id, prefix, "id"));
    }
    body.erase("id");
  }
  return id;
}

Status InsertWithId(const std::optional<std::string>& given,
                    std::string_view prefix, std::string* id,
                    const std::function<Status()>& insert) {
  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    *id = given ? *given : NewPrefixedId(prefix, 16);
    st = insert();
    // A generated id that collides is drawn again; a given one is a 409.
    if (st.code() != ErrorCode::kConflict || given) break;
  }
  return st;
}

}  // namespace agentry
