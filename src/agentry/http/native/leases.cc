// Leases: acquire through a pool (POST /v1/agent-profile-pools/{id}/leases,
// asynchronous: it may wait for a profile without holding a thread), list a
// pool's active leases, and /v1/leases/{id} (get, renew, release).
#include <boost/json/object.hpp>

#include "agentry/common/json.h"
#include "agentry/http/error_mapping.h"
#include "agentry/http/native/native.h"
#include "agentry/service/lease_service.h"

namespace agentry::http {

namespace {

Response Error(const Request& req, const Status& st) {
  return ErrorResponse(st, req.request_id);
}

// The lease service's answer as a response: `status` with the lease, or
// the error.
LeaseService::Answer Reply(const Request& req, Respond respond, int status) {
  return [id = req.request_id, respond = std::move(respond),
          status](Result<std::string> r) {
    if (!r.ok()) {
      respond(ErrorResponse(r.status(), id));
      return;
    }
    respond(JsonResponse(status, std::move(r).value()));
  };
}

}  // namespace

Response WriteListed(const Page<ListedItem>& page) {
  PageWriter out;
  for (const ListedItem& item : page.items) out.Add(item.json);
  const bool more = page.has_more && !page.items.empty();
  return out.Finish(
      more, more ? std::string_view(page.items.back().id) : std::string_view());
}

void RegisterLeaseRoutes(Router& router, LeaseService& leases) {
  RouteOptions write;
  write.scope = Scope::kLeasesWrite;
  RouteOptions read = write;  // holders and pool readers
  read.or_scope = Scope::kPoolsRead;
  RouteOptions list;
  list.scope = Scope::kPoolsRead;
  list.or_scope = Scope::kLeasesWrite;

  router.AddAsync(Method::kPost, "/v1/agent-profile-pools/{id}/leases", write,
                  [&leases](Request& req, Respond respond) {
                    auto body = ParseOptionalJsonBody(req);
                    if (!body.ok()) return respond(Error(req, body.status()));
                    auto request = ParseAcquireRequest(*body);
                    if (!request.ok()) {
                      return respond(Error(req, request.status()));
                    }
                    leases.Acquire(*req.principal, req.Param("id"), *request,
                                   Reply(req, std::move(respond), 201));
                  });

  router.Add(Method::kGet, "/v1/agent-profile-pools/{id}/leases", list,
             [&leases](Request& req) -> std::optional<Response> {
               auto page = ParsePageParams(req);
               if (!page.ok()) return Error(req, page.status());
               auto items =
                   leases.ListPoolLeases(*req.principal, req.Param("id"),
                                         PageRequest{page->after, page->limit});
               if (!items.ok()) return Error(req, items.status());
               return WriteListed(*items);
             });

  router.Add(Method::kGet, "/v1/leases/{id}", read,
             [&leases](Request& req) -> std::optional<Response> {
               auto lease = leases.GetLease(*req.principal, req.Param("id"));
               if (!lease.ok()) return Error(req, lease.status());
               return JsonResponse(200, std::move(lease).value());
             });

  router.AddAsync(Method::kPost, "/v1/leases/{id}/renew", write,
                  [&leases](Request& req, Respond respond) {
                    auto body = ParseJsonBody(req);
                    if (!body.ok()) return respond(Error(req, body.status()));
                    auto request = ParseRenewRequest(*body);
                    if (!request.ok()) {
                      return respond(Error(req, request.status()));
                    }
                    leases.Renew(*req.principal, req.Param("id"), *request,
                                 Reply(req, std::move(respond), 200));
                  });

  router.AddAsync(
      Method::kDelete, "/v1/leases/{id}", write,
      [&leases](Request& req, Respond respond) {
        leases.Release(
            *req.principal, req.Param("id"),
            [id = req.request_id, respond = std::move(respond)](Status st) {
              respond(st.ok() ? NoContent() : ErrorResponse(st, id));
            });
      });
}

}  // namespace agentry::http
