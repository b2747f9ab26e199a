#include <algorithm>
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

class memory_store final : public kvstore {
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

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, bytes, std::less<>> values_;
};

}  // namespace

std::shared_ptr<kvstore> make_memory_store() {
  return std::make_shared<memory_store>();
}

}  // namespace chunkarr
