#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "chunkarr/core/error.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr {
namespace {

bool under_prefix(std::string_view key, std::string_view prefix) {
  if (prefix.empty()) return true;
  return key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix &&
         key[prefix.size()] == '/';
}

class memory_store final : public kvstore, public std::enable_shared_from_this<memory_store> {
 public:
  std::optional<bytes> get(std::string_view key) const override {
    check_key(key);
    std::shared_lock lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }

  void set(std::string_view key, std::span<const std::byte> value) override {
    check_key(key);
    bytes copy(value.begin(), value.end());
    std::unique_lock lock(mutex_);
    values_.insert_or_assign(std::string(key), std::move(copy));
  }

  bool erase(std::string_view key) override {
    check_key(key);
    std::unique_lock lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) return false;
    values_.erase(it);
    return true;
  }

  std::size_t erase_prefix(std::string_view prefix) override {
    check_key(prefix, true);
    std::unique_lock lock(mutex_);
    std::size_t n = 0;
    for (auto it = values_.begin(); it != values_.end();) {
      if (under_prefix(it->first, prefix)) {
        it = values_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  bool exists(std::string_view key) const override {
    check_key(key);
    std::shared_lock lock(mutex_);
    return values_.find(key) != values_.end();
  }

  std::vector<std::string> list(std::string_view prefix) const override {
    check_key(prefix, true);
    std::shared_lock lock(mutex_);
    std::vector<std::string> keys;
    for (const auto& [key, value] : values_) {
      if (under_prefix(key, prefix)) keys.push_back(key);
    }
    return keys;
  }

  std::vector<std::string> list_dir(std::string_view prefix) const override {
    std::vector<std::string> names;
    const std::size_t skip = prefix.empty() ? 0 : prefix.size() + 1;
    for (const std::string& key : list(prefix)) {
      std::string name = key.substr(skip, key.find('/', skip) - skip);
      names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  std::string describe() const override { return "<memory>"; }

  // The default staging (a temporary prefix), committed under the lock at once.
  std::unique_ptr<staged_write> stage(std::string_view path, bool overwrite) override {
    check_key(path, true);
    auto self = std::static_pointer_cast<memory_store>(shared_from_this());
    return std::make_unique<memory_staged_write>(std::move(self), std::string(path), overwrite);
  }

 private:
  class memory_staged_write final : public staged_write {
   public:
    memory_staged_write(std::shared_ptr<memory_store> s, std::string target, bool overwrite)
        : owner_(std::move(s)), store_(owner_), target_(std::move(target)), overwrite_(overwrite) {
      static std::atomic<int> counter{0};
      staging_ = (target_.empty() ? std::string() : target_ + ".") + "chunkarr-tmp-" +
                 std::to_string(counter.fetch_add(1));
      std::unique_lock lock(owner_->mutex_);
      check_free();
    }
    ~memory_staged_write() override {
      if (!committed_) owner_->erase_prefix(staging_);
    }
    const std::shared_ptr<kvstore>& store() const override { return store_; }
    const std::string& path() const override { return staging_; }
    void commit() override {
      std::unique_lock lock(owner_->mutex_);
      check_free();
      auto& values = owner_->values_;
      for (auto it = values.begin(); it != values.end();) {
        if (under_prefix(it->first, target_) && !under_prefix(it->first, staging_))
          it = values.erase(it);
        else
          ++it;
      }
      std::vector<std::pair<std::string, bytes>> moved;
      for (auto it = values.begin(); it != values.end();) {
        if (!under_prefix(it->first, staging_)) {
          ++it;
          continue;
        }
        const std::string rest = it->first.substr(staging_.size() + 1);
        moved.emplace_back(target_.empty() ? rest : target_ + "/" + rest, std::move(it->second));
        it = values.erase(it);
      }
      for (auto& [key, value] : moved) values.insert_or_assign(key, std::move(value));
      committed_ = true;
    }

   private:
    // REQUIRES: the owner's mutex held.
    void check_free() const {
      if (overwrite_) return;
      for (const auto& [key, value] : owner_->values_) {
        if (under_prefix(key, target_) && !under_prefix(key, staging_)) {
          throw_error<io_error>("memory store: ", target_.empty() ? "/" : target_,
                                " already exists (overwrite to replace it)");
        }
      }
    }

    std::shared_ptr<memory_store> owner_;
    std::shared_ptr<kvstore> store_;
    std::string target_;
    std::string staging_;
    bool overwrite_;
    bool committed_ = false;
  };

  mutable std::shared_mutex mutex_;
  std::map<std::string, bytes, std::less<>> values_;
};

}  // namespace

std::shared_ptr<kvstore> make_memory_store() {
  return std::make_shared<memory_store>();
}

}  // namespace chunkarr
