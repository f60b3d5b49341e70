// The PostgreSQL AgentStore (store.h states the contract), part of
// PostgresStore; the same rules as sqlite/sqlite_agent_store.h.
//
// Tables `agents` and `agent_versions` (migrations/postgres/0002_agents.sql);
// configurations are stored as serialized canonical JSON (TEXT) and parsed
// back. Every mutation is one job of the store's PgWriter: it locks the head
// row (SELECT … FOR UPDATE), checks the revision, changes and reads the new
// head in one transaction, and the call returns once that transaction is
// committed — so concurrent writers on several nodes lose no update and get
// distinct version numbers. Reads borrow a connection from the read pool; a
// read that takes several statements runs them in one read transaction (one
// snapshot).
//
// Besides the contract: every method that takes an agent id also accepts
// the agent's key (a UUID is matched against ids, in either case, anything
// else against keys). Create stores the new head with revision and
// draft_revision 1, published_draft_revision 0, no versions and no active
// version, whatever `agent` holds in those fields. The name filter of List
// folds case with FoldCase (common/text.h), as the SQLite backend does.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"
#include "agentry/store/store.h"

namespace agentry {

class PgWriter;
class PgReadPool;

class PostgresAgentStore final : public AgentStore {
 public:
  // Both must outlive the store.
  PostgresAgentStore(PgWriter& writer, PgReadPool& readers)
      : writer_(writer), readers_(readers) {}

  Status Create(const AgentRecord& agent,
                const std::optional<std::string>& grant_to_key_id) override;
  Result<AgentRecord> Get(std::string_view organization_id,
                          std::string_view id_or_key) override;
  Result<Page<AgentRecord>> List(std::string_view organization_id,
                                 const AgentListFilter& filter,
                                 const PageRequest& page) override;
  Result<AgentRecord> UpdateDraft(std::string_view organization_id,
                                  std::string_view agent_id,
                                  std::optional<int64_t> expected_revision,
                                  const boost::json::object& draft,
                                  const std::string& current_name,
                                  bool current_enabled, int64_t at_ms) override;
  Result<AgentVersion> Publish(std::string_view organization_id,
                               std::string_view agent_id,
                               std::optional<int64_t> expected_revision,
                               const boost::json::object& config,
                               const std::string& note,
                               const std::string& published_by,
                               int64_t at_ms) override;
  Result<AgentRecord> Activate(std::string_view organization_id,
                               std::string_view agent_id, int version,
                               std::optional<int64_t> expected_revision,
                               const std::string& activated_by,
                               int64_t at_ms) override;
  Status Delete(std::string_view organization_id, std::string_view agent_id,
                std::optional<int64_t> expected_revision) override;
  Result<AgentVersion> GetVersion(std::string_view organization_id,
                                  std::string_view agent_id,
                                  int version) override;
  Result<Page<AgentVersionSummary>> ListVersions(
      std::string_view organization_id, std::string_view agent_id,
      std::optional<int> before_version, size_t limit) override;

 private:
  PgWriter& writer_;
  PgReadPool& readers_;
};

}  // namespace agentry
