#include "agentry/http/router.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <initializer_list>

#include "agentry/http/error_mapping.h"
#include "agentry/http/ops.h"

namespace agentry::http {
namespace {

// Path segments that outlive the match: Match::params are views into them.
const std::vector<std::string>& Segs(std::initializer_list<const char*> parts) {
  static std::deque<std::vector<std::string>> kept;
  kept.emplace_back(parts.begin(), parts.end());
  return kept.back();
}

Handler Named(std::string name) {
  return [name](Request&) -> std::optional<Response> {
    Response r;
    r.body = name;
    return r;
  };
}

std::string Call(const Router::Match& m) {
  Request req;
  return m.route->handler(req)->body;
}

TEST(SplitTargetTest, PlainPathsSplitAsBoostUrlDoes) {
  for (const char* target : {"/",
                             "//",
                             "/v1",
                             "/v1/",
                             "/v1/agents/agt_customer_support_001",
                             "/v2/agents/a~b-c_d",
                             "//a//b/",
                             "/a/./b",
                             "/a/../b",
                             "/a%2Fb/c",
                             "/v1/agents/x?limit=5&after=a%20b",
                             "/caf%C3%A9",
                             "http://h/v1/x",
                             "/a/b#frag",
                             "/A/Z/0/9/-/_/~",
                             "/agent/v1/get?agentId=01a2-b3",
                             "/x?a=1&b=&c=3",
                             "/x?a",
                             "/x?",
                             "/x?=1",
                             "/x?a=1&",
                             "/x?a=1&&b=2",
                             "/x?a=b=c",
                             "/x?a=%20",
                             "/x?a=b+c",
                             "/x?a=1#f",
                             "/x?a=1&a=2"}) {
    std::vector<std::string> fast = {"stale", "stale", "stale", "stale"};
    std::vector<std::pair<std::string, std::string>> fast_query;
    std::vector<std::string> slow;
    std::vector<std::pair<std::string, std::string>> slow_query;
    const bool ok = SplitTarget(target, fast, fast_query);
    EXPECT_EQ(ok, detail::SplitTargetWithUrlParser(target, slow, slow_query))
        << target;
    if (!ok) continue;
    EXPECT_EQ(fast, slow) << target;
    EXPECT_EQ(fast_query, slow_query) << target;
  }
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;
  ASSERT_TRUE(SplitTarget("/v1/agents/agt_1/versions", segments, query));
  EXPECT_EQ(segments,
            (std::vector<std::string>{"v1", "agents", "agt_1", "versions"}));
  EXPECT_TRUE(query.empty());
  ASSERT_TRUE(SplitTarget("/", segments, query));
  EXPECT_TRUE(segments.empty());
  ASSERT_TRUE(SplitTarget("/agent/v1/get?agentId=a1&x=", segments, query));
  EXPECT_EQ(segments, (std::vector<std::string>{"agent", "v1", "get"}));
  EXPECT_EQ(query, (std::vector<std::pair<std::string, std::string>>{
                       {"agentId", "a1"}, {"x", ""}}));
}

TEST(RouterTest, MatchesLiteralsAndParameters) {
  Router r;
  r.Add(Method::kGet, "/v1/agents", {}, Named("list"));
  r.Add(Method::kGet, "/v1/agents/{id}", {}, Named("get"));
  r.Add(Method::kPost, "/v1/agents/{id}/publish", {}, Named("publish"));
  r.Add(Method::kGet, "/v1/agents/{id}/versions/{n}", {}, Named("version"));

  auto m = r.Find(Method::kGet, Segs({"v1", "agents"}));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "list");
  EXPECT_TRUE(m.params.empty());

  m = r.Find(Method::kGet, Segs({"v1", "agents", "agt_x"}));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "get");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "agt_x");

  m = r.Find(Method::kGet, Segs({"v1", "agents", "a", "versions", "3"}));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "version");
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[1].first, "n");
  EXPECT_EQ(m.params[1].second, "3");
}

TEST(RouterTest, LiteralWinsOverParameterAndBacktracks) {
  Router r;
  r.Add(Method::kGet, "/x/{id}/a", {}, Named("param-a"));
  r.Add(Method::kGet, "/x/special/b", {}, Named("literal-b"));
  auto m = r.Find(Method::kGet, Segs({"x", "special", "b"}));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "literal-b");
  // "special" is also a valid {id}: the literal branch fails, the parameter
  // branch matches.
  m = r.Find(Method::kGet, Segs({"x", "special", "a"}));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "param-a");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].second, "special");
}

TEST(RouterTest, UnknownPathAndWrongMethod) {
  Router r;
  r.Add(Method::kGet, "/v1/api-keys", {}, Named("list"));
  r.Add(Method::kPost, "/v1/api-keys", {}, Named("create"));
  auto m = r.Find(Method::kGet, Segs({"v1", "nope"}));
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allow.empty());

  m = r.Find(Method::kPut, Segs({"v1", "api-keys"}));
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");

  // Empty segments never bind a parameter.
  r.Add(Method::kDelete, "/v1/api-keys/{id}", {}, Named("delete"));
  m = r.Find(Method::kDelete, Segs({"v1", "api-keys", ""}));
  EXPECT_EQ(m.route, nullptr);
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router r;
  r.Add(Method::kGet, "/healthz", {}, Named("health"));
  auto m = r.Find(Method::kHead, Segs({"healthz"}));
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(Call(m), "health");
}

TEST(RouterTest, RefusesDuplicatesAndBadPatterns) {
  Router r;
  r.Add(Method::kGet, "/a/{id}", {}, Named("a"));
  EXPECT_THROW(r.Add(Method::kGet, "/a/{id}", {}, Named("b")),
               std::invalid_argument);
  EXPECT_THROW(r.Add(Method::kGet, "/a/{other}/x", {}, Named("c")),
               std::invalid_argument);
  EXPECT_THROW(r.Add(Method::kGet, "no-slash", {}, Named("d")),
               std::invalid_argument);
}

TEST(ErrorMappingTest, EveryCodeHasItsStatus) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidRequest), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthorized), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kForbidden), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kMethodNotAllowed), 405);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNoProfileAvailable), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPreconditionFailed), 412);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnsupportedMediaType), 415);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kHeadersTooLarge), 431);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kRateLimited), 429);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
}

TEST(ErrorMappingTest, NativeBodyCarriesCodeFieldAndRequestId) {
  Response r =
      ErrorResponse(Status::InvalidRequest("temperature must be at most 1",
                                           "model.parameters.temperature"),
                    "req-1");
  EXPECT_EQ(r.status, 400);
  auto v = boost::json::parse(r.body);
  const auto& e = v.at("error");
  EXPECT_EQ(e.at("code").as_string(), "invalid_request");
  EXPECT_EQ(e.at("field").as_string(), "model.parameters.temperature");
  EXPECT_EQ(e.at("request_id").as_string(), "req-1");
  EXPECT_EQ(e.at("message").as_string(), "temperature must be at most 1");

  Response limited = ErrorResponse(Status::RateLimited("slow down", 3), "r");
  EXPECT_EQ(limited.status, 429);
  ASSERT_EQ(limited.headers.size(), 1u);
  EXPECT_EQ(limited.headers[0].first, "Retry-After");
  EXPECT_EQ(limited.headers[0].second, "3");
  EXPECT_FALSE(boost::json::parse(limited.body)
                   .at("error")
                   .as_object()
                   .contains("field"));
}

TEST(ErrorMappingTest, EachDialectHasItsShape) {
  const Status nf = Status::NotFound("agent agt_x not found");
  auto body = [](const Response& r) {
    return boost::json::parse(r.body).as_object();
  };
  Response asteroid = ErrorResponse(nf, "r1", Dialect::kAsteroid);
  EXPECT_EQ(asteroid.status, 404);
  EXPECT_EQ(boost::json::serialize(body(asteroid)),
            R"({"code":404,"message":"agent agt_x not found"})");
  Response odeus = ErrorResponse(nf, "r1", Dialect::kOdeus);
  EXPECT_EQ(
      boost::json::serialize(body(odeus)),
      R"({"status":"error","code":"not_found","message":"agent agt_x not found"})");
  Response vectara = ErrorResponse(nf, "r1", Dialect::kVectara);
  EXPECT_EQ(
      boost::json::serialize(body(vectara)),
      R"({"error_code":"agent_not_found","messages":["agent agt_x not found"],"request_id":"r1"})");
  Response limited = ErrorResponse(Status::RateLimited("slow down", 2), "r2",
                                   Dialect::kVectara);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(body(limited).at("error_code").as_string(), "rate_limit_exceeded");
  EXPECT_EQ(limited.headers[0].first, "Retry-After");
  Response forbidden =
      ErrorResponse(Status::Forbidden("no"), "r3", Dialect::kVectara);
  EXPECT_EQ(body(forbidden).at("error_code").as_string(), "forbidden");
  Response asteroid_limited = ErrorResponse(Status::RateLimited("slow down", 2),
                                            "r", Dialect::kAsteroid);
  EXPECT_EQ(body(asteroid_limited).at("code").as_int64(), 429);
}

TEST(OpenApiTest, DocumentIsOpenApi31AndListsEveryRoute) {
  auto doc = boost::json::parse(OpenApiDocument());
  EXPECT_EQ(doc.at("openapi").as_string(), "3.1.0");
  const auto& paths = doc.at("paths").as_object();
  for (const char* p : {"/healthz",
                        "/readyz",
                        "/metrics",
                        "/openapi.json",
                        "/v1/organizations",
                        "/v1/api-keys",
                        "/v1/api-keys/{id}",
                        "/v1/agents",
                        "/v1/agents/{id}",
                        "/v1/agents/{id}/publish",
                        "/v1/agents/{id}/render",
                        "/v1/tools",
                        "/v1/tools/{id}",
                        "/v1/instructions",
                        "/v1/instructions/{id}",
                        "/v1/instructions/{id}/versions",
                        "/v1/instructions/{id}/render",
                        "/v1/agent-profiles",
                        "/v1/agent-profiles/{id}",
                        "/v1/agent-profile-pools",
                        "/v1/agent-profile-pools/{id}",
                        "/v1/agent-profile-pools/{id}/profiles",
                        "/v1/agent-profile-pools/{id}/profiles/{profile_id}",
                        "/v1/agent-profile-pools/{id}/leases",
                        "/v1/leases/{id}",
                        "/v1/leases/{id}/renew"}) {
    EXPECT_TRUE(paths.contains(p)) << p;
  }
}

}  // namespace
}  // namespace agentry::http
