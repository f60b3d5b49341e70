#include "agentry/http/ops.h"

#include "agentry/common/metrics.h"
#include "agentry/http/error_mapping.h"
#include "agentry/store/store.h"

namespace agentry::http {

void RegisterOpsRoutes(Router& router, OpsDeps deps) {
  RouteOptions open;
  open.auth = false;
  open.inline_first = true;

  router.Add(Method::kGet, "/healthz", open, [](Request&) {
    return JsonResponse(200, std::string(R"({"status":"ok"})"));
  });

  RouteOptions blocking = open;
  blocking.inline_first = false;
  router.Add(Method::kGet, "/readyz", blocking, [deps](Request& req) {
    Status st = deps.store->Ping();
    if (!st.ok()) {
      return ErrorResponse(
          Status::Unavailable("store unreachable: " + st.message()),
          req.request_id);
    }
    // Several nodes: a node that cannot hear the others' changes may
    // serve stale agents and keys; it is not ready until it listens again.
    if (Status watch = deps.store->WatchStatus(); !watch.ok()) {
      return ErrorResponse(watch, req.request_id);
    }
    // Ready with the store; a shared rate-limit store that does not answer
    // only degrades limits to per node, so it is reported, not fatal.
    std::string body = R"({"status":"ready","checks":{"store":"ok")";
    if (deps.store->shared()) body += R"(,"changes":"listening")";
    if (deps.redis_state) {
      const std::string redis = deps.redis_state();
      if (!redis.empty()) body += R"(,"redis":")" + redis + "\"";
    }
    body += "}}";
    return JsonResponse(200, std::move(body));
  });

  router.Add(Method::kGet, "/metrics", open, [deps](Request&) {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = deps.metrics->Render();
    if (deps.extra_metrics) r.body += deps.extra_metrics();
    return r;
  });

  router.Add(Method::kGet, "/openapi.json", open, [](Request&) {
    Response r;
    static const auto doc =
        std::make_shared<const std::string>(OpenApiDocument());
    r.shared_body = doc;
    return r;
  });
}

}  // namespace agentry::http
