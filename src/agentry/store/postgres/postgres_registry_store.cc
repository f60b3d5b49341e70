#include "agentry/store/postgres/postgres_registry_store.h"

#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "agentry/store/postgres/pg_db.h"
#include "agentry/store/postgres/pg_pool.h"
#include "agentry/store/postgres/pg_util.h"
#include "agentry/store/postgres/pg_writer.h"

namespace agentry {

using pg::CheckLimit;
using pg::InReadTransaction;
using pg::ParseObject;
using pg::ReadPage;
using pg::ToJson;

namespace {

// ---- instructions ----

// One version joined with its instruction's creation time.
#define AGENTRY_INSTRUCTION_SELECT                                        \
  "SELECT v.organization_id, v.instruction_id, v.version, v.config, "     \
  "i.created_at, v.created_at, v.created_by FROM instruction_versions v " \
  "JOIN instructions i ON i.organization_id = v.organization_id "         \
  "AND i.id = v.instruction_id "

Status InstructionNotFound(std::string_view id) {
  return Status::NotFound("instruction " + std::string(id) + " not found");
}

Result<Instruction> ReadInstruction(const PgResult& r, int row) {
  Instruction ins;
  ins.organization_id = r.Text(row, 0);
  ins.id = r.Text(row, 1);
  ins.version = static_cast<int>(r.Int64(row, 2));
  AGENTRY_ASSIGN_OR_RETURN(
      ins.config, ParseObject(r.Text(row, 3), "config of instruction " +
                                                  ins.id + " version " +
                                                  std::to_string(ins.version)));
  ins.created_at_ms = r.Int64(row, 4);
  ins.updated_at_ms = r.Int64(row, 5);
  ins.created_by = r.Text(row, 6);
  return ins;
}

Status InsertVersion(PgConnection& c, const Instruction& ins,
                     const std::string& config_text) {
  return c
      .Exec(
          "INSERT INTO instruction_versions (organization_id, "
          "instruction_id, version, config, created_at, created_by) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
          ins.organization_id, ins.id, ins.version, config_text,
          ins.updated_at_ms, ins.created_by)
      .status();
}

// The instruction's latest version number (kNotFound when absent); with
// `for_update` (inside a write job) its row stays locked until COMMIT.
Result<int> LatestVersion(PgConnection& c, std::string_view organization_id,
                          std::string_view id, bool for_update) {
  PgResult r = for_update
                   ? c.Exec(
                         "SELECT latest_version FROM instructions "
                         "WHERE organization_id = $1 AND id = $2 FOR UPDATE",
                         organization_id, id)
                   : c.Exec(
                         "SELECT latest_version FROM instructions "
                         "WHERE organization_id = $1 AND id = $2",
                         organization_id, id);
  AGENTRY_RETURN_IF_ERROR(r.status());
  if (r.rows() == 0) return InstructionNotFound(id);
  return static_cast<int>(r.Int64(0, 0));
}

}  // namespace

// ---- PostgresToolStore ----

PostgresToolStore::PostgresToolStore(PgWriter& writer, PgReadPool& readers)
    : table_(pg::ConfigTableSpec{"tools", "tool", {}, nullptr, ""}, writer,
             readers) {}

Status PostgresToolStore::Create(const Tool& tool) {
  return table_.Create(ToRow(tool));
}

Result<Tool> PostgresToolStore::Get(std::string_view organization_id,
                                    std::string_view id) {
  return FromRow<Tool>(table_.Get(organization_id, id));
}

Result<Page<Tool>> PostgresToolStore::List(std::string_view organization_id,
                                           const PageRequest& page) {
  return FromRows<Tool>(table_.List(organization_id, page));
}

Result<Tool> PostgresToolStore::Update(std::string_view organization_id,
                                       std::string_view id,
                                       std::optional<int64_t> expected_revision,
                                       const boost::json::object& config,
                                       int64_t at_ms) {
  return FromRow<Tool>(
      table_.Update(organization_id, id, expected_revision, config, at_ms));
}

Status PostgresToolStore::Delete(std::string_view organization_id,
                                 std::string_view id,
                                 std::optional<int64_t> expected_revision) {
  return table_.Delete(organization_id, id, expected_revision);
}

// ---- PostgresInstructionStore ----

Status PostgresInstructionStore::Create(const Instruction& first) {
  Instruction ins = first;
  ins.version = 1;
  const std::string config = ToJson(ins.config);
  return writer_.Write([&](PgConnection& c) -> Status {
    PgResult r = c.Exec(
        "INSERT INTO instructions (organization_id, id, latest_version, "
        "created_at, updated_at) VALUES ($1, $2, 1, $3, $4)",
        ins.organization_id, ins.id, ins.created_at_ms, ins.updated_at_ms);
    if (r.sqlstate() == kPgForeignKeyViolation) {
      return Status::NotFound("organization " + ins.organization_id +
                              " not found");
    }
    if (r.sqlstate() == kPgUniqueViolation) {
      return Status::Conflict("instruction " + ins.id + " already exists",
                              "id");
    }
    AGENTRY_RETURN_IF_ERROR(r.status());
    return InsertVersion(c, ins, config);
  });
}

Result<Instruction> PostgresInstructionStore::Get(
    std::string_view organization_id, std::string_view id,
    std::optional<int> version) {
  return readers_.With([&](PgConnection& c) -> Result<Instruction> {
    PgResult r = version ? c.Exec(AGENTRY_INSTRUCTION_SELECT
                                  "WHERE v.organization_id = $1 AND "
                                  "v.instruction_id = $2 AND v.version = $3",
                                  organization_id, id, *version)
                         : c.Exec(AGENTRY_INSTRUCTION_SELECT
                                  "WHERE v.organization_id = $1 AND "
                                  "v.instruction_id = $2 AND "
                                  "v.version = i.latest_version",
                                  organization_id, id);
    AGENTRY_RETURN_IF_ERROR(r.status());
    if (r.rows() == 0) {
      if (!version) return InstructionNotFound(id);
      return Status::NotFound("instruction " + std::string(id) +
                              " has no version " + std::to_string(*version));
    }
    return ReadInstruction(r, 0);
  });
}

Result<Page<Instruction>> PostgresInstructionStore::List(
    std::string_view organization_id, const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  return readers_.With([&](PgConnection& c) -> Result<Page<Instruction>> {
    return ReadPage<Instruction>(
        c.Exec(AGENTRY_INSTRUCTION_SELECT
               "WHERE i.organization_id = $1 AND i.id > $2 "
               "AND v.version = i.latest_version ORDER BY i.id LIMIT $3",
               organization_id, page.after_id.value_or(""),
               static_cast<int64_t>(page.limit) + 1),
        page.limit, ReadInstruction);
  });
}

Result<Page<Instruction>> PostgresInstructionStore::ListVersions(
    std::string_view organization_id, std::string_view id,
    std::optional<int> before_version, size_t limit) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(limit));
  return readers_.With([&](PgConnection& c) -> Result<Page<Instruction>> {
    return InReadTransaction<Page<Instruction>>(
        c, [&]() -> Result<Page<Instruction>> {
          AGENTRY_RETURN_IF_ERROR(
              LatestVersion(c, organization_id, id, false).status());
          return ReadPage<Instruction>(
              c.Exec(AGENTRY_INSTRUCTION_SELECT
                     "WHERE v.organization_id = $1 AND "
                     "v.instruction_id = $2 AND v.version < $3 "
                     "ORDER BY v.version DESC LIMIT $4",
                     organization_id, id,
                     before_version.value_or(std::numeric_limits<int>::max()),
                     static_cast<int64_t>(limit) + 1),
              limit, ReadInstruction);
        });
  });
}

Result<Instruction> PostgresInstructionStore::AddVersion(
    std::string_view organization_id, std::string_view id, int expected_latest,
    const boost::json::object& config, int64_t at_ms,
    const std::string& created_by) {
  const std::string text = ToJson(config);
  std::optional<Instruction> out;
  const Status st = writer_.Write([&](PgConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(int latest,
                             LatestVersion(c, organization_id, id, true));
    if (latest != expected_latest) {
      return Status::PreconditionFailed(
          "instruction " + std::string(id) + " is at version " +
          std::to_string(latest) + ", not " + std::to_string(expected_latest));
    }
    PgResult r = c.Exec(
        "UPDATE instructions SET latest_version = $1, updated_at = $2 "
        "WHERE organization_id = $3 AND id = $4 RETURNING created_at",
        latest + 1, at_ms, organization_id, id);
    AGENTRY_RETURN_IF_ERROR(r.status());
    if (r.rows() == 0) return InstructionNotFound(id);
    Instruction ins;
    ins.organization_id = std::string(organization_id);
    ins.id = std::string(id);
    ins.version = latest + 1;
    ins.config = config;
    ins.created_at_ms = r.Int64(0, 0);
    ins.updated_at_ms = at_ms;
    ins.created_by = created_by;
    AGENTRY_RETURN_IF_ERROR(InsertVersion(c, ins, text));
    out = std::move(ins);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

#undef AGENTRY_INSTRUCTION_SELECT

}  // namespace agentry
