// Status and Result<T>: expected failures are values, never exceptions.
//
// A Status is either ok or carries an ErrorCode, a human message, optionally
// the dotted field at fault ("model.parameters.temperature") and, for
// rate-limit style refusals, a retry hint. The HTTP layer maps codes to
// statuses in exactly one table (http/error_mapping). Thread-compatible value
// type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace agentry {

enum class ErrorCode : uint8_t {
  kOk = 0,
  kInvalidRequest,        // malformed or invalid input (400)
  kUnauthorized,          // missing, unknown, revoked or expired key (401)
  kForbidden,             // scope missing or no grant (403)
  kNotFound,              // absent, or another organization's (404)
  kMethodNotAllowed,      // route exists, method does not (405)
  kConflict,              // duplicate key or name; lease not renewable (409)
  kNoProfileAvailable,    // no profile could be leased (409)
  kPreconditionFailed,    // If-Match is stale (412)
  kPayloadTooLarge,       // body over the limit (413)
  kUnsupportedMediaType,  // body is not application/json (415)
  kHeadersTooLarge,       // header section over the limit (431)
  kRateLimited,           // token bucket empty (429)
  kInternal,              // a bug or an unexpected store failure (500)
  kUnavailable,           // store unreachable or shutting down (503)
};

// The stable machine name of a code, e.g. "invalid_request".
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidRequest(std::string message, std::string field = {}) {
    return Status(ErrorCode::kInvalidRequest, std::move(message),
                  std::move(field));
  }
  static Status Unauthorized(std::string message) {
    return Status(ErrorCode::kUnauthorized, std::move(message));
  }
  static Status Forbidden(std::string message) {
    return Status(ErrorCode::kForbidden, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(ErrorCode::kNotFound, std::move(message));
  }
  static Status MethodNotAllowed(std::string message) {
    return Status(ErrorCode::kMethodNotAllowed, std::move(message));
  }
  static Status Conflict(std::string message, std::string field = {}) {
    return Status(ErrorCode::kConflict, std::move(message), std::move(field));
  }
  static Status NoProfileAvailable(std::string message, int retry_after_s) {
    Status s(ErrorCode::kNoProfileAvailable, std::move(message));
    s.retry_after_s_ = retry_after_s;
    return s;
  }
  static Status PreconditionFailed(std::string message) {
    return Status(ErrorCode::kPreconditionFailed, std::move(message));
  }
  static Status PayloadTooLarge(std::string message) {
    return Status(ErrorCode::kPayloadTooLarge, std::move(message));
  }
  static Status UnsupportedMediaType(std::string message) {
    return Status(ErrorCode::kUnsupportedMediaType, std::move(message),
                  "Content-Type");
  }
  static Status HeadersTooLarge(std::string message) {
    return Status(ErrorCode::kHeadersTooLarge, std::move(message));
  }
  static Status RateLimited(std::string message, int retry_after_s) {
    Status s(ErrorCode::kRateLimited, std::move(message));
    s.retry_after_s_ = retry_after_s;
    return s;
  }
  static Status Internal(std::string message) {
    return Status(ErrorCode::kInternal, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(ErrorCode::kUnavailable, std::move(message));
  }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  std::string_view code_name() const { return ErrorCodeName(code_); }
  const std::string& message() const { return message_; }
  // The dotted path of the field or the header at fault; empty if none.
  const std::string& field() const { return field_; }
  // Seconds a client should wait before retrying (0 when not applicable).
  int retry_after_s() const { return retry_after_s_; }

  // Returns a copy whose field is prefixed: "name" under "model" becomes
  // "model.name"; an index prefix "[2]" gives "[2].slug".
  Status WithFieldPrefix(std::string_view prefix) const;

  std::string ToString() const;

 private:
  Status(ErrorCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string field_;
  int retry_after_s_ = 0;
};

// Either a value or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must not be ok

  bool ok() const { return v_.index() == 1; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<0>(v_);
  }
  T& value() & { return std::get<1>(v_); }
  const T& value() const& { return std::get<1>(v_); }
  T&& value() && { return std::get<1>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace agentry

#define AGENTRY_CONCAT_INNER(a, b) a##b
#define AGENTRY_CONCAT(a, b) AGENTRY_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not ok.
#define AGENTRY_RETURN_IF_ERROR(expr)          \
  do {                                         \
    ::agentry::Status _agentry_st = (expr);    \
    if (!_agentry_st.ok()) return _agentry_st; \
  } while (0)

// `lhs = value of expr`, or returns its Status when not ok.
#define AGENTRY_ASSIGN_OR_RETURN(lhs, expr) \
  AGENTRY_ASSIGN_OR_RETURN_IMPL(AGENTRY_CONCAT(_agentry_r, __LINE__), lhs, expr)
#define AGENTRY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
