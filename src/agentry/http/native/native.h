// The native /v1 API: one file per resource, each registering its routes.
// Handlers parse, call a service and encode; they block on the store and
// run on worker threads.
#pragma once

#include "agentry/http/router.h"
#include "agentry/store/store.h"

namespace agentry {
class AgentService;
class InstructionService;
class LeaseService;
struct ListedItem;
class References;
class TenancyService;
class ToolService;
namespace json {
class ObjectReader;
}
}  // namespace agentry

namespace agentry::http {

// POST /v1/organizations (organizations.cc).
void RegisterOrganizationRoutes(Router& router, TenancyService& tenancy);

// /v1/agents and its sub-resources, render included (agents.cc).
void RegisterAgentRoutes(Router& router, AgentService& agents,
                         References& references);

// /v1/tools (tools.cc).
void RegisterToolRoutes(Router& router, ToolService& tools);

// /v1/instructions and its versions and render (instructions.cc).
void RegisterInstructionRoutes(Router& router, InstructionService& instructions,
                               References& references);

// /v1/agent-profiles (profiles.cc).
void RegisterProfileRoutes(Router& router, LeaseService& leases);

// /v1/agent-profile-pools and its members (pools.cc).
void RegisterPoolRoutes(Router& router, LeaseService& leases);

// Acquire (POST /v1/agent-profile-pools/{id}/leases), list a pool's leases,
// and /v1/leases/{id} with renew and release (leases.cc).
void RegisterLeaseRoutes(Router& router, LeaseService& leases);

// A list page of items answered from memory (leases.cc).
Response WriteListed(const Page<ListedItem>& page);

// The `session` member of a render body: an object, {} when absent or null;
// kInvalidRequest (field "session") otherwise (instructions.cc).
Result<boost::json::object> ParseRenderSession(json::ObjectReader& r);

// POST/GET /v1/api-keys, DELETE /v1/api-keys/{id} (api_keys.cc).
void RegisterApiKeyRoutes(Router& router, TenancyService& tenancy);

}  // namespace agentry::http
