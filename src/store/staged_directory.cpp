#include <unistd.h>

#include <atomic>

#include "chunkarr/core/error.hpp"
#include "chunkarr/store/store.hpp"

namespace chunkarr {

namespace fs = std::filesystem;

staged_directory::staged_directory(fs::path target, bool overwrite) : target_(std::move(target)) {
  std::error_code ec;
  if (fs::exists(target_, ec) && !overwrite) {
    throw_error<io_error>(target_.string(), " already exists (overwrite to replace it)");
  }
  static std::atomic<int> counter{0};
  staging_ = target_;
  staging_ += ".chunkarr-tmp-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter.fetch_add(1)) + "-new";
  fs::remove_all(staging_, ec);
  fs::create_directories(staging_, ec);
  if (ec) throw_error<io_error>("cannot create ", staging_.string(), ": ", ec.message());
}

staged_directory::~staged_directory() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

void staged_directory::commit() {
  std::error_code ec;
  if (fs::exists(target_, ec)) {
    fs::path old = staging_;
    old.replace_extension(".chunkarr-old");
    old += "-" + std::to_string(::getpid());
    fs::rename(target_, old, ec);
    if (ec) throw_error<io_error>("cannot move ", target_.string(), " aside: ", ec.message());
    fs::rename(staging_, target_, ec);
    if (ec) {
      std::error_code restore;
      fs::rename(old, target_, restore);
      throw_error<io_error>("cannot rename ", staging_.string(), " to ", target_.string(), ": ",
                            ec.message());
    }
    fs::remove_all(old, ec);
  } else {
    fs::rename(staging_, target_, ec);
    if (ec) {
      throw_error<io_error>("cannot rename ", staging_.string(), " to ", target_.string(), ": ",
                            ec.message());
    }
  }
  committed_ = true;
}

}  // namespace chunkarr
