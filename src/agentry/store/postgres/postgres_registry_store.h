// The PostgreSQL ToolStore and InstructionStore (store.h states the
// contracts), parts of PostgresStore; the same rules as
// sqlite/sqlite_registry_store.h.
//
// Tables `tools`, `instructions` and `instruction_versions`
// (migrations/postgres/0003_registry.sql); configurations are stored as
// serialised canonical JSON (TEXT). Every mutation is one job of the store's
// PgWriter (the row it checks is locked, checks and change in one
// transaction, committed when the call returns); reads borrow a connection
// from the read pool.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"
#include "agentry/store/postgres/pg_config_table.h"
#include "agentry/store/store.h"

namespace agentry {

class PgWriter;
class PgReadPool;

class PostgresToolStore final : public ToolStore {
 public:
  // Both must outlive the store.
  PostgresToolStore(PgWriter& writer, PgReadPool& readers);

  Status Create(const Tool& tool) override;
  Result<Tool> Get(std::string_view organization_id,
                   std::string_view id) override;
  Result<Page<Tool>> List(std::string_view organization_id,
                          const PageRequest& page) override;
  Result<Tool> Update(std::string_view organization_id, std::string_view id,
                      std::optional<int64_t> expected_revision,
                      const boost::json::object& config,
                      int64_t at_ms) override;
  Status Delete(std::string_view organization_id, std::string_view id,
                std::optional<int64_t> expected_revision) override;

 private:
  pg::ConfigTable table_;
};

class PostgresInstructionStore final : public InstructionStore {
 public:
  // Both must outlive the store.
  PostgresInstructionStore(PgWriter& writer, PgReadPool& readers)
      : writer_(writer), readers_(readers) {}

  Status Create(const Instruction& first) override;
  Result<Instruction> Get(std::string_view organization_id, std::string_view id,
                          std::optional<int> version) override;
  Result<Page<Instruction>> List(std::string_view organization_id,
                                 const PageRequest& page) override;
  Result<Page<Instruction>> ListVersions(std::string_view organization_id,
                                         std::string_view id,
                                         std::optional<int> before_version,
                                         size_t limit) override;
  Result<Instruction> AddVersion(std::string_view organization_id,
                                 std::string_view id, int expected_latest,
                                 const boost::json::object& config,
                                 int64_t at_ms,
                                 const std::string& created_by) override;

 private:
  PgWriter& writer_;
  PgReadPool& readers_;
};

}  // namespace agentry
