// NumPy's median and quantile on rows of values (numpy/lib/function_base.py: _median,
// _quantile and the _QuantileMethods table), in NumPy's arithmetic: the virtual index in
// float64, the two neighbours found by partitioning (std::nth_element, as numpy.partition),
// their difference in the input's type, the interpolation in float64 (`_lerp`, from the
// nearer end).
#include "exec/order.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "exec/kernels.hpp"

namespace chunkarr::detail {
namespace {

bool interpolates(quantile_method m) {
  switch (m) {
    case quantile_method::inverted_cdf:
    case quantile_method::closest_observation:
    case quantile_method::lower:
    case quantile_method::higher:
    case quantile_method::nearest:
      return false;
    default:
      return true;
  }
}

// Where q falls among n sorted values: one index (the discrete methods), or two neighbours
// and the weight of the upper (gamma), as NumPy computes them.
struct position {
  index_t lo = 0, hi = 0;
  double gamma = 0;
};

position locate(quantile_method m, double q, index_t count) {
  const auto n = static_cast<double>(count);
  const index_t last = count - 1;
  // Discrete: NumPy's _inverted_cdf and _closest_observation (_discret_interpolation_to_
  // boundaries), lower, higher, nearest.
  const auto discrete = [&](index_t i) {
    i = std::clamp<index_t>(i, 0, last);
    return position{i, i, 0};
  };
  switch (m) {
    case quantile_method::lower:
      return discrete(static_cast<index_t>(std::floor((n - 1) * q)));
    case quantile_method::higher:
      return discrete(static_cast<index_t>(std::ceil((n - 1) * q)));
    case quantile_method::nearest:  // np.around: halves to even
      return discrete(static_cast<index_t>(std::nearbyint((n - 1) * q)));
    case quantile_method::inverted_cdf: {
      const double index = n * q - 1;
      const double previous = std::floor(index);
      return discrete(static_cast<index_t>(index - previous == 0 ? previous : previous + 1));
    }
    case quantile_method::closest_observation: {
      const double index = n * q - 1 - 0.5;
      const double previous = std::floor(index);
      const bool even = std::fmod(std::fabs(previous), 2.0) == 0;
      return discrete(
          static_cast<index_t>(index - previous == 0 && even ? previous : previous + 1));
    }
    default:
      break;
  }
  double v = 0;
  const auto hyndman_fan = [&](double alpha, double beta) {
    return n * q + (alpha + q * (1 - alpha - beta)) - 1;
  };
  switch (m) {
    case quantile_method::averaged_inverted_cdf:
      v = n * q - 1;
      break;
    case quantile_method::interpolated_inverted_cdf:
      v = hyndman_fan(0, 1);
      break;
    case quantile_method::hazen:
      v = hyndman_fan(0.5, 0.5);
      break;
    case quantile_method::weibull:
      v = hyndman_fan(0, 0);
      break;
    case quantile_method::median_unbiased:
      v = hyndman_fan(1 / 3.0, 1 / 3.0);
      break;
    case quantile_method::normal_unbiased:
      v = hyndman_fan(3 / 8.0, 3 / 8.0);
      break;
    case quantile_method::midpoint:
      v = 0.5 * (std::floor((n - 1) * q) + std::ceil((n - 1) * q));
      break;
    default:  // linear
      v = (n - 1) * q;
  }
  // _get_indexes: past the last value both neighbours are the last (NumPy's index -1, which
  // is also what gamma is measured from); before the first, both are the first.
  position p;
  double previous = std::floor(v);
  p.lo = static_cast<index_t>(previous);
  p.hi = p.lo + 1;
  if (v >= n - 1) {
    p.lo = p.hi = last;
    previous = -1;
  }
  if (v < 0) {
    p.lo = p.hi = 0;
    previous = 0;
  }
  p.gamma = v - previous;
  if (m == quantile_method::averaged_inverted_cdf) p.gamma = p.gamma == 0 ? 0.5 : 1.0;
  if (m == quantile_method::midpoint) p.gamma = v - std::floor(v) == 0 ? 0.0 : 0.5;
  return p;
}

// b - a in T's arithmetic (wrapping for integers, as NumPy's subtract).
template <class T>
T difference(T b, T a) {
  if constexpr (std::is_same_v<T, bool>) {
    return b != a;  // never reached: booleans do not interpolate
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(b) - static_cast<U>(a)));
  } else {
    return b - a;
  }
}

// Where each statistic of `count` values falls (a median as its two middle ranks), and the
// distinct ranks those need, ascending.
std::vector<position> positions_of(const quantile_spec& spec, index_t count,
                                   std::vector<index_t>* ranks) {
  std::vector<position> where;
  if (spec.median) {
    where.push_back({(count - 1) / 2, count / 2, 0});
  } else {
    for (double q : spec.q) where.push_back(locate(spec.method, q, count));
  }
  if (ranks) {
    ranks->clear();
    for (const position& p : where) ranks->insert(ranks->end(), {p.lo, p.hi});
    std::sort(ranks->begin(), ranks->end());
    ranks->erase(std::unique(ranks->begin(), ranks->end()), ranks->end());
  }
  return where;
}

// The statistics from the values at their ranks (`value_at(rank)`, of type T) into
// out[k * stride] for each; NaN for every one when `none` (NaN in a plain form's values, or
// no values).
template <class T, class Out, class V>
void statistics(const quantile_spec& spec, const std::vector<position>& where, bool none,
                V&& value_at, Out* out, index_t stride) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::size_t nq = spec.median ? 1 : spec.q.size();
  for (std::size_t k = 0; k < nq; ++k) {
    Out& o = out[static_cast<index_t>(k) * stride];
    if (none) {
      o = static_cast<Out>(nan);
      continue;
    }
    const position& p = where[k];
    const T a = value_at(p.lo), b = value_at(p.hi);
    if (spec.median) {
      if (p.lo == p.hi)
        o = static_cast<Out>(b);
      else if constexpr (std::is_floating_point_v<T>)  // numpy.mean of the two, in T
        o = static_cast<Out>(static_cast<T>(a + b) / static_cast<T>(2));
      else  // in float64 for integers and booleans
        o = static_cast<Out>((static_cast<double>(a) + static_cast<double>(b)) / 2);
    } else if (!interpolates(spec.method)) {
      o = static_cast<Out>(a);
    } else {  // _lerp: from the lower neighbour, or from the upper when gamma >= 0.5
      const double diff = static_cast<double>(difference(b, a));
      o = static_cast<Out>(p.gamma >= 0.5 ? static_cast<double>(b) - diff * (1 - p.gamma)
                                          : static_cast<double>(a) + diff * p.gamma);
    }
  }
}

template <class T, class Out>
void rows_of(const quantile_spec& spec, const T* values, index_t rows, index_t n, Out* out) {
  const auto buffer = std::make_unique<T[]>(static_cast<std::size_t>(n));
  std::vector<index_t> ranks;
  for (index_t r = 0; r < rows; ++r) {
    const T* row = values + r * n;
    index_t count = n;
    bool has_nan = false;
    if constexpr (std::is_floating_point_v<T>) {
      count = 0;
      for (index_t i = 0; i < n; ++i) {
        if (std::isnan(row[i]))
          has_nan = true;
        else
          buffer[static_cast<std::size_t>(count++)] = row[i];
      }
    } else {
      std::copy(row, row + n, buffer.get());
    }
    const bool none = (has_nan && !spec.skip_nan) || count == 0;
    const std::vector<position> where = positions_of(spec, count, none ? nullptr : &ranks);
    T* first = buffer.get();
    if (!none) {
      T* from = first;
      for (index_t rank : ranks) {  // each rank's value in place, as numpy.partition(kth)
        std::nth_element(from, first + rank, first + count);
        from = first + rank + 1;
      }
    }
    statistics<T>(
        spec, where, none, [&](index_t rank) { return first[rank]; }, out + r, rows);
  }
}

// ---- radix selection ----------------------------------------------------------------------

// Order-preserving unsigned bit patterns: keys compare as the values do (-0 below +0).
template <class T>
std::uint64_t key_of(T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using U = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
    U u;
    std::memcpy(&u, &v, sizeof u);
    constexpr U sign = U(1) << (8 * sizeof(U) - 1);
    return u & sign ? static_cast<U>(~u) : static_cast<U>(u | sign);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? 1 : 0;
  } else {
    using U = std::make_unsigned_t<T>;
    constexpr U sign = std::is_signed_v<T> ? U(U(1) << (8 * sizeof(U) - 1)) : U(0);
    return static_cast<U>(static_cast<U>(v) ^ sign);
  }
}

template <class T>
T value_of(std::uint64_t key) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using U = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
    constexpr U sign = U(1) << (8 * sizeof(U) - 1);
    const auto k = static_cast<U>(key);
    const U u = k & sign ? static_cast<U>(k & ~sign) : static_cast<U>(~k);
    T v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  } else if constexpr (std::is_same_v<T, bool>) {
    return key != 0;
  } else {
    using U = std::make_unsigned_t<T>;
    constexpr U sign = std::is_signed_v<T> ? U(U(1) << (8 * sizeof(U) - 1)) : U(0);
    return static_cast<T>(static_cast<U>(static_cast<U>(key) ^ sign));
  }
}

int key_bits(scalar_kind k) {
  return k == scalar_kind::bool_ ? 8 : static_cast<int>(8 * make_dtype(k).itemsize());
}

// Output elements, and ranks per output element (at most), of a select node.
std::pair<index_t, index_t> extent_of(const node& select) {
  const quantile_spec& spec = *select.select;
  const index_t nq = spec.median ? 1 : static_cast<index_t>(spec.q.size());
  return {element_count(select.shape) / std::max<index_t>(nq, 1), 2 * nq};
}

}  // namespace

struct selector::partial_t {
  std::vector<index_t> outputs;  // the box's output elements (global), C order
  // pass 0: per output element, a histogram of the first digit, and its NaNs
  std::vector<std::uint32_t> counts;
  std::vector<std::uint64_t> nans;
  // later passes: per key range that open ranks of the box's output elements share (their
  // prefix so far), the ranks, and its next digit's histogram or its keys (candidates)
  std::vector<std::vector<index_t>> range_targets;
  std::vector<std::vector<std::uint32_t>> range_counts;
  std::vector<std::vector<std::uint64_t>> range_keys;
};

struct selector::impl {
  struct target {
    index_t output = 0, rank = 0;
    std::uint64_t prefix = 0;  // the key's first `resolved` bits
    int resolved = 0;
    index_t below = 0;  // its rank among the keys that share the prefix
    index_t bin = 0;    // how many keys share the prefix
    bool collect = false, done = false;
    std::vector<std::uint64_t> counts, keys;  // this pass's
  };

  quantile_spec spec;
  int width = 0, digits = 0;
  index_t collect_cap = 0;
  shape_t input_shape, kept_shape, kept_strides;  // kept_strides: per input axis (0: reduced)
  index_t outputs = 0, n = 1;
  int pass = 0;
  std::vector<std::uint64_t> counts0, nans;
  std::vector<index_t> count;  // per output element: its values (non-NaN ones, nan forms)
  std::vector<bool> none;
  std::vector<target> targets;  // by output element, ranks ascending
  std::vector<index_t> first;   // per output element: its first target (outputs + 1)

  impl(const node& sel, selector::params p) : spec(*sel.select), collect_cap(p.collect) {
    const node& in = *sel.inputs[0];
    input_shape = in.shape;
    width = key_bits(spec.input);
    kept_strides.assign(input_shape.size(), 0);
    for (std::size_t d = 0; d < input_shape.size(); ++d) {
      if (spec.reduced[d])
        n *= input_shape[d];
      else
        kept_shape.push_back(input_shape[d]);
    }
    const shape_t strides = c_strides(kept_shape);
    for (std::size_t d = 0, k = 0; d < input_shape.size(); ++d) {
      if (!spec.reduced[d]) kept_strides[d] = strides[k++];
    }
    outputs = element_count(kept_shape);
    digits = std::min(p.digits, width);
    counts0.assign(static_cast<std::size_t>(outputs) << digits, 0);
    nans.assign(static_cast<std::size_t>(outputs), 0);
  }

  // Calls f(row, length, output, step) per row (last axis) of `b`'s values: the row's
  // element j belongs to output element `output + j * step`.
  template <class T, class F>
  void for_rows(const T* values, const box& b, F&& f) const {
    const std::size_t ndim = b.ndim();
    const shape_t shape = b.shape();
    const index_t row = ndim ? shape[ndim - 1] : 1;
    const index_t rows = row ? element_count(shape) / row : 0;
    const index_t step = ndim && !spec.reduced[ndim - 1] ? 1 : 0;
    shape_t index(ndim ? ndim - 1 : 0, 0);
    for (index_t r = 0; r < rows; ++r) {
      index_t o = ndim ? b.start[ndim - 1] * kept_strides[ndim - 1] : 0;
      for (std::size_t d = 0; d + 1 < ndim; ++d) o += (b.start[d] + index[d]) * kept_strides[d];
      f(values + r * row, row, o, step);
      for (std::size_t d = ndim > 1 ? ndim - 1 : 0; d-- > 0;) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
  }

  // The output elements `b` covers, C order.
  std::vector<index_t> outputs_of(const box& b) const {
    box kept{{}, {}};
    shape_t strides;
    for (std::size_t d = 0; d < b.ndim(); ++d) {
      if (spec.reduced[d]) continue;
      kept.start.push_back(b.start[d]);
      kept.stop.push_back(b.stop[d]);
      strides.push_back(kept_strides[d]);
    }
    std::vector<index_t> out;
    for_each_index(kept, [&](const shape_t& i) {
      index_t o = 0;
      for (std::size_t d = 0; d < i.size(); ++d) o += i[d] * strides[d];
      out.push_back(o);
    });
    return out;
  }

  template <class T>
  std::shared_ptr<partial_t> partial(const T* values, const box& b) const {
    auto p = std::make_shared<partial_t>();
    p->outputs = outputs_of(b);
    // Output element o's place in the box's list: o's offset from the box's first, in the
    // kept strides (the list is C order over the kept box).
    const auto local = [&](index_t o) {
      return static_cast<std::size_t>(std::lower_bound(p->outputs.begin(), p->outputs.end(), o) -
                                      p->outputs.begin());
    };
    const int shift = width - digits;
    if (pass == 0) {
      p->counts.assign(p->outputs.size() << digits, 0);
      p->nans.assign(p->outputs.size(), 0);
      for_rows(values, b, [&](const T* row, index_t length, index_t o, index_t step) {
        std::size_t at = local(o);
        for (index_t j = 0; j < length; ++j) {
          if (step && j) ++at;
          const T v = row[j];
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(v)) {
              ++p->nans[at];
              continue;
            }
          }
          ++p->counts[(at << digits) + (key_of(v) >> shift)];
        }
      });
      return p;
    }
    // Later passes: the key ranges of the open ranks of the box's output elements (ranks
    // with one prefix, the two middle ones of a median say, share one).
    struct range_info {
      std::uint64_t base, span;  // keys base .. base + span share the prefix
      int shift;                 // of the next digit
      std::uint64_t mask;
      bool collect;
    };
    std::vector<range_info> info;
    std::vector<std::size_t> first_range(p->outputs.size() + 1, 0);
    for (std::size_t l = 0; l < p->outputs.size(); ++l) {
      const auto o = static_cast<std::size_t>(p->outputs[l]);
      first_range[l] = info.size();
      for (index_t t = first[o]; t < first[o + 1]; ++t) {
        const target& tg = targets[static_cast<std::size_t>(t)];
        if (tg.done) continue;
        const int low = width - tg.resolved, d = digit_of(tg);
        const range_info r{tg.prefix << low, (std::uint64_t{1} << low) - 1, low - d,
                           (std::uint64_t{1} << d) - 1, tg.collect};
        std::size_t k = first_range[l];
        while (k < info.size() && !(info[k].base == r.base && info[k].span == r.span &&
                                    info[k].collect == r.collect && info[k].shift == r.shift))
          ++k;
        if (k == info.size()) {
          info.push_back(r);
          p->range_targets.emplace_back();
          p->range_counts.emplace_back(r.collect ? 0 : r.mask + 1, 0);
          p->range_keys.emplace_back();
        }
        p->range_targets[k].push_back(t);
      }
    }
    first_range[p->outputs.size()] = info.size();
    if (info.empty()) return p;
    // Range by range over a run of values, with the range's bounds and destination in
    // locals (the loop must not reload them through `p` for every value).
    const auto scan = [&](std::size_t k, const T* v, index_t count) {
      const range_info r = info[k];
      if (r.collect) {
        std::vector<std::uint64_t>& keys = p->range_keys[k];
        for (index_t j = 0; j < count; ++j) {
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(v[j])) continue;
          }
          const std::uint64_t key = key_of(v[j]);
          if (key - r.base <= r.span) [[unlikely]]
            keys.push_back(key);
        }
      } else {
        std::uint32_t* counts = p->range_counts[k].data();
        for (index_t j = 0; j < count; ++j) {
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(v[j])) continue;
          }
          const std::uint64_t key = key_of(v[j]);
          if (key - r.base <= r.span) ++counts[(key >> r.shift) & r.mask];
        }
      }
    };
    for_rows(values, b, [&](const T* row, index_t length, index_t o, index_t step) {
      const std::size_t at = local(o);
      if (step == 0) {  // the row is one output element's
        for (std::size_t k = first_range[at]; k < first_range[at + 1]; ++k) scan(k, row, length);
        return;
      }
      for (index_t j = 0; j < length; ++j) {  // one output element per value
        const std::size_t e = at + static_cast<std::size_t>(j);
        for (std::size_t k = first_range[e]; k < first_range[e + 1]; ++k) scan(k, row + j, 1);
      }
    });
    return p;
  }

  int digit_of(const target& t) const { return std::min(digits, width - t.resolved); }

  void merge(const partial_t& p) {
    if (pass == 0) {
      for (std::size_t l = 0; l < p.outputs.size(); ++l) {
        const auto o = static_cast<std::size_t>(p.outputs[l]);
        nans[o] += p.nans[l];
        std::uint64_t* to = counts0.data() + (o << digits);
        const std::uint32_t* from = p.counts.data() + (l << digits);
        for (std::size_t k = 0; k < (std::size_t{1} << digits); ++k) to[k] += from[k];
      }
      return;
    }
    for (std::size_t r = 0; r < p.range_targets.size(); ++r) {
      for (index_t t : p.range_targets[r]) {
        target& tg = targets[static_cast<std::size_t>(t)];
        if (tg.collect) {
          tg.keys.insert(tg.keys.end(), p.range_keys[r].begin(), p.range_keys[r].end());
        } else {
          for (std::size_t k = 0; k < p.range_counts[r].size(); ++k)
            tg.counts[k] += p.range_counts[r][k];
        }
      }
    }
  }

  // The bin of `hist` that holds rank `t.below` becomes the target's next digit.
  static void descend(target& t, const std::uint64_t* hist, int d) {
    for (std::size_t k = 0; k < (std::size_t{1} << d); ++k) {
      const auto c = static_cast<index_t>(hist[k]);
      if (t.below < c) {
        t.prefix = (t.prefix << d) | k;
        t.resolved += d;
        t.bin = c;
        return;
      }
      t.below -= c;
    }
    throw std::logic_error("selection: a rank beyond the counted values");
  }

  void next_pass() {
    if (pass == 0) {
      count.assign(static_cast<std::size_t>(outputs), 0);
      none.assign(static_cast<std::size_t>(outputs), false);
      first.assign(static_cast<std::size_t>(outputs) + 1, 0);
      std::vector<index_t> ranks;
      for (index_t o = 0; o < outputs; ++o) {
        const auto oi = static_cast<std::size_t>(o);
        first[oi] = static_cast<index_t>(targets.size());
        count[oi] = spec.skip_nan ? n - static_cast<index_t>(nans[oi]) : n;
        none[oi] = (nans[oi] && !spec.skip_nan) || count[oi] == 0;
        if (none[oi]) continue;
        positions_of(spec, count[oi], &ranks);
        for (index_t r : ranks) {
          target t;
          t.output = o;
          t.rank = t.below = r;
          descend(t, counts0.data() + (oi << digits), digits);
          targets.push_back(std::move(t));
        }
      }
      first[static_cast<std::size_t>(outputs)] = static_cast<index_t>(targets.size());
      counts0 = {};
    } else {
      for (target& t : targets) {
        if (t.done) continue;
        if (t.collect) {
          if (static_cast<index_t>(t.keys.size()) != t.bin)
            throw std::logic_error("selection: candidates lost between passes");
          std::nth_element(t.keys.begin(), t.keys.begin() + t.below, t.keys.end());
          t.prefix = t.keys[static_cast<std::size_t>(t.below)];
          t.resolved = width;
          t.keys = {};
        } else {
          descend(t, t.counts.data(), digit_of(t));
          t.counts = {};
        }
      }
    }
    ++pass;
    // The next pass: ranks whose bins hold few keys collect them (the fewest first, within
    // the cap); the others count their next digit.
    std::vector<target*> open;
    for (target& t : targets) {
      if (t.resolved == width) t.done = true;
      if (!t.done) open.push_back(&t);
    }
    std::sort(open.begin(), open.end(),
              [](const target* a, const target* b) { return a->bin < b->bin; });
    index_t collected = 0;
    for (target* t : open) {
      t->collect = collected + t->bin <= collect_cap;
      if (t->collect)
        collected += t->bin;
      else
        t->counts.assign(std::size_t{1} << digit_of(*t), 0);
    }
  }

  bool done() const {
    return pass > 0 &&
           std::all_of(targets.begin(), targets.end(), [](const target& t) { return t.done; });
  }

  template <class T, class Out>
  void finish(Out* out) const {
    for (index_t o = 0; o < outputs; ++o) {
      const auto oi = static_cast<std::size_t>(o);
      const std::vector<position> where = positions_of(spec, count[oi], nullptr);
      const auto value_at = [&](index_t rank) {
        for (index_t t = first[oi]; t < first[oi + 1]; ++t) {
          const target& tg = targets[static_cast<std::size_t>(t)];
          if (tg.rank == rank) return value_of<T>(tg.prefix);
        }
        throw std::logic_error("selection: a rank not selected");
      };
      statistics<T>(spec, where, none[oi], value_at, out + o, outputs);
    }
  }
};

selector::selector(const node& select, params p) : impl_(std::make_unique<impl>(select, p)) {}
selector::~selector() = default;
bool selector::done() const {
  return impl_->done();
}
int selector::pass() const {
  return impl_->pass;
}
std::shared_ptr<selector::partial_t> selector::partial(const std::byte* values,
                                                       const box& input_box) const {
  return visit_kind(impl_->spec.input, [&](auto sample) {
    using T = decltype(sample);
    return impl_->partial(reinterpret_cast<const T*>(values), input_box);
  });
}
void selector::merge(const partial_t& p) {
  impl_->merge(p);
}
void selector::next_pass() {
  impl_->next_pass();
}
void selector::finish(std::byte* out) const {
  visit_kind(impl_->spec.input, [&](auto in_sample) {
    using T = decltype(in_sample);
    visit_kind(impl_->spec.output, [&](auto out_sample) {
      using Out = decltype(out_sample);
      if constexpr (std::is_same_v<Out, T> || std::is_floating_point_v<Out>)
        impl_->finish<T>(reinterpret_cast<Out*>(out));
      else
        throw std::logic_error("quantile: an output type of neither the input's nor a float's");
    });
  });
}

selector::params selector::params_for(const node& select, index_t budget) {
  const auto [outputs, ranks] = extent_of(select);
  params p;
  p.digits = std::min(key_bits(select.select->input), outputs <= 16 ? 16 : 11);
  // A quarter of the budget for the histograms (one per open rank), a quarter for candidates;
  // the rest for the tasks.
  while (p.digits > 4 && outputs * ranks * (index_t{8} << p.digits) > budget / 4) --p.digits;
  p.collect = std::clamp<index_t>(budget / 4 / 8, 1 << 10, index_t{4} << 20);
  return p;
}

index_t selector::task_bytes(const node& select, params p, const box& input_box) {
  const quantile_spec& spec = *select.select;
  index_t kept = 1;
  for (std::size_t d = 0; d < input_box.ndim(); ++d) {
    if (!spec.reduced[d]) kept *= input_box.stop[d] - input_box.start[d];
  }
  const index_t ranks = extent_of(select).second;
  // A pass's histograms (per output element, or per open rank) and the candidates it finds.
  return kept * ((index_t{4} << p.digits) * ranks + 16) + std::min(p.collect, input_box.size()) * 8;
}

index_t selector::held_bytes(const node& select, params p) {
  const auto [outputs, ranks] = extent_of(select);
  return outputs * ((index_t{8} << p.digits) * ranks + 64) + p.collect * 8;
}

scalar_kind quantile_output(scalar_kind input, bool median, quantile_method method,
                            const char* op) {
  if (median) return input == scalar_kind::float32 ? scalar_kind::float32 : scalar_kind::float64;
  if (!interpolates(method)) return input;
  if (input == scalar_kind::bool_) {
    throw_error<type_error>(op, ": method '", name_of(method),
                            "' interpolates, which booleans cannot (NumPy refuses too); use "
                            "'lower', 'higher', 'nearest' or astype first");
  }
  return scalar_kind::float64;
}

void quantile_rows(const quantile_spec& spec, const std::byte* values, index_t rows, index_t n,
                   std::byte* out) {
  visit_kind(spec.input, [&](auto in_sample) {
    using T = decltype(in_sample);
    visit_kind(spec.output, [&](auto out_sample) {
      using Out = decltype(out_sample);
      if constexpr (!std::is_same_v<Out, T> && !std::is_floating_point_v<Out>) {
        throw std::logic_error("quantile: an output type of neither the input's nor a float's");
      } else {
        rows_of<T, Out>(spec, reinterpret_cast<const T*>(values), rows, n,
                        reinterpret_cast<Out*>(out));
      }
    });
  });
}

}  // namespace chunkarr::detail
