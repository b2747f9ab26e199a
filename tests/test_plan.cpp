// plan: shared subexpressions planned and computed once, results larger than memory spilled to
// disk (bit-identical to the in-memory plan), and rechunking within the budget, directly or
// through an intermediate.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;
using test::reference;
using test::write_source;

namespace {

// Every chunk file of a Zarr array, by name, with its bytes.
std::map<std::string, std::string> chunk_files(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    // Metadata, provenance (its time) and the manifest (what each chunk read, which depends on
    // the plan) are not the chunks.
    if (name.starts_with(".z") || name.starts_with(".chunkarr")) continue;
    std::ifstream in(e.path(), std::ios::binary);
    files[name] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return files;
}

// A store under `limit` bytes on `threads` threads, its stats in `stats`, spilling to `temp`.
store_options limited(index_t limit, int threads, execution_stats& stats,
                      const std::filesystem::path& temp) {
  store_options o;
  o.compute.memory_limit = limit;
  o.compute.threads = threads;
  o.compute.stats = &stats;
  o.compute.temp_dir = temp;
  o.overwrite = true;
  return o;
}

bool is_empty_dir(const std::filesystem::path& dir) {
  return std::filesystem::is_empty(dir);
}

template <class T>
bool same_bits(const xt::xarray<T>& a, const xt::xarray<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("a DAG that shares subexpressions is planned and computed once per distinct node") {
  const xt::xarray<double> xv = xt::reshape_view(xt::arange<double>(64 * 64), {64, 64}) / 4096.0;
  const array x = from_xtensor(xv, {8, 64});  // 8 chunks
  array y = x;
  for (int level = 0; level < 40; ++level) y = y + y;  // 2^40 paths, 41 nodes
  for (int threads : {1, 3}) {
    execution_stats stats;
    const xt::xarray<double> got = compute<double>(y, {.threads = threads, .stats = &stats});
    CHECK(stats.stages == 1);
    CHECK(stats.tasks == 8);  // one fused task per output chunk
    CHECK(xt::allclose(got, xv * std::ldexp(1.0, 40)));
  }
  CHECK(to_dot(y).find("(8 tasks)") != std::string::npos);

  // A shared reduction is one stage, computed once, however many paths reach it.
  const array m = mean(x, {0});
  array z = x - m;
  for (int level = 0; level < 30; ++level) z = z + z * 0.5;
  execution_stats stats;
  const xt::xarray<double> got = compute<double>(z, {.stats = &stats});
  CHECK(stats.stages == 2);
  CHECK(stats.tasks == 8 + 8);
  const xt::xarray<double> anomaly = xv - xt::mean(xv, {0});
  CHECK(xt::allclose(got, anomaly * std::pow(1.5, 30)));

  // And a reduction over the shared DAG: one stage for the inner mean, one for the outer.
  stats = {};
  const xt::xarray<double> total = compute<double>(sum(z * x), {.stats = &stats});
  CHECK(stats.stages == 2);
  CHECK(total() == doctest::Approx(xt::sum(anomaly * xv * std::pow(1.5, 30))()).epsilon(1e-9));
}

TEST_CASE("a reduction result larger than the memory limit spills to disk, bit-identical") {
  test::temp_dir dir;
  // 8 MiB of float32, 256 chunks; means over axis 0 are 1 MiB, their exact states 16 MiB
  // (var's 40 MiB); one chunk's states fit in the 2 MiB limit.
  const zarr_array z = write_source(dir.path() / "wide.zarr", {8, 262144}, {2, 4096});
  const array x = from_zarr(z);
  const std::filesystem::path spill = dir.path() / "spill";
  std::filesystem::create_directories(spill);

  struct spill_case {
    const char* name;
    array e;
  };
  const std::vector<spill_case> cases = {
      {"mean axis 0", mean(x, {0})},
      {"var keepdims", var(x, {0}, true)},
      {"std ddof 1", stddev(x, {0}, false, 1)},
      {"anomaly", x - mean(x, {0}, true)},
      {"argmax", argmax(x, {0})},
      {"sum of a slice", sum(x(range(1, 7), range(5, 262000, 3)), {0})},
  };
  for (const spill_case& c : cases) {
    CAPTURE(c.name);
    const xt::xarray<double> in_memory =
        compute<double>(c.e.astype(make_dtype(scalar_kind::float64)));
    for (int threads : {1, 3}) {
      CAPTURE(threads);
      execution_stats stats;
      const store_options o = limited(2 << 20, threads, stats, spill);
      const std::filesystem::path out = dir.path() / ("out" + std::to_string(threads) + ".zarr");
      store(c.e, out, o);
      CHECK(stats.peak_task_bytes <= stats.budget);
      CHECK(stats.budget <= o.compute.memory_limit);
      CHECK(is_empty_dir(spill));  // the spilled results are gone
      const zarr_array stored = zarr_array::open(out);
      const xt::xarray<double> got =
          compute<double>(from_zarr(stored).astype(make_dtype(scalar_kind::float64)));
      CHECK(same_bits(got, in_memory));
    }
  }
  // A spilled reduction at the root of a store writes its strips straight to the output: one
  // stage, no temporary array.
  {
    execution_stats stats;
    store_options o;
    o.compute.memory_limit = 2 << 20;
    o.compute.stats = &stats;
    o.compute.temp_dir = spill;
    store(mean(x, {0}), dir.path() / "direct.zarr", o);
    CHECK(stats.stages == 1);
    CHECK(same_bits(
        compute<double>(open(dir.path() / "direct.zarr").astype(make_dtype(scalar_kind::float64))),
        compute<double>(mean(x, {0}).astype(make_dtype(scalar_kind::float64)))));
  }
  // The spill area of a run that was killed is removed by the next run that spills; one of
  // a live process is not.
  {
    const std::filesystem::path dead = spill / "chunkarr-spill-2147483000-0";
    const std::filesystem::path live =
        spill / ("chunkarr-spill-" + std::to_string(::getppid()) + "-0");
    for (const auto& d : {dead, live}) {
      std::filesystem::create_directories(d / "stage0");
      std::ofstream(d / "stage0" / "0.0") << "left behind";
    }
    store_options o;
    o.compute.memory_limit = 2 << 20;
    o.compute.temp_dir = spill;
    store(x - mean(x, {0}, true), dir.path() / "after_kill.zarr", o);
    CHECK(!std::filesystem::exists(dead));
    CHECK(std::filesystem::exists(live / "stage0" / "0.0"));
    std::filesystem::remove_all(live);
  }
  // compute must hold its result: still refused when it cannot.
  CHECK_THROWS_AS(compute<float>(mean(x, {0}), {.memory_limit = 512 << 10}), memory_budget_error);
  // 3-d, reducing the middle axis, against xtensor.
  const xt::xarray<float> v3 =
      xt::reshape_view(xt::cast<float>(xt::arange<int>(4 * 6 * 20000) % 101), {4, 6, 20000});
  const array x3 = from_xtensor(v3, {2, 4, 3000});
  store_options o;
  o.compute.memory_limit = 1 << 20;
  o.compute.temp_dir = spill;
  const std::filesystem::path out3 = dir.path() / "sum3d.zarr";
  store(sum(x3, {1}), out3, o);
  const xt::xarray<double> want = xt::sum(xt::cast<double>(v3), {1});
  CHECK(xt::allclose(compute<double>(open(out3)), want));
  CHECK(is_empty_dir(spill));
}

TEST_CASE(
    "rechunk: directly when blocks of the new chunks cover the old, else through an "
    "intermediate, within the budget and byte-identical for any thread count") {
  test::temp_dir dir;
  // 8 MiB of float32 in row strips.
  const zarr_array z = write_source(dir.path() / "rows.zarr", {1024, 2048}, {1, 2048});
  const xt::xarray<float> want = reference(z);
  const array x = from_zarr(z);

  struct rechunk_case {
    shape_t chunks;
    index_t stages;  // 2: through an intermediate; 0: either (it depends on the threads)
  };
  for (const rechunk_case& c : std::vector<rechunk_case>{
           {{1024, 16}, 2}, {{64, 2048}, 1}, {{100, 300}, 0}, {{7, 2048}, 1}}) {
    CAPTURE(to_string(c.chunks));
    std::map<std::string, std::string> first;
    for (int threads : {1, 3}) {
      CAPTURE(threads);
      execution_stats stats;
      const store_options o = limited(2 << 20, threads, stats, dir.path());
      const std::filesystem::path out = dir.path() / ("r" + std::to_string(threads) + ".zarr");
      store(rechunk(x, c.chunks), out, o);
      if (c.stages) CHECK(stats.stages == c.stages);
      CHECK(stats.peak_task_bytes <= stats.budget);
      const zarr_array r = zarr_array::open(out);
      CHECK(r.metadata().chunks == c.chunks);
      CHECK(reference(r) == want);
      const auto files = chunk_files(out);
      if (first.empty())
        first = files;
      else
        CHECK(files == first);
    }
  }
  // Rechunking inside an expression, and store's own chunks, give the same values.
  CHECK(compute<float>(rechunk(x, {128, 64}) * 2.0f) == want * 2.0f);
  CHECK(rechunk(x, {-1, 512}).chunks()[0] == shape_t{1024});
  {  // an empty array rechunks to nothing
    const array empty = zeros({0, 300}, make_dtype(scalar_kind::float32), {1, 300});
    store_options o;
    o.chunks = {5, 1};
    o.compute.memory_limit = 1 << 20;
    store(rechunk(empty, {3, 2}), dir.path() / "empty.zarr", o);
    CHECK(compute<float>(open(dir.path() / "empty.zarr")).shape() ==
          std::vector<std::size_t>{0, 300});
  }
  CHECK_THROWS_AS(rechunk(x, {0, 5}), shape_error);
  CHECK_THROWS_AS(rechunk(x, {5}), shape_error);
  store_options o;
  o.compute.memory_limit = 1 << 20;
  o.chunks = {1024, 8};
  o.compute.temp_dir = dir.path();
  store(x, dir.path() / "cols.zarr", o);
  CHECK(reference(zarr_array::open(dir.path() / "cols.zarr")) == want);
}
