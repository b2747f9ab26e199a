// Exact sums (internal): what makes sum, mean, var and std independent of the chunking.
//
// Floating-point addition is not associative, so a sum accumulated in double depends on how
// the values are grouped — by chunk, by task, by lane. These sums are exact instead: every
// value goes into a fixed-point integer wide enough for its type (`fixed_sum`), which is
// rounded once at the end, so the result is a function of the values alone. Adding one value
// at a time to a wide integer is slow; the kernels below add at streaming speed by splitting
// each group of up to 256 values at fixed bit boundaries chosen from the group's largest
// magnitude (Demmel and Nguyen's extraction, as ReproBLAS does it): `q = (σ + x) − σ` is x
// rounded to a multiple of ulp(σ), exactly, and up to 256 such parts sum exactly in double.
// One or two such folds capture every bit of every value of ordinary data; the few values
// with bits left below the last fold (a remainder not zero) are added one by one. Sums of
// squares use x·x where that is exact in double and an exact product split (Dekker) where
// it is not. The grouping of values into folds changes nothing but speed: every path adds
// the same exact total. This file is compiled with -ffp-contract=off: a fused multiply-add
// would change the splits.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "chunkarr/core/index.hpp"

namespace chunkarr::detail::exact {

__extension__ typedef unsigned __int128 u128;  // GCC's and Clang's; the carries of the limbs

/// A finite non-zero double as ±m · 2^pos units of 2^lo (pos ≥ 0; d a multiple of 2^lo):
/// the words m · 2^(pos mod 64) at limb pos / 64 and the next.
struct placed {
  int limb;
  std::uint64_t lo, hi;
  bool negative;
};
inline placed place(double d, int lo) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(d);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  std::uint64_t m = bits & ((std::uint64_t{1} << 52) - 1);
  int e = -1074;
  if (biased != 0) {
    m |= std::uint64_t{1} << 52;
    e = biased - 1075;
  }
  int pos = e - lo;
  if (pos < 0) {  // the low bits are zero: d is a multiple of 2^lo
    m = -pos < 64 ? m >> -pos : 0;
    pos = 0;
  }
  const u128 v = static_cast<u128>(m) << (pos & 63);
  return {pos >> 6, static_cast<std::uint64_t>(v), static_cast<std::uint64_t>(v >> 64),
          (bits >> 63) != 0};
}

/// A two's-complement integer of n limbs, counting units of 2^lo, rounded to the nearest
/// double (ties to even; ±inf beyond the range).
inline double round_limbs(const std::uint64_t* limb, int n, int lo) {
  std::uint64_t mag[64];
  const bool negative = limb[n - 1] >> 63;
  unsigned carry = negative ? 1 : 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t w = negative ? ~limb[i] : limb[i];
    mag[i] = w + carry;
    carry = carry && mag[i] == 0;
  }
  int t = n - 1;
  while (t >= 0 && mag[t] == 0) --t;
  if (t < 0) return 0.0;
  const int top = t * 64 + 63 - std::countl_zero(mag[t]);  // the highest set bit
  double r;
  if (top < 53) {
    r = std::ldexp(static_cast<double>(mag[0]), lo);  // exact
  } else {
    const int low = top - 63;  // bits [low, top] as a 64-bit mantissa
    const int w = low >> 6, off = low & 63;
    std::uint64_t m64 = mag[w] >> off;
    if (off) m64 |= mag[w + 1] << (64 - off);
    bool sticky = off && (mag[w] & ((std::uint64_t{1} << off) - 1));
    for (int i = 0; i < w && !sticky; ++i) sticky = mag[i] != 0;
    std::uint64_t m53 = m64 >> 11;
    const std::uint64_t rest = m64 & 0x7ff;
    if (rest > 0x400 || (rest == 0x400 && (sticky || (m53 & 1)))) ++m53;
    r = std::ldexp(static_cast<double>(m53), low + 11 + lo);
  }
  return negative ? -r : r;
}

/// An exact sum of doubles that are multiples of 2^Lo: a two's-complement integer of
/// `Limbs` 64-bit limbs counting units of 2^Lo, wide enough for 2^63 values of the type.
template <int Lo, int Limbs>
struct fixed_sum {
  std::uint64_t limb[Limbs];

  void clear() {
    for (std::uint64_t& l : limb) l = 0;
  }

  /// Adds a finite double that is a multiple of 2^Lo, exactly.
  void add(double d) {
    if (d == 0) return;
    const placed p = place(d, Lo);
    if (p.negative)
      sub_at(p.limb, p.lo, p.hi);
    else
      add_at(p.limb, p.lo, p.hi);
  }

  void add(const fixed_sum& o) {
    unsigned carry = 0;
    for (int i = 0; i < Limbs; ++i) {
      const u128 s = static_cast<u128>(limb[i]) + o.limb[i] + carry;
      limb[i] = static_cast<std::uint64_t>(s);
      carry = static_cast<unsigned>(s >> 64);
    }
  }

  /// The sum rounded to the nearest double (ties to even; ±inf beyond the range).
  double rounded() const { return round_limbs(limb, Limbs, Lo); }

 private:
  void add_at(int i, std::uint64_t lo, std::uint64_t hi) {
    u128 s = static_cast<u128>(limb[i]) + lo;
    limb[i] = static_cast<std::uint64_t>(s);
    s = static_cast<u128>(limb[i + 1]) + hi + static_cast<std::uint64_t>(s >> 64);
    limb[i + 1] = static_cast<std::uint64_t>(s);
    bool carry = (s >> 64) != 0;
    for (int j = i + 2; carry && j < Limbs; ++j) carry = ++limb[j] == 0;
  }
  void sub_at(int i, std::uint64_t lo, std::uint64_t hi) {
    const bool b0 = limb[i] < lo;
    limb[i] -= lo;
    const std::uint64_t next = limb[i + 1];
    limb[i + 1] = next - hi - b0;
    bool borrow = next < hi || (next == hi && b0);
    for (int j = i + 2; borrow && j < Limbs; ++j) borrow = limb[j]-- == 0;
  }
};

/// A sum of doubles that are multiples of 2^Lo in W limbs that move: the W limbs of the
/// full-range integer (fixed_sum's) from limb `base` up, placed where the sum's bits are.
/// It is exact, so identical to a fixed_sum, while the bits of one sum's values span at most
/// 64·(W − 2) − 63 (alignment) − 63 (count) bits: with W = 9, 322 bits, so doubles within
/// 2^269 (10^81) of each other, and for squares doubles within 2^108 (10^32). Wider, the bits
/// that fall below the window are rounded away (`lossy`): still far more accurate than a
/// double accumulation, deterministic for a given chunking, but no longer the same for
/// every chunking. A double's fixed sum is 35 limbs, 280 bytes per output element; this is
/// 80.
template <int Lo, int W>
struct window_sum {
  std::uint64_t limb[W];
  std::int32_t base;
  std::uint32_t lossy;

  void clear() {
    for (std::uint64_t& l : limb) l = 0;
    base = 0;
    lossy = 0;
  }

  void add(double d) {
    if (d == 0) return;
    const placed p = place(d, Lo);
    add_words(p.limb, p.lo, p.hi, p.negative);
  }

  void add(const window_sum& o) {
    lossy |= o.lossy;
    // o is its limbs up to the highest that is not all sign, less 2^(64(h + 1)) if negative.
    const std::uint64_t sign = o.sign();
    int h = W - 1;
    while (h >= 0 && o.limb[h] == sign) --h;
    for (int k = 0; k <= h; ++k) {
      if (o.limb[k]) add_words(o.base + k, o.limb[k], 0, false);
    }
    if (sign) add_words(o.base + h + 1, 1, 0, true);
  }

  double rounded() const { return round_limbs(limb, W, Lo + 64 * base); }

 private:
  std::uint64_t sign() const {
    return static_cast<std::int64_t>(limb[W - 1]) < 0 ? ~std::uint64_t{0} : 0;
  }
  bool zero() const {
    for (const std::uint64_t l : limb) {
      if (l) return false;
    }
    return true;
  }

  // Moves the window so that it holds limbs [lo, hi] of the full integer and what it holds
  // now, or as much of that from the top as W limbs can.
  void cover(int lo, int hi) {
    if (lo >= base && hi <= base + W - 1) return;
    if (zero()) {
      base = std::max(0, hi - (W - 1));
      return;
    }
    const std::uint64_t sign = this->sign();
    int l0 = 0, h0 = W - 1;
    while (limb[l0] == 0) ++l0;
    while (h0 >= 0 && limb[h0] == sign) --h0;
    const int need_lo = std::min(base + l0, lo), need_hi = std::max(base + h0 + 1, hi);
    const int nb = std::max(0, need_hi - (W - 1));
    if (nb > need_lo) lossy = 1;
    const int shift = nb - base;
    std::uint64_t out[W];
    for (int k = 0; k < W; ++k) {
      const int from = k + shift;
      out[k] = from < 0 ? 0 : from >= W ? sign : limb[from];
    }
    // Bits dropped below the new window round to nearest (ties up).
    const int dropped_top = shift - 1;
    const bool round_up =
        dropped_top >= 0 && ((dropped_top < W ? limb[dropped_top] : sign) >> 63) != 0;
    for (int k = 0; k < W; ++k) limb[k] = out[k];
    base = nb;
    if (round_up) add_local(0, 1);
  }

  // Adds ±(lo + hi · 2^64) · 2^(64g): the sum may need one limb more than the value.
  void add_words(int g, std::uint64_t lo, std::uint64_t hi, bool negative) {
    cover(g, g + (hi ? 2 : 1));
    int k = g - base;
    bool round_up = false;
    if (k < 0) {  // the window could not reach down: the value's low words are dropped
      lossy = 1;
      round_up = ((k == -1 ? lo : k == -2 ? hi : 0) >> 63) != 0;
      lo = k == -1 ? hi : 0;
      hi = 0;
      k = 0;
    }
    if (negative) {
      sub_local(k, lo);
      if (hi) sub_local(k + 1, hi);
      if (round_up) sub_local(0, 1);
    } else {
      add_local(k, lo);
      if (hi) add_local(k + 1, hi);
      if (round_up) add_local(0, 1);
    }
  }
  void add_local(int k, std::uint64_t w) {
    const std::uint64_t before = limb[k];
    limb[k] += w;
    bool carry = limb[k] < before;
    for (int j = k + 1; carry && j < W; ++j) carry = ++limb[j] == 0;
  }
  void sub_local(int k, std::uint64_t w) {
    bool borrow = limb[k] < w;
    limb[k] -= w;
    for (int j = k + 1; borrow && j < W; ++j) borrow = limb[j]-- == 0;
  }
};

/// A double-double: hi + lo, |lo| ≤ ulp(hi)/2.
struct dd {
  double hi = 0, lo = 0;
};

inline dd two_sum(double a, double b) {
  const double s = a + b, bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
inline dd quick_two_sum(double a, double b) {
  const double s = a + b;
  return {s, b - (s - a)};
}
inline dd two_prod(double a, double b) {
  const double p = a * b;
  return {p, std::fma(a, b, -p)};
}
inline dd dd_mul(dd a, dd b) {
  dd p = two_prod(a.hi, b.hi);
  p.lo += a.hi * b.lo + a.lo * b.hi;
  return quick_two_sum(p.hi, p.lo);
}
inline dd dd_sub(dd a, dd b) {
  dd s = two_sum(a.hi, -b.hi);
  s.lo += a.lo - b.lo;
  return quick_two_sum(s.hi, s.lo);
}
inline dd dd_div(dd a, double d) {
  const double q1 = a.hi / d;
  const dd r = dd_sub(a, two_prod(q1, d));
  return quick_two_sum(q1, r.hi / d);
}

/// A fixed sum as a double-double: the sum rounded, and the rest rounded.
template <class Sum>
dd to_dd(const Sum& s) {
  const double hi = s.rounded();
  if (!std::isfinite(hi)) return {hi, 0.0};
  Sum rest = s;
  rest.add(-hi);
  return {hi, rest.rounded()};
}

// ---- the types' ranges ---------------------------------------------------------------------

/// Where the values of T and their squares lie: the exact sums' least bits and widths.
template <class T>
struct traits {
  static constexpr bool floating = std::is_floating_point_v<T>;
  // Values with more than 45 significant bits (doubles, 64-bit integers) need two folds.
  static constexpr bool wide = sizeof(T) == 8;
  static constexpr int sum_folds = wide ? 2 : 1;
  // x·x is exact in double for floats and integers of up to 26 bits; wider ones are split.
  static constexpr bool split_square = sizeof(T) >= 4 && !std::is_same_v<T, float>;
  // Least bit and limbs: float 2^-149 up to 2^(128+63); double 2^-1074 up to 2^(1024+63);
  // integers 1 up to 2^(64+63) (64-bit integers, as doubles); squares likewise.
  static constexpr int sum_lo = std::is_same_v<T, float> ? -149 : floating ? -1074 : 0;
  static constexpr int sum_limbs = std::is_same_v<T, float> ? 6 : floating ? 35 : 3;
  static constexpr int sq_lo = std::is_same_v<T, float> ? -298 : floating ? -1074 : 0;
  static constexpr int sq_limbs = std::is_same_v<T, float> ? 11 : floating ? 35 : 4;
  using sum_type = fixed_sum<sum_lo, sum_limbs>;
  using sq_type = fixed_sum<sq_lo, sq_limbs>;
};

// ---- the folds -----------------------------------------------------------------------------

constexpr int group = 256;  // values per fold: up to 256 parts below 2^e sum exactly
constexpr double dmax = std::numeric_limits<double>::max();

/// The exponent field E of a bound m ≥ |x| (at least 1): every |x| < 2^(E − 1022).
inline int bound_field(double m) {
  const int e = static_cast<int>(std::bit_cast<std::uint64_t>(m) >> 52) & 0x7ff;
  return e ? e : 1;
}
/// σ of fold k for values below 2^(E − 1022): 1.5 · 2^(E − 1015 − 46k), so the parts are
/// multiples of 2^(E − 1067 − 46k) and the remainder below half that.
inline double sigma(int E, int k) {
  const int field = std::max(1, E + 8 - 46 * k);
  return std::bit_cast<double>((static_cast<std::uint64_t>(field) << 52) |
                               (std::uint64_t{1} << 51));
}
inline bool sigma_ok(int E, int folds) {
  return E + 8 <= 2046 && E + 8 - 46 * (folds - 1) >= 1;
}

/// Flags of the values that are not finite.
enum flag : std::uint32_t { has_nan = 1, has_pos_inf = 2, has_neg_inf = 4, square_overflow = 8 };

/// The running sums of one output element: Σx, Σx² (when `Squares`), how many values were
/// added, and which non-finite ones were seen.
template <class T, bool Squares, bool Compact = false>
struct sums {
  using tr = traits<T>;
  struct none {};
  // Doubles' sums in a window (80 bytes) when `Compact`, else in the full range (280 bytes).
  using sum_type = std::conditional_t<std::is_same_v<T, double> && Compact,
                                      window_sum<tr::sum_lo, 9>, typename tr::sum_type>;
  using sq_type = std::conditional_t<std::is_same_v<T, double> && Compact, window_sum<tr::sq_lo, 9>,
                                     typename tr::sq_type>;
  sum_type s1;
  [[no_unique_address]] std::conditional_t<Squares, sq_type, none> s2;
  std::int64_t count;
  std::uint32_t flags;

  void clear() {
    s1.clear();
    if constexpr (Squares) s2.clear();
    count = 0;
    flags = 0;
  }
  void add(const sums& o) {
    s1.add(o.s1);
    if constexpr (Squares) s2.add(o.s2);
    count += o.count;
    flags |= o.flags;
  }
};

/// The terms a finite value contributes: x, and for squares x·x, or its exact split p + e.
template <class T, bool Squares>
struct terms {
  static constexpr int split = Squares && traits<T>::split_square;
  static constexpr int count = Squares ? 2 + split : 1;
  static constexpr int folds[3] = {traits<T>::sum_folds, 2, 2};

  static void of(double x, double (&t)[count]) {
    t[0] = x;
    if constexpr (Squares) {
      const double p = x * x;
      t[1] = p;
      if constexpr (split) {
        constexpr double splitter = 134217729.0;  // 2^27 + 1
        const double c = splitter * x, hi = c - (c - x), lo = x - hi;
        t[2] = ((hi * hi - p) + 2 * hi * lo) + lo * lo;
      }
    }
  }
  /// Exponent bounds of the terms from m = max |x|; false when a square overflows.
  static bool bounds(double m, int (&E)[count]) {
    E[0] = bound_field(m);
    if constexpr (Squares) {
      const double mm = m * m;
      if (!(mm <= dmax)) return false;
      E[1] = bound_field(mm);
      if constexpr (split) E[2] = std::max(1, E[1] - 53);
    }
    return true;
  }
  static bool folds_ok(const int (&E)[count]) {
    for (int s = 0; s < count; ++s) {
      if (!sigma_ok(E[s], folds[s])) return false;
    }
    return true;
  }
};

/// Adds a term to the sums of its stream: x to Σx, the others to Σx².
template <bool Squares, class Sums>
void add_to(Sums& into, int stream, double value) {
  if (stream == 0) {
    into.s1.add(value);
  } else if constexpr (Squares) {
    into.s2.add(value);
  }
}

/// Adds the terms of a finite x from stream S0 on, exactly, one by one: the slow path, for
/// values of extreme magnitude.
template <class T, bool Squares, int S0, class Sums>
void add_exactly(Sums& into, double x) {
  using tm = terms<T, Squares>;
  double t[tm::count];
  tm::of(x, t);
  if (Squares && !(std::fabs(t[1]) <= dmax)) {
    into.flags |= square_overflow;  // var is +inf then: Σx² is not needed
    if (S0 == 0) into.s1.add(t[0]);
    return;
  }
  for (int s = S0; s < tm::count; ++s) add_to<Squares>(into, s, t[s]);
}

/// Adds one value, exactly.
template <class T, bool Squares, bool SkipNan, class Sums>
void add_one(Sums& into, T value) {
  const double x = static_cast<double>(value);
  if (!(std::fabs(x) <= dmax)) {
    if (std::isnan(x)) {
      into.flags |= has_nan;
      if (SkipNan) return;
    } else {
      into.flags |= x > 0 ? has_pos_inf : has_neg_inf;
    }
    ++into.count;
    return;
  }
  ++into.count;
  add_exactly<T, Squares, 0>(into, x);
}

// ---- pass 1 for floats (exact_sum.cpp: compiled for AVX2 too) ----------------------------------

/// A block of floats: their plain sum in double (exact when their magnitudes span at most 21
/// binades: `plain_exact`), and the largest and least non-zero magnitude as bit patterns
/// (the largest is 0x7f800000 or more when a value is not finite; the least 0 when all are 0).
void measure_floats(const float* v, int n, double& sum, std::uint32_t& max_bits,
                    std::uint32_t& min_bits);
/// The same per column j < w of rows[0, R), starting at column j0.
void measure_float_columns(const float* const* rows, int R, index_t j0, int w, double* sum,
                           std::uint32_t* max_bits, std::uint32_t* min_bits);

inline bool plain_exact(std::uint32_t max_bits, std::uint32_t min_bits) {
  const int emax = std::max(1, static_cast<int>(max_bits >> 23));
  const int emin = std::max(1, static_cast<int>(min_bits >> 23));
  return emax - emin <= 21;  // 256 values below 2^(emax-126), multiples of 2^(emin-150)
}

// ---- the folds of a block ---------------------------------------------------------------------

/// Adds the terms from stream S0 on of the m values at v[i·stride] (their largest finite
/// magnitude mx > 0; `bad` when some are not finite, which count as 0 here) through folds.
template <class T, bool Squares, int S0, class Sums>
void fold_block(Sums& into, const T* v, int m, index_t stride, double mx, bool bad) {
  using tm = terms<T, Squares>;
  constexpr int S = tm::count, L = 8;
  const auto value = [&](int i) {
    const double x = static_cast<double>(v[i * stride]);
    return bad && !(std::fabs(x) <= dmax) ? 0.0 : x;
  };
  int E[S];
  if (!tm::bounds(mx, E) || !tm::folds_ok(E)) {  // extreme magnitudes: one value at a time
    for (int i = 0; i < m; ++i) add_exactly<T, Squares, S0>(into, value(i));
    return;
  }
  double sg[S][2];
  for (int s = 0; s < S; ++s) sg[s][0] = sigma(E[s], 0), sg[s][1] = sigma(E[s], 1);
  double f[S][2][L] = {}, rm[S][L] = {};
  const auto fold = [&](int at, int l) {
    double t[S];
    tm::of(value(at), t);
    for (int s = S0; s < S; ++s) {
      double r = t[s];
      for (int k = 0; k < tm::folds[s]; ++k) {
        const double q = (sg[s][k] + r) - sg[s][k];
        f[s][k][l] += q;
        r -= q;
      }
      rm[s][l] = std::max(rm[s][l], std::fabs(r));
    }
  };
  int i = 0;
  for (; i + L <= m; i += L) {
    for (int l = 0; l < L; ++l) fold(i + l, l);
  }
  for (; i < m; ++i) fold(i, 0);
  for (int s = S0; s < S; ++s) {
    for (int k = 0; k < tm::folds[s]; ++k) {
      const double* p = f[s][k];
      add_to<Squares>(into, s, ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])));
    }
    double r = rm[s][0];
    for (int l = 1; l < L; ++l) r = std::max(r, rm[s][l]);
    if (r == 0) continue;
    for (int j = 0; j < m; ++j) {  // rare: the bits below the last fold, one value at a time
      double t[S];
      tm::of(value(j), t);
      double rest = t[s];
      for (int k = 0; k < tm::folds[s]; ++k) rest -= (sg[s][k] + rest) - sg[s][k];
      add_to<Squares>(into, s, rest);
    }
  }
}

/// Flags and counts the m values at(i) that are not finite.
template <class T, bool Squares, bool SkipNan, class Sums, class At>
void note_special(Sums& into, int m, At at) {
  for (int i = 0; i < m; ++i) {
    const double x = at(i);
    if (std::isnan(x)) {
      into.flags |= has_nan;
      into.count -= SkipNan;
    } else if (std::isinf(x)) {
      into.flags |= x > 0 ? has_pos_inf : has_neg_inf;
    }
  }
}

/// Adds m ≤ `group` values at v[i·stride] to one element's sums, whatever they are.
template <class T, bool Squares, bool SkipNan, class Sums>
void add_block(Sums& into, const T* v, int m, index_t stride) {
  double mx = 0;
  bool bad = false;
  for (int i = 0; i < m; ++i) {
    const double a = std::fabs(static_cast<double>(v[i * stride]));
    if (a <= dmax)
      mx = std::max(mx, a);
    else
      bad = true;
  }
  if (bad) {
    note_special<T, Squares, SkipNan>(into, m,
                                      [&](int i) { return static_cast<double>(v[i * stride]); });
  }
  into.count += m;
  if (mx != 0) fold_block<T, Squares, 0>(into, v, m, stride, mx, bad);
}

// ---- rows and columns -------------------------------------------------------------------------

/// Values whose sums (and squares', for 8- and 16-bit ones) are exact in double, 256 at a time.
template <class T>
constexpr bool small_integer = !std::is_floating_point_v<T> && sizeof(T) <= 4;

/// Adds values[0, n) to one element's sums, `group` values at a time.
template <class T, bool Squares, bool SkipNan, class Sums>
void add_row(Sums& into, const T* values, index_t n) {
  constexpr int L = 8;
  for (index_t b0 = 0; b0 < n; b0 += group) {
    const T* v = values + b0;
    const int m = static_cast<int>(std::min<index_t>(group, n - b0));
    if constexpr (std::is_same_v<T, float>) {
      double sum;
      std::uint32_t max_bits, min_bits;
      measure_floats(v, m, sum, max_bits, min_bits);
      if (max_bits < 0x7f800000u) {
        into.count += m;
        if (max_bits == 0) continue;
        const double mx = std::bit_cast<float>(max_bits);
        if (plain_exact(max_bits, min_bits)) {
          into.s1.add(sum);
          if constexpr (Squares) fold_block<T, Squares, 1>(into, v, m, 1, mx, false);
        } else {
          fold_block<T, Squares, 0>(into, v, m, 1, mx, false);
        }
        continue;
      }
    } else if constexpr (small_integer<T>) {
      double s1[L] = {}, s2[L] = {}, mx[L] = {};
      const auto take = [&](int at, int l) {
        const double x = static_cast<double>(v[at]);
        s1[l] += x;
        if constexpr (Squares && sizeof(T) <= 2) s2[l] += x * x;
        if constexpr (Squares && sizeof(T) == 4) mx[l] = std::max(mx[l], std::fabs(x));
      };
      int i = 0;
      for (; i + L <= m; i += L) {
        for (int l = 0; l < L; ++l) take(i + l, l);
      }
      for (; i < m; ++i) take(i, 0);
      const auto total = [](const double* p) {
        return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
      };
      into.count += m;
      into.s1.add(total(s1));
      if constexpr (Squares && sizeof(T) <= 2) into.s2.add(total(s2));
      if constexpr (Squares && sizeof(T) == 4) {
        for (int l = 1; l < L; ++l) mx[0] = std::max(mx[0], mx[l]);
        if (mx[0] != 0) fold_block<T, Squares, 1>(into, v, m, 1, mx[0], false);
      }
      continue;
    }
    add_block<T, Squares, SkipNan>(into, v, m, 1);
  }
}

/// Adds, from stream S0 on, column j0 + j (j < w) of rows[0, R) (R ≤ `group`) to into[j],
/// folding across columns, each with its own σ from its largest finite magnitude mx[j];
/// `bad[j]` when the column has values that are not finite (they count as 0 here).
template <class T, bool Squares, int S0, class Sums>
void fold_columns(Sums* into, const T* const* rows, int R, index_t j0, int w, const double* mx,
                  const int* bad) {
  using tm = terms<T, Squares>;
  constexpr int S = tm::count, W = 256;
  bool any_bad = false;
  bool ok[W];
  double sg[S][2][W];
  for (int j = 0; j < w; ++j) {
    any_bad |= bad[j] != 0;
    int e[S];
    ok[j] = tm::bounds(mx[j], e) && tm::folds_ok(e);
    for (int s = 0; s < S; ++s) {
      sg[s][0][j] = sigma(ok[j] ? e[s] : 1023, 0);
      sg[s][1][j] = sigma(ok[j] ? e[s] : 1023, 1);
    }
  }
  double f[S][2][W] = {}, rm[S][W] = {};
  for (int r = 0; r < R; ++r) {
    const T* p = rows[r] + j0;
    for (int j = 0; j < w; ++j) {
      double x = static_cast<double>(p[j]);
      if (any_bad && !(std::fabs(x) <= dmax)) x = 0;
      double t[S];
      tm::of(x, t);
      for (int s = S0; s < S; ++s) {
        double rest = t[s];
        for (int k = 0; k < tm::folds[s]; ++k) {
          const double q = (sg[s][k][j] + rest) - sg[s][k][j];
          f[s][k][j] += q;
          rest -= q;
        }
        rm[s][j] = std::max(rm[s][j], std::fabs(rest));
      }
    }
  }
  for (int j = 0; j < w; ++j) {
    Sums& st = into[j];
    if (mx[j] == 0) continue;
    const auto value = [&](int r) {
      const double x = static_cast<double>(rows[r][j0 + j]);
      return bad[j] && !(std::fabs(x) <= dmax) ? 0.0 : x;
    };
    if (!ok[j]) {  // extreme magnitudes: one value at a time
      for (int r = 0; r < R; ++r) add_exactly<T, Squares, S0>(st, value(r));
      continue;
    }
    for (int s = S0; s < S; ++s) {
      for (int k = 0; k < tm::folds[s]; ++k) add_to<Squares>(st, s, f[s][k][j]);
      if (rm[s][j] == 0) continue;
      for (int r = 0; r < R; ++r) {  // rare: the bits below the last fold
        double t[S];
        tm::of(value(r), t);
        double rest = t[s];
        for (int k = 0; k < tm::folds[s]; ++k) rest -= (sg[s][k][j] + rest) - sg[s][k][j];
        add_to<Squares>(st, s, rest);
      }
    }
  }
}

/// Adds rows[0, R) (R ≤ `group`), each of `n` values, column j to element into[j].
template <class T, bool Squares, bool SkipNan, class Sums>
void add_columns(Sums* into, const T* const* rows, int R, index_t n) {
  constexpr int W = 256;
  double mx[W], sum[W];
  int bad[W];
  // Floats are measured row by row across all columns first: the rows stream through once
  // (a tile of columns at a time would touch a page per row per tile).
  thread_local std::vector<double> float_sums;
  thread_local std::vector<std::uint32_t> float_max, float_min;
  if constexpr (std::is_same_v<T, float>) {
    float_sums.resize(static_cast<std::size_t>(n));
    float_max.resize(static_cast<std::size_t>(n));
    float_min.resize(static_cast<std::size_t>(n));
    measure_float_columns(rows, R, 0, static_cast<int>(n), float_sums.data(), float_max.data(),
                          float_min.data());
  }
  for (index_t j0 = 0; j0 < n; j0 += W) {
    const int w = static_cast<int>(std::min<index_t>(W, n - j0));
    Sums* st = into + j0;
    for (int j = 0; j < w; ++j) st[j].count += R;
    if constexpr (std::is_same_v<T, float>) {
      const double* sum_of = float_sums.data() + j0;
      const std::uint32_t* max_bits = float_max.data() + j0;
      const std::uint32_t* min_bits = float_min.data() + j0;
      bool all_plain = true, any_bad = false;
      for (int j = 0; j < w; ++j) {
        bad[j] = max_bits[j] >= 0x7f800000u;
        any_bad |= bad[j] != 0;
        all_plain &= !bad[j] && plain_exact(max_bits[j], min_bits[j]);
        mx[j] = bad[j] ? 0.0 : std::bit_cast<float>(max_bits[j]);
      }
      if (all_plain) {
        for (int j = 0; j < w; ++j) st[j].s1.add(sum_of[j]);
        if constexpr (Squares) fold_columns<T, Squares, 1>(st, rows, R, j0, w, mx, bad);
        continue;
      }
      if (any_bad) {  // the largest finite magnitudes, the non-finite values noted
        for (int j = 0; j < w; ++j) {
          if (!bad[j]) continue;
          mx[j] = 0;
          for (int r = 0; r < R; ++r) {
            const double a = std::fabs(static_cast<double>(rows[r][j0 + j]));
            if (a <= dmax) mx[j] = std::max(mx[j], a);
          }
          note_special<T, Squares, SkipNan>(
              st[j], R, [&](int r) { return static_cast<double>(rows[r][j0 + j]); });
        }
      }
      fold_columns<T, Squares, 0>(st, rows, R, j0, w, mx, bad);
    } else if constexpr (small_integer<T>) {
      double sq[W];
      for (int j = 0; j < w; ++j) sum[j] = sq[j] = mx[j] = 0, bad[j] = 0;
      for (int r = 0; r < R; ++r) {
        const T* p = rows[r] + j0;
        for (int j = 0; j < w; ++j) {
          const double x = static_cast<double>(p[j]);
          sum[j] += x;
          if constexpr (Squares && sizeof(T) <= 2) sq[j] += x * x;
          if constexpr (Squares && sizeof(T) == 4) mx[j] = std::max(mx[j], std::fabs(x));
        }
      }
      for (int j = 0; j < w; ++j) {
        st[j].s1.add(sum[j]);
        if constexpr (Squares && sizeof(T) <= 2) st[j].s2.add(sq[j]);
      }
      if constexpr (Squares && sizeof(T) == 4) {
        fold_columns<T, Squares, 1>(st, rows, R, j0, w, mx, bad);
      }
    } else {
      for (int j = 0; j < w; ++j) mx[j] = 0, bad[j] = 0;
      for (int r = 0; r < R; ++r) {
        const T* p = rows[r] + j0;
        for (int j = 0; j < w; ++j) {
          const double a = std::fabs(static_cast<double>(p[j]));
          const bool fin = a <= dmax;
          bad[j] += !fin;
          mx[j] = std::max(mx[j], fin ? a : 0.0);
        }
      }
      for (int j = 0; j < w; ++j) {
        if (!bad[j]) continue;
        note_special<T, Squares, SkipNan>(
            st[j], R, [&](int r) { return static_cast<double>(rows[r][j0 + j]); });
      }
      fold_columns<T, Squares, 0>(st, rows, R, j0, w, mx, bad);
    }
  }
}

}  // namespace chunkarr::detail::exact
