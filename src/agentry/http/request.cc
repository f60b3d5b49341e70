#include "agentry/http/request.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "agentry/common/crypto.h"
#include "agentry/common/ids.h"
#include "agentry/common/json.h"

namespace agentry::http {

namespace {
constexpr std::string_view kMethodNames[kMethodCount] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"};
constexpr std::string_view kCursorMagic = "c1:";
}  // namespace

std::string_view MethodName(Method m) {
  return kMethodNames[static_cast<size_t>(m)];
}

Method ParseMethod(std::string_view text) {
  for (size_t i = 0; i + 1 < kMethodCount; ++i) {
    if (kMethodNames[i] == text) return static_cast<Method>(i);
  }
  return Method::kOther;
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Response JsonResponse(int status, const boost::json::value& body) {
  return JsonResponse(status, json::Serialize(body));
}

Response JsonResponse(int status, std::string serialized) {
  Response r;
  r.status = status;
  r.body = std::move(serialized);
  return r;
}

Response NoContent() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

Result<boost::json::object> ParseJsonBody(const Request& req,
                                          std::string_view also) {
  std::string_view ct = req.Header("Content-Type");
  std::string_view media = Trim(ct.substr(0, ct.find(';')));
  if (!IEquals(media, "application/json") &&
      (also.empty() || !IEquals(media, also))) {
    std::string accepted = "application/json";
    if (!also.empty()) accepted += " or " + std::string(also);
    return Status::UnsupportedMediaType(
        "request body must be " + accepted +
        (ct.empty() ? " (Content-Type is missing)"
                    : " (got " + std::string(media) + ")"));
  }
  return json::ParseStrictObject(req.body);
}

Result<PageParams> ParsePageParams(const Request& req, CursorKind kind) {
  PageParams p;
  if (auto limit = req.Query("limit")) {
    int64_t v = 0;
    auto [ptr, ec] =
        std::from_chars(limit->data(), limit->data() + limit->size(), v);
    if (ec != std::errc() || ptr != limit->data() + limit->size() || v < 1 ||
        v > 200) {
      return Status::InvalidRequest("limit must be an integer from 1 to 200",
                                    "limit");
    }
    p.limit = static_cast<size_t>(v);
  }
  if (auto cursor = req.Query("cursor")) {
    auto decoded = Base64UrlDecode(*cursor);
    if (!decoded || decoded->rfind(kCursorMagic, 0) != 0 ||
        decoded->size() == kCursorMagic.size() || decoded->size() > 256) {
      return Status::InvalidRequest("cursor is not one this server issued",
                                    "cursor");
    }
    p.after = decoded->substr(kCursorMagic.size());
    const std::string& a = *p.after;
    const bool shaped =
        kind == CursorKind::kUuid
            ? IsUuid(a)
            : (a.size() <= 9 &&
               a.find_first_not_of("0123456789") == std::string::npos &&
               a.front() != '0');
    if (!shaped) {
      return Status::InvalidRequest("cursor is not one this server issued",
                                    "cursor");
    }
  }
  return p;
}

std::string EncodeCursor(std::string_view last_id) {
  return Base64UrlEncode(std::string(kCursorMagic) + std::string(last_id));
}

}  // namespace agentry::http
