#include "agentry/app/master_key.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agentry/common/crypto.h"

namespace agentry {
namespace {

namespace fs = std::filesystem;

// A fresh directory, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (fs::temp_directory_path() / "agentry_master_key_XXXXXX").string();
    const char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, ignored);
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  std::string Url(const std::string& db = "agentry.db") const {
    return "sqlite://" + (path_ / db).string();
  }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& path, const std::string& content,
               mode_t mode = 0600) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, mode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()),
            static_cast<ssize_t>(content.size()));
  ASSERT_EQ(::fchmod(fd, mode), 0);  // whatever the umask
  ::close(fd);
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

// ---------------------------------------------------------------- variable

TEST_F(MasterKeyTest, EnvironmentKeyIsDecoded) {
  const std::string key = RandomBytes(32);
  TempDir dir;
  Result<std::string> got = LoadMasterKey(Base64Encode(key), dir.Url());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, key);
  // With the variable set no file is created.
  EXPECT_TRUE(Entries(dir.path()).empty());
  // Surrounding whitespace (a trailing newline from $(cat …)) is ignored.
  got = LoadMasterKey(" " + Base64Encode(key) + "\n", dir.Url());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, key);
}

TEST_F(MasterKeyTest, EnvironmentKeyWinsOverTheFile) {
  TempDir dir;
  Result<std::string> from_file = LoadMasterKey(std::nullopt, dir.Url());
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  const std::string key = RandomBytes(32);
  Result<std::string> got = LoadMasterKey(Base64Encode(key), dir.Url());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, key);
  EXPECT_NE(*got, *from_file);
}

TEST_F(MasterKeyTest, BadEnvironmentKeyIsRefused) {
  const std::string key = RandomBytes(32);
  const std::string url_safe = Base64UrlEncode(std::string(32, '\xfb'));
  for (const std::string& bad : {
           std::string(""),
           std::string("   "),
           std::string("not base64 at all!"),
           Base64Encode(RandomBytes(31)),
           Base64Encode(RandomBytes(33)),
           Base64Encode(RandomBytes(16)),
           Base64Encode(RandomBytes(64)),
           Base64Encode(key).substr(0, 43),  // padding missing
           url_safe,                         // URL-safe alphabet
           Base64Encode(key) + "AAAA",
           Base64Encode(key.substr(0, 16)) + " " + Base64Encode(key.substr(16)),
       }) {
    for (const char* store : {"sqlite://./data/agentry.db", "postgres://db"}) {
      Result<std::string> got = LoadMasterKey(bad, store);
      ASSERT_FALSE(got.ok()) << bad;
      EXPECT_EQ(got.status().code(), ErrorCode::kInvalidRequest) << bad;
      EXPECT_NE(got.status().message().find("AGENTRY_MASTER_KEY"),
                std::string::npos);
      if (bad.size() > 8) {
        EXPECT_EQ(got.status().message().find(bad), std::string::npos);
      }
    }
  }
}

// ---------------------------------------------------------------- PostgreSQL

TEST_F(MasterKeyTest, PostgresNeedsTheVariable) {
  for (const char* url : {"postgres://user:pw@db:5432/agentry",
                          "postgresql://db/agentry", "POSTGRES://db/agentry"}) {
    Result<std::string> got = LoadMasterKey(std::nullopt, url);
    ASSERT_FALSE(got.ok()) << url;
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidRequest);
    EXPECT_EQ(got.status().message(),
              "AGENTRY_MASTER_KEY is required with PostgreSQL");
  }
  const std::string key = RandomBytes(32);
  Result<std::string> got =
      LoadMasterKey(Base64Encode(key), "postgres://db/agentry");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, key);
}

TEST_F(MasterKeyTest, UrlsWithoutAFile) {
  for (const char* url : {"sqlite://", "mysql://db/x", "agentry.db", ""}) {
    Result<std::string> got = LoadMasterKey(std::nullopt, url);
    ASSERT_FALSE(got.ok()) << url;
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidRequest) << url;
  }
}

// ---------------------------------------------------------------- file

TEST_F(MasterKeyTest, CreatesTheFileWithMode0600) {
  TempDir dir;
  const mode_t old_umask = ::umask(0);  // even a permissive umask
  Result<std::string> got = LoadMasterKey(std::nullopt, dir.Url());
  ::umask(old_umask);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 32u);
  const fs::path file = dir.path() / "master.key";
  EXPECT_EQ(ModeOf(file), 0600u);
  EXPECT_TRUE(fs::is_regular_file(file));
  // Base64 and a newline; nothing else is left in the directory.
  EXPECT_EQ(ReadFile(file), Base64Encode(*got) + "\n");
  EXPECT_EQ(Entries(dir.path()), std::vector<std::string>{"master.key"});
}

TEST_F(MasterKeyTest, ReusesTheFile) {
  TempDir dir;
  Result<std::string> first = LoadMasterKey(std::nullopt, dir.Url());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string text = ReadFile(dir.path() / "master.key");
  for (int i = 0; i < 3; ++i) {
    Result<std::string> again = LoadMasterKey(std::nullopt, dir.Url());
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, *first);
  }
  EXPECT_EQ(ReadFile(dir.path() / "master.key"), text);
  // Another database in the same directory shares the key.
  EXPECT_EQ(*LoadMasterKey(std::nullopt, dir.Url("other.db")), *first);
  // The URL's scheme is case-insensitive, as OpenStore's.
  EXPECT_EQ(*LoadMasterKey(std::nullopt,
                           "SQLite://" + (dir.path() / "x.db").string()),
            *first);
}

TEST_F(MasterKeyTest, ReadsAnOperatorWrittenFile) {
  TempDir dir;
  const std::string key = RandomBytes(32);
  // Without a trailing newline, and read-only for the owner.
  WriteFile(dir.path() / "master.key", Base64Encode(key), 0400);
  Result<std::string> got = LoadMasterKey(std::nullopt, dir.Url());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, key);
}

TEST_F(MasterKeyTest, CreatesMissingDirectories) {
  TempDir dir;
  Result<std::string> got =
      LoadMasterKey(std::nullopt, dir.Url("data/nested/agentry.db"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(ModeOf(dir.path() / "data/nested/master.key"), 0600u);
}

TEST_F(MasterKeyTest, RelativePaths) {
  TempDir dir;
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  Result<std::string> nested =
      LoadMasterKey(std::nullopt, "sqlite://./data/agentry.db");
  Result<std::string> bare = LoadMasterKey(std::nullopt, "sqlite://agentry.db");
  fs::current_path(cwd);
  ASSERT_TRUE(nested.ok()) << nested.status().ToString();
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(ReadFile(dir.path() / "data" / "master.key"),
            Base64Encode(*nested) + "\n");
  EXPECT_EQ(ReadFile(dir.path() / "master.key"), Base64Encode(*bare) + "\n");
  EXPECT_NE(*nested, *bare);
}

void ExpectFileRefused(const TempDir& dir, std::string_view hint) {
  Result<std::string> got = LoadMasterKey(std::nullopt, dir.Url());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kUnavailable)
      << got.status().ToString();
  const std::string path = (dir.path() / "master.key").string();
  EXPECT_NE(got.status().message().find(path), std::string::npos)
      << got.status().message();
  EXPECT_NE(got.status().message().find(hint), std::string::npos)
      << got.status().message();
}

TEST_F(MasterKeyTest, RefusesABadFileAndLeavesItAlone) {
  const std::string key = RandomBytes(32);
  for (const std::string& bad : {
           std::string(""),
           std::string("\n"),
           std::string("hunter2-not-a-key\n"),
           Base64Encode(RandomBytes(16)) + "\n",
           Base64Encode(RandomBytes(33)) + "\n",
           Base64UrlEncode(key) + "\n",
           Base64Encode(key) + "\n" + Base64Encode(key) + "\n",
           std::string(4096, 'A'),
       }) {
    TempDir dir;
    WriteFile(dir.path() / "master.key", bad);
    ExpectFileRefused(dir, "base64");
    // Never replaced: secrets sealed under the lost key would be lost too.
    EXPECT_EQ(ReadFile(dir.path() / "master.key"), bad);
  }
}

TEST_F(MasterKeyTest, BadFileMessageShowsNoContent) {
  TempDir dir;
  const std::string almost = Base64Encode(RandomBytes(31));
  WriteFile(dir.path() / "master.key", almost);
  Result<std::string> got = LoadMasterKey(std::nullopt, dir.Url());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message().find(almost), std::string::npos);
}

TEST_F(MasterKeyTest, RefusesAFileOthersCanUse) {
  const std::string key = RandomBytes(32);
  for (mode_t mode : {0640, 0604, 0644, 0660, 0610, 0601, 0700 | 0004}) {
    TempDir dir;
    WriteFile(dir.path() / "master.key", Base64Encode(key) + "\n", mode);
    ExpectFileRefused(dir, "chmod 600");
    EXPECT_EQ(ModeOf(dir.path() / "master.key"), mode);  // left as it was
  }
  TempDir dir;
  WriteFile(dir.path() / "master.key", Base64Encode(key) + "\n", 0600);
  EXPECT_EQ(*LoadMasterKey(std::nullopt, dir.Url()), key);
}

TEST_F(MasterKeyTest, RefusesADirectory) {
  TempDir dir;
  fs::create_directory(dir.path() / "master.key");
  fs::permissions(dir.path() / "master.key", fs::perms::owner_all);
  ExpectFileRefused(dir, "regular file");
}

TEST_F(MasterKeyTest, UnwritableDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  ExpectFileRefused(dir, "cannot be created");
}

TEST_F(MasterKeyTest, ParentIsNotADirectory) {
  TempDir dir;
  WriteFile(dir.path() / "plain", "a file, not a directory");
  Result<std::string> got =
      LoadMasterKey(std::nullopt, dir.Url("plain/agentry.db"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(got.status().message().find(
                (dir.path() / "plain" / "master.key").string()),
            std::string::npos)
      << got.status().message();
}

TEST_F(MasterKeyTest, ConcurrentStartsAgreeOnOneKey) {
  for (int round = 0; round < 5; ++round) {
    TempDir dir;
    constexpr int kThreads = 8;
    std::vector<Result<std::string>> got(kThreads, Status::Internal("unset"));
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back(
          [&, i] { got[i] = LoadMasterKey(std::nullopt, dir.Url()); });
    }
    for (std::thread& t : threads) t.join();
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(got[i].ok()) << got[i].status().ToString();
      EXPECT_EQ(*got[i], *got[0]);
    }
    EXPECT_EQ(ReadFile(dir.path() / "master.key"),
              Base64Encode(*got[0]) + "\n");
    EXPECT_EQ(Entries(dir.path()), std::vector<std::string>{"master.key"});
  }
}

}  // namespace
}  // namespace agentry
