// The compatible surfaces (DESIGN §6, docs/compatible-surfaces.md): thin
// adapters that map a hosted platform's field names to Agentry's one domain
// model and back, and answer errors in that platform's shape. No business
// rule lives here: validation, uniqueness, grants and versions are the
// services'. One file per surface.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"
#include "agentry/http/router.h"

namespace agentry {
class AgentService;
class LeaseService;
struct CachedAgent;
}  // namespace agentry

namespace agentry::http {

// Asteroid Agents API v2: /agents/v2/agent-profile-pools (asteroid.cc).
void RegisterAsteroidRoutes(Router& router, LeaseService& leases);

// Odeus Agents API: /agent/v1/{get,create,update,publish}, also under
// /api/public (odeus.cc).
void RegisterOdeusRoutes(Router& router, AgentService& agents);

// Vectara Agents API v2: /v2/agents (vectara.cc).
void RegisterVectaraRoutes(Router& router, AgentService& agents);

// A route's options on a surface: authenticated, `scope`, errors in
// `dialect`'s shape.
RouteOptions SurfaceOptions(Scope scope, Dialect dialect);

// The agent a hot-path GET answers: on the I/O thread from memory only
// (nullopt: not cached, run the handler again on a worker), on a worker
// from the cache or the store. kNotFound / kForbidden as AgentService.
std::optional<Result<std::shared_ptr<const CachedAgent>>> HotAgent(
    AgentService& agents, const Request& req, std::string_view id_or_key);

// The slots of CachedAgent::surface_views each surface fills.
inline constexpr size_t kOdeusViewSlot = 0;
inline constexpr size_t kVectaraViewSlot = 1;

// A native field path in a surface's own names: `rename` maps a native
// path ("model.parameters.temperature") to the surface's ("temperature"),
// or returns it unchanged. An invalid-request status gets its field and
// the quoted field in its message renamed; other statuses pass unchanged.
Status RenameField(const Status& status,
                   const std::function<std::string(std::string_view)>& rename);

}  // namespace agentry::http
