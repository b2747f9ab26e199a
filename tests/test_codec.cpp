// codec: every codec round-trips every item size; specs and numcodecs configs parse and print
// back; corrupt, truncated and wrong-sized input is a codec_error, never a crash.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <nlohmann/json.hpp>

#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

const char* const all_specs[] = {
    "blosc:lz4:5:shuffle:0",
    "blosc:lz4:1:noshuffle:0",
    "blosc:lz4hc:9:bitshuffle:0",
    "blosc:zstd:3:shuffle:0",
    "blosc:zlib:5:shuffle:0",
    "blosc:blosclz:5:shuffle:0",
    "blosc:lz4:5:shuffle:4096",
    "blosc:zstd:0:shuffle:0",
    "zstd:1",
    "zstd:19",
    "zstd:-5",
    "gzip:1",
    "gzip:9",
    "zlib:1",
    "zlib:0",
    "zlib:9",
};

}  // namespace

TEST_CASE("every codec round-trips every item size and buffer size") {
  for (const std::string spec : all_specs) {
    const auto c = make_codec(spec);
    REQUIRE(c);
    for (std::size_t itemsize : {1u, 2u, 4u, 8u}) {
      for (std::size_t n : {0u, 1u, 8u, 1000u, 1u << 18}) {
        CAPTURE(spec);
        CAPTURE(itemsize);
        CAPTURE(n);
        const bytes data = test::sample_bytes(n * itemsize, static_cast<unsigned>(n + itemsize));
        const bytes encoded = c->encode(data, itemsize);
        bytes decoded(data.size(), std::byte{0x5A});
        c->decode(encoded, decoded);
        CHECK(decoded == data);
      }
    }
  }
}

TEST_CASE("codecs compress structured data and write their real formats") {
  std::vector<float> ramp(1 << 16);
  for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i % 1000) * 0.5f;
  const auto data = std::as_bytes(std::span(ramp));
  for (const std::string spec : all_specs) {
    CAPTURE(spec);
    const bytes encoded = make_codec(spec)->encode(data, 4);
    const bool stores_only = spec == "zlib:0" || spec.starts_with("blosc:zstd:0");  // level 0
    CHECK((encoded.size() < data.size() / 2) != stores_only);
  }
  const bytes gz = make_codec("gzip:5")->encode(data, 4);
  CHECK((gz[0] == std::byte{0x1f} && gz[1] == std::byte{0x8b}));  // gzip member
  const bytes zl = make_codec("zlib:5")->encode(data, 4);
  CHECK(zl[0] == std::byte{0x78});  // zlib stream, 32 KiB window
  const bytes zs = make_codec("zstd:3")->encode(data, 4);
  CHECK((zs[0] == std::byte{0x28} && zs[1] == std::byte{0xb5} && zs[2] == std::byte{0x2f} &&
         zs[3] == std::byte{0xfd}));  // zstd frame magic
  const bytes bl = make_codec("blosc:lz4:5:shuffle")->encode(data, 4);
  CHECK(bl[0] == std::byte{2});  // Blosc1 format version
  CHECK(bl[3] == std::byte{4});  // typesize
  CHECK(make_codec("blosc:lz4:5:shuffle")->decoded_size(bl) == data.size());
  CHECK(make_codec("zstd:3")->decoded_size(zs) == data.size());
  CHECK_FALSE(make_codec("gzip:5")->decoded_size(gz).has_value());
}

TEST_CASE("specs and numcodecs configs print back and parse to the same codec") {
  for (const std::string spec : all_specs) {
    CAPTURE(spec);
    const auto c = make_codec(spec);
    CHECK(c->spec() == spec);
    const auto again = codec_from_zarr(c->to_zarr());
    CHECK(again->spec() == spec);
    CHECK(again->to_zarr() == c->to_zarr());
  }
  CHECK(make_codec("blosc")->spec() == "blosc:lz4:5:shuffle:0");
  CHECK(make_codec("blosc:zstd")->spec() == "blosc:zstd:5:shuffle:0");
  CHECK(make_codec("zstd")->spec() == "zstd:1");
  CHECK(make_codec("gzip")->spec() == "gzip:1");
  CHECK(make_codec("none") == nullptr);
  CHECK(make_codec("blosc:lz4:5:shuffle")->to_zarr() ==
        nlohmann::json::parse(
            R"({"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0})"));
  // What zarr-python writes: numcodecs' defaults and its AUTOSHUFFLE (-1).
  const auto autoshuffle = codec_from_zarr(nlohmann::json::parse(
      R"({"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": -1, "blocksize": 0})"));
  CHECK(autoshuffle->spec() == "blosc:zstd:3:autoshuffle:0");
  const bytes data = test::sample_bytes(4096, 9);
  for (std::size_t itemsize : {1u, 4u}) {
    bytes out(data.size());
    autoshuffle->decode(autoshuffle->encode(data, itemsize), out);
    CHECK(out == data);
  }
  CHECK(codec_from_zarr(nlohmann::json::parse(R"({"id": "zstd", "level": 2, "checksum": false})"))
            ->spec() == "zstd:2");
}

TEST_CASE("bad specs and configs are codec_errors naming the problem") {
  struct bad {
    const char* spec;
    const char* says;
  };
  for (const bad& b :
       {bad{"lzma", "unknown codec"}, bad{"blosc:lz5", "lz5"}, bad{"blosc:lz4:10", "0 to 9"},
        bad{"blosc:lz4:x", "'x'"}, bad{"blosc:lz4:5:twist", "twist"},
        bad{"blosc:lz4:5:shuffle:0:1", "too many"}, bad{"zstd:99", "zstd"},
        bad{"gzip:10", "0 to 9"}, bad{"gzip:", "''"}, bad{"zlib:1:2", "too many"},
        bad{"", "unknown codec"}, bad{"none:1", "too many"}}) {
    CAPTURE(b.spec);
    CHECK_THROWS_WITH_AS(make_codec(b.spec), doctest::Contains(b.says), codec_error);
  }
  for (const char* config :
       {R"({"id": "lzma"})", R"({"cname": "lz4"})", R"([1])", R"({"id": "blosc", "cname": 3})",
        R"({"id": "zstd", "level": "x"})", R"({"id": "blosc", "shuffle": 7})",
        R"({"id": "zlib", "level": 12})"}) {
    CAPTURE(config);
    CHECK_THROWS_AS(codec_from_zarr(nlohmann::json::parse(config)), codec_error);
  }
}

TEST_CASE("the registry knows each codec by both spellings and lists them for an unknown id") {
  // The lists come from the registry, in registration order: adding a codec extends them.
  CHECK_THROWS_WITH_AS(make_codec("lzma"),
                       "unknown codec 'lzma': expected none, blosc[:cname:clevel:shuffle], "
                       "zstd[:level], gzip[:level] or zlib[:level]",
                       codec_error);
  CHECK_THROWS_WITH_AS(codec_from_zarr(nlohmann::json::parse(R"({"id": "lzma"})")),
                       "unsupported codec 'lzma' (chunkarr reads blosc, zstd, zlib and gzip)",
                       codec_error);
  CHECK(make_codec("raw") == nullptr);
  CHECK_THROWS_WITH_AS(make_codec("raw:1"), doctest::Contains("too many"), codec_error);
  for (const char* id : {"blosc", "zstd", "zlib", "gzip"}) {
    CAPTURE(id);
    const auto from_spec = make_codec(id);
    CHECK(from_spec->to_zarr()["id"] == id);
    CHECK(codec_from_zarr(nlohmann::json{{"id", id}})->spec() == from_spec->spec());
  }
}

TEST_CASE("corrupt, truncated and wrong-sized input is a codec_error") {
  const bytes data = test::sample_bytes(50000, 5);
  for (const std::string spec : all_specs) {
    CAPTURE(spec);
    const auto c = make_codec(spec);
    const bytes encoded = c->encode(data, 4);
    bytes out(data.size());
    // Wrong expected size, either way.
    bytes small(data.size() - 4), large(data.size() + 4);
    CHECK_THROWS_AS(c->decode(encoded, small), codec_error);
    CHECK_THROWS_AS(c->decode(encoded, large), codec_error);
    // Truncated at several points, down to nothing.
    for (std::size_t keep : {std::size_t{0}, std::size_t{3}, std::size_t{15}, encoded.size() / 2,
                             encoded.size() - 1}) {
      CAPTURE(keep);
      CHECK_THROWS_AS(c->decode(std::span(encoded).first(keep), out), codec_error);
    }
    // Random corruption: a codec_error, or (when a checksum-less format cannot tell) output of
    // exactly the right size. Never a crash, never a short buffer.
    std::mt19937 rng(1);
    int detected = 0;
    for (int trial = 0; trial < 200; ++trial) {
      bytes broken = encoded;
      for (int k = 0; k < 4; ++k) {
        broken[rng() % broken.size()] ^= std::byte(static_cast<unsigned char>(1 + rng() % 255));
      }
      try {
        c->decode(broken, out);
      } catch (const codec_error&) {
        ++detected;
      }
    }
    // Blosc at level 0 stores bytes as they are and keeps no checksum.
    if (!spec.starts_with("blosc:zstd:0")) CHECK(detected > 0);
  }
}

TEST_CASE("uncompressed chains check the size too") {
  const codec_chain none;
  const bytes data = test::sample_bytes(100, 1);
  bytes out(100), wrong(99);
  none.decode(none.encode(data, 1), out);
  CHECK(out == data);
  CHECK_THROWS_WITH_AS(none.decode(data, wrong), doctest::Contains("expected 99"), codec_error);
  CHECK(none.spec() == "none");
}

TEST_CASE("a chain applies codecs in order and decodes in reverse") {
  const codec_chain chain({make_codec("zstd:3"), make_codec("blosc:lz4:5:noshuffle")});
  CHECK(chain.spec() == "zstd:3|blosc:lz4:5:noshuffle:0");
  const bytes data = test::sample_bytes(30000, 2);
  const bytes encoded = chain.encode(data, 4);
  // The outer layer is Blosc: its frame records the zstd frame's size.
  CHECK(encoded[0] == std::byte{2});
  bytes out(data.size());
  chain.decode(encoded, out);
  CHECK(out == data);
  // gzip records no decoded size, so it cannot be an inner stage.
  const codec_chain bad({make_codec("zstd:1"), make_codec("gzip:1")});
  CHECK_THROWS_WITH_AS(bad.decode(bad.encode(data, 1), out), doctest::Contains("first"),
                       codec_error);
}

TEST_CASE("Blosc refuses buffers over its 2 GiB limit instead of failing silently") {
  // Reserve address space without touching it: the check must fire before any byte is read.
  const std::size_t size = (std::size_t{1} << 31) + 4096;
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(p != MAP_FAILED);
  const std::span<const std::byte> huge(static_cast<const std::byte*>(p), size);
  CHECK_THROWS_WITH_AS(make_codec("blosc:lz4:5:shuffle")->encode(huge, 4),
                       doctest::Contains("2 GiB"), codec_error);
  ::munmap(p, size);
}
