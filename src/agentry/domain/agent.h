// Agents (DESIGN §5 "Agents"): the configuration document, its validation
// and canonical form, and the records the store keeps. Plain values, no I/O.
//
// An agent's configuration is kept as a canonical JSON object: exactly the
// members listed in kAgentConfigFields, in that order, with defaults filled
// in. Canonical documents make merge patches (PATCH), JSON Patch diffs and
// ETags deterministic, and let every surface (native, Odeus, Vectara) map
// the same document.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agentry/common/status.h"

namespace agentry {

// The members of a canonical configuration, in order:
//   name                  string, required, 1–64 characters
//   description           string ≤ 256 (default "")
//   instructions          string ≤ 16384 (default "")
//   emoji_icon            string ≤ 16 characters (default "")
//   model                 {name: string 1–64 (required in a given model),
//                          parameters: {temperature?: [0,1], max_tokens?: int
//                          1–1000000, top_p?: [0,1]}} (default
//                          {"name":"default","parameters":{}})
//   capabilities          {web_search, image_generation, code_interpreter,
//                          canvas, extended_thinking, data_analyst}: booleans,
//                          each default false, all six always present
//   conversation_starters [string ≤ 256] ≤ 20 items (default [])
//   input_type            "PROMPT" | "STRUCTURED" (default "PROMPT")
//   input_fields          [{slug: ^[A-Za-z0-9_-]{1,64}$ unique, type: string
//                          1–32, label: string ≤ 128 (default ""),
//                          description ≤ 512 (default ""), required: bool
//                          (default false), order: int ≥ 0 (default the
//                          index), options: [string ≤ 256] ≤ 100 (default []),
//                          file_types: null | [string ≤ 64] ≤ 50 (default
//                          null)}] ≤ 64 items (default [])
//   actions               [{action_id: string 1–128, requires_confirmation:
//                          bool (default false)}] ≤ 64 (default [])
//   attachments           [string 1–128] ≤ 100 (default [])
//   knowledge_folder_ids  [string 1–128] ≤ 100 (default [])
//   tools                 {mode: "native" (default "native"), available:
//                          [{id: ^tol_[0-9a-zA-Z_-]+$ ≤ 64, argument_bindings?:
//                          object ≤ 64 members}] ≤ 128 (default [])}; an entry
//                          without argument_bindings keeps it absent
//   first_step            {type: "conversational" (default), instructions:
//                          [{type:"reference", id: ^ins_[0-9a-zA-Z_-]+$ ≤ 64,
//                          version?: int ≥ 1} | {type:"inline", name: string
//                          1–128, template_type: "velocity"|"plain" (default
//                          "velocity"), template: string ≤ 16384}] ≤ 32,
//                          output_parser: {type: "default"} (default)}
//   metadata              object ≤ 64 members; keys 1–64 characters; values
//                          string (≤ 1024), number or boolean (default {})
//   enabled               bool (default true)
// Objects inside refuse unknown members; a reference without `version`
// keeps it absent (pinned at publish time). Free text (description,
// instructions, templates, input field descriptions, conversation starters,
// metadata string values) may hold \t \n \r; no string holds any other
// control character, and names, ids, slugs and labels hold none at all.
inline constexpr std::string_view kAgentConfigFields[] = {
    "name",
    "description",
    "instructions",
    "emoji_icon",
    "model",
    "capabilities",
    "conversation_starters",
    "input_type",
    "input_fields",
    "actions",
    "attachments",
    "knowledge_folder_ids",
    "tools",
    "first_step",
    "metadata",
    "enabled"};

// Members an answer carries that a request may not set.
inline constexpr std::string_view kAgentReadOnlyFields[] = {
    "id",         "status",     "version",     "has_unpublished_changes",
    "created_at", "updated_at", "published_at"};

// Validates `input` and returns its canonical form. `input` holds only
// configuration members (the caller removes `key`). Refuses unknown members
// (read-only ones with a message saying so), wrong types and every rule
// above with kInvalidRequest naming the dotted field
// ("model.parameters.temperature", "input_fields[2].slug").
Result<boost::json::object> NormalizeAgentConfig(
    const boost::json::object& input);

// `key` matches ^agt_[0-9a-zA-Z_-]+$ and is at most 64 characters;
// kInvalidRequest (field "key") otherwise.
Status ValidateAgentKey(std::string_view key);

// `id` matches ^<prefix>[0-9a-zA-Z_-]+$ and is at most 64 characters;
// kInvalidRequest naming `field` otherwise. Every prefixed id of the domain
// (agt_, tol_, ins_) follows this rule.
Status ValidatePrefixedId(std::string_view id, std::string_view prefix,
                          const std::string& field);

// A `metadata` member as agents and profiles hold it: absent or null gives
// {}; otherwise an object of at most 64 members whose keys are 1–64
// characters without control characters and whose values are strings
// (≤ 1024, free text), finite numbers or booleans. `value` is the member
// (nullptr when absent); `field` names it in errors ("metadata"), and a bad
// value names "metadata.<key>". Returns the members in their given order.
Result<boost::json::object> NormalizeMetadata(const boost::json::value* value,
                                              const std::string& field);

// The mutable head of an agent: its draft and which version is active.
struct AgentRecord {
  std::string id;               // UUIDv7
  std::string organization_id;  // owner
  std::string key;              // agt_…, unique in the organization
  boost::json::object draft;    // canonical configuration
  // Grows by one with every change to the agent (draft, publish, activate):
  // the basis of ETags and of optimistic concurrency (If-Match).
  int64_t revision = 1;
  // The draft revision last published (0: never), so that
  // has_unpublished_changes == (draft_revision != published_draft_revision).
  int64_t draft_revision = 1;
  int64_t published_draft_revision = 0;
  std::optional<int> active_version;  // nullopt: never published
  int latest_version = 0;             // highest version number (0: none)
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;  // last change of any kind
  // Denormalised from the current view (active version, else draft), for
  // list filters.
  std::string current_name;
  bool current_enabled = true;

  bool has_unpublished_changes() const {
    return draft_revision != published_draft_revision;
  }
};

// An immutable published version.
struct AgentVersion {
  std::string agent_id;
  int version = 0;             // 1, 2, …
  boost::json::object config;  // canonical configuration
  std::string note;
  int64_t published_at_ms = 0;
  std::string published_by;  // API key id
};

}  // namespace agentry
