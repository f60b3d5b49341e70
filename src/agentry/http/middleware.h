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
class RateLimiter;
}  // namespace agentry

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
// (403). Sets Request::principal. Failed authentications (a missing,
// unknown, revoked or expired key) are counted per client address in
// `limiter`; an address that has used up its failures gets 429 before its
// key is even looked at. Both must outlive the middleware.
Middleware Authenticate(const AuthService& auth, RateLimiter& limiter);

// A token bucket per key (its own limit, else the server's default): 429
// rate_limited with Retry-After, RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset when it is empty. `limiter` must outlive the middleware.
Middleware RateLimit(RateLimiter& limiter);

}  // namespace agentry::http
