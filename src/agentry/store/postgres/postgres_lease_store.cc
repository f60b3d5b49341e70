#include "agentry/store/postgres/postgres_lease_store.h"

#include <boost/json/value.hpp>
#include <utility>

#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/postgres/pg_pool.h"
#include "agentry/store/postgres/pg_util.h"
#include "agentry/store/postgres/pg_writer.h"

namespace agentry {

using pg::ConfigTable;
using pg::ConfigTableSpec;
using pg::ParseObject;

namespace {

bool EnabledOf(const boost::json::object& config) {
  const boost::json::value* v = config.if_contains("enabled");
  return v == nullptr || !v->is_bool() || v->get_bool();
}

std::string NameOf(const boost::json::object& config) {
  const boost::json::value* v = config.if_contains("name");
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

ConfigTableSpec ProfileSpec() {
  return ConfigTableSpec{"profiles",
                         "profile",
                         {"enabled"},
                         [](const boost::json::object& c) {
                           return std::vector<PgParam>{EnabledOf(c)};
                         },
                         ""};
}

ConfigTableSpec PoolSpec() {
  return ConfigTableSpec{"pools",
                         "pool",
                         {"name"},
                         [](const boost::json::object& c) {
                           return std::vector<PgParam>{NameOf(c)};
                         },
                         "name"};
}

#define AGENTRY_LEASE_COLUMNS                                     \
  "id, organization_id, pool_id, profile_id, exclusive, holder, " \
  "fencing_token, acquired_at, expires_at, released_at"

Lease ReadLease(const PgResult& r, int row) {
  Lease l;
  l.id = r.Text(row, 0);
  l.organization_id = r.Text(row, 1);
  l.pool_id = r.Text(row, 2);
  l.profile_id = r.Text(row, 3);
  l.exclusive = r.Bool(row, 4);
  l.holder = r.OptText(row, 5);
  l.fencing_token = r.Int64(row, 6);
  l.acquired_at_ms = r.Int64(row, 7);
  l.expires_at_ms = r.Int64(row, 8);
  l.released_at_ms = r.OptInt64(row, 9);
  return l;
}

Status LeaseNotFound(std::string_view id) {
  return Status::NotFound("lease " + std::string(id) + " not found");
}

// The common columns of a profile or pool row at `row` (as ConfigTable
// selects them: organization_id, id, config, revision, created_at,
// updated_at).
template <class T>
Result<T> ReadConfigRow(const PgResult& r, int row, const char* what) {
  T t;
  t.organization_id = r.Text(row, 0);
  t.id = r.Text(row, 1);
  AGENTRY_ASSIGN_OR_RETURN(
      t.config, ParseObject(r.Text(row, 2), std::string(what) + " " + t.id));
  t.revision = r.Int64(row, 3);
  t.created_at_ms = r.Int64(row, 4);
  t.updated_at_ms = r.Int64(row, 5);
  return t;
}

}  // namespace

// ---- profiles ----

PostgresProfileStore::PostgresProfileStore(PgWriter& writer,
                                           PgReadPool& readers)
    : table_(ProfileSpec(), writer, readers) {}

Status PostgresProfileStore::Create(const Profile& profile) {
  return table_.Create(ToRow(profile));
}

Result<Profile> PostgresProfileStore::Get(std::string_view organization_id,
                                          std::string_view id) {
  return FromRow<Profile>(table_.Get(organization_id, id));
}

Result<Page<Profile>> PostgresProfileStore::List(
    std::string_view organization_id, const PageRequest& page) {
  return FromRows<Profile>(table_.List(organization_id, page));
}

Result<Profile> PostgresProfileStore::Update(
    std::string_view organization_id, std::string_view id,
    std::optional<int64_t> expected_revision, const boost::json::object& config,
    int64_t at_ms) {
  return FromRow<Profile>(
      table_.Update(organization_id, id, expected_revision, config, at_ms));
}

Status PostgresProfileStore::Delete(std::string_view organization_id,
                                    std::string_view id,
                                    std::optional<int64_t> expected_revision) {
  // Memberships go with the profile (ON DELETE CASCADE).
  return table_.Delete(organization_id, id, expected_revision);
}

// ---- pools ----

PostgresPoolStore::PostgresPoolStore(PgWriter& writer, PgReadPool& readers)
    : writer_(writer), table_(PoolSpec(), writer, readers) {}

Status PostgresPoolStore::Create(const Pool& pool) {
  return table_.Create(ToRow(pool));
}

Result<Pool> PostgresPoolStore::Get(std::string_view organization_id,
                                    std::string_view id) {
  return FromRow<Pool>(table_.Get(organization_id, id));
}

Result<Page<Pool>> PostgresPoolStore::List(std::string_view organization_id,
                                           const PageRequest& page) {
  return FromRows<Pool>(table_.List(organization_id, page));
}

Result<PoolQueryResult> PostgresPoolStore::Query(
    std::string_view organization_id, const PoolQuery& query) {
  const char* order = "created_at";
  if (query.sort == PoolQuery::Sort::kName) order = "name";
  if (query.sort == PoolQuery::Sort::kUpdatedAt) order = "updated_at";
  AGENTRY_ASSIGN_OR_RETURN(
      ConfigTable::QueryResult found,
      table_.Query(organization_id, "name", query.name_contains, order,
                   query.descending, query.offset, query.limit));
  PoolQueryResult out;
  out.total = found.total;
  out.items.reserve(found.rows.size());
  for (pg::ConfigRow& row : found.rows) {
    out.items.push_back(FromRow<Pool>(std::move(row)));
  }
  return out;
}

Result<Pool> PostgresPoolStore::Update(std::string_view organization_id,
                                       std::string_view id,
                                       std::optional<int64_t> expected_revision,
                                       const boost::json::object& config,
                                       int64_t at_ms) {
  return FromRow<Pool>(
      table_.Update(organization_id, id, expected_revision, config, at_ms));
}

Status PostgresPoolStore::Delete(std::string_view organization_id,
                                 std::string_view id,
                                 std::optional<int64_t> expected_revision) {
  return table_.Delete(organization_id, id, expected_revision);
}

Result<size_t> PostgresPoolStore::AddMembers(
    std::string_view organization_id, std::string_view pool_id,
    const std::vector<std::string>& profile_ids, int64_t at_ms) {
  size_t added = 0;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    added = 0;
    // The pool and each profile are locked against deletion until COMMIT.
    AGENTRY_RETURN_IF_ERROR(table_.CheckExists(c, organization_id, pool_id));
    for (const std::string& profile_id : profile_ids) {
      PgResult exists = c.Exec(
          "SELECT 1 FROM profiles WHERE organization_id = $1 AND id = $2 "
          "FOR KEY SHARE",
          organization_id, profile_id);
      AGENTRY_RETURN_IF_ERROR(exists.status());
      if (exists.rows() == 0) {
        return Status::NotFound("profile " + profile_id + " not found");
      }
      PgResult inserted = c.Exec(
          "INSERT INTO pool_members (organization_id, pool_id, profile_id, "
          "added_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
          organization_id, pool_id, profile_id, at_ms);
      AGENTRY_RETURN_IF_ERROR(inserted.status());
      added += static_cast<size_t>(inserted.affected());
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return added;
}

Result<size_t> PostgresPoolStore::RemoveMembers(
    std::string_view organization_id, std::string_view pool_id,
    const std::vector<std::string>& profile_ids) {
  size_t removed = 0;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    removed = 0;
    AGENTRY_RETURN_IF_ERROR(table_.CheckExists(c, organization_id, pool_id));
    for (const std::string& profile_id : profile_ids) {
      PgResult deleted = c.Exec(
          "DELETE FROM pool_members WHERE organization_id = $1 "
          "AND pool_id = $2 AND profile_id = $3",
          organization_id, pool_id, profile_id);
      AGENTRY_RETURN_IF_ERROR(deleted.status());
      removed += static_cast<size_t>(deleted.affected());
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return removed;
}

// ---- leases ----

void PostgresLeaseStore::Grant(const Lease& lease, Done done) {
  writer_.Submit(
      [lease](PgConnection& c) -> Status {
        AGENTRY_RETURN_IF_ERROR(
            c.Exec("INSERT INTO leases (" AGENTRY_LEASE_COLUMNS
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
                   lease.id, lease.organization_id, lease.pool_id,
                   lease.profile_id, lease.exclusive, lease.holder,
                   lease.fencing_token, lease.acquired_at_ms,
                   lease.expires_at_ms)
                .status());
        PgResult updated = c.Exec(
            "UPDATE profiles SET "
            "fencing_token = GREATEST(fencing_token, $1), "
            "last_leased_at = GREATEST(COALESCE(last_leased_at, 0), $2) "
            "WHERE organization_id = $3 AND id = $4",
            lease.fencing_token, lease.acquired_at_ms, lease.organization_id,
            lease.profile_id);
        AGENTRY_RETURN_IF_ERROR(updated.status());
        if (updated.affected() != 1) {
          return Status::NotFound("profile " + lease.profile_id + " not found");
        }
        return Status::Ok();
      },
      std::move(done));
}

void PostgresLeaseStore::Renew(std::string_view organization_id,
                               std::string_view lease_id, int64_t expires_at_ms,
                               Done done) {
  writer_.Submit(
      [org = std::string(organization_id), id = std::string(lease_id),
       expires_at_ms](PgConnection& c) -> Status {
        PgResult r = c.Exec(
            "UPDATE leases SET expires_at = $1 WHERE id = $2 AND "
            "organization_id = $3 AND released_at IS NULL",
            expires_at_ms, id, org);
        AGENTRY_RETURN_IF_ERROR(r.status());
        if (r.affected() != 1) {
          return Status::Conflict("lease " + id + " is released");
        }
        return Status::Ok();
      },
      std::move(done));
}

void PostgresLeaseStore::Release(std::string_view organization_id,
                                 std::string_view lease_id,
                                 int64_t released_at_ms, Done done) {
  writer_.Submit(
      [org = std::string(organization_id), id = std::string(lease_id),
       released_at_ms](PgConnection& c) -> Status {
        return c
            .Exec(
                "UPDATE leases SET released_at = $1 WHERE id = $2 AND "
                "organization_id = $3 AND released_at IS NULL",
                released_at_ms, id, org)
            .status();
      },
      std::move(done));
}

Result<Lease> PostgresLeaseStore::Get(std::string_view organization_id,
                                      std::string_view id) {
  return readers_.With([&](PgConnection& c) -> Result<Lease> {
    PgResult r = c.Exec("SELECT " AGENTRY_LEASE_COLUMNS
                        " FROM leases WHERE id = $1 AND organization_id = $2",
                        id, organization_id);
    AGENTRY_RETURN_IF_ERROR(r.status());
    if (r.rows() == 0) return LeaseNotFound(id);
    return ReadLease(r, 0);
  });
}

Result<LeaseSnapshot> PostgresLeaseStore::Load(int64_t now_ms) {
  return readers_.With([&](PgConnection& c) -> Result<LeaseSnapshot> {
    return pg::InReadTransaction<LeaseSnapshot>(
        c, [&]() -> Result<LeaseSnapshot> {
          LeaseSnapshot s;
          PgResult profiles = c.Exec(
              "SELECT organization_id, id, config, revision, created_at, "
              "updated_at, fencing_token, last_leased_at FROM profiles "
              "ORDER BY id");
          AGENTRY_RETURN_IF_ERROR(profiles.status());
          for (int i = 0; i < profiles.rows(); ++i) {
            AGENTRY_ASSIGN_OR_RETURN(
                Profile p, ReadConfigRow<Profile>(profiles, i, "profile"));
            s.lease_states.push_back(
                ProfileLeaseState{p.organization_id, p.id, profiles.Int64(i, 6),
                                  profiles.OptInt64(i, 7)});
            s.profiles.push_back(std::move(p));
          }
          PgResult pools = c.Exec(
              "SELECT organization_id, id, config, revision, created_at, "
              "updated_at FROM pools ORDER BY id");
          AGENTRY_RETURN_IF_ERROR(pools.status());
          for (int i = 0; i < pools.rows(); ++i) {
            AGENTRY_ASSIGN_OR_RETURN(Pool p,
                                     ReadConfigRow<Pool>(pools, i, "pool"));
            s.pools.push_back(std::move(p));
          }
          PgResult members = c.Exec(
              "SELECT organization_id, pool_id, profile_id FROM pool_members");
          AGENTRY_RETURN_IF_ERROR(members.status());
          for (int i = 0; i < members.rows(); ++i) {
            s.members.push_back(LeaseSnapshot::Member{
                members.Text(i, 0), members.Text(i, 1), members.Text(i, 2)});
          }
          PgResult live = c.Exec("SELECT " AGENTRY_LEASE_COLUMNS
                                 " FROM leases WHERE released_at IS NULL "
                                 "AND expires_at > $1",
                                 now_ms);
          AGENTRY_RETURN_IF_ERROR(live.status());
          for (int i = 0; i < live.rows(); ++i) {
            s.live_leases.push_back(ReadLease(live, i));
          }
          return s;
        });
  });
}

#undef AGENTRY_LEASE_COLUMNS

}  // namespace agentry
