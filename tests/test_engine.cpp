// exec: compute and store against references, bit-identical reductions at any thread count,
// the memory budget, cancellation on errors, and outputs that never look complete early.
#include <doctest/doctest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

#include <xtensor/xmath.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xview.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;
using test::reference;
using test::write_source;

namespace {

// A store that counts reads of chunk keys, and can fail on one of them.
class counting_store final : public kvstore {
 public:
  explicit counting_store(std::shared_ptr<kvstore> inner) : inner_(std::move(inner)) {}
  std::optional<bytes> get(std::string_view key) const override {
    if (key.find(".z") == std::string_view::npos) ++chunk_reads;
    if (!fail_on.empty() && key == fail_on) throw_error<io_error>("injected failure reading ", key);
    return inner_->get(key);
  }
  void set(std::string_view key, std::span<const std::byte> value) override {
    inner_->set(key, value);
  }
  bool erase(std::string_view key) override { return inner_->erase(key); }
  std::size_t erase_prefix(std::string_view p) override { return inner_->erase_prefix(p); }
  bool exists(std::string_view key) const override { return inner_->exists(key); }
  std::vector<std::string> list(std::string_view p) const override { return inner_->list(p); }
  std::vector<std::string> list_dir(std::string_view p) const override {
    return inner_->list_dir(p);
  }
  std::string describe() const override { return inner_->describe(); }

  mutable std::atomic<int> chunk_reads{0};
  std::string fail_on;

 private:
  std::shared_ptr<kvstore> inner_;
};

}  // namespace

TEST_CASE("compute agrees with xtensor on elementwise, reductions and slices") {
  test::temp_dir dir;
  const zarr_array z = write_source(dir.path() / "x.zarr", {203, 77}, {32, 20});
  const array x = from_zarr(z);
  const xt::xarray<float> ref = reference(z);
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    compute_options o;
    o.threads = threads;
    CHECK(xt::allclose(compute<float>(sqrt(abs(x)) * 2.0f + 1.0f, o),
                       xt::sqrt(xt::abs(ref)) * 2.0f + 1.0f));
    CHECK(xt::allclose(compute<double>(mean(x, {0}), o), xt::mean(xt::cast<double>(ref), {0})));
    CHECK(xt::allclose(compute<double>(mean(x, {1}), o), xt::mean(xt::cast<double>(ref), {1})));
    const double total = compute<double>(sum(x.astype(make_dtype(scalar_kind::float64))), o)();
    CHECK(total == doctest::Approx(xt::sum(xt::cast<double>(ref))()).epsilon(1e-12));
    const auto slice = compute<float>(x(range(10, 150, 3), range({}, {}, -2)), o);
    CHECK(slice == xt::view(ref, xt::range(10, 150, 3), xt::range(76, xt::placeholders::_, -2)));
    const auto argmax_rows = compute<std::int64_t>(argmax(x, {1}), o);
    CHECK(argmax_rows == xt::argmax(ref, 1));
  }
}

TEST_CASE("reductions are bit-identical for any thread count and budget") {
  test::temp_dir dir;
  const array x = from_zarr(write_source(dir.path() / "x.zarr", {500, 300}, {37, 41}));
  const std::vector<array> exprs = {
      sum(x),    mean(x, {0}),       var(x, {1}),
      stddev(x), nanmean(x * 1e-3f), mean((x * 1000.0f - mean(x * 1000.0f, {0})) * 2.0f, {0})};
  for (const array& e : exprs) {
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2, 4}) {
      for (index_t limit : {index_t{200} << 10, index_t{64} << 20}) {
        compute_options o;
        o.threads = threads;
        o.memory_limit = limit;
        const xt::xarray<double> r = compute<double>(e, o);
        results.emplace_back(r.begin(), r.end());
      }
    }
    for (const auto& r : results) {
      REQUIRE(r.size() == results[0].size());
      CHECK(std::memcmp(r.data(), results[0].data(), r.size() * sizeof(double)) == 0);
    }
  }
}

TEST_CASE("two-pass reductions fuse into strip tasks, bit-identical to the unfused plan") {
  test::temp_dir dir;
  const array x = from_zarr(write_source(dir.path() / "x.zarr", {61, 300}, {8, 25}));
  const array y = from_zarr(write_source(dir.path() / "y.zarr", {6, 5, 40}, {2, 5, 7}));
  struct fusion_case {
    array e;
    index_t fused_tasks;  // strips; 0: the plan must not fuse
    index_t unfused_tasks;
  };
  const array b = x * 1000;
  const std::vector<fusion_case> cases = {
      {mean(power(b - mean(b, {0}), 2), {0}), 12, 2 * 96},
      {max(abs((x - mean(x, {0})) / stddev(x, {0})), {0}), 12, 3 * 96},
      {sum(x - mean(x, {1}, true), {1}), 8, 2 * 96},
      {sum(abs(y - mean(y, {0, 1}, true)), {0, 1}), 6, 2 * 18},
      {mean(y - mean(y, {0}, true), {0}), 6, 2 * 18},
      // The inner reduction reduces other axes than the outer one: never fused.
      {sum(x - mean(x, {0}), {1}), 0, 2 * 96},
  };
  for (const fusion_case& c : cases) {
    std::vector<float> reference;
    for (int threads : {1, 2, 13}) {
      execution_stats stats;
      const xt::xarray<float> r = compute<float>(c.e, {.threads = threads, .stats = &stats});
      const bool expect_fused = c.fused_tasks > 0 && threads <= c.fused_tasks;
      CAPTURE(threads);
      CHECK(stats.tasks == (expect_fused ? c.fused_tasks : c.unfused_tasks));
      CHECK(stats.peak_task_bytes <= stats.budget);
      if (reference.empty()) {
        reference.assign(r.begin(), r.end());
        continue;
      }
      REQUIRE(r.size() == reference.size());
      CHECK(std::memcmp(r.data(), reference.data(), r.size() * sizeof(float)) == 0);
    }
  }
  CHECK(to_dot(cases[0].e).find("fused with the reductions inside it") != std::string::npos);
  CHECK(to_dot(cases.back().e).find("fused") == std::string::npos);
  // Against xtensor in memory.
  const xt::xarray<double> xv = compute<double>(x);
  const xt::xarray<double> bv = xv * 1000.0;
  const xt::xarray<double> want = xt::mean(xt::square(bv - xt::mean(bv, {0})), {0});
  const xt::xarray<double> got = compute<double>(mean(power(b - mean(b, {0}), 2), {0}));
  CHECK(xt::allclose(got, want, 1e-5, 1e-3));
}

TEST_CASE("a reduction over an array many times the budget stays within it") {
  test::temp_dir dir;
  // 16 MiB of float32 in 256 KiB chunks; a 2 MiB budget.
  const zarr_array z = write_source(dir.path() / "big.zarr", {2048, 2048}, {128, 512});
  const array x = from_zarr(z);
  execution_stats stats;
  compute_options o;
  o.memory_limit = 2 << 20;
  o.stats = &stats;
  o.threads = 4;
  const auto anomaly = compute<float>(mean(power(x * 1000.0f - mean(x * 1000.0f, {0}), 2), {0}), o);
  CHECK(stats.stages == 2);
  CHECK(stats.tasks == 2 * 16 * 4);
  CHECK(stats.peak_task_bytes > 0);
  CHECK(stats.peak_task_bytes <= stats.budget);
  CHECK(stats.budget <= o.memory_limit);
  const xt::xarray<double> ref = xt::cast<double>(reference(z)) * 1000.0;
  // The mean evaluated first: xtensor's lazy reducer would recompute it for every element.
  const xt::xarray<double> means = xt::mean(ref, {0});
  const xt::xarray<double> centred = ref - means;
  const xt::xarray<double> expected = xt::mean(xt::square(centred), {0});
  CHECK(xt::allclose(xt::cast<double>(anomaly), expected, 1e-4));
}

TEST_CASE("over-budget tasks and results fail before running, naming a chunk shape that fits") {
  test::temp_dir dir;
  const array x = from_zarr(write_source(dir.path() / "x.zarr", {512, 512}, {256, 256}));
  compute_options o;
  o.memory_limit = 300 << 10;  // a chunk is 256 KiB; a task needs several
  CHECK_THROWS_WITH_AS(compute<double>(sum(x), o), doctest::Contains("rechunk the input to about"),
                       memory_budget_error);
  o.memory_limit = 512 << 10;
  CHECK_THROWS_WITH_AS(compute<float>(x * 2.0f, o), doctest::Contains("the result"),
                       memory_budget_error);
}

TEST_CASE("the plan is checked against the budget before any stage runs") {
  test::temp_dir dir;
  write_source(dir.path() / "x.zarr", {512, 512}, {64, 512});
  auto counted = std::make_shared<counting_store>(make_directory_store(dir.path() / "x.zarr"));
  const array x = from_zarr(zarr_array::open(counted, ""));
  // The mean's tasks (a 128 KiB chunk, its read scratch, 512 partial sums) fit in 500 KiB; the
  // second stage's (x - mean: that, plus the difference and a block register) do not, so the
  // run must fail before the first stage reads anything.
  compute_options o;
  o.memory_limit = 500 << 10;
  CHECK_NOTHROW(compute<float>(mean(x, {0}), o));
  counted->chunk_reads = 0;
  CHECK_THROWS_WITH_AS(compute<float>(sum(x - mean(x, {0}), {0}), o),
                       doctest::Contains("sum float32 (512,): one task needs"),
                       memory_budget_error);
  CHECK(counted->chunk_reads == 0);
}

TEST_CASE("a slice reads only the chunks it touches") {
  test::temp_dir dir;
  write_source(dir.path() / "x.zarr", {400, 400}, {100, 100});
  auto counted = std::make_shared<counting_store>(make_directory_store(dir.path() / "x.zarr"));
  const array x = from_zarr(zarr_array::open(counted, ""));
  compute<float>(x(range(150, 160), range(10, 390)));
  CHECK(counted->chunk_reads == 4);  // one chunk row, four chunk columns
  counted->chunk_reads = 0;
  compute<float>(x(250, range(310, 320)));
  CHECK(counted->chunk_reads == 1);
}

TEST_CASE("an error in a task cancels the run and names the chunk and operation") {
  test::temp_dir dir;
  write_source(dir.path() / "x.zarr", {400, 400}, {100, 100});
  auto failing = std::make_shared<counting_store>(make_directory_store(dir.path() / "x.zarr"));
  failing->fail_on = "2.1";
  const array x = from_zarr(zarr_array::open(failing, ""));
  for (int threads : {1, 2, 4}) {
    compute_options o;
    o.threads = threads;
    failing->chunk_reads = 0;
    try {
      compute<double>(mean(x, {0}), o);
      FAIL("no exception");
    } catch (const io_error& e) {
      const std::string message = e.what();
      CHECK(message.find("mean float32 (400,)") != std::string::npos);
      CHECK(message.find("chunk (2, 1)") != std::string::npos);
      CHECK(message.find("injected failure reading 2.1") != std::string::npos);
    }
  }
}

TEST_CASE("store writes a Zarr array, and nothing at all when it fails") {
  test::temp_dir dir;
  const zarr_array z = write_source(dir.path() / "x.zarr", {130, 90}, {40, 40});
  const array x = from_zarr(z);
  store_options o;
  o.chunks = {50, 30};
  o.codec = "zstd:3";
  const zarr_array out = store(x - mean(x, {0}), dir.path() / "out.zarr", o);
  CHECK(out.metadata().chunks == shape_t{50, 30});
  CHECK(out.metadata().compressor->spec() == "zstd:3");
  const xt::xarray<double> ref = xt::cast<double>(reference(z));
  xt::xarray<float> got(std::vector<std::size_t>{130, 90});
  out.read(box::whole(out.shape()), std::as_writable_bytes(std::span(got.data(), got.size())));
  CHECK(xt::allclose(got, xt::cast<float>(ref - xt::mean(ref, {0})), 1e-5, 1e-3));
  // Refuses to overwrite unless asked.
  CHECK_THROWS_AS(store(x, dir.path() / "out.zarr"), io_error);
  // A failure midway leaves neither the output nor its staging directory.
  auto failing = std::make_shared<counting_store>(make_directory_store(dir.path() / "x.zarr"));
  failing->fail_on = "3.2";
  CHECK_THROWS_AS(store(from_zarr(zarr_array::open(failing, "")) * 2.0f, dir.path() / "bad.zarr"),
                  io_error);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"out.zarr", "x.zarr"});
}

TEST_CASE("a store of a sparse array reads only its stored chunks, and overwrites still clear") {
  test::temp_dir dir;
  array_metadata m;
  m.shape = {100'000'000, 6};
  m.chunks = {10'000, 3};
  m.dtype = make_dtype(scalar_kind::int32);
  m.fill = 7.0;
  const zarr_array src = zarr_array::create(make_directory_store(dir.path() / "src.zarr"), "", m);
  std::vector<std::int32_t> values(30'000);
  std::iota(values.begin(), values.end(), 0);
  for (const shape_t& index : {shape_t{0, 1}, shape_t{5, 0}, shape_t{9'999, 1}})
    src.write_chunk(index, std::as_bytes(std::span(values)));
  std::vector<std::int32_t> fill_chunk(30'000, 7);  // stored, but all fill: not copied
  src.write_chunk(shape_t{8, 0}, std::as_bytes(std::span(fill_chunk)));
  auto counted = std::make_shared<counting_store>(make_directory_store(dir.path() / "src.zarr"));
  const array x = from_zarr(zarr_array::open(counted, ""));
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    compute_options c;
    c.threads = threads;
    counted->chunk_reads = 0;
    const zarr_array out = zarr_array::create(make_directory_store(dir.path() / "out.zarr"), "", m,
                                              /*overwrite=*/true);
    store(x, out, c, /*write_empty_chunks=*/false);
    CHECK(counted->chunk_reads == 4);  // the 19,996 unstored chunks are never read
    CHECK(out.stored_chunks() == std::vector<shape_t>{{0, 1}, {5, 0}, {9'999, 1}});
    const box last{{99'990'000, 3}, {100'000'000, 6}};
    CHECK(out.read_as<std::int32_t>(last) == values);
    if (threads == 2) {
      // Into an array that holds chunks, fill overwrites them (they are removed), as it must.
      store(x * 0 + 7, out, c, /*write_empty_chunks=*/false);
      CHECK(out.stored_chunks().empty());
    }
  }
}

TEST_CASE("an array of a trillion chunks computes what its selection needs") {
  const array x = arange(1'000'000'000'000, make_dtype(scalar_kind::int64), 1);
  const xt::xarray<std::int64_t> got = compute<std::int64_t>(x(range(999'999'999'995, {})));
  CHECK(got == xt::xarray<std::int64_t>{999'999'999'995, 999'999'999'996, 999'999'999'997,
                                        999'999'999'998, 999'999'999'999});
  CHECK(compute<std::int64_t>(sum(x(range(10, 20, 3)))) == xt::xarray<std::int64_t>(58));
}

TEST_CASE("cbrt is the real cube root, negatives included, for floats and integers") {
  const xt::xarray<double> v = {-27.0, -8.0, -0.0, 0.0, 1.0, 2.0, 64.0, 1e300};
  const array x = from_xtensor(v, {3});
  const xt::xarray<double> got = compute<double>(cbrt(x));
  REQUIRE(got.size() == v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    CAPTURE(v(i));
    CHECK(std::bit_cast<std::uint64_t>(got(i)) == std::bit_cast<std::uint64_t>(std::cbrt(v(i))));
  }
  CHECK(got(0) == doctest::Approx(-3.0));  // std::pow(-27, 1/3.) would be NaN
  const array i = arange(5, make_dtype(scalar_kind::int32)) * 2;  // 0, 2, …, 8
  CHECK(cbrt(i).dtype().name() == "float64");
  CHECK(compute<double>(cbrt(i))(4) == doctest::Approx(2.0));
  CHECK(compute<float>(cbrt(x.astype(make_dtype(scalar_kind::float32))))(1) ==
        doctest::Approx(-2.0f));
  CHECK_THROWS_AS(cbrt(array()), value_error);
}

TEST_CASE("in-memory sources, scalars and 0-d results") {
  const xt::xarray<double> v = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.5}};
  const array x = from_xtensor(v, {1, 2});
  CHECK(compute<double>(x * 2.0 + 1.0) == v * 2.0 + 1.0);
  CHECK(compute<double>(sum(x))() == 21.5);
  CHECK(compute<std::int64_t>(argmin(x))() == 0);
  CHECK(compute<double>(x.T())(2, 1) == 6.5);
  CHECK(compute<bool>(any_of(x > 6.0))() == true);
  CHECK(compute<bool>(all_of(x > 1.0))() == false);
  CHECK(compute<std::int32_t>(arange(5, make_dtype(scalar_kind::int32), 2) * 3) ==
        xt::xarray<std::int32_t>{0, 3, 6, 9, 12});
  CHECK(compute<float>(full({2, 2}, 1.5, make_dtype(scalar_kind::float32))) ==
        xt::xarray<float>{{1.5f, 1.5f}, {1.5f, 1.5f}});
  CHECK(std::isnan(compute<double>(mean(zeros({0}, make_dtype(scalar_kind::float64))))()));
  CHECK(compute<double>(x(1, 2))() == 6.5);
  const auto empty = compute<double>(x(range(2, 2)));
  CHECK(empty.shape() == std::vector<std::size_t>{0, 3});
  const std::string dot = to_dot(x - mean(x, {0}));
  CHECK(dot.find("combine mean") != std::string::npos);
  CHECK(dot.find("stage 2: output") != std::string::npos);
  // A reduction at the root is one stage, not two.
  const std::string reduce_dot = to_dot(mean(x));
  CHECK(reduce_dot.find("stage 1: mean") != std::string::npos);
  CHECK(reduce_dot.find("stage 2") == std::string::npos);
}
