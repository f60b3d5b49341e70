#include "agentry/common/event_round.h"

#include <algorithm>
#include <cassert>

namespace agentry {

namespace {
thread_local EventRound* t_round = nullptr;
}  // namespace

EventRound::EventRound(WakeFn on_first_defer, void* arg)
    : on_first_defer_(on_first_defer), arg_(arg) {
  assert(t_round == nullptr);
  t_round = this;
}

EventRound::~EventRound() {
  End();
  t_round = nullptr;
}

void EventRound::End() {
  // A wake-up may defer again (it runs on this thread): those wait for the
  // next End(), so swap the list out first.
  running_.swap(pending_);
  for (const auto& [fn, arg] : running_) fn(arg);
  running_.clear();
}

bool EventRound::Defer(WakeFn fn, void* arg) {
  EventRound* r = t_round;
  if (r == nullptr) return false;
  ++r->deferrals_;
  const std::pair<WakeFn, void*> entry{fn, arg};
  // A round defers a handful of distinct wake-ups at most: a linear scan.
  if (std::find(r->pending_.begin(), r->pending_.end(), entry) !=
      r->pending_.end()) {
    return true;
  }
  r->pending_.push_back(entry);
  if (r->pending_.size() == 1 && r->on_first_defer_ != nullptr) {
    r->on_first_defer_(r->arg_);
  }
  return true;
}

}  // namespace agentry
