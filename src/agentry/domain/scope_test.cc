#include "agentry/domain/scope.h"

#include <gtest/gtest.h>

namespace agentry {
namespace {

TEST(ScopeTest, ParsesNamesStarAndAgentApi) {
  auto s = ScopeSet::Parse({"agents:read", "keys:write"}, "scopes");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Has(Scope::kAgentsRead));
  EXPECT_TRUE(s->Has(Scope::kKeysWrite));
  EXPECT_FALSE(s->Has(Scope::kAgentsWrite));

  auto star = ScopeSet::Parse({"*"}, "scopes");
  ASSERT_TRUE(star.ok());
  EXPECT_TRUE(star->Has(Scope::kProfilesSecrets));
  EXPECT_TRUE(star->Has(Scope::kAuditRead));
  EXPECT_FALSE(star->Has(Scope::kAdmin)) << "* is organization-wide only";

  auto odeus = ScopeSet::Parse({"AGENT_API"}, "scopes");
  ASSERT_TRUE(odeus.ok());
  EXPECT_TRUE(odeus->Has(Scope::kAgentsRead));
  EXPECT_TRUE(odeus->Has(Scope::kAgentsWrite));
  EXPECT_TRUE(odeus->Has(Scope::kAgentsPublish));
  EXPECT_FALSE(odeus->Has(Scope::kToolsRead));
}

TEST(ScopeTest, RefusesUnknownAndEmpty) {
  auto bad = ScopeSet::Parse({"agents:read", "agents:fly"}, "scopes");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(bad.status().field(), "scopes[1]");
  auto empty = ScopeSet::Parse({}, "scopes");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().field(), "scopes");
  // Scope names are case-sensitive.
  EXPECT_FALSE(ScopeSet::Parse({"AGENTS:READ"}, "scopes").ok());
}

TEST(ScopeTest, CoversMeansNoEscalation) {
  auto admin = *ScopeSet::Parse({"*", "admin"}, "s");
  auto star = *ScopeSet::Parse({"*"}, "s");
  auto some = *ScopeSet::Parse({"keys:write", "agents:read"}, "s");
  auto odeus = *ScopeSet::Parse({"AGENT_API"}, "s");
  EXPECT_TRUE(admin.Covers(star));
  EXPECT_FALSE(star.Covers(admin));
  EXPECT_TRUE(star.Covers(odeus));
  EXPECT_TRUE(star.Covers(some));
  EXPECT_FALSE(some.Covers(star));
  EXPECT_TRUE(some.Covers(*ScopeSet::Parse({"agents:read"}, "s")));
  EXPECT_FALSE(some.Covers(*ScopeSet::Parse({"agents:write"}, "s")));
  EXPECT_FALSE(odeus.Covers(some));
}

TEST(ScopeTest, NamesRoundTrip) {
  EXPECT_EQ(ScopeName(Scope::kProfilesSecrets), "profiles:secrets");
  EXPECT_EQ(ScopeName(Scope::kAdmin), "admin");
  auto s = ScopeSet::Parse({std::string(ScopeName(Scope::kLeasesWrite))}, "s");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Has(Scope::kLeasesWrite));
}

}  // namespace
}  // namespace agentry
