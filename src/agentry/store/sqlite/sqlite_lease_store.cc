#include "agentry/store/sqlite/sqlite_lease_store.h"

#include <sqlite3.h>

#include <boost/json/value.hpp>
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

// ---- profiles ----

SqliteProfileStore::SqliteProfileStore(GroupCommitWriter& writer,
                                       SqliteReadPool& readers)
    : table_(ProfileSpec(), writer, readers) {}

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
  // Memberships go with the profile (ON DELETE CASCADE).
  return table_.Delete(organization_id, id, expected_revision);
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
// kStatements): each fails, if at all, before its first change — Grant
// writes the profile's token first, whose foreign key is what refuses a
// profile that is gone.

void SqliteLeaseStore::Grant(const Lease& lease, Done done) {
  writer_.Submit(
      [lease](SqliteConnection& c) -> Status {
        {
          // The profile's token and start time (a narrow table: few pages
          // per batch). An UPDATE first: after a profile's first grant it
          // is all it takes, and it leaves the foreign key alone.
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement update,
              c.Prepare("UPDATE profile_grants SET fencing_token = "
                        "max(fencing_token, ?3), last_leased_at = "
                        "max(last_leased_at, ?4) WHERE organization_id = ?1 "
                        "AND profile_id = ?2"));
          update.BindAll(lease.organization_id, lease.profile_id,
                         lease.fencing_token, lease.acquired_at_ms);
          AGENTRY_RETURN_IF_ERROR(update.Run());
        }
        if (c.Changes() == 0) {
          // The profile's first grant, or its profile is gone (then the
          // foreign key refuses the row, and nothing was changed).
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement insert,
              c.Prepare("INSERT INTO profile_grants (organization_id, "
                        "profile_id, fencing_token, last_leased_at) "
                        "VALUES (?, ?, ?, ?)"));
          insert.BindAll(lease.organization_id, lease.profile_id,
                         lease.fencing_token, lease.acquired_at_ms);
          if (Status st = insert.Run(); !st.ok()) {
            if (c.LastErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY) {
              return Status::NotFound("profile " + lease.profile_id +
                                      " not found");
            }
            return st;
          }
        }
        // Fails only if the id were taken, or the database fails: then the
        // writer rolls back the batch (the token above went with it).
        AGENTRY_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            c.Prepare("INSERT INTO leases (" AGENTRY_LEASE_COLUMNS
                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"));
        stmt.BindAll(
            lease.id, lease.organization_id, lease.pool_id, lease.profile_id,
            static_cast<int64_t>(lease.exclusive ? 1 : 0), lease.holder,
            lease.fencing_token, lease.acquired_at_ms, lease.expires_at_ms);
        return stmt.Run();
      },
      std::move(done), GroupCommitWriter::Isolation::kStatements);
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
              s.lease_states.push_back(ProfileLeaseState{
                  p.organization_id, p.id, stmt.Int64(6), stmt.OptInt64(7)});
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
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              c.Prepare("SELECT " AGENTRY_LEASE_COLUMNS
                        " FROM leases WHERE released_at IS NULL "
                        "AND expires_at > ?"));
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
