#include "exec/exact_sum.hpp"

namespace chunkarr::detail::exact {

// The first pass over floats, the one every sum and mean makes: eight lanes of plain sums
// and of magnitude bits, compiled for AVX2 where the machine has it.

__attribute__((target_clones("avx2", "default"))) void measure_floats(const float* v, int n,
                                                                      double& sum,
                                                                      std::uint32_t& max_bits,
                                                                      std::uint32_t& min_bits) {
  constexpr int L = 8;
  double s[L] = {};
  int i = 0;
  for (; i + L <= n; i += L) {
    for (int l = 0; l < L; ++l) s[l] += static_cast<double>(v[i + l]);
  }
  for (; i < n; ++i) s[0] += static_cast<double>(v[i]);
  sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  // Integer reductions: the compiler vectorises them.
  std::uint32_t hi = 0, lo = ~std::uint32_t{0};
  for (i = 0; i < n; ++i) {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(v[i]) & 0x7fffffffu;
    hi = std::max(hi, b);
    lo = std::min(lo, b - 1);  // 0 wraps to the largest: the least non-zero
  }
  max_bits = hi;
  min_bits = lo + 1;
}

__attribute__((target_clones("avx2", "default"))) void measure_float_columns(
    const float* const* rows, int R, index_t j0, int w, double* sum, std::uint32_t* max_bits,
    std::uint32_t* min_bits) {
  for (int j = 0; j < w; ++j) sum[j] = 0, max_bits[j] = 0, min_bits[j] = ~std::uint32_t{0};
  for (int r = 0; r < R; ++r) {
    const float* p = rows[r] + j0;
    for (int j = 0; j < w; ++j) {
      const std::uint32_t b = std::bit_cast<std::uint32_t>(p[j]) & 0x7fffffffu;
      max_bits[j] = std::max(max_bits[j], b);
      min_bits[j] = std::min(min_bits[j], b - 1);
      sum[j] += static_cast<double>(p[j]);
    }
  }
  for (int j = 0; j < w; ++j) ++min_bits[j];
}

}  // namespace chunkarr::detail::exact
