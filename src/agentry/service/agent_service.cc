#include "agentry/service/agent_service.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <mutex>

#include "agentry/common/ids.h"
#include "agentry/common/json.h"
#include "agentry/common/json_patch.h"
#include "agentry/service/auth_service.h"

namespace agentry {

namespace {

constexpr int kMaxWriteAttempts = 8;
constexpr size_t kMaxNoteChars = 1024;

// Strong ETag: the agent (last 12 hex digits of its id), its revision, and
// the view ("d" for the draft, "vN" for version N). Every byte of an answer
// is a function of these, so equal ETags mean equal bytes.
std::string MakeEtag(const AgentRecord& head, const AgentVersion* version) {
  std::string tag = "\"";
  tag += head.id.size() >= 12 ? head.id.substr(head.id.size() - 12) : head.id;
  tag += '.';
  tag += std::to_string(head.revision);
  tag += '.';
  if (version) {
    tag += 'v';
    tag += std::to_string(version->version);
  } else {
    tag += 'd';
  }
  tag += '"';
  return tag;
}

AgentView MakeView(const AgentRecord& head, const boost::json::object& config,
                   const AgentVersion* version) {
  AgentView v;
  v.body = std::make_shared<const std::string>(
      SerializeAgentView(head, config, version));
  v.etag = MakeEtag(head, version);
  return v;
}

Status NotFound(std::string_view id_or_key) {
  return Status::NotFound("agent " + std::string(id_or_key) + " not found");
}

// Current name/enabled of a configuration, for list filters.
std::string NameOf(const boost::json::object& config) {
  if (auto* n = config.if_contains("name"); n && n->is_string()) {
    return std::string(n->get_string());
  }
  return {};
}
bool EnabledOf(const boost::json::object& config) {
  if (auto* e = config.if_contains("enabled"); e && e->is_bool()) {
    return e->get_bool();
  }
  return true;
}

}  // namespace

std::string SerializeAgentView(const AgentRecord& head,
                               const boost::json::object& config,
                               const AgentVersion* version) {
  boost::json::object o;
  o.reserve(config.size() + 9);
  o["id"] = head.id;
  o["key"] = head.key;
  for (const auto& member : config) o[member.key()] = member.value();
  o["status"] = version ? "published" : "draft";
  if (version) {
    o["version"] = version->version;
  } else {
    o["version"] = nullptr;
  }
  o["has_unpublished_changes"] = head.has_unpublished_changes();
  o["created_at"] = FormatRfc3339Ms(head.created_at_ms);
  o["updated_at"] = FormatRfc3339Ms(head.updated_at_ms);
  if (version) {
    o["published_at"] = FormatRfc3339Ms(version->published_at_ms);
  } else {
    o["published_at"] = nullptr;
  }
  return json::Serialize(o);
}

AgentService::AgentService(Store& store, AuthService& auth, const Clock& clock,
                           PublishResolver* resolver)
    : store_(store), auth_(auth), clock_(clock), resolver_(resolver) {}

bool AgentService::IfMatchHolds(std::string_view if_match,
                                const AgentRecord& agent) {
  if (if_match.empty()) return true;
  const std::string id_part =
      agent.id.size() >= 12 ? agent.id.substr(agent.id.size() - 12) : agent.id;
  while (!if_match.empty()) {
    size_t comma = if_match.find(',');
    std::string_view tag = if_match.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) {
      tag.remove_prefix(1);
    }
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
      tag.remove_suffix(1);
    }
    if (tag == "*") return true;
    // Strong comparison: weak tags (W/"…") never match.
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
      std::string_view inner = tag.substr(1, tag.size() - 2);
      size_t dot1 = inner.find('.');
      size_t dot2 =
          dot1 == std::string_view::npos ? dot1 : inner.find('.', dot1 + 1);
      if (dot2 != std::string_view::npos && inner.substr(0, dot1) == id_part) {
        std::string_view rev = inner.substr(dot1 + 1, dot2 - dot1 - 1);
        int64_t r = -1;
        auto [p, ec] = std::from_chars(rev.data(), rev.data() + rev.size(), r);
        if (ec == std::errc() && p == rev.data() + rev.size() &&
            r == agent.revision) {
          return true;
        }
      }
    }
    if (comma == std::string_view::npos) break;
    if_match.remove_prefix(comma + 1);
  }
  return false;
}

Status AgentService::CheckGrant(const Principal& caller,
                                const AgentRecord& head) const {
  if (head.organization_id != caller.organization_id) {
    return NotFound(head.key);
  }
  if (!caller.CanAccessAgent(head.id)) {
    return Status::Forbidden("this key is not granted agent " + head.key);
  }
  return Status::Ok();
}

std::shared_ptr<const CachedAgent> AgentService::Find(
    std::string_view organization_id, std::string_view id_or_key) const {
  std::string lowered;  // only for a UUID given in upper case (rare)
  std::string_view id = id_or_key;
  std::shared_lock lock(mu_);
  if (IsUuid(id_or_key)) {
    if (id_or_key.find_first_of("ABCDEF") != std::string_view::npos) {
      lowered = std::string(id_or_key);
      for (char& c : lowered) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
      }
      id = lowered;
    }
  } else {
    auto org = id_by_key_.find(organization_id);
    if (org == id_by_key_.end()) return nullptr;
    auto k = org->second.find(id_or_key);
    if (k == org->second.end()) return nullptr;
    id = k->second;
  }
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  if (it->second->head.organization_id != organization_id) return nullptr;
  return it->second;
}

void AgentService::Refresh(std::string_view organization_id,
                           std::string_view agent_id) {
  std::shared_ptr<const CachedAgent> cached = Find(organization_id, agent_id);
  if (!cached) return;  // read from the store on first use anyway
  auto head = store_.agents().Get(organization_id, agent_id);
  if (head.ok()) {
    auto entry = Build(std::move(*head), cached.get());
    if (entry.ok()) {
      Install(std::move(*entry));
      return;
    }
  } else if (head.status().code() == ErrorCode::kNotFound) {
    auto tomb = std::make_shared<CachedAgent>(*cached);
    tomb->deleted = true;
    Install(std::move(tomb));
    return;
  }
  // Unreadable for now: drop it, the next read goes to the store.
  std::unique_lock lock(mu_);
  auto it = by_id_.find(agent_id);
  if (it == by_id_.end()) return;
  auto keys = id_by_key_.find(it->second->head.organization_id);
  if (keys != id_by_key_.end()) {
    auto k = keys->second.find(it->second->head.key);
    if (k != keys->second.end() && k->second == it->second->head.id) {
      keys->second.erase(k);
    }
  }
  by_id_.erase(it);
}

void AgentService::ForgetAll(bool caching) {
  std::unique_lock lock(mu_);
  caching_.store(caching);
  by_id_.clear();
  id_by_key_.clear();
}

std::optional<Result<std::shared_ptr<const CachedAgent>>> AgentService::Peek(
    const Principal& caller, std::string_view id_or_key) const {
  if (!caching_.load(std::memory_order_relaxed)) return std::nullopt;
  auto entry = Find(caller.organization_id, id_or_key);
  if (!entry) return std::nullopt;
  if (entry->deleted) {
    return Result<std::shared_ptr<const CachedAgent>>(NotFound(id_or_key));
  }
  Status st = CheckGrant(caller, entry->head);
  if (!st.ok()) return Result<std::shared_ptr<const CachedAgent>>(st);
  return Result<std::shared_ptr<const CachedAgent>>(std::move(entry));
}

std::shared_ptr<const CachedAgent> AgentService::Install(
    std::shared_ptr<const CachedAgent> entry) {
  std::unique_lock lock(mu_);
  if (!caching_.load()) return entry;
  auto& slot = by_id_[entry->head.id];
  if (slot && (slot->deleted || slot->head.revision > entry->head.revision)) {
    return slot;  // a newer state (or a deletion) is already cached
  }
  auto& keys = id_by_key_[entry->head.organization_id];
  if (entry->deleted) {
    auto k = keys.find(entry->head.key);
    if (k != keys.end() && k->second == entry->head.id) keys.erase(k);
  } else {
    keys[entry->head.key] = entry->head.id;
  }
  slot = std::move(entry);
  return slot;
}

Result<std::shared_ptr<const CachedAgent>> AgentService::Build(
    AgentRecord head, const CachedAgent* previous) {
  auto entry = std::make_shared<CachedAgent>();
  if (head.active_version) {
    if (previous && previous->active &&
        previous->active->version == *head.active_version) {
      entry->active = previous->active;
    } else {
      AGENTRY_ASSIGN_OR_RETURN(
          AgentVersion v,
          store_.agents().GetVersion(head.organization_id, head.id,
                                     *head.active_version));
      entry->active = std::move(v);
    }
  }
  entry->draft = MakeView(head, head.draft, nullptr);
  if (entry->active) {
    entry->current = MakeView(head, entry->active->config, &*entry->active);
  } else {
    entry->current = entry->draft;
  }
  entry->head = std::move(head);
  return std::shared_ptr<const CachedAgent>(std::move(entry));
}

Result<AgentRecord> AgentService::LoadHead(const Principal& caller,
                                           std::string_view id_or_key) {
  auto head = store_.agents().Get(caller.organization_id, id_or_key);
  if (!head.ok()) {
    if (head.status().code() == ErrorCode::kNotFound) {
      return NotFound(id_or_key);
    }
    return head.status();
  }
  AGENTRY_RETURN_IF_ERROR(CheckGrant(caller, *head));
  return head;
}

Result<std::shared_ptr<const CachedAgent>> AgentService::Get(
    const Principal& caller, std::string_view id_or_key) {
  if (auto peek = Peek(caller, id_or_key)) return std::move(*peek);
  AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
  AGENTRY_ASSIGN_OR_RETURN(auto entry, Build(std::move(head), nullptr));
  auto installed = Install(std::move(entry));
  if (installed->deleted) return NotFound(id_or_key);
  return installed;
}

Result<AgentView> AgentService::GetVersionView(const Principal& caller,
                                               std::string_view id_or_key,
                                               int n) {
  AGENTRY_ASSIGN_OR_RETURN(auto entry, Get(caller, id_or_key));
  if (entry->active && entry->active->version == n) return entry->current;
  auto v =
      store_.agents().GetVersion(caller.organization_id, entry->head.id, n);
  if (!v.ok()) {
    if (v.status().code() == ErrorCode::kNotFound) {
      return Status::NotFound("agent " + entry->head.key + " has no version " +
                              std::to_string(n));
    }
    return v.status();
  }
  return MakeView(entry->head, v->config, &*v);
}

Result<std::shared_ptr<const CachedAgent>> AgentService::Create(
    const Principal& caller, const boost::json::object& body) {
  boost::json::object config = body;
  std::optional<std::string> key;
  if (const boost::json::value* k = config.if_contains("key")) {
    if (!k->is_null()) {
      if (!k->is_string()) {
        return Status::InvalidRequest("key must be a string", "key");
      }
      key = std::string(k->get_string());
      AGENTRY_RETURN_IF_ERROR(ValidateAgentKey(*key));
    }
    config.erase("key");
  }
  AGENTRY_ASSIGN_OR_RETURN(boost::json::object canonical,
                           NormalizeAgentConfig(config));
  AgentRecord head;
  head.created_at_ms = clock_.NowMs();
  head.updated_at_ms = head.created_at_ms;
  head.id = NewUuidV7(head.created_at_ms);
  head.organization_id = caller.organization_id;
  head.current_name = NameOf(canonical);
  head.current_enabled = EnabledOf(canonical);
  head.draft = std::move(canonical);
  std::optional<std::string> grant;
  if (caller.agent_ids) grant = caller.key_id;
  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    head.key = key ? *key : NewPrefixedId("agt_", 16);
    st = store_.agents().Create(head, grant);
    // A generated key that collides is drawn again; a given one is a 409.
    if (st.code() != ErrorCode::kConflict || key) break;
  }
  AGENTRY_RETURN_IF_ERROR(st);
  if (grant) {
    // The creating key now reaches the new agent: refresh its index entry.
    auto updated = store_.api_keys().Get(caller.organization_id, *grant);
    if (updated.ok()) auth_.AddKey(*updated);
  }
  AGENTRY_ASSIGN_OR_RETURN(auto entry, Build(std::move(head), nullptr));
  return Install(std::move(entry));
}

Result<std::shared_ptr<const CachedAgent>> AgentService::Patch(
    const Principal& caller, std::string_view id_or_key,
    const boost::json::object& patch, std::string_view if_match) {
  boost::json::object body = patch;
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
    if (!IfMatchHolds(if_match, head)) {
      return Status::PreconditionFailed(
          "If-Match does not name the current version of agent " + head.key);
    }
    if (const boost::json::value* k = body.if_contains("key")) {
      if (!k->is_string() || k->get_string() != head.key) {
        return Status::InvalidRequest("an agent's key cannot be changed",
                                      "key");
      }
      body.erase("key");
    }
    boost::json::value merged = json::MergePatch(head.draft, body);
    if (!merged.is_object()) {
      return Status::InvalidRequest("request body must be a JSON object");
    }
    AGENTRY_ASSIGN_OR_RETURN(boost::json::object canonical,
                             NormalizeAgentConfig(merged.get_object()));
    if (canonical == head.draft) {
      // Nothing changes: answer the current state without a write.
      return Get(caller, head.id);
    }
    const bool published = head.active_version.has_value();
    const std::string name = published ? head.current_name : NameOf(canonical);
    const bool enabled =
        published ? head.current_enabled : EnabledOf(canonical);
    auto updated = store_.agents().UpdateDraft(caller.organization_id, head.id,
                                               head.revision, canonical, name,
                                               enabled, clock_.NowMs());
    if (!updated.ok()) {
      // Lost a race with another writer: re-read and merge again, unless the
      // client asked for a specific version.
      if (updated.status().code() == ErrorCode::kPreconditionFailed &&
          if_match.empty()) {
        continue;
      }
      if (updated.status().code() == ErrorCode::kPreconditionFailed) {
        return Status::PreconditionFailed(
            "If-Match does not name the current version of agent " + head.key);
      }
      if (updated.status().code() == ErrorCode::kNotFound) {
        return NotFound(id_or_key);
      }
      return updated.status();
    }
    auto previous = Find(caller.organization_id, head.id);
    AGENTRY_ASSIGN_OR_RETURN(auto entry,
                             Build(std::move(updated).value(), previous.get()));
    return Install(std::move(entry));
  }
  return Status::Unavailable("agent is changing too fast; try again");
}

Status AgentService::Delete(const Principal& caller, std::string_view id_or_key,
                            std::string_view if_match) {
  AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
  if (!IfMatchHolds(if_match, head)) {
    return Status::PreconditionFailed(
        "If-Match does not name the current version of agent " + head.key);
  }
  std::optional<int64_t> expected;
  if (!if_match.empty()) expected = head.revision;
  Status st = store_.agents().Delete(caller.organization_id, head.id, expected);
  if (st.code() == ErrorCode::kNotFound) return NotFound(id_or_key);
  AGENTRY_RETURN_IF_ERROR(st);
  auto tomb = std::make_shared<CachedAgent>();
  tomb->head = std::move(head);
  tomb->deleted = true;
  Install(std::move(tomb));
  return Status::Ok();
}

Result<AgentView> AgentService::Publish(const Principal& caller,
                                        std::string_view id_or_key,
                                        const std::string& note,
                                        std::string_view if_match) {
  if (json::Utf8Length(note) > kMaxNoteChars) {
    return Status::InvalidRequest("note must be at most 1024 characters",
                                  "note");
  }
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
    if (!IfMatchHolds(if_match, head)) {
      return Status::PreconditionFailed(
          "If-Match does not name the current version of agent " + head.key);
    }
    boost::json::object config = head.draft;
    if (resolver_ != nullptr) {
      AGENTRY_ASSIGN_OR_RETURN(
          config, resolver_->ResolveForPublish(caller.organization_id, config));
    }
    auto version =
        store_.agents().Publish(caller.organization_id, head.id, head.revision,
                                config, note, caller.key_id, clock_.NowMs());
    if (!version.ok()) {
      if (version.status().code() == ErrorCode::kPreconditionFailed &&
          if_match.empty()) {
        continue;
      }
      if (version.status().code() == ErrorCode::kNotFound) {
        return NotFound(id_or_key);
      }
      return version.status();
    }
    AGENTRY_ASSIGN_OR_RETURN(AgentRecord fresh, LoadHead(caller, head.id));
    auto previous = Find(caller.organization_id, head.id);
    AGENTRY_ASSIGN_OR_RETURN(auto entry,
                             Build(std::move(fresh), previous.get()));
    auto installed = Install(std::move(entry));
    if (installed->active && installed->active->version == version->version) {
      return installed->current;
    }
    return MakeView(installed->head, version->config, &*version);
  }
  return Status::Unavailable("agent is changing too fast; try again");
}

Result<AgentView> AgentService::Activate(const Principal& caller,
                                         std::string_view id_or_key, int n,
                                         std::string_view if_match) {
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
    if (!IfMatchHolds(if_match, head)) {
      return Status::PreconditionFailed(
          "If-Match does not name the current version of agent " + head.key);
    }
    auto updated =
        store_.agents().Activate(caller.organization_id, head.id, n,
                                 head.revision, caller.key_id, clock_.NowMs());
    if (!updated.ok()) {
      if (updated.status().code() == ErrorCode::kPreconditionFailed &&
          if_match.empty()) {
        continue;
      }
      if (updated.status().code() == ErrorCode::kNotFound) {
        return Status::NotFound("agent " + head.key + " has no version " +
                                std::to_string(n));
      }
      return updated.status();
    }
    auto previous = Find(caller.organization_id, head.id);
    AGENTRY_ASSIGN_OR_RETURN(auto entry,
                             Build(std::move(updated).value(), previous.get()));
    auto installed = Install(std::move(entry));
    return installed->current;
  }
  return Status::Unavailable("agent is changing too fast; try again");
}

Result<Page<AgentVersionSummary>> AgentService::ListVersions(
    const Principal& caller, std::string_view id_or_key,
    std::optional<int> before_version, size_t limit) {
  AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
  return store_.agents().ListVersions(caller.organization_id, head.id,
                                      before_version, limit);
}

Result<boost::json::object> AgentService::ConfigOf(const AgentRecord& head,
                                                   AgentRef ref) {
  if (ref.draft) return head.draft;
  auto v =
      store_.agents().GetVersion(head.organization_id, head.id, ref.version);
  if (!v.ok()) {
    if (v.status().code() == ErrorCode::kNotFound) {
      return Status::NotFound("agent " + head.key + " has no version " +
                              std::to_string(ref.version));
    }
    return v.status();
  }
  return std::move(v->config);
}

Result<AgentConfigAt> AgentService::ConfigAt(const Principal& caller,
                                             std::string_view id_or_key,
                                             std::optional<AgentRef> ref) {
  AGENTRY_ASSIGN_OR_RETURN(auto entry, Get(caller, id_or_key));
  AgentConfigAt out{entry->head, {}};
  if (!ref) {
    out.config = entry->active ? entry->active->config : entry->head.draft;
  } else if (!ref->draft && entry->active &&
             entry->active->version == ref->version) {
    out.config = entry->active->config;
  } else {
    AGENTRY_ASSIGN_OR_RETURN(out.config, ConfigOf(entry->head, *ref));
  }
  return out;
}

Result<boost::json::array> AgentService::Diff(const Principal& caller,
                                              std::string_view id_or_key,
                                              AgentRef from, AgentRef to) {
  AGENTRY_ASSIGN_OR_RETURN(AgentRecord head, LoadHead(caller, id_or_key));
  AGENTRY_ASSIGN_OR_RETURN(boost::json::object a, ConfigOf(head, from));
  AGENTRY_ASSIGN_OR_RETURN(boost::json::object b, ConfigOf(head, to));
  return json::Diff(a, b);
}

Result<Page<std::shared_ptr<const CachedAgent>>> AgentService::List(
    const Principal& caller, AgentListFilter filter, const PageRequest& page) {
  if (caller.agent_ids) filter.only_ids = *caller.agent_ids;
  AGENTRY_ASSIGN_OR_RETURN(
      Page<AgentRecord> heads,
      store_.agents().List(caller.organization_id, filter, page));
  Page<std::shared_ptr<const CachedAgent>> out;
  out.has_more = heads.has_more;
  out.items.reserve(heads.items.size());
  for (AgentRecord& head : heads.items) {
    auto cached = Find(caller.organization_id, head.id);
    if (cached && !cached->deleted && cached->head.revision == head.revision) {
      out.items.push_back(std::move(cached));
      continue;
    }
    AGENTRY_ASSIGN_OR_RETURN(auto entry, Build(std::move(head), cached.get()));
    auto installed = Install(std::move(entry));
    if (!installed->deleted) out.items.push_back(std::move(installed));
  }
  return out;
}

}  // namespace agentry
