#include "agentry/app/master_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "agentry/common/crypto.h"
#include "agentry/common/log.h"
#include "agentry/store/store_url.h"

namespace agentry {

namespace {

namespace fs = std::filesystem;

// A key file is 45 bytes; anything much larger is not one.
constexpr size_t kMaxKeyFileBytes = 1024;

// Wipes a string that held key material when it goes out of scope.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { sodium_memzero(s_.data(), s_.size()); }

 private:
  std::string& s_;
};

// Closes a file descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now; 0 or the errno of close (which reports late write errors).
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// The 32 bytes `text` is the standard base64 of (surrounding whitespace
// ignored); nullopt when it is not.
std::optional<std::string> DecodeKey(std::string_view text) {
  std::optional<std::string> key = Base64Decode(TrimSpace(text));
  if (key && key->size() != SecretBox::kKeyBytes) {
    sodium_memzero(key->data(), key->size());
    return std::nullopt;
  }
  return key;
}

std::string ErrnoText(int err) { return std::strerror(err); }

Status FileUnavailable(const std::string& path, std::string_view problem) {
  return Status::Unavailable("the master key file " + path +
                             std::string(problem));
}

// The key in the existing file `path`. kNotFound (no message) when there is
// no such file, so that the caller creates it.
Result<std::string> ReadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("");
    return FileUnavailable(path, " cannot be opened: " + ErrnoText(err));
  }
  FileDescriptor file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return FileUnavailable(path, " cannot be examined: " + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return FileUnavailable(path, " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return FileUnavailable(path, std::string(" has mode ") + mode +
                                     ", which lets group or others use it; "
                                     "run chmod 600 on it");
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  WipeOnExit wipe(text);
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileUnavailable(path, " cannot be read: " + ErrnoText(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  std::optional<std::string> key;
  if (got <= kMaxKeyFileBytes)
    key = DecodeKey(std::string_view(text.data(), got));
  if (!key) {
    return FileUnavailable(
        path, " does not hold a master key (the standard base64 of 32 bytes)");
  }
  return std::move(*key);
}

// Creates `path` (O_CREAT | O_EXCL, mode 0600), writes `content` and fsyncs
// it. 0 or an errno (EEXIST when the file exists).
int WriteNewFile(const std::string& path, std::string_view content) {
  const int fd =
      ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  FileDescriptor file(fd);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return errno;
  return file.Close();
}

// fsyncs directory `dir`, so that entries created in it survive a crash.
int SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  FileDescriptor file(fd);
  return ::fsync(fd) == 0 ? 0 : errno;
}

// Creates `path` in `dir` holding a fresh random key. The key is written in
// full to a temporary file first and then linked under its name, which fails
// when the name exists: the file never appears half-written, and of two
// servers starting at once one wins. kConflict (no message) when another
// process created `path` first.
Result<std::string> CreateKeyFile(const std::string& dir,
                                  const std::string& path) {
  std::string key = RandomBytes(SecretBox::kKeyBytes);
  std::string text = Base64Encode(key) + "\n";
  WipeOnExit wipe_text(text);
  const std::string temp = path + "." + RandomAlnum(12) + ".tmp";
  int err = WriteNewFile(temp, text);
  if (err != 0) {
    ::unlink(temp.c_str());
    sodium_memzero(key.data(), key.size());
    return FileUnavailable(path, " cannot be created: " + ErrnoText(err));
  }
  err = ::link(temp.c_str(), path.c_str()) == 0 ? 0 : errno;
  ::unlink(temp.c_str());
  if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS) {
    // A file system without hard links: create the file in place.
    err = WriteNewFile(path, text);
    if (err != 0 && err != EEXIST) ::unlink(path.c_str());
  }
  if (err != 0) {
    sodium_memzero(key.data(), key.size());
    if (err == EEXIST) return Status::Conflict("");
    return FileUnavailable(path, " cannot be created: " + ErrnoText(err));
  }
  err = SyncDirectory(dir);
  if (err != 0) {
    sodium_memzero(key.data(), key.size());
    return FileUnavailable(path,
                           " was created but its directory cannot be "
                           "synced: " +
                               ErrnoText(err));
  }
  log::Warn(
      "created a new master key for profile secrets; back it up with the "
      "database, since secrets cannot be opened without it",
      {{"path", path}});
  return key;
}

}  // namespace

Result<std::string> LoadMasterKey(const std::optional<std::string>& env_value,
                                  std::string_view store_url) {
  if (env_value) {
    std::optional<std::string> key = DecodeKey(*env_value);
    if (!key) {
      return Status::InvalidRequest(
          "AGENTRY_MASTER_KEY must be the standard base64 of 32 bytes (for "
          "example the output of `openssl rand -base64 32`)");
    }
    return std::move(*key);
  }
  if (IsPostgresUrl(store_url)) {
    return Status::InvalidRequest(
        "AGENTRY_MASTER_KEY is required with PostgreSQL");
  }
  const std::optional<std::string> db = SqlitePathOf(store_url);
  if (!db || db->empty()) {
    return Status::InvalidRequest(
        "AGENTRY_MASTER_KEY is required unless the store is a SQLite file "
        "(sqlite://PATH), beside which master.key is kept");
  }
  const fs::path parent = fs::path(*db).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  const std::string path = (parent / kMasterKeyFileName).string();
  // Twice at most: when another process creates the file between our read
  // and our create, the second read finds theirs.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<std::string> read = ReadKeyFile(path);
    if (read.ok() || read.status().code() != ErrorCode::kNotFound) {
      return read;
    }
    std::error_code ignored;  // the store normally made it already
    fs::create_directories(dir, ignored);
    Result<std::string> created = CreateKeyFile(dir, path);
    if (created.ok() || created.status().code() != ErrorCode::kConflict) {
      return created;
    }
  }
  return FileUnavailable(path, " appeared and vanished while being read");
}

}  // namespace agentry
