#include "agentry/http/request.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "agentry/common/crypto.h"
#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/common/text.h"

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

Response EntityResponse(const Request& req, int status, std::string etag,
                        std::string serialized) {
  Response r;
  if (status == 200 &&
      EtagListMatches(req.Header("If-None-Match"), etag, true)) {
    r.status = 304;
    r.content_type.clear();
  } else {
    r.status = status;
    r.body = std::move(serialized);
  }
  r.headers.emplace_back("ETag", std::move(etag));
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

Result<int64_t> ParseIntParam(const Request& req, std::string_view name,
                              int64_t min, int64_t max, int64_t fallback) {
  auto text = req.Query(name);
  if (!text) return fallback;
  int64_t v = 0;
  auto [ptr, ec] =
      std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size() || v < min ||
      v > max) {
    return Status::InvalidRequest(
        std::string(name) + " must be an integer from " + std::to_string(min) +
            " to " + std::to_string(max),
        std::string(name));
  }
  return v;
}

Result<PageParams> ParsePageParams(const Request& req, CursorKind kind,
                                   const PageParamSpec& spec) {
  PageParams p;
  AGENTRY_ASSIGN_OR_RETURN(
      int64_t limit,
      ParseIntParam(req, spec.limit, 1, static_cast<int64_t>(spec.max_limit),
                    static_cast<int64_t>(spec.default_limit)));
  p.limit = static_cast<size_t>(limit);
  const std::string cursor_field(spec.cursor);
  if (auto cursor = req.Query(spec.cursor)) {
    auto decoded = Base64UrlDecode(*cursor);
    if (!decoded || decoded->rfind(kCursorMagic, 0) != 0 ||
        decoded->size() == kCursorMagic.size() || decoded->size() > 256) {
      return Status::InvalidRequest(
          cursor_field + " is not one this server issued", cursor_field);
    }
    p.after = decoded->substr(kCursorMagic.size());
    const std::string& a = *p.after;
    bool shaped = false;
    switch (kind) {
      case CursorKind::kUuid:
        shaped = IsUuid(a);
        break;
      case CursorKind::kKey: {
        // A prefixed id: "tol_…", "ins_…".
        const size_t underscore = a.find('_');
        shaped =
            a.size() <= 64 && underscore != std::string::npos &&
            underscore > 0 &&
            a.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == underscore &&
            IsPrefixedId(a, a.substr(0, underscore + 1));
        break;
      }
      case CursorKind::kNumber:
        shaped = a.size() <= 9 &&
                 a.find_first_not_of("0123456789") == std::string::npos &&
                 a.front() != '0';
        break;
    }
    if (!shaped) {
      return Status::InvalidRequest(
          cursor_field + " is not one this server issued", cursor_field);
    }
  }
  return p;
}

std::string EncodeCursor(std::string_view last_id) {
  return Base64UrlEncode(std::string(kCursorMagic) + std::string(last_id));
}

Result<int> ParseVersionNumber(std::string_view text, std::string_view field) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() ||
      v < 1 || text.front() == '+' || text.front() == '0') {
    return Status::InvalidRequest(
        std::string(field) + " must be a version number (1, 2, …)",
        std::string(field));
  }
  return v;
}

Result<std::optional<int>> VersionCursor(const PageParams& page) {
  if (!page.after) return std::optional<int>();
  auto n = ParseVersionNumber(*page.after, "cursor");
  if (!n.ok()) {
    return Status::InvalidRequest("cursor is not one this server issued",
                                  "cursor");
  }
  return std::optional<int>(*n);
}

Result<boost::json::object> ParseOptionalJsonBody(const Request& req) {
  if (req.body.empty()) return boost::json::object();
  return ParseJsonBody(req);
}

Response PageWriter::Finish(bool has_more, std::string_view last) {
  out_ += "],\"next_cursor\":";
  if (has_more) {
    out_ += json::Serialize(boost::json::value(EncodeCursor(last)));
  } else {
    out_ += "null";
  }
  out_ += "}";
  return JsonResponse(200, std::move(out_));
}

}  // namespace agentry::http
