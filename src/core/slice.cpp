#include "chunkarr/core/slice.hpp"

#include <algorithm>
#include <limits>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

slice_range slice::normalize(index_t n) const {
  if (n < 0) throw_error<shape_error>("slice over a negative length ", n);
  index_t step_v = step.value_or(1);
  if (step_v == 0) throw_error<value_error>("slice step cannot be zero");
  // -INT64_MIN overflows; any step that large selects at most one element either way.
  if (step_v == std::numeric_limits<index_t>::min()) step_v = -std::numeric_limits<index_t>::max();
  const index_t lower = step_v > 0 ? 0 : -1;
  const index_t upper = step_v > 0 ? n : n - 1;
  auto resolve = [&](std::optional<index_t> v, index_t fallback) {
    if (!v) return fallback;
    index_t i = *v;
    if (i < 0) {
      i += n;
      return std::max(i, lower);
    }
    return std::min(i, upper);
  };
  slice_range r;
  r.step = step_v;
  r.start = resolve(start, step_v > 0 ? lower : upper);
  r.stop = resolve(stop, step_v > 0 ? upper : lower);
  if (step_v > 0) {
    r.count = r.start < r.stop ? (r.stop - r.start - 1) / step_v + 1 : 0;
  } else {
    r.count = r.stop < r.start ? (r.start - r.stop - 1) / (-step_v) + 1 : 0;
  }
  return r;
}

index_t normalize_index(index_t i, index_t n) {
  const index_t resolved = i < 0 ? i + n : i;
  if (resolved < 0 || resolved >= n) {
    throw_error<shape_error>("index ", i, " is out of bounds for an axis of length ", n);
  }
  return resolved;
}

box box::whole(std::span<const index_t> shape) {
  return box{shape_t(shape.size(), 0), shape_t(shape.begin(), shape.end())};
}

shape_t box::shape() const {
  shape_t s(ndim());
  for (std::size_t d = 0; d < ndim(); ++d) s[d] = std::max<index_t>(stop[d] - start[d], 0);
  return s;
}

index_t box::size() const {
  return element_count(shape());
}

bool box::empty() const {
  for (std::size_t d = 0; d < ndim(); ++d) {
    if (stop[d] <= start[d]) return true;
  }
  return false;
}

box box::intersect(const box& other) const {
  box r = *this;
  for (std::size_t d = 0; d < ndim(); ++d) {
    r.start[d] = std::max(start[d], other.start[d]);
    r.stop[d] = std::max(r.start[d], std::min(stop[d], other.stop[d]));
  }
  return r;
}

bool box::contains(const box& other) const {
  for (std::size_t d = 0; d < ndim(); ++d) {
    if (other.start[d] < start[d] || other.stop[d] > stop[d]) return false;
  }
  return true;
}

box box::relative_to(std::span<const index_t> origin) const {
  box r = *this;
  for (std::size_t d = 0; d < ndim(); ++d) {
    r.start[d] -= origin[d];
    r.stop[d] -= origin[d];
  }
  return r;
}

std::string to_string(const box& b) {
  std::string s = "[";
  for (std::size_t d = 0; d < b.ndim(); ++d) {
    if (d > 0) s += ", ";
    s += std::to_string(b.start[d]) + ":" + std::to_string(b.stop[d]);
  }
  return s + "]";
}

void check_box_within(const box& b, std::span<const index_t> shape) {
  bool ok = b.start.size() == shape.size() && b.stop.size() == shape.size();
  for (std::size_t d = 0; ok && d < shape.size(); ++d) {
    ok = 0 <= b.start[d] && b.start[d] <= b.stop[d] && b.stop[d] <= shape[d];
  }
  if (!ok) {
    throw_error<shape_error>("region ", to_string(b), " does not lie within shape ",
                             to_string(shape));
  }
}

}  // namespace chunkarr
