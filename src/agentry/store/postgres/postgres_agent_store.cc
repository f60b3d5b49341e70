#include "agentry/store/postgres/postgres_agent_store.h"

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
#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/postgres/pg_pool.h"
#include "agentry/store/postgres/pg_util.h"
#include "agentry/store/postgres/pg_writer.h"

namespace agentry {

using pg::CheckLimit;
using pg::InReadTransaction;
using pg::ParseObject;
using pg::ParseStringArray;
using pg::ReadPage;
using pg::ToJson;
using pg::ToJsonArray;

namespace {

// The agents columns, in the order ReadAgent reads them.
#define AGENTRY_AGENT_COLUMNS                                   \
  "id, organization_id, key, draft, revision, draft_revision, " \
  "published_draft_revision, active_version, latest_version, "  \
  "current_name, current_enabled, created_at, updated_at"

// ---- lookups by id or key, and the denormalised columns (shared) ----

using store_rows::AgentNotFound;
using store_rows::AgentRef;
using store_rows::CurrentOf;
using store_rows::CurrentView;
using store_rows::RefOf;

// ---- rows ----

Result<AgentRecord> ReadAgent(const PgResult& r, int row) {
  AgentRecord a;
  a.id = r.Text(row, 0);
  a.organization_id = r.Text(row, 1);
  a.key = r.Text(row, 2);
  AGENTRY_ASSIGN_OR_RETURN(
      a.draft, ParseObject(r.Text(row, 3), "draft of agent " + a.id));
  a.revision = r.Int64(row, 4);
  a.draft_revision = r.Int64(row, 5);
  a.published_draft_revision = r.Int64(row, 6);
  if (!r.IsNull(row, 7)) a.active_version = static_cast<int>(r.Int64(row, 7));
  a.latest_version = static_cast<int>(r.Int64(row, 8));
  a.current_name = r.Text(row, 9);
  a.current_enabled = r.Bool(row, 10);
  a.created_at_ms = r.Int64(row, 11);
  a.updated_at_ms = r.Int64(row, 12);
  return a;
}

// The one head `r` returns; kNotFound (naming `id_or_key`) when none.
Result<AgentRecord> ReadOneAgent(const PgResult& r,
                                 std::string_view id_or_key) {
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) return AgentNotFound(id_or_key);
  return ReadAgent(r, 0);
}

// The organization's agent named by `id_or_key`, in full.
Result<AgentRecord> LoadAgent(PgConnection& c, std::string_view organization_id,
                              std::string_view id_or_key) {
  const AgentRef ref = RefOf(id_or_key);
  return ReadOneAgent(
      ref.by_id ? c.Exec("SELECT " AGENTRY_AGENT_COLUMNS
                         " FROM agents WHERE organization_id = $1 AND id = $2",
                         organization_id, ref.value)
                : c.Exec("SELECT " AGENTRY_AGENT_COLUMNS
                         " FROM agents WHERE organization_id = $1 "
                         "AND key = $2",
                         organization_id, ref.value),
      id_or_key);
}

// What a mutation needs to know about the head before changing it.
struct HeadInfo {
  std::string id;
  int64_t revision = 0;
  int latest_version = 0;
};

// Whether FindHead locks the head row until the transaction ends.
enum class Lock { kNone, kForUpdate };

// The organization's agent named by `id_or_key` (kNotFound when absent),
// checked against `expected_revision` (kPreconditionFailed when set and
// different). With Lock::kForUpdate (inside a write job) the row stays
// locked until COMMIT: the check holds for the change that follows, even
// against other nodes.
Result<HeadInfo> FindHead(PgConnection& c, std::string_view organization_id,
                          std::string_view id_or_key,
                          std::optional<int64_t> expected_revision, Lock lock) {
  const AgentRef ref = RefOf(id_or_key);
  std::string sql = ref.by_id
                        ? "SELECT id, revision, latest_version FROM agents "
                          "WHERE organization_id = $1 AND id = $2"
                        : "SELECT id, revision, latest_version FROM agents "
                          "WHERE organization_id = $1 AND key = $2";
  if (lock == Lock::kForUpdate) sql += " FOR UPDATE";
  PgResult r = c.Exec(sql, organization_id, ref.value);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) return AgentNotFound(id_or_key);
  HeadInfo head;
  head.id = r.Text(0, 0);
  head.revision = r.Int64(0, 1);
  head.latest_version = static_cast<int>(r.Int64(0, 2));
  if (expected_revision && *expected_revision != head.revision) {
    return Status::PreconditionFailed("agent " + std::string(id_or_key) +
                                      " is at revision " +
                                      std::to_string(head.revision) + ", not " +
                                      std::to_string(*expected_revision));
  }
  return head;
}

// Turns PostgreSQL's constraint failures on inserting an agent into the
// contract's errors.
Status AgentInsertError(const PgResult& failed, const AgentRecord& agent) {
  if (failed.sqlstate() == kPgUniqueViolation) {
    if (failed.constraint() == "agents_key_key") {
      return Status::Conflict(
          "an agent with key " + agent.key + " already exists", "key");
    }
    if (failed.constraint() == "agents_pkey") {
      return Status::Conflict("agent " + agent.id + " already exists", "id");
    }
  }
  if (failed.sqlstate() == kPgForeignKeyViolation) {
    return Status::NotFound("organization " + agent.organization_id +
                            " not found");
  }
  return failed.status();
}

// Appends `agent_id` to the agent_ids of the organization's key `key_id`,
// unless they are NULL (every agent). kNotFound when there is no such key.
// The key row is locked, so concurrent grants on other nodes append too.
Status GrantToKey(PgConnection& c, std::string_view organization_id,
                  std::string_view key_id, std::string_view agent_id) {
  PgResult r = c.Exec(
      "SELECT agent_ids FROM api_keys WHERE id = $1 AND organization_id = $2 "
      "FOR UPDATE",
      key_id, organization_id);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) {
    return Status::NotFound("api key " + std::string(key_id) + " not found");
  }
  if (r.IsNull(0, 0)) return Status::Ok();  // already every agent
  AGENTRY_ASSIGN_OR_RETURN(
      std::vector<std::string> ids,
      ParseStringArray(r.Text(0, 0),
                       "agent_ids of key " + std::string(key_id)));
  ids.emplace_back(agent_id);
  PgResult updated = c.Exec(
      "UPDATE api_keys SET agent_ids = $1 WHERE id = $2 "
      "AND organization_id = $3",
      ToJsonArray(ids), key_id, organization_id);
  AGENTRY_RETURN_IF_ERROR(updated.status());
  if (updated.affected() != 1) {
    return Status::Internal("granting agent " + std::string(agent_id) +
                            " to api key " + std::string(key_id) +
                            " changed no row");
  }
  return Status::Ok();
}

// Records who published or activated which version, and when, in the same
// transaction as the change itself.
Status RecordEvent(PgConnection& c, std::string_view organization_id,
                   const std::string& agent_id, const char* kind, int version,
                   const std::string& key_id, int64_t at_ms) {
  return c
      .Exec(
          "INSERT INTO agent_events (organization_id, agent_id, kind, "
          "version, key_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
          organization_id, agent_id, kind, version, key_id, at_ms)
      .status();
}

}  // namespace

Status PostgresAgentStore::Create(
    const AgentRecord& agent,
    const std::optional<std::string>& grant_to_key_id) {
  const std::string draft = ToJson(agent.draft);
  const std::string folded = FoldCase(agent.current_name);
  return writer_.Write([&](PgConnection& c) -> Status {
    PgResult r = c.Exec("INSERT INTO agents (" AGENTRY_AGENT_COLUMNS
                        ", current_name_folded) VALUES ($1, $2, $3, $4, 1, 1, "
                        "0, NULL, 0, $5, $6, $7, $8, $9)",
                        agent.id, agent.organization_id, agent.key, draft,
                        agent.current_name, agent.current_enabled,
                        agent.created_at_ms, agent.updated_at_ms, folded);
    if (!r.ok()) return AgentInsertError(r, agent);
    if (grant_to_key_id) {
      AGENTRY_RETURN_IF_ERROR(
          GrantToKey(c, agent.organization_id, *grant_to_key_id, agent.id));
    }
    return Status::Ok();
  });
}

Result<AgentRecord> PostgresAgentStore::Get(std::string_view organization_id,
                                            std::string_view id_or_key) {
  return readers_.With([&](PgConnection& c) {
    return LoadAgent(c, organization_id, id_or_key);
  });
}

Result<Page<AgentRecord>> PostgresAgentStore::List(
    std::string_view organization_id, const AgentListFilter& filter,
    const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  if (filter.only_ids && filter.only_ids->empty()) return Page<AgentRecord>{};

  // Only constant fragments go into the SQL; every value is bound.
  std::vector<PgParam> params = {organization_id};
  // Binds `p` to the next parameter and returns its placeholder ("$2").
  const auto next = [&params](PgParam p) {
    params.push_back(std::move(p));
    std::string placeholder = "$";
    placeholder += std::to_string(params.size());
    return placeholder;
  };
  std::string sql =
      "SELECT " AGENTRY_AGENT_COLUMNS " FROM agents WHERE organization_id = $1";
  if (page.after_id) sql += " AND id > " + next(*page.after_id);
  if (!filter.name_contains.empty()) {
    // strpos() takes the needle literally: no wildcard escaping needed.
    sql += " AND strpos(current_name_folded, " +
           next(FoldCase(filter.name_contains)) + ") > 0";
  }
  if (filter.enabled) sql += " AND current_enabled = " + next(*filter.enabled);
  if (filter.only_ids) {
    sql += " AND id IN (SELECT jsonb_array_elements_text(" +
           next(ToJsonArray(*filter.only_ids)) + "::jsonb))";
  }
  sql += " ORDER BY id LIMIT " + next(static_cast<int64_t>(page.limit) + 1);

  return readers_.With([&](PgConnection& c) -> Result<Page<AgentRecord>> {
    return ReadPage<AgentRecord>(c.ExecParams(sql, params), page.limit,
                                 ReadAgent);
  });
}

Result<AgentRecord> PostgresAgentStore::UpdateDraft(
    std::string_view organization_id, std::string_view agent_id,
    std::optional<int64_t> expected_revision, const boost::json::object& draft,
    const std::string& current_name, bool current_enabled, int64_t at_ms) {
  const std::string draft_text = ToJson(draft);
  const std::string folded = FoldCase(current_name);
  std::optional<AgentRecord> out;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head, FindHead(c, organization_id, agent_id, expected_revision,
                                Lock::kForUpdate));
    AGENTRY_ASSIGN_OR_RETURN(
        out, ReadOneAgent(
                 c.Exec("UPDATE agents SET draft = $1, current_name = $2, "
                        "current_name_folded = $3, current_enabled = $4, "
                        "revision = revision + 1, "
                        "draft_revision = draft_revision + 1, updated_at = $5 "
                        "WHERE id = $6 RETURNING " AGENTRY_AGENT_COLUMNS,
                        draft_text, current_name, folded, current_enabled,
                        at_ms, head.id),
                 agent_id));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Result<AgentVersion> PostgresAgentStore::Publish(
    std::string_view organization_id, std::string_view agent_id,
    std::optional<int64_t> expected_revision, const boost::json::object& config,
    const std::string& note, const std::string& published_by, int64_t at_ms) {
  AGENTRY_ASSIGN_OR_RETURN(const CurrentView current, CurrentOf(config));
  const std::string config_text = ToJson(config);
  const std::string folded = FoldCase(current.name);
  std::optional<AgentVersion> out;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head, FindHead(c, organization_id, agent_id, expected_revision,
                                Lock::kForUpdate));
    const int version = head.latest_version + 1;
    AGENTRY_RETURN_IF_ERROR(
        c.Exec("INSERT INTO agent_versions (agent_id, version, config, "
               "note, published_at, published_by) "
               "VALUES ($1, $2, $3, $4, $5, $6)",
               head.id, version, config_text, note, at_ms, published_by)
            .status());
    PgResult updated = c.Exec(
        "UPDATE agents SET active_version = $1, latest_version = $1, "
        "published_draft_revision = draft_revision, "
        "revision = revision + 1, current_name = $2, "
        "current_name_folded = $3, current_enabled = $4, updated_at = $5 "
        "WHERE id = $6",
        version, current.name, folded, current.enabled, at_ms, head.id);
    AGENTRY_RETURN_IF_ERROR(updated.status());
    if (updated.affected() != 1) {
      return Status::Internal("publishing agent " + head.id +
                              " updated no row");
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

Result<AgentRecord> PostgresAgentStore::Activate(
    std::string_view organization_id, std::string_view agent_id, int version,
    std::optional<int64_t> expected_revision, const std::string& activated_by,
    int64_t at_ms) {
  std::optional<AgentRecord> out;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head, FindHead(c, organization_id, agent_id, expected_revision,
                                Lock::kForUpdate));
    PgResult found = c.Exec(
        "SELECT config FROM agent_versions WHERE agent_id = $1 "
        "AND version = $2",
        head.id, version);
    AGENTRY_RETURN_IF_ERROR(found.status());
    if (found.rows() == 0) {
      return Status::NotFound("agent " + std::string(agent_id) +
                              " has no version " + std::to_string(version));
    }
    const std::string what =
        "config of version " + std::to_string(version) + " of agent " + head.id;
    AGENTRY_ASSIGN_OR_RETURN(const boost::json::object config,
                             ParseObject(found.Text(0, 0), what));
    Result<CurrentView> current = CurrentOf(config);
    if (!current.ok()) {
      return Status::Internal("stored " + what + ": " +
                              current.status().message());
    }
    AGENTRY_ASSIGN_OR_RETURN(
        out,
        ReadOneAgent(c.Exec("UPDATE agents SET active_version = $1, "
                            "revision = revision + 1, current_name = $2, "
                            "current_name_folded = $3, current_enabled = $4, "
                            "updated_at = $5 WHERE id = $6 "
                            "RETURNING " AGENTRY_AGENT_COLUMNS,
                            version, current->name, FoldCase(current->name),
                            current->enabled, at_ms, head.id),
                     agent_id));
    return RecordEvent(c, organization_id, head.id, "activate", version,
                       activated_by, at_ms);
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Status PostgresAgentStore::Delete(std::string_view organization_id,
                                  std::string_view agent_id,
                                  std::optional<int64_t> expected_revision) {
  return writer_.Write([&](PgConnection& c) -> Status {
    AGENTRY_ASSIGN_OR_RETURN(
        HeadInfo head, FindHead(c, organization_id, agent_id, expected_revision,
                                Lock::kForUpdate));
    // The versions go by ON DELETE CASCADE.
    PgResult deleted = c.Exec("DELETE FROM agents WHERE id = $1", head.id);
    AGENTRY_RETURN_IF_ERROR(deleted.status());
    if (deleted.affected() != 1) {
      return Status::Internal("deleting agent " + head.id + " removed no row");
    }
    return Status::Ok();
  });
}

Result<AgentVersion> PostgresAgentStore::GetVersion(
    std::string_view organization_id, std::string_view agent_id, int version) {
  const AgentRef ref = RefOf(agent_id);
  return readers_.With([&](PgConnection& c) -> Result<AgentVersion> {
    PgResult r =
        ref.by_id ? c.Exec(
                        "SELECT v.agent_id, v.config, v.note, v.published_at, "
                        "v.published_by FROM agent_versions v "
                        "JOIN agents a ON a.id = v.agent_id "
                        "WHERE a.organization_id = $1 AND a.id = $2 "
                        "AND v.version = $3",
                        organization_id, ref.value, version)
                  : c.Exec(
                        "SELECT v.agent_id, v.config, v.note, v.published_at, "
                        "v.published_by FROM agent_versions v "
                        "JOIN agents a ON a.id = v.agent_id "
                        "WHERE a.organization_id = $1 AND a.key = $2 "
                        "AND v.version = $3",
                        organization_id, ref.value, version);
    AGENTRY_RETURN_IF_ERROR(r.status());
    if (r.rows() == 0) {
      return Status::NotFound("version " + std::to_string(version) +
                              " of agent " + std::string(agent_id) +
                              " not found");
    }
    AgentVersion v;
    v.agent_id = r.Text(0, 0);
    v.version = version;
    AGENTRY_ASSIGN_OR_RETURN(
        v.config, ParseObject(r.Text(0, 1), "config of version " +
                                                std::to_string(version) +
                                                " of agent " + v.agent_id));
    v.note = r.Text(0, 2);
    v.published_at_ms = r.Int64(0, 3);
    v.published_by = r.Text(0, 4);
    return v;
  });
}

Result<Page<AgentVersionSummary>> PostgresAgentStore::ListVersions(
    std::string_view organization_id, std::string_view agent_id,
    std::optional<int> before_version, size_t limit) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(limit));
  const int below =
      before_version ? *before_version : std::numeric_limits<int>::max();
  return readers_.With([&](PgConnection& c) {
    return InReadTransaction<Page<AgentVersionSummary>>(
        c, [&]() -> Result<Page<AgentVersionSummary>> {
          AGENTRY_ASSIGN_OR_RETURN(HeadInfo head,
                                   FindHead(c, organization_id, agent_id,
                                            std::nullopt, Lock::kNone));
          PgResult r = c.Exec(
              "SELECT version, note, published_at, published_by "
              "FROM agent_versions WHERE agent_id = $1 "
              "AND version < $2 ORDER BY version DESC LIMIT $3",
              head.id, below, static_cast<int64_t>(limit) + 1);
          return ReadPage<AgentVersionSummary>(
              r, limit,
              [](const PgResult& rows, int i) -> Result<AgentVersionSummary> {
                AgentVersionSummary s;
                s.version = static_cast<int>(rows.Int64(i, 0));
                s.note = rows.Text(i, 1);
                s.published_at_ms = rows.Int64(i, 2);
                s.published_by = rows.Text(i, 3);
                return s;
              });
        });
  });
}

#undef AGENTRY_AGENT_COLUMNS

}  // namespace agentry
