#include "agentry/store/sqlite/sqlite_registry_store.h"

#include <optional>
#include <string>
#include <utility>

#include "agentry/store/sqlite/group_commit.h"
#include "agentry/store/sqlite/sqlite_db.h"
#include "agentry/store/sqlite/sqlite_store.h"
#include "agentry/store/sqlite/sqlite_util.h"

namespace agentry {

using sqlite::CheckLimit;
using sqlite::InReadTransaction;
using sqlite::ParseObject;
using sqlite::ReadPage;
using sqlite::ToJson;

namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// SQLite's constraint failures on inserting `what` `id` as the contract's
// errors: a taken id is kConflict (field "id"), an unknown organization
// kNotFound.
Status InsertError(Status st, std::string_view what, std::string_view id,
                   std::string_view organization_id) {
  if (Contains(st.message(), "FOREIGN KEY constraint failed")) {
    return Status::NotFound("organization " + std::string(organization_id) +
                            " not found");
  }
  if (st.code() == ErrorCode::kConflict) {
    return Status::Conflict(
        std::string(what) + " " + std::string(id) + " already exists", "id");
  }
  return st;
}

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

Result<Instruction> ReadInstruction(const SqliteStatement& row) {
  Instruction ins;
  ins.organization_id = row.Text(0);
  ins.id = row.Text(1);
  ins.version = static_cast<int>(row.Int64(2));
  AGENTRY_ASSIGN_OR_RETURN(
      ins.config,
      ParseObject(row.Text(3), "config of instruction " + ins.id + " version " +
                                   std::to_string(ins.version)));
  ins.created_at_ms = row.Int64(4);
  ins.updated_at_ms = row.Int64(5);
  ins.created_by = row.Text(6);
  return ins;
}

Status InsertVersion(SqliteConnection& c, const Instruction& ins,
                     const std::string& config_text) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("INSERT INTO instruction_versions (organization_id, "
                "instruction_id, version, config, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)"));
  stmt.BindAll(ins.organization_id, ins.id, ins.version, config_text,
               ins.updated_at_ms, ins.created_by);
  return stmt.Run();
}

// The instruction's latest version number (kNotFound when absent).
Result<int> LatestVersion(SqliteConnection& c, std::string_view organization_id,
                          std::string_view id) {
  AGENTRY_ASSIGN_OR_RETURN(SqliteStatement stmt,
                           c.Prepare("SELECT latest_version FROM instructions "
                                     "WHERE organization_id = ? AND id = ?"));
  stmt.BindAll(organization_id, id);
  AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InstructionNotFound(id);
  return static_cast<int>(stmt.Int64(0));
}

}  // namespace

// ---- SqliteToolStore ----

SqliteToolStore::SqliteToolStore(GroupCommitWriter& writer,
                                 SqliteReadPool& readers)
    : table_(sqlite::ConfigTableSpec{"tools", "tool", {}, nullptr, ""}, writer,
             readers) {}

Status SqliteToolStore::Create(const Tool& tool) {
  return table_.Create(ToRow(tool));
}

Result<Tool> SqliteToolStore::Get(std::string_view organization_id,
                                  std::string_view id) {
  return FromRow<Tool>(table_.Get(organization_id, id));
}

Result<Page<Tool>> SqliteToolStore::List(std::string_view organization_id,
                                         const PageRequest& page) {
  return FromRows<Tool>(table_.List(organization_id, page));
}

Result<Tool> SqliteToolStore::Update(std::string_view organization_id,
                                     std::string_view id,
                                     std::optional<int64_t> expected_revision,
                                     const boost::json::object& config,
                                     int64_t at_ms) {
  return FromRow<Tool>(
      table_.Update(organization_id, id, expected_revision, config, at_ms));
}

Status SqliteToolStore::Delete(std::string_view organization_id,
                               std::string_view id,
                               std::optional<int64_t> expected_revision) {
  return table_.Delete(organization_id, id, expected_revision);
}

// ---- SqliteInstructionStore ----

Status SqliteInstructionStore::Create(const Instruction& first) {
  Instruction ins = first;
  ins.version = 1;
  const std::string config = ToJson(ins.config);
  return writer_.Write([&](SqliteConnection& c) -> Status {
    {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("INSERT INTO instructions (organization_id, id, "
                    "latest_version, created_at, updated_at) "
                    "VALUES (?, ?, 1, ?, ?)"));
      stmt.BindAll(ins.organization_id, ins.id, ins.created_at_ms,
                   ins.updated_at_ms);
      Status st = stmt.Run();
      if (!st.ok()) {
        return InsertError(std::move(st), "instruction", ins.id,
                           ins.organization_id);
      }
    }
    return InsertVersion(c, ins, config);
  });
}

Result<Instruction> SqliteInstructionStore::Get(
    std::string_view organization_id, std::string_view id,
    std::optional<int> version) {
  return readers_.With([&](SqliteConnection& c) -> Result<Instruction> {
    Result<SqliteStatement> prepared =
        version ? c.Prepare(AGENTRY_INSTRUCTION_SELECT
                            "WHERE v.organization_id = ? AND "
                            "v.instruction_id = ? AND v.version = ?")
                : c.Prepare(AGENTRY_INSTRUCTION_SELECT
                            "WHERE v.organization_id = ? AND "
                            "v.instruction_id = ? AND "
                            "v.version = i.latest_version");
    if (!prepared.ok()) return prepared.status();
    SqliteStatement& stmt = *prepared;
    stmt.BindAll(organization_id, id);
    if (version) stmt.Bind(3, *version);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      if (!version) return InstructionNotFound(id);
      return Status::NotFound("instruction " + std::string(id) +
                              " has no version " + std::to_string(*version));
    }
    return ReadInstruction(stmt);
  });
}

Result<Page<Instruction>> SqliteInstructionStore::List(
    std::string_view organization_id, const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  return readers_.With([&](SqliteConnection& c) -> Result<Page<Instruction>> {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare(AGENTRY_INSTRUCTION_SELECT
                  "WHERE i.organization_id = ? AND i.id > ? "
                  "AND v.version = i.latest_version ORDER BY i.id LIMIT ?"));
    stmt.BindAll(organization_id, page.after_id.value_or(""),
                 static_cast<int64_t>(page.limit) + 1);
    return ReadPage<Instruction>(stmt, page.limit, ReadInstruction);
  });
}

Result<Page<Instruction>> SqliteInstructionStore::ListVersions(
    std::string_view organization_id, std::string_view id,
    std::optional<int> before_version, size_t limit) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(limit));
  return readers_.With([&](SqliteConnection& c) -> Result<Page<Instruction>> {
    return InReadTransaction<Page<Instruction>>(
        c, [&]() -> Result<Page<Instruction>> {
          AGENTRY_RETURN_IF_ERROR(
              LatestVersion(c, organization_id, id).status());
          AGENTRY_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              c.Prepare(AGENTRY_INSTRUCTION_SELECT
                        "WHERE v.organization_id = ? AND "
                        "v.instruction_id = ? AND v.version < ? "
                        "ORDER BY v.version DESC LIMIT ?"));
          stmt.BindAll(organization_id, id,
                       static_cast<int64_t>(before_version.value_or(INT32_MAX)),
                       static_cast<int64_t>(limit) + 1);
          return ReadPage<Instruction>(stmt, limit, ReadInstruction);
        });
  });
}

Result<Instruction> SqliteInstructionStore::AddVersion(
    std::string_view organization_id, std::string_view id, int expected_latest,
    const boost::json::object& config, int64_t at_ms,
    const std::string& created_by) {
  const std::string text = ToJson(config);
  std::optional<Instruction> out;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    out.reset();
    AGENTRY_ASSIGN_OR_RETURN(int latest, LatestVersion(c, organization_id, id));
    if (latest != expected_latest) {
      return Status::PreconditionFailed(
          "instruction " + std::string(id) + " is at version " +
          std::to_string(latest) + ", not " + std::to_string(expected_latest));
    }
    int64_t created_at = 0;
    {
      AGENTRY_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          c.Prepare("UPDATE instructions SET latest_version = ?, "
                    "updated_at = ? WHERE organization_id = ? AND id = ? "
                    "RETURNING created_at"));
      stmt.BindAll(latest + 1, at_ms, organization_id, id);
      AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return InstructionNotFound(id);
      created_at = stmt.Int64(0);
    }
    Instruction ins;
    ins.organization_id = std::string(organization_id);
    ins.id = std::string(id);
    ins.version = latest + 1;
    ins.config = config;
    ins.created_at_ms = created_at;
    ins.updated_at_ms = at_ms;
    ins.created_by = created_by;
    AGENTRY_RETURN_IF_ERROR(InsertVersion(c, ins, text));
    out = std::move(ins);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

}  // namespace agentry
