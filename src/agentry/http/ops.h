// Operational routes that need no key: /healthz, /readyz, /metrics,
// /openapi.json.
#pragma once

#include <functional>
#include <string>

#include "agentry/http/router.h"

namespace agentry {
class Store;
class MetricsRegistry;
}  // namespace agentry

namespace agentry::http {

struct OpsDeps {
  Store* store = nullptr;              // /readyz pings it
  MetricsRegistry* metrics = nullptr;  // rendered by /metrics
  // More Prometheus text appended by /metrics (request counters).
  std::function<std::string()> extra_metrics;
  // The shared rate-limit store's state for /readyz ("ok", "unreachable");
  // empty when there is none (limits per node).
  std::function<std::string()> redis_state;
};

void RegisterOpsRoutes(Router& router, OpsDeps deps);

// The OpenAPI 3.1 document of every surface (http/openapi.cc).
const std::string& OpenApiDocument();

}  // namespace agentry::http
