// libFuzzer target: every codec's decoder, on frames it did not write.
//
// The first byte picks a codec (low 4 bits) and an item size (1 << the top 2 bits), the next
// two an output size (up to 64 KiB); the rest is a
// frame to decode into exactly that many bytes. Decoding must succeed or throw codec_error,
// never read or write out of bounds. The same bytes are then encoded and decoded again and
// must come back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "chunkarr/chunkarr.hpp"

using namespace chunkarr;

namespace {

const char* const specs[] = {
    "blosc:lz4:5:shuffle",
    "blosc:zstd:3:bitshuffle",
    "blosc:blosclz:9:noshuffle",
    "blosc:zlib:1:shuffle",
    "zstd:3",
    "zlib:6",
    "gzip:4",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto& spec = specs[(data[0] & 0x0f) % std::size(specs)];
  const std::size_t out_size = std::size_t{data[1]} << 8 | data[2];
  const auto frame = std::as_bytes(std::span(data + 3, size - 3));
  const auto c = make_codec(spec);
  bytes out(out_size);
  try {
    (void)c->decoded_size(frame);
    c->decode(frame, out);
  } catch (const codec_error&) {
  }
  // Round trip: whatever bytes go in come back.
  const std::size_t itemsize = std::size_t{1} << (data[0] >> 6);
  const std::size_t whole = frame.size() / itemsize * itemsize;
  const auto plain = frame.first(whole);
  const bytes encoded = c->encode(plain, itemsize);
  bytes back(plain.size());
  c->decode(encoded, back);
  if (!std::equal(back.begin(), back.end(), plain.begin())) std::abort();
  return 0;
}
