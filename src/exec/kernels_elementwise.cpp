#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <type_traits>

#include "chunkarr/core/error.hpp"
#include "exec/kernels.hpp"

namespace chunkarr::detail {
namespace {

template <class T>
using wide_unsigned = std::make_unsigned_t<std::conditional_t<std::is_same_v<T, bool>, char, T>>;

// Integer arithmetic that wraps as NumPy's does, without C++'s signed-overflow UB.
template <class T>
T wrap_add(T a, T b) {
  using U = wide_unsigned<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
}
template <class T>
T wrap_sub(T a, T b) {
  using U = wide_unsigned<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
}
template <class T>
T wrap_mul(T a, T b) {
  using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, wide_unsigned<T>>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
}

template <class T>
T floor_divide_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    // NumPy's npy_divmod, so results agree to the bit.
    if (b == 0) return a / b;
    T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != 0) {
      if ((b < 0) != (mod < 0)) div -= 1;
    }
    if (div != 0) {
      T floordiv = std::floor(div);
      if (div - floordiv > T(0.5)) floordiv += 1;
      return floordiv;
    }
    return std::copysign(T(0), a / b);
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return wrap_sub<T>(0, a);
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
      return q;
    } else {
      return a / b;
    }
  }
}

template <class T>
T remainder_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == 0) return std::fmod(a, b);
    T mod = std::fmod(a, b);
    if (mod != 0) {
      if ((b < 0) != (mod < 0)) mod += b;
    } else {
      mod = std::copysign(T(0), b);
    }
    return mod;
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;
      T r = a % b;
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    } else {
      return a % b;
    }
  }
}

template <class T>
T power_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == T(2)) return a * a;  // the common x**2, without a call to pow
    return std::pow(a, b);
  } else {
    if constexpr (std::is_signed_v<T>) {
      if (b < 0)
        throw_error<value_error>("power: integers to negative integer powers are not allowed");
    }
    T result = 1;
    T base = a;
    auto e = static_cast<wide_unsigned<T>>(b);
    while (e) {
      if (e & 1) result = wrap_mul(result, base);
      base = wrap_mul(base, base);
      e >>= 1;
    }
    return result;
  }
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}
template <class T>
bool is_inf(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isinf(v);
  else
    return false;
}
template <class T>
bool is_finite(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isfinite(v);
  else
    return true;
}

// NumPy's arithmetic: bools add as `or` and multiply as `and`; integers wrap.
template <class T>
T sum_of(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a || b;
  else if constexpr (std::is_integral_v<T>)
    return wrap_add(a, b);
  else
    return a + b;
}
template <class T>
T difference_of(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return wrap_sub(a, b);
  else
    return a - b;
}
template <class T>
T product_of(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a && b;
  else if constexpr (std::is_integral_v<T>)
    return wrap_mul(a, b);
  else
    return a * b;
}
template <class T>
T negative_of(T a) {
  if constexpr (std::is_integral_v<T>)
    return wrap_sub<T>(0, a);
  else
    return -a;
}
template <class T>
T invert_of(T a) {
  if constexpr (std::is_same_v<T, bool>)
    return !a;
  else
    return T(~a);
}
template <class T>
T abs_of(T a) {
  if constexpr (std::is_floating_point_v<T>)
    return std::fabs(a);
  else if constexpr (std::is_unsigned_v<T> || std::is_same_v<T, bool>)
    return a;
  else
    return a < 0 ? wrap_sub<T>(0, a) : a;
}

template <class T>
T sign_of(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return v;
  }
  if constexpr (std::is_unsigned_v<T>)
    return v > 0 ? 1 : 0;
  else
    return v > 0 ? T(1) : (v < 0 ? T(-1) : T(0));
}

template <class Out, class In, class F>
void loop1(index_t n, const operand_ref* in, std::byte* out_bytes, F f) {
  const In* a = reinterpret_cast<const In*>(in[0].data);
  Out* out = reinterpret_cast<Out*>(out_bytes);
  if (in[0].stride) {
    for (index_t i = 0; i < n; ++i) out[i] = f(a[i]);
  } else {
    const Out v = f(a[0]);
    for (index_t i = 0; i < n; ++i) out[i] = v;
  }
}

template <class Out, class In, class F>
void loop2(index_t n, const operand_ref* in, std::byte* out_bytes, F f) {
  const In* a = reinterpret_cast<const In*>(in[0].data);
  const In* b = reinterpret_cast<const In*>(in[1].data);
  Out* out = reinterpret_cast<Out*>(out_bytes);
  if (in[0].stride && in[1].stride) {
    for (index_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (in[0].stride) {
    const In bv = b[0];
    for (index_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else if (in[1].stride) {
    const In av = a[0];
    for (index_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else {
    const Out v = f(a[0], b[0]);
    for (index_t i = 0; i < n; ++i) out[i] = v;
  }
}

// The table's kernels (include/chunkarr/expr/operations.hpp): one expression per entry, in `a`
// and `b` of type T, instantiated only for the kinds its rule admits (the others are never
// compiled into a program: `apply` rejects or promotes them first).
template <class T>
constexpr bool admits(binary_rule rule) {
  switch (rule) {
    case binary_rule::minus:
    case binary_rule::bool_as_int8:
      return !std::is_same_v<T, bool>;
    case binary_rule::float_result:
      return std::is_floating_point_v<T>;
    case binary_rule::bitwise:
      return !std::is_floating_point_v<T>;
    case binary_rule::arithmetic:
    case binary_rule::comparison:
      return true;
  }
  return false;
}

template <class T>
constexpr bool admits(unary_rule rule) {
  switch (rule) {
    case unary_rule::numeric:
    case unary_rule::minus:
      return !std::is_same_v<T, bool>;
    case unary_rule::float_result:
      return std::is_floating_point_v<T>;
    case unary_rule::integer:
      return !std::is_floating_point_v<T>;
    case unary_rule::same_type:
    case unary_rule::predicate:
      return true;
  }
  return false;
}

template <binary_op Op>
struct binary_expression;
template <unary_op Op>
struct unary_expression;
#define CHUNKARR_BINARY_EXPRESSION(op, api, rule, ...) \
  template <>                                          \
  struct binary_expression<binary_op::op> {            \
    template <class T>                                 \
    static auto of(T a, T b) {                         \
      return __VA_ARGS__;                              \
    }                                                  \
  };
#define CHUNKARR_UNARY_EXPRESSION(op, api, rule, ...) \
  template <>                                         \
  struct unary_expression<unary_op::op> {             \
    template <class T>                                \
    static auto of(T a) {                             \
      return __VA_ARGS__;                             \
    }                                                 \
  };
CHUNKARR_BINARY_OPS(CHUNKARR_BINARY_EXPRESSION)
CHUNKARR_UNARY_OPS(CHUNKARR_UNARY_EXPRESSION)
#undef CHUNKARR_BINARY_EXPRESSION
#undef CHUNKARR_UNARY_EXPRESSION

template <class T, binary_op Op>
void binary(index_t n, const operand_ref* in, std::byte* out) {
  constexpr binary_rule rule = rule_of(Op);
  if constexpr (admits<T>(rule)) {
    using Out = std::conditional_t<rule == binary_rule::comparison, bool, T>;
    loop2<Out, T>(n, in, out,
                  [](T a, T b) { return static_cast<Out>(binary_expression<Op>::of(a, b)); });
  }
}

template <class T, unary_op Op>
void unary(index_t n, const operand_ref* in, std::byte* out) {
  constexpr unary_rule rule = rule_of(Op);
  if constexpr (admits<T>(rule)) {
    using Out = std::conditional_t<rule == unary_rule::predicate, bool, T>;
    loop1<Out, T>(n, in, out, [](T a) { return static_cast<Out>(unary_expression<Op>::of(a)); });
  }
}

template <class From, class To>
void cast(index_t n, const operand_ref* in, std::byte* out) {
  loop1<To, From>(n, in, out, [](From v) { return convert<To>(v); });
}

template <class T>
void where_loop(index_t n, const operand_ref* in, std::byte* out_bytes) {
  const bool* c = reinterpret_cast<const bool*>(in[0].data);
  const T* a = reinterpret_cast<const T*>(in[1].data);
  const T* b = reinterpret_cast<const T*>(in[2].data);
  T* out = reinterpret_cast<T*>(out_bytes);
  const index_t sc = in[0].stride, sa = in[1].stride, sb = in[2].stride;
  for (index_t i = 0; i < n; ++i) out[i] = c[i * sc] ? a[i * sa] : b[i * sb];
}

template <class T, std::size_t... Ops>
kernel_fn binary_table(binary_op op, std::index_sequence<Ops...>) {
  static constexpr kernel_fn table[] = {&binary<T, static_cast<binary_op>(Ops)>...};
  static_assert(std::size(table) == binary_op_count);
  return table[static_cast<std::size_t>(op)];
}

template <class T, std::size_t... Ops>
kernel_fn unary_table(unary_op op, std::index_sequence<Ops...>) {
  static constexpr kernel_fn table[] = {&unary<T, static_cast<unary_op>(Ops)>...};
  static_assert(std::size(table) == unary_op_count);
  return table[static_cast<std::size_t>(op)];
}

}  // namespace

kernel_fn binary_kernel(binary_op op, scalar_kind k) {
  return visit_kind(k, [&](auto sample) {
    return binary_table<decltype(sample)>(op, std::make_index_sequence<binary_op_count>());
  });
}

kernel_fn unary_kernel(unary_op op, scalar_kind k) {
  return visit_kind(k, [&](auto sample) {
    return unary_table<decltype(sample)>(op, std::make_index_sequence<unary_op_count>());
  });
}

kernel_fn cast_kernel(scalar_kind from, scalar_kind to) {
  return visit_kind(from, [&](auto f) {
    return visit_kind(to, [&](auto t) -> kernel_fn { return &cast<decltype(f), decltype(t)>; });
  });
}

kernel_fn where_kernel(scalar_kind k) {
  return visit_kind(k, [](auto sample) -> kernel_fn { return &where_loop<decltype(sample)>; });
}

}  // namespace chunkarr::detail
