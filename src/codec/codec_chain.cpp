#include <algorithm>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"

namespace chunkarr {

codec_chain::codec_chain(std::vector<std::shared_ptr<const codec>> stages)
    : stages_(std::move(stages)) {
  std::erase(stages_, nullptr);
}

bytes codec_chain::encode(std::span<const std::byte> data, std::size_t itemsize) const {
  if (stages_.empty()) return bytes(data.begin(), data.end());
  bytes current = stages_.front()->encode(data, itemsize);
  for (std::size_t i = 1; i < stages_.size(); ++i) current = stages_[i]->encode(current, 1);
  return current;
}

void codec_chain::decode(std::span<const std::byte> data, std::span<std::byte> out) const {
  if (stages_.empty()) {
    if (data.size() != out.size()) {
      throw_error<codec_error>("uncompressed chunk has ", data.size(), " bytes, expected ",
                               out.size());
    }
    std::copy(data.begin(), data.end(), out.begin());
    return;
  }
  bytes current;
  std::span<const std::byte> input = data;
  for (std::size_t i = stages_.size(); i-- > 1;) {
    const auto size = stages_[i]->decoded_size(input);
    if (!size) {
      throw_error<codec_error>("codec '", stages_[i]->spec(),
                               "' keeps no decoded size, so it must come first in a chain");
    }
    bytes next(*size);
    stages_[i]->decode(input, next);
    current = std::move(next);
    input = current;
  }
  stages_.front()->decode(input, out);
}

std::string codec_chain::spec() const {
  if (stages_.empty()) return "none";
  std::string s;
  for (const auto& stage : stages_) s += (s.empty() ? "" : "|") + stage->spec();
  return s;
}

}  // namespace chunkarr
