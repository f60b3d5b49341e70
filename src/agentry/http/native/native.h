// The native /v1 API: one file per resource, each registering its routes.
// Handlers parse, call a service and encode; they block on the store and
// run on worker threads.
#pragma once

#include "agentry/http/router.h"

namespace agentry {
class AgentService;
class InstructionService;
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

// The `session` member of a render body: an object, {} when absent or null;
// kInvalidRequest (field "session") otherwise (instructions.cc).
Result<boost::json::object> ParseRenderSession(json::ObjectReader& r);

// POST/GET /v1/api-keys, DELETE /v1/api-keys/{id} (api_keys.cc).
void RegisterApiKeyRoutes(Router& router, TenancyService& tenancy);

}  // namespace agentry::http
