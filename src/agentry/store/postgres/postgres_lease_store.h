// The PostgreSQL ProfileStore, PoolStore and LeaseStore (store.h states the
// contracts), parts of PostgresStore; the same rules as
// sqlite/sqlite_lease_store.h. Tables of migrations/postgres/0004_leases.sql.
// Lease writes are submitted to the store's PgWriter without blocking (one
// COMMIT covers a whole batch of grants); the writer runs and commits jobs
// in submission order, and `done` runs after the COMMIT.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/store/postgres/pg_config_table.h"
#include "agentry/store/store.h"

namespace agentry {

class PgWriter;
class PgReadPool;

class PostgresProfileStore final : public ProfileStore {
 public:
  // Both must outlive the store.
  PostgresProfileStore(PgWriter& writer, PgReadPool& readers);

  Status Create(const Profile& profile) override;
  Result<Profile> Get(std::string_view organization_id,
                      std::string_view id) override;
  Result<Page<Profile>> List(std::string_view organization_id,
                             const PageRequest& page) override;
  Result<Profile> Update(std::string_view organization_id, std::string_view id,
                         std::optional<int64_t> expected_revision,
                         const boost::json::object& config,
                         int64_t at_ms) override;
  Status Delete(std::string_view organization_id, std::string_view id,
                std::optional<int64_t> expected_revision) override;

 private:
  pg::ConfigTable table_;
};

class PostgresPoolStore final : public PoolStore {
 public:
  // Both must outlive the store.
  PostgresPoolStore(PgWriter& writer, PgReadPool& readers);

  Status Create(const Pool& pool) override;
  Result<Pool> Get(std::string_view organization_id,
                   std::string_view id) override;
  Result<Page<Pool>> List(std::string_view organization_id,
                          const PageRequest& page) override;
  Result<PoolQueryResult> Query(std::string_view organization_id,
                                const PoolQuery& query) override;
  Result<Pool> Update(std::string_view organization_id, std::string_view id,
                      std::optional<int64_t> expected_revision,
                      const boost::json::object& config,
                      int64_t at_ms) override;
  Status Delete(std::string_view organization_id, std::string_view id,
                std::optional<int64_t> expected_revision) override;
  Result<size_t> AddMembers(std::string_view organization_id,
                            std::string_view pool_id,
                            const std::vector<std::string>& profile_ids,
                            int64_t at_ms) override;
  Result<size_t> RemoveMembers(
      std::string_view organization_id, std::string_view pool_id,
      const std::vector<std::string>& profile_ids) override;

 private:
  PgWriter& writer_;
  pg::ConfigTable table_;
};

class PostgresLeaseStore final : public LeaseStore {
 public:
  // Both must outlive the store.
  PostgresLeaseStore(PgWriter& writer, PgReadPool& readers)
      : writer_(writer), readers_(readers) {}

  void Grant(const Lease& lease, Done done) override;
  void Renew(std::string_view organization_id, std::string_view lease_id,
             int64_t expires_at_ms, Done done) override;
  void Release(std::string_view organization_id, std::string_view lease_id,
               int64_t released_at_ms, Done done) override;
  Result<Lease> Get(std::string_view organization_id,
                    std::string_view id) override;
  Result<LeaseSnapshot> Load(int64_t now_ms) override;

  Result<LeaseSnapshot> LoadOrganization(std::string_view organization_id,
                                         int64_t now_ms) override;
  void Decide(const LeaseOrder& order, DecidedDone done) override;
  void RenewLive(std::string_view organization_id, std::string_view lease_id,
                 int64_t fencing_token, int64_t now_ms,
                 std::optional<int64_t> ttl_ms, DecidedDone done) override;
  void ReleaseExisting(std::string_view organization_id,
                       std::string_view lease_id, int64_t released_at_ms,
                       Done done) override;
  Result<Page<Lease>> ListLive(std::string_view organization_id,
                               std::string_view pool_id, int64_t now_ms,
                               const PageRequest& page) override;
  Result<bool> HasLiveLease(std::string_view organization_id,
                            std::string_view profile_id,
                            int64_t now_ms) override;

 private:
  Result<LeaseSnapshot> LoadWhere(std::optional<std::string> organization_id,
                                  int64_t now_ms);

  PgWriter& writer_;
  PgReadPool& readers_;
};

}  // namespace agentry
