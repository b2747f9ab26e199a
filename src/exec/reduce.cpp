#include "exec/reduce.hpp"
#include <stdexcept>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "chunkarr/core/error.hpp"
#include "exec/exact_sum.hpp"

namespace chunkarr::detail {
namespace {

template <class T>
constexpr bool is_float_v = std::is_floating_point_v<T>;

template <class T>
bool nan_value(T v) {
  if constexpr (is_float_v<T>)
    return std::isnan(v);
  else
    return false;
}

// The accumulator of sums and products: double for floats, 64-bit for integers and bools.
template <class T>
using acc_t =
    std::conditional_t<is_float_v<T>, double,
                       std::conditional_t<std::is_unsigned_v<T> && !std::is_same_v<T, bool>,
                                          std::uint64_t, std::int64_t>>;

template <class A>
A acc_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    return static_cast<A>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
  } else {
    return a + b;
  }
}
template <class A>
A acc_mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    return static_cast<A>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
  } else {
    return a * b;
  }
}

template <class Out, class V>
Out to_out(V v) {
  if constexpr (std::is_same_v<Out, bool>)
    return v != V(0);
  else
    return static_cast<Out>(v);
}

constexpr double nan_d = std::numeric_limits<double>::quiet_NaN();

// ---- the operations --------------------------------------------------------------------

template <class T, bool Prod, bool SkipNan>
struct sum_like {
  using A = acc_t<T>;
  struct state {
    A acc;
  };
  static constexpr int passes = 1;
  void init(state& s) const { s.acc = Prod ? A(1) : A(0); }
  void add(state& s, T x, index_t, int) const {
    if (SkipNan && nan_value(x)) return;
    s.acc = Prod ? acc_mul(s.acc, A(x)) : acc_add(s.acc, A(x));
  }
  void add_row(state& s, const T* v, index_t n, index_t, index_t, int) const {
    if constexpr (!Prod && is_float_v<T>) {
      // Eight independent sums: fast, and the same order on every run.
      double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      index_t i = 0;
      for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; ++k) {
          const double x = v[i + k];
          if (!SkipNan || !std::isnan(x)) lanes[k] += x;
        }
      }
      for (; i < n; ++i) {
        const double x = v[i];
        if (!SkipNan || !std::isnan(x)) lanes[0] += x;
      }
      s.acc += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
               ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    } else {
      for (index_t i = 0; i < n; ++i) add(s, v[i], 0, 0);
    }
  }
  void between(state&) const {}
  void combine(state& a, const state& b) const {
    a.acc = Prod ? acc_mul(a.acc, b.acc) : acc_add(a.acc, b.acc);
  }
  template <class Out>
  Out finish(const state& s, int, index_t) const {
    return to_out<Out>(s.acc);
  }
};

// sum (of floats), mean, var and std: exact sums (exec/exact_sum.hpp), rounded once when
// finished, so the result is the same for any chunking, grouping and thread count. What:
// 0 sum, 1 mean, 2 var, 3 std. var is (Σx² − (Σx)²/n) / (n − ddof) from the exact sums in
// double-double arithmetic: its relative error is about 2^-104 · (1 + mean²/var).
template <class T, bool SkipNan, int What, bool Compact = false>
struct exact_op {
  static constexpr bool squares = What >= 2;
  using state = exact::sums<T, squares, Compact>;
  static constexpr int passes = 1;
  void init(state& s) const { s.clear(); }
  void add(state& s, T x, index_t, int) const { exact::add_one<T, squares, SkipNan>(s, x); }
  void add_row(state& s, const T* v, index_t n, index_t, index_t, int) const {
    exact::add_row<T, squares, SkipNan>(s, v, n);
  }
  void add_columns(state* s, const T* const* rows, int count, index_t n) const {
    exact::add_columns<T, squares, SkipNan>(s, rows, count, n);
  }
  void between(state&) const {}
  void combine(state& a, const state& b) const { a.add(b); }
  template <class Out>
  Out finish(const state& s, int ddof, index_t) const {
    const std::uint32_t f = s.flags;
    const bool nan = (!SkipNan && (f & exact::has_nan)) ||
                     ((f & exact::has_pos_inf) && (f & exact::has_neg_inf));
    if constexpr (!squares) {
      if (nan) return to_out<Out>(nan_d);
      if (f & (exact::has_pos_inf | exact::has_neg_inf)) {
        return to_out<Out>(f & exact::has_pos_inf ? std::numeric_limits<double>::infinity()
                                                  : -std::numeric_limits<double>::infinity());
      }
      if constexpr (What == 0) {
        return to_out<Out>(s.s1.rounded());
      } else {
        if (s.count == 0) return to_out<Out>(nan_d);
        return to_out<Out>(exact::dd_div(exact::to_dd(s.s1), static_cast<double>(s.count)).hi);
      }
    } else {
      if (nan || (f & (exact::has_pos_inf | exact::has_neg_inf))) return to_out<Out>(nan_d);
      const double dof = static_cast<double>(s.count - ddof);
      if (s.count - ddof <= 0) return to_out<Out>(nan_d);
      double var = std::numeric_limits<double>::infinity();
      if (!(f & exact::square_overflow)) {
        const exact::dd s1 = exact::to_dd(s.s1), s2 = exact::to_dd(s.s2);
        const double n = static_cast<double>(s.count);
        const exact::dd m2 = exact::dd_sub(s2, exact::dd_div(exact::dd_mul(s1, s1), n));
        var = m2.hi > 0 ? exact::dd_div(m2, dof).hi : 0.0;
      }
      return to_out<Out>(What == 3 ? std::sqrt(var) : var);
    }
  }
};

// Reductions of doubles to more than this many elements keep compact states.
constexpr index_t compact_above = 16384;

template <class T, bool SkipNan>
using sum_of =
    std::conditional_t<is_float_v<T>, exact_op<T, SkipNan, 0>, sum_like<T, false, SkipNan>>;
template <class T, bool SkipNan>
using mean_of = exact_op<T, SkipNan, 1>;
template <class T, bool SkipNan, bool Sqrt>
using var_of = exact_op<T, SkipNan, Sqrt ? 3 : 2>;

template <class T, bool Max, bool SkipNan>
struct min_max {
  struct state {
    T value;
    bool seen;
  };
  static constexpr int passes = 1;
  void init(state& s) const { s = {T{}, false}; }
  void add(state& s, T x, index_t, int) const {
    if (s.seen && nan_value(s.value)) return;  // NaN propagates
    if (nan_value(x)) {
      if (SkipNan) return;
      s = {x, true};
      return;
    }
    if (!s.seen || (Max ? x > s.value : x < s.value)) s = {x, true};
  }
  void add_row(state& s, const T* v, index_t n, index_t, index_t, int) const {
    for (index_t i = 0; i < n; ++i) add(s, v[i], 0, 0);
  }
  void between(state&) const {}
  void combine(state& a, const state& b) const {
    if (b.seen) add(a, b.value, 0, 0);
  }
  template <class Out>
  Out finish(const state& s, int, index_t) const {
    if (!s.seen) return to_out<Out>(nan_d);  // nanmin/nanmax of all-NaN, as NumPy
    return to_out<Out>(s.value);
  }
};

template <class T, bool All>
struct any_all {
  struct state {
    bool value;
  };
  static constexpr int passes = 1;
  void init(state& s) const { s.value = All; }
  void add(state& s, T x, index_t, int) const {
    s.value = All ? (s.value && x != T(0)) : (s.value || x != T(0));
  }
  void add_row(state& s, const T* v, index_t n, index_t, index_t, int) const {
    for (index_t i = 0; i < n; ++i) add(s, v[i], 0, 0);
  }
  void between(state&) const {}
  void combine(state& a, const state& b) const {
    a.value = All ? (a.value && b.value) : (a.value || b.value);
  }
  template <class Out>
  Out finish(const state& s, int, index_t) const {
    return to_out<Out>(s.value);
  }
};

// argmin/argmax: the first index of the extreme value; the first NaN wins, as in NumPy.
// nanargmin/nanargmax skip NaNs, and a slice of NaNs only is an error, as in NumPy.
template <class T, bool Max, bool SkipNan = false>
struct arg_extreme {
  struct state {
    T value;
    std::int64_t index;
    bool seen;
  };
  static constexpr int passes = 1;
  static bool better(T x, T than) {
    if (nan_value(than)) return false;
    if (nan_value(x)) return true;
    return Max ? x > than : x < than;
  }
  static bool same(T a, T b) { return (nan_value(a) && nan_value(b)) || a == b; }
  void init(state& s) const { s = {T{}, 0, false}; }
  void add(state& s, T x, index_t index, int) const {
    if (SkipNan && nan_value(x)) return;
    if (!s.seen || better(x, s.value)) s = {x, index, true};
  }
  void add_row(state& s, const T* v, index_t n, index_t index, index_t step, int) const {
    for (index_t i = 0; i < n; ++i) add(s, v[i], index + i * step, 0);
  }
  void between(state&) const {}
  void combine(state& a, const state& b) const {
    if (!b.seen) return;
    if (!a.seen || better(b.value, a.value) || (same(a.value, b.value) && b.index < a.index)) a = b;
  }
  template <class Out>
  Out finish(const state& s, int, index_t) const {
    if (SkipNan && !s.seen)
      throw_error<value_error>(Max ? "nanargmax" : "nanargmin", ": All-NaN slice encountered");
    return to_out<Out>(s.index);
  }
};

// ---- the driver ------------------------------------------------------------------------

struct geometry {
  shape_t input_shape;
  std::vector<bool> reduced;
  bool flat_index = false;
  int arg_axis = -1;  // the reduced axis, for argmin/argmax over one axis
  int ddof = 0;
  scalar_kind out = scalar_kind::float64;
  index_t reduced_count = 0;  // elements reduced into each output element
};

// How a block's values map to states: the block is `rows` rows of `row` values (its last
// axis; one row of one value for a 0-d block); row r's first value belongs to state
// row_state[r], and the rest of the row to the same state (a reduced last axis) or to the
// following ones. row_arg[r] is the index argmin/argmax records for the row's first value,
// `step` its increase along the row.
struct row_layout {
  index_t count = 0;  // states (the block's kept elements)
  index_t rows = 0, row = 1, step = 0;
  bool last_reduced = true;
  std::vector<index_t> row_state, row_arg;
};

row_layout layout_of(const geometry& g, const box& input_box) {
  const std::size_t ndim = input_box.ndim();
  const shape_t shape = input_box.shape();
  // Strides of each input axis in the partial's C-order states (0 along reduced axes).
  shape_t kept_shape;
  for (std::size_t d = 0; d < ndim; ++d) {
    if (!g.reduced[d]) kept_shape.push_back(shape[d]);
  }
  const shape_t kept_strides = c_strides(kept_shape);
  shape_t state_stride(ndim, 0);
  for (std::size_t d = 0, k = 0; d < ndim; ++d) {
    if (!g.reduced[d]) state_stride[d] = kept_strides[k++];
  }
  row_layout l;
  l.count = element_count(kept_shape);
  const index_t total = element_count(shape);
  if (total == 0) return l;
  const shape_t full_strides = c_strides(g.input_shape);
  l.row = ndim ? shape[ndim - 1] : 1;
  l.last_reduced = ndim == 0 || g.reduced[ndim - 1];
  l.rows = total / l.row;
  l.row_state.resize(static_cast<std::size_t>(l.rows));
  l.row_arg.resize(static_cast<std::size_t>(l.rows));
  if (g.flat_index || g.arg_axis == static_cast<int>(ndim) - 1) l.step = 1;
  shape_t index(ndim ? ndim - 1 : 0, 0);
  for (index_t r = 0; r < l.rows; ++r) {
    index_t st = 0, arg = 0;
    for (std::size_t d = 0; d + 1 < ndim; ++d) st += index[d] * state_stride[d];
    if (g.flat_index) {
      for (std::size_t d = 0; d + 1 < ndim; ++d) {
        arg += (input_box.start[d] + index[d]) * full_strides[d];
      }
      if (ndim) arg += input_box.start[ndim - 1];
    } else if (g.arg_axis >= 0) {
      const std::size_t a = static_cast<std::size_t>(g.arg_axis);
      arg = input_box.start[a] + (a == ndim - 1 ? 0 : index[a]);
    }
    l.row_state[static_cast<std::size_t>(r)] = st;
    l.row_arg[static_cast<std::size_t>(r)] = arg;
    for (std::size_t d = ndim > 1 ? ndim - 1 : 0; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return l;
}

}  // namespace

struct reducer::impl {
  virtual ~impl() = default;
  virtual std::size_t state_bytes() const = 0;
  virtual void init(std::byte* states, index_t count) const = 0;
  virtual bytes partial(const std::byte* values, const box& input_box, bytes storage) const = 0;
  virtual void combine(std::byte* into, const std::byte* from, index_t count) const = 0;
  virtual void finish(const std::byte* states, index_t count, std::byte* out) const = 0;
};

namespace {

template <class T, partial_reduction<T> Op>
class reducer_for final : public reducer::impl {
 public:
  using state = typename Op::state;
  explicit reducer_for(geometry g) : g_(std::move(g)) {}

  std::size_t state_bytes() const override { return sizeof(state); }

  void init(std::byte* states, index_t count) const override {
    state* s = reinterpret_cast<state*>(states);
    for (index_t i = 0; i < count; ++i) op_.init(s[i]);
  }

  bytes partial(const std::byte* values, const box& input_box, bytes storage) const override {
    const row_layout l = layout_of(g_, input_box);
    bytes out = std::move(storage);  // reused: a fresh one is page-faulted in each time
    out.resize(static_cast<std::size_t>(l.count) * sizeof(state));
    state* states = reinterpret_cast<state*>(out.data());
    init(out.data(), l.count);
    const T* v = reinterpret_cast<const T*>(values);
    if (l.rows == 0) return out;
    const index_t rows = l.rows, row = l.row, step = l.step;
    const bool last_reduced = l.last_reduced;
    const std::vector<index_t>& row_state = l.row_state;
    const std::vector<index_t>& row_arg = l.row_arg;
    // Along a kept last axis, walk the rows one tile of columns at a time, so the tile's
    // states stay in L1 while every row adds to them.
    constexpr index_t tile = 1024;
    if constexpr (requires(const T* const* p) { op_.add_columns(states, p, 1, row); }) {
      if (!last_reduced) {
        // The rows that share states, in groups of up to exact::group rows.
        std::vector<index_t> order(static_cast<std::size_t>(rows));
        for (index_t r = 0; r < rows; ++r) order[static_cast<std::size_t>(r)] = r;
        std::stable_sort(order.begin(), order.end(),
                         [&](index_t a, index_t b) { return row_state[a] < row_state[b]; });
        const T* group[exact::group];
        for (std::size_t g0 = 0, g1 = 0; g0 < order.size(); g0 = g1) {
          const index_t st = row_state[order[g0]];
          int count = 0;
          for (g1 = g0; g1 < order.size() && count < exact::group && row_state[order[g1]] == st;
               ++g1) {
            group[count++] = v + order[g1] * row;
          }
          op_.add_columns(states + st, group, count, row);
        }
        return out;
      }
    }
    for (int pass = 0; pass < Op::passes; ++pass) {
      if (pass > 0) {
        for (index_t i = 0; i < l.count; ++i) op_.between(states[i]);
      }
      if (last_reduced) {
        for (index_t r = 0; r < rows; ++r) {
          op_.add_row(states[row_state[r]], v + r * row, row, row_arg[r], step, pass);
        }
        continue;
      }
      for (index_t j0 = 0; j0 < row; j0 += tile) {
        const index_t j1 = std::min(row, j0 + tile);
        for (index_t r = 0; r < rows; ++r) {
          state* st = states + row_state[r];
          const T* p = v + r * row;
          const index_t arg = row_arg[r];
          for (index_t j = j0; j < j1; ++j) op_.add(st[j], p[j], arg + j * step, pass);
        }
      }
    }
    return out;
  }

  void combine(std::byte* into, const std::byte* from, index_t count) const override {
    state* a = reinterpret_cast<state*>(into);
    const state* b = reinterpret_cast<const state*>(from);
    for (index_t i = 0; i < count; ++i) op_.combine(a[i], b[i]);
  }

  void finish(const std::byte* states, index_t count, std::byte* out) const override {
    const state* s = reinterpret_cast<const state*>(states);
    visit_kind(g_.out, [&](auto sample) {
      using Out = decltype(sample);
      Out* o = reinterpret_cast<Out*>(out);
      for (index_t i = 0; i < count; ++i)
        o[i] = op_.template finish<Out>(s[i], g_.ddof, g_.reduced_count);
    });
  }

 private:
  geometry g_;
  Op op_;
};

// A user's reduction (reduction in blocks.hpp): the same layout and fixed combine order as
// the built-in ones, its state opaque bytes. Along a reduced last axis a row is one fold;
// along a kept one, each column of a run of rows that share their states is one fold.
class user_reducer final : public reducer::impl {
 public:
  user_reducer(geometry g, std::shared_ptr<const reduction_functions> f, std::size_t itemsize)
      : g_(std::move(g)), f_(std::move(f)), itemsize_(itemsize) {}

  std::size_t state_bytes() const override { return f_->state_bytes; }

  void init(std::byte* states, index_t count) const override {
    const std::size_t sb = f_->state_bytes;
    guarded([&] {
      for (index_t i = 0; i < count; ++i) f_->init(states + static_cast<std::size_t>(i) * sb);
    });
  }

  bytes partial(const std::byte* values, const box& input_box, bytes storage) const override {
    const row_layout l = layout_of(g_, input_box);
    const std::size_t sb = f_->state_bytes;
    bytes out = std::move(storage);
    out.resize(static_cast<std::size_t>(l.count) * sb);
    init(out.data(), l.count);
    const auto state = [&](index_t i) { return out.data() + static_cast<std::size_t>(i) * sb; };
    const auto value = [&](index_t i) { return values + static_cast<std::size_t>(i) * itemsize_; };
    guarded([&] {
      for (index_t r0 = 0, r1 = 0; r0 < l.rows; r0 = r1) {
        const index_t st = l.row_state[static_cast<std::size_t>(r0)];
        if (l.last_reduced) {
          f_->fold(state(st), value(r0 * l.row), l.row, 1);
          r1 = r0 + 1;
          continue;
        }
        r1 = r0 + 1;
        while (r1 < l.rows && l.row_state[static_cast<std::size_t>(r1)] == st) ++r1;
        for (index_t j = 0; j < l.row; ++j)
          f_->fold(state(st + j), value(r0 * l.row + j), r1 - r0, l.row);
      }
    });
    return out;
  }

  void combine(std::byte* into, const std::byte* from, index_t count) const override {
    const std::size_t sb = f_->state_bytes;
    guarded([&] {
      for (index_t i = 0; i < count; ++i) {
        const std::size_t at = static_cast<std::size_t>(i) * sb;
        f_->combine(into + at, from + at);
      }
    });
  }

  void finish(const std::byte* states, index_t count, std::byte* out) const override {
    const std::size_t sb = f_->state_bytes, out_size = make_dtype(g_.out).itemsize();
    guarded([&] {
      for (index_t i = 0; i < count; ++i) {
        const auto at = static_cast<std::size_t>(i);
        f_->finalize(states + at * sb, out + at * out_size);
      }
    });
  }

 private:
  // The user's exceptions surface with the reduction's name.
  template <class F>
  void guarded(F&& body) const {
    try {
      body();
    } catch (const error& e) {
      e.rethrow_with(f_->name + ": ");
    } catch (const std::exception& e) {
      throw_error<error>(f_->name, ": the function failed: ", e.what());
    }
  }

  geometry g_;
  std::shared_ptr<const reduction_functions> f_;
  std::size_t itemsize_;
};

// The reducer of each entry of the table (include/chunkarr/expr/operations.hpp), whose kernel
// names its partial-state type for inputs of type T.
template <class T>
std::unique_ptr<reducer::impl> make_impl(reduce_op op, geometry g) {
  if constexpr (std::is_same_v<T, double>) {
    // Many outputs: doubles' exact sums in windows (80 bytes a state, not 280), which stay
    // exact while an output's values span at most 2^269 (2^108 for var and std). The
    // choice follows the result's
    // size, never the chunks, so results stay the same for any chunking.
    index_t outputs = 1;
    for (std::size_t d = 0; d < g.reduced.size(); ++d) {
      if (!g.reduced[d]) outputs *= g.input_shape[d];
    }
    if (outputs > compact_above) {
      switch (op) {
#define CHUNKARR_COMPACT(name, skip, what) \
  case reduce_op::name:                    \
    return std::make_unique<reducer_for<T, exact_op<T, skip, what, true>>>(std::move(g));
        CHUNKARR_COMPACT(sum, false, 0)
        CHUNKARR_COMPACT(nansum, true, 0)
        CHUNKARR_COMPACT(mean, false, 1)
        CHUNKARR_COMPACT(nanmean, true, 1)
        CHUNKARR_COMPACT(var, false, 2)
        CHUNKARR_COMPACT(nanvar, true, 2)
        CHUNKARR_COMPACT(std, false, 3)
        CHUNKARR_COMPACT(nanstd, true, 3)
#undef CHUNKARR_COMPACT
        default:
          break;
      }
    }
  }
  switch (op) {
#define CHUNKARR_REDUCER(name, api, rule, ...) \
  case reduce_op::name:                        \
    return std::make_unique<reducer_for<T, __VA_ARGS__>>(std::move(g));
    CHUNKARR_REDUCE_OPS(CHUNKARR_REDUCER)
#undef CHUNKARR_REDUCER
  }
  throw std::logic_error("unknown reduction");
}

}  // namespace

reducer::reducer(const node& n) {
  const node& input = *n.inputs[0];
  geometry g;
  g.input_shape = input.shape;
  g.reduced = n.reduction.reduced;
  g.flat_index = n.reduction.flat_index;
  g.ddof = n.reduction.ddof;
  g.out = n.dtype.kind;
  g.reduced_count = 1;
  for (std::size_t d = 0; d < g.reduced.size(); ++d) {
    if (g.reduced[d]) g.reduced_count *= input.shape[d];
  }
  if (n.reduction.user) {
    impl_ = std::make_unique<user_reducer>(std::move(g), n.reduction.user, input.dtype.itemsize());
    return;
  }
  const reduce_op op = n.reduction.op;
  if (rule_of(op) == reduce_rule::index && !g.flat_index) {
    for (std::size_t d = 0; d < g.reduced.size(); ++d) {
      if (g.reduced[d]) g.arg_axis = static_cast<int>(d);
    }
  }
  impl_ = visit_kind(input.dtype.kind,
                     [&](auto sample) { return make_impl<decltype(sample)>(op, std::move(g)); });
}

reducer::~reducer() = default;
std::size_t reducer::state_bytes() const {
  return impl_->state_bytes();
}
void reducer::init(std::byte* states, index_t count) const {
  impl_->init(states, count);
}
bytes reducer::partial(const std::byte* values, const box& input_box, bytes storage) const {
  return impl_->partial(values, input_box, std::move(storage));
}
void reducer::combine(std::byte* into, const std::byte* from, index_t count) const {
  impl_->combine(into, from, count);
}
void reducer::finish(const std::byte* states, index_t count, std::byte* out) const {
  impl_->finish(states, count, out);
}

}  // namespace chunkarr::detail
