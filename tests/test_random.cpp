// Random arrays: values that are a function of (seed, distribution, flat index) alone — the
// same for any chunking, thread count, budget or slice — drawn as random.hpp documents, with
// the distributions they claim.
#include <Random123/philox.h>

#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <xtensor/xview.hpp>

#include "chunkarr/chunkarr.hpp"
#include "test_helpers.hpp"

using namespace chunkarr;

namespace {

const dtype f8 = make_dtype(scalar_kind::float64), f4 = make_dtype(scalar_kind::float32),
            i8 = make_dtype(scalar_kind::int64);

// The arrays of one kind each test draws, in a given chunk shape.
std::vector<array> every_distribution(const random_generator& g, const shape_t& shape,
                                      const shape_t& chunks) {
  return {g.random(shape, f8, chunks),
          g.random(shape, f4, chunks),
          g.uniform(-3, 5, shape, f8, chunks),
          g.standard_normal(shape, f8, chunks),
          g.normal(10, 2, shape, f4, chunks),
          g.integers(-5, 7, shape, i8, chunks),
          g.integers(0, 255, shape, make_dtype(scalar_kind::uint8), chunks, true),
          g.integers(0, 2, shape, make_dtype(scalar_kind::bool_), chunks),
          g.integers(std::numeric_limits<std::int64_t>::min(),
                     std::numeric_limits<std::int64_t>::max(), shape, i8, chunks, true),
          g.poisson(3.5, shape, chunks),
          g.poisson(250, shape, chunks)};
}

bytes bytes_of(const array& a, const compute_options& o = {}) {
  bytes out(static_cast<std::size_t>(a.size()) * a.dtype().itemsize());
  compute_into(a, out, o);
  return out;
}

std::vector<double> doubles(const array& a) {
  const xt::xarray<double> x = compute<double>(a.astype(f8));
  return {x.begin(), x.end()};
}

// The documented scheme, straight from Random123: element i's first words.
r123::Philox4x32::ctr_type first_words(std::uint64_t seed, std::uint64_t i, std::uint32_t what) {
  const r123::Philox4x32::key_type key = {
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  const std::uint64_t pair = i / 2;
  return r123::Philox4x32()(
      {{static_cast<std::uint32_t>(pair), static_cast<std::uint32_t>(pair >> 32), 0, what}}, key);
}

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

}  // namespace

TEST_CASE("random arrays are the same for any chunks, threads, budget and slice") {
  const shape_t shape{37, 53};
  const std::vector<shape_t> chunkings = {{37, 53}, {5, 7}, {1, 53}, {37, 1}, {16, 16}, {3, 50}};
  for (std::uint64_t seed : {0ull, 42ull, 0xFFFF'FFFF'FFFF'FFFFull}) {
    CAPTURE(seed);
    const random_generator g(seed);
    const std::vector<array> reference = every_distribution(g, shape, {});
    std::vector<bytes> expected;
    for (const array& a : reference) expected.push_back(bytes_of(a, {.threads = 1}));
    for (const shape_t& chunks : chunkings) {
      CAPTURE(to_string(chunks));
      const std::vector<array> arrays = every_distribution(g, shape, chunks);
      for (std::size_t k = 0; k < arrays.size(); ++k) {
        CAPTURE(k);
        CHECK(bytes_of(arrays[k], {.threads = 3}) == expected[k]);
        CHECK(bytes_of(arrays[k], {.memory_limit = 64 << 10, .threads = 2}) == expected[k]);
      }
    }
    // A slice holds the values of the whole at its indices; the flat C-order index is what
    // counts, so a (37, 53) array is the (1961,) one reshaped.
    for (std::size_t k = 0; k < reference.size(); ++k) {
      CAPTURE(k);
      const array whole = reference[k];
      const array flat = every_distribution(g, {37 * 53}, {100})[k];
      CHECK(bytes_of(flat.reshape({37, 53})) == expected[k]);
      const array part = whole({range(3, 30, 4), range(50, 1, -7)});
      const array again =
          every_distribution(g, shape, {4, 4})[k]({range(3, 30, 4), range(50, 1, -7)});
      CHECK(bytes_of(part) == bytes_of(again));
    }
  }
  // Other seeds, other values; a 0-d and an empty array work.
  CHECK(bytes_of(random(1).random({100})) != bytes_of(random(2).random({100})));
  CHECK(compute<double>(random(5).random({})).dimension() == 0);
  CHECK(compute<double>(random(5).normal(0, 1, {0, 4})).size() == 0);
}

TEST_CASE("random values follow the documented Philox4x32-10 scheme at any index") {
  // Indices past 2^32 too: a slice of a 2^40-element array reads only its own values.
  const std::uint64_t seed = 0x0123'4567'89AB'CDEFull;
  const index_t start = (index_t{1} << 33) + 1;
  const random_generator g(seed);
  const array u = g.random({index_t{1} << 40})({range(start, start + 9)});
  const array u32 = g.random({index_t{1} << 40}, f4)({range(start, start + 9)});
  const array n = g.standard_normal({index_t{1} << 40})({range(start, start + 9)});
  const xt::xarray<double> got = compute<double>(u);
  const xt::xarray<float> got32 = compute<float>(u32);
  const xt::xarray<double> normals = compute<double>(n);
  for (index_t k = 0; k < 9; ++k) {
    const std::uint64_t i = static_cast<std::uint64_t>(start + k), j = i % 2;
    const auto w = first_words(seed, i, 0);
    const std::uint64_t bits = std::uint64_t{w[2 * j]} << 32 | w[2 * j + 1];
    CHECK(got(k) == static_cast<double>(bits >> 11) * 0x1p-53);
    CHECK(got32(k) == static_cast<float>(w[2 * j] >> 8) * 0x1p-24f);
    // The ziggurat's common case: a 52-bit magnitude scaled, the sign from bit 8.
    const auto wn = first_words(seed, i, 1);
    const std::uint64_t nb = std::uint64_t{wn[2 * j]} << 32 | wn[2 * j + 1];
    CHECK(std::signbit(normals(k)) == static_cast<bool>((nb >> 8) & 1));
  }
}

TEST_CASE("random distributions have their moments, ranges and shapes") {
  const index_t n = 400'000;
  const random_generator g(2026);
  auto mean_var = [](const std::vector<double>& x) {
    double m = 0, v = 0;
    for (double e : x) m += e;
    m /= static_cast<double>(x.size());
    for (double e : x) v += (e - m) * (e - m);
    return std::pair{m, v / static_cast<double>(x.size())};
  };
  SUBCASE("uniform in [low, high)") {
    const std::vector<double> x = doubles(g.uniform(-3, 5, {n}, f8, {999}));
    const auto [m, v] = mean_var(x);
    CHECK(m == doctest::Approx(1.0).epsilon(0.01));
    CHECK(v == doctest::Approx(64.0 / 12).epsilon(0.01));
    CHECK(*std::min_element(x.begin(), x.end()) >= -3);
    CHECK(*std::max_element(x.begin(), x.end()) < 5);
    const std::vector<double> y = doubles(g.random({n}, f4));
    CHECK(*std::max_element(y.begin(), y.end()) < 1.0);
    CHECK(*std::min_element(y.begin(), y.end()) >= 0.0);
  }
  SUBCASE("normal: Kolmogorov-Smirnov against the normal CDF, and the ziggurat's tail") {
    std::vector<double> x = doubles(g.standard_normal({n}, f8, {4096}));
    const auto [m, v] = mean_var(x);
    CHECK(std::abs(m) < 0.01);
    CHECK(v == doctest::Approx(1.0).epsilon(0.01));
    std::sort(x.begin(), x.end());
    double d = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double f = normal_cdf(x[i]);
      d = std::max(
          {d, f - static_cast<double>(i) / x.size(), static_cast<double>(i + 1) / x.size() - f});
    }
    CHECK(d < 1.63 / std::sqrt(static_cast<double>(n)));  // KS at the 1 % level
    // Beyond the base layer's edge r = 3.654 (the tail algorithm): 2 (1 - Φ(r)) of them.
    const double expected = 2 * (1 - normal_cdf(3.6541528853610088)) * static_cast<double>(n);
    const auto tail = std::count_if(x.begin(), x.end(),
                                    [](double e) { return std::abs(e) > 3.6541528853610088; });
    CHECK(std::abs(static_cast<double>(tail) - expected) < 5 * std::sqrt(expected));
    // … on both sides alike.
    const auto low_tail =
        std::count_if(x.begin(), x.end(), [](double e) { return e < -3.6541528853610088; });
    CHECK(std::abs(2.0 * static_cast<double>(low_tail) - static_cast<double>(tail)) <
          5 * std::sqrt(static_cast<double>(tail)));
    const std::vector<double> y = doubles(g.normal(10, 3, {n}, f4));
    const auto [my, vy] = mean_var(y);
    CHECK(my == doctest::Approx(10).epsilon(0.003));
    CHECK(vy == doctest::Approx(9).epsilon(0.02));
  }
  SUBCASE("integers: every value equally often (chi-square), both ends, any dtype") {
    const std::vector<double> x = doubles(g.integers(-5, 7, {n}, make_dtype(scalar_kind::int16)));
    std::map<int, index_t> counts;
    for (double e : x) ++counts[static_cast<int>(e)];
    REQUIRE(counts.size() == 12);
    CHECK(counts.begin()->first == -5);
    CHECK(counts.rbegin()->first == 6);
    double chi2 = 0;
    const double e = static_cast<double>(n) / 12;
    for (const auto& [value, c] : counts)
      chi2 += (static_cast<double>(c) - e) * (static_cast<double>(c) - e) / e;
    CHECK(chi2 < 24.7);  // 11 degrees of freedom, the 1 % level
    const std::vector<double> b =
        doubles(g.integers(0, 1, {1000}, make_dtype(scalar_kind::bool_), {}, true));
    CHECK(std::count(b.begin(), b.end(), 1.0) > 400);
    CHECK(std::count(b.begin(), b.end(), 0.0) > 400);
    const std::vector<double> one = doubles(g.integers(7, 8, {100}));
    CHECK(std::all_of(one.begin(), one.end(), [](double v) { return v == 7; }));
  }
  SUBCASE("poisson below and above lambda = 10") {
    for (double lam : {0.0, 0.5, 3.5, 9.99, 10.0, 250.0, 1e6}) {
      CAPTURE(lam);
      const std::vector<double> x = doubles(g.poisson(lam, {n / 4}));
      const auto [m, v] = mean_var(x);
      CHECK(*std::min_element(x.begin(), x.end()) >= 0);
      if (lam == 0) {
        CHECK(m == 0);
        continue;
      }
      const double se = std::sqrt(lam / static_cast<double>(n / 4));
      CHECK(std::abs(m - lam) < 5 * se);
      CHECK(v == doctest::Approx(lam).epsilon(0.03));
    }
  }
}

TEST_CASE("random arrays store to Zarr and plan under the budget without holding anything") {
  test::temp_dir dir;
  const array a = random(9).normal(0, 1, {300, 1000}, f4, {64, 256});
  store(rechunk(a, {100, 100}), (dir.path() / "n.zarr").string());
  CHECK(bytes_of(open(dir.path() / "n.zarr")) == bytes_of(a));
  // 10^12 elements plan and reduce a slice reading nothing else.
  const array huge = random(9).random({1'000'000, 1'000'000});
  CHECK(compute<double>(mean(huge({range(5, 6), range(0, 1000)})))() ==
        doctest::Approx(0.5).epsilon(0.1));
}

TEST_CASE("bad random arguments are refused when built, naming the distribution") {
  const random_generator g(1);
  CHECK_THROWS_WITH_AS(g.normal(0, -1, {3}), doctest::Contains("random.normal"), value_error);
  CHECK_THROWS_AS(g.normal(0, NAN, {3}), value_error);
  CHECK_THROWS_AS(g.uniform(0, INFINITY, {3}), value_error);
  CHECK_THROWS_AS(g.random({3}, i8), type_error);
  CHECK_THROWS_AS(g.integers(0, 3, {3}, f8), type_error);
  CHECK_THROWS_WITH_AS(g.integers(5, 5, {3}), doctest::Contains("low >= high"), value_error);
  CHECK_THROWS_AS(g.integers(0, 300, {3}, make_dtype(scalar_kind::uint8)), value_error);
  CHECK_THROWS_AS(g.integers(-1, 3, {3}, make_dtype(scalar_kind::uint16)), value_error);
  CHECK_THROWS_AS(g.poisson(-1, {3}), value_error);
  CHECK_THROWS_AS(g.poisson(NAN, {3}), value_error);
  CHECK_THROWS_AS(g.random({-1}), shape_error);
  CHECK_THROWS_AS(g.random({3, 4}, f8, {2}), shape_error);
  CHECK_THROWS_AS(g.random({index_t{1} << 62, 8}), shape_error);
}
