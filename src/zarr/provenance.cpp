#include "chunkarr/zarr/provenance.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>

#include "chunkarr/version.hpp"

namespace chunkarr {

namespace fs = std::filesystem;

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string absolute_location(std::string_view text) {
  if (text.find("://") != std::string_view::npos) return std::string(text);
  // `file.h5:/group/x`: the file part (a path never holds ":/" but as a URL, excluded above).
  const std::size_t inside = text.find(":/");
  const std::string_view file = text.substr(0, inside);
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(fs::path(file), ec), ec);
  if (ec) return std::string(text);
  return p.string() + std::string(inside == std::string_view::npos ? "" : text.substr(inside));
}

nlohmann::json provenance_record(std::string_view operation,
                                 const std::vector<std::pair<std::string, std::string>>& inputs,
                                 nlohmann::json options) {
  nlohmann::json ins = nlohmann::json::array();
  for (const auto& [name, where] : inputs)
    ins.push_back({{"name", name}, {"location", absolute_location(where)}});
  return {{"version", version()},     {"expression", std::string(operation)},
          {"inputs", std::move(ins)}, {"options", std::move(options)},
          {"created", utc_now()},     {"complete", true}};
}

}  // namespace chunkarr
