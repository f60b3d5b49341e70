#include "agentry/app/application.h"

#include <sodium.h>

#include <cstdio>
#include <thread>

#include "agentry/app/master_key.h"
#include "agentry/common/clock.h"
#include "agentry/common/crypto.h"
#include "agentry/common/log.h"
#include "agentry/common/metrics.h"
#include "agentry/http/compat/compat.h"
#include "agentry/http/middleware.h"
#include "agentry/http/native/native.h"
#include "agentry/http/ops.h"
#include "agentry/http/router.h"
#include "agentry/http/server.h"
#include "agentry/service/agent_service.h"
#include "agentry/service/auth_service.h"
#include "agentry/service/instruction_service.h"
#include "agentry/service/lease_service.h"
#include "agentry/service/rate_limiter.h"
#include "agentry/service/references.h"
#include "agentry/service/tenancy_service.h"
#include "agentry/service/tool_service.h"
#include "agentry/store/redis/redis_buckets.h"
#include "agentry/store/store.h"

namespace agentry {

struct Application::Parts {
  SystemClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<AuthService> auth;
  std::unique_ptr<TenancyService> tenancy;
  std::unique_ptr<ToolService> tools;
  std::unique_ptr<InstructionService> instructions;
  std::unique_ptr<References> references;
  std::unique_ptr<AgentService> agents;
  std::unique_ptr<LeaseService> leases;
  std::unique_ptr<RedisBuckets> redis;  // null without --redis
  std::unique_ptr<RateLimiter> limiter;
  http::Router router;
  std::unique_ptr<http::Server> server;
};

Application::Application(Config config, Secrets secrets)
    : config_(std::move(config)),
      secrets_(std::move(secrets)),
      parts_(std::make_unique<Parts>()) {}

Application::~Application() {
  // The listener calls into the services: stop it before they go.
  if (parts_ && parts_->store) parts_->store->StopWatching();
}

Status Application::Start() {
  if (!InitCrypto()) return Status::Unavailable("libsodium failed to start");
  Parts& p = *parts_;

  std::string host;
  uint16_t port = 0;
  AGENTRY_RETURN_IF_ERROR(ParseListen(config_.listen, &host, &port));

  StoreOptions store_options;
  store_options.commit_batch_sizes = p.metrics.AddHistogram(
      "agentry_store_commit_batch_size",
      "Writes folded into one store transaction (group commit).", "",
      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
  store_options.lease_fold_every = config_.lease_fold_every;
  AGENTRY_ASSIGN_OR_RETURN(p.store, OpenStore(config_.store, store_options));
  log::Info("store opened", {{"backend", p.store->backend()}});

  p.auth = std::make_unique<AuthService>(*p.store, p.clock);
  p.tenancy = std::make_unique<TenancyService>(*p.store, *p.auth, p.clock);
  p.tools = std::make_unique<ToolService>(*p.store, p.clock);
  p.instructions = std::make_unique<InstructionService>(*p.store, p.clock);
  p.references =
      std::make_unique<References>(*p.store, *p.instructions, p.clock);
  p.agents = std::make_unique<AgentService>(*p.store, *p.auth, p.clock,
                                            p.references.get());
  {
    AGENTRY_ASSIGN_OR_RETURN(std::string key,
                             LoadMasterKey(secrets_.master_key, config_.store));
    AGENTRY_ASSIGN_OR_RETURN(SecretBox box, SecretBox::FromKey(key));
    sodium_memzero(key.data(), key.size());
    p.leases = std::make_unique<LeaseService>(*p.store, p.clock, box);
  }
  if (p.store->shared()) {
    // Other nodes' changes drop what this one keeps in memory. Watched
    // before anything is loaded, so that no change is missed in between.
    Counter* changes = p.metrics.AddCounter(
        "agentry_store_changes_total",
        "Changes announced by other nodes and applied to this node's memory.",
        "");
    Counter* resets = p.metrics.AddCounter(
        "agentry_store_change_resets_total",
        "Times the connection listening for other nodes' changes was lost "
        "or re-established (everything in memory dropped).",
        "");
    p.metrics.AddGauge("agentry_store_listening",
                       "1 while this node hears other nodes' changes.", "",
                       [store = p.store.get()] {
                         return store->WatchStatus().ok() ? 1.0 : 0.0;
                       });
    ChangeHandlers handlers;
    handlers.on_change = [&p, changes](const StoreChange& c) {
      using K = StoreChange::Kind;
      changes->Add();
      switch (c.kind) {
        case K::kAgent:
          p.agents->Refresh(c.organization_id, c.id);
          break;
        case K::kApiKey:
          if (Status st = p.auth->RefreshKey(c.organization_id, c.id);
              !st.ok()) {
            log::Warn(
                "cannot reload a key another node changed; it is "
                "refused here until it can be",
                {{"key_id", c.id}, {"error", st.message()}});
          }
          break;
        case K::kInstruction:
          p.instructions->Forget(c.organization_id, c.id);
          break;
        case K::kTool:
          break;  // tools are read from the store each time
        case K::kProfile:
        case K::kPool:
        case K::kLeaseFreed:
          p.leases->OnStoreChange(c);
          break;
      }
    };
    handlers.on_reset = [&p, resets](bool listening) {
      resets->Add();
      p.agents->ForgetAll(/*caching=*/listening);
      p.instructions->ForgetAll();
      if (!listening) return;
      if (Status st = p.auth->LoadKeys(); !st.ok()) {
        log::Warn("cannot reload the API keys", {{"error", st.message()}});
      }
      p.leases->OnStoreReset(true);
    };
    AGENTRY_RETURN_IF_ERROR(p.store->Watch(std::move(handlers)));
  }
  AGENTRY_RETURN_IF_ERROR(p.leases->Load());
  AGENTRY_ASSIGN_OR_RETURN(BootstrapOutcome boot,
                           p.tenancy->Bootstrap(secrets_.bootstrap_admin_key));
  if (boot.created) {
    log::Info(
        "bootstrapped organization \"default\" and its admin key",
        {{"key_source", boot.generated_key ? "generated" : "environment"}});
  }
  if (boot.generated_key) {
    // Shown once, on standard error only, never through the log.
    std::fprintf(stderr,
                 "\nAGENTRY BOOTSTRAP ADMIN KEY (shown once; store it now):\n"
                 "%s\n\n",
                 boot.generated_key->c_str());
    std::fflush(stderr);
  }
  AGENTRY_RETURN_IF_ERROR(p.auth->LoadKeys());
  p.metrics.AddGauge(
      "agentry_api_keys_active", "API keys in the auth index.", "",
      [auth = p.auth.get()] { return static_cast<double>(auth->size()); });

  RateLimiterOptions limits;
  limits.default_limit = config_.rate_limit;
  limits.failed_auth_limit = config_.auth_failure_limit;
  if (!config_.redis.empty()) {
    AGENTRY_ASSIGN_OR_RETURN(p.redis, RedisBuckets::Create(config_.redis));
    limits.shared = p.redis.get();
    limits.local_fallbacks = p.metrics.AddCounter(
        "agentry_rate_limit_local_decisions_total",
        "Key rate-limit decisions made with the node's local bucket because "
        "Redis did not answer.",
        "");
    p.metrics.AddGauge(
        "agentry_redis_up", "1 when the last rate-limit call reached Redis.",
        "", [r = p.redis.get()] { return r->reachable() ? 1.0 : 0.0; });
  }
  p.limiter = std::make_unique<RateLimiter>(limits);

  http::OpsDeps ops;
  ops.store = p.store.get();
  ops.metrics = &p.metrics;
  ops.extra_metrics = [this] { return parts_->server->RenderRequestMetrics(); };
  if (p.redis) {
    ops.redis_state = [r = p.redis.get()] {
      return std::string(r->reachable() ? "ok" : "unreachable");
    };
  }
  http::RegisterOpsRoutes(p.router, std::move(ops));
  http::RegisterOrganizationRoutes(p.router, *p.tenancy);
  http::RegisterApiKeyRoutes(p.router, *p.tenancy);
  http::RegisterAgentRoutes(p.router, *p.agents, *p.references);
  http::RegisterToolRoutes(p.router, *p.tools);
  http::RegisterInstructionRoutes(p.router, *p.instructions, *p.references);
  http::RegisterProfileRoutes(p.router, *p.leases);
  http::RegisterPoolRoutes(p.router, *p.leases);
  http::RegisterLeaseRoutes(p.router, *p.leases);
  http::RegisterAsteroidRoutes(p.router, *p.leases);
  http::RegisterOdeusRoutes(p.router, *p.agents);
  http::RegisterVectaraRoutes(p.router, *p.agents);

  http::ServerOptions so;
  so.host = host;
  so.port = port;
  so.io_threads = config_.threads != 0
                      ? config_.threads
                      : std::max(1u, std::thread::hardware_concurrency());
  so.worker_threads = config_.workers;
  so.allowed_origins = config_.allow_origins;
  so.on_shutdown = [leases = p.leases.get()] { leases->Shutdown(); };
  std::vector<http::Middleware> chain = {
      http::OriginCheck(config_.allow_origins),
      http::Authenticate(*p.auth, *p.limiter),
      http::RateLimit(*p.limiter),
  };
  p.server =
      std::make_unique<http::Server>(so, p.router, std::move(chain), p.metrics);
  AGENTRY_RETURN_IF_ERROR(p.server->Start());
  log::Info("listening", {{"host", host},
                          {"port", static_cast<int>(p.server->port())},
                          {"io_threads", so.io_threads},
                          {"workers", so.worker_threads}});
  log::Flush();  // whoever waits for this line should not wait a second
  return Status::Ok();
}

uint16_t Application::port() const {
  return parts_->server ? parts_->server->port() : 0;
}

void Application::Run() {
  parts_->server->Run();
  parts_->server.reset();
  parts_->store->StopWatching();  // it calls into the services below
  parts_->leases.reset();         // before the store it writes to
  parts_->store.reset();          // closes the store after the last request
  log::Info("stopped");
  log::Flush();
}

void Application::Shutdown() {
  if (parts_->server) parts_->server->Shutdown();
}

}  // namespace agentry
