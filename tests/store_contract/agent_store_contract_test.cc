// The AgentStore contract (src/agentry/store/store.h), one typed suite run
// against every backend (backends.h). Configurations here are small JSON
// objects, not canonical ones: the store keeps whatever object it is given
// and reads only its "name" and "enabled".

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <initializer_list>
#include <latch>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/ids.h"
#include "agentry/domain/agent.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/store.h"
#include "backends.h"

namespace agentry {
namespace {

using store_contract::Backends;
using store_contract::kT0;
using store_contract::MakeKey;
using store_contract::SqliteBackend;
using store_contract::StoreTest;

// ---- helpers ----

boost::json::object Config(const std::string& name, bool enabled = true,
                           const std::string& description = "") {
  return boost::json::object{
      {"name", name}, {"description", description}, {"enabled", enabled}};
}

// A configuration with every kind of JSON value, to check the round trip.
boost::json::object RichConfig(const std::string& name) {
  boost::json::object config =
      Config(name, true, "ünïcödé \"quoted\" \\ 🤖");
  config["model"] = boost::json::object{
      {"name", "gpt-4"},
      {"parameters",
       boost::json::object{
           {"temperature", 0.1}, {"max_tokens", 1500}, {"top_p", 0.9}}}};
  config["conversation_starters"] = boost::json::array{"hi", "", "a\nb"};
  config["input_fields"] = boost::json::array{boost::json::object{
      {"slug", "topic"}, {"file_types", nullptr}, {"order", 0}}};
  config["metadata"] = boost::json::object{
      {"big", int64_t{9007199254740993}}, {"neg", -1.5e-7}, {"yes", true}};
  return config;
}

// Agent ids made here increase with every call, so creation order is id
// order.
AgentRecord MakeAgent(const std::string& organization_id,
                      const std::string& key, const std::string& name,
                      bool enabled = true) {
  AgentRecord a;
  a.created_at_ms = kT0 + 10;
  a.updated_at_ms = a.created_at_ms;
  a.id = NewUuidV7(a.created_at_ms);
  a.organization_id = organization_id;
  a.key = key;
  a.draft = Config(name, enabled);
  a.current_name = name;
  a.current_enabled = enabled;
  return a;
}

void ExpectSameAgent(const AgentRecord& want, const AgentRecord& got) {
  EXPECT_EQ(want.id, got.id);
  EXPECT_EQ(want.organization_id, got.organization_id);
  EXPECT_EQ(want.key, got.key);
  EXPECT_EQ(want.draft, got.draft);
  EXPECT_EQ(want.revision, got.revision);
  EXPECT_EQ(want.draft_revision, got.draft_revision);
  EXPECT_EQ(want.published_draft_revision, got.published_draft_revision);
  EXPECT_EQ(want.active_version, got.active_version);
  EXPECT_EQ(want.latest_version, got.latest_version);
  EXPECT_EQ(want.created_at_ms, got.created_at_ms);
  EXPECT_EQ(want.updated_at_ms, got.updated_at_ms);
  EXPECT_EQ(want.current_name, got.current_name);
  EXPECT_EQ(want.current_enabled, got.current_enabled);
}

void ExpectSameVersion(const AgentVersion& want, const AgentVersion& got) {
  EXPECT_EQ(want.agent_id, got.agent_id);
  EXPECT_EQ(want.version, got.version);
  EXPECT_EQ(want.config, got.config);
  EXPECT_EQ(want.note, got.note);
  EXPECT_EQ(want.published_at_ms, got.published_at_ms);
  EXPECT_EQ(want.published_by, got.published_by);
}

std::vector<std::string> Ids(const std::vector<AgentRecord>& agents) {
  std::vector<std::string> ids;
  for (const AgentRecord& a : agents) ids.push_back(a.id);
  return ids;
}

std::vector<int> Numbers(const std::vector<AgentVersionSummary>& versions) {
  std::vector<int> out;
  for (const AgentVersionSummary& v : versions) out.push_back(v.version);
  return out;
}

std::string Upper(std::string s) {
  for (char& ch : s) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return s;
}

// ---- fixture ----

template <class Backend>
class AgentStoreContractTest : public StoreTest<Backend> {
 protected:
  // Creates `agent` (no grant) and returns it as stored.
  AgentRecord Create(const AgentRecord& agent) {
    const Status st = this->agents().Create(agent, std::nullopt);
    EXPECT_TRUE(st.ok()) << st.ToString();
    Result<AgentRecord> got =
        this->agents().Get(agent.organization_id, agent.id);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : agent;
  }

  AgentRecord Head(const AgentRecord& agent) {
    Result<AgentRecord> got =
        this->agents().Get(agent.organization_id, agent.id);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : AgentRecord{};
  }

  // Publishes `config` as the next version of `agent` (no revision check).
  AgentVersion Publish(const AgentRecord& agent,
                       const boost::json::object& config,
                       const std::string& note, int64_t at_ms) {
    Result<AgentVersion> v =
        this->agents().Publish(agent.organization_id, agent.id, std::nullopt,
                               config, note, "key-publisher", at_ms);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : AgentVersion{};
  }

  // Every page of List(organization_id, filter) with `limit`, concatenated;
  // `sizes` receives each page's size.
  std::vector<AgentRecord> ListAll(const std::string& organization_id,
                                   const AgentListFilter& filter, size_t limit,
                                   std::vector<size_t>* sizes = nullptr) {
    std::vector<AgentRecord> seen;
    PageRequest req;
    req.limit = limit;
    for (int guard = 0; guard < 100; ++guard) {
      Result<Page<AgentRecord>> page =
          this->agents().List(organization_id, filter, req);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      if (sizes != nullptr) sizes->push_back(page->items.size());
      seen.insert(seen.end(), page->items.begin(), page->items.end());
      if (!page->has_more) break;
      EXPECT_FALSE(page->items.empty());
      if (page->items.empty()) break;
      req.after_id = page->items.back().id;
    }
    return seen;
  }
};

TYPED_TEST_SUITE(AgentStoreContractTest, Backends);

// ---- create and get ----

TYPED_TEST(AgentStoreContractTest, CreateAndGetByIdAndByKey) {
  const auto [org, admin] = this->CreateOrg("acme");
  AgentRecord agent = MakeAgent(org.id, "agt_support", "Support");
  agent.draft = RichConfig("Support");
  ASSERT_TRUE(this->agents().Create(agent, std::nullopt).ok());

  for (const std::string& id_or_key :
       {agent.id, Upper(agent.id), std::string("agt_support")}) {
    SCOPED_TRACE(id_or_key);
    Result<AgentRecord> got = this->agents().Get(org.id, id_or_key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ExpectSameAgent(agent, *got);
    EXPECT_EQ(got->revision, 1);
    EXPECT_EQ(got->draft_revision, 1);
    EXPECT_EQ(got->published_draft_revision, 0);
    EXPECT_FALSE(got->active_version.has_value());
    EXPECT_EQ(got->latest_version, 0);
    EXPECT_TRUE(got->has_unpublished_changes());
  }

  EXPECT_EQ(this->agents().Get(org.id, NewUuidV7(kT0)).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->agents().Get(org.id, "agt_nobody").status().code(),
            ErrorCode::kNotFound);
  // A key is never matched against ids, nor an id against keys.
  EXPECT_EQ(this->agents().Get(org.id, "Support").status().code(),
            ErrorCode::kNotFound);
}

TYPED_TEST(AgentStoreContractTest, CreateStartsANeverPublishedHead) {
  const auto [org, admin] = this->CreateOrg("acme");
  AgentRecord agent = MakeAgent(org.id, "agt_fresh", "Fresh", false);
  // Whatever the record says, a new head starts at revision 1, unpublished.
  agent.revision = 7;
  agent.draft_revision = 5;
  agent.published_draft_revision = 3;
  agent.active_version = 2;
  agent.latest_version = 2;
  ASSERT_TRUE(this->agents().Create(agent, std::nullopt).ok());
  Result<AgentRecord> got = this->agents().Get(org.id, agent.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->revision, 1);
  EXPECT_EQ(got->draft_revision, 1);
  EXPECT_EQ(got->published_draft_revision, 0);
  EXPECT_FALSE(got->active_version.has_value());
  EXPECT_EQ(got->latest_version, 0);
  EXPECT_EQ(got->current_name, "Fresh");
  EXPECT_FALSE(got->current_enabled);
  EXPECT_EQ(this->agents().GetVersion(org.id, agent.id, 1).status().code(),
            ErrorCode::kNotFound);
}

TYPED_TEST(AgentStoreContractTest, DuplicateKeyConflictsAndWritesNothing) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord first =
      this->Create(MakeAgent(org.id, "agt_same", "First"));
  const AgentRecord second = MakeAgent(org.id, "agt_same", "Second");
  const Status st = this->agents().Create(second, std::nullopt);
  EXPECT_EQ(st.code(), ErrorCode::kConflict) << st.ToString();
  EXPECT_EQ(st.field(), "key");
  EXPECT_EQ(this->agents().Get(org.id, second.id).status().code(),
            ErrorCode::kNotFound);
  Result<AgentRecord> got = this->agents().Get(org.id, "agt_same");
  ASSERT_TRUE(got.ok());
  ExpectSameAgent(first, *got);

  // The same id again conflicts too.
  AgentRecord same_id = MakeAgent(org.id, "agt_other", "Other");
  same_id.id = first.id;
  EXPECT_EQ(this->agents().Create(same_id, std::nullopt).code(),
            ErrorCode::kConflict);
  EXPECT_EQ(this->agents().Get(org.id, "agt_other").status().code(),
            ErrorCode::kNotFound);
}

TYPED_TEST(AgentStoreContractTest, SameKeyInTwoOrganizations) {
  const auto [a, a_admin] = this->CreateOrg("alpha");
  const auto [b, b_admin] = this->CreateOrg("beta");
  const AgentRecord in_a = this->Create(MakeAgent(a.id, "agt_same", "A"));
  const AgentRecord in_b = this->Create(MakeAgent(b.id, "agt_same", "B"));
  Result<AgentRecord> got = this->agents().Get(a.id, "agt_same");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, in_a.id);
  EXPECT_EQ(got->current_name, "A");
  got = this->agents().Get(b.id, "agt_same");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, in_b.id);
  EXPECT_EQ(got->current_name, "B");
}

TYPED_TEST(AgentStoreContractTest, AnotherOrganizationsAgentIsNotFound) {
  const auto [a, a_admin] = this->CreateOrg("alpha");
  const auto [b, b_admin] = this->CreateOrg("beta");
  const AgentRecord agent = this->Create(MakeAgent(a.id, "agt_a", "A"));
  this->Publish(agent, Config("A"), "first", kT0 + 20);
  const AgentRecord before = this->Head(agent);
  AgentStore& agents = this->agents();

  for (const std::string& id_or_key : {agent.id, agent.key}) {
    SCOPED_TRACE(id_or_key);
    EXPECT_EQ(agents.Get(b.id, id_or_key).status().code(),
              ErrorCode::kNotFound);
    EXPECT_EQ(agents.GetVersion(b.id, id_or_key, 1).status().code(),
              ErrorCode::kNotFound);
    EXPECT_EQ(
        agents.ListVersions(b.id, id_or_key, std::nullopt, 10).status().code(),
        ErrorCode::kNotFound);
  }
  for (const std::optional<int64_t> expected :
       {std::optional<int64_t>(), std::optional<int64_t>(before.revision)}) {
    EXPECT_EQ(agents
                  .UpdateDraft(b.id, agent.id, expected, Config("hijacked"),
                               "hijacked", false, kT0 + 30)
                  .status()
                  .code(),
              ErrorCode::kNotFound);
    EXPECT_EQ(agents
                  .Publish(b.id, agent.id, expected, Config("hijacked"), "",
                           b_admin.id, kT0 + 30)
                  .status()
                  .code(),
              ErrorCode::kNotFound);
    EXPECT_EQ(agents.Activate(b.id, agent.id, 1, expected, b_admin.id, kT0 + 30)
                  .status()
                  .code(),
              ErrorCode::kNotFound);
    EXPECT_EQ(agents.Delete(b.id, agent.id, expected).code(),
              ErrorCode::kNotFound);
  }
  AgentListFilter only;
  only.only_ids = std::vector<std::string>{agent.id};
  for (const AgentListFilter& filter : {AgentListFilter{}, only}) {
    Result<Page<AgentRecord>> page = agents.List(b.id, filter, PageRequest{});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_TRUE(page->items.empty());
    EXPECT_FALSE(page->has_more);
  }

  // Nothing changed for the owner.
  ExpectSameAgent(before, this->Head(agent));
  Result<Page<AgentVersionSummary>> versions =
      agents.ListVersions(a.id, agent.id, std::nullopt, 10);
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(Numbers(versions->items), std::vector<int>{1});
}

// ---- drafts ----

TYPED_TEST(AgentStoreContractTest, UpdateDraftGrowsRevisions) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord agent = this->Create(MakeAgent(org.id, "agt_d", "Draft"));

  Result<AgentRecord> updated = this->agents().UpdateDraft(
      org.id, agent.id, std::nullopt, RichConfig("Renamed"), "Renamed", false,
      kT0 + 100);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  AgentRecord want = agent;
  want.draft = RichConfig("Renamed");
  want.revision = 2;
  want.draft_revision = 2;
  want.current_name = "Renamed";
  want.current_enabled = false;
  want.updated_at_ms = kT0 + 100;
  ExpectSameAgent(want, *updated);
  ExpectSameAgent(want, this->Head(agent));

  // With the right expected revision.
  updated = this->agents().UpdateDraft(
      org.id, agent.id, int64_t{2}, Config("Third"), "Third", true, kT0 + 200);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  want.draft = Config("Third");
  want.revision = 3;
  want.draft_revision = 3;
  want.current_name = "Third";
  want.current_enabled = true;
  want.updated_at_ms = kT0 + 200;
  ExpectSameAgent(want, *updated);

  // A stale or future expected revision fails and changes nothing.
  for (const int64_t stale : {int64_t{2}, int64_t{4}, int64_t{0}}) {
    updated = this->agents().UpdateDraft(
        org.id, agent.id, stale, Config("Lost"), "Lost", false, kT0 + 300);
    EXPECT_EQ(updated.status().code(), ErrorCode::kPreconditionFailed) << stale;
  }
  ExpectSameAgent(want, this->Head(agent));

  // An unknown agent.
  EXPECT_EQ(this->agents()
                .UpdateDraft(org.id, NewUuidV7(kT0), std::nullopt, Config("x"),
                             "x", true, kT0)
                .status()
                .code(),
            ErrorCode::kNotFound);
}

// ---- publishing ----

TYPED_TEST(AgentStoreContractTest, PublishMakesImmutableVersions) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord agent = this->Create(MakeAgent(org.id, "agt_p", "Draft"));

  Result<AgentVersion> v1 =
      this->agents().Publish(org.id, agent.id, int64_t{1}, RichConfig("One"),
                             "first release", admin.id, kT0 + 100);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->agent_id, agent.id);
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->config, RichConfig("One"));
  EXPECT_EQ(v1->note, "first release");
  EXPECT_EQ(v1->published_at_ms, kT0 + 100);
  EXPECT_EQ(v1->published_by, admin.id);

  AgentRecord head = this->Head(agent);
  EXPECT_EQ(head.revision, 2);
  EXPECT_EQ(head.draft_revision, 1);
  EXPECT_EQ(head.published_draft_revision, 1);
  EXPECT_EQ(head.active_version, std::optional<int>(1));
  EXPECT_EQ(head.latest_version, 1);
  EXPECT_FALSE(head.has_unpublished_changes());
  EXPECT_EQ(head.current_name, "One");  // from the published config
  EXPECT_EQ(head.updated_at_ms, kT0 + 100);
  EXPECT_EQ(head.created_at_ms, agent.created_at_ms);
  EXPECT_EQ(head.draft, agent.draft);  // publishing leaves the draft alone

  // Editing the draft shows unpublished changes and leaves version 1 alone.
  Result<AgentRecord> edited =
      this->agents().UpdateDraft(org.id, agent.id, head.revision,
                                 Config("Two", false), "One", true, kT0 + 200);
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  EXPECT_TRUE(edited->has_unpublished_changes());
  EXPECT_EQ(edited->revision, 3);
  EXPECT_EQ(edited->draft_revision, 2);
  EXPECT_EQ(edited->published_draft_revision, 1);
  EXPECT_EQ(edited->active_version, std::optional<int>(1));

  Result<AgentVersion> v2 =
      this->agents().Publish(org.id, agent.id, std::nullopt,
                             Config("Two", false), "", admin.id, kT0 + 300);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2);
  head = this->Head(agent);
  EXPECT_EQ(head.revision, 4);
  EXPECT_EQ(head.published_draft_revision, 2);
  EXPECT_FALSE(head.has_unpublished_changes());
  EXPECT_EQ(head.active_version, std::optional<int>(2));
  EXPECT_EQ(head.latest_version, 2);
  EXPECT_EQ(head.current_name, "Two");
  EXPECT_FALSE(head.current_enabled);

  // Publishing again without a draft change still makes a new version.
  const AgentVersion v3 =
      this->Publish(agent, Config("Two", false), "again", kT0 + 400);
  EXPECT_EQ(v3.version, 3);

  // A stale expected revision publishes nothing.
  Result<AgentVersion> stale = this->agents().Publish(
      org.id, agent.id, int64_t{4}, Config("Four"), "", admin.id, kT0 + 500);
  EXPECT_EQ(stale.status().code(), ErrorCode::kPreconditionFailed);
  head = this->Head(agent);
  EXPECT_EQ(head.latest_version, 3);
  EXPECT_EQ(head.revision, 5);
  EXPECT_EQ(this->agents().GetVersion(org.id, agent.id, 4).status().code(),
            ErrorCode::kNotFound);

  // Every version is as published.
  for (const AgentVersion* want :
       std::initializer_list<const AgentVersion*>{&*v1, &*v2, &v3}) {
    Result<AgentVersion> got =
        this->agents().GetVersion(org.id, agent.id, want->version);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ExpectSameVersion(*want, *got);
    got = this->agents().GetVersion(org.id, agent.key, want->version);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ExpectSameVersion(*want, *got);
  }
  EXPECT_EQ(this->agents().GetVersion(org.id, agent.id, 0).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(
      this->agents().GetVersion(org.id, NewUuidV7(kT0), 1).status().code(),
      ErrorCode::kNotFound);
  EXPECT_EQ(this->agents()
                .Publish(org.id, NewUuidV7(kT0), std::nullopt, Config("x"), "",
                         admin.id, kT0)
                .status()
                .code(),
            ErrorCode::kNotFound);
}

TYPED_TEST(AgentStoreContractTest, ActivateRollsBackAndForward) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord agent = this->Create(MakeAgent(org.id, "agt_r", "Draft"));
  this->Publish(agent, Config("One"), "", kT0 + 100);
  this->Publish(agent, Config("Two", false), "", kT0 + 200);
  this->Publish(agent, Config("Three"), "", kT0 + 300);
  AgentRecord head = this->Head(agent);
  ASSERT_EQ(head.revision, 4);

  Result<AgentRecord> back = this->agents().Activate(
      org.id, agent.id, 2, int64_t{4}, admin.id, kT0 + 400);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  AgentRecord want = head;
  want.active_version = 2;
  want.revision = 5;
  want.current_name = "Two";
  want.current_enabled = false;
  want.updated_at_ms = kT0 + 400;
  ExpectSameAgent(want, *back);
  ExpectSameAgent(want, this->Head(agent));

  // The list filters follow the active version.
  AgentListFilter disabled;
  disabled.enabled = false;
  EXPECT_EQ(Ids(this->ListAll(org.id, disabled, 10)),
            std::vector<std::string>{agent.id});

  back = this->agents().Activate(org.id, agent.key, 1, std::nullopt, admin.id,
                                 kT0 + 500);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->active_version, std::optional<int>(1));
  EXPECT_EQ(back->current_name, "One");
  EXPECT_TRUE(back->current_enabled);
  EXPECT_EQ(back->revision, 6);

  Result<AgentRecord> forward = this->agents().Activate(
      org.id, agent.id, 3, std::nullopt, admin.id, kT0 + 600);
  ASSERT_TRUE(forward.ok()) << forward.status().ToString();
  EXPECT_EQ(forward->active_version, std::optional<int>(3));
  EXPECT_EQ(forward->latest_version, 3);
  EXPECT_EQ(forward->current_name, "Three");
  EXPECT_EQ(forward->revision, 7);
  EXPECT_EQ(forward->draft, agent.draft);
  want = *forward;

  // Unknown versions, a stale revision: nothing changes.
  for (const int missing : {0, 4, -1}) {
    EXPECT_EQ(this->agents()
                  .Activate(org.id, agent.id, missing, std::nullopt, admin.id,
                            kT0 + 700)
                  .status()
                  .code(),
              ErrorCode::kNotFound)
        << missing;
  }
  EXPECT_EQ(this->agents()
                .Activate(org.id, agent.id, 1, int64_t{6}, admin.id, kT0 + 700)
                .status()
                .code(),
            ErrorCode::kPreconditionFailed);
  EXPECT_EQ(this->agents()
                .Activate(org.id, NewUuidV7(kT0), 1, std::nullopt, admin.id,
                          kT0 + 700)
                .status()
                .code(),
            ErrorCode::kNotFound);
  ExpectSameAgent(want, this->Head(agent));
}

TYPED_TEST(AgentStoreContractTest, ListVersionsPagesNewestFirst) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord agent = this->Create(MakeAgent(org.id, "agt_v", "V"));

  // Never published: an empty page.
  Result<Page<AgentVersionSummary>> page =
      this->agents().ListVersions(org.id, agent.id, std::nullopt, 10);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(page->has_more);

  for (int i = 1; i <= 5; ++i) {
    this->Publish(agent, Config("V" + std::to_string(i)),
                  "note " + std::to_string(i), kT0 + 100 * i);
  }

  std::vector<int> seen;
  std::vector<bool> more;
  std::optional<int> before;
  for (int guard = 0; guard < 10; ++guard) {
    page = this->agents().ListVersions(org.id, agent.id, before, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const AgentVersionSummary& s : page->items) {
      seen.push_back(s.version);
      EXPECT_EQ(s.note, "note " + std::to_string(s.version));
      EXPECT_EQ(s.published_at_ms, kT0 + 100 * s.version);
      EXPECT_EQ(s.published_by, "key-publisher");
    }
    more.push_back(page->has_more);
    if (!page->has_more) break;
    before = page->items.back().version;
  }
  EXPECT_EQ(seen, (std::vector<int>{5, 4, 3, 2, 1}));
  EXPECT_EQ(more, (std::vector<bool>{true, true, false}));

  // Boundaries.
  page = this->agents().ListVersions(org.id, agent.key, std::nullopt, 5);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Numbers(page->items), (std::vector<int>{5, 4, 3, 2, 1}));
  EXPECT_FALSE(page->has_more);
  page = this->agents().ListVersions(org.id, agent.id, std::nullopt, 4);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Numbers(page->items), (std::vector<int>{5, 4, 3, 2}));
  EXPECT_TRUE(page->has_more);
  page = this->agents().ListVersions(org.id, agent.id, 4, 200);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Numbers(page->items), (std::vector<int>{3, 2, 1}));
  EXPECT_FALSE(page->has_more);
  page = this->agents().ListVersions(org.id, agent.id, 1, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(page->has_more);
  page = this->agents().ListVersions(org.id, agent.id, 99, 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Numbers(page->items), std::vector<int>{5});
  EXPECT_TRUE(page->has_more);

  for (const size_t bad : {size_t{0}, size_t{201}}) {
    EXPECT_EQ(this->agents()
                  .ListVersions(org.id, agent.id, std::nullopt, bad)
                  .status()
                  .code(),
              ErrorCode::kInvalidRequest);
  }
  EXPECT_EQ(this->agents()
                .ListVersions(org.id, NewUuidV7(kT0), std::nullopt, 10)
                .status()
                .code(),
            ErrorCode::kNotFound);
}

TYPED_TEST(AgentStoreContractTest, ConcurrentPublishesGetDistinctVersions) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord agent = this->Create(MakeAgent(org.id, "agt_c", "C"));
  constexpr int kThreads = 8;
  std::vector<int> versions(kThreads, 0);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      Result<AgentVersion> v = this->agents().Publish(
          org.id, agent.id, std::nullopt, Config("T" + std::to_string(t)), "",
          admin.id, kT0 + t);
      if (v.ok()) versions[t] = v->version;
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<int> sorted = versions;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  const AgentRecord head = this->Head(agent);
  EXPECT_EQ(head.latest_version, kThreads);
  EXPECT_EQ(head.revision, 1 + kThreads);
  for (int t = 0; t < kThreads; ++t) {
    Result<AgentVersion> v =
        this->agents().GetVersion(org.id, agent.id, versions[t]);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->config, Config("T" + std::to_string(t)));
  }
}

// ---- listing ----

TYPED_TEST(AgentStoreContractTest, ListPagesByIdWithFilters) {
  const auto [org, admin] = this->CreateOrg("acme");
  const auto [other, other_admin] = this->CreateOrg("other");
  struct Spec {
    const char* key;
    const char* name;
    bool enabled;
  };
  const Spec specs[] = {
      {"agt_0", "Support Bot", true},  {"agt_1", "support desk", false},
      {"agt_2", "Sales", true},        {"agt_3", "100% Sure", true},
      {"agt_4", "under_score", false}, {"agt_5", "underXscore", true},
      {"agt_6", "Plain", true},
  };
  std::vector<AgentRecord> made;
  for (const Spec& s : specs) {
    made.push_back(this->Create(MakeAgent(org.id, s.key, s.name, s.enabled)));
  }
  // Noise in another organization, matching every filter.
  const AgentRecord noise =
      this->Create(MakeAgent(other.id, "agt_0", "Support 100% under_score"));
  auto ids_of = [&](std::initializer_list<int> which) {
    std::vector<std::string> ids;
    for (int i : which) ids.push_back(made[i].id);
    return ids;
  };

  // Every agent, three at a time, by id ascending, each once.
  std::vector<size_t> sizes;
  const std::vector<AgentRecord> all =
      this->ListAll(org.id, AgentListFilter{}, 3, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(Ids(all), ids_of({0, 1, 2, 3, 4, 5, 6}));
  for (size_t i = 0; i < all.size() && i < made.size(); ++i) {
    ExpectSameAgent(made[i], all[i]);
  }

  // Boundaries: a limit equal to the count has no more; one less has; after
  // the last id, an empty page; a limit out of range is refused.
  PageRequest req;
  req.limit = 7;
  Result<Page<AgentRecord>> page =
      this->agents().List(org.id, AgentListFilter{}, req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 7u);
  EXPECT_FALSE(page->has_more);
  req.limit = 6;
  page = this->agents().List(org.id, AgentListFilter{}, req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 6u);
  EXPECT_TRUE(page->has_more);
  req.after_id = made.back().id;
  page = this->agents().List(org.id, AgentListFilter{}, req);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(page->has_more);
  for (const size_t bad : {size_t{0}, size_t{201}}) {
    req = PageRequest{};
    req.limit = bad;
    EXPECT_EQ(
        this->agents().List(org.id, AgentListFilter{}, req).status().code(),
        ErrorCode::kInvalidRequest);
  }

  // Name: a case-insensitive substring, taken literally.
  const auto by_name = [&](const std::string& needle) {
    AgentListFilter f;
    f.name_contains = needle;
    return Ids(this->ListAll(org.id, f, 2));
  };
  EXPECT_EQ(by_name("SUPPORT"), ids_of({0, 1}));
  EXPECT_EQ(by_name("t D"), ids_of({1}));
  EXPECT_EQ(by_name("%"), ids_of({3}));
  EXPECT_EQ(by_name("0%"), ids_of({3}));
  EXPECT_EQ(by_name("_"), ids_of({4}));
  EXPECT_EQ(by_name("r_s"), ids_of({4}));
  EXPECT_EQ(by_name("S"), ids_of({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(by_name("\\"), std::vector<std::string>{});
  EXPECT_EQ(by_name("nothing like it"), std::vector<std::string>{});

  // Enabled.
  AgentListFilter enabled;
  enabled.enabled = true;
  EXPECT_EQ(Ids(this->ListAll(org.id, enabled, 2)), ids_of({0, 2, 3, 5, 6}));
  enabled.enabled = false;
  EXPECT_EQ(Ids(this->ListAll(org.id, enabled, 1)), ids_of({1, 4}));

  // Only some ids: unknown ids and another organization's are ignored.
  AgentListFilter only;
  only.only_ids = std::vector<std::string>{
      made[5].id,     noise.id,   made[1].id,
      NewUuidV7(kT0), made[3].id, "'); DROP TABLE agents; --"};
  EXPECT_EQ(Ids(this->ListAll(org.id, only, 2)), ids_of({1, 3, 5}));
  only.only_ids->clear();
  EXPECT_EQ(Ids(this->ListAll(org.id, only, 2)), std::vector<std::string>{});
  // Many ids at once.
  only.only_ids = std::vector<std::string>{};
  for (int i = 0; i < 5000; ++i) only.only_ids->push_back(NewUuidV7(kT0));
  only.only_ids->push_back(made[6].id);
  only.only_ids->push_back(made[0].id);
  EXPECT_EQ(Ids(this->ListAll(org.id, only, 200)), ids_of({0, 6}));

  // Filters combine.
  AgentListFilter combined;
  combined.name_contains = "u";
  combined.enabled = true;
  combined.only_ids = std::vector<std::string>{
      made[0].id, made[1].id, made[3].id, made[4].id, made[6].id};
  EXPECT_EQ(Ids(this->ListAll(org.id, combined, 1)), ids_of({0, 3}));

  // The other organization sees only its own.
  EXPECT_EQ(Ids(this->ListAll(other.id, AgentListFilter{}, 10)),
            std::vector<std::string>{noise.id});
}

// ---- deletion ----

TYPED_TEST(AgentStoreContractTest, DeleteRemovesTheAgentAndItsVersions) {
  const auto [org, admin] = this->CreateOrg("acme");
  const AgentRecord agent = this->Create(MakeAgent(org.id, "agt_del", "Del"));
  const AgentRecord keep = this->Create(MakeAgent(org.id, "agt_keep", "Keep"));
  this->Publish(agent, Config("One"), "", kT0 + 100);
  this->Publish(agent, Config("Two"), "", kT0 + 200);
  this->Publish(keep, Config("Keep"), "", kT0 + 300);

  // A stale revision deletes nothing.
  EXPECT_EQ(this->agents().Delete(org.id, agent.id, int64_t{1}).code(),
            ErrorCode::kPreconditionFailed);
  ASSERT_TRUE(this->agents().Get(org.id, agent.id).ok());

  const Status deleted = this->agents().Delete(org.id, agent.id, int64_t{3});
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_EQ(this->agents().Get(org.id, agent.id).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->agents().Get(org.id, "agt_del").status().code(),
            ErrorCode::kNotFound);
  for (int v : {1, 2}) {
    EXPECT_EQ(this->agents().GetVersion(org.id, agent.id, v).status().code(),
              ErrorCode::kNotFound);
  }
  EXPECT_EQ(this->agents()
                .ListVersions(org.id, agent.id, std::nullopt, 10)
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->agents().Delete(org.id, agent.id, std::nullopt).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(Ids(this->ListAll(org.id, AgentListFilter{}, 10)),
            std::vector<std::string>{keep.id});
  EXPECT_TRUE(this->agents().GetVersion(org.id, keep.id, 1).ok());

  // The key is free again, for a new agent with no versions.
  const AgentRecord again = this->Create(MakeAgent(org.id, "agt_del", "Again"));
  EXPECT_EQ(again.latest_version, 0);
  EXPECT_EQ(this->agents().GetVersion(org.id, "agt_del", 1).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->Publish(again, Config("Again"), "", kT0 + 400).version, 1);

  // By key, without a revision check.
  ASSERT_TRUE(this->agents().Delete(org.id, "agt_del", std::nullopt).ok());
  EXPECT_EQ(this->agents().Get(org.id, again.id).status().code(),
            ErrorCode::kNotFound);
}

// ---- grants ----

TYPED_TEST(AgentStoreContractTest, CreateGrantsTheAgentToALimitedKey) {
  const auto [org, admin] = this->CreateOrg("acme");
  const auto [other, other_admin] = this->CreateOrg("other");
  const std::string earlier = NewUuidV7(kT0);
  ApiKey limited = MakeKey(org.id, "limited");
  limited.agent_ids = std::vector<std::string>{earlier};
  ApiKey none = MakeKey(org.id, "none yet");
  none.agent_ids = std::vector<std::string>{};
  const ApiKey all = MakeKey(org.id, "all agents");  // agent_ids NULL
  for (const ApiKey* k :
       std::initializer_list<const ApiKey*>{&limited, &none, &all}) {
    ASSERT_TRUE(this->keys().Create(*k).ok());
  }

  const AgentRecord a1 = MakeAgent(org.id, "agt_g1", "G1");
  ASSERT_TRUE(this->agents().Create(a1, limited.id).ok());
  const AgentRecord a2 = MakeAgent(org.id, "agt_g2", "G2");
  ASSERT_TRUE(this->agents().Create(a2, limited.id).ok());
  Result<ApiKey> got = this->keys().Get(org.id, limited.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->agent_ids,
            (std::optional<std::vector<std::string>>(
                std::vector<std::string>{earlier, a1.id, a2.id})));

  const AgentRecord a3 = MakeAgent(org.id, "agt_g3", "G3");
  ASSERT_TRUE(this->agents().Create(a3, none.id).ok());
  got = this->keys().Get(org.id, none.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->agent_ids, (std::optional<std::vector<std::string>>(
                                std::vector<std::string>{a3.id})));

  const AgentRecord a4 = MakeAgent(org.id, "agt_g4", "G4");
  ASSERT_TRUE(this->agents().Create(a4, all.id).ok());
  got = this->keys().Get(org.id, all.id);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->agent_ids.has_value());  // still every agent

  // An unknown key, or another organization's: nothing is created.
  const AgentRecord a5 = MakeAgent(org.id, "agt_g5", "G5");
  EXPECT_EQ(this->agents().Create(a5, NewUuidV7(kT0)).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->agents().Create(a5, other_admin.id).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->agents().Get(org.id, a5.id).status().code(),
            ErrorCode::kNotFound);
  Result<ApiKey> other_key = this->keys().Get(other.id, other_admin.id);
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE(other_key->agent_ids.has_value());

  // A conflicting create grants nothing.
  const AgentRecord dup = MakeAgent(org.id, "agt_g1", "Dup");
  EXPECT_EQ(this->agents().Create(dup, limited.id).code(),
            ErrorCode::kConflict);
  got = this->keys().Get(org.id, limited.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->agent_ids->size(), 3u);

  // The authentication index sees the grants too.
  Result<std::vector<ApiKey>> active = this->keys().ListActive();
  ASSERT_TRUE(active.ok());
  for (const ApiKey& k : *active) {
    if (k.id == limited.id) {
      EXPECT_EQ(k.agent_ids->back(), a2.id);
    }
  }
}

// ---- durability ----

TYPED_TEST(AgentStoreContractTest, EverythingSurvivesReopen) {
  const auto [org, admin] = this->CreateOrg("acme");
  ApiKey limited = MakeKey(org.id, "limited");
  limited.agent_ids = std::vector<std::string>{};
  ASSERT_TRUE(this->keys().Create(limited).ok());
  AgentRecord agent = MakeAgent(org.id, "agt_durable", "Durable");
  agent.draft = RichConfig("Durable");
  ASSERT_TRUE(this->agents().Create(agent, limited.id).ok());
  const AgentVersion v1 =
      this->Publish(agent, RichConfig("V1"), "one", kT0 + 100);
  ASSERT_TRUE(this->agents()
                  .UpdateDraft(org.id, agent.id, std::nullopt,
                               Config("Edited", false), "V1", true, kT0 + 150)
                  .ok());
  const AgentVersion v2 =
      this->Publish(agent, Config("Edited", false), "two", kT0 + 200);
  ASSERT_TRUE(
      this->agents()
          .Activate(org.id, agent.id, 1, std::nullopt, admin.id, kT0 + 300)
          .ok());
  const AgentRecord gone = this->Create(MakeAgent(org.id, "agt_gone", "Gone"));
  ASSERT_TRUE(this->agents().Delete(org.id, gone.id, std::nullopt).ok());
  const AgentRecord before = this->Head(agent);
  EXPECT_EQ(before.revision, 5);

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    this->Reopen();
    ExpectSameAgent(before, this->Head(agent));
    for (const AgentVersion* want : {&v1, &v2}) {
      Result<AgentVersion> got =
          this->agents().GetVersion(org.id, agent.id, want->version);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ExpectSameVersion(*want, *got);
    }
    EXPECT_EQ(Ids(this->ListAll(org.id, AgentListFilter{}, 10)),
              std::vector<std::string>{agent.id});
    EXPECT_EQ(this->agents().Get(org.id, gone.id).status().code(),
              ErrorCode::kNotFound);
    Result<ApiKey> key = this->keys().Get(org.id, limited.id);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->agent_ids, (std::optional<std::vector<std::string>>(
                                  std::vector<std::string>{agent.id})));
    // Uniqueness still holds.
    EXPECT_EQ(this->agents()
                  .Create(MakeAgent(org.id, "agt_durable", "x"), std::nullopt)
                  .code(),
              ErrorCode::kConflict);
  }
}

// ---- concurrency ----

TYPED_TEST(AgentStoreContractTest, ConcurrentReadModifyWriteLosesNoUpdate) {
  const auto [org, admin] = this->CreateOrg("acme");
  AgentRecord agent = MakeAgent(org.id, "agt_counter", "Counter");
  agent.draft["count"] = 0;
  agent.draft["log"] = boost::json::array{};
  ASSERT_TRUE(this->agents().Create(agent, std::nullopt).ok());

  constexpr int kThreads = 16;
  constexpr int kPerThread = 5;
  std::atomic<int> failures{0};
  std::atomic<int> retries{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        for (int attempt = 0;; ++attempt) {
          if (attempt > 10000) {
            ++failures;
            break;
          }
          Result<AgentRecord> head = this->agents().Get(org.id, agent.id);
          if (!head.ok()) {
            ++failures;
            break;
          }
          boost::json::object draft = head->draft;
          draft["count"] = draft["count"].as_int64() + 1;
          draft["log"].as_array().emplace_back(std::to_string(t) + "/" +
                                               std::to_string(i));
          Result<AgentRecord> updated =
              this->agents().UpdateDraft(org.id, agent.id, head->revision,
                                         draft, "Counter", true, kT0 + 1000);
          if (updated.ok()) break;
          if (updated.status().code() != ErrorCode::kPreconditionFailed) {
            ++failures;
            break;
          }
          ++retries;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  const AgentRecord head = this->Head(agent);
  constexpr int kTotal = kThreads * kPerThread;
  EXPECT_EQ(head.revision, 1 + kTotal);
  EXPECT_EQ(head.draft_revision, 1 + kTotal);
  EXPECT_EQ(head.draft.at("count").as_int64(), kTotal);
  std::set<std::string> log;
  for (const boost::json::value& v : head.draft.at("log").as_array()) {
    log.insert(std::string(v.as_string()));
  }
  EXPECT_EQ(log.size(), static_cast<size_t>(kTotal));
}

// ---- SQLite specifics ----

TEST(SqliteAgentStoreTest, DeleteLeavesNoVersionRowsAndVersionsCascade) {
  ASSERT_TRUE(InitCrypto());
  SqliteBackend backend;
  const Organization org = store_contract::MakeOrg("acme");
  std::string deleted_id;
  std::string cascaded_id;
  {
    Result<std::unique_ptr<Store>> store = OpenStore(backend.url());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(
        (*store)->organizations().Create(org, MakeKey(org.id, "admin")).ok());
    AgentStore& agents = (*store)->agents();
    for (const char* key : {"agt_a", "agt_b"}) {
      const AgentRecord a = MakeAgent(org.id, key, key);
      ASSERT_TRUE(agents.Create(a, std::nullopt).ok());
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(
            agents
                .Publish(org.id, a.id, std::nullopt, Config(key), "", "k", kT0)
                .ok());
      }
      (deleted_id.empty() ? deleted_id : cascaded_id) = a.id;
    }
    ASSERT_TRUE(agents.Delete(org.id, deleted_id, std::nullopt).ok());
  }
  Result<std::unique_ptr<SqliteConnection>> conn =
      SqliteConnection::Open(backend.path());
  ASSERT_TRUE(conn.ok());
  const auto count_versions = [&](const std::string& agent_id) -> int64_t {
    Result<SqliteStatement> stmt = (*conn)->Prepare(
        "SELECT COUNT(*) FROM agent_versions WHERE agent_id = ?");
    EXPECT_TRUE(stmt.ok());
    if (!stmt.ok()) return -1;
    stmt->BindAll(agent_id);
    Result<bool> row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row);
    return stmt->Int64(0);
  };
  EXPECT_EQ(count_versions(deleted_id), 0);
  EXPECT_EQ(count_versions(cascaded_id), 3);
  // The schema itself cascades: deleting the head row removes its versions.
  ASSERT_TRUE((*conn)->Exec("PRAGMA foreign_keys=ON").ok());
  Result<SqliteStatement> del =
      (*conn)->Prepare("DELETE FROM agents WHERE id = ?");
  ASSERT_TRUE(del.ok());
  del->BindAll(cascaded_id);
  ASSERT_TRUE(del->Run().ok());
  EXPECT_EQ(count_versions(cascaded_id), 0);
}

}  // namespace
}  // namespace agentry

namespace agentry::store_contract {
namespace {

// Publish and activate record who and when (SQLite-only: read the table).
TEST(SqliteAgentAuditTest, PublishAndActivateAreRecorded) {
  InitCrypto();
  SqliteBackend backend;
  auto store = OpenStore(backend.url());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Organization org = MakeOrg("audit-org");
  ASSERT_TRUE(
      (*store)->organizations().Create(org, MakeKey(org.id, "admin")).ok());
  AgentRecord a;
  a.id = "01900000-0000-7000-8000-00000000a0d1";
  a.organization_id = org.id;
  a.key = "agt_audit";
  a.draft = boost::json::object{{"name", "A"}, {"enabled", true}};
  a.current_name = "A";
  a.created_at_ms = a.updated_at_ms = kT0;
  ASSERT_TRUE((*store)->agents().Create(a, std::nullopt).ok());
  ASSERT_TRUE(
      (*store)
          ->agents()
          .Publish(org.id, a.id, std::nullopt, a.draft, "", "key-p1", kT0 + 1)
          .ok());
  ASSERT_TRUE(
      (*store)
          ->agents()
          .Publish(org.id, a.id, std::nullopt, a.draft, "", "key-p2", kT0 + 2)
          .ok());
  ASSERT_TRUE((*store)
                  ->agents()
                  .Activate(org.id, a.id, 1, std::nullopt, "key-act", kT0 + 3)
                  .ok());
  store->reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(backend.path().c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT kind, version, key_id, at FROM "
                               "agent_events WHERE agent_id = ? ORDER BY seq",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(stmt, 1, a.id.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    rows.push_back(std::string(reinterpret_cast<const char*>(
                       sqlite3_column_text(stmt, 0))) +
                   "/" + std::to_string(sqlite3_column_int(stmt, 1)) + "/" +
                   reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)) +
                   "/" + std::to_string(sqlite3_column_int64(stmt, 3) - kT0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_EQ(rows, (std::vector<std::string>{"publish/1/key-p1/1",
                                            "publish/2/key-p2/2",
                                            "activate/1/key-act/3"}));
}

}  // namespace
}  // namespace agentry::store_contract
