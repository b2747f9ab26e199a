// map_blocks and map_overlap from C++: user functions per chunk, with halos across chunks
// smaller than the depth, every boundary, errors that name the chunk; and the scans through
// the C++ API against sequential references.
#include <doctest/doctest.h>
#include <algorithm>
#include <stdexcept>
#include <xtensor/xio.hpp>
#include <xtensor/xrandom.hpp>
#include <xtensor/xview.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

const dtype f8 = make_dtype(scalar_kind::float64), f4 = make_dtype(scalar_kind::float32);

array from_xt(const xt::xarray<double>& x, const shape_t& chunks) {
  shape_t shape(x.shape().begin(), x.shape().end());
  return from_buffer(std::as_bytes(std::span<const double>(x.data(), x.size())), shape, f8, chunks);
}

xt::xarray<double> sample(std::size_t rows, std::size_t cols, int seed) {
  xt::random::seed(static_cast<unsigned>(seed));
  return xt::random::randn<double>({rows, cols});
}

// The element of `x` at (i, j) with the halo's boundary beyond the edges (dask's kinds).
double extended(const xt::xarray<double>& x, index_t i, index_t j, boundary edge) {
  const auto fold = [&](index_t k, index_t n) -> std::optional<index_t> {
    switch (edge.kind) {
      case boundary_kind::reflect:  // d c b a | a b c d | d c b a
        while (k < 0 || k >= n) k = k < 0 ? -k - 1 : 2 * n - k - 1;
        return k;
      case boundary_kind::periodic:
        return ((k % n) + n) % n;
      case boundary_kind::nearest:
        return std::clamp<index_t>(k, 0, n - 1);
      default:
        if (k < 0 || k >= n) return std::nullopt;
        return k;
    }
  };
  const auto r = fold(i, static_cast<index_t>(x.shape()[0]));
  const auto c = fold(j, static_cast<index_t>(x.shape()[1]));
  if (!r || !c) return edge.kind == boundary_kind::constant ? edge.value : 0.0;
  return x(*r, *c);
}

}  // namespace

TEST_CASE("map_blocks: a typed function per chunk, fused into the expression around it") {
  const xt::xarray<double> x = sample(13, 17, 1);
  for (const shape_t& chunks : {shape_t{13, 17}, shape_t{4, 5}, shape_t{1, 3}}) {
    const array a = from_xt(x, chunks);
    const array squared = map_blocks<double>([](const auto& b) { return xt::eval(b * b); }, a);
    CHECK(squared.chunks() == a.chunks());
    for (int threads : {1, 4}) {
      compute_options o;
      o.threads = threads;
      const xt::xarray<double> got = compute<double>(squared + 1.0, o);
      CHECK(xt::allclose(got, x * x + 1.0, 0, 0));
      // Under a reduction: one task per chunk, no intermediate stored.
      const xt::xarray<double> sums = compute<double>(sum(squared, {1}), o);
      CHECK(xt::allclose(sums, xt::sum(x * x, {1}), 1e-12, 1e-12));
    }
    // Another output dtype: the function's value type.
    const array halves =
        map_blocks<double>([](const auto& b) { return xt::xarray<float>(b / 2); }, a);
    CHECK(halves.dtype() == f4);
    CHECK(xt::allclose(compute<float>(halves), xt::cast<float>(x / 2), 0, 0));
  }
}

TEST_CASE("map_blocks: several inputs, block_info, drop_axis and new_axis") {
  const xt::xarray<double> x = sample(11, 9, 2), y = sample(11, 9, 3);
  const array a = from_xt(x, {4, 9});
  const array b = from_xt(y, {3, 2});  // aligned to a's chunks
  const block_function f = [](std::span<const block_view> in, block_span out,
                              const block_info& info) {
    const auto* p = reinterpret_cast<const double*>(in[0].data);
    const auto* q = reinterpret_cast<const double*>(in[1].data);
    auto* o = reinterpret_cast<double*>(out.data);
    REQUIRE(in[0].shape == out.shape);
    REQUIRE(in[1].shape == out.shape);
    REQUIRE(info.region.shape() == out.shape);
    for (index_t i = 0; i < element_count(out.shape); ++i)
      o[i] = p[i] - q[i] + 1000.0 * static_cast<double>(info.chunk[0]);
  };
  const xt::xarray<double> got = compute<double>(map_blocks(f, {a, b}));
  xt::xarray<double> expected = x - y;
  for (std::size_t i = 0; i < 11; ++i) xt::row(expected, i) += 1000.0 * static_cast<double>(i / 4);
  CHECK(xt::allclose(got, expected, 0, 0));

  // A block's row sums: axis 1 is one chunk and is dropped; then a new leading axis.
  const block_function row_sums = [](std::span<const block_view> in, block_span out,
                                     const block_info&) {
    const auto* p = reinterpret_cast<const double*>(in[0].data);
    auto* o = reinterpret_cast<double*>(out.data);
    const index_t rows = in[0].shape[0], cols = in[0].shape[1];
    REQUIRE(element_count(out.shape) == rows);
    for (index_t r = 0; r < rows; ++r) {
      o[r] = 0;
      for (index_t c = 0; c < cols; ++c) o[r] += p[r * cols + c];
    }
  };
  map_blocks_options drop;
  drop.drop_axis = {1};
  const array sums = map_blocks(row_sums, {a}, drop);
  CHECK(sums.shape() == shape_t{11});
  CHECK(xt::allclose(compute<double>(sums), xt::sum(x, {1}), 1e-12, 1e-12));
  map_blocks_options both = drop;
  both.new_axis = {0};
  const array lifted = map_blocks(row_sums, {a}, both);
  CHECK(lifted.shape() == shape_t{1, 11});
  CHECK(xt::allclose(xt::view(compute<double>(lifted), 0), xt::sum(x, {1}), 1e-12, 1e-12));
}

TEST_CASE("map_blocks: errors name the operation, the chunk and the cause") {
  const array a = from_xt(sample(8, 8, 4), {3, 3});
  const block_function fails = [](std::span<const block_view>, block_span, const block_info& info) {
    if (info.chunk == shape_t{1, 2}) throw std::runtime_error("bad block");
  };
  map_blocks_options named;
  named.name = "detector";
  try {
    compute<double>(map_blocks(fails, {a}, named));
    FAIL("no error");
  } catch (const error& e) {
    const std::string what = e.what();
    CHECK(what.find("detector") != std::string::npos);
    CHECK(what.find("chunk (1, 2)") != std::string::npos);
    CHECK(what.find("bad block") != std::string::npos);
  }
  CHECK_THROWS_AS(map_blocks<float>([](const auto& b) { return xt::eval(b); }, a), type_error);
  map_blocks_options drop;
  drop.drop_axis = {0};
  CHECK_THROWS_AS(map_blocks(fails, {a}, drop), shape_error);  // 3 chunks along axis 0
  CHECK_THROWS_AS(map_blocks(fails, {a, from_xt(sample(8, 7, 5), {3, 3})}), shape_error);
  map_blocks_options chunks;
  chunks.chunks = chunks_t{axis_chunks{8}, axis_chunks{3, 3, 2}};
  CHECK_THROWS_AS(map_blocks(fails, {a}, chunks), shape_error);  // 1 chunk where there are 3
  CHECK_THROWS_AS(map_overlap(fails, a, {-1}), value_error);
  CHECK_THROWS_AS(map_overlap(fails, a, {1, 2, 3}), shape_error);
}

TEST_CASE("map_overlap: halos deeper than the chunks, for every boundary") {
  const xt::xarray<double> x = sample(13, 11, 6);
  const shape_t depth{5, 1};
  // A (2·5 + 1) × (2·1 + 1) box sum around each element; with boundary none, the halo stops at
  // the edges (the box is cut there).
  const block_function box_sum = [&](std::span<const block_view> in, block_span out,
                                     const block_info& info) {
    const auto* p = reinterpret_cast<const double*>(in[0].data);
    auto* o = reinterpret_cast<double*>(out.data);
    const index_t cols = in[0].shape[1];
    for (index_t r = 0; r < out.shape[0]; ++r) {
      for (index_t c = 0; c < out.shape[1]; ++c) {
        const index_t R = r + info.core.start[0], C = c + info.core.start[1];
        double s = 0;
        for (index_t i = std::max<index_t>(0, R - depth[0]);
             i <= std::min(in[0].shape[0] - 1, R + depth[0]); ++i)
          for (index_t j = std::max<index_t>(0, C - depth[1]);
               j <= std::min(in[0].shape[1] - 1, C + depth[1]); ++j)
            s += p[i * cols + j];
        o[r * out.shape[1] + c] = s;
      }
    }
  };
  for (const boundary edge :
       {boundary{boundary_kind::reflect}, boundary{boundary_kind::periodic},
        boundary{boundary_kind::nearest}, boundary{boundary_kind::constant, 2.5},
        boundary{boundary_kind::none}}) {
    xt::xarray<double> expected = xt::zeros<double>({13, 11});
    for (index_t r = 0; r < 13; ++r)
      for (index_t c = 0; c < 11; ++c)
        for (index_t i = r - depth[0]; i <= r + depth[0]; ++i)
          for (index_t j = c - depth[1]; j <= c + depth[1]; ++j)
            expected(r, c) += extended(x, i, j, edge);
    for (const shape_t& chunks : {shape_t{3, 2}, shape_t{1, 1}, shape_t{13, 11}}) {
      CAPTURE(static_cast<int>(edge.kind));
      CAPTURE(to_string(chunks));
      const array out = map_overlap(box_sum, from_xt(x, chunks), depth, edge);
      CHECK(out.chunks() == from_xt(x, chunks).chunks());
      CHECK(xt::allclose(compute<double>(out), expected, 1e-12, 1e-12));
    }
  }
  // dask's form: the function returns the extended block, trimmed afterwards.
  const array a = from_xt(x, {4, 4});
  const array shifted = map_overlap<double>(
      [](const auto& b) {
        xt::xarray<double> out = xt::zeros_like(b);
        xt::view(out, xt::range(1, xt::placeholders::_), xt::all()) =
            xt::view(b, xt::range(0, -1), xt::all());
        return out;
      },
      a, {1, 0}, boundary{boundary_kind::constant, -1});
  xt::xarray<double> expected = xt::zeros_like(x);
  xt::view(expected, 0, xt::all()) = -1;
  xt::view(expected, xt::range(1, xt::placeholders::_), xt::all()) =
      xt::view(x, xt::range(0, -1), xt::all());
  CHECK(xt::allclose(compute<double>(shifted), expected, 0, 0));
}

TEST_CASE("scans from C++: exact across chunks, spilled when large") {
  const xt::xarray<double> x = sample(5, 301, 7);
  // sosfilt, sequentially with scipy's operations, against chunks of 7 along the axis.
  const sos_t sos = butter(3, {0.1, 0.3}, filter_band::bandpass);
  CHECK(sos.size() == 3);
  xt::xarray<double> expected = x;
  for (std::size_t r = 0; r < 5; ++r) {
    std::vector<std::array<double, 2>> z(sos.size(), {0, 0});
    for (std::size_t n = 0; n < 301; ++n) {
      double cur = x(r, n);
      for (std::size_t s = 0; s < sos.size(); ++s) {
        const auto& c = sos[s];
        const double next = c[0] * cur + z[s][0];
        z[s][0] = c[1] * cur - c[4] * next + z[s][1];
        z[s][1] = c[2] * cur - c[5] * next;
        cur = next;
      }
      expected(r, n) = cur;
    }
  }
  for (const shape_t& chunks : {shape_t{2, 7}, shape_t{5, 301}, shape_t{1, 1}}) {
    CHECK(xt::allclose(compute<double>(sosfilt(sos, from_xt(x, chunks))), expected, 0, 0));
    CHECK(xt::allclose(compute<double>(cumsum(from_xt(x, chunks), 1)), xt::cumsum(x, 1), 0, 0));
  }
  // A result larger than the budget spills and is read back: the same values.
  test::temp_dir dir;
  store_options small;
  small.compute.memory_limit = 256 << 10;
  execution_stats stats;
  small.compute.stats = &stats;
  const array big = from_xt(sample(40, 2000, 8), {8, 250});
  store(cumsum(big, 1) - sosfilt(sos, big), (dir.path() / "out.zarr").string(), small);
  CHECK(stats.stages == 3);  // two scans, then the output
  CHECK(to_dot(cumsum(big, 1), small.compute).find("spilled to disk") != std::string::npos);
  const xt::xarray<double> back = compute<double>(open((dir.path() / "out.zarr").string()));
  compute_options roomy;
  roomy.memory_limit = 256 << 20;
  CHECK(xt::allclose(back, compute<double>(cumsum(big, 1) - sosfilt(sos, big), roomy), 0, 0));
}
