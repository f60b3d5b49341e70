// The one table from error codes to HTTP statuses, and the error bodies of
// each dialect (DESIGN §3 idiom 3). Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "agentry/common/status.h"
#include "agentry/http/request.h"

namespace agentry::http {

// 400 for kInvalidRequest, 404 for kNotFound, … (DESIGN §5 table).
int HttpStatusFor(ErrorCode code);

// The standard reason phrase of an HTTP status ("Not Found").
std::string_view ReasonPhrase(int status);

// The error response for `status` in `dialect`'s body shape, with
// Retry-After when the status carries a retry hint:
//   native   {"error":{"code","message","field"?,"request_id"}}
//   Asteroid {"code": <HTTP status>, "message"}
//   Odeus    {"status":"error","code","message"}
//   Vectara  {"error_code","messages":[…],"request_id"} with the seed's codes
//            (404 agent_not_found, 429 rate_limit_exceeded)
// `request_id` is echoed where the shape has room for it.
Response ErrorResponse(const Status& status, std::string_view request_id,
                       Dialect dialect = Dialect::kNative);

}  // namespace agentry::http
