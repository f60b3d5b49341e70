// The SQLite ProfileStore, PoolStore and LeaseStore (store.h states the
// contracts), parts of SqliteStore. Tables of migrations/sqlite/
// 0004_leases.sql, 0005_lease_hot_path.sql, 0006_leases_without_rowid.sql,
// 0007_grants_folded_in_batches.sql and
// 0008_live_leases_pinned_by_folds.sql. Lease writes are submitted to the
// store's group-commit writer without blocking (one fsync covers a whole
// batch of grants); the writer runs jobs in submission order.
//
// A grant writes its lease row only; every `fold_every` grants a job folds
// the leases written since the last fold into the profiles' token rows
// (profile_grants) and pins those still unreleased; Load adds the leases
// not folded yet (0007 and 0008 say why and how).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/store/sqlite/sqlite_config_table.h"
#include "agentry/store/store.h"

namespace agentry {

class GroupCommitWriter;
class SqliteReadPool;
// What the writer thread knows of the profiles and of the grants not folded
// yet (sqlite_lease_store.cc). SqliteLeaseStore makes it; SqliteProfileStore
// forgets a profile it deletes.
struct SqliteLeaseWriterState;

class SqliteProfileStore final : public ProfileStore {
 public:
  SqliteProfileStore(GroupCommitWriter& writer, SqliteReadPool& readers,
                     std::shared_ptr<SqliteLeaseWriterState> lease_state);

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
  sqlite::ConfigTable table_;
  std::shared_ptr<SqliteLeaseWriterState> lease_state_;
};

class SqlitePoolStore final : public PoolStore {
 public:
  SqlitePoolStore(GroupCommitWriter& writer, SqliteReadPool& readers);

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
  GroupCommitWriter& writer_;
  sqlite::ConfigTable table_;
};

class SqliteLeaseStore final : public LeaseStore {
 public:
  // `fold_every`: grants between two folds (values below 1 count as 1).
  SqliteLeaseStore(GroupCommitWriter& writer, SqliteReadPool& readers,
                   size_t fold_every);

  void Grant(const Lease& lease, Done done) override;
  void Renew(std::string_view organization_id, std::string_view lease_id,
             int64_t expires_at_ms, Done done) override;
  void Release(std::string_view organization_id, std::string_view lease_id,
               int64_t released_at_ms, Done done) override;
  Result<Lease> Get(std::string_view organization_id,
                    std::string_view id) override;
  Result<LeaseSnapshot> Load(int64_t now_ms) override;

  const std::shared_ptr<SqliteLeaseWriterState>& writer_state() const {
    return state_;
  }

 private:
  GroupCommitWriter& writer_;
  SqliteReadPool& readers_;
  const uint64_t fold_every_;
  std::atomic<uint64_t> grants_{0};
  // Shared with the jobs that use it (they may outlive this object while
  // the writer drains).
  std::shared_ptr<SqliteLeaseWriterState> state_;
};

}  // namespace agentry
