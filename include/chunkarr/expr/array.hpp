// The lazy array: chunkarr's expression API.
//
// An `array` is a cheap, immutable handle to a node of an expression DAG. Building one reads
// no data: `open` reads only metadata, arithmetic and reductions only infer the result's
// shape, dtype and chunking (NumPy broadcasting and NumPy 2 / NEP 50 promotion, with Python
// scalars weak). Data moves only when a sink — `compute`, `store`, `to_dot` in
// <chunkarr/exec/compute.hpp> — lowers the DAG to per-chunk tasks and runs them under a
// memory budget. Errors in an expression (shapes that do not broadcast, an axis out of range,
// an operation a dtype does not support) are thrown when it is built, naming the operation,
// shapes and dtypes.
//
// Arrays are values: copying one copies a pointer, and they may be shared across threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "chunkarr/core/axis_chunks.hpp"
#include "chunkarr/core/dtype.hpp"
#include "chunkarr/core/index.hpp"
#include "chunkarr/core/slice.hpp"
#include "chunkarr/expr/operations.hpp"

namespace chunkarr {

class zarr_array;
namespace detail {
struct node;
}

/// Chunk sizes along each axis, as dask keeps them: ((256, 256, 100), (8192,)).
using chunks_t = std::vector<axis_chunks>;

/// A Python scalar in an expression: weak in promotion (NEP 50), so `x * 2` keeps x's dtype.
struct scalar {
  std::variant<bool, std::int64_t, double> value;
  scalar(bool v) : value(v) {}
  scalar(int v) : value(std::int64_t{v}) {}
  scalar(long v) : value(std::int64_t{v}) {}
  scalar(long long v) : value(std::int64_t{v}) {}
  scalar(double v) : value(v) {}
  scalar(float v) : value(double{v}) {}
};

/// One subscript of `x(...)`: an integer, a slice, all of an axis, `...`, or a new axis.
struct index_spec {
  enum class kind { integer, slice, ellipsis, newaxis };
  kind what = kind::slice;
  index_t integer = 0;
  chunkarr::slice range;

  index_spec(int i) : what(kind::integer), integer(i) {}
  index_spec(long i) : what(kind::integer), integer(i) {}
  index_spec(long long i) : what(kind::integer), integer(i) {}
  index_spec(chunkarr::slice s) : range(s) {}
  explicit index_spec(kind k) : what(k) {}
};

/// `:` (all of an axis), `...`, and `np.newaxis`.
inline const index_spec all{chunkarr::slice{}};
inline const index_spec ellipsis{index_spec::kind::ellipsis};
inline const index_spec newaxis{index_spec::kind::newaxis};
/// `start:stop` and `start:stop:step`; std::nullopt leaves a bound out.
inline index_spec range(std::optional<index_t> start, std::optional<index_t> stop,
                        std::optional<index_t> step = std::nullopt) {
  return index_spec(chunkarr::slice{start, stop, step});
}

class array {
 public:
  /// An empty handle; every operation on it throws value_error.
  array() = default;
  explicit array(std::shared_ptr<const detail::node> n);

  const shape_t& shape() const;
  chunkarr::dtype dtype() const;
  const chunks_t& chunks() const;
  std::size_t ndim() const { return shape().size(); }
  index_t size() const;
  /// Bytes the values would take in memory.
  index_t nbytes() const;
  explicit operator bool() const { return node_ != nullptr; }
  /// Whether this is a Python scalar: a literal, or arithmetic on literals only (`2 * 3`),
  /// weak in promotion (NEP 50) and read from no input.
  bool is_weak_scalar() const;

  /// NumPy's astype (unsafe casting: float -> int truncates, as NumPy does).
  array astype(chunkarr::dtype t) const;
  /// Reverses the axes (`x.T`), or permutes them as `axes` says.
  array transpose(std::vector<int> axes = {}) const;
  array T() const { return transpose(); }
  /// NumPy's `x.reshape(shape)` and `x.ravel()`: the free functions reshape and ravel.
  array reshape(shape_t shape) const;
  array ravel() const;

  /// NumPy basic indexing: `x(0, range(10, 20), all)`, `x(ellipsis, newaxis)`.
  array operator()(std::vector<index_spec> subscripts) const;
  template <class... S>
  array operator()(S... subscripts) const {
    return (*this)(std::vector<index_spec>{index_spec(subscripts)...});
  }

  const std::shared_ptr<const detail::node>& node() const { return node_; }

 private:
  std::shared_ptr<const detail::node> node_;
};

// ---- sources -----------------------------------------------------------------------------

/// The Zarr array at a location: a directory (`exp.zarr/recordings/lfp`), `file://…` or
/// `memory://name/path` (store/location.hpp). Reads only the metadata now.
array open(const std::filesystem::path& path);
/// A Zarr array already opened.
array from_zarr(const zarr_array& z);

/// Chunked data that is not a Zarr array (an HDF5 dataset, say): what the engine needs to
/// read it. Implementations live in adapter layers (`io/`); `from_source` makes one lazy.
class chunk_source {
 public:
  virtual ~chunk_source() = default;
  virtual const shape_t& shape() const = 0;
  /// The kind of the values `read` produces (always in native byte order).
  virtual scalar_kind kind() const = 0;
  /// The storage chunking, which the engine's tasks follow.
  virtual const shape_t& chunk_shape() const = 0;
  /// Reads `region` into `out` (C order, native byte order, region.size() * itemsize bytes).
  /// Called from several threads at once.
  virtual void read(const box& region, std::span<std::byte> out) const = 0;
  /// Bytes a read needs beyond its output (stored and decoded chunks), for the memory budget.
  virtual index_t scratch_bytes() const = 0;
  /// `file.h5:/recordings/lfp`, for messages and graphs.
  virtual std::string describe() const = 0;
  /// The file the values are read from, when they are in one ("" otherwise): pipelines take
  /// its size and modification time as the stamp of every chunk's values.
  virtual std::string file() const { return {}; }
};
array from_source(std::shared_ptr<const chunk_source> source);
/// Values in memory (C order, native byte order, element_count(shape) * itemsize bytes),
/// copied now, split into chunks of `chunk_shape` (default: one chunk).
array from_buffer(std::span<const std::byte> data, shape_t shape, chunkarr::dtype t,
                  shape_t chunk_shape = {});
array full(shape_t shape, scalar value, chunkarr::dtype t, shape_t chunk_shape = {});
array zeros(shape_t shape, chunkarr::dtype t, shape_t chunk_shape = {});
array ones(shape_t shape, chunkarr::dtype t, shape_t chunk_shape = {});
/// 0, 1, …, n-1 (as NumPy's arange(n, dtype=t)).
array arange(index_t n, chunkarr::dtype t, index_t chunk = 0);

/// The chunks the creation functions below make when given none: about 2^22 elements a chunk
/// (16 MiB of float32), trailing axes whole while they fit, the axis where they stop fitting
/// cut to what is left, leading axes in chunks of 1. They compute their values where they are
/// read: nothing is held.
shape_t auto_chunks(const shape_t& shape);

/// NumPy's arange(start, stop, step): ceil((stop - start) / step) values start + i * step.
array arange(double start, double stop, double step, chunkarr::dtype t, index_t chunk = 0);
/// NumPy's linspace: `num` values from start to stop (inclusive when `endpoint`).
array linspace(double start, double stop, index_t num, bool endpoint = true,
               chunkarr::dtype t = make_dtype(scalar_kind::float64), index_t chunk = 0);
/// NumPy's eye: N x M (M = N by default) with ones on diagonal k (0: the main one).
array eye(index_t n, std::optional<index_t> m = std::nullopt, index_t k = 0,
          chunkarr::dtype t = make_dtype(scalar_kind::float64), shape_t chunk_shape = {});
/// NumPy's identity: eye(n).
array identity(index_t n, chunkarr::dtype t = make_dtype(scalar_kind::float64),
               shape_t chunk_shape = {});
/// NumPy's tri: N x M with ones at and below diagonal k.
array tri(index_t n, std::optional<index_t> m = std::nullopt, index_t k = 0,
          chunkarr::dtype t = make_dtype(scalar_kind::float64), shape_t chunk_shape = {});
/// NumPy's indices: shape (len(dimensions), *dimensions), grid d holding the index along d.
array indices(shape_t dimensions, chunkarr::dtype t = make_dtype(scalar_kind::int64),
              shape_t chunk_shape = {});
/// NumPy's meshgrid over 1-d (or flattened) arrays, 'xy' indexing unless `matrix_indexing`.
std::vector<array> meshgrid(const std::vector<array>& xs, bool matrix_indexing = false);
/// NumPy's full_like, zeros_like, ones_like (empty_like is zeros_like): a's shape and chunks,
/// a's dtype unless `t`.
array full_like(const array& a, scalar value, std::optional<chunkarr::dtype> t = std::nullopt);
array zeros_like(const array& a, std::optional<chunkarr::dtype> t = std::nullopt);
array ones_like(const array& a, std::optional<chunkarr::dtype> t = std::nullopt);

// ---- elementwise -------------------------------------------------------------------------

/// An operand: an array or a (weak) Python scalar.
struct operand {
  std::variant<array, scalar> value;
  operand(array a) : value(std::move(a)) {}
  operand(scalar s) : value(s) {}
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  operand(T v) : value(scalar(v)) {}
};

array apply(binary_op op, const operand& a, const operand& b);
array apply(unary_op op, const array& a);
/// Elements of `a` where `condition` is true, else of `b`.
array where(const operand& condition, const operand& a, const operand& b);
/// min(max(a, lo), hi), elementwise.
array clip(const array& a, const operand& lo, const operand& hi);
/// NumPy's result_type for two operands (NEP 50: scalars are weak).
chunkarr::dtype result_type(const operand& a, const operand& b);

// chunkarr::sqrt(a), chunkarr::maximum(a, b), … for the table entries whose api is `function`.
#define CHUNKARR_UNARY_API_function(op) \
  inline array op(const array& a) {     \
    return apply(unary_op::op, a);      \
  }
#define CHUNKARR_BINARY_API_function(op)                \
  inline array op(const operand& a, const operand& b) { \
    return apply(binary_op::op, a, b);                  \
  }
#define CHUNKARR_UNARY_API_operator_only(op)
#define CHUNKARR_BINARY_API_operator_only(op)
#define CHUNKARR_UNARY_API(op, api, ...) CHUNKARR_UNARY_API_##api(op)
#define CHUNKARR_BINARY_API(op, api, ...) CHUNKARR_BINARY_API_##api(op)
CHUNKARR_UNARY_OPS(CHUNKARR_UNARY_API)
CHUNKARR_BINARY_OPS(CHUNKARR_BINARY_API)
#undef CHUNKARR_UNARY_API
#undef CHUNKARR_BINARY_API
#undef CHUNKARR_UNARY_API_function
#undef CHUNKARR_BINARY_API_function
#undef CHUNKARR_UNARY_API_operator_only
#undef CHUNKARR_BINARY_API_operator_only

#define CHUNKARR_OPERATOR(sym, op)                                      \
  inline array operator sym(const array& a, const array& b) {           \
    return apply(op, a, b);                                             \
  }                                                                     \
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> \
  array operator sym(const array& a, T b) {                             \
    return apply(op, a, b);                                             \
  }                                                                     \
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> \
  array operator sym(T a, const array& b) {                             \
    return apply(op, a, b);                                             \
  }
CHUNKARR_OPERATOR(+, binary_op::add)
CHUNKARR_OPERATOR(-, binary_op::subtract)
CHUNKARR_OPERATOR(*, binary_op::multiply)
CHUNKARR_OPERATOR(/, binary_op::true_divide)
CHUNKARR_OPERATOR(%, binary_op::remainder)
CHUNKARR_OPERATOR(==, binary_op::equal)
CHUNKARR_OPERATOR(!=, binary_op::not_equal)
CHUNKARR_OPERATOR(<, binary_op::less)
CHUNKARR_OPERATOR(<=, binary_op::less_equal)
CHUNKARR_OPERATOR(>, binary_op::greater)
CHUNKARR_OPERATOR(>=, binary_op::greater_equal)
CHUNKARR_OPERATOR(&, binary_op::bitwise_and)
CHUNKARR_OPERATOR(|, binary_op::bitwise_or)
CHUNKARR_OPERATOR(^, binary_op::bitwise_xor)
#undef CHUNKARR_OPERATOR
inline array operator-(const array& a) {
  return apply(unary_op::negative, a);
}
inline array operator~(const array& a) {
  return apply(unary_op::invert, a);
}

// ---- reductions --------------------------------------------------------------------------

/// Axes to reduce: empty means all (negative axes count from the end).
using axes_t = std::vector<int>;

/// Reduces `a` over `axes` (all when empty). `ddof` applies to var/std; argmin/argmax take
/// one axis or all (then the index is into the flattened array, as NumPy's).
array reduce(reduce_op op, const array& a, axes_t axes = {}, bool keepdims = false, int ddof = 0);

// chunkarr::sum(a), chunkarr::var(a, {0}, false, 1), … for the table entries whose api is
// `function` or `ddof_function`.
#define CHUNKARR_REDUCE_API_function(op)                                     \
  inline array op(const array& a, axes_t axes = {}, bool keepdims = false) { \
    return reduce(reduce_op::op, a, std::move(axes), keepdims);              \
  }
#define CHUNKARR_REDUCE_API_ddof_function(op)                                              \
  inline array op(const array& a, axes_t axes = {}, bool keepdims = false, int ddof = 0) { \
    return reduce(reduce_op::op, a, std::move(axes), keepdims, ddof);                      \
  }
#define CHUNKARR_REDUCE_API_by_hand(op)
#define CHUNKARR_REDUCE_API(op, api, ...) CHUNKARR_REDUCE_API_##api(op)
CHUNKARR_REDUCE_OPS(CHUNKARR_REDUCE_API)
#undef CHUNKARR_REDUCE_API
#undef CHUNKARR_REDUCE_API_function
#undef CHUNKARR_REDUCE_API_ddof_function
#undef CHUNKARR_REDUCE_API_by_hand
/// NumPy's `all` (the name `all` is the full slice `:`); `any_of` is `any`.
inline array all_of(const array& a, axes_t axes = {}, bool keepdims = false) {
  return reduce(reduce_op::all, a, std::move(axes), keepdims);
}
inline array any_of(const array& a, axes_t axes = {}, bool keepdims = false) {
  return reduce(reduce_op::any, a, std::move(axes), keepdims);
}
/// NumPy's `std` (named as xtensor's, since a function `std` would clash with namespace std
/// wherever `using namespace chunkarr` is in effect).
inline array stddev(const array& a, axes_t axes = {}, bool keepdims = false, int ddof = 0) {
  return reduce(reduce_op::std, a, std::move(axes), keepdims, ddof);
}
/// NumPy's ptp: max - min, in a's dtype (integers wrap, as NumPy's).
array ptp(const array& a, axes_t axes = {}, bool keepdims = false);
/// NumPy's count_nonzero (int64; NaN counts).
array count_nonzero(const array& a, axes_t axes = {}, bool keepdims = false);
/// NumPy's average: the mean over `axes`, or with `weights` (a's shape, or 1-d along the one
/// axis given) sum(a * w) / sum(w) in float64. Weights that sum to zero give inf or NaN where
/// NumPy raises ZeroDivisionError (the sum is known only when computed).
array average(const array& a, axes_t axes = {}, std::optional<array> weights = std::nullopt,
              bool keepdims = false);

// ---- joining -----------------------------------------------------------------------------

/// NumPy's concatenate: `arrays` joined along an existing `axis` (negative counts from the
/// end). The dtype is NumPy's result_type of them all. The result keeps the operands' chunks:
/// along `axis` one operand's after another's, along the other axes every boundary of any
/// operand (dask's unify_chunks), so nothing is rechunked.
array concatenate(const std::vector<array>& arrays, int axis = 0);
/// NumPy's stack: arrays of one shape joined along a new `axis`.
array stack(const std::vector<array>& arrays, int axis = 0);
/// NumPy's hstack (along the second axis; the first for 1-d arrays), vstack (the first axis,
/// 1-d arrays as rows) and dstack (the third axis, arrays raised to 3-d).
array hstack(const std::vector<array>& arrays);
array vstack(const std::vector<array>& arrays);
array dstack(const std::vector<array>& arrays);
/// A size-1 axis inserted at `axis` of the result (negative counts from its end).
array expand_dims(const array& a, int axis);
/// NumPy's atleast_1d/2d/3d: views with size-1 axes added as NumPy adds them.
array atleast_1d(const array& a);
array atleast_2d(const array& a);
array atleast_3d(const array& a);

/// One entry of `block`'s nested lists: an array, or a list of entries.
struct block_item {
  array leaf;
  std::vector<block_item> items;
  bool list = false;
  block_item(array a) : leaf(std::move(a)) {}
  block_item(std::initializer_list<block_item> entries) : items(entries), list(true) {}
  explicit block_item(std::vector<block_item> entries) : items(std::move(entries)), list(true) {}
  bool is_list() const { return list; }
};
/// NumPy's block: the innermost lists join along the last axis, the next along the one
/// before, …; arrays get leading size-1 axes up to the depth of the lists.
/// `block({{a, b}, {c, d}})` is a 2×2 arrangement.
array block(const block_item& arrays);

// ---- rearranging -------------------------------------------------------------------------

/// NumPy's squeeze: the length-1 axes removed (those of `axes`; every one when nullopt).
array squeeze(const array& a, std::optional<std::vector<int>> axes = std::nullopt);
/// NumPy's swapaxes and moveaxis (the other axes keep their order).
array swapaxes(const array& a, int axis1, int axis2);
array moveaxis(const array& a, std::vector<int> source, std::vector<int> destination);
/// NumPy's flip: the order of the elements reversed along `axes` (every axis when nullopt).
array flip(const array& a, std::optional<std::vector<int>> axes = std::nullopt);
/// NumPy's roll along `axes` (one shift for all, or one per axis); with no axes, of the
/// flattened array, by the sum of the shifts, in a's shape.
array roll(const array& a, std::vector<index_t> shifts, std::vector<int> axes = {});
/// NumPy's reshape (C order): the same elements in `shape`, one extent of which may be -1 (what
/// the others leave). Chunks follow dask's reshape_rechunk: where axes merge or split, the
/// input is rechunked only as that needs (whole along the trailing axes of each merged group,
/// cut at multiples of the split-off extents, about as many elements a chunk as before), so
/// each output chunk is one input chunk's elements in their order; every other axis keeps its
/// chunks. value_error when the sizes differ.
array reshape(const array& a, shape_t shape);
/// NumPy's ravel: reshape(a, {-1}).
array ravel(const array& a);
/// NumPy's broadcast_to: leading axes added, length-1 axes repeated (read, not copied).
array broadcast_to(const array& a, shape_t shape);
/// NumPy's tile (up to 65536 repetitions an axis).
array tile(const array& a, std::vector<index_t> reps);
/// NumPy's repeat: each element along `axis` (of the flattened array when nullopt) repeated
/// `repeats` times: one count for all (read again, not copied: any count) or one per element
/// (2^27 in all at most).
array repeat(const array& a, std::vector<index_t> repeats, std::optional<int> axis = std::nullopt);

/// The modes of `pad`, as NumPy names them.
enum class pad_mode { constant, edge, reflect, symmetric, wrap };
/// NumPy's pad: `widths` holds (before, after) for each axis, or one pair for all; the
/// padding holds `constant_value` (cast to a's dtype) or what `mode` reads from the array.
array pad(const array& a, std::vector<std::pair<index_t, index_t>> widths,
          pad_mode mode = pad_mode::constant, scalar constant_value = 0);

// ---- selecting ---------------------------------------------------------------------------

/// NumPy's take along `axis`: the elements at `indices` (negative count from the end;
/// repeated and in any order), as `a[:, [0, 2, 5]]`. Chunks follow the input's: a run of
/// indices in one input chunk is one output chunk, so only the chunks touched are read.
array take(const array& a, std::vector<index_t> indices, int axis = 0);
/// Pointwise (vectorised) indexing, dask's a.vindex[i, j] and NumPy's a[i, j] with integer
/// arrays: `indices[d]` holds the index along axis d of each point (all of one length K,
/// negative counting from the end), for the leading indices.size() axes; the result is
/// (K, trailing axes…). A run of points in one input chunk is one output chunk, so only the
/// chunks touched are read.
array vindex(const array& a, const std::vector<std::vector<index_t>>& indices);
/// NumPy's compress: the positions along `axis` where `condition` is true (`condition` may be
/// shorter than the axis, not longer), as `a[:, good]`.
array compress(const std::vector<bool>& condition, const array& a, int axis = 0);
/// `take(a, {0, 2, 5}, 1)` (a braced list is indices, not an array).
inline array take(const array& a, std::initializer_list<index_t> indices, int axis = 0) {
  return take(a, std::vector<index_t>(indices), axis);
}
inline array compress(std::initializer_list<bool> condition, const array& a, int axis = 0) {
  return compress(std::vector<bool>(condition), a, axis);
}

// ---- chunking ----------------------------------------------------------------------------

/// The same values in chunks of `chunk_shape` (-1: the whole axis). Lazy: the planner copies
/// through a temporary intermediate when reading the old chunks for the new ones directly would
/// decode each one many times (rechunker's plan), always within the memory budget.
array rechunk(const array& a, shape_t chunk_shape);

}  // namespace chunkarr
