// The native /v1 API: one file per resource, each registering its routes.
// Handlers parse, call a service and encode; they block on the store and
// run on worker threads.
#pragma once

#include "agentry/http/router.h"

namespace agentry {
class AgentService;
class TenancyService;
}  // namespace agentry

namespace agentry::http {

// POST /v1/organizations (organizations.cc).
void RegisterOrganizationRoutes(Router& router, TenancyService& tenancy);

// /v1/agents and its sub-resources (agents.cc).
void RegisterAgentRoutes(Router& router, AgentService& agents);

// POST/GET /v1/api-keys, DELETE /v1/api-keys/{id} (api_keys.cc).
void RegisterApiKeyRoutes(Router& router, TenancyService& tenancy);

}  // namespace agentry::http
