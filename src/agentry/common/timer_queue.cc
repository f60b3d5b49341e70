#include "agentry/common/timer_queue.h"

namespace agentry {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() { Shutdown(); }

TimerQueue::Id TimerQueue::Schedule(Clock::time_point at,
                                    std::function<void()> fn) {
  Id id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return 0;
    id = next_id_++;
    timers_.emplace(std::make_pair(at, id), std::move(fn));
    when_.emplace(id, at);
  }
  cv_.notify_one();
  return id;
}

bool TimerQueue::Cancel(Id id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = when_.find(id);
  if (it == when_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  when_.erase(it);
  return true;
}

void TimerQueue::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    timers_.clear();
    when_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void TimerQueue::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    // A copy: the node may be erased (Cancel, Shutdown) while this waits,
    // and wait_until reads its deadline again when it wakes.
    const Clock::time_point deadline = first->first.first;
    if (deadline > Clock::now()) {
      cv_.wait_until(lock, deadline);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    when_.erase(first->first.second);
    timers_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace agentry
