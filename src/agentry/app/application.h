// The one place that wires everything (DESIGN §3 idiom 8): store, services,
// router, middleware and server. No singletons, no globals.
//
// Start() opens and migrates the store, bootstraps the first organization,
// loads the key index and binds the listener; Run() serves until SIGTERM or
// Shutdown(), then closes the store. Start/Run from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agentry/app/config.h"
#include "agentry/common/status.h"

namespace agentry {

// Secrets read from the environment only (never flags or files).
struct Secrets {
  // AGENTRY_BOOTSTRAP_ADMIN_KEY: the first admin key's value.
  std::optional<std::string> bootstrap_admin_key;
  // AGENTRY_MASTER_KEY: base64 of the 32-byte key that seals profile
  // secrets (else master.key beside a SQLite store).
  std::optional<std::string> master_key;
};

class Application {
 public:
  Application(Config config, Secrets secrets);
  ~Application();

  // kInvalidRequest for bad configuration; kUnavailable when the store or
  // the listener cannot be opened.
  Status Start();
  uint16_t port() const;
  void Run();
  void Shutdown();

 private:
  struct Parts;
  Config config_;
  Secrets secrets_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace agentry
