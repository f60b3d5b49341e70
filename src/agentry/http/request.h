// The request and response types every HTTP resource handler sees, and the
// helpers handlers share (strict JSON bodies, JSON answers, paging).
// No Asio or Beast here: handlers are plain functions of a Request.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentry/common/status.h"
#include "agentry/service/principal.h"

namespace agentry::http {

enum class Method : uint8_t {
  kGet = 0,
  kHead,
  kPost,
  kPut,
  kPatch,
  kDelete,
  kOptions,
  kOther,
};
inline constexpr size_t kMethodCount = 8;
std::string_view MethodName(Method m);
Method ParseMethod(std::string_view text);

// Which vendor's error shape a route answers in.
enum class Dialect : uint8_t { kNative, kAsteroid, kOdeus, kVectara };

class Request {
 public:
  using HeaderLookup = std::string_view (*)(const void* raw,
                                            std::string_view name);

  Method method = Method::kGet;
  std::string_view target;            // as received: path and query
  std::vector<std::string> segments;  // decoded path segments
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string_view body;
  std::string request_id;
  std::string remote_address;
  // Path parameters bound by the router ({id} → value), in pattern order.
  std::vector<std::pair<std::string_view, std::string_view>> params;
  // Set by the auth middleware on routes that need a key.
  std::shared_ptr<const Principal> principal;
  // True while the handler runs on an I/O thread (inline routes): it must
  // not block there, and returns nullopt to be re-run on a worker.
  bool on_io_thread = false;
  // Headers the middleware adds to whatever the answer is (RateLimit-*).
  std::vector<std::pair<std::string, std::string>> response_headers;

  // Header value ("" when absent); names are case-insensitive.
  std::string_view Header(std::string_view name) const {
    return lookup_ ? lookup_(raw_, name) : std::string_view();
  }
  void SetHeaderSource(const void* raw, HeaderLookup lookup) {
    raw_ = raw;
    lookup_ = lookup;
  }

  // First value of query parameter `name`.
  std::optional<std::string_view> Query(std::string_view name) const;
  // Value of path parameter `name` ("" when the route has none).
  std::string_view Param(std::string_view name) const;

 private:
  const void* raw_ = nullptr;
  HeaderLookup lookup_ = nullptr;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, sent instead of `body` (pre-serialised, shared).
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string_view BodyView() const {
    return shared_body ? std::string_view(*shared_body)
                       : std::string_view(body);
  }
};

// 200/201/… with a JSON body.
Response JsonResponse(int status, const boost::json::value& body);
Response JsonResponse(int status, std::string serialized);
// 204 with no body.
Response NoContent();
// A single resource with its strong ETag: `status` with `serialized`, or
// 304 with no body when `status` is 200 and the request's If-None-Match
// already names `etag`.
Response EntityResponse(const Request& req, int status, std::string etag,
                        std::string serialized);

// The body as a strict JSON object: 415 unless Content-Type is
// application/json (parameters such as charset=utf-8 allowed; `also` names
// one more accepted media type, e.g. application/merge-patch+json), 400 when
// malformed (DESIGN §5 conventions).
Result<boost::json::object> ParseJsonBody(const Request& req,
                                          std::string_view also = {});

// ?limit= (1–200, default 50) and ?cursor= (opaque, from EncodeCursor).
struct PageParams {
  size_t limit = 50;
  std::optional<std::string> after;  // decoded cursor
};
// What a list's cursor carries: the last id (a UUID), a prefixed key
// ([0-9A-Za-z_-], at most 64 characters, e.g. tol_…) or a number (versions).
// A cursor that does not decode to one is refused (400, field "cursor").
enum class CursorKind { kUuid, kKey, kNumber };
// The query parameters' names and the limit's range (the Vectara surface
// pages with ?limit=1–100 (default 10) and ?page_key=).
struct PageParamSpec {
  std::string_view limit = "limit";
  std::string_view cursor = "cursor";
  size_t max_limit = 200;
  size_t default_limit = 50;
};
Result<PageParams> ParsePageParams(const Request& req,
                                   CursorKind kind = CursorKind::kUuid,
                                   const PageParamSpec& spec = {});

// Query parameter `name` as an integer in [min, max]; `fallback` when
// absent; kInvalidRequest naming it otherwise.
Result<int64_t> ParseIntParam(const Request& req, std::string_view name,
                              int64_t min, int64_t max, int64_t fallback);
std::string EncodeCursor(std::string_view last_id);
// The version a kNumber cursor carries: nullopt on the first page.
Result<std::optional<int>> VersionCursor(const PageParams& page);
// Like ParseJsonBody, and an empty body is an empty object.
Result<boost::json::object> ParseOptionalJsonBody(const Request& req);

// A version number (1, 2, … up to 2^31-1, no sign, no leading zero) from a
// path or query parameter; kInvalidRequest naming `field` otherwise.
Result<int> ParseVersionNumber(std::string_view text, std::string_view field);

// A list answer, {"data":[…],"next_cursor":"…"|null}, written item by item
// from already serialised JSON.
class PageWriter {
 public:
  PageWriter() : out_("{\"data\":[") {}
  void Add(std::string_view serialized_item) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_ += serialized_item;
  }
  // 200 with next_cursor carrying `last` when `has_more`, else null.
  Response Finish(bool has_more, std::string_view last);

 private:
  std::string out_;
  bool first_ = true;
};

}  // namespace agentry::http
