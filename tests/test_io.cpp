// io: HDF5 datasets as lazy sources and HDF5 <-> Zarr conversion, with files written by
// chunkarr's own HDF5 writer (interop with h5py is in test_hdf5.py).
#include <doctest/doctest.h>

#include <fstream>
#include <random>

#include <xtensor/xmath.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;
namespace fs = std::filesystem;

#if CHUNKARR_WITH_HDF5

namespace {

// Values of kind T with some structure and, for floats, a NaN and negative zero.
template <class T>
xt::xarray<T> make_values(const shape_t& shape, unsigned seed) {
  std::mt19937 rng(seed);
  xt::xarray<T> v(std::vector<std::size_t>(shape.begin(), shape.end()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_same_v<T, bool>) {
      v.data()[i] = (rng() % 3) == 0;
    } else if constexpr (std::is_floating_point_v<T>) {
      v.data()[i] = static_cast<T>(static_cast<int>(rng() % 20001) - 10000) / T(7);
    } else {
      v.data()[i] = static_cast<T>(rng());
    }
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (v.size() > 2) {
      v.data()[1] = std::numeric_limits<T>::quiet_NaN();
      v.data()[2] = T(-0.0);
    }
  }
  return v;
}

template <class T>
bool same(const xt::xarray<T>& a, const xt::xarray<T>& b) {
  if (a.shape() != b.shape()) return false;
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct layout {
  shape_t shape;
  shape_t chunks;       // of the Zarr source
  shape_t hdf5_chunks;  // --chunks for the HDF5 side (empty: the Zarr chunks)
};

const layout layouts[] = {
    {{37, 23}, {8, 5}, {}},             // edge chunks on both axes
    {{37, 23}, {37, 23}, {1, 1}},       // one chunk -> size-1 HDF5 chunks
    {{5, 1, 9}, {2, 1, 4}, {3, 1, 2}},  // three axes, misaligned
    {{100}, {7}, {100}},
};

template <class T>
void round_trip(const fs::path& dir, const std::string& codec, int threads) {
  unsigned seed = 1;
  for (const layout& l : layouts) {
    const xt::xarray<T> values = make_values<T>(l.shape, seed++);
    const fs::path zsrc = dir / ("src" + std::to_string(seed) + ".zarr");
    store(from_xtensor(values, l.chunks), zsrc, {.overwrite = true});
    const fs::path h5 = dir / ("out" + std::to_string(seed) + ".h5");
    convert_options o;
    o.codec = codec;
    o.chunks = l.hdf5_chunks;
    o.overwrite = true;
    o.compute.threads = threads;
    const convert_report r = convert(zsrc.string(), h5.string(), o);
    CHECK(r.arrays == 1);
    const std::string stem = "src" + std::to_string(seed);
    const array h = open_hdf5({h5, "/" + stem});
    CHECK(h.shape() == l.shape);
    CHECK(h.dtype().kind == kind_of<T>::value);
    CHECK(same(compute<T>(h, {.threads = threads}), values));
    // Back to Zarr: equal again, with the HDF5 chunks.
    const fs::path zback = dir / ("back" + std::to_string(seed) + ".zarr");
    convert_options back;
    back.overwrite = true;
    back.compute.threads = threads;
    convert(h5.string() + ":/" + stem, zback.string(), back);
    const zarr_array z = zarr_array::open(zback);
    CHECK(z.metadata().chunks == (l.hdf5_chunks.empty() ? l.chunks : l.hdf5_chunks));
    CHECK(same(compute<T>(open(zback)), values));
  }
}

}  // namespace

TEST_CASE("HDF5 written by chunkarr reads back equal, every dtype, codec and thread count") {
  test::temp_dir dir;
  for (const char* codec : {"gzip:1", "none"}) {
    for (int threads : {1, 2, 4}) {
      CAPTURE(codec);
      CAPTURE(threads);
      round_trip<bool>(dir.path(), codec, threads);
      round_trip<std::int8_t>(dir.path(), codec, threads);
      round_trip<std::int16_t>(dir.path(), codec, threads);
      round_trip<std::int32_t>(dir.path(), codec, threads);
      round_trip<std::int64_t>(dir.path(), codec, threads);
      round_trip<std::uint8_t>(dir.path(), codec, threads);
      round_trip<std::uint16_t>(dir.path(), codec, threads);
      round_trip<std::uint32_t>(dir.path(), codec, threads);
      round_trip<std::uint64_t>(dir.path(), codec, threads);
      round_trip<float>(dir.path(), codec, threads);
      round_trip<double>(dir.path(), codec, threads);
    }
  }
}

TEST_CASE("convert reads and writes Zarr through any location (memory:// both ways)") {
  test::temp_dir dir;
  const auto values = make_values<float>({9, 13}, 7);
  create_group(*named_memory_store("convert-test"), "exp");
  store(from_xtensor(values, {4, 5}), "memory://convert-test/exp/raw/lfp");
  const fs::path h5 = dir.path() / "exp.h5";
  CHECK(convert("memory://convert-test/exp", h5.string()).arrays == 1);
  CHECK(same(compute<float>(open_hdf5({h5, "/raw/lfp"})), values));
  const convert_report back = convert(h5.string(), "memory://convert-test/back");
  CHECK(back.arrays == 1);
  CHECK(back.groups == 2);
  CHECK(same(compute<float>(open("memory://convert-test/back/raw/lfp")), values));
  // An existing destination is kept without overwrite.
  CHECK_THROWS_AS(convert(h5.string(), "memory://convert-test/back"), io_error);
  CHECK(same(compute<float>(open("memory://convert-test/back/raw/lfp")), values));
}

TEST_CASE("reductions over an HDF5 source are bit-identical to the same data in Zarr") {
  test::temp_dir dir;
  const xt::xarray<float> values = make_values<float>({301, 257}, 42);
  const fs::path z = dir.path() / "a.zarr";
  store(from_xtensor(xt::xarray<float>(xt::nan_to_num(values)), {64, 50}), z);
  convert(z.string(), (dir.path() / "a.h5").string());
  const array h = open_hdf5({dir.path() / "a.h5", "/a"});
  const array zs = open(z);
  for (int threads : {1, 2, 4}) {
    const compute_options o{.memory_limit = 1 << 20, .threads = threads};
    CHECK(same(compute<float>(mean(h, {1}), o), compute<float>(mean(zs, {1}), o)));
    CHECK(same(compute<float>(stddev(h(range(3, 300, 4), range(-1, 0, -2)), {0}), o),
               compute<float>(stddev(zs(range(3, 300, 4), range(-1, 0, -2)), {0}), o)));
    CHECK(same(compute<double>(sum(h * 2.0 - mean(h, {0})), o),
               compute<double>(sum(zs * 2.0 - mean(zs, {0})), o)));
  }
}

TEST_CASE("conversion streams within the memory budget") {
  test::temp_dir dir;
  // 32 MiB of float32 in 256 KiB chunks, converted with a 4 MiB budget both ways.
  const fs::path z = dir.path() / "big.zarr";
  store(arange(8 << 20, make_dtype(scalar_kind::float32), 1 << 16) * 0.5f, z);
  execution_stats stats;
  convert_options o;
  o.compute.memory_limit = 4 << 20;
  o.compute.stats = &stats;
  convert(z.string(), (dir.path() / "big.h5").string(), o);
  CHECK(stats.tasks == 128);
  CHECK(stats.peak_task_bytes > 0);
  CHECK(stats.peak_task_bytes <= stats.budget);
  CHECK(stats.budget <= o.compute.memory_limit);
  stats = {};
  convert((dir.path() / "big.h5").string(), (dir.path() / "back.zarr").string(), o);
  CHECK(stats.tasks == 128);
  CHECK(stats.peak_task_bytes <= stats.budget);
  const auto m = compute<double>(mean(open(dir.path() / "back.zarr/big")));
  CHECK(m() == doctest::Approx((8 << 20) * 0.25 - 0.25));
}

TEST_CASE("HDF5 errors name the file and the cause") {
  test::temp_dir dir;
  const fs::path text = dir.path() / "text.h5";
  std::ofstream(text) << "not HDF5";
  CHECK_THROWS_AS(open_hdf5({text, "/x"}), format_error);
  CHECK_THROWS_WITH_AS(open_hdf5({dir.path() / "missing.h5", "/x"}),
                       doctest::Contains("missing.h5"), not_found_error);
  const fs::path z = dir.path() / "a.zarr";
  store(arange(10, make_dtype(scalar_kind::int32)), z);
  const fs::path h5 = dir.path() / "a.h5";
  convert(z.string(), h5.string());
  CHECK_THROWS_WITH_AS(open_hdf5({h5, "/nope"}), doctest::Contains("a.h5:/nope"), not_found_error);
  CHECK_THROWS_WITH_AS(open_hdf5({h5, "/"}), doctest::Contains("not a dataset"), not_found_error);
  CHECK_THROWS_WITH_AS(convert(z.string(), h5.string()), doctest::Contains("already exists"),
                       io_error);
  convert_options bad;
  bad.codec = "blosc";
  CHECK_THROWS_AS(convert(z.string(), (dir.path() / "b.h5").string(), bad), codec_error);
  CHECK_FALSE(fs::exists(dir.path() / "b.h5"));
  CHECK_THROWS_AS(convert(h5.string(), (dir.path() / "c.h5").string()), value_error);
  CHECK_THROWS_AS(convert(z.string(), (dir.path() / "d.zarr").string()), value_error);
}

TEST_CASE("HDF5 locations, signatures and automatic chunks") {
  test::temp_dir dir;
  const auto a = parse_hdf5_location("x.h5:/g/d");
  REQUIRE(a);
  CHECK(a->file == "x.h5");
  CHECK(a->object == "/g/d");
  CHECK(parse_hdf5_location("x.nc")->object == "/");
  CHECK(parse_hdf5_location("x.hdf5:g/")->object == "/g");
  CHECK_FALSE(parse_hdf5_location("x.zarr"));
  CHECK_FALSE(parse_hdf5_location("x.zarr/a:b"));
  // A file without an HDF5 suffix is recognised by its signature.
  const fs::path z = dir.path() / "a.zarr";
  store(arange(10, make_dtype(scalar_kind::int32)), z);
  convert(z.string(), (dir.path() / "a.h5").string());
  fs::rename(dir.path() / "a.h5", dir.path() / "data.bin");
  CHECK(is_hdf5_file(dir.path() / "data.bin"));
  CHECK_FALSE(is_hdf5_file(z / ".zarray"));
  const auto b = parse_hdf5_location((dir.path() / "data.bin").string() + ":/a");
  REQUIRE(b);
  CHECK(compute<std::int32_t>(open_hdf5(*b))(9) == 9);

  CHECK(auto_chunks({100000, 1000}, 4) == shape_t{2097, 1000});
  CHECK(auto_chunks({10, 20}, 8) == shape_t{10, 20});
  CHECK(auto_chunks({4, 4000000}, 4) == shape_t{1, 2097152});
  CHECK(auto_chunks({}, 8) == shape_t{});
  CHECK(auto_chunks({0, 5}, 8) == shape_t{1, 5});
}

#else  // built with -DCHUNKARR_WITH_HDF5=OFF

TEST_CASE("without HDF5 support, HDF5 operands are recognised and refused by name") {
  test::temp_dir dir;
  const auto a = parse_hdf5_location("x.h5:/g/d");
  REQUIRE(a);
  CHECK(a->object == "/g/d");
  CHECK(auto_chunks({10, 20}, 8) == shape_t{10, 20});
  const auto refused = [](auto&& f) {
    try {
      f();
    } catch (const format_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(refused([&] { open_hdf5(*a); }).find("x.h5:/g/d: this chunkarr was built without HDF5") ==
        0);
  CHECK(refused([&] { list_hdf5(*a); }).find("x.h5:/g/d: ") == 0);
  const fs::path z = dir.path() / "a.zarr";
  store(arange(10, make_dtype(scalar_kind::int32)), z);
  CHECK(refused([&] { convert(z.string(), "out.h5"); }).find("out.h5: ") == 0);
  CHECK_FALSE(fs::exists("out.h5"));
}

#endif
