// Order statistics from C++: the two ways a median or quantile runs (values gathered into
// blocks, or radix selection over passes when they are too many for a task) give the same
// bits, for any chunking and thread count; checked against sorted references. (Every method
// and dtype against NumPy: tests/test_order.py.)
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "chunkarr/chunkarr.hpp"

using namespace chunkarr;

namespace {

std::vector<float> sample_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 3);
  std::vector<float> v(n);
  for (float& x : v) x = std::round(normal(rng) * 8) / 8;  // ties
  return v;
}

array of(const std::vector<float>& v, const shape_t& shape, const shape_t& chunks) {
  return from_buffer(std::as_bytes(std::span<const float>(v)), shape,
                     make_dtype(scalar_kind::float32), chunks);
}

// NumPy's linear quantile of sorted values (as float64).
double linear(const std::vector<float>& sorted, double q) {
  const double v = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(v));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double a = sorted[lo], b = sorted[hi], g = v - std::floor(v);
  const double diff = static_cast<double>(sorted[hi] - sorted[lo]);
  return g >= 0.5 ? b - diff * (1 - g) : a + diff * g;
}

}  // namespace

TEST_CASE("median and quantile: gathered or selected, the same bits for any chunks") {
  const shape_t shape{40, 3001};
  const std::vector<float> v = sample_values(40 * 3001, 3);
  std::vector<float> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const float median_ref = sorted[sorted.size() / 2];  // an odd count
  const std::vector<double> qs{0, 0.013, 0.5, 0.999, 1};
  for (const shape_t& chunks : {shape_t{16, 256}, shape_t{1, 3001}, shape_t{40, 7}}) {
    CAPTURE(to_string(chunks));
    const array a = of(v, shape, chunks);
    for (const auto& [limit, threads] :
         {std::pair{index_t{1} << 30, 2}, std::pair{index_t{1} << 20, 1},
          std::pair{index_t{1} << 20, 3}}) {
      CAPTURE(limit);
      CAPTURE(threads);
      execution_stats stats;
      compute_options o;
      o.memory_limit = limit;
      o.threads = threads;
      o.stats = &stats;
      const auto m = compute<float>(median(a), o);
      CHECK(m() == median_ref);
      // A gigabyte gathers every value in one task; a megabyte selects, pass after pass
      // (each pass a run of the stage).
      if (limit == index_t{1} << 30)
        CHECK(stats.stages == 1);
      else
        CHECK(stats.stages >= 2);
      const auto q = compute<double>(quantile(a, qs), o);
      REQUIRE(q.size() == qs.size());
      for (std::size_t k = 0; k < qs.size(); ++k) CHECK(q(k) == linear(sorted, qs[k]));
    }
  }
  // Per row, against each row's own sorted values, both ways.
  for (const index_t limit : {index_t{1} << 30, index_t{96} << 10}) {
    compute_options o;
    o.memory_limit = limit;
    const auto rows = compute<double>(quantile(of(v, shape, {16, 256}), {0.25, 0.75}, {1}), o);
    REQUIRE(rows.shape() == std::vector<std::size_t>{2, 40});
    for (std::size_t r = 0; r < 40; ++r) {
      std::vector<float> row(v.begin() + static_cast<long>(r * 3001),
                             v.begin() + static_cast<long>((r + 1) * 3001));
      std::sort(row.begin(), row.end());
      CHECK(rows(0, r) == linear(row, 0.25));
      CHECK(rows(1, r) == linear(row, 0.75));
    }
  }
}

namespace {

template <class T>
array of_values(const std::vector<T>& v, const shape_t& shape, const shape_t& chunks) {
  return from_buffer(std::as_bytes(std::span<const T>(v)), shape, make_dtype(kind_of<T>::value),
                     chunks);
}

// Values over 120 binades (doubles' sums are exact within 2^269, their squares' 2^134),
// signed zeros, a pair of large ones that cancel.
std::vector<double> wide_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> exponent(-60, 60);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::vector<double> v(n);
  for (double& x : v) x = std::ldexp(mantissa(rng), exponent(rng));
  v[3] = 1e18, v[n / 2] = -1e18, v[6] = -0.0, v[7] = 0.0;
  return v;
}

}  // namespace

TEST_CASE("sum, mean, var and std: exact sums, the same bits for any chunking and thread count") {
  const shape_t shape{37, 530};
  const std::size_t n = 37 * 530;
  const std::vector<double> f8 = wide_values(n, 5);
  std::vector<float> f4(n);
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(100, 40);
  for (float& x : f4) x = normal(rng);
  f4[11] = 1e-40f, f4[12] = 3e38f, f4[13] = -3e38f;  // a subnormal, a cancelling pair
  std::vector<std::int32_t> i4(n);
  for (std::size_t i = 0; i < n; ++i) i4[i] = static_cast<std::int32_t>(rng()) / (1 + i % 7);
  std::vector<float> nans = f4;
  for (std::size_t i = 0; i < n; i += 41) nans[i] = std::nanf("");

  const auto reductions = [](const array& a) {
    std::vector<array> r;
    for (const axes_t& axes : {axes_t{}, axes_t{0}, axes_t{1}}) {
      r.push_back(sum(a, axes).astype(make_dtype(scalar_kind::float64)));
      r.push_back(mean(a, axes));
      r.push_back(var(a, axes));
      r.push_back(stddev(a, axes, false, 1));
      r.push_back(nanmean(a, axes));
      r.push_back(nanvar(a, axes, false, 1));
    }
    return r;
  };
  const std::vector<shape_t> chunkings{{37, 530}, {8, 64}, {1, 530}, {37, 1}, {5, 7}, {36, 529}};
  const auto check = [&](const auto& values) {
    std::vector<std::vector<std::byte>> reference;
    for (const shape_t& chunks : chunkings) {
      CAPTURE(to_string(chunks));
      const std::vector<array> r = reductions(of_values(values, shape, chunks));
      for (std::size_t k = 0; k < r.size(); ++k) {
        CAPTURE(k);
        for (int threads : {1, 3}) {
          compute_options o;
          o.threads = threads;
          const xt::xarray<double> got = compute<double>(r[k], o);
          std::vector<std::byte> b(got.size() * sizeof(double));
          std::memcpy(b.data(), got.data(), b.size());
          if (reference.size() <= k) reference.push_back(b);
          CHECK(b == reference[k]);
        }
      }
    }
  };
  check(f8);
  check(f4);
  check(i4);
  check(nans);

  // More than 16384 outputs: doubles' sums in compact windows, the same bits as the full
  // sums of narrower slices, for any chunking.
  {
    const shape_t wide{4, 20000};
    std::vector<double> w(4 * 20000);
    std::mt19937 g(21);
    std::uniform_int_distribution<int> e(-50, 50);
    std::uniform_real_distribution<double> m(-1, 1);
    for (double& x : w) x = std::ldexp(m(g), e(g));
    for (std::size_t i = 0; i < w.size(); i += 97) w[i] = NAN;
    std::vector<std::vector<std::byte>> first;
    for (const shape_t& chunks : {shape_t{4, 20000}, shape_t{1, 20000}, shape_t{3, 999}}) {
      CAPTURE(to_string(chunks));
      const array a = of_values(w, wide, chunks);
      const std::vector<array> compact{nansum(a, {0}), nanmean(a, {0}), nanvar(a, {0}),
                                       stddev(a, {0}, false, 1)};
      for (std::size_t k = 0; k < compact.size(); ++k) {
        const xt::xarray<double> got = compute<double>(compact[k]);
        std::vector<std::byte> b(got.size() * sizeof(double));
        std::memcpy(b.data(), got.data(), b.size());
        if (first.size() <= k) first.push_back(b);
        CHECK(b == first[k]);
        // A slice of 100 columns reduces into full-range states: the same bits.
        const array part = a(all, range(12345, 12445));
        const array narrow = k == 0   ? nansum(part, {0})
                             : k == 1 ? nanmean(part, {0})
                             : k == 2 ? nanvar(part, {0})
                                      : stddev(part, {0}, false, 1);
        const xt::xarray<double> n = compute<double>(narrow);
        for (std::size_t j = 0; j < 100; ++j) {
          const double x = got(12345 + j), y = n(j);
          CHECK((x == y || (std::isnan(x) && std::isnan(y))));
        }
      }
    }
  }

  // Beyond the span of a double's exact sum (1e300 with 1e-300 and subnormals), results are
  // still deterministic and as accurate as the window holds.
  std::vector<double> extreme = f8;
  extreme[0] = 1e300, extreme[1] = -1e300, extreme[2] = 4.9e-324;
  for (const shape_t& chunks : {shape_t{37, 530}, shape_t{3, 7}}) {
    const array a = of_values(extreme, shape, chunks);
    const double once = compute<double>(sum(a))();
    compute_options o;
    o.threads = 3;
    CHECK(compute<double>(sum(a), o)() == once);
    CHECK(std::isfinite(once));
  }

  // The exact values where double accumulation loses them.
  const std::vector<double> cancel{1e300, 1.0, -1e300, 0.5, 1e-300};
  for (const shape_t& chunks : {shape_t{1}, shape_t{2}, shape_t{5}}) {
    const array a = of_values(cancel, {5}, chunks);
    CHECK(compute<double>(sum(a))() == 1.5);  // 1.5 + 1e-300 rounds to 1.5
    CHECK(compute<double>(mean(a))() == 1.5 / 5);
  }
  std::vector<double> tenths(10, 0.1);
  // 0.1 is 0.1000000000000000055511151231257827…: ten of them round to 1.0000000000000000555…
  // → 1.0 exactly, where a running double sum gives 0.9999999999999999.
  CHECK(compute<double>(sum(of_values(tenths, {10}, {3})))() == 1.0);
  const std::vector<double> specials{1.0, INFINITY, 2.0, -INFINITY};
  CHECK(std::isnan(compute<double>(sum(of_values(specials, {4}, {1})))()));
  CHECK(compute<double>(sum(of_values(std::vector<double>{1.0, INFINITY}, {2}, {1})))() ==
        INFINITY);
  CHECK(
      std::isnan(compute<double>(var(of_values(std::vector<double>{1.0, INFINITY}, {2}, {1})))()));
  const std::vector<double> with_nan{1.0, NAN, 3.0};
  CHECK(compute<double>(nanmean(of_values(with_nan, {3}, {2})))() == 2.0);
  CHECK(compute<double>(nanvar(of_values(with_nan, {3}, {2})))() == 1.0);
  CHECK(std::isnan(compute<double>(mean(of_values(with_nan, {3}, {2})))()));
  // A variance whose mean is 2^40 times its spread.
  std::vector<double> offset(1000);
  for (std::size_t i = 0; i < offset.size(); ++i) offset[i] = 0x1p40 + static_cast<double>(i % 2);
  CHECK(compute<double>(var(of_values(offset, {1000}, {7})))() == 0.25);
}

TEST_CASE("topk of an axis longer than the memory limit, sort refused there with the bytes") {
  const index_t n = 3'000'000;  // 12 MB of float32, more than the 4 MiB limit
  std::vector<float> v(static_cast<std::size_t>(n));
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0, 1);
  for (float& x : v) x = normal(rng);
  const array a = of_values(v, {n}, {65536});
  compute_options o;
  o.memory_limit = 4 << 20;
  o.threads = 2;
  std::vector<float> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const xt::xarray<float> top = compute<float>(topk(a, 7), o);
  const xt::xarray<float> bottom = compute<float>(topk(a, -5), o);
  const xt::xarray<std::int64_t> where = compute<std::int64_t>(argtopk(a, 3), o);
  for (std::size_t i = 0; i < 7; ++i) CHECK(top(i) == sorted[sorted.size() - 1 - i]);
  for (std::size_t i = 0; i < 5; ++i) CHECK(bottom(i) == sorted[i]);
  for (std::size_t i = 0; i < 3; ++i) CHECK(v[static_cast<std::size_t>(where(i))] == top(i));
  CHECK_THROWS_AS(compute<float>(sort(a), o), memory_budget_error);
  const xt::xarray<float> all = compute<float>(sort(a));  // within the default limit
  CHECK(std::equal(sorted.begin(), sorted.end(), all.begin()));
}
