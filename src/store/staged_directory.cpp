// A directory written beside its target and moved into place in one step.
//
// The staging directory is `TARGET.chunkarr-tmp-PID-N-new`. commit() makes what was written
// durable (fsync of every file, then of every directory) and then renames it over the target
// with renameat2: RENAME_NOREPLACE when the target must not exist (so a target that appeared
// meanwhile is refused, never replaced), RENAME_EXCHANGE to replace one (the old tree lands at
// the staging name and is removed after). There is no moment at which the target is missing.
// A writer that dies leaves only its staging directory, which the next writer of the same
// target removes once the PID in its name is gone.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "chunkarr/core/error.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view staging_tag = ".chunkarr-tmp-";  // TARGET.chunkarr-tmp-PID-N-new
constexpr std::string_view old_tag = ".chunkarr-old-";      // TARGET.chunkarr-old-PID

[[noreturn]] void throw_errno(std::string_view action, const fs::path& path, int err) {
  throw_error<io_error>("cannot ", action, " ", path.string(), ": ", std::strerror(err));
}

fs::path parent_of(const fs::path& target) {
  const fs::path parent = target.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

bool writer_is_gone(std::string_view pid_and_rest) {
  const long pid = std::strtol(std::string(pid_and_rest).c_str(), nullptr, 10);
  return pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// An old tree moved aside comes from a replacement interrupted between two renames (where
// renameat2 is not available).
void remove_debris_of_dead_writers(const fs::path& target) {
  const std::string name = target.filename().string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent_of(target), ec)) {
    const std::string entry_name = entry.path().filename().string();
    if (!entry_name.starts_with(name)) continue;
    const std::string_view rest = std::string_view(entry_name).substr(name.size());
    std::error_code e;
    if (rest.starts_with(staging_tag) && writer_is_gone(rest.substr(staging_tag.size()))) {
      fs::remove_all(entry.path(), e);
    } else if (rest.starts_with(old_tag) && writer_is_gone(rest.substr(old_tag.size()))) {
      if (!fs::exists(fs::symlink_status(target, e))) {
        fs::rename(entry.path(), target, e);
      } else {
        fs::remove_all(entry.path(), e);
      }
    }
  }
}

namespace {

void sync_fd(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) throw_errno("sync", path, err);  // EINVAL: cannot be synced
}

// The directory entry of a target just renamed into place, to disk. A failure is reported as
// what it is: the output is complete and readable, but the rename may not survive a crash.
void sync_committed(const fs::path& target) {
  try {
    sync_fd(parent_of(target), O_DIRECTORY);
  } catch (const io_error& e) {
    throw_error<io_error>(target.string(),
                          " is complete and in place, but its directory was not "
                          "synced to disk (",
                          e.what(), "): a crash could still lose it");
  }
}

// fsync of every regular file under `root`, then of every directory, deepest first.
void sync_tree(const fs::path& root) {
  std::vector<fs::path> directories{root};
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    if (ec) throw_errno("list", root, ec.value());
    const fs::file_status st = it->symlink_status(ec);
    if (fs::is_directory(st)) {
      directories.push_back(it->path());
    } else if (fs::is_regular_file(st)) {
      sync_fd(it->path(), 0);
    }
  }
  if (ec) throw_errno("list", root, ec.value());
  for (auto d = directories.rbegin(); d != directories.rend(); ++d) sync_fd(*d, O_DIRECTORY);
}

}  // namespace

void commit_file(const fs::path& temp, const fs::path& target, bool overwrite) {
  sync_fd(temp, 0);
  if (overwrite) {
    if (::rename(temp.c_str(), target.c_str()) != 0)
      throw_errno("rename into place", target, errno);
  } else if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      throw_error<io_error>(target.string(),
                            " already exists: it appeared while chunkarr was writing it (it is "
                            "left as it is; overwrite to replace it)");
    }
    if (err != EINVAL && err != ENOSYS) throw_errno("rename into place", target, err);
    // No renameat2 flags here: a hard link cannot replace an existing name either.
    if (::link(temp.c_str(), target.c_str()) != 0) throw_errno("link into place", target, errno);
    ::unlink(temp.c_str());
  }
  sync_committed(target);
}

staged_directory::staged_directory(fs::path target, bool overwrite)
    : target_(std::move(target)), overwrite_(overwrite) {
  std::error_code ec;
  remove_debris_of_dead_writers(target_);
  if (fs::exists(fs::symlink_status(target_, ec)) && !overwrite) {
    throw_error<io_error>(target_.string(), " already exists (overwrite to replace it)");
  }
  static std::atomic<int> counter{0};
  staging_ = target_;
  staging_ += std::string(staging_tag) + std::to_string(::getpid()) + "-" +
              std::to_string(counter.fetch_add(1)) + "-new";
  fs::remove_all(staging_, ec);
  fs::create_directories(staging_, ec);
  if (ec) throw_error<io_error>("cannot create ", staging_.string(), ": ", ec.message());
}

staged_directory::staged_directory(fs::path target, bool overwrite, fs::path staging)
    : target_(std::move(target)), staging_(std::move(staging)), overwrite_(overwrite), keep_(true) {
  std::error_code ec;
  remove_debris_of_dead_writers(target_);
  fs::create_directories(staging_, ec);
  if (ec) throw_error<io_error>("cannot create ", staging_.string(), ": ", ec.message());
}

staged_directory::~staged_directory() {
  if (!committed_ && !keep_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

void staged_directory::commit() {
  sync_tree(staging_);
  if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      if (!overwrite_) {
        throw_error<io_error>(target_.string(),
                              " already exists: it appeared while chunkarr was writing it (it is "
                              "left as it is; overwrite to replace it)");
      }
      replace();
    } else if (err == EINVAL || err == ENOSYS) {  // a file system without renameat2 flags
      replace_in_two_steps();
    } else {
      throw_errno("rename into place", target_, err);
    }
  }
  committed_ = true;
  sync_committed(target_);
}

void staged_directory::replace() {
  if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
    const int err = errno;
    if (err == ENOENT) {  // the target went away meanwhile
      if (::rename(staging_.c_str(), target_.c_str()) != 0)
        throw_errno("rename into place", target_, errno);
      return;
    }
    if (err == EINVAL || err == ENOSYS) return replace_in_two_steps();
    throw_errno("replace", target_, err);
  }
  std::error_code ec;
  fs::remove_all(staging_, ec);  // now the old tree
}

void staged_directory::replace_in_two_steps() {
  std::error_code ec;
  fs::path old = target_;
  old += std::string(old_tag) + std::to_string(::getpid());
  const bool had_target = fs::exists(fs::symlink_status(target_, ec));
  if (had_target && !overwrite_) {
    throw_error<io_error>(target_.string(), " already exists (overwrite to replace it)");
  }
  if (had_target && ::rename(target_.c_str(), old.c_str()) != 0) {
    throw_errno("move aside", target_, errno);
  }
  if (::rename(staging_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    if (had_target) ::rename(old.c_str(), target_.c_str());
    throw_errno("rename into place", target_, err);
  }
  if (had_target) fs::remove_all(old, ec);
}

}  // namespace chunkarr
