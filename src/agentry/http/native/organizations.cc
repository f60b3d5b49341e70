// POST /v1/organizations {name} → 201 {id,name,created_at,admin_key}.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "agentry/common/clock.h"
#include "agentry/common/json.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/tenancy_service.h"

namespace agentry::http {

namespace {

Result<std::string> ParseCreate(const Request& req) {
  AGENTRY_ASSIGN_OR_RETURN(boost::json::object body, ParseJsonBody(req));
  json::ObjectReader r(body);
  AGENTRY_ASSIGN_OR_RETURN(
      std::string name, r.String("name", {.min_chars = 1, .max_chars = 255}));
  AGENTRY_RETURN_IF_ERROR(r.Finish());
  return name;
}

}  // namespace

void RegisterOrganizationRoutes(Router& router, TenancyService& tenancy) {
  RouteOptions opts;
  opts.scope = Scope::kAdmin;
  router.Add(Method::kPost, "/v1/organizations", opts,
             [&tenancy](Request& req) -> std::optional<Response> {
               auto name = ParseCreate(req);
               if (!name.ok())
                 return ErrorResponse(name.status(), req.request_id);
               auto created =
                   tenancy.CreateOrganization(*req.principal, std::move(*name));
               if (!created.ok()) {
                 return ErrorResponse(created.status(), req.request_id);
               }
               boost::json::object out;
               out["id"] = created->organization.id;
               out["name"] = created->organization.name;
               out["created_at"] =
                   FormatRfc3339Ms(created->organization.created_at_ms);
               out["admin_key"] = created->admin_key.plaintext;
               return JsonResponse(201, boost::json::value(std::move(out)));
             });
}

}  // namespace agentry::http
