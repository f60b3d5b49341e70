#include "agentry/store/sqlite/sqlite_lease_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>

#include "agentry/store/sqlite/group_commit.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/sqlite/sqlite_store.h"
#include "agentry/store/sqlite/sqlite_util.h"

namespace agentry {

using sqlite::ConfigTable;
using sqlite::ConfigTableSpec;
using sqlite::ParseObject;

namespace {

using Extras = std::vector<std::variant<int64_t, std::string>>;

bool EnabledOf(const boost::json::object& config) {
  const boost::json::value* v = config.if_contains("enabled");
  return v == nullptr || !v->is_bool() || v->get_bool();
}

std::string NameOf(const boost::json::object& config) {
  const boost::json::value* v = config.if_contains("name");
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

ConfigTableSpec ProfileSpec() {
  return ConfigTableSpec{
      "profiles",
      "profile",
      {"enabled"},
      [](const boost::json::object& c) {
        return Extras{static_cast<int64_t>(EnabledOf(c) ? 1 : 0)};
      },
      ""};
}

ConfigTableSpec PoolSpec() {
  return ConfigTableSpec{
      "pools",
      "pool",
      {"name"},
      [](const boost::json::object& c) { return Extras{NameOf(c)}; },
      "name"};
}

#define AGENTRY_LEASE_COLUMNS                                     \
  "id, organization_id, pool_id, profile_id, exclusive, holder, " \
  "fencing_token, acquired_at, expires_at, released_at"

Lease ReadLease(const SqliteStatement& row) {
  Lease l;
  l.id = row.Text(0);
  l.organization_id = row.Text(1);
  l.pool_id = row.Text(2);
  l.profile_id = row.Text(3);
  l.exclusive = row.Int64(4) != 0;
  l.holder = row.OptText(5);
  l.fencing_token = row.Int64(6);
  l.acquired_at_ms = row.Int64(7);
  l.expires_at_ms = row.Int64(8);
  l.released_at_ms = row.OptInt64(9);
  return l;
}

Status LeaseNotFound(std::string_view id) {
  return Status::NotFound("lease " + std::string(id) + " not found");
}

}  // namespace

// ---- the lease writes' memory (0007_grants_folded_in_batches.sql) ----

namespace {

// Raises a profile's token row to `token` and `started` (neither goes
// down): an UPDATE first (after a profile's first grant it is all it
// takes, and it leaves the foreign key alone), an INSERT on its first
// grant — whose foreign key refuses a profile that is gone (kNotFound,
// nothing changed).
Status RaiseTokenRow(SqliteConnection& c, std::string_view organization_id,
                     std::string_view profile_id, int64_t token,
                     int64_t started) {
  {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement update,
        c.Prepare("UPDATE profile_grants SET fencing_token = "
                  "max(fencing_token, ?3), last_leased_at = "
                  "max(last_leased_at, ?4) WHERE organization_id = ?1 "
                  "AND profile_id = ?2"));
    update.BindAll(organization_id, profile_id, token, started);
    AGENTRY_RETURN_IF_ERROR(update.Run());
  }
  if (c.Changes() != 0) return Status::Ok();
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      c.Prepare("INSERT INTO profile_grants (organization_id, profile_id, "
                "fencing_token, last_leased_at) VALUES (?, ?, ?, ?)"));
  insert.BindAll(organization_id, profile_id, token, started);
  if (Status st = insert.Run(); !st.ok()) {
    if (c.LastErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return Status::NotFound("profile " + std::string(profile_id) +
                              " not found");
    }
    return st;
  }
  return Status::Ok();
}

// The last lease id folded, as recorded in this transaction.
Result<std::string> FoldedThrough(SqliteConnection& c) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("SELECT through_lease_id FROM lease_grants_folded"));
  AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Internal("lease_grants_folded has no row");
  return stmt.Text(0);
}

Result<bool> LeaseExists(SqliteConnection& c, std::string_view id) {
  AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                           c.Prepare("SELECT 1 FROM leases WHERE id = ?"));
  stmt.BindAll(id);
  return stmt.Step();
}

// Folds the leases with ids in (from, through] into their profiles' token
// rows by reading them (leases of a profile that is gone are left out: its
// token row went with it).
Status FoldByScan(SqliteConnection& c, const std::string& from,
                  const std::string& through) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("INSERT INTO profile_grants (organization_id, profile_id, "
                "fencing_token, last_leased_at) "
                "SELECT l.organization_id, l.profile_id, max(l.fencing_token), "
                "max(l.acquired_at) FROM leases l "
                "WHERE l.id > ?1 AND l.id <= ?2 AND EXISTS (SELECT 1 FROM "
                "profiles p WHERE p.organization_id = l.organization_id "
                "AND p.id = l.profile_id) "
                "GROUP BY l.organization_id, l.profile_id "
                "ON CONFLICT (organization_id, profile_id) DO UPDATE SET "
                "fencing_token = max(fencing_token, excluded.fencing_token), "
                "last_leased_at = max(last_leased_at, "
                "excluded.last_leased_at)"));
  stmt.BindAll(from, through);
  return stmt.Run();
}

}  // namespace

// What the writer thread knows of the profiles and of the grants not folded
// yet (only writer jobs touch it).
struct SqliteLeaseWriterState {
  // A profile known to exist (checked once in this process; a deleted one
  // is forgotten in its delete's job), with the grants written since the
  // last fold without raising its token row: the greatest token and start
  // time, and the leases that carry them (a rolled-back batch may have
  // taken them away).
  struct Profile {
    bool noted = false;
    int64_t token = 0;
    std::string token_lease;
    int64_t started = 0;
    std::string started_lease;
  };
  // By "organization\x1fprofile".
  std::unordered_map<std::string, Profile> profiles;
  std::string key;  // the last key made (reused: no allocation)
  // The greatest id a grant wrote without raising its token row; only a
  // greater id may do so (each must be seen by the next fold). Never less
  // than the recorded through_lease_id; nullopt until the first grant
  // (Start).
  std::optional<std::string> high;
  // The through_lease_id this process recorded last (nullopt: none since
  // start, or noted grants were forgotten). A fold that finds another value
  // recorded (the batch of the last fold was rolled back, or the leases
  // were written by an earlier process) reads the leases instead of
  // trusting `profiles`.
  std::optional<std::string> recorded;

  const std::string& KeyOf(std::string_view organization_id,
                           std::string_view profile_id) {
    key.assign(organization_id);
    key.push_back('\x1f');
    key.append(profile_id);
    return key;
  }

  // The profile's entry, or null when it does not exist.
  Result<Profile*> Find(SqliteConnection& c, std::string_view organization_id,
                        std::string_view profile_id) {
    auto it = profiles.find(KeyOf(organization_id, profile_id));
    if (it != profiles.end()) return &it->second;
    // The check the token row's foreign key makes. (A SELECT of its own:
    // an INSERT … SELECT would run in a statement journal.)
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("SELECT 1 FROM profiles WHERE organization_id = ? AND "
                  "id = ?"));
    stmt.BindAll(organization_id, profile_id);
    AGENTRY_ASSIGN_OR_RETURN(bool found, stmt.Step());
    if (!found) return nullptr;
    return &profiles.try_emplace(key).first->second;
  }

  void Forget(std::string_view organization_id, std::string_view profile_id) {
    auto it = profiles.find(KeyOf(organization_id, profile_id));
    if (it == profiles.end()) return;
    // If the delete is rolled back, its noted grants must still be folded:
    // the next fold reads the leases.
    if (it->second.noted) recorded.reset();
    profiles.erase(it);
  }

  // On the first grant: what was recorded, and whether leases follow it
  // (written by an earlier process: the first fold reads them).
  Status Start(SqliteConnection& c) {
    AGENTRY_ASSIGN_OR_RETURN(std::string from, FoldedThrough(c));
    AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                             c.Prepare("SELECT max(id) FROM leases"));
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.IsNull(0) || stmt.Text(0) <= from) recorded = from;
    high = std::move(from);
    return Status::Ok();
  }

  static void Note(Profile& p, const Lease& lease) {
    if (!p.noted || lease.fencing_token > p.token) {
      p.token = lease.fencing_token;
      p.token_lease = lease.id;
    }
    if (!p.noted || lease.acquired_at_ms > p.started) {
      p.started = lease.acquired_at_ms;
      p.started_lease = lease.id;
    }
    p.noted = true;
  }

  // Folds every lease up to `*high` (in the writer's transaction).
  Status Fold(SqliteConnection& c) {
    if (!high) return Status::Ok();  // no grant since start
    AGENTRY_ASSIGN_OR_RETURN(std::string from, FoldedThrough(c));
    if (*high <= from) return Status::Ok();
    bool exact = recorded == from;
    for (auto it = profiles.begin(); exact && it != profiles.end(); ++it) {
      if (!it->second.noted) continue;
      const Profile& p = it->second;
      AGENTRY_ASSIGN_OR_RETURN(exact, LeaseExists(c, p.token_lease));
      // Usually the latest grant carries both: one lookup then.
      if (exact && p.started_lease != p.token_lease) {
        AGENTRY_ASSIGN_OR_RETURN(exact, LeaseExists(c, p.started_lease));
      }
    }
    if (exact) {
      for (const auto& [k, p] : profiles) {
        if (!p.noted) continue;
        const size_t split = k.find('\x1f');
        const Status st = RaiseTokenRow(c, std::string_view(k).substr(0, split),
                                        std::string_view(k).substr(split + 1),
                                        p.token, p.started);
        // A profile that is gone has no token row to raise (its delete
        // forgets it; this only guards against a fold failing forever).
        if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
      }
    } else {
      AGENTRY_RETURN_IF_ERROR(FoldByScan(c, from, *high));
    }
    {
      // The leases of the range still unreleased join the index a restart
      // loads from (0008).
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement pin,
          c.Prepare("UPDATE leases SET pinned = 1 WHERE id > ? AND id <= ? "
                    "AND released_at IS NULL"));
      pin.BindAll(from, *high);
      AGENTRY_RETURN_IF_ERROR(pin.Run());
    }
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("UPDATE lease_grants_folded SET through_lease_id = ?"));
    stmt.BindAll(*high);
    AGENTRY_RETURN_IF_ERROR(stmt.Run());
    recorded = *high;
    for (auto& [k, p] : profiles) p.noted = false;
    return Status::Ok();
  }
};

// ---- profiles ----

SqliteProfileStore::SqliteProfileStore(
    GroupCommitWriter& writer, SqliteReadPool& readers,
    std::shared_ptr<SqliteLeaseWriterState> lease_state)
    : table_(ProfileSpec(), writer, readers),
      lease_state_(std::move(lease_state)) {}

Status SqliteProfileStore::Create(const Profile& profile) {
  return table_.Create(ToRow(profile));
}

Result<Profile> SqliteProfileStore::Get(std::string_view organization_id,
                                        std::string_view id) {
  return FromRow<Profile>(table_.Get(organization_id, id));
}

Result<Page<Profile>> SqliteProfileStore::List(std::string_view organization_id,
                                               const PageRequest& page) {
  return FromRows<Profile>(table_.List(organization_id, page));
}

Result<Profile> SqliteProfileStore::Update(
    std::string_view organization_id, std::string_view id,
    std::optional<int64_t> expected_revision, const boost::json::object& config,
    int64_t at_ms) {
  return FromRow<Profile>(
      table_.Update(organization_id, id, expected_revision, config, at_ms));
}

Status SqliteProfileStore::Delete(std::string_view organization_id,
                                  std::string_view id,
                                  std::optional<int64_t> expected_revision) {
  // Memberships go with the profile (ON DELETE CASCADE); the writer's
  // memory of it with the delete's job.
  return table_.Delete(organization_id, id, expected_revision,
                       [&](SqliteConnection&) {
                         lease_state_->Forget(organization_id, id);
                         return Status::Ok();
                       });
}

// ---- pools ----

SqlitePoolStore::SqlitePoolStore(GroupCommitWriter& writer,
                                 SqliteReadPool& readers)
    : writer_(writer), table_(PoolSpec(), writer, readers) {}

Status SqlitePoolStore::Create(const Pool& pool) {
  return table_.Create(ToRow(pool));
}

Result<Pool> SqlitePoolStore::Get(std::string_view organization_id,
                                  std::string_view id) {
  return FromRow<Pool>(table_.Get(organization_id, id));
}

Result<Page<Pool>> SqlitePoolStore::List(std::string_view organization_id,
                                         const PageRequest& page) {
  return FromRows<Pool>(table_.List(organization_id, page));
}

Result<PoolQueryResult> SqlitePoolStore::Query(std::string_view organization_id,
                                               const PoolQuery& query) {
  const char* order = "created_at";
  if (query.sort == PoolQuery::Sort::kName) order = "name";
  if (query.sort == PoolQuery::Sort::kUpdatedAt) order = "updated_at";
  AGENTRY_ASSIGN_OR_RETURN(
      sqlite::ConfigTable::QueryResult found,
      table_.Query(organization_id, "name", query.name_contains, order,
                   query.descending, query.offset, query.limit));
  PoolQueryResult out;
  out.total = found.total;
  for (sqlite::ConfigRow& row : found.rows) {
    out.items.push_back(FromRow<Pool>(std::move(row)));
  }
  return out;
}

Result<Pool> SqlitePoolStore::Update(std::string_view organization_id,
                                     std::string_view id,
                                     std::optional<int64_t> expected_revision,
                                     const boost::json::object& config,
                                     int64_t at_ms) {
  return FromRow<Pool>(
      table_.Update(organization_id, id, expected_revision, config, at_ms));
}

Status SqlitePoolStore::Delete(std::string_view organization_id,
                               std::string_view id,
                               std::optional<int64_t> expected_revision) {
  return table_.Delete(organization_id, id, expected_revision);
}

Result<size_t> SqlitePoolStore::AddMembers(
    std::string_view organization_id, std::string_view pool_id,
    const std::vector<std::string>& profile_ids, int64_t at_ms) {
  size_t added = 0;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    added = 0;
    AGENTRY_RETURN_IF_ERROR(table_.CheckExists(c, organization_id, pool_id));
    for (const std::string& profile_id : profile_ids) {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement exists,
          c.Prepare("SELECT 1 FROM profiles WHERE organization_id = ? "
                    "AND id = ?"));
      exists.BindAll(organization_id, profile_id);
      AGENTRY_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (!row) {
        return Status::NotFound("profile " + profile_id + " not found");
      }
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement insert,
          c.Prepare("INSERT INTO pool_members (organization_id, pool_id, "
                    "profile_id, added_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING"));
      insert.BindAll(organization_id, pool_id, profile_id, at_ms);
      AGENTRY_RETURN_IF_ERROR(insert.Run());
      added += static_cast<size_t>(c.Changes());
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return added;
}

Result<size_t> SqlitePoolStore::RemoveMembers(
    std::string_view organization_id, std::string_view pool_id,
    const std::vector<std::string>& profile_ids) {
  size_t removed = 0;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    removed = 0;
    AGENTRY_RETURN_IF_ERROR(table_.CheckExists(c, organization_id, pool_id));
    for (const std::string& profile_id : profile_ids) {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("DELETE FROM pool_members WHERE organization_id = ? "
                    "AND pool_id = ? AND profile_id = ?"));
      stmt.BindAll(organization_id, pool_id, profile_id);
      AGENTRY_RETURN_IF_ERROR(stmt.Run());
      removed += static_cast<size_t>(c.Changes());
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return removed;
}

// ---- leases ----

// The lease jobs run without savepoints (GroupCommitWriter::Isolation::
// kStatements): each fails, if at all, before its first change — a grant's
// first statement is what refuses a profile that is gone.

SqliteLeaseStore::SqliteLeaseStore(GroupCommitWriter& writer,
                                   SqliteReadPool& readers, size_t fold_every)
    : writer_(writer),
      readers_(readers),
      fold_every_(std::max<uint64_t>(1, fold_every)),
      state_(std::make_shared<SqliteLeaseWriterState>()) {}

void SqliteLeaseStore::Grant(const Lease& lease, Done done) {
  writer_.Submit(
      [lease, state = state_](SqliteConnection& c) -> Status {
        if (!state->high) AGENTRY_RETURN_IF_ERROR(state->Start(c));
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteLeaseWriterState::Profile * profile,
            state->Find(c, lease.organization_id, lease.profile_id));
        if (profile == nullptr) {
          return Status::NotFound("profile " + lease.profile_id + " not found");
        }
        // A lease id the next fold could miss (not after the greatest one
        // written without its token row) raises its token row now.
        const bool raise = lease.id <= *state->high;
        if (raise) {
          AGENTRY_RETURN_IF_ERROR(
              RaiseTokenRow(c, lease.organization_id, lease.profile_id,
                            lease.fencing_token, lease.acquired_at_ms));
        }
        // Fails only if the id were taken, or the database fails: then the
        // writer rolls back the batch (a token row above went with it). A
        // lease no fold will see is pinned (0008) at once.
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            c.Prepare("INSERT INTO leases (" AGENTRY_LEASE_COLUMNS
                      ", pinned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"));
        stmt.BindAll(
            lease.id, lease.organization_id, lease.pool_id, lease.profile_id,
            static_cast<int64_t>(lease.exclusive ? 1 : 0), lease.holder,
            lease.fencing_token, lease.acquired_at_ms, lease.expires_at_ms,
            raise ? std::optional<int64_t>(1) : std::nullopt);
        AGENTRY_RETURN_IF_ERROR(stmt.Run());
        if (!raise) {
          SqliteLeaseWriterState::Note(*profile, lease);
          state->high = lease.id;
        }
        return Status::Ok();
      },
      std::move(done), GroupCommitWriter::Isolation::kStatements);
  if ((grants_.fetch_add(1, std::memory_order_relaxed) + 1) % fold_every_ ==
      0) {
    // In its own savepoint: a fold that fails is undone alone, and the
    // next one covers its leases.
    writer_.Submit(
        [state = state_](SqliteConnection& c) { return state->Fold(c); },
        nullptr);
  }
}

void SqliteLeaseStore::Renew(std::string_view organization_id,
                             std::string_view lease_id, int64_t expires_at_ms,
                             Done done) {
  writer_.Submit(
      [org = std::string(organization_id), id = std::string(lease_id),
       expires_at_ms](SqliteConnection& c) -> Status {
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            c.Prepare("UPDATE leases SET expires_at = ? WHERE id = ? AND "
                      "organization_id = ? AND released_at IS NULL"));
        stmt.BindAll(expires_at_ms, id, org);
        AGENTRY_RETURN_IF_ERROR(stmt.Run());
        if (c.Changes() != 1) {
          return Status::Conflict("lease " + id + " is released");
        }
        return Status::Ok();
      },
      std::move(done), GroupCommitWriter::Isolation::kStatements);
}

void SqliteLeaseStore::Release(std::string_view organization_id,
                               std::string_view lease_id,
                               int64_t released_at_ms, Done done) {
  writer_.Submit(
      [org = std::string(organization_id), id = std::string(lease_id),
       released_at_ms](SqliteConnection& c) -> Status {
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            c.Prepare("UPDATE leases SET released_at = ? WHERE id = ? AND "
                      "organization_id = ? AND released_at IS NULL"));
        stmt.BindAll(released_at_ms, id, org);
        return stmt.Run();
      },
      std::move(done), GroupCommitWriter::Isolation::kStatements);
}

Result<Lease> SqliteLeaseStore::Get(std::string_view organization_id,
                                    std::string_view id) {
  return readers_.With([&](SqliteConnection& c) -> Result<Lease> {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("SELECT " AGENTRY_LEASE_COLUMNS
                  " FROM leases WHERE id = ? AND organization_id = ?"));
    stmt.BindAll(id, organization_id);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return LeaseNotFound(id);
    return ReadLease(stmt);
  });
}

Result<LeaseSnapshot> SqliteLeaseStore::Load(int64_t now_ms) {
  return readers_.With([&](SqliteConnection& c) -> Result<LeaseSnapshot> {
    return sqlite::InReadTransaction<LeaseSnapshot>(
        c, [&]() -> Result<LeaseSnapshot> {
          LeaseSnapshot s;
          // The leases not folded into the token rows yet, per profile:
          // (organization, profile) -> (token, start of the latest grant).
          std::map<std::pair<std::string, std::string>,
                   std::pair<int64_t, int64_t>>
              tail;
          {
            AGENTRY_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                c.Prepare("SELECT organization_id, profile_id, "
                          "max(fencing_token), max(acquired_at) FROM leases "
                          "WHERE id > (SELECT through_lease_id FROM "
                          "lease_grants_folded) "
                          "GROUP BY organization_id, profile_id"));
            while (true) {
              AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) break;
              tail.emplace(std::pair(stmt.Text(0), stmt.Text(1)),
                           std::pair(stmt.Int64(2), stmt.Int64(3)));
            }
          }
          {
            AGENTRY_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                c.Prepare("SELECT p.organization_id, p.id, p.config, "
                          "p.revision, p.created_at, p.updated_at, "
                          "coalesce(g.fencing_token, 0), g.last_leased_at "
                          "FROM profiles p LEFT JOIN profile_grants g "
                          "ON g.organization_id = p.organization_id "
                          "AND g.profile_id = p.id ORDER BY p.id"));
            while (true) {
              AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) break;
              Profile p;
              p.organization_id = stmt.Text(0);
              p.id = stmt.Text(1);
              AGENTRY_ASSIGN_OR_RETURN(
                  p.config, ParseObject(stmt.Text(2), "profile " + p.id));
              p.revision = stmt.Int64(3);
              p.created_at_ms = stmt.Int64(4);
              p.updated_at_ms = stmt.Int64(5);
              ProfileLeaseState state{p.organization_id, p.id, stmt.Int64(6),
                                      stmt.OptInt64(7)};
              if (auto t = tail.find(std::pair(p.organization_id, p.id));
                  t != tail.end()) {
                state.fencing_token =
                    std::max(state.fencing_token, t->second.first);
                state.last_leased_at_ms =
                    std::max(state.last_leased_at_ms.value_or(INT64_MIN),
                             t->second.second);
              }
              s.lease_states.push_back(std::move(state));
              s.profiles.push_back(std::move(p));
            }
          }
          {
            AGENTRY_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                c.Prepare("SELECT organization_id, id, config, revision, "
                          "created_at, updated_at FROM pools ORDER BY id"));
            while (true) {
              AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) break;
              Pool p;
              p.organization_id = stmt.Text(0);
              p.id = stmt.Text(1);
              AGENTRY_ASSIGN_OR_RETURN(
                  p.config, ParseObject(stmt.Text(2), "pool " + p.id));
              p.revision = stmt.Int64(3);
              p.created_at_ms = stmt.Int64(4);
              p.updated_at_ms = stmt.Int64(5);
              s.pools.push_back(std::move(p));
            }
          }
          {
            AGENTRY_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                c.Prepare("SELECT organization_id, pool_id, profile_id "
                          "FROM pool_members"));
            while (true) {
              AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) break;
              s.members.push_back(LeaseSnapshot::Member{
                  stmt.Text(0), stmt.Text(1), stmt.Text(2)});
            }
          }
          // The live leases: those pinned by a fold (0008's index), and
          // those after the last fold (a range of ids).
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              c.Prepare("SELECT " AGENTRY_LEASE_COLUMNS
                        " FROM leases WHERE released_at IS NULL "
                        "AND pinned = 1 AND expires_at > ?1 "
                        "UNION ALL SELECT " AGENTRY_LEASE_COLUMNS
                        " FROM leases WHERE id > (SELECT through_lease_id "
                        "FROM lease_grants_folded) AND released_at IS NULL "
                        "AND pinned IS NULL AND expires_at > ?1"));
          stmt.Bind(1, now_ms);
          while (true) {
            AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            s.live_leases.push_back(ReadLease(stmt));
          }
          return s;
        });
  });
}

}  // namespace agentry
