#include "agentry/http/error_mapping.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace agentry::http {

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kInvalidRequest:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kConflict:
    case ErrorCode::kNoProfileAvailable:
      return 409;
    case ErrorCode::kPreconditionFailed:
      return 412;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kUnavailable:
      return 503;
  }
  return 500;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

Response ErrorResponse(const Status& status, std::string_view request_id,
                       Dialect dialect) {
  const int http_status = HttpStatusFor(status.code());
  boost::json::object body;
  switch (dialect) {
    case Dialect::kAsteroid:
      // The seed's {code, message}: code is the HTTP status as a number.
      body["code"] = http_status;
      body["message"] = status.message();
      break;
    case Dialect::kOdeus:
      body["status"] = "error";
      body["code"] = status.code_name();
      body["message"] = status.message();
      break;
    case Dialect::kVectara: {
      // The seed's error table: its codes where it names one.
      std::string_view code = status.code_name();
      if (status.code() == ErrorCode::kNotFound) code = "agent_not_found";
      if (status.code() == ErrorCode::kRateLimited) {
        code = "rate_limit_exceeded";
      }
      body["error_code"] = code;
      boost::json::array messages;
      messages.emplace_back(status.message());
      body["messages"] = std::move(messages);
      body["request_id"] = request_id;
      break;
    }
    case Dialect::kNative:
    default: {
      boost::json::object err;
      err["code"] = status.code_name();
      err["message"] = status.message();
      if (!status.field().empty()) err["field"] = status.field();
      err["request_id"] = request_id;
      body["error"] = std::move(err);
      break;
    }
  }
  Response r = JsonResponse(http_status, boost::json::value(std::move(body)));
  if (status.retry_after_s() > 0) {
    r.headers.emplace_back("Retry-After",
                           std::to_string(status.retry_after_s()));
  }
  return r;
}

}  // namespace agentry::http
