#include "chunkarr/expr/array.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>

#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "expr/node.hpp"

namespace chunkarr {
namespace detail {

chunks_t regular_chunks(const shape_t& shape, const shape_t& chunk_shape) {
  chunks_t chunks(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    const index_t c = chunk_shape.empty() ? std::max<index_t>(shape[d], 1) : chunk_shape[d];
    if (c <= 0) {
      throw_error<shape_error>("chunk shape ", to_string(chunk_shape), " must be positive");
    }
    chunks[d] = axis_chunks::regular(shape[d], c);
  }
  return chunks;
}

axis_chunks sliced_chunks(const axis_chunks& from, const slice_range& r) {
  if (r.count == 0) return {};
  // Step ±1 through regular chunks: regular again (first, then the input's size), in O(1).
  if ((r.step == 1 || r.step == -1) && from.is_regular()) {
    const index_t low = r.step > 0 ? r.start : r.start - r.count + 1;
    const index_t high = low + r.count;  // selected: [low, high)
    const index_t c0 = from.find(low), c1 = from.find(high - 1);
    if (c0 == c1) return {r.count};
    // The selection's ends cut the chunks holding them; those between are whole.
    const index_t first = r.step > 0 ? from.start(c0 + 1) - low : high - from.start(c1);
    const index_t last = r.step > 0 ? high - from.start(c1) : from.start(c0 + 1) - low;
    const axis_chunks a = axis_chunks::regular(r.count, from[c0 + 1], first);
    // Not so when the last is longer than those between (a reversed long first chunk).
    if (a.size() == c1 - c0 + 1 && a[a.size() - 1] == last) return a;
  }
  // A step dividing regular chunks takes as many from each whole chunk: regular too, in O(1)
  // (going down, unless the first chunk is the longest).
  // So does a step as long as the chunks, one from each chunk it lands in.
  const index_t step = r.step > 0 ? r.step : -r.step;
  if (from.is_regular() && from.size() >= 3 && (from[1] % step == 0 || step >= from[1]) &&
      (r.step > 0 || from.front() <= from[1])) {
    const index_t c = from.find(r.start);
    const index_t lo = from.start(c), hi = from.start(c + 1);
    const index_t first = 1 + (r.step > 0 ? (hi - 1 - r.start) / step : (r.start - lo) / step);
    const index_t each = step >= from[1] ? 1 : from[1] / step;
    return axis_chunks::regular(r.count, each, std::min(first, r.count));
  }
  // Otherwise one chunk per input chunk the span crosses: refused up front past the bound
  // (at least span / longest of them), rather than after listing 2^24.
  const double span = static_cast<double>(r.count - 1) * static_cast<double>(step) + 1;
  if (span / static_cast<double>(from.longest()) >
      static_cast<double>(axis_chunks::max_irregular)) {
    throw_error<shape_error>("a slice with step ", r.step, " through about ",
                             static_cast<index_t>(span / static_cast<double>(from.longest())),
                             " chunks of ", to_string(from),
                             " makes chunks of irregular lengths (at most ",
                             axis_chunks::max_irregular, "): rechunk first");
  }
  // One output chunk per input chunk passed through: each step jumps to the next of them, so a
  // slice costs its output's chunks, however many the input has.
  axis_chunks chunks;
  for (index_t k = 0; k < r.count;) {
    const index_t i = r.start + k * r.step;
    const index_t c = from.find(i);
    const index_t lo = from.start(c), hi = from.start(c + 1);
    const index_t here = 1 + (r.step > 0 ? (hi - 1 - i) / r.step : (i - lo) / (-r.step));
    const index_t taken = std::min(here, r.count - k);
    chunks.push_back(taken);
    k += taken;
  }
  return chunks;
}

std::string describe(const node& n) {
  std::string what;
  switch (n.kind) {
    case node_kind::zarr_source:
      what = "open " + n.zarr->describe();
      break;
    case node_kind::memory_source:
      what = "array";
      break;
    case node_kind::chunk_source:
      what = "open " + n.source->describe();
      break;
    case node_kind::fill:
      what = "full";
      break;
    case node_kind::arange:
      what = "arange";
      break;
    case node_kind::extract:
      what = "extract";
      break;
    case node_kind::points:
      what = "vindex";
      break;
    case node_kind::random: {
      static const char* names[] = {"uniform", "normal", "integers", "poisson"};
      what = std::string("random.") + names[static_cast<int>(n.random.what)];
      break;
    }
    case node_kind::elementwise:
      switch (n.elementwise.what) {
        case elementwise_kind::unary:
          what = name_of(n.elementwise.unary);
          break;
        case elementwise_kind::binary:
          what = name_of(n.elementwise.binary);
          break;
        case elementwise_kind::where:
          what = "where";
          break;
        case elementwise_kind::cast:
          what = "astype";
          break;
      }
      break;
    case node_kind::reduction:
      what = n.reduction.user ? n.reduction.user->name.c_str() : name_of(n.reduction.op);
      break;
    case node_kind::slice:
      what = "getitem";
      break;
    case node_kind::transpose:
      what = "transpose";
      break;
    case node_kind::concatenate:
      what = "concatenate";
      break;
    case node_kind::take:
      what = "take";
      break;
    case node_kind::reshape:
      what = "reshape";
      break;
    case node_kind::rechunk:
      what = "rechunk";
      break;
    case node_kind::scan: {
      static const char* names[] = {"cumsum",     "cumprod", "nancumsum",
                                    "nancumprod", "lfilter", "sosfilt"};
      what = names[static_cast<int>(n.scan.op)];
      if (n.scan.both_ways) what = n.scan.op == scan_op::sosfilt ? "sosfiltfilt" : "filtfilt";
      break;
    }
    case node_kind::select:
      what = n.select->name;
      break;
    case node_kind::blocks:
      what = n.blocks->name;
      break;
    case node_kind::materialised:
      what = n.result && n.result->spill ? "spilled result" : "result";
      break;
  }
  return what + " " + n.dtype.name() + " " + to_string(n.shape);
}

}  // namespace detail

using detail::node;
using detail::node_kind;
using detail::node_ptr;

namespace {

int category(const dtype& t) {
  return t.is_bool() ? 0 : (t.is_float() ? 2 : 1);
}

dtype native(scalar_kind k) {
  return make_dtype(k);
}

scalar_kind signed_of_size(std::size_t size) {
  switch (size) {
    case 1:
      return scalar_kind::int8;
    case 2:
      return scalar_kind::int16;
    case 4:
      return scalar_kind::int32;
    default:
      return scalar_kind::int64;
  }
}

// NumPy's promotion of two dtypes (the table of np.result_type for numeric types).
dtype promote(const dtype& a, const dtype& b) {
  if (a.kind == b.kind) return native(a.kind);
  if (a.is_bool()) return native(b.kind);
  if (b.is_bool()) return native(a.kind);
  if (a.is_float() || b.is_float()) {
    if (a.is_float() && b.is_float()) return native(scalar_kind::float64);
    const dtype& f = a.is_float() ? a : b;
    const dtype& i = a.is_float() ? b : a;
    if (f.kind == scalar_kind::float32 && i.itemsize() <= 2) return native(scalar_kind::float32);
    return native(scalar_kind::float64);
  }
  if (a.is_signed_int() == b.is_signed_int()) {
    return native(a.itemsize() >= b.itemsize() ? a.kind : b.kind);
  }
  const dtype& s = a.is_signed_int() ? a : b;
  const dtype& u = a.is_signed_int() ? b : a;
  if (u.itemsize() < s.itemsize()) return native(s.kind);
  if (u.itemsize() == 8) return native(scalar_kind::float64);
  return native(signed_of_size(u.itemsize() * 2));
}

const node& get(const array& a) {
  if (!a.node()) throw_error<value_error>("operation on an empty chunkarr::array");
  return *a.node();
}

node_ptr scalar_node(const scalar& s) {
  auto n = std::make_shared<node>();
  n->kind = node_kind::fill;
  n->weak_scalar = true;
  std::visit(
      [&](auto v) {
        using T = decltype(v);
        n->dtype = native(kind_of<T>::value);
        n->fill_value.resize(sizeof(T));
        std::memcpy(n->fill_value.data(), &v, sizeof(T));
      },
      s.value);
  return n;
}

node_ptr as_node(const operand& o) {
  if (const array* a = std::get_if<array>(&o.value)) {
    get(*a);
    return a->node();
  }
  return scalar_node(std::get<scalar>(o.value));
}

// NEP 50: a weak (Python) scalar takes the other side's dtype unless its kind is higher.
// A weak node is a literal (a fill node holding its value) or an operation over weak scalars
// only (`2*3`, `~5`: an elementwise node, whose value exists only once the plan runs).
dtype promote_nodes(const node& a, const node& b) {
  const node& strong = a.weak_scalar && !b.weak_scalar ? b : a;
  const node& weak = a.weak_scalar && !b.weak_scalar ? a : b;
  if (strong.weak_scalar || !weak.weak_scalar) return promote(a.dtype, b.dtype);
  if (category(weak.dtype) <= category(strong.dtype)) {
    // A Python int must fit the integer dtype it takes on. Only a literal's value is known
    // while the expression is built; a computed one has no fill_value to read, so it is not
    // checked here and converts to that dtype as a cast does when it runs.
    if (weak.kind == node_kind::fill && weak.dtype.kind == scalar_kind::int64 &&
        !strong.dtype.is_float() && !strong.dtype.is_bool()) {
      std::int64_t v;
      std::memcpy(&v, weak.fill_value.data(), 8);
      const bool fits = visit_kind(strong.dtype.kind, [&](auto sample) {
        using T = decltype(sample);
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_unsigned_v<T>) {
            return v >= 0 && static_cast<std::uint64_t>(v) <= std::numeric_limits<T>::max();
          } else {
            return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
          }
        }
        return true;
      });
      if (!fits) {
        throw_error<value_error>("Python integer ", v, " is out of bounds for ",
                                 strong.dtype.name());
      }
    }
    return native(strong.dtype.kind);
  }
  return native(weak.dtype.kind);  // int64 or float64
}

// Output chunks of a broadcast: per output axis, the chunks of the first input that spans it
// (inputs are tried largest first, so the big array's chunking wins).
chunks_t broadcast_chunks(const shape_t& shape, std::vector<const node*> inputs) {
  std::stable_sort(inputs.begin(), inputs.end(), [](const node* a, const node* b) {
    return element_count(a->shape) > element_count(b->shape);
  });
  chunks_t chunks(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    for (const node* in : inputs) {
      const std::size_t offset = shape.size() - in->shape.size();
      if (d >= offset && in->shape[d - offset] == shape[d]) {
        chunks[d] = in->chunks[d - offset];
        break;
      }
    }
    if (chunks[d].empty() && shape[d] > 0) chunks[d] = {shape[d]};
  }
  return chunks;
}

shape_t broadcast_shapes(const std::vector<const node*>& inputs, const char* op) {
  std::size_t ndim = 0;
  for (const node* n : inputs) ndim = std::max(ndim, n->shape.size());
  shape_t shape(ndim, 1);
  for (const node* n : inputs) {
    const std::size_t offset = ndim - n->shape.size();
    for (std::size_t d = 0; d < n->shape.size(); ++d) {
      const index_t extent = n->shape[d];
      index_t& out = shape[offset + d];
      if (extent == out || extent == 1) continue;
      if (out == 1) {
        out = extent;
        continue;
      }
      std::string shapes;
      for (const node* m : inputs) shapes += (shapes.empty() ? "" : " ") + to_string(m->shape);
      throw_error<shape_error>(op, ": operands could not be broadcast together with shapes ",
                               shapes);
    }
  }
  return shape;
}

array make_elementwise(detail::elementwise_payload payload, std::vector<node_ptr> inputs, dtype out,
                       const char* op) {
  std::vector<const node*> raw;
  for (const node_ptr& n : inputs) raw.push_back(n.get());
  auto n = std::make_shared<node>();
  n->kind = node_kind::elementwise;
  n->shape = broadcast_shapes(raw, op);
  n->dtype = out;
  n->chunks = broadcast_chunks(n->shape, raw);
  n->weak_scalar =
      std::all_of(raw.begin(), raw.end(), [](const node* m) { return m->weak_scalar; });
  n->elementwise = payload;
  n->inputs = std::move(inputs);
  return array(std::move(n));
}

dtype float_for(const dtype& t) {
  if (t.is_float()) return native(t.kind);
  // NumPy picks float16 for bool and 8-bit ints; chunkarr has no float16 and uses float32.
  if (t.itemsize() <= 2) return native(scalar_kind::float32);
  return native(scalar_kind::float64);
}

int normalize_axis(int axis, std::size_t ndim, const char* op) {
  const int n = static_cast<int>(ndim);
  if (axis < -n || axis >= n) {
    throw_error<shape_error>(op, ": axis ", axis, " is out of bounds for an array of dimension ",
                             ndim);
  }
  return axis < 0 ? axis + n : axis;
}

}  // namespace

namespace detail {

const node& node_of(const array& a) {
  return get(a);
}
dtype promote_types(const dtype& a, const dtype& b) {
  return promote(a, b);
}
int normalize_axis(int axis, std::size_t ndim, const char* op) {
  return chunkarr::normalize_axis(axis, ndim, op);
}

}  // namespace detail

// ---- array ---------------------------------------------------------------------------------

array::array(std::shared_ptr<const detail::node> n) : node_(std::move(n)) {
  if (!node_ || node_->depth > 0) return;
  std::uint32_t below = 0;
  for (const node_ptr& in : node_->inputs) below = std::max(below, in->depth);
  if (below >= detail::max_depth) {
    throw_error<value_error>(describe(*node_), ": the expression would be more than ",
                             detail::max_depth,
                             " operations deep; store an intermediate result and continue from it");
  }
  node_->depth = below + 1;
}
const shape_t& array::shape() const {
  return get(*this).shape;
}
dtype array::dtype() const {
  return get(*this).dtype;
}
const chunks_t& array::chunks() const {
  return get(*this).chunks;
}
index_t array::size() const {
  return element_count(shape());
}
bool array::is_weak_scalar() const {
  return get(*this).weak_scalar;
}
index_t array::nbytes() const {
  return checked_mul(size(), static_cast<index_t>(dtype().itemsize()), "array size in bytes");
}

array array::astype(chunkarr::dtype t) const {
  get(*this);
  detail::elementwise_payload p;
  p.what = detail::elementwise_kind::cast;
  p.compute = native(t.kind);
  return make_elementwise(p, {node_}, native(t.kind), "astype");
}

array array::transpose(std::vector<int> axes) const {
  const detail::node& in = get(*this);
  const std::size_t ndim = in.shape.size();
  if (axes.empty()) {
    for (std::size_t d = ndim; d-- > 0;) axes.push_back(static_cast<int>(d));
  }
  if (axes.size() != ndim) {
    throw_error<shape_error>("transpose: axes don't match array of shape ", to_string(in.shape));
  }
  std::vector<bool> seen(ndim, false);
  for (int& a : axes) {
    a = normalize_axis(a, ndim, "transpose");
    if (seen[a]) throw_error<shape_error>("transpose: repeated axis in transpose");
    seen[a] = true;
  }
  // A transpose of a transpose is one transpose of the original (or the original itself).
  if (in.kind == node_kind::transpose) {
    for (int& a : axes) a = in.permutation[a];
    return array(in.inputs[0]).transpose(std::move(axes));
  }
  bool identity = true;
  for (std::size_t d = 0; d < ndim; ++d) identity = identity && axes[d] == static_cast<int>(d);
  if (identity) return *this;
  auto n = std::make_shared<detail::node>();
  n->kind = node_kind::transpose;
  n->dtype = in.dtype;
  for (int a : axes) {
    n->shape.push_back(in.shape[a]);
    n->chunks.push_back(in.chunks[a]);
  }
  n->permutation = std::move(axes);
  n->inputs = {node_};
  return array(std::move(n));
}

array array::operator()(std::vector<index_spec> subscripts) const {
  const detail::node& in = get(*this);
  const std::size_t ndim = in.shape.size();
  std::size_t consumed = 0, ellipses = 0;
  for (const index_spec& s : subscripts) {
    if (s.what == index_spec::kind::ellipsis)
      ++ellipses;
    else if (s.what != index_spec::kind::newaxis)
      ++consumed;
  }
  if (ellipses > 1) throw_error<shape_error>("an index can only have a single ellipsis ('...')");
  if (consumed > ndim) {
    throw_error<shape_error>("too many indices for array of shape ", to_string(in.shape), ": ",
                             consumed, " were indexed");
  }
  // Expand the ellipsis (or pad at the end) with full slices.
  std::vector<index_spec> full;
  bool expanded = false;
  for (const index_spec& s : subscripts) {
    if (s.what == index_spec::kind::ellipsis) {
      for (std::size_t i = 0; i < ndim - consumed; ++i) full.push_back(all);
      expanded = true;
    } else {
      full.push_back(s);
    }
  }
  if (!expanded) {
    for (std::size_t i = consumed; i < ndim; ++i) full.push_back(all);
  }
  auto n = std::make_shared<detail::node>();
  n->kind = node_kind::slice;
  n->dtype = in.dtype;
  detail::slice_payload& p = n->slicing;
  std::size_t axis = 0;
  for (const index_spec& s : full) {
    if (s.what == index_spec::kind::newaxis) {
      n->shape.push_back(1);
      n->chunks.push_back({1});
      p.output_is_new.push_back(true);
      continue;
    }
    const index_t extent = in.shape[axis];
    slice_range r;
    if (s.what == index_spec::kind::integer) {
      try {
        r.start = normalize_index(s.integer, extent);
      } catch (const shape_error&) {
        throw_error<shape_error>("index ", s.integer, " is out of bounds for axis ", axis,
                                 " with size ", extent);
      }
      r.step = 1;
      r.count = 1;
      r.stop = r.start + 1;
      p.ranges.push_back(r);
      p.dropped.push_back(true);
      ++axis;
      continue;
    }
    r = s.range.normalize(extent);
    p.ranges.push_back(r);
    p.dropped.push_back(false);
    p.output_is_new.push_back(false);
    n->shape.push_back(r.count);
    // Output chunks follow the input chunks the selection passes through.
    n->chunks.push_back(detail::sliced_chunks(in.chunks[axis], r));
    ++axis;
  }
  n->inputs = {node_};
  return array(std::move(n));
}

// ---- sources -------------------------------------------------------------------------------

array from_zarr(const zarr_array& z) {
  auto n = std::make_shared<node>();
  n->kind = node_kind::zarr_source;
  n->shape = z.shape();
  n->dtype = native(z.dtype().kind);
  n->chunks = detail::regular_chunks(z.shape(), z.metadata().chunks);
  n->zarr = std::make_shared<const zarr_array>(z);
  return array(std::move(n));
}

array from_source(std::shared_ptr<const chunk_source> source) {
  if (!source) throw_error<value_error>("from_source: no source");
  auto n = std::make_shared<node>();
  n->kind = node_kind::chunk_source;
  n->shape = source->shape();
  n->dtype = make_dtype(source->kind());
  n->chunks = detail::regular_chunks(n->shape, source->chunk_shape());
  n->source = std::move(source);
  return array(std::move(n));
}

array open(const std::filesystem::path& path) {
  return from_zarr(zarr_array::open(path));
}

array from_buffer(std::span<const std::byte> data, shape_t shape, dtype t, shape_t chunk_shape) {
  chunk_grid(shape, chunk_shape.empty() ? shape_t(shape.size(), 1) : chunk_shape);  // validates
  const index_t bytes_needed =
      checked_mul(element_count(shape), static_cast<index_t>(t.itemsize()), "array size");
  if (static_cast<index_t>(data.size()) != bytes_needed) {
    throw_error<shape_error>("from_buffer: ", data.size(), " bytes for shape ", to_string(shape),
                             " of ", t.name(), ", expected ", bytes_needed);
  }
  auto n = std::make_shared<node>();
  n->kind = node_kind::memory_source;
  n->shape = std::move(shape);
  n->dtype = native(t.kind);
  n->chunks = detail::regular_chunks(n->shape, chunk_shape);
  n->values = std::make_shared<const bytes>(data.begin(), data.end());
  return array(std::move(n));
}

array full(shape_t shape, scalar value, dtype t, shape_t chunk_shape) {
  chunk_grid(shape, chunk_shape.empty() ? shape_t(shape.size(), 1) : chunk_shape);
  auto n = std::make_shared<node>();
  n->kind = node_kind::fill;
  n->shape = std::move(shape);
  n->dtype = native(t.kind);
  n->chunks = detail::regular_chunks(n->shape, chunk_shape);
  n->fill_value.resize(t.itemsize());
  visit_kind(t.kind, [&](auto sample) {
    using T = decltype(sample);
    const T v = std::visit([](auto x) { return static_cast<T>(x); }, value.value);
    std::memcpy(n->fill_value.data(), &v, sizeof(T));
  });
  return array(std::move(n));
}

array zeros(shape_t shape, dtype t, shape_t chunk_shape) {
  return full(std::move(shape), 0, t, std::move(chunk_shape));
}
array ones(shape_t shape, dtype t, shape_t chunk_shape) {
  return full(std::move(shape), 1, t, std::move(chunk_shape));
}

array arange(index_t count, dtype t, index_t chunk) {
  if (count < 0) throw_error<shape_error>("arange: negative length ", count);
  auto n = std::make_shared<node>();
  n->kind = node_kind::arange;
  n->shape = {count};
  n->dtype = native(t.kind);
  n->chunks = detail::regular_chunks(n->shape, chunk > 0 ? shape_t{chunk} : shape_t{});
  return array(std::move(n));
}

// ---- elementwise ---------------------------------------------------------------------------

dtype result_type(const operand& a, const operand& b) {
  return promote_nodes(*as_node(a), *as_node(b));
}

array apply(binary_op op, const operand& a, const operand& b) {
  node_ptr x = as_node(a), y = as_node(b);
  const char* name = name_of(op);
  dtype compute = promote_nodes(*x, *y);
  dtype out = compute;
  switch (rule_of(op)) {
    case binary_rule::arithmetic:
      break;
    case binary_rule::minus:
      if (compute.is_bool()) {
        throw_error<type_error>(name, ": the boolean ", name,
                                ", the `-` operator, is not supported; use the bitwise_xor, the "
                                "`^` operator, instead");
      }
      break;
    case binary_rule::float_result:
      if (!compute.is_float()) compute = out = native(scalar_kind::float64);
      break;
    case binary_rule::bool_as_int8:
      if (compute.is_bool()) compute = out = native(scalar_kind::int8);
      break;
    case binary_rule::comparison:
      out = native(scalar_kind::bool_);
      break;
    case binary_rule::bitwise:
      if (compute.is_float()) {
        throw_error<type_error>(name, ": not supported for ", x->dtype.name(), " and ",
                                y->dtype.name(), " (booleans and integers only)");
      }
      break;
  }
  detail::elementwise_payload p;
  p.what = detail::elementwise_kind::binary;
  p.binary = op;
  p.compute = compute;
  return make_elementwise(p, {x, y}, out, name);
}

array apply(unary_op op, const array& a) {
  const node& in = get(a);
  const char* name = name_of(op);
  dtype compute = native(in.dtype.kind);
  dtype out = compute;
  switch (rule_of(op)) {
    case unary_rule::float_result:
      compute = out = float_for(in.dtype);
      break;
    case unary_rule::same_type:
      break;
    case unary_rule::numeric:
      if (compute.is_bool()) throw_error<type_error>(name, ": not supported for bool");
      break;
    case unary_rule::minus:
      if (compute.is_bool()) {
        throw_error<type_error>(name, ": the boolean ", name,
                                ", the `-` operator, is not supported; use the `~` operator or "
                                "logical_not instead");
      }
      break;
    case unary_rule::integer:
      if (compute.is_float()) {
        throw_error<type_error>(name, ": not supported for ", in.dtype.name(),
                                " (booleans and integers only)");
      }
      break;
    case unary_rule::predicate:
      out = native(scalar_kind::bool_);
      break;
  }
  detail::elementwise_payload p;
  p.what = detail::elementwise_kind::unary;
  p.unary = op;
  p.compute = compute;
  return make_elementwise(p, {a.node()}, out, name);
}

array where(const operand& condition, const operand& a, const operand& b) {
  node_ptr c = as_node(condition), x = as_node(a), y = as_node(b);
  detail::elementwise_payload p;
  p.what = detail::elementwise_kind::where;
  p.compute = promote_nodes(*x, *y);
  return make_elementwise(p, {c, x, y}, p.compute, "where");
}

array clip(const array& a, const operand& lo, const operand& hi) {
  return apply(binary_op::minimum, apply(binary_op::maximum, a, lo), hi);
}

// ---- reductions ----------------------------------------------------------------------------

array reduce(reduce_op op, const array& a, axes_t axes, bool keepdims, int ddof) {
  const node& in = get(a);
  const char* name = name_of(op);
  const std::size_t ndim = in.shape.size();
  detail::reduction_payload p;
  p.op = op;
  p.keepdims = keepdims;
  p.ddof = ddof;
  p.reduced.assign(ndim, axes.empty());
  for (int axis : axes) {
    const int d = normalize_axis(axis, ndim, name);
    if (p.reduced[d]) throw_error<shape_error>(name, ": duplicate value in 'axis'");
    p.reduced[d] = true;
  }
  const reduce_rule rule = rule_of(op);
  const bool arg = rule == reduce_rule::index;
  if (arg) {
    if (axes.size() > 1) {
      throw_error<shape_error>(name, ": takes one axis or all, not ", axes.size());
    }
    p.flat_index = axes.empty();
  }
  const index_t reduced_count = [&] {
    index_t n = 1;
    for (std::size_t d = 0; d < ndim; ++d) {
      if (p.reduced[d]) n *= in.shape[d];
    }
    return n;
  }();
  if (reduced_count == 0 && (arg || rule == reduce_rule::extreme)) {
    throw_error<shape_error>(name, ": zero-size array to reduction operation ", name,
                             " which has no identity (shape ", to_string(in.shape), ")");
  }
  const dtype t = in.dtype;
  dtype out;
  switch (rule) {
    case reduce_rule::accumulate:
      if (t.is_bool() || t.is_signed_int())
        out = native(scalar_kind::int64);
      else if (t.is_unsigned_int())
        out = native(scalar_kind::uint64);
      else
        out = native(t.kind);
      break;
    case reduce_rule::float_result:
      out = t.is_float() ? native(t.kind) : native(scalar_kind::float64);
      break;
    case reduce_rule::extreme:
      out = native(t.kind);
      break;
    case reduce_rule::logical:
      out = native(scalar_kind::bool_);
      break;
    case reduce_rule::index:
      out = native(scalar_kind::int64);
      break;
  }
  auto n = std::make_shared<node>();
  n->kind = node_kind::reduction;
  n->dtype = out;
  for (std::size_t d = 0; d < ndim; ++d) {
    if (!p.reduced[d]) {
      n->shape.push_back(in.shape[d]);
      n->chunks.push_back(in.chunks[d]);
    } else if (keepdims) {
      n->shape.push_back(1);
      n->chunks.push_back({1});
    }
  }
  n->reduction = std::move(p);
  n->inputs = {a.node()};
  return array(std::move(n));
}

array ptp(const array& a, axes_t axes, bool keepdims) {
  if (get(a).dtype.is_bool()) throw_error<type_error>("ptp: booleans cannot be subtracted");
  return apply(binary_op::subtract, reduce(reduce_op::max, a, axes, keepdims),
               reduce(reduce_op::min, a, axes, keepdims));
}

array count_nonzero(const array& a, axes_t axes, bool keepdims) {
  const dtype b = native(scalar_kind::bool_);
  const array mask = get(a).dtype.is_bool() ? a : a.astype(b);
  return reduce(reduce_op::sum, mask, std::move(axes), keepdims);
}

array average(const array& a, axes_t axes, std::optional<array> weights, bool keepdims) {
  if (!weights) return reduce(reduce_op::mean, a, std::move(axes), keepdims);
  const node& in = get(a);
  const node& w = get(*weights);
  const dtype f8 = native(scalar_kind::float64);
  array wt = *weights;
  if (w.shape != in.shape) {
    if (axes.size() != 1)
      throw_error<shape_error>("average: axis must be given when shapes of a and weights differ");
    if (w.shape.size() != 1)
      throw_error<shape_error>("average: 1D weights expected when shapes of a and weights differ");
    const int axis = normalize_axis(axes[0], in.shape.size(), "average");
    if (w.shape[0] != in.shape[static_cast<std::size_t>(axis)]) {
      throw_error<shape_error>("average: length of weights (", w.shape[0],
                               ") differs from that of the axis (",
                               in.shape[static_cast<std::size_t>(axis)], ")");
    }
    shape_t along(in.shape.size(), 1);
    along[static_cast<std::size_t>(axis)] = w.shape[0];
    wt = reshape(wt, along);
  }
  const array num = reduce(reduce_op::sum, apply(binary_op::multiply, a.astype(f8), wt.astype(f8)),
                           axes, keepdims);
  const array den = reduce(reduce_op::sum, broadcast_to(wt.astype(f8), in.shape), axes, keepdims);
  return apply(binary_op::true_divide, num, den);
}

// ---- chunking ------------------------------------------------------------------------------

array rechunk(const array& a, shape_t chunk_shape) {
  const node& in = get(a);
  if (chunk_shape.size() != in.shape.size()) {
    throw_error<shape_error>("rechunk: chunks ", to_string(chunk_shape), " do not match shape ",
                             to_string(in.shape));
  }
  for (std::size_t d = 0; d < chunk_shape.size(); ++d) {
    if (chunk_shape[d] == -1) chunk_shape[d] = std::max<index_t>(in.shape[d], 1);
    if (chunk_shape[d] <= 0) {
      throw_error<shape_error>("rechunk: chunks ", to_string(chunk_shape),
                               " must be positive (or -1 for a whole axis)");
    }
  }
  chunks_t chunks = detail::regular_chunks(in.shape, chunk_shape);
  if (chunks == in.chunks) return a;
  auto n = std::make_shared<node>();
  n->kind = node_kind::rechunk;
  n->shape = in.shape;
  n->dtype = in.dtype;
  n->chunks = std::move(chunks);
  n->weak_scalar = in.weak_scalar;
  n->inputs = {a.node()};
  return array(std::move(n));
}

}  // namespace chunkarr
