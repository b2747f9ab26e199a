// random_generator: checks a distribution's arguments and makes its random node. The values
// are drawn where a chunk is evaluated (src/exec/random.cpp).
#include "chunkarr/expr/random.hpp"

#include <cmath>
#include <limits>

#include "chunkarr/core/error.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using detail::node;
using detail::random_distribution;

namespace {

array random_node(const char* op, random_distribution what, std::uint64_t seed,
                  const shape_t& shape, dtype t, const shape_t& chunk_shape,
                  detail::random_payload payload = {}) {
  for (index_t n : shape) {
    if (n < 0)
      throw_error<shape_error>("random.", op, ": negative dimension in ", to_string(shape));
  }
  element_count(shape);  // throws for a shape whose size overflows
  if (!chunk_shape.empty() && chunk_shape.size() != shape.size()) {
    throw_error<shape_error>("random.", op, ": chunks ", to_string(chunk_shape),
                             " do not match shape ", to_string(shape));
  }
  auto n = std::make_shared<node>();
  n->kind = detail::node_kind::random;
  n->shape = shape;
  n->dtype = make_dtype(t.kind);
  n->chunks = detail::regular_chunks(shape, chunk_shape.empty() ? auto_chunks(shape) : chunk_shape);
  payload.what = what;
  payload.seed = seed;
  n->random = payload;
  return array(std::move(n));
}

void require_float(const char* op, dtype t) {
  if (t.kind != scalar_kind::float32 && t.kind != scalar_kind::float64) {
    throw_error<type_error>("random.", op, ": dtype ", t.name(),
                            " is not supported (float64 or float32)");
  }
}

void require_finite(const char* op, const char* what, double v) {
  if (!std::isfinite(v))
    throw_error<value_error>("random.", op, ": ", what, " ", v, " is not finite");
}

}  // namespace

array random_generator::random(shape_t shape, dtype t, shape_t chunk_shape) const {
  require_float("random", t);
  return random_node("random", random_distribution::uniform, seed_, shape, t, chunk_shape);
}

array random_generator::uniform(double low, double high, shape_t shape, dtype t,
                                shape_t chunk_shape) const {
  require_float("uniform", t);
  require_finite("uniform", "low", low);
  require_finite("uniform", "high", high);
  if (!std::isfinite(high - low)) {
    throw_error<value_error>("random.uniform: high - low (", high, " - ", low, ") overflows");
  }
  detail::random_payload p;
  p.offset = low;
  p.scale = high - low;
  return random_node("uniform", random_distribution::uniform, seed_, shape, t, chunk_shape, p);
}

array random_generator::standard_normal(shape_t shape, dtype t, shape_t chunk_shape) const {
  require_float("standard_normal", t);
  return random_node("standard_normal", random_distribution::normal, seed_, shape, t, chunk_shape);
}

array random_generator::normal(double loc, double scale, shape_t shape, dtype t,
                               shape_t chunk_shape) const {
  require_float("normal", t);
  require_finite("normal", "loc", loc);
  require_finite("normal", "scale", scale);
  if (scale < 0) throw_error<value_error>("random.normal: scale ", scale, " is negative");
  detail::random_payload p;
  p.offset = loc;
  p.scale = scale;
  return random_node("normal", random_distribution::normal, seed_, shape, t, chunk_shape, p);
}

array random_generator::integers(std::int64_t low, std::int64_t high, shape_t shape, dtype t,
                                 shape_t chunk_shape, bool endpoint) const {
  if (!t.is_signed_int() && !t.is_unsigned_int() && t.kind != scalar_kind::bool_) {
    throw_error<type_error>("random.integers: dtype ", t.name(),
                            " is not supported (an integer or bool dtype)");
  }
  // The largest value drawn; [low, high) is empty when it is below low.
  if (!endpoint && high == std::numeric_limits<std::int64_t>::min()) {
    throw_error<value_error>("random.integers: low >= high (", low, " >= ", high, ")");
  }
  const std::int64_t last = endpoint ? high : high - 1;
  if (last < low) {
    throw_error<value_error>("random.integers: low ", endpoint ? "> " : ">= ", "high (", low,
                             endpoint ? " > " : " >= ", high, ")");
  }
  // Both ends must be values of t.
  const auto fits = [&](std::int64_t v) {
    bool ok = false;
    visit_kind(t.kind, [&](auto sample) {
      using T = decltype(sample);
      if constexpr (std::is_same_v<T, bool>) {
        ok = v == 0 || v == 1;
      } else if constexpr (std::is_integral_v<T>) {
        ok = std::in_range<T>(v);
      }
    });
    return ok;
  };
  if (!fits(low) || !fits(last)) {
    throw_error<value_error>("random.integers: [", low, ", ", last, "] is out of bounds for ",
                             t.name());
  }
  detail::random_payload p;
  p.low = low;
  p.range = static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(low) + 1;  // 0: 2^64
  return random_node("integers", random_distribution::integers, seed_, shape, t, chunk_shape, p);
}

array random_generator::poisson(double lam, shape_t shape, shape_t chunk_shape) const {
  if (!(lam >= 0) || !(lam <= 1e15)) {
    throw_error<value_error>("random.poisson: lam ", lam, " is not in [0, 1e15]");
  }
  detail::random_payload p;
  p.offset = lam;
  return random_node("poisson", random_distribution::poisson, seed_, shape,
                     make_dtype(scalar_kind::int64), chunk_shape, p);
}

}  // namespace chunkarr
