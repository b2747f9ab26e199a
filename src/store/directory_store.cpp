#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "chunkarr/core/error.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr {
namespace {

namespace fs = std::filesystem;

// Temporary files carry this marker; listings skip them, so a write in progress is invisible.
constexpr std::string_view temp_marker = ".chunkarr-tmp-";

class file_descriptor {
 public:
  explicit file_descriptor(int fd) : fd_(fd) {}
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

[[noreturn]] void throw_errno(std::string_view action, const fs::path& path, int err) {
  throw_error<io_error>("cannot ", action, " ", path.string(), ": ", std::strerror(err));
}

// Whether `inner` is `outer` or lies under it (both canonical).
bool is_within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

const char* file_type_name(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// What is stored at `path`: nothing (no such file, or a directory: a prefix, not a key), or a
// regular file (its size). Anything else there, or a path that cannot be looked at (a symlink
// loop, no permission), is an error: a value that cannot be read is never taken for a missing
// one (which would read as fill values).
std::optional<std::size_t> regular_file_size(int dir, const char* relative, const fs::path& path) {
  struct stat st {};
  if (::fstatat(dir, relative, &st, 0) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("read", path, errno);
  }
  if (S_ISDIR(st.st_mode)) return std::nullopt;
  if (!S_ISREG(st.st_mode)) {
    throw_error<io_error>("cannot read ", path.string(), ": ", file_type_name(st.st_mode),
                          ", not a regular file");
  }
  return static_cast<std::size_t>(st.st_size);
}

class directory_store final : public kvstore {
 public:
  directory_store(fs::path root, bool durable) : root_(std::move(root)), durable_(durable) {}
  ~directory_store() override {
    if (const int fd = root_fd_.load(); fd >= 0) ::close(fd);
  }
  directory_store(const directory_store&) = delete;
  directory_store& operator=(const directory_store&) = delete;

  std::optional<bytes> get(std::string_view key) const override {
    bytes value;
    if (!get_into(key, value)) return std::nullopt;
    return value;
  }

  bool get_into(std::string_view key, bytes& value) const override {
    check_key(key);
    const fs::path path = root_ / key;
    const std::string relative(key);
    const int dir = root_fd();
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
    file_descriptor fd(::openat(dir, dir == AT_FDCWD ? path.c_str() : relative.c_str(),
                                O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        still_current(dir);
        return false;
      }
      throw_errno("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat", path, errno);
    if (S_ISDIR(st.st_mode)) return false;
    if (!S_ISREG(st.st_mode)) {
      throw_error<io_error>("cannot read ", path.string(), ": ", file_type_name(st.st_mode),
                            ", not a regular file");
    }
    value.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < value.size()) {
      const ssize_t n = ::read(fd.get(), value.data() + done, value.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("read", path, errno);
      }
      if (n == 0) break;  // the file shrank while we read it
      done += static_cast<std::size_t>(n);
    }
    value.resize(done);
    return true;
  }

  void set(std::string_view key, std::span<const std::byte> value) override {
    check_key(key);
    const fs::path path = root_ / key;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw_errno("create directory", path.parent_path(), ec.value());
    static std::atomic<std::uint64_t> counter{0};
    fs::path temp = path;
    temp += std::string(temp_marker) + std::to_string(::getpid()) + "-" +
            std::to_string(counter.fetch_add(1));
    {
      file_descriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (fd.get() < 0) throw_errno("create", temp, errno);
      std::size_t done = 0;
      while (done < value.size()) {
        const ssize_t n = ::write(fd.get(), value.data() + done, value.size() - done);
        if (n < 0) {
          if (errno == EINTR) continue;
          const int err = errno;
          ::unlink(temp.c_str());
          throw_errno("write", path, err);
        }
        done += static_cast<std::size_t>(n);
      }
      // A tree that will be synced at commit starts writing each value back now, so the
      // commit's fsync finds most of it on disk already (writes overlap the computation).
      if (durable_) ::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
      if (::close(fd.release()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw_errno("write", path, err);
      }
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      throw_errno("rename into place", path, err);
    }
  }

  bool erase(std::string_view key) override {
    check_key(key);
    const fs::path path = root_ / key;
    if (::unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return false;
    throw_errno("remove", path, errno);
  }

  std::size_t erase_prefix(std::string_view prefix) override {
    check_key(prefix, true);
    const fs::path path = prefix.empty() ? root_ : root_ / prefix;
    std::error_code ec;
    if (!fs::is_directory(path, ec)) return 0;
    const std::size_t n = list(prefix).size();
    if (prefix.empty()) {  // the root too: it is made again by the next write
      forget_root();
      for (const auto& entry : fs::directory_iterator(path, ec)) fs::remove_all(entry.path(), ec);
      if (!ec) fs::remove(path, ec);
    } else {
      fs::remove_all(path, ec);
    }
    if (ec) throw_errno("remove", path, ec.value());
    return n;
  }

  std::optional<value_stamp> stamp(std::string_view key) const override {
    check_key(key);
    const fs::path path = root_ / key;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return value_stamp{};
      throw_errno("read", path, errno);
    }
    if (S_ISDIR(st.st_mode)) return value_stamp{};
    return value_stamp{
        true, static_cast<std::uint64_t>(st.st_size),
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
        static_cast<std::uint64_t>(st.st_ino)};
  }

  bool exists(std::string_view key) const override { return size_of(key).has_value(); }

  std::optional<std::size_t> size_of(std::string_view key) const override {
    check_key(key);
    const fs::path path = root_ / key;
    const std::string relative(key);
    const int dir = root_fd();
    auto size = regular_file_size(dir, dir == AT_FDCWD ? path.c_str() : relative.c_str(), path);
    if (!size) still_current(dir);
    return size;
  }

  std::vector<std::string> list(std::string_view prefix) const override {
    check_key(prefix, true);
    const fs::path dir = prefix.empty() ? root_ : root_ / prefix;
    std::vector<std::string> keys;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return keys;
    fs::recursive_directory_iterator it(dir, ec), end;
    if (ec) throw_errno("list", dir, ec.value());
    for (; it != end; it.increment(ec)) {
      if (ec) throw_errno("list", dir, ec.value());
      // Every entry but a directory is a key (a FIFO or a broken link is one that fails
      // clearly when read); links to directories are not followed (a `self -> .` link
      // would never end).
      std::error_code type_ec;
      if (it->is_directory(type_ec)) continue;
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (key.find(temp_marker) != std::string::npos) continue;
      keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  std::vector<std::string> list_dir(std::string_view prefix) const override {
    check_key(prefix, true);
    const fs::path dir = prefix.empty() ? root_ : root_ / prefix;
    std::vector<std::string> names;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return names;
    fs::path here;  // `dir` resolved, when a link to a directory asks for it
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string name = entry.path().filename().string();
      if (name.find(temp_marker) != std::string::npos) continue;
      std::error_code link_ec;
      if (entry.is_symlink(link_ec) && entry.is_directory(link_ec)) {
        // A link to this directory or one above it (`self -> .`, `up -> ..`) would make every
        // walk of the tree endless: it is not a child.
        if (here.empty()) here = fs::canonical(dir, link_ec);
        const fs::path target = fs::canonical(entry.path(), link_ec);
        if (link_ec || is_within(here, target)) continue;
      }
      names.push_back(std::move(name));
    }
    if (ec) throw_errno("list", dir, ec.value());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string describe() const override { return root_.string(); }

  std::unique_ptr<staged_write> stage(std::string_view path, bool overwrite) override {
    check_key(path, true);
    return std::make_unique<directory_staged_write>(path.empty() ? root_ : root_ / path, overwrite,
                                                    path.empty() ? this : nullptr);
  }

 private:
  // A directory built beside its target and renamed into place (staged_directory).
  class directory_staged_write final : public staged_write {
   public:
    directory_staged_write(const fs::path& target, bool overwrite, directory_store* replaced)
        : staging_(target, overwrite),
          store_(std::make_shared<directory_store>(staging_.path(), true)),
          replaced_(replaced) {}
    const std::shared_ptr<kvstore>& store() const override { return store_; }
    const std::string& path() const override { return path_; }
    void commit() override {
      staging_.commit();
      // The store whose root this replaced reads the new tree from now on.
      if (replaced_) replaced_->forget_root();
    }

   private:
    staged_directory staging_;
    std::shared_ptr<kvstore> store_;
    std::string path_;
    directory_store* replaced_;
  };

  void forget_root() {
    if (const int fd = root_fd_.exchange(-1); fd >= 0) ::close(fd);
  }

  // The root, opened by the first read that finds it. Reads resolve keys from this handle
  // (openat), so a reader stays on the tree it began with when the path is replaced by an
  // overwrite (renameat2 exchange) and never mixes old and new values. AT_FDCWD (keys resolved
  // by path) until the root exists.
  int root_fd() const {
    if (const int fd = root_fd_.load(std::memory_order_acquire); fd >= 0) return fd;
    const int opened = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (opened < 0) return AT_FDCWD;
    int expected = -1;
    if (root_fd_.compare_exchange_strong(expected, opened, std::memory_order_acq_rel))
      return opened;
    ::close(opened);  // another thread was first
    return expected;
  }

  // A key missing from the tree this store reads must not be taken for a chunk that was never
  // written when the tree itself was replaced or removed meanwhile: its old values are going.
  void still_current(int dir) const {
    if (dir == AT_FDCWD) return;
    struct stat held {
    }, now{};
    if (::fstat(dir, &held) != 0 || ::stat(root_.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
      throw_error<io_error>(root_.string(),
                            " was replaced or removed while it was being read; read it again");
    }
  }

  fs::path root_;
  bool durable_ = false;
  mutable std::atomic<int> root_fd_{-1};
};

}  // namespace

std::shared_ptr<kvstore> make_directory_store(std::filesystem::path root) {
  return std::make_shared<directory_store>(std::move(root), false);
}

std::shared_ptr<kvstore> make_durable_directory_store(std::filesystem::path root) {
  return std::make_shared<directory_store>(std::move(root), true);
}

}  // namespace chunkarr
