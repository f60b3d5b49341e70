#include "agentry/app/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "agentry/app/application.h"
#include "agentry/app/config.h"
#include "agentry/common/log.h"

namespace agentry {

namespace {

constexpr const char* kEnvironmentHelp = R"(
Configuration precedence: flags > environment > TOML file (--config) > defaults.

Environment:
  AGENTRY_CONFIG               TOML file (keys: listen, store, redis, threads,
                               workers, log_level, allow_origins, rate_limit,
                               auth_failure_limit, lease_fold_every)
  AGENTRY_LISTEN               like --listen
  AGENTRY_STORE                like --store
  AGENTRY_REDIS                like --redis
  AGENTRY_THREADS              like --threads
  AGENTRY_WORKERS              like --workers
  AGENTRY_LEASE_FOLD_EVERY     like --lease-fold-every
  AGENTRY_LOG_LEVEL            like --log-level
  AGENTRY_ALLOW_ORIGINS        like --allow-origin, comma-separated
  AGENTRY_RATE_LIMIT           like --rate-limit
  AGENTRY_AUTH_FAILURE_LIMIT   like --auth-failure-limit
  AGENTRY_BOOTSTRAP_ADMIN_KEY  value of the first admin key (>= 24 chars) when
                               the store holds no organization; otherwise a key
                               is generated and printed once to stderr
  AGENTRY_MASTER_KEY           base64 of 32 bytes encrypting profile secrets
)";

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "Agentry: a self-hosted control plane for AI agents (versioned agents, "
      "tools and instructions, credential profile pools and leases)."};
  app.footer(std::string("Run `agentry serve --help` for the server's "
                         "options.\n") +
             kEnvironmentHelp);
  app.set_version_flag("--version", "agentry 0.1.0");
  app.require_subcommand(1);

  ConfigFlags flags;
  std::string config_file, listen, store, redis, log_level;
  size_t threads = 0, workers = 0, lease_fold_every = 0;
  std::vector<std::string> origins;
  std::string rate_limit, auth_failure_limit;

  CLI::App* serve = app.add_subcommand(
      "serve", "Serve the HTTP API (native /v1 and the compatible surfaces).");
  serve->footer(kEnvironmentHelp);
  auto* o_config = serve->add_option(
      "--config", config_file, "TOML configuration file (env AGENTRY_CONFIG)");
  auto* o_listen = serve->add_option(
      "--listen", listen,
      "Address to listen on, HOST:PORT; port 0 picks a free one "
      "(default 127.0.0.1:8080, env AGENTRY_LISTEN)");
  auto* o_store = serve->add_option(
      "--store", store,
      "Store URL: sqlite://PATH or postgres://USER@HOST:PORT/DB "
      "(default sqlite://./data/agentry.db, env AGENTRY_STORE)");
  auto* o_redis =
      serve->add_option("--redis", redis,
                        "Redis URL for global rate limits, redis://HOST:PORT "
                        "(default: none, limits per node; env AGENTRY_REDIS)");
  auto* o_threads = serve->add_option(
      "--threads", threads,
      "I/O threads; 0 means one per core (default 0, env AGENTRY_THREADS)");
  auto* o_workers =
      serve->add_option("--workers", workers,
                        "Worker threads for requests that touch the store "
                        "(default 32, env AGENTRY_WORKERS)");
  auto* o_fold = serve->add_option(
      "--lease-fold-every", lease_fold_every,
      "SQLite: grants between two folds of the leases into the profiles' "
      "fencing-token rows; a restart reads at most about this many leases "
      "beyond them (default 2048, env AGENTRY_LEASE_FOLD_EVERY)");
  auto* o_log = serve->add_option(
      "--log-level", log_level,
      "debug, info, warn, error or off (default info, env AGENTRY_LOG_LEVEL)");
  auto* o_origin =
      serve->add_option("--allow-origin", origins,
                        "Browser origin allowed to call the API; repeatable "
                        "(default: none, env AGENTRY_ALLOW_ORIGINS)");

  auto* o_rate = serve->add_option(
      "--rate-limit", rate_limit,
      "Token bucket of a key without its own limit, PER_SECOND:BURST "
      "(default 100:200, env AGENTRY_RATE_LIMIT)");
  o_rate->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  auto* o_auth_failures = serve->add_option(
      "--auth-failure-limit", auth_failure_limit,
      "Failed authentications allowed per client address, PER_SECOND:BURST "
      "(default 5:50, env AGENTRY_AUTH_FAILURE_LIMIT)");
  o_auth_failures->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (o_config->count()) flags.config_file = config_file;
  if (o_listen->count()) flags.listen = listen;
  if (o_store->count()) flags.store = store;
  if (o_redis->count()) flags.redis = redis;
  if (o_threads->count()) flags.threads = threads;
  if (o_workers->count()) flags.workers = workers;
  if (o_fold->count()) flags.lease_fold_every = lease_fold_every;
  if (o_log->count()) flags.log_level = log_level;
  if (o_origin->count()) flags.allow_origins = origins;
  if (o_rate->count()) flags.rate_limit = rate_limit;
  if (o_auth_failures->count()) flags.auth_failure_limit = auth_failure_limit;

  auto config =
      ResolveConfig(flags, [](const char* name) { return std::getenv(name); });
  if (!config.ok()) {
    std::fprintf(stderr, "agentry: %s\n", config.status().ToString().c_str());
    return 2;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(config->log_level, &level);
  log::Init(level);

  Secrets secrets;
  if (const char* k = std::getenv("AGENTRY_BOOTSTRAP_ADMIN_KEY")) {
    secrets.bootstrap_admin_key = k;
  }
  if (const char* k = std::getenv("AGENTRY_MASTER_KEY")) {
    secrets.master_key = k;
  }
  Application application(std::move(config).value(), std::move(secrets));
  Status st = application.Start();
  if (!st.ok()) {
    log::Error("start-up failed", {{"error", st.ToString()}});
    std::fprintf(stderr, "agentry: %s\n", st.ToString().c_str());
    return 1;
  }
  application.Run();
  log::Shutdown();
  return 0;
}

}  // namespace agentry
