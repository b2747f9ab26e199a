// Order statistics from C++: the two ways a median or quantile runs (values gathered into
// blocks, or radix selection over passes when they are too many for a task) give the same
// bits, for any chunking and thread count; checked against sorted references. (Every method
// and dtype against NumPy: tests/test_order.py.)
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <random>
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
