#include "agentry/http/middleware.h"

#include <algorithm>

#include "agentry/service/auth_service.h"
#include "agentry/service/rate_limiter.h"

namespace agentry::http {

namespace {

bool StartsWithBearer(std::string_view v) {
  static constexpr std::string_view kBearer = "bearer ";
  if (v.size() < kBearer.size()) return false;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c += 32;
    if (c != kBearer[i]) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view PresentedKey(const Request& req) {
  std::string_view auth = req.Header("Authorization");
  if (StartsWithBearer(auth)) return TrimSpaces(auth.substr(7));
  std::string_view k = TrimSpaces(req.Header("x-api-key"));
  if (!k.empty()) return k;
  return TrimSpaces(req.Header("X-Asteroid-Agents-Api-Key"));
}

Middleware OriginCheck(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](Request& req,
                                        const Route& route) -> Status {
    if (!route.options.auth) return Status::Ok();
    std::string_view origin = req.Header("Origin");
    if (origin.empty()) return Status::Ok();
    if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
      return Status::Ok();
    }
    return Status::Forbidden(
        "browser-origin requests are refused; call this API from a server");
  };
}

namespace {

// The RateLimit-* headers of a decision, for the answer.
void AddRateHeaders(Request& req, const RateDecision& d) {
  req.response_headers.emplace_back("RateLimit-Limit", std::to_string(d.limit));
  req.response_headers.emplace_back("RateLimit-Remaining",
                                    std::to_string(d.remaining));
  req.response_headers.emplace_back("RateLimit-Reset",
                                    std::to_string(d.reset_s));
}

}  // namespace

Middleware Authenticate(const AuthService& auth, RateLimiter& limiter) {
  return [&auth, &limiter](Request& req, const Route& route) -> Status {
    if (!route.options.auth) return Status::Ok();
    const RateDecision may = limiter.MayAuthenticate(req.remote_address);
    if (!may.allowed) {
      AddRateHeaders(req, may);
      return Status::RateLimited(
          "too many failed authentications from this address; retry later",
          may.retry_after_s);
    }
    std::string_view key = PresentedKey(req);
    if (key.empty()) {
      limiter.FailedAuthentication(req.remote_address);
      return Status::Unauthorized(
          "missing API key: send Authorization: Bearer KEY, x-api-key or "
          "X-Asteroid-Agents-Api-Key");
    }
    auto principal = auth.Authenticate(key);
    if (!principal.ok()) {
      limiter.FailedAuthentication(req.remote_address);
      return principal.status();
    }
    req.principal = std::move(principal).value();
    if (route.options.or_scope && req.principal->Has(*route.options.or_scope)) {
      return Status::Ok();
    }
    if (route.options.scope) {
      return RequireScope(*req.principal, *route.options.scope);
    }
    return Status::Ok();
  };
}

Middleware RateLimit(RateLimiter& limiter) {
  return [&limiter](Request& req, const Route& route) -> Status {
    if (!route.options.auth || !req.principal) return Status::Ok();
    const RateDecision d =
        limiter.TakeForKey(req.principal->key_id, req.principal->rate_limit);
    if (d.allowed) return Status::Ok();
    AddRateHeaders(req, d);
    return Status::RateLimited("rate limit of this API key exceeded (" +
                                   std::to_string(d.limit) +
                                   " requests in a burst)",
                               d.retry_after_s);
  };
}

}  // namespace agentry::http
