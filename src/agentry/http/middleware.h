// The middleware chain run before every matched handler, in this order:
// origin check, authentication (+ the route's scope), rate limit. (The
// request id is assigned by the server before routing.) Each returns a
// non-ok Status to refuse the request. All are thread-safe and in-memory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agentry/http/server.h"

namespace agentry {
class AuthService;
}

namespace agentry::http {

// The key a request presents: `Authorization: Bearer KEY`, else
// `x-api-key: KEY`, else `X-Asteroid-Agents-Api-Key: KEY`; "" when none.
std::string_view PresentedKey(const Request& req);

// Refuses (403) API requests that carry an Origin header not in `allowed`
// (browser-origin blocking, DESIGN §6). Routes without auth (operations)
// are not API surfaces and pass. CORS answers for allowed origins and
// preflights come with the compatible surfaces.
Middleware OriginCheck(std::vector<std::string> allowed);

// Authenticates routes with options.auth (401) and checks options.scope
// (403). Sets Request::principal. `auth` must outlive the middleware.
Middleware Authenticate(const AuthService& auth);

// Token-bucket rate limit per key. Placeholder: admits everything until
// rate limits are built (DESIGN §8).
Middleware RateLimit();

}  // namespace agentry::http
