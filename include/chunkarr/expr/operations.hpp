// The operation tables: one per family — unary, binary, reductions.
//
// Each family is one X-macro whose entries say everything chunkarr knows about an operation,
// and everything else is generated from it: the enum (`unary_op`, …), `name_of`, the type rule
// (`rule_of`), the public functions (`chunkarr::sqrt`, in <chunkarr/expr/array.hpp>), the
// kernels (src/exec/), the reducers (src/exec/reduce.cpp) and the `eval` language's names
// (src/tools/expression.cpp). Adding an operation is one entry here plus its test — for a
// unary function such as `cbrt`, one line (as xtensor's `XTENSOR_UNARY_MATH_FUNCTOR(cbrt)`).
//
// An entry is X(op, api, rule, kernel):
//   op      the enumerator, and the NumPy name that messages and `eval` use;
//   api     how the public header spells it: `function` declares chunkarr::op(...);
//           `ddof_function` the same with a trailing `int ddof = 0`; `operator_only` and
//           `by_hand` declare nothing (the operators `-a`, `a < b`; `all_of`, `stddev`);
//   rule    the dtype rule, a `*_rule` enumerator below, which also says which input kinds
//           the kernel is instantiated for;
//   kernel  the rest of the entry (commas allowed): for elementwise ops an expression in the
//           input value(s) `a` (and `b`) of type `T`, converted to the result type; for
//           reductions the partial-state type for inputs of type `T` (the
//           `partial_reduction` concept in src/exec/reduce.hpp). Kernel expressions expand
//           only in src/exec/, so they may name that file's helpers (`sign_of`).
// Enumerators keep table order: never persist them, persist names.
//
// Everything here is constexpr and thread-safe.
#pragma once

#include <cstddef>
#include <iterator>

namespace chunkarr {

// ---- unary -------------------------------------------------------------------------------

/// How a unary operation's compute and result types follow from its input's (NumPy's).
enum class unary_rule {
  float_result,  // computes in float_for(input): sqrt(int32) is float64, sqrt(float32) float32
  same_type,     // the input's type, bool included
  numeric,       // the input's type; bool is a type_error
  minus,         // as numeric, with NumPy's hint for the boolean `-`
  integer,       // the input's type; bool and integers only (float is a type_error)
  predicate,     // computes in the input's type, gives bool
};

#define CHUNKARR_UNARY_OPS(X)                       \
  X(negative, operator_only, minus, negative_of(a)) \
  X(invert, operator_only, integer, invert_of(a))   \
  X(abs, function, same_type, abs_of(a))            \
  X(sqrt, function, float_result, std::sqrt(a))     \
  X(cbrt, function, float_result, std::cbrt(a))     \
  X(exp, function, float_result, std::exp(a))       \
  X(expm1, function, float_result, std::expm1(a))   \
  X(log, function, float_result, std::log(a))       \
  X(log1p, function, float_result, std::log1p(a))   \
  X(log10, function, float_result, std::log10(a))   \
  X(log2, function, float_result, std::log2(a))     \
  X(sin, function, float_result, std::sin(a))       \
  X(cos, function, float_result, std::cos(a))       \
  X(tan, function, float_result, std::tan(a))       \
  X(arcsin, function, float_result, std::asin(a))   \
  X(arccos, function, float_result, std::acos(a))   \
  X(arctan, function, float_result, std::atan(a))   \
  X(sinh, function, float_result, std::sinh(a))     \
  X(cosh, function, float_result, std::cosh(a))     \
  X(tanh, function, float_result, std::tanh(a))     \
  X(floor, function, float_result, std::floor(a))   \
  X(ceil, function, float_result, std::ceil(a))     \
  X(trunc, function, float_result, std::trunc(a))   \
  X(sign, function, numeric, sign_of(a))            \
  X(isnan, function, predicate, is_nan(a))          \
  X(isinf, function, predicate, is_inf(a))          \
  X(isfinite, function, predicate, is_finite(a))

// ---- binary ------------------------------------------------------------------------------

/// How a binary operation's compute and result types follow from its operands' promoted type.
enum class binary_rule {
  arithmetic,    // the promoted type, bool included
  minus,         // the promoted type; bool is a type_error with NumPy's hint for the `-`
  float_result,  // float64 unless the promoted type is a float
  bool_as_int8,  // the promoted type, but bools compute in int8 (NumPy's)
  comparison,    // computes in the promoted type, gives bool
  bitwise,       // the promoted type; bool and integers only (float is a type_error)
};

#define CHUNKARR_BINARY_OPS(X)                                    \
  X(add, function, arithmetic, sum_of(a, b))                      \
  X(subtract, function, minus, difference_of(a, b))               \
  X(multiply, function, arithmetic, product_of(a, b))             \
  X(true_divide, function, float_result, a / b)                   \
  X(floor_divide, function, bool_as_int8, floor_divide_of(a, b))  \
  X(remainder, function, bool_as_int8, remainder_of(a, b))        \
  X(power, function, bool_as_int8, power_of(a, b))                \
  X(equal, operator_only, comparison, a == b)                     \
  X(not_equal, operator_only, comparison, a != b)                 \
  X(less, operator_only, comparison, a < b)                       \
  X(less_equal, operator_only, comparison, a <= b)                \
  X(greater, operator_only, comparison, a > b)                    \
  X(greater_equal, operator_only, comparison, a >= b)             \
  X(bitwise_and, operator_only, bitwise, a& b)                    \
  X(bitwise_or, operator_only, bitwise, a | b)                    \
  X(bitwise_xor, operator_only, bitwise, a ^ b)                   \
  X(maximum, function, arithmetic, (a >= b || is_nan(a)) ? a : b) \
  X(minimum, function, arithmetic, (a <= b || is_nan(a)) ? a : b)

// ---- reductions --------------------------------------------------------------------------

/// How a reduction's result type follows from its input's, and what it needs of its axes.
enum class reduce_rule {
  accumulate,    // int64 for bool and signed, uint64 for unsigned, else the input's type
  float_result,  // the input's type when a float, else float64
  extreme,       // the input's type; no identity, so reducing zero elements is an error
  logical,       // bool
  index,         // int64; one axis or all (a flat index); no identity
};

#define CHUNKARR_REDUCE_OPS(X)                                   \
  X(sum, function, accumulate, sum_of<T, false>)                 \
  X(prod, function, accumulate, sum_like<T, true, false>)        \
  X(mean, function, float_result, mean_of<T, false>)             \
  X(var, ddof_function, float_result, var_of<T, false, false>)   \
  X(std, by_hand, float_result, var_of<T, false, true>)          \
  X(min, function, extreme, min_max<T, false, false>)            \
  X(max, function, extreme, min_max<T, true, false>)             \
  X(any, function, logical, any_all<T, false>)                   \
  X(all, by_hand, logical, any_all<T, true>)                     \
  X(argmin, function, index, arg_extreme<T, false>)              \
  X(argmax, function, index, arg_extreme<T, true>)               \
  X(nansum, function, accumulate, sum_of<T, true>)               \
  X(nanmean, function, float_result, mean_of<T, true>)           \
  X(nanvar, ddof_function, float_result, var_of<T, true, false>) \
  X(nanstd, ddof_function, float_result, var_of<T, true, true>)  \
  X(nanmin, function, extreme, min_max<T, false, true>)          \
  X(nanmax, function, extreme, min_max<T, true, true>)           \
  X(nanargmin, function, index, arg_extreme<T, false, true>)     \
  X(nanargmax, function, index, arg_extreme<T, true, true>)

// ---- what the tables generate here -------------------------------------------------------

#define CHUNKARR_OP_ENUMERATOR(op, ...) op,
#define CHUNKARR_OP_NAME(op, ...) #op,
#define CHUNKARR_OP_COUNT(...) +1

// `bitwise_not` is the name `invert` had before the table, kept so callers still compile.
enum class unary_op { CHUNKARR_UNARY_OPS(CHUNKARR_OP_ENUMERATOR) bitwise_not = invert };
enum class binary_op { CHUNKARR_BINARY_OPS(CHUNKARR_OP_ENUMERATOR) };
enum class reduce_op { CHUNKARR_REDUCE_OPS(CHUNKARR_OP_ENUMERATOR) };

inline constexpr std::size_t unary_op_count = 0 CHUNKARR_UNARY_OPS(CHUNKARR_OP_COUNT);
inline constexpr std::size_t binary_op_count = 0 CHUNKARR_BINARY_OPS(CHUNKARR_OP_COUNT);
inline constexpr std::size_t reduce_op_count = 0 CHUNKARR_REDUCE_OPS(CHUNKARR_OP_COUNT);

/// Names for messages and the expression language: "add", "sqrt", "mean".
constexpr const char* name_of(unary_op op) {
  constexpr const char* names[] = {CHUNKARR_UNARY_OPS(CHUNKARR_OP_NAME)};
  static_assert(std::size(names) == unary_op_count);
  return names[static_cast<std::size_t>(op)];
}
constexpr const char* name_of(binary_op op) {
  constexpr const char* names[] = {CHUNKARR_BINARY_OPS(CHUNKARR_OP_NAME)};
  static_assert(std::size(names) == binary_op_count);
  return names[static_cast<std::size_t>(op)];
}
constexpr const char* name_of(reduce_op op) {
  constexpr const char* names[] = {CHUNKARR_REDUCE_OPS(CHUNKARR_OP_NAME)};
  static_assert(std::size(names) == reduce_op_count);
  return names[static_cast<std::size_t>(op)];
}

#define CHUNKARR_OP_RULE(family, op, api, rule, ...) family##_rule::rule,
#define CHUNKARR_UNARY_RULE(...) CHUNKARR_OP_RULE(unary, __VA_ARGS__)
#define CHUNKARR_BINARY_RULE(...) CHUNKARR_OP_RULE(binary, __VA_ARGS__)
#define CHUNKARR_REDUCE_RULE(...) CHUNKARR_OP_RULE(reduce, __VA_ARGS__)

constexpr unary_rule rule_of(unary_op op) {
  constexpr unary_rule rules[] = {CHUNKARR_UNARY_OPS(CHUNKARR_UNARY_RULE)};
  static_assert(std::size(rules) == unary_op_count);
  return rules[static_cast<std::size_t>(op)];
}
constexpr binary_rule rule_of(binary_op op) {
  constexpr binary_rule rules[] = {CHUNKARR_BINARY_OPS(CHUNKARR_BINARY_RULE)};
  static_assert(std::size(rules) == binary_op_count);
  return rules[static_cast<std::size_t>(op)];
}
constexpr reduce_rule rule_of(reduce_op op) {
  constexpr reduce_rule rules[] = {CHUNKARR_REDUCE_OPS(CHUNKARR_REDUCE_RULE)};
  static_assert(std::size(rules) == reduce_op_count);
  return rules[static_cast<std::size_t>(op)];
}

#undef CHUNKARR_OP_RULE
#undef CHUNKARR_UNARY_RULE
#undef CHUNKARR_BINARY_RULE
#undef CHUNKARR_REDUCE_RULE
#undef CHUNKARR_OP_ENUMERATOR
#undef CHUNKARR_OP_NAME
#undef CHUNKARR_OP_COUNT

}  // namespace chunkarr
