#include "agentry/store/postgres/postgres_lease_store.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
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
  return LoadWhere(std::nullopt, now_ms);
}

Result<LeaseSnapshot> PostgresLeaseStore::LoadOrganization(
    std::string_view organization_id, int64_t now_ms) {
  return LoadWhere(std::string(organization_id), now_ms);
}

Result<LeaseSnapshot> PostgresLeaseStore::LoadWhere(
    std::optional<std::string> org, int64_t now_ms) {
  return readers_.With([&](PgConnection& c) -> Result<LeaseSnapshot> {
    return pg::InReadTransaction<LeaseSnapshot>(
        c, [&]() -> Result<LeaseSnapshot> {
          LeaseSnapshot s;
          PgResult profiles = c.Exec(
              "SELECT organization_id, id, config, revision, created_at, "
              "updated_at, fencing_token, last_leased_at FROM profiles "
              "WHERE ($1::text IS NULL OR organization_id = $1) ORDER BY id",
              org);
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
              "updated_at FROM pools "
              "WHERE ($1::text IS NULL OR organization_id = $1) ORDER BY id",
              org);
          AGENTRY_RETURN_IF_ERROR(pools.status());
          for (int i = 0; i < pools.rows(); ++i) {
            AGENTRY_ASSIGN_OR_RETURN(Pool p,
                                     ReadConfigRow<Pool>(pools, i, "pool"));
            s.pools.push_back(std::move(p));
          }
          PgResult members = c.Exec(
              "SELECT organization_id, pool_id, profile_id FROM pool_members "
              "WHERE ($1::text IS NULL OR organization_id = $1)",
              org);
          AGENTRY_RETURN_IF_ERROR(members.status());
          for (int i = 0; i < members.rows(); ++i) {
            s.members.push_back(LeaseSnapshot::Member{
                members.Text(i, 0), members.Text(i, 1), members.Text(i, 2)});
          }
          PgResult live =
              c.Exec("SELECT " AGENTRY_LEASE_COLUMNS
                     " FROM leases WHERE released_at IS NULL "
                     "AND expires_at > $1 "
                     "AND ($2::text IS NULL OR organization_id = $2)",
                     now_ms, org);
          AGENTRY_RETURN_IF_ERROR(live.status());
          for (int i = 0; i < live.rows(); ++i) {
            s.live_leases.push_back(ReadLease(live, i));
          }
          return s;
        });
  });
}

// ---- decisions in the database ----
//
// Each runs as one job of the writer's batch (a savepoint within its
// transaction, READ COMMITTED: every statement sees what other nodes have
// committed when it starts). A grant locks its profile row until the batch
// commits, so no other node can grant it meanwhile.

namespace {

// A profile row as ReadConfigRow reads it, prefixed with the table alias.
#define AGENTRY_PROFILE_COLUMNS \
  "p.organization_id, p.id, p.config, p.revision, p.created_at, p.updated_at"

// The next free enabled member of the pool in the order's order, locked.
// Free: the profile row's exclusive_until / shared_until (kept by a trigger
// on leases, migration 0006) are past. An exclusive order skips rows
// another transaction has locked (another node granting them); a shared one
// waits for them, and PostgreSQL re-checks the condition on the row as the
// other transaction left it.
std::string CandidateSql(bool exclusive, bool lru) {
  std::string sql =
      "SELECT p.id FROM pool_members m JOIN profiles p "
      "ON p.organization_id = m.organization_id AND p.id = m.profile_id "
      "WHERE m.organization_id = $1 AND m.pool_id = $2 AND p.enabled "
      "AND p.exclusive_until <= $3 AND (NOT $4 OR p.shared_until <= $3) ";
  sql += lru ? "ORDER BY p.last_leased_at ASC NULLS FIRST, "
               "p.last_grant_seq ASC, p.id ASC "
             : "ORDER BY p.last_leased_at DESC NULLS LAST, "
               "p.last_grant_seq DESC, p.id ASC ";
  sql += exclusive ? "LIMIT 1 FOR UPDATE OF p SKIP LOCKED"
                   : "LIMIT 1 FOR UPDATE OF p";
  return sql;
}

// Seconds until the earliest lease blocking the pool expires (≥ 1).
Result<int> RetryAfterS(PgConnection& c, const LeaseOrder& o) {
  PgResult r = c.Exec(
      "SELECT min(l.expires_at) FROM leases l JOIN pool_members m "
      "ON m.organization_id = l.organization_id AND m.profile_id = "
      "l.profile_id WHERE m.organization_id = $1 AND m.pool_id = $2 "
      "AND l.released_at IS NULL AND l.expires_at > $3 AND (l.exclusive OR $4)",
      o.organization_id, o.pool_id, o.now_ms, o.exclusive);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0 || r.IsNull(0, 0)) return 1;
  const int64_t s = (r.Int64(0, 0) - o.now_ms + 999) / 1000;
  return static_cast<int>(std::clamp<int64_t>(s, 1, 86400));
}

Result<Profile> ProfileOf(PgConnection& c, std::string_view organization_id,
                          std::string_view profile_id) {
  PgResult r = c.Exec("SELECT " AGENTRY_PROFILE_COLUMNS
                      " FROM profiles p WHERE p.organization_id = $1 "
                      "AND p.id = $2",
                      organization_id, profile_id);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) {
    return Status::NotFound("profile " + std::string(profile_id) +
                            " not found");
  }
  return ReadConfigRow<Profile>(r, 0, "profile");
}

Status DecideIn(PgConnection& c, const LeaseOrder& o, DecidedLease& out) {
  const std::string candidate_sql = CandidateSql(o.exclusive, o.lru);
  // Belt and braces: the check below, a new statement, looks at the
  // leases themselves; a candidate it refuses is not offered again (the
  // next round's snapshot sees what made it busy).
  for (int round = 0; round < 8; ++round) {
    PgResult found = c.Exec(candidate_sql, o.organization_id, o.pool_id,
                            o.now_ms, o.exclusive);
    AGENTRY_RETURN_IF_ERROR(found.status());
    if (found.rows() == 0) break;
    const std::string profile_id = found.Text(0, 0);
    PgResult busy = c.Exec(
        "SELECT 1 FROM leases WHERE organization_id = $1 AND profile_id = $2 "
        "AND released_at IS NULL AND expires_at > $3 AND (exclusive OR $4) "
        "LIMIT 1",
        o.organization_id, profile_id, o.now_ms, o.exclusive);
    AGENTRY_RETURN_IF_ERROR(busy.status());
    if (busy.rows() > 0) continue;
    PgResult token = c.Exec(
        "UPDATE profiles SET fencing_token = fencing_token + 1, "
        "last_leased_at = GREATEST(COALESCE(last_leased_at, 0), $3), "
        "last_grant_seq = nextval('lease_grants') "
        "WHERE organization_id = $1 AND id = $2 RETURNING fencing_token",
        o.organization_id, profile_id, o.now_ms);
    AGENTRY_RETURN_IF_ERROR(token.status());
    if (token.rows() != 1) continue;  // deleted meanwhile
    Lease& l = out.lease;
    l.id = o.lease_id;
    l.organization_id = o.organization_id;
    l.pool_id = o.pool_id;
    l.profile_id = profile_id;
    l.exclusive = o.exclusive;
    l.holder = o.holder;
    l.fencing_token = token.Int64(0, 0);
    l.acquired_at_ms = o.now_ms;
    l.expires_at_ms = o.now_ms + o.ttl_ms;
    l.released_at_ms.reset();
    AGENTRY_RETURN_IF_ERROR(
        c.Exec("INSERT INTO leases (" AGENTRY_LEASE_COLUMNS
               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
               l.id, l.organization_id, l.pool_id, l.profile_id, l.exclusive,
               l.holder, l.fencing_token, l.acquired_at_ms, l.expires_at_ms)
            .status());
    AGENTRY_ASSIGN_OR_RETURN(out.profile,
                             ProfileOf(c, o.organization_id, profile_id));
    return Status::Ok();
  }
  AGENTRY_ASSIGN_OR_RETURN(int retry, RetryAfterS(c, o));
  return Status::NoProfileAvailable(
      "every profile of the pool is leased or disabled", retry);
}

#undef AGENTRY_PROFILE_COLUMNS

// Runs `job` filling a DecidedLease in the writer and hands it to `done`.
void SubmitDecided(PgWriter& writer,
                   std::function<Status(PgConnection&, DecidedLease&)> job,
                   DecidedDone done) {
  auto out = std::make_shared<DecidedLease>();
  writer.Submit(
      [out, job = std::move(job)](PgConnection& c) -> Status {
        *out = DecidedLease{};  // a batch may run again
        return job(c, *out);
      },
      [out, done = std::move(done)](Status st) {
        if (!st.ok()) {
          done(std::move(st));
          return;
        }
        done(std::move(*out));
      });
}

}  // namespace

void PostgresLeaseStore::Decide(const LeaseOrder& order, DecidedDone done) {
  SubmitDecided(
      writer_,
      [order](PgConnection& c, DecidedLease& out) {
        return DecideIn(c, order, out);
      },
      std::move(done));
}

void PostgresLeaseStore::RenewLive(std::string_view organization_id,
                                   std::string_view lease_id,
                                   int64_t fencing_token, int64_t now_ms,
                                   std::optional<int64_t> ttl_ms,
                                   DecidedDone done) {
  SubmitDecided(
      writer_,
      [org = std::string(organization_id), id = std::string(lease_id),
       fencing_token, now_ms,
       ttl_ms](PgConnection& c, DecidedLease& out) -> Status {
        // The pool's default TTL when none is given (300 s when the pool
        // is gone).
        PgResult r = c.Exec(
            "UPDATE leases SET expires_at = GREATEST(expires_at, $4 + "
            "COALESCE($5, (SELECT COALESCE((p.config::json->>"
            "'default_lease_ttl_seconds')::bigint, 300) * 1000 FROM pools p "
            "WHERE p.organization_id = leases.organization_id "
            "AND p.id = leases.pool_id), 300000)) "
            "WHERE id = $1 AND organization_id = $2 AND released_at IS NULL "
            "AND expires_at > $4 AND fencing_token = $3 "
            "RETURNING " AGENTRY_LEASE_COLUMNS,
            id, org, fencing_token, now_ms, ttl_ms);
        AGENTRY_RETURN_IF_ERROR(r.status());
        if (r.rows() == 0) {
          PgResult found =
              c.Exec("SELECT " AGENTRY_LEASE_COLUMNS
                     " FROM leases WHERE id = $1 AND organization_id = $2",
                     id, org);
          AGENTRY_RETURN_IF_ERROR(found.status());
          if (found.rows() == 0) return LeaseNotFound(id);
          const Lease l = ReadLease(found, 0);
          if (l.ActiveAt(now_ms)) {
            return Status::Conflict("fencing_token " +
                                    std::to_string(fencing_token) +
                                    " is not the lease's token");
          }
          return Status::Conflict("lease " + id + " is " + l.StatusAt(now_ms) +
                                  "; acquire a new one");
        }
        out.lease = ReadLease(r, 0);
        AGENTRY_ASSIGN_OR_RETURN(out.profile,
                                 ProfileOf(c, org, out.lease.profile_id));
        return Status::Ok();
      },
      std::move(done));
}

void PostgresLeaseStore::ReleaseExisting(std::string_view organization_id,
                                         std::string_view lease_id,
                                         int64_t released_at_ms, Done done) {
  writer_.Submit(
      [org = std::string(organization_id), id = std::string(lease_id),
       released_at_ms](PgConnection& c) -> Status {
        PgResult r = c.Exec(
            "UPDATE leases SET released_at = $1 WHERE id = $2 AND "
            "organization_id = $3 AND released_at IS NULL",
            released_at_ms, id, org);
        AGENTRY_RETURN_IF_ERROR(r.status());
        if (r.affected() == 1) return Status::Ok();
        PgResult found = c.Exec(
            "SELECT 1 FROM leases WHERE id = $1 AND organization_id = $2", id,
            org);
        AGENTRY_RETURN_IF_ERROR(found.status());
        return found.rows() == 0 ? LeaseNotFound(id) : Status::Ok();
      },
      std::move(done));
}

Result<Page<Lease>> PostgresLeaseStore::ListLive(
    std::string_view organization_id, std::string_view pool_id, int64_t now_ms,
    const PageRequest& page) {
  return readers_.With([&](PgConnection& c) -> Result<Page<Lease>> {
    PgResult r =
        c.Exec("SELECT " AGENTRY_LEASE_COLUMNS
               " FROM leases WHERE organization_id = $1 AND pool_id = $2 "
               "AND released_at IS NULL AND expires_at > $3 "
               "AND ($4::text IS NULL OR id > $4) ORDER BY id LIMIT $5",
               organization_id, pool_id, now_ms, page.after_id,
               static_cast<int64_t>(page.limit) + 1);
    AGENTRY_RETURN_IF_ERROR(r.status());
    Page<Lease> out;
    for (int i = 0; i < r.rows(); ++i) {
      if (out.items.size() == page.limit) {
        out.has_more = true;
        break;
      }
      out.items.push_back(ReadLease(r, i));
    }
    return out;
  });
}

Result<bool> PostgresLeaseStore::HasLiveLease(std::string_view organization_id,
                                              std::string_view profile_id,
                                              int64_t now_ms) {
  return readers_.With([&](PgConnection& c) -> Result<bool> {
    PgResult r = c.Exec(
        "SELECT 1 FROM leases WHERE organization_id = $1 AND profile_id = $2 "
        "AND released_at IS NULL AND expires_at > $3 LIMIT 1",
        organization_id, profile_id, now_ms);
    AGENTRY_RETURN_IF_ERROR(r.status());
    return r.rows() > 0;
  });
}

#undef AGENTRY_LEASE_COLUMNS

}  // namespace agentry
