#include "agentry/store/redis/redis_buckets.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "agentry/common/log.h"

namespace agentry {

namespace {

// KEYS[1]: the bucket; ARGV: per_second, burst. Answers {allowed (0/1),
// tokens left × 1000}. Time is the Redis server's (TIME), so every node
// refills the bucket by the same clock.
constexpr const char* kTakeScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1])
local at = tonumber(s[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
local ttl = math.ceil((burst - tokens) / rate * 1000) + 1000
redis.call('PEXPIRE', KEYS[1], math.min(ttl, 604800000))
return {allowed, math.floor(tokens * 1000)}
)lua";

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

timeval Millis(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Status BadUrl(std::string_view problem) {
  return Status::InvalidRequest(
      "the Redis URL must look like redis://[:PASSWORD@]HOST[:PORT][/DB]: " +
          std::string(problem),
      "redis");
}

}  // namespace

Result<RedisTarget> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return BadUrl("it must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisTarget t;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    const size_t colon = user_info.find(':');
    t.password = std::string(colon == std::string_view::npos
                                 ? user_info
                                 : user_info.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), t.db);
      if (ec != std::errc() || p != db.data() + db.size() || t.db < 0) {
        return BadUrl("the database must be a number");
      }
    }
  }
  std::string_view host = rest;
  if (size_t colon = rest.rfind(':');
      colon != std::string_view::npos &&
      rest.find(']') == std::string_view::npos) {
    host = rest.substr(0, colon);
    std::string_view port = rest.substr(colon + 1);
    auto [p, ec] =
        std::from_chars(port.data(), port.data() + port.size(), t.port);
    if (ec != std::errc() || p != port.data() + port.size() || t.port < 1 ||
        t.port > 65535) {
      return BadUrl("the port must be a number from 1 to 65535");
    }
  }
  if (host.empty()) return BadUrl("a host is required");
  t.host = std::string(host);
  return t;
}

void RedisBuckets::ContextDeleter::operator()(redisContext* c) const {
  if (c != nullptr) redisFree(c);
}

RedisBuckets::RedisBuckets(RedisTarget target, RedisBucketsOptions options)
    : target_(std::move(target)), options_(std::move(options)) {}

RedisBuckets::~RedisBuckets() = default;

Result<std::unique_ptr<RedisBuckets>> RedisBuckets::Create(
    std::string_view url, RedisBucketsOptions options) {
  AGENTRY_ASSIGN_OR_RETURN(RedisTarget target, ParseRedisUrl(url));
  std::unique_ptr<RedisBuckets> b(
      new RedisBuckets(std::move(target), std::move(options)));
  // Say at start whether Redis answers; the node serves either way.
  if (Context c = b->Connect()) {
    std::lock_guard<std::mutex> lock(b->mu_);
    b->idle_.push_back(std::move(c));
    log::Info("redis reachable: rate limits are global");
  } else {
    b->MarkDown();
  }
  return b;
}

RedisBuckets::Context RedisBuckets::Connect() {
  const timeval connect = Millis(options_.connect_timeout_ms);
  Context c(
      redisConnectWithTimeout(target_.host.c_str(), target_.port, connect));
  if (!c || c->err != 0) return nullptr;
  const timeval command = Millis(options_.command_timeout_ms);
  if (redisSetTimeout(c.get(), command) != REDIS_OK) return nullptr;
  auto ok = [&](Reply r) {
    return r && r->type != REDIS_REPLY_ERROR && c->err == 0;
  };
  if (!target_.password.empty() &&
      !ok(Reply(static_cast<redisReply*>(
          redisCommand(c.get(), "AUTH %b", target_.password.data(),
                       target_.password.size()))))) {
    return nullptr;
  }
  if (target_.db != 0 && !ok(Reply(static_cast<redisReply*>(redisCommand(
                             c.get(), "SELECT %d", target_.db))))) {
    return nullptr;
  }
  return c;
}

std::optional<SharedTake> RedisBuckets::Run(redisContext* c,
                                            std::string_view key,
                                            double per_second, int64_t burst,
                                            bool* broken) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.9g", per_second);
  const std::string burst_text = std::to_string(burst);
  // EVAL keeps the compiled script cached in Redis by its digest; the text
  // is a few hundred bytes per call.
  Reply r(static_cast<redisReply*>(
      redisCommand(c, "EVAL %s 1 %b %s %s", kTakeScript, key.data(), key.size(),
                   rate, burst_text.c_str())));
  if (!r || c->err != 0) {
    *broken = true;
    return std::nullopt;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_INTEGER ||
      r->element[1]->type != REDIS_REPLY_INTEGER) {
    return std::nullopt;
  }
  SharedTake t;
  t.allowed = r->element[0]->integer == 1;
  t.tokens = std::clamp(static_cast<double>(r->element[1]->integer) / 1000.0,
                        0.0, static_cast<double>(burst));
  return t;
}

std::optional<SharedTake> RedisBuckets::Take(std::string_view name,
                                             double per_second, int64_t burst) {
  if (!up_.load(std::memory_order_relaxed)) {
    // One caller per interval tries again; the others decide locally at
    // once.
    int64_t at = retry_at_ms_.load(std::memory_order_relaxed);
    const int64_t now = SteadyMs();
    if (now < at ||
        !retry_at_ms_.compare_exchange_strong(
            at, now + options_.retry_interval_ms, std::memory_order_relaxed)) {
      return std::nullopt;
    }
  }
  Context c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!c) c = Connect();
  if (!c) {
    MarkDown();
    return std::nullopt;
  }
  const std::string key = options_.key_prefix + std::string(name);
  bool broken = false;
  std::optional<SharedTake> taken =
      Run(c.get(), key, per_second, burst, &broken);
  if (taken) {
    MarkUp();
  } else {
    MarkDown();
  }
  if (!broken) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(std::move(c));
    }
  }
  return taken;
}

void RedisBuckets::MarkDown() {
  retry_at_ms_.store(SteadyMs() + options_.retry_interval_ms,
                     std::memory_order_relaxed);
  if (up_.exchange(false)) {
    log::Warn(
        "redis unreachable: rate limits are per node until it answers again");
  }
}

void RedisBuckets::MarkUp() {
  if (!up_.exchange(true)) {
    log::Info("redis reachable again: rate limits are global");
  }
}

}  // namespace agentry
