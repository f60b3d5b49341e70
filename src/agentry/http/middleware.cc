#include "agentry/http/middleware.h"

#include <algorithm>

#include "agentry/service/auth_service.h"

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

Middleware Authenticate(const AuthService& auth) {
  return [&auth](Request& req, const Route& route) -> Status {
    if (!route.options.auth) return Status::Ok();
    std::string_view key = PresentedKey(req);
    if (key.empty()) {
      return Status::Unauthorized(
          "missing API key: send Authorization: Bearer KEY, x-api-key or "
          "X-Asteroid-Agents-Api-Key");
    }
    auto principal = auth.Authenticate(key);
    if (!principal.ok()) return principal.status();
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

Middleware RateLimit() {
  return [](Request&, const Route&) -> Status { return Status::Ok(); };
}

}  // namespace agentry::http
