// Random arrays whose values do not depend on chunking, threads or machine.
//
// Each element is a function of (seed, distribution, its flat C-order index) alone: a
// counter-based generator (Random123's Philox4x32-10) keyed by the seed, its counter the
// element's index. The same seed gives the same values for any chunk shape, thread count,
// memory budget or slice of the array (dask's RandomState and Generator change with the
// chunks; these do not), and nothing is held: a chunk's values are computed where it is read.
//
// Element i of a distribution d draws its 32-bit words from
//   philox4x32_10(counter = {i mod 2^32, i div 2^32, n, d}, key = {seed mod 2^32, seed div 2^32})
// for n = 0, 1, … (four words per n, used in order); d is 0 for uniform and random, 1 for
// normal and standard_normal, 2 for integers, 3 for poisson. A float64 uniform is
// (w0 · 2^32 + w1) >> 11 times 2^-53; a float32 one is w0 >> 8 times 2^-24. A normal is
// Box–Muller's sqrt(-2 ln(1 - u0)) cos(2π u1) over the first two float64 uniforms. Integers
// in [low, high) take Lemire's multiply-and-reject over 64-bit words (w0 · 2^32 + w1, then
// the next two); poisson follows NumPy's: products of uniforms below λ = 10, Hörmann's PTRS
// at and above it. Two arrays of one seed and distribution agree wherever their flat indices
// do; for independent arrays use independent seeds.
#pragma once

#include <cstdint>

#include "chunkarr/expr/array.hpp"

namespace chunkarr {

/// NumPy Generator-like factory of random arrays (see above). Cheap to copy.
class random_generator {
 public:
  explicit random_generator(std::uint64_t seed) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }

  /// Uniform in [0, 1): float64 or float32.
  array random(shape_t shape, chunkarr::dtype t = make_dtype(scalar_kind::float64),
               shape_t chunk_shape = {}) const;
  /// low + (high - low) · u, u uniform in [0, 1) (rounding may reach `high`, as in NumPy).
  array uniform(double low, double high, shape_t shape,
                chunkarr::dtype t = make_dtype(scalar_kind::float64),
                shape_t chunk_shape = {}) const;
  array standard_normal(shape_t shape, chunkarr::dtype t = make_dtype(scalar_kind::float64),
                        shape_t chunk_shape = {}) const;
  /// loc + scale · standard normal; scale ≥ 0.
  array normal(double loc, double scale, shape_t shape,
               chunkarr::dtype t = make_dtype(scalar_kind::float64),
               shape_t chunk_shape = {}) const;
  /// Integers in [low, high) ([low, high] when `endpoint`), each value equally likely; the
  /// bounds must fit the integer (or bool) dtype `t`.
  array integers(std::int64_t low, std::int64_t high, shape_t shape,
                 chunkarr::dtype t = make_dtype(scalar_kind::int64), shape_t chunk_shape = {},
                 bool endpoint = false) const;
  /// Poisson counts of mean `lam` (0 ≤ lam ≤ 10^15), int64.
  array poisson(double lam, shape_t shape, shape_t chunk_shape = {}) const;

 private:
  std::uint64_t seed_;
};

/// random(seed).normal(0, 1, {1000, 1000}): a generator of seed `seed`.
inline random_generator random(std::uint64_t seed) {
  return random_generator(seed);
}

}  // namespace chunkarr
