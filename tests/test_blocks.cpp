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

TEST_CASE("blockwise: index notation contracts whole axes, unifies chunks, adds axes") {
  const xt::xarray<double> x = sample(9, 13, 11), y = sample(13, 7, 12);
  xt::xarray<double> product = xt::zeros<double>({9, 7});
  for (std::size_t i = 0; i < 9; ++i)
    for (std::size_t j = 0; j < 7; ++j)
      for (std::size_t k = 0; k < 13; ++k) product(i, j) += x(i, k) * y(k, j);
  const auto matmul = [](const auto& blocks) {
    const auto& p = blocks[0];
    const auto& q = blocks[1];
    REQUIRE(p.shape()[1] == q.shape()[0]);  // the whole of k
    xt::xarray<double> out = xt::zeros<double>({p.shape()[0], q.shape()[1]});
    for (std::size_t i = 0; i < p.shape()[0]; ++i)
      for (std::size_t j = 0; j < q.shape()[1]; ++j)
        for (std::size_t k = 0; k < p.shape()[1]; ++k) out(i, j) += p(i, k) * q(k, j);
    return out;
  };
  for (const auto& [ca, cb] :
       {std::pair{shape_t{4, 5}, shape_t{3, 2}}, std::pair{shape_t{1, 13}, shape_t{13, 1}},
        std::pair{shape_t{9, 2}, shape_t{6, 7}}}) {
    CAPTURE(to_string(ca));
    const array a = from_xt(x, ca), b = from_xt(y, cb);
    const array c = blockwise<double>(matmul, "ij", {{a, "ik"}, {b, "kj"}});
    CHECK(c.shape() == shape_t{9, 7});
    CHECK(c.chunks() == chunks_t{a.chunks()[0], b.chunks()[1]});
    for (int threads : {1, 3}) {
      compute_options o;
      o.threads = threads;
      CHECK(xt::allclose(compute<double>(c, o), product, 1e-12, 1e-12));
      CHECK(xt::allclose(compute<double>(sum(c * 2.0, {0}), o), xt::sum(product * 2.0, {0}), 1e-12,
                         1e-12));
    }
  }

  // An outer product from two 1-d arrays of other chunkings, with a new axis and adjusted
  // chunks: out[i, j, n] = u[i] * v[j] + n.
  const xt::xarray<double> u = xt::view(x, xt::all(), 0), v = xt::view(y, 0, xt::all());
  const array au = from_xt(u, {4}), av = from_xt(v, {3});
  blockwise_options o;
  o.new_axes = {{'n', 2}};
  const block_function outer = [](std::span<const block_view> in, block_span out,
                                  const block_info& info) {
    const auto* p = reinterpret_cast<const double*>(in[0].data);
    const auto* q = reinterpret_cast<const double*>(in[1].data);
    auto* w = reinterpret_cast<double*>(out.data);
    REQUIRE(out.shape == shape_t{in[0].shape[0], in[1].shape[0], 2});
    REQUIRE(info.region.shape() == out.shape);
    for (index_t i = 0; i < out.shape[0]; ++i)
      for (index_t j = 0; j < out.shape[1]; ++j)
        for (index_t n = 0; n < 2; ++n)
          w[(i * out.shape[1] + j) * 2 + n] = p[i] * q[j] + static_cast<double>(n);
  };
  const array op = blockwise(outer, "ijn", {{au, "i"}, {av, "j"}}, o);
  CHECK(op.shape() == shape_t{9, 7, 2});
  xt::xarray<double> expected = xt::zeros<double>({9, 7, 2});
  for (std::size_t i = 0; i < 9; ++i)
    for (std::size_t j = 0; j < 7; ++j)
      for (std::size_t n = 0; n < 2; ++n) expected(i, j, n) = u(i) * v(j) + static_cast<double>(n);
  CHECK(xt::allclose(compute<double>(op), expected, 0, 0));

  // Column sums per block of rows: j is contracted, and each block of i gives one value.
  blockwise_options sums;
  sums.adjust_chunks = {{'i', {1, 1, 1}}};
  const array blocks_of_rows =
      blockwise<double>([](const auto& b) { return xt::xarray<double>{xt::sum(b[0])()}; }, "i",
                        {{from_xt(x, {3, 5}), "ij"}}, sums);
  CHECK(blocks_of_rows.shape() == shape_t{3});
  const xt::xarray<double> got = compute<double>(blocks_of_rows);
  for (std::size_t k = 0; k < 3; ++k) {
    const double want = xt::sum(xt::view(x, xt::range(3 * k, 3 * k + 3), xt::all()))();
    CHECK(got(k) == doctest::Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("blockwise: errors name the letter and the cause") {
  const array a = from_xt(sample(6, 5, 13), {2, 5}), b = from_xt(sample(4, 3, 14), {2, 3});
  const block_function f = [](std::span<const block_view>, block_span, const block_info&) {};
  const auto message = [&](auto&& call) {
    try {
      call();
    } catch (const error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message([&] {
          blockwise(f, "ij", {{a, "ik"}, {b, "kj"}});
        }).find("letter 'k' is 5") != std::string::npos);
  CHECK_THROWS_AS(blockwise(f, "ij", {{a, "i"}}), shape_error);  // 2 axes, 1 letter
  CHECK_THROWS_AS(blockwise(f, "ii", {{a, "ij"}}), value_error);
  CHECK_THROWS_AS(blockwise(f, "ij", {{a, "ii"}}), value_error);
  CHECK(message([&] {
          blockwise(f, "iz", {{a, "ij"}});
        }).find("'z' is in no input") != std::string::npos);
  blockwise_options o;
  o.adjust_chunks = {{'i', {1, 1}}};
  CHECK_THROWS_AS(blockwise(f, "ij", {{a, "ij"}}, o), shape_error);  // a has 3 chunks along i
  o.adjust_chunks.clear();
  o.new_axes = {{'j', 4}};
  CHECK_THROWS_AS(blockwise(f, "ij", {{a, "ij"}}, o), value_error);  // j is a's
  const block_function fails = [](std::span<const block_view>, block_span, const block_info& info) {
    if (info.chunk == shape_t{2}) throw std::runtime_error("odd block");
  };
  CHECK(message([&] {
          compute<double>(blockwise(fails, "i", {{a, "ij"}}));
        }).find("blockwise: the function failed on chunk (2,): odd block") != std::string::npos);
}

namespace {
// The first and last value reduced into an output element: order-sensitive, so a wrong
// fold or combine order shows.
struct ends {
  double first, last;
  bool seen;
};
}  // namespace

TEST_CASE("reduction: a user state on the fixed-order tree, over any axes") {
  const xt::xarray<double> x = sample(11, 14, 15);
  const auto fold = [](ends& s, double v) {
    if (!s.seen) s.first = v;
    s.last = v;
    s.seen = true;
  };
  const auto combine = [](ends& a, const ends& b) {
    if (!b.seen) return;
    if (!a.seen) a.first = b.first;
    a.last = b.last;
    a.seen = true;
  };
  const auto finalize = [](const ends& s) { return s.seen ? s.last - 2 * s.first : -1.0; };
  const xt::xarray<double> flat = xt::flatten(x);
  for (const shape_t& chunks : {shape_t{4, 5}, shape_t{1, 1}, shape_t{11, 14}, shape_t{3, 14}}) {
    CAPTURE(to_string(chunks));
    const array a = from_xt(x, chunks);
    for (int threads : {1, 4}) {
      compute_options o;
      o.threads = threads;
      const xt::xarray<double> rows =
          compute<double>(reduction<double>(a, ends{}, fold, combine, finalize, {1}), o);
      CHECK(xt::allclose(rows, xt::view(x, xt::all(), 13) - 2 * xt::view(x, xt::all(), 0), 0, 0));
      const xt::xarray<double> cols =
          compute<double>(reduction<double>(a, ends{}, fold, combine, finalize, {0}), o);
      CHECK(xt::allclose(cols, xt::view(x, 10, xt::all()) - 2 * xt::view(x, 0, xt::all()), 0, 0));
      const xt::xarray<double> all =
          compute<double>(reduction<double>(a, ends{}, fold, combine, finalize), o);
      CHECK(all() == flat(flat.size() - 1) - 2 * flat(0));
    }
  }
  // A typed output (the count of positive values, int32), keepdims, fused under an
  // elementwise expression, and with the states spilled under a tiny memory limit.
  const xt::xarray<double> y = sample(40, 3000, 16);
  const array b = from_xt(y, {7, 256});
  reduction_options keep;
  keep.keepdims = true;
  keep.name = "positives";
  const array positives = reduction<double>(
      b, std::int32_t{0}, [](std::int32_t& n, double v) { n += v > 0; },
      [](std::int32_t& n, const std::int32_t& m) { n += m; },
      [](const std::int32_t& n) { return n; }, {0}, keep);
  CHECK(positives.dtype() == make_dtype(scalar_kind::int32));
  CHECK(positives.shape() == shape_t{1, 3000});
  const xt::xarray<std::int32_t> want = xt::sum(xt::cast<std::int32_t>(y > 0), {0}, xt::keep_dims);
  CHECK(compute<std::int32_t>(positives) == want);
  compute_options tight;
  tight.memory_limit = 1 << 20;
  CHECK(compute<std::int32_t>(positives * 2, tight) == want * 2);

  // The function's exceptions surface with the reduction's name.
  try {
    compute<double>(reduction<double>(
        b, 0.0,
        [](double&, double v) {
          if (v > 3.5) throw std::runtime_error("too large");
        },
        [](double&, const double&) {}, [](const double& s) { return s; }, {}, keep));
    FAIL("no error");
  } catch (const error& e) {
    CHECK(std::string(e.what()).find("positives: the function failed: too large") !=
          std::string::npos);
  }
  CHECK_THROWS_AS(reduction<float>(
                      b, 0.0, [](double&, float) {}, [](double&, const double&) {},
                      [](const double& s) { return s; }),
                  type_error);
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
