#include "chunkarr/store/store.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <new>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

namespace detail {

void* map_buffer(std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void unmap_buffer(void* p, std::size_t size) noexcept {
  ::munmap(p, size);
}

}  // namespace detail

bool kvstore::get_into(std::string_view key, bytes& buffer) const {
  std::optional<bytes> value = get(key);
  if (!value) return false;
  buffer = std::move(*value);
  return true;
}

std::optional<value_stamp> kvstore::stamp(std::string_view) const {
  return std::nullopt;
}

std::optional<std::size_t> kvstore::size_of(std::string_view key) const {
  auto value = get(key);
  if (!value) return std::nullopt;
  return value->size();
}

std::optional<bytes> kvstore::get_range(std::string_view key, std::size_t offset,
                                        std::size_t length) const {
  std::optional<bytes> value = get(key);
  if (!value) return std::nullopt;
  const std::size_t from = std::min(offset, value->size());
  const std::size_t to = from + std::min(length, value->size() - from);
  return bytes(value->begin() + static_cast<std::ptrdiff_t>(from),
               value->begin() + static_cast<std::ptrdiff_t>(to));
}

namespace {

// Any store: write under `path.chunkarr-tmp-N`, then move each key into place on commit (not
// atomic: a reader may see part of the new tree, never a tree that claims to be complete
// early, since the metadata keys are moved last).
class prefix_staged_write final : public staged_write {
 public:
  prefix_staged_write(std::shared_ptr<kvstore> s, std::string target, bool overwrite)
      : store_(std::move(s)), target_(std::move(target)), overwrite_(overwrite) {
    static std::atomic<int> counter{0};
    staging_ = (target_.empty() ? std::string() : target_ + ".") + "chunkarr-tmp-" +
               std::to_string(counter.fetch_add(1));
    check_free();
    store_->erase_prefix(staging_);
  }
  ~prefix_staged_write() override {
    if (!committed_) store_->erase_prefix(staging_);
  }
  const std::shared_ptr<kvstore>& store() const override { return store_; }
  const std::string& path() const override { return staging_; }
  void commit() override {
    check_free();
    std::vector<std::string> keys = store_->list(staging_);
    for (const std::string& key : store_->list(target_)) {
      if (!key.starts_with(staging_)) store_->erase(key);
    }
    // Metadata last, so that nothing looks complete before its chunks are in place.
    std::stable_partition(keys.begin(), keys.end(), [](const std::string& k) {
      return k.find("/.z") == std::string::npos && !k.starts_with(".z");
    });
    for (const std::string& key : keys) {
      const std::string rest = key.substr(staging_.size() + 1);
      store_->set(join_key(target_, rest), *store_->get(key));
      store_->erase(key);
    }
    committed_ = true;
  }

 private:
  void check_free() const {
    if (overwrite_) return;
    for (const std::string& key : store_->list(target_)) {
      if (key.starts_with(staging_)) continue;
      throw_error<io_error>(store_->describe(), "/", target_,
                            " already exists (overwrite to replace it)");
    }
  }

  std::shared_ptr<kvstore> store_;
  std::string target_;
  std::string staging_;
  bool overwrite_;
  bool committed_ = false;
};

}  // namespace

std::unique_ptr<staged_write> kvstore::stage(std::string_view path, bool overwrite) {
  check_key(path, true);
  // The store must be shared-owned to hand it out; wrap a non-owning pointer otherwise.
  return std::make_unique<prefix_staged_write>(
      std::shared_ptr<kvstore>(std::shared_ptr<kvstore>{}, this), std::string(path), overwrite);
}

std::string join_key(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string r(a);
  if (r.back() != '/') r += '/';
  return r + std::string(b);
}

void check_key(std::string_view key, bool allow_empty) {
  if (key.empty()) {
    if (allow_empty) return;
    throw_error<value_error>("empty store key");
  }
  std::size_t pos = 0;
  while (pos <= key.size()) {
    const std::size_t next = std::min(key.find('/', pos), key.size());
    const std::string_view segment = key.substr(pos, next - pos);
    if (segment.empty() || segment == "." || segment == ".." ||
        segment.find('\\') != std::string_view::npos ||
        segment.find('\0') != std::string_view::npos) {
      throw_error<value_error>("invalid store key '", key,
                               "': segments must be non-empty and not '.' or '..'");
    }
    pos = next + 1;
  }
}

}  // namespace chunkarr
