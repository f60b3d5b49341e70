#include "agentry/app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace agentry {
namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  EnvLookup Lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

class TomlFile {
 public:
  explicit TomlFile(const std::string& content) {
    path_ = std::filesystem::temp_directory_path() /
            ("agentry_config_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter_++) + ".toml");
    std::ofstream(path_) << content;
  }
  ~TomlFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(ConfigTest, DefaultsMatchDesign) {
  FakeEnv env;
  auto c = ResolveConfig({}, env.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
  EXPECT_EQ(c->store, "sqlite://./data/agentry.db");
  EXPECT_EQ(c->redis, "");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_TRUE(c->allow_origins.empty());
}

TEST(ConfigTest, FlagsBeatEnvironmentBeatsFileBeatsDefaults) {
  TomlFile file(
      "listen = \"127.0.0.1:7000\"\nstore = \"sqlite:///tmp/file.db\"\n"
      "threads = 3\nworkers = 7\nlog_level = \"warn\"\n"
      "lease_fold_every = 64\n"
      "allow_origins = [\"https://a.example\"]\n");
  FakeEnv env;
  env.vars["AGENTRY_STORE"] = "sqlite:///tmp/env.db";
  env.vars["AGENTRY_WORKERS"] = "9";
  ConfigFlags flags;
  flags.config_file = file.path();
  flags.workers = 11;

  auto c = ResolveConfig(flags, env.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:7000");       // file
  EXPECT_EQ(c->store, "sqlite:///tmp/env.db");  // env over file
  EXPECT_EQ(c->workers, 11u);                   // flag over env and file
  EXPECT_EQ(c->threads, 3u);                    // file
  EXPECT_EQ(c->lease_fold_every, 64u);          // file
  EXPECT_EQ(c->log_level, "warn");              // file
  ASSERT_EQ(c->allow_origins.size(), 1u);
  EXPECT_EQ(c->allow_origins[0], "https://a.example");
}

TEST(ConfigTest, ConfigFileFromEnvironment) {
  TomlFile file("listen = \"127.0.0.1:7001\"\n");
  FakeEnv env;
  env.vars["AGENTRY_CONFIG"] = file.path();
  env.vars["AGENTRY_ALLOW_ORIGINS"] = "https://a.example, https://b.example";
  auto c = ResolveConfig({}, env.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:7001");
  ASSERT_EQ(c->allow_origins.size(), 2u);
  EXPECT_EQ(c->allow_origins[1], "https://b.example");
}

TEST(ConfigTest, RefusesBadValues) {
  FakeEnv env;
  ConfigFlags flags;
  flags.listen = "nohostport";
  auto c = ResolveConfig(flags, env.Lookup());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "listen");

  flags = {};
  flags.log_level = "loud";
  EXPECT_FALSE(ResolveConfig(flags, env.Lookup()).ok());

  env.vars["AGENTRY_THREADS"] = "many";
  c = ResolveConfig({}, env.Lookup());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "AGENTRY_THREADS");

  env.vars.clear();
  flags = {};
  flags.lease_fold_every = 0;
  c = ResolveConfig(flags, env.Lookup());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "lease-fold-every");
  env.vars["AGENTRY_LEASE_FOLD_EVERY"] = "-1";
  c = ResolveConfig({}, env.Lookup());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "AGENTRY_LEASE_FOLD_EVERY");
  env.vars["AGENTRY_LEASE_FOLD_EVERY"] = "5";
  c = ResolveConfig({}, env.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->lease_fold_every, 5u);
}

TEST(ConfigTest, RefusesBadFiles) {
  FakeEnv env;
  ConfigFlags flags;
  flags.config_file = "/nonexistent/agentry.toml";
  EXPECT_FALSE(ResolveConfig(flags, env.Lookup()).ok());

  TomlFile unknown("listn = \"127.0.0.1:1\"\n");
  flags.config_file = unknown.path();
  auto c = ResolveConfig(flags, env.Lookup());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "listn");

  TomlFile wrong_type("threads = \"two\"\n");
  flags.config_file = wrong_type.path();
  c = ResolveConfig(flags, env.Lookup());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "threads");
}

TEST(ConfigTest, ParseListenHandlesIpv6AndPortZero) {
  std::string host;
  uint16_t port = 1;
  ASSERT_TRUE(ParseListen("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListen("0.0.0.0:8080", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 8080);
  EXPECT_FALSE(ParseListen("127.0.0.1:65536", &host, &port).ok());
  EXPECT_FALSE(ParseListen(":80", &host, &port).ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:", &host, &port).ok());
}

TEST(RateLimitConfigTest, ParsesAndRefuses) {
  auto r = ParseRateLimit("100:200", "rate-limit");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->per_second, 100);
  EXPECT_EQ(r->burst, 200);
  auto slow = ParseRateLimit("0.5:1", "rate-limit");
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(slow->per_second, 0.5);
  for (const char* bad : {"", "100", ":5", "5:", "0:5", "-1:5", "5:0", "5:1.5",
                          "x:5", "5:x", "nan:5", "inf:5", "5:5:5"}) {
    auto b = ParseRateLimit(bad, "rate-limit");
    EXPECT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().field(), "rate-limit") << bad;
  }
}

TEST(RateLimitConfigTest, FlagsBeatEnvironmentBeatDefaults) {
  ConfigFlags flags;
  auto none = ResolveConfig(flags, [](const char*) { return nullptr; });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->rate_limit.per_second, 100);
  EXPECT_EQ(none->rate_limit.burst, 200);
  EXPECT_EQ(none->auth_failure_limit.burst, 50);
  auto env = [](const char* name) -> const char* {
    if (std::string_view(name) == "AGENTRY_RATE_LIMIT") return "7:8";
    if (std::string_view(name) == "AGENTRY_AUTH_FAILURE_LIMIT") return "1:2";
    return nullptr;
  };
  auto from_env = ResolveConfig(flags, env);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->rate_limit.burst, 8);
  EXPECT_EQ(from_env->auth_failure_limit.burst, 2);
  flags.rate_limit = "9:10";
  auto from_flag = ResolveConfig(flags, env);
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->rate_limit.burst, 10);
  flags.rate_limit = "nope";
  EXPECT_EQ(ResolveConfig(flags, env).status().field(), "rate-limit");
}

}  // namespace
}  // namespace agentry
