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

// ---- tools ----

#define AGENTRY_TOOL_COLUMNS \
  "organization_id, id, config, revision, created_at, updated_at"

Status ToolNotFound(std::string_view id) {
  return Status::NotFound("tool " + std::string(id) + " not found");
}

Result<Tool> ReadTool(const SqliteStatement& row) {
  Tool t;
  t.organization_id = row.Text(0);
  t.id = row.Text(1);
  AGENTRY_ASSIGN_OR_RETURN(t.config,
                           ParseObject(row.Text(2), "config of tool " + t.id));
  t.revision = row.Int64(3);
  t.created_at_ms = row.Int64(4);
  t.updated_at_ms = row.Int64(5);
  return t;
}

// The tool's revision inside a write; kNotFound when absent,
// kPreconditionFailed when `expected` is set and differs.
Status CheckToolRevision(SqliteConnection& c, std::string_view organization_id,
                         std::string_view id, std::optional<int64_t> expected) {
  AGENTRY_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      c.Prepare("SELECT revision FROM tools WHERE organization_id = ? "
                "AND id = ?"));
  stmt.BindAll(organization_id, id);
  AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return ToolNotFound(id);
  if (expected && *expected != stmt.Int64(0)) {
    return Status::PreconditionFailed(
        "tool " + std::string(id) + " is at revision " +
        std::to_string(stmt.Int64(0)) + ", not " + std::to_string(*expected));
  }
  return Status::Ok();
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

Status SqliteToolStore::Create(const Tool& tool) {
  const std::string config = ToJson(tool.config);
  return writer_.Write([&](SqliteConnection& c) -> Status {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("INSERT INTO tools (" AGENTRY_TOOL_COLUMNS
                  ") VALUES (?, ?, ?, 1, ?, ?)"));
    stmt.BindAll(tool.organization_id, tool.id, config, tool.created_at_ms,
                 tool.updated_at_ms);
    Status st = stmt.Run();
    if (!st.ok()) {
      return InsertError(std::move(st), "tool", tool.id, tool.organization_id);
    }
    return Status::Ok();
  });
}

Result<Tool> SqliteToolStore::Get(std::string_view organization_id,
                                  std::string_view id) {
  return readers_.With([&](SqliteConnection& c) -> Result<Tool> {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("SELECT " AGENTRY_TOOL_COLUMNS
                  " FROM tools WHERE organization_id = ? AND id = ?"));
    stmt.BindAll(organization_id, id);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return ToolNotFound(id);
    return ReadTool(stmt);
  });
}

Result<Page<Tool>> SqliteToolStore::List(std::string_view organization_id,
                                         const PageRequest& page) {
  AGENTRY_RETURN_IF_ERROR(CheckLimit(page.limit));
  return readers_.With([&](SqliteConnection& c) -> Result<Page<Tool>> {
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("SELECT " AGENTRY_TOOL_COLUMNS
                  " FROM tools WHERE organization_id = ? AND id > ? "
                  "ORDER BY id LIMIT ?"));
    stmt.BindAll(organization_id, page.after_id.value_or(""),
                 static_cast<int64_t>(page.limit) + 1);
    return ReadPage<Tool>(stmt, page.limit, ReadTool);
  });
}

Result<Tool> SqliteToolStore::Update(std::string_view organization_id,
                                     std::string_view id,
                                     std::optional<int64_t> expected_revision,
                                     const boost::json::object& config,
                                     int64_t at_ms) {
  const std::string text = ToJson(config);
  std::optional<Tool> out;
  const Status st = writer_.Write([&](SqliteConnection& c) -> Status {
    out.reset();
    AGENTRY_RETURN_IF_ERROR(
        CheckToolRevision(c, organization_id, id, expected_revision));
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("UPDATE tools SET config = ?, revision = revision + 1, "
                  "updated_at = ? WHERE organization_id = ? AND id = ? "
                  "RETURNING " AGENTRY_TOOL_COLUMNS));
    stmt.BindAll(text, at_ms, organization_id, id);
    AGENTRY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return ToolNotFound(id);
    AGENTRY_ASSIGN_OR_RETURN(out, ReadTool(stmt));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return std::move(*out);
}

Status SqliteToolStore::Delete(std::string_view organization_id,
                               std::string_view id,
                               std::optional<int64_t> expected_revision) {
  return writer_.Write([&](SqliteConnection& c) -> Status {
    AGENTRY_RETURN_IF_ERROR(
        CheckToolRevision(c, organization_id, id, expected_revision));
    AGENTRY_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        c.Prepare("DELETE FROM tools WHERE organization_id = ? AND id = ?"));
    stmt.BindAll(organization_id, id);
    return stmt.Run();
  });
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
