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

class directory_store final : public kvstore {
 public:
  explicit directory_store(fs::path root) : root_(std::move(root)) {}

  std::optional<bytes> get(std::string_view key) const override {
    bytes value;
    if (!get_into(key, value)) return std::nullopt;
    return value;
  }

  bool get_into(std::string_view key, bytes& value) const override {
    check_key(key);
    const fs::path path = root_ / key;
    file_descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return false;
      throw_errno("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat", path, errno);
    if (S_ISDIR(st.st_mode)) return false;
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
      for (const auto& entry : fs::directory_iterator(path, ec)) fs::remove_all(entry.path(), ec);
      if (!ec) fs::remove(path, ec);
    } else {
      fs::remove_all(path, ec);
    }
    if (ec) throw_errno("remove", path, ec.value());
    return n;
  }

  bool exists(std::string_view key) const override {
    check_key(key);
    struct stat st {};
    return ::stat((root_ / key).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }

  std::optional<std::size_t> size_of(std::string_view key) const override {
    check_key(key);
    struct stat st {};
    if (::stat((root_ / key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return static_cast<std::size_t>(st.st_size);
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
      if (!it->is_regular_file(ec)) continue;
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
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string name = entry.path().filename().string();
      if (name.find(temp_marker) == std::string::npos) names.push_back(std::move(name));
    }
    if (ec) throw_errno("list", dir, ec.value());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string describe() const override { return root_.string(); }

  std::unique_ptr<staged_write> stage(std::string_view path, bool overwrite) override {
    check_key(path, true);
    return std::make_unique<directory_staged_write>(path.empty() ? root_ : root_ / path, overwrite);
  }

 private:
  // A directory built beside its target and renamed into place (staged_directory).
  class directory_staged_write final : public staged_write {
   public:
    directory_staged_write(const fs::path& target, bool overwrite)
        : staging_(target, overwrite), store_(make_directory_store(staging_.path())) {}
    const std::shared_ptr<kvstore>& store() const override { return store_; }
    const std::string& path() const override { return path_; }
    void commit() override { staging_.commit(); }

   private:
    staged_directory staging_;
    std::shared_ptr<kvstore> store_;
    std::string path_;
  };

  fs::path root_;
};

}  // namespace

std::shared_ptr<kvstore> make_directory_store(std::filesystem::path root) {
  return std::make_shared<directory_store>(std::move(root));
}

}  // namespace chunkarr
