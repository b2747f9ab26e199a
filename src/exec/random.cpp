// The values of a random node over a box: each element drawn from Philox4x32-10 with its flat
// C-order index as the counter (the scheme chunkarr/expr/random.hpp documents), so a value
// never depends on the box it is computed in.
#include <Random123/philox.h>

#include <cmath>
#include <cstdint>

#include "exec/evaluate.hpp"

namespace chunkarr::detail {

namespace {

using philox = r123::Philox4x32;
__extension__ typedef unsigned __int128 uint128;  // GCC's and Clang's 128-bit product

// The words one element draws. Elements 2k and 2k + 1 share their first Philox call (counter
// {k, 0, d}): element 2k + j takes its words 2j and 2j + 1, then all four of each call with
// counter {k, n, d + 16 j}, n = 1, 2, … (as random.hpp documents).
class element_stream {
 public:
  element_stream(const philox::key_type& key, const philox::ctr_type& shared, std::uint64_t pair,
                 unsigned j, std::uint32_t what)
      : counter_{{static_cast<std::uint32_t>(pair), static_cast<std::uint32_t>(pair >> 32), 0,
                  what + 16 * j}},
        key_(key),
        words_(shared),
        used_(2 * j),
        end_(2 * j + 2) {}

  std::uint32_t next32() {
    if (used_ == end_) refill();
    return words_[used_++];
  }
  std::uint64_t next64() {
    const std::uint64_t high = next32();
    return high << 32 | next32();
  }
  double next_double() {
    return static_cast<double>(static_cast<std::int64_t>(next64() >> 11)) * 0x1p-53;
  }

 private:
  void refill() {
    ++counter_[2];
    words_ = philox()(counter_, key_);
    used_ = 0;
    end_ = 4;
  }

  philox::ctr_type counter_;
  philox::key_type key_;
  philox::ctr_type words_;
  unsigned used_, end_;
};

// Marsaglia and Tsang's ziggurat with 256 layers over 52-bit magnitudes (NumPy's layout),
// its tables computed once.
struct ziggurat {
  static constexpr double r = 3.6541528853610087963519472518;
  std::uint64_t k[256];
  double w[256], f[256];

  ziggurat() {
    const double m = 0x1p52;
    const double fr = std::exp(-0.5 * r * r);
    const double v = r * fr + std::sqrt(M_PI / 2) * std::erfc(r / std::sqrt(2.0));
    double dn = r, tn = r;
    const double q = v / fr;
    k[0] = static_cast<std::uint64_t>(dn / q * m);
    k[1] = 0;
    w[0] = q / m;
    w[255] = dn / m;
    f[0] = 1.0;
    f[255] = fr;
    for (int i = 254; i >= 1; --i) {
      dn = std::sqrt(-2.0 * std::log(v / dn + std::exp(-0.5 * dn * dn)));
      k[i + 1] = static_cast<std::uint64_t>(dn / tn * m);
      tn = dn;
      f[i] = std::exp(-0.5 * dn * dn);
      w[i] = dn / m;
    }
  }
};

const ziggurat& ziggurat_tables() {
  static const ziggurat tables;
  return tables;
}

double standard_normal(element_stream& s, const ziggurat& z) {
  while (true) {
    std::uint64_t bits = s.next64();
    const unsigned layer = bits & 0xff;
    bits >>= 8;
    const bool negative = bits & 1;
    const std::uint64_t magnitude = (bits >> 1) & 0x000fffffffffffff;
    double x = static_cast<double>(magnitude) * z.w[layer];
    if (negative) x = -x;
    if (magnitude < z.k[layer]) return x;  // inside the layer's rectangle: 99 % of draws
    if (layer == 0) {                      // the tail beyond r
      while (true) {
        const double xx = -std::log1p(-s.next_double()) / ziggurat::r;
        const double yy = -std::log1p(-s.next_double());
        if (yy + yy > xx * xx) return (magnitude >> 8) & 1 ? -(ziggurat::r + xx) : ziggurat::r + xx;
      }
    }
    if ((z.f[layer - 1] - z.f[layer]) * s.next_double() + z.f[layer] < std::exp(-0.5 * x * x))
      return x;
  }
}

// Lemire's nearly divisionless bounded integers: exactly uniform over `range` values.
std::int64_t integer_value(element_stream& s, const random_payload& p) {
  const std::uint64_t range = p.range;
  std::uint64_t x = s.next64();
  if (range == 0) return static_cast<std::int64_t>(static_cast<std::uint64_t>(p.low) + x);
  uint128 m = static_cast<uint128>(x) * range;
  auto low = static_cast<std::uint64_t>(m);
  if (low < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      x = s.next64();
      m = static_cast<uint128>(x) * range;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(p.low) +
                                   static_cast<std::uint64_t>(m >> 64));
}

double log_gamma(double x) {
  int sign = 0;
  return lgamma_r(x, &sign);  // lgamma writes the global signgam: not thread-safe
}

// NumPy's random_poisson: multiplication of uniforms below λ = 10, else Hörmann's PTRS
// (transformed rejection with squeeze, 1993).
std::int64_t poisson_value(element_stream& s, const random_payload& p) {
  const double lam = p.offset;
  if (lam == 0) return 0;
  if (lam < 10) {
    const double limit = std::exp(-lam);
    std::int64_t k = 0;
    double product = 1.0;
    while (true) {
      product *= s.next_double();
      if (product <= limit) return k;
      ++k;
    }
  }
  const double root = std::sqrt(lam), log_lam = std::log(lam);
  const double b = 0.931 + 2.53 * root;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double vr = 0.9277 - 3.6224 / (b - 2);
  while (true) {
    const double u = s.next_double() - 0.5;
    const double v = s.next_double();
    const double us = 0.5 - std::fabs(u);
    const auto k = static_cast<std::int64_t>(std::floor((2 * a / us + b) * u + lam + 0.43));
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
        -lam + static_cast<double>(k) * log_lam - log_gamma(static_cast<double>(k) + 1)) {
      return k;
    }
  }
}

// Philox4x32-10 (Random123's, round for round) over `lanes` consecutive counters
// {pair, 0, what} at once, in a loop the compiler vectorises; words[w][l] is word w of lane l.
constexpr int lanes = 16;
using lane_words = std::uint32_t[4][lanes];

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))  // 4 or 2 lanes per multiply
#endif
void philox_lanes(std::uint64_t first_pair, std::uint32_t what, const philox::key_type& key,
                  lane_words& words) {
  // 32-bit words held in 64-bit lanes: each multiply is a widening 32 x 32 one (pmuludq).
  constexpr std::uint64_t m0 = 0xD2511F53, m1 = 0xCD9E8D57, low = 0xffffffff;
  std::uint64_t c0[lanes], c1[lanes], c2[lanes], c3[lanes];
  for (int l = 0; l < lanes; ++l) {
    const std::uint64_t pair = first_pair + static_cast<std::uint64_t>(l);
    c0[l] = pair & low;
    c1[l] = pair >> 32;
    c2[l] = 0;
    c3[l] = what;
  }
  std::uint64_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    for (int l = 0; l < lanes; ++l) {
      const std::uint64_t p0 = m0 * (c0[l] & low), p1 = m1 * (c2[l] & low);
      const std::uint64_t n0 = (p1 >> 32) ^ c1[l] ^ k0;
      const std::uint64_t n2 = (p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = p1 & low;
      c3[l] = p0 & low;
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 = (k0 + 0x9E3779B9) & low;
    k1 = (k1 + 0xBB67AE85) & low;
  }
  for (int l = 0; l < lanes; ++l) {
    words[0][l] = static_cast<std::uint32_t>(c0[l]);
    words[1][l] = static_cast<std::uint32_t>(c1[l]);
    words[2][l] = static_cast<std::uint32_t>(c2[l]);
    words[3][l] = static_cast<std::uint32_t>(c3[l]);
  }
}

// One element from its pair's shared words: the common case inline, the rest through its
// element_stream (which starts over from the same words, so both paths draw alike).
template <class T, random_distribution D>
T draw(const lane_words& words, int l, const philox::key_type& key, std::uint64_t pair, unsigned j,
       const random_payload& p) {
  const std::uint64_t bits = std::uint64_t{words[2 * j][l]} << 32 | words[2 * j + 1][l];
  auto shared = [&] {
    return philox::ctr_type{{words[0][l], words[1][l], words[2][l], words[3][l]}};
  };
  if constexpr (D == random_distribution::uniform) {
    if constexpr (std::is_same_v<T, float>) {
      const float u = static_cast<float>(words[2 * j][l] >> 8) * 0x1p-24f;
      return p.offset == 0 && p.scale == 1
                 ? u
                 : static_cast<float>(p.offset + p.scale * static_cast<double>(u));
    } else {
      const auto u = static_cast<double>(static_cast<std::int64_t>(bits >> 11)) * 0x1p-53;
      return static_cast<T>(p.offset + p.scale * u);
    }
  } else if constexpr (D == random_distribution::normal) {
    static const ziggurat& z = ziggurat_tables();
    const unsigned layer = bits & 0xff;
    const std::uint64_t magnitude = (bits >> 9) & 0x000fffffffffffff;
    if (magnitude < z.k[layer]) {
      // The sign without a branch (it is a coin flip: a branch would miss half the time).
      const double sign = 1.0 - 2.0 * static_cast<double>((bits >> 8) & 1);
      const double x = static_cast<double>(static_cast<std::int64_t>(magnitude)) * z.w[layer];
      return static_cast<T>(p.offset + p.scale * (sign * x));
    }
    element_stream s(key, shared(), pair, j, static_cast<std::uint32_t>(D));
    return static_cast<T>(p.offset + p.scale * standard_normal(s, z));
  } else {
    element_stream s(key, shared(), pair, j, static_cast<std::uint32_t>(D));
    if constexpr (D == random_distribution::integers) return static_cast<T>(integer_value(s, p));
    return static_cast<T>(poisson_value(s, p));
  }
}

template <class T, random_distribution D>
void fill_row(std::uint64_t first, index_t length, const philox::key_type& key,
              const random_payload& p, T* values) {
  const auto count = static_cast<std::uint64_t>(length);
  lane_words words;
  for (std::uint64_t done = 0; done < count;) {
    const std::uint64_t base = (first + done) >> 1;
    philox_lanes(base, static_cast<std::uint32_t>(D), key, words);
    if ((first + done) % 2 == 0 && count - done >= 2 * lanes) {  // all the lanes' pairs
      for (int l = 0; l < lanes; ++l) {
        const std::uint64_t pair = base + static_cast<std::uint64_t>(l);
        values[done + 2 * l] = draw<T, D>(words, l, key, pair, 0, p);
        values[done + 2 * l + 1] = draw<T, D>(words, l, key, pair, 1, p);
      }
      done += 2 * lanes;
      continue;
    }
    for (int l = 0; l < lanes && done < count; ++l) {
      for (unsigned j = (first + done) & 1; j < 2 && done < count; ++j, ++done) {
        values[done] = draw<T, D>(words, l, key, base + static_cast<std::uint64_t>(l), j, p);
      }
    }
  }
}

// Calls row(flat index of the row's first element, its offset in `region`, length) for each
// run of `region` along the last axis, in C order.
template <class F>
void for_each_row(const shape_t& shape, const box& region, F&& row) {
  if (region.size() == 0) return;
  const std::size_t nd = shape.size();
  if (nd == 0) {
    row(index_t{0}, index_t{0}, index_t{1});
    return;
  }
  const shape_t strides = c_strides(shape);
  const index_t length = region.stop[nd - 1] - region.start[nd - 1];
  shape_t at = region.start;
  for (index_t offset = 0;; offset += length) {
    index_t flat = 0;
    for (std::size_t d = 0; d < nd; ++d) flat += at[d] * strides[d];
    row(flat, offset, length);
    std::size_t d = nd - 1;
    while (d > 0) {
      --d;
      if (++at[d] < region.stop[d]) break;
      at[d] = region.start[d];
      if (d == 0) return;
    }
    if (nd == 1) return;
  }
}

}  // namespace

void random_into(const node& n, const box& region, std::span<std::byte> out) {
  const random_payload& p = n.random;
  const philox::key_type key = {
      {static_cast<std::uint32_t>(p.seed), static_cast<std::uint32_t>(p.seed >> 32)}};
  visit_kind(n.dtype.kind, [&](auto sample) {
    using T = decltype(sample);
    if constexpr (std::is_arithmetic_v<T>) {
      T* values = reinterpret_cast<T*>(out.data());
      for_each_row(n.shape, region, [&](index_t flat, index_t offset, index_t length) {
        const auto first = static_cast<std::uint64_t>(flat);
        switch (p.what) {
          case random_distribution::uniform:
            if constexpr (std::is_floating_point_v<T>)
              fill_row<T, random_distribution::uniform>(first, length, key, p, values + offset);
            break;
          case random_distribution::normal:
            if constexpr (std::is_floating_point_v<T>)
              fill_row<T, random_distribution::normal>(first, length, key, p, values + offset);
            break;
          case random_distribution::integers:
            fill_row<T, random_distribution::integers>(first, length, key, p, values + offset);
            break;
          case random_distribution::poisson:
            fill_row<T, random_distribution::poisson>(first, length, key, p, values + offset);
            break;
        }
      });
    }
  });
}

}  // namespace chunkarr::detail
