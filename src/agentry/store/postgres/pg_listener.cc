#include "agentry/store/postgres/pg_listener.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "agentry/common/log.h"
#include "agentry/store/postgres/pg_db.h"

namespace agentry {

namespace {

bool KindOf(std::string_view name, StoreChange::Kind* kind) {
  using K = StoreChange::Kind;
  static constexpr std::pair<std::string_view, K> kKinds[] = {
      {"agent", K::kAgent},
      {"api_key", K::kApiKey},
      {"instruction", K::kInstruction},
      {"tool", K::kTool},
      {"profile", K::kProfile},
      {"pool", K::kPool},
      {"lease_freed", K::kLeaseFreed}};
  for (const auto& [n, k] : kKinds) {
    if (n == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

}  // namespace

PgListener::PgListener(std::string url) : url_(std::move(url)) {}

PgListener::~PgListener() { Stop(); }

bool PgListener::Parse(std::string_view payload, std::string* node,
                       StoreChange* change) {
  std::string_view parts[3];
  for (std::string_view& part : parts) {
    const size_t bar = payload.find('|');
    if (bar == std::string_view::npos) return false;
    part = payload.substr(0, bar);
    payload.remove_prefix(bar + 1);
  }
  if (!KindOf(parts[1], &change->kind)) return false;
  *node = std::string(parts[0]);
  change->organization_id = std::string(parts[2]);
  change->id = std::string(payload);  // the rest: an id may hold '|'
  return true;
}

Status PgListener::Connect() {
  AGENTRY_ASSIGN_OR_RETURN(conn_, PgConnection::Open(url_));
  AGENTRY_RETURN_IF_ERROR(
      conn_
          ->Exec("SELECT set_config('application_name', $1, false)",
                 std::string(kApplicationName))
          .status());
  return conn_->Script("LISTEN agentry").status();
}

Status PgListener::Start(ChangeHandlers handlers) {
  handlers_ = std::move(handlers);
  if (::pipe(wake_) != 0) {
    return Status::Internal("cannot create the listener's wake-up pipe");
  }
  AGENTRY_RETURN_IF_ERROR(Connect());
  listening_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void PgListener::Stop() {
  if (stop_.exchange(true)) return;
  if (wake_[1] >= 0) {
    const char c = 0;
    (void)!::write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  conn_.reset();
  for (int& fd : wake_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  listening_ = false;
}

void PgListener::Loop() {
  using std::chrono::milliseconds;
  milliseconds backoff{100};
  std::vector<std::string> payloads;
  while (!stop_) {
    if (!listening_) {
      // Reconnect, then tell the caller to reload: what changed while the
      // connection was down was never announced here.
      Status st = Connect();
      if (st.ok()) {
        listening_ = true;
        backoff = milliseconds{100};
        log::Info("listening for other nodes' changes again");
        if (handlers_.on_reset) handlers_.on_reset(true);
        continue;
      }
      pollfd wait{wake_[0], POLLIN, 0};
      ::poll(&wait, 1, static_cast<int>(backoff.count()));
      backoff = std::min(backoff * 2, milliseconds{2000});
      continue;
    }
    pollfd fds[2] = {{conn_->socket(), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int ready = ::poll(fds, 2, 1000);
    if (stop_) break;
    if (ready < 0) continue;  // EINTR
    payloads.clear();
    Status st = conn_->TakeNotifications(payloads);
    for (const std::string& payload : payloads) {
      std::string node;
      StoreChange change;
      if (!Parse(payload, &node, &change)) {
        log::Warn("an announcement on channel agentry is not understood",
                  {{"payload_bytes", std::to_string(payload.size())}});
        continue;
      }
      if (node == PgNodeId()) continue;  // this process's own change
      if (handlers_.on_change) handlers_.on_change(change);
    }
    if (!st.ok()) {
      listening_ = false;
      conn_.reset();
      log::Warn(
          "lost the connection listening for other nodes' changes; "
          "dropping what is kept in memory and reconnecting",
          {{"error", st.message()}});
      if (handlers_.on_reset) handlers_.on_reset(false);
    }
  }
}

}  // namespace agentry
