#include "agentry/common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace agentry {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kOk);
  EXPECT_EQ(s.code_name(), "ok");
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.field(), "");
  EXPECT_EQ(s.retry_after_s(), 0);
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  struct Case {
    Status status;
    ErrorCode code;
    const char* name;
  };
  const std::vector<Case> cases = {
      {Status::InvalidRequest("m"), ErrorCode::kInvalidRequest,
       "invalid_request"},
      {Status::Unauthorized("m"), ErrorCode::kUnauthorized, "unauthorized"},
      {Status::Forbidden("m"), ErrorCode::kForbidden, "forbidden"},
      {Status::NotFound("m"), ErrorCode::kNotFound, "not_found"},
      {Status::MethodNotAllowed("m"), ErrorCode::kMethodNotAllowed,
       "method_not_allowed"},
      {Status::Conflict("m"), ErrorCode::kConflict, "conflict"},
      {Status::NoProfileAvailable("m", 3), ErrorCode::kNoProfileAvailable,
       "no_profile_available"},
      {Status::PreconditionFailed("m"), ErrorCode::kPreconditionFailed,
       "precondition_failed"},
      {Status::PayloadTooLarge("m"), ErrorCode::kPayloadTooLarge,
       "payload_too_large"},
      {Status::UnsupportedMediaType("m"), ErrorCode::kUnsupportedMediaType,
       "unsupported_media_type"},
      {Status::HeadersTooLarge("m"), ErrorCode::kHeadersTooLarge,
       "headers_too_large"},
      {Status::RateLimited("m", 2), ErrorCode::kRateLimited, "rate_limited"},
      {Status::Internal("m"), ErrorCode::kInternal, "internal"},
      {Status::Unavailable("m"), ErrorCode::kUnavailable, "unavailable"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.code_name(), c.name);
    EXPECT_EQ(ErrorCodeName(c.code), c.name);
    EXPECT_EQ(c.status.message(), "m");
  }
}

TEST(StatusTest, CodeNamesAreDistinct) {
  std::vector<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kUnavailable); ++i) {
    names.push_back(ErrorCodeName(static_cast<ErrorCode>(i)));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      EXPECT_NE(names[i], names[j]);
    }
  }
  EXPECT_EQ(names.front(), "ok");
}

TEST(StatusTest, FieldsAndRetryHints) {
  EXPECT_EQ(Status::InvalidRequest("bad", "model.name").field(), "model.name");
  EXPECT_EQ(Status::InvalidRequest("bad").field(), "");
  EXPECT_EQ(Status::Conflict("taken", "name").field(), "name");
  EXPECT_EQ(Status::UnsupportedMediaType("json only").field(), "Content-Type");
  EXPECT_EQ(Status::RateLimited("slow down", 7).retry_after_s(), 7);
  EXPECT_EQ(Status::NoProfileAvailable("busy", 4).retry_after_s(), 4);
  EXPECT_EQ(Status::NotFound("x").retry_after_s(), 0);
}

TEST(StatusTest, ToString) {
  EXPECT_EQ(Status::NotFound("agent agt_x not found").ToString(),
            "not_found: agent agt_x not found");
  EXPECT_EQ(Status::InvalidRequest("must be a string", "name").ToString(),
            "invalid_request: must be a string (field name)");
}

TEST(StatusTest, WithFieldPrefix) {
  Status s = Status::InvalidRequest("bad", "name");
  EXPECT_EQ(s.WithFieldPrefix("model").field(), "model.name");
  EXPECT_EQ(s.WithFieldPrefix("model").message(), "bad");
  EXPECT_EQ(s.WithFieldPrefix("model").code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(s.field(), "name");  // the original is unchanged

  EXPECT_EQ(Status::InvalidRequest("bad", "[2].slug")
                .WithFieldPrefix("input_fields")
                .field(),
            "input_fields[2].slug");
  EXPECT_EQ(Status::InvalidRequest("bad").WithFieldPrefix("model").field(),
            "model");
  EXPECT_EQ(s.WithFieldPrefix("").field(), "name");
  EXPECT_EQ(s.WithFieldPrefix("a").WithFieldPrefix("b").field(), "b.a.name");
}

TEST(StatusTest, WithFieldPrefixKeepsOkAndRetry) {
  Status ok;
  EXPECT_TRUE(ok.WithFieldPrefix("model").ok());
  EXPECT_EQ(ok.WithFieldPrefix("model").field(), "");
  Status limited = Status::RateLimited("slow", 9).WithFieldPrefix("x");
  EXPECT_EQ(limited.retry_after_s(), 9);
  EXPECT_EQ(limited.field(), "x");
}

TEST(ResultTest, HoldsAValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  *r = 43;
  EXPECT_EQ(r.value(), 43);
}

TEST(ResultTest, HoldsAStatus) {
  Result<int> r = Status::NotFound("gone");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.status().message(), "gone");
}

TEST(ResultTest, ArrowAndMoveOut) {
  Result<std::string> r = std::string("hello");
  EXPECT_EQ(r->size(), 5u);
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr->front(), 'h');
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "hello");
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidRequest("odd", "x");
  return x / 2;
}

Result<int> Quarter(int x) {
  AGENTRY_ASSIGN_OR_RETURN(int half, Half(x));
  AGENTRY_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  if (x % 2 != 0) return Status::InvalidRequest("odd");
  return Status::Ok();
}

Status BothEven(int a, int b, int* reached) {
  AGENTRY_RETURN_IF_ERROR(CheckEven(a));
  ++*reached;
  AGENTRY_RETURN_IF_ERROR(CheckEven(b));
  return Status::Ok();
}

Status AssignExisting(int x, int* out) {
  int value = -1;
  AGENTRY_ASSIGN_OR_RETURN(value, Half(x));
  *out = value;
  return Status::Ok();
}

TEST(MacrosTest, AssignOrReturn) {
  Result<int> ok = Quarter(12);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  Result<int> first_fails = Quarter(7);
  ASSERT_FALSE(first_fails.ok());
  EXPECT_EQ(first_fails.status().message(), "odd");
  EXPECT_EQ(first_fails.status().field(), "x");
  Result<int> second_fails = Quarter(6);  // 6 → 3 → odd
  ASSERT_FALSE(second_fails.ok());
  EXPECT_EQ(second_fails.status().code(), ErrorCode::kInvalidRequest);
}

TEST(MacrosTest, AssignOrReturnIntoExistingVariable) {
  int out = 0;
  EXPECT_TRUE(AssignExisting(10, &out).ok());
  EXPECT_EQ(out, 5);
  out = 0;
  EXPECT_FALSE(AssignExisting(3, &out).ok());
  EXPECT_EQ(out, 0);
}

TEST(MacrosTest, AssignOrReturnMovesOnlyValues) {
  auto make = [](bool ok) -> Result<std::unique_ptr<int>> {
    if (!ok) return Status::Internal("no");
    return std::make_unique<int>(9);
  };
  auto use = [&](bool ok) -> Result<int> {
    AGENTRY_ASSIGN_OR_RETURN(std::unique_ptr<int> p, make(ok));
    return *p;
  };
  EXPECT_EQ(*use(true), 9);
  EXPECT_EQ(use(false).status().code(), ErrorCode::kInternal);
}

TEST(MacrosTest, ReturnIfError) {
  int reached = 0;
  EXPECT_TRUE(BothEven(2, 4, &reached).ok());
  EXPECT_EQ(reached, 1);
  Status s = BothEven(1, 4, &reached);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "odd");
  EXPECT_EQ(reached, 1);  // returned before the increment
  EXPECT_FALSE(BothEven(2, 5, &reached).ok());
  EXPECT_EQ(reached, 2);
}

}  // namespace
}  // namespace agentry
