#include "agentry/store/sqlite/sqlite_agent_store.h"

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentry/common/ids.h"
#include "agentry/common/text.h"
#include "agentry/store/agent_rows.h"
#include "agentry/store/sqlite/group_commit.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/sqlite/sqlite_store.h"
#include "agentry/store/sqlite/sqlite_util.h"

namespace agentry {

using sqlite::CheckLimit;
using sqlite::InReadTransaction;
using sqlite::ParseObject;
using sqlite::ReadPage;
using sqlite::ToJson;
using sqlite::ToJsonArray;

namespace {

// The agents columns, in the order ReadAgent reads them.
#define AGENTRY_AGENT_COLUMNS                                   \
  "id, organization_id, key, draft, revision, draft_revision, " \
  "published_draft_revision, active_version, latest_version, "  \
  "current_name, current_enabled, created_at, updated_at"

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// ---- lookups by id or key, and the denormalised columns (shared) ----

using store_rows::AgentNotFound;
using store_rows::AgentRef;
using store_rows::CurrentOf;
using store_rows::CurrentView;
using store_rows::RefOf;

// ---- rows ----

Result<AgentRecord> ReadAgent(const SqliteStatement& row) {
  AgentRecord a;
  a.id = row.Text(0);
  a.organization_id = row.Text(1);
  a.key = row.Text(2);
  AGENTRY_ASSIGN_OR_RETURN(a.draft,
                           ParseObject(row.Text(3), "draft of agent " + a.id));
  a.revision = row.Int64(4);
  a.draft_revision = row.Int64(5);
  a.published_draft_revision = row.Int64(6);
  if (!row.IsNull(7)) a.active_version = static_cast<int>(row.Int64(7));
  a.latest_version = static_cast<int>(row.Int64(8));
  a.current_name = row.Text(9);
  a.current_enabled = row.Int64(10) != 0;
  a.created_at_ms = row.Int64(11);
  a.updated_at_ms = row.Int64(12);
  return a;
}

// Steps `stmt` once and reads the head it returns; kNotFound (naming
// `id_or_key`) when there is no row.
Result<AgentRecord> ReadOneAgent(SqliteStatement& stmt,
                                 std::string_view id_or_key) {
  AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return AgentNotFound(id_or_key);
  return ReadAgent(stmt);
}

// The organization's agent named by `id_or_key`, in full.
Result<AgentRecord> LoadAgent(SqliteConnection& c,
                              std::string_view organization_id,
                              std::string_view id_or_key) {
  const AgentRef ref = RefOf(id_or_key);
  Result<SqliteStatement> prepared =
      ref.by_id ? c.Prepare("SELECT " AGENTRY_AGENT_COLUMNS
                            " FROM agents WHERE organization_id = ? AND id = ?")
                : c.Prepare("SELECT " AGENTRY_AGENT_COLUMNS
                            " FROM agents WHERE organization_id = ? "
                            "AND key = ?");
  if (!prepared.ok()) return prepared.status();
  prepared->BindAll(organization_id, ref.value);
  return ReadOneAgent(*prepared, id_or_key);
}

// What a mutation needs to know about the head before changing it.
struct HeadInfo {
  std::string id;
  int64_t revision = 0;
  int latest_version = 0;
};

// The organization's agent named by `id_or_key` (kNotFound when absent),
// checked against `expected_revision` (kPreconditionFailed when set and
// different).
Result<HeadInfo> FindHead(SqliteConnection& c, std::string_view organization_id,
                          std::string_view id_or_key,
                          std::optional<int64_t> expected_revision) {
  const AgentRef ref = RefOf(id_or_key);
  Result<SqliteStatement> prepared =
      ref.by_id ? c.Prepare(
                      "SELECT id, revision, latest_version FROM agents "
                      "WHERE organization_id = ? AND id = ?")
                : c.Prepare(
                      "SELECT id, revision, latest_version FROM agents "
                      "WHERE organization_id = ? AND key = ?");
  if (!prepared.ok()) return prepared.status();
  SqliteStatement& stmt = *prepared;
  stmt.BindAll(organization_id, ref.value);
  AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return AgentNotFound(id_or_key);
  HeadInfo head;
  head.id = stmt.Text(0);
  head.revision = stmt.Int64(1);
  head.latest_version = static_cast<int>(stmt.Int64(2));
  if (expected_revision && *expected_revision != head.revision) {
    return Status::PreconditionFailed("agent " + std::string(id_or_key) +
                                      " is at revision " +
                                      std::to_string(head.revision) + ", not " +
                                      std::to_string(*expected_revision));
  }
  return head;
}

// Turns SQLite's constraint failures on inserting an agent into the
// contract's errors.
Status AgentInsertError(Status st, const AgentRecord& agent) {
  if (st.code() == ErrorCode::kConflict) {
    if (Contains(st.message(), "agents.key")) {
      return Status::Conflict(
          "an agent with key " + agent.key + " already exists", "key");
    }
    if (Contains(st.message(), "agents.id")) {
      return Status::Conflict("agent " + agent.id + " already exists", "id");
    }
  }
  if (Contains(st.message(), "FOREIGN KEY constraint failed")) {
    return Status::NotFound("organization " + agent.organization_id +
                            " not found");
  }
  return st;
}

// Appends `agent_id` to the agent_ids of the organization's key `key_id`,
// unless they are NULL (every agent). kNotFound when there is no such key.
Status GrantToKey(SqliteConnection& c, std::string_view organization_id,
                  std::string_view key_id, std::string_view agent_id) {
  {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                             c.Prepare("SELECT agent_ids IS NULL FROM api_keys "
                                       "WHERE id = ? AND organization_id = ?"));
    stmt.BindAll(key_id, organization_id);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return Status::NotFound("api key " + std::string(key_id) + " not found");
    }
    if (stmt.Int64(0) != 0) return Status::Ok();  // already every agent
  }
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("UPDATE api_keys SET agent_ids = json_insert(agent_ids, "
                "'$[#]', ?) WHERE id = ? AND organization_id = ?"));
  stmt.BindAll(agent_id, key_id, organization_id);
  AGENTRY_RETURN_IF_ERROR(stmt.Run());
  if (c.Changes() != 1) {
    return Status::Internal("granting agent " + std::string(agent_id) +
                            " to api key " + std::string(key_id) +
                            " changed no row");
  }
  return Status::Ok();
}

}  // namespace

Status SqliteAgentStore::Create(
    const AgentRecord& agent,
    const std::optional<std::string>& grant_to_key_id) {
  const std::string draft = ToJson(agent.draft);
  return writer_.Write([&](SqliteConnection& c) -> Status {
    {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("INSERT INTO agents (" AGENTRY_AGENT_COLUMNS
                    ") VALUES (?, ?, ?, ?, 1, 1, 0, NULL, 0, ?, ?, ?, ?)"));
      stmt.BindAll(agent.id, agent.organization_id, agent.key, draft,
                   agent.current_name,
                   static_cast<int64_t>(agent.current_enabled ? 1 : 0),
                   agent.created_at_ms, agent.updated_at_ms);
      Status st = stmt.Run();
      if (!st.ok()) return AgentInsertError(std::move(st), agent);
    }
    if (grant_to_key_id) {
      AGENTRY_RETURN_IF_ERROR(
          GrantToKey(c, agent.organization_id, *grant_to_key_id, agent.id));
    }
    return Status::Ok();
  });
}

Result<AgentRecord> SqliteAgentStore::Get(std::string_view organization_id,
                                          std::string_view id_or_key) {
  return readers_.With([&](SqliteConnection& c) {
    return LoadAgent(c, organization_id, id_or_key);
  });
}

Result<Page<AgentRecord>> SqliteAgentStore::List(
    std::string_view organization_id, const AgentListFilter& filter,
    const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  if (filter.only_ids && filter.only_ids->empty()) return Page<AgentRecord>{};

  // Only constant fragments go into the SQL; every value is bound.
  std::string sql =
      "SELECT " AGENTRY_AGENT_COLUMNS " FROM agents WHERE organization_id = ?";
  if (page.after_id) sql += " AND id > ?";
  if (!filter.name_contains.empty()) {
    // instr() takes the needle literally: no wildcard escaping needed.
    // agentry_fold() folds Unicode case (sqlite_db.cc).
    sql += " AND instr(agentry_fold(current_name), ?) > 0";
  }
  if (filter.enabled) sql += " AND current_enabled = ?";
  if (filter.only_ids) sql += " AND id IN (SELECT value FROM json_each(?))";
  sql += " ORDER BY id LIMIT ?";
  std::optional<std::string> only_ids;
  if (filter.only_ids) only_ids = ToJsonArray(*filter.only_ids);

  return readers_.With([&](SqliteConnection& c) -> Result<Page<AgentRecord>> {
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt, c.Prepare(sql));
    int i = 0;
    stmt.Bind(++i, organization_id);
    if (page.after_id) stmt.Bind(++i, *page.after_id);
    if (!filter.name_contains.empty()) {
      stmt.Bind(++i, FoldCase(filter.name_contains));
    }
    if (filter.enabled) {
      stmt.Bind(++i, static_cast<int64_t>(*filter.enabled ? 1 : 0));
    }
    if (only_ids) stmt.Bind(++i, *only_ids);
    stmt.Bind(++i, static_cast<int64_t>(page.limit) + 1);

    return ReadPage<AgentRecord>(stmt, page.limit, ReadAgent);
  });
}

Result<AgentRecord> SqliteAgentStore::UpdateDraft(
    std::string_view organization_id, std::string_view agent_id,
    std::optional<int64_t> expected_revision, const boost::json::object& draft,
    const std::string& current_name, bool current_enabled, int64_t at_ms) {
  const std::string draft_text = ToJson(draft);
  std::optional<AgentRecord> out;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head,
        FindHead(c, organization_id, agent_id, expected_revision));
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("UPDATE agents SET draft = ?, current_name = ?, "
                  "current_enabled = ?, revision = revision + 1, "
                  "draft_revision = draft_revision + 1, updated_at = ? "
                  "WHERE id = ? RETURNING " AGENTRY_AGENT_COLUMNS));
    stmt.BindAll(draft_text, current_name,
                 static_cast<int64_t>(current_enabled ? 1 : 0), at_ms, head.id);
    AGENTRY_ASSIGN_OR_RETURN(out, ReadOneAgent(stmt, agent_id));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

namespace {

// Records who published or activated which version, and when, in the same
// transaction as the change itself.
Status RecordEvent(SqliteConnection& c, std::string_view organization_id,
                   const std::string& agent_id, const char* kind, int version,
                   const std::string& key_id, int64_t at_ms) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("INSERT INTO agent_events (organization_id, agent_id, kind, "
                "version, key_id, at) VALUES (?, ?, ?, ?, ?, ?)"));
  stmt.BindAll(std::string(organization_id), agent_id, std::string(kind),
               version, key_id, at_ms);
  return stmt.Run();
}

}  // namespace

Result<AgentVersion> SqliteAgentStore::Publish(
    std::string_view organization_id, std::string_view agent_id,
    std::optional<int64_t> expected_revision, const boost::json::object& config,
    const std::string& note, const std::string& published_by, int64_t at_ms) {
  AGENTRY_ASSIGN_OR_RETURN(const CurrentView current, CurrentOf(config));
  const std::string config_text = ToJson(config);
  std::optional<AgentVersion> out;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head,
        FindHead(c, organization_id, agent_id, expected_revision));
    const int version = head.latest_version + 1;
    {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("INSERT INTO agent_versions (agent_id, version, config, "
                    "note, published_at, published_by) "
                    "VALUES (?, ?, ?, ?, ?, ?)"));
      stmt.BindAll(head.id, version, config_text, note, at_ms, published_by);
      AGENTRY_RETURN_IF_ERROR(stmt.Run());
    }
    {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("UPDATE agents SET active_version = ?, "
                    "latest_version = ?, "
                    "published_draft_revision = draft_revision, "
                    "revision = revision + 1, current_name = ?, "
                    "current_enabled = ?, updated_at = ? WHERE id = ?"));
      stmt.BindAll(version, version, current.name,
                   static_cast<int64_t>(current.enabled ? 1 : 0), at_ms,
                   head.id);
      AGENTRY_RETURN_IF_ERROR(stmt.Run());
      if (c.Changes() != 1) {
        return Status::Internal("publishing agent " + head.id +
                                " updated no row");
      }
    }
    AGENTRY_RETURN_IF_ERROR(RecordEvent(c, organization_id, head.id, "publish",
                                        version, published_by, at_ms));
    AgentVersion v;
    v.agent_id = head.id;
    v.version = version;
    v.config = config;
    v.note = note;
    v.published_at_ms = at_ms;
    v.published_by = published_by;
    out = std::move(v);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Result<AgentRecord> SqliteAgentStore::Activate(
    std::string_view organization_id, std::string_view agent_id, int version,
    std::optional<int64_t> expected_revision, const std::string& activated_by,
    int64_t at_ms) {
  std::optional<AgentRecord> out;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head,
        FindHead(c, organization_id, agent_id, expected_revision));
    CurrentView current;
    {
      AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                               c.Prepare("SELECT config FROM agent_versions "
                                         "WHERE agent_id = ? AND version = ?"));
      stmt.BindAll(head.id, version);
      AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        return Status::NotFound("agent " + std::string(agent_id) +
                                " has no version " + std::to_string(version));
      }
      const std::string what = "config of version " + std::to_string(version) +
                               " of agent " + head.id;
      AGENTRY_ASSIGN_OR_RETURN(const boost::json::object config,
                               ParseObject(stmt.Text(0), what));
      Result<CurrentView> view = CurrentOf(config);
      if (!view.ok()) {
        return Status::Internal("stored " + what + ": " +
                                view.status().message());
      }
      current = std::move(*view);
    }
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("UPDATE agents SET active_version = ?, "
                  "revision = revision + 1, current_name = ?, "
                  "current_enabled = ?, updated_at = ? "
                  "WHERE id = ? RETURNING " AGENTRY_AGENT_COLUMNS));
    stmt.BindAll(version, current.name,
                 static_cast<int64_t>(current.enabled ? 1 : 0), at_ms, head.id);
    AGENTRY_ASSIGN_OR_RETURN(out, ReadOneAgent(stmt, agent_id));
    return RecordEvent(c, organization_id, head.id, "activate", version,
                       activated_by, at_ms);
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Status SqliteAgentStore::Delete(std::string_view organization_id,
                                std::string_view agent_id,
                                std::optional<int64_t> expected_revision) {
  return writer_.Write([&](SqliteConnection& c) -> Status {
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head,
        FindHead(c, organization_id, agent_id, expected_revision));
    // The versions go by ON DELETE CASCADE too; deleting them first keeps
    // this correct even on a connection without foreign keys enforced.
    {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("DELETE FROM agent_versions WHERE agent_id = ?"));
      stmt.BindAll(head.id);
      AGENTRY_RETURN_IF_ERROR(stmt.Run());
    }
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                             c.Prepare("DELETE FROM agents WHERE id = ?"));
    stmt.BindAll(head.id);
    AGENTRY_RETURN_IF_ERROR(stmt.Run());
    if (c.Changes() != 1) {
      return Status::Internal("deleting agent " + head.id + " removed no row");
    }
    return Status::Ok();
  });
}

Result<AgentVersion> SqliteAgentStore::GetVersion(
    std::string_view organization_id, std::string_view agent_id, int version) {
  const AgentRef ref = RefOf(agent_id);
  return readers_.With([&](SqliteConnection& c) -> Result<AgentVersion> {
    Result<SqliteStatement> prepared =
        ref.by_id ? c.Prepare(
                        "SELECT v.agent_id, v.config, v.note, v.published_at, "
                        "v.published_by FROM agent_versions v "
                        "JOIN agents a ON a.id = v.agent_id "
                        "WHERE a.organization_id = ? AND a.id = ? "
                        "AND v.version = ?")
                  : c.Prepare(
                        "SELECT v.agent_id, v.config, v.note, v.published_at, "
                        "v.published_by FROM agent_versions v "
                        "JOIN agents a ON a.id = v.agent_id "
                        "WHERE a.organization_id = ? AND a.key = ? "
                        "AND v.version = ?");
    if (!prepared.ok()) return prepared.status();
    SqliteStatement& stmt = *prepared;
    stmt.BindAll(organization_id, ref.value, version);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return Status::NotFound("version " + std::to_string(version) +
                              " of agent " + std::string(agent_id) +
                              " not found");
    }
    AgentVersion v;
    v.agent_id = stmt.Text(0);
    v.version = version;
    AGENTRY_ASSIGN_OR_RETURN(
        v.config, ParseObject(stmt.Text(1), "config of version " +
                                                std::to_string(version) +
                                                " of agent " + v.agent_id));
    v.note = stmt.Text(2);
    v.published_at_ms = stmt.Int64(3);
    v.published_by = stmt.Text(4);
    return v;
  });
}

Result<Page<AgentVersionSummary>> SqliteAgentStore::ListVersions(
    std::string_view organization_id, std::string_view agent_id,
    std::optional<int> before_version, size_t limit) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(limit));
  const int64_t below =
      before_version ? *before_version : std::numeric_limits<int64_t>::max();
  return readers_.With([&](SqliteConnection& c) {
    return InReadTransaction<Page<AgentVersionSummary>>(
        c, [&]() -> Result<Page<AgentVersionSummary>> {
          AGENTRY_ASSIGN_OR_RETURN(
              HeadInfo head,
              FindHead(c, organization_id, agent_id, std::nullopt));
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              c.Prepare("SELECT version, note, published_at, published_by "
                        "FROM agent_versions WHERE agent_id = ? "
                        "AND version < ? ORDER BY version DESC LIMIT ?"));
          stmt.BindAll(head.id, below, static_cast<int64_t>(limit) + 1);
          return ReadPage<AgentVersionSummary>(
              stmt, limit,
              [](const SqliteStatement& row) -> Result<AgentVersionSummary> {
                AgentVersionSummary s;
                s.version = static_cast<int>(row.Int64(0));
                s.note = row.Text(1);
                s.published_at_ms = row.Int64(2);
                s.published_by = row.Text(3);
                return s;
              });
        });
  });
}

#undef AGENTRY_AGENT_COLUMNS

}  // namespace agentry
