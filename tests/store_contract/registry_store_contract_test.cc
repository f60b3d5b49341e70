// The ToolStore and InstructionStore contracts (src/agentry/store/store.h),
// typed suites run against every backend (backends.h).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agentry/domain/instruction.h"
#include "agentry/domain/tool.h"
#include "agentry/store/store.h"
#include "backends.h"

namespace agentry {
namespace {

using store_contract::Backends;
using store_contract::kT0;
using store_contract::StoreTest;

Tool MakeTool(const std::string& organization_id, const std::string& id,
              const std::string& name = "Search") {
  Tool t;
  t.id = id;
  t.organization_id = organization_id;
  t.config = boost::json::object{
      {"name", name},
      {"description", "ünïcödé \"q\""},
      {"parameters",
       boost::json::object{
           {"type", "object"},
           {"properties",
            boost::json::object{
                {"max_results", boost::json::object{{"type", "integer"}}}}}}},
      {"enabled", true}};
  t.created_at_ms = kT0 + 5;
  t.updated_at_ms = t.created_at_ms;
  return t;
}

Instruction MakeInstruction(const std::string& organization_id,
                            const std::string& id,
                            const std::string& text = "Hello $session.name") {
  Instruction ins;
  ins.id = id;
  ins.organization_id = organization_id;
  ins.version = 7;  // ignored: Create always makes version 1
  ins.config = boost::json::object{{"name", "Greeting"},
                                   {"description", ""},
                                   {"template_type", "velocity"},
                                   {"template", text}};
  ins.created_at_ms = kT0 + 6;
  ins.updated_at_ms = ins.created_at_ms;
  ins.created_by = "key-1";
  return ins;
}

template <class T>
std::vector<std::string> Ids(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const T& t : items) out.push_back(t.id);
  return out;
}

// ---- tools ----

template <class Backend>
class ToolStoreTest : public StoreTest<Backend> {};
TYPED_TEST_SUITE(ToolStoreTest, Backends);

TYPED_TEST(ToolStoreTest, CreateGetAndIsolation) {
  auto [org, admin] = this->CreateOrg("tools-a");
  auto [other, other_admin] = this->CreateOrg("tools-b");
  const Tool tool = MakeTool(org.id, "tol_search");
  ASSERT_TRUE(this->tools().Create(tool).ok());

  auto got = this->tools().Get(org.id, "tol_search");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, tool.id);
  EXPECT_EQ(got->organization_id, org.id);
  EXPECT_EQ(got->config, tool.config);
  EXPECT_EQ(got->revision, 1);
  EXPECT_EQ(got->created_at_ms, tool.created_at_ms);
  EXPECT_EQ(got->updated_at_ms, tool.updated_at_ms);

  // Another organization does not see it, and may use the same id.
  EXPECT_EQ(this->tools().Get(other.id, "tol_search").status().code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(this->tools().Create(MakeTool(other.id, "tol_search")).ok());

  // A taken id in the same organization is a conflict on "id".
  const Status dup = this->tools().Create(MakeTool(org.id, "tol_search", "X"));
  EXPECT_EQ(dup.code(), ErrorCode::kConflict);
  EXPECT_EQ(dup.field(), "id");
  EXPECT_EQ(this->tools().Get(org.id, "tol_search")->config, tool.config);

  // An unknown organization is not found and writes nothing.
  EXPECT_EQ(this->tools().Create(MakeTool("no-such-org", "tol_x")).code(),
            ErrorCode::kNotFound);
}

TYPED_TEST(ToolStoreTest, ListPagesByIdWithinTheOrganization) {
  auto [org, admin] = this->CreateOrg("tools-list");
  auto [other, other_admin] = this->CreateOrg("tools-list-other");
  for (const char* id : {"tol_c", "tol_a", "tol_b", "tol_d", "tol_e"}) {
    ASSERT_TRUE(this->tools().Create(MakeTool(org.id, id)).ok());
  }
  ASSERT_TRUE(this->tools().Create(MakeTool(other.id, "tol_0")).ok());

  auto first = this->tools().List(org.id, PageRequest{std::nullopt, 2});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Ids(first->items), (std::vector<std::string>{"tol_a", "tol_b"}));
  EXPECT_TRUE(first->has_more);
  auto second = this->tools().List(org.id, PageRequest{"tol_b", 2});
  EXPECT_EQ(Ids(second->items), (std::vector<std::string>{"tol_c", "tol_d"}));
  EXPECT_TRUE(second->has_more);
  auto last = this->tools().List(org.id, PageRequest{"tol_d", 2});
  EXPECT_EQ(Ids(last->items), (std::vector<std::string>{"tol_e"}));
  EXPECT_FALSE(last->has_more);
  auto exact = this->tools().List(org.id, PageRequest{std::nullopt, 5});
  EXPECT_EQ(exact->items.size(), 5u);
  EXPECT_FALSE(exact->has_more);

  EXPECT_EQ(
      this->tools().List(org.id, PageRequest{std::nullopt, 0}).status().field(),
      "limit");
  EXPECT_EQ(this->tools()
                .List(org.id, PageRequest{std::nullopt, 201})
                .status()
                .code(),
            ErrorCode::kInvalidRequest);
}

TYPED_TEST(ToolStoreTest, UpdateAndDeleteCheckTheRevision) {
  auto [org, admin] = this->CreateOrg("tools-update");
  auto [other, other_admin] = this->CreateOrg("tools-update-other");
  ASSERT_TRUE(this->tools().Create(MakeTool(org.id, "tol_t")).ok());
  boost::json::object changed = MakeTool(org.id, "tol_t", "Renamed").config;

  auto updated = this->tools().Update(org.id, "tol_t", 1, changed, kT0 + 100);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->revision, 2);
  EXPECT_EQ(updated->config, changed);
  EXPECT_EQ(updated->updated_at_ms, kT0 + 100);
  EXPECT_EQ(updated->created_at_ms, kT0 + 5);

  // A stale revision changes nothing.
  EXPECT_EQ(this->tools()
                .Update(org.id, "tol_t", 1, MakeTool(org.id, "x").config, 0)
                .status()
                .code(),
            ErrorCode::kPreconditionFailed);
  EXPECT_EQ(this->tools().Get(org.id, "tol_t")->config, changed);
  // Without an expected revision the update applies.
  auto forced =
      this->tools().Update(org.id, "tol_t", std::nullopt, changed, kT0 + 200);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->revision, 3);

  // Another organization's tool is not found, for update and delete.
  EXPECT_EQ(this->tools()
                .Update(other.id, "tol_t", std::nullopt, changed, 0)
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->tools().Delete(other.id, "tol_t", std::nullopt).code(),
            ErrorCode::kNotFound);

  EXPECT_EQ(this->tools().Delete(org.id, "tol_t", 2).code(),
            ErrorCode::kPreconditionFailed);
  EXPECT_TRUE(this->tools().Delete(org.id, "tol_t", 3).ok());
  EXPECT_EQ(this->tools().Get(org.id, "tol_t").status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->tools().Delete(org.id, "tol_t", std::nullopt).code(),
            ErrorCode::kNotFound);
  // The id can be used again.
  EXPECT_TRUE(this->tools().Create(MakeTool(org.id, "tol_t")).ok());
}

TYPED_TEST(ToolStoreTest, SurvivesReopen) {
  auto [org, admin] = this->CreateOrg("tools-durable");
  ASSERT_TRUE(this->tools().Create(MakeTool(org.id, "tol_keep")).ok());
  ASSERT_TRUE(this->tools()
                  .Update(org.id, "tol_keep", 1,
                          MakeTool(org.id, "tol_keep", "Kept").config, kT0 + 9)
                  .ok());
  this->Reopen();
  auto got = this->tools().Get(org.id, "tol_keep");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->revision, 2);
  EXPECT_EQ(got->config.at("name"), "Kept");
}

// ---- instructions ----

template <class Backend>
class InstructionStoreTest : public StoreTest<Backend> {};
TYPED_TEST_SUITE(InstructionStoreTest, Backends);

TYPED_TEST(InstructionStoreTest, VersionsAreAppendedAndImmutable) {
  auto [org, admin] = this->CreateOrg("ins-a");
  auto [other, other_admin] = this->CreateOrg("ins-b");
  const Instruction first = MakeInstruction(org.id, "ins_greet");
  ASSERT_TRUE(this->instructions().Create(first).ok());

  auto v1 = this->instructions().Get(org.id, "ins_greet", std::nullopt);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->config, first.config);
  EXPECT_EQ(v1->created_at_ms, first.created_at_ms);
  EXPECT_EQ(v1->updated_at_ms, first.updated_at_ms);
  EXPECT_EQ(v1->created_by, "key-1");

  boost::json::object next = first.config;
  next["template"] = "Bye $session.name";
  auto v2 = this->instructions().AddVersion(org.id, "ins_greet", 1, next,
                                            kT0 + 50, "key-2");
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->created_at_ms, first.created_at_ms);
  EXPECT_EQ(v2->updated_at_ms, kT0 + 50);
  EXPECT_EQ(v2->created_by, "key-2");

  // A stale expected version adds nothing.
  EXPECT_EQ(this->instructions()
                .AddVersion(org.id, "ins_greet", 1, first.config, 0, "k")
                .status()
                .code(),
            ErrorCode::kPreconditionFailed);

  auto latest = this->instructions().Get(org.id, "ins_greet", std::nullopt);
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->config, next);
  auto old = this->instructions().Get(org.id, "ins_greet", 1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->config, first.config);
  EXPECT_EQ(this->instructions().Get(org.id, "ins_greet", 3).status().code(),
            ErrorCode::kNotFound);

  // Another organization sees nothing and can use the id.
  EXPECT_EQ(this->instructions()
                .Get(other.id, "ins_greet", std::nullopt)
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->instructions()
                .AddVersion(other.id, "ins_greet", 2, next, 0, "k")
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(
      this->instructions().Create(MakeInstruction(other.id, "ins_greet")).ok());
  const Status dup =
      this->instructions().Create(MakeInstruction(org.id, "ins_greet"));
  EXPECT_EQ(dup.code(), ErrorCode::kConflict);
  EXPECT_EQ(dup.field(), "id");
  EXPECT_EQ(
      this->instructions().Get(org.id, "ins_greet", std::nullopt)->version, 2);
}

TYPED_TEST(InstructionStoreTest, ListsLatestAndPagesVersions) {
  auto [org, admin] = this->CreateOrg("ins-list");
  for (const char* id : {"ins_b", "ins_a", "ins_c"}) {
    ASSERT_TRUE(this->instructions().Create(MakeInstruction(org.id, id)).ok());
  }
  for (int v = 1; v < 5; ++v) {
    boost::json::object config = MakeInstruction(org.id, "ins_a").config;
    config["template"] = "v" + std::to_string(v + 1);
    ASSERT_TRUE(this->instructions()
                    .AddVersion(org.id, "ins_a", v, config, kT0 + v, "k")
                    .ok());
  }
  auto all = this->instructions().List(org.id, PageRequest{std::nullopt, 2});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Ids(all->items), (std::vector<std::string>{"ins_a", "ins_b"}));
  EXPECT_EQ(all->items[0].version, 5);
  EXPECT_TRUE(all->has_more);
  auto rest = this->instructions().List(org.id, PageRequest{"ins_b", 2});
  EXPECT_EQ(Ids(rest->items), (std::vector<std::string>{"ins_c"}));
  EXPECT_FALSE(rest->has_more);

  auto page =
      this->instructions().ListVersions(org.id, "ins_a", std::nullopt, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].version, 5);
  EXPECT_EQ(page->items[1].version, 4);
  EXPECT_EQ(page->items[0].config.at("template"), "v5");
  EXPECT_TRUE(page->has_more);
  auto tail = this->instructions().ListVersions(org.id, "ins_a", 2, 10);
  ASSERT_EQ(tail->items.size(), 1u);
  EXPECT_EQ(tail->items[0].version, 1);
  EXPECT_FALSE(tail->has_more);

  EXPECT_EQ(this->instructions()
                .ListVersions(org.id, "ins_none", std::nullopt, 10)
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->instructions()
                .ListVersions(org.id, "ins_a", std::nullopt, 0)
                .status()
                .field(),
            "limit");
}

TYPED_TEST(InstructionStoreTest, SurvivesReopen) {
  auto [org, admin] = this->CreateOrg("ins-durable");
  ASSERT_TRUE(
      this->instructions().Create(MakeInstruction(org.id, "ins_keep")).ok());
  ASSERT_TRUE(this->instructions()
                  .AddVersion(org.id, "ins_keep", 1,
                              MakeInstruction(org.id, "x", "two").config,
                              kT0 + 1, "k")
                  .ok());
  this->Reopen();
  auto got = this->instructions().Get(org.id, "ins_keep", std::nullopt);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->config.at("template"), "two");
}

}  // namespace
}  // namespace agentry
