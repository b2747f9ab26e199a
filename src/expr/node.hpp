// The expression DAG behind `chunkarr::array` (internal).
//
// A node is immutable once built: its shape, dtype and chunking are fixed at construction,
// and its inputs are shared. The planner walks nodes by `kind`; the payload variant holds
// what each kind needs.
#pragma once

#include <memory>
#include <optional>
#include <unordered_set>
#include <variant>
#include <vector>

#include "chunkarr/expr/array.hpp"
#include "chunkarr/expr/block_function.hpp"
#include "chunkarr/expr/order.hpp"
#include "chunkarr/store/store.hpp"
#include "chunkarr/zarr/zarr_array.hpp"

namespace chunkarr::detail {

using node_ptr = std::shared_ptr<const node>;

enum class node_kind {
  zarr_source,    // chunks read from a zarr_array
  memory_source,  // values held in memory (from_buffer, materialised reductions)
  chunk_source,   // chunks read through a chunk_source (HDF5 datasets)
  fill,           // every element the same value (full/zeros/ones, and scalars)
  arange,         // 0, 1, 2, …
  random,         // a counter-based random value per element (random_payload)
  elementwise,    // unary / binary / where / cast over broadcast inputs
  reduction,      // reduce_op over axes
  slice,          // basic indexing: per-axis start/step/count, dropped and new axes
  transpose,      // axis permutation
  concatenate,    // inputs joined along `axis` (same dtype, same other extents)
  take,           // the input's indices `taken` (in memory) along `axis`
  extract,        // the 1-D input's elements where the 1-D mask (input 1) is true, in order
  points,         // pointwise indexing: rows at `axis` leading coordinates each (`taken`)
  reshape,        // the input's elements in C order, in another shape (reshape_groups)
  rechunk,        // the same values in other chunks
  scan,           // a running operation along `axis` with state carried across chunks
  blocks,         // a function per chunk of input 0's blocks, with a halo (blocks_payload)
  select,         // order statistics by radix selection over many passes (quantile_spec)
  materialised,   // a stage's result (a reduction, an intermediate), filled when the plan runs
};

/// What an elementwise node computes.
enum class elementwise_kind { unary, binary, where, cast };

struct elementwise_payload {
  elementwise_kind what = elementwise_kind::cast;
  unary_op unary = unary_op::negative;
  binary_op binary = binary_op::add;
  chunkarr::dtype compute;  // the dtype the operation runs in (inputs are cast to it)
};

struct reduction_payload {
  reduce_op op = reduce_op::sum;
  std::vector<bool> reduced;  // per input axis
  bool keepdims = false;
  int ddof = 0;
  bool flat_index = false;  // argmin/argmax over all axes: index into the flattened input
  std::shared_ptr<const reduction_functions> user;  // a user's reduction (op is unused)
};

/// Basic indexing. For each input axis: the selected indices (start, step, count), or an
/// integer index (count 1, axis dropped). `new_axes` lists output positions of size-1 axes
/// added by newaxis.
struct slice_payload {
  std::vector<slice_range> ranges;  // per input axis
  std::vector<bool> dropped;        // per input axis: an integer index
  std::vector<bool> output_is_new;  // per output axis: added by newaxis
};

/// What a random node draws (the numbers are the counter's fourth word: see random.hpp).
enum class random_distribution : std::uint32_t {
  uniform = 0,
  normal = 1,
  integers = 2,
  poisson = 3
};

struct random_payload {
  random_distribution what = random_distribution::uniform;
  std::uint64_t seed = 0;
  double offset = 0, scale = 1;  // uniform: low, high - low; normal: loc, scale; poisson: λ
  std::int64_t low = 0;          // integers: the lowest value
  std::uint64_t range = 0;       // integers: how many values (0: all 2^64)
};

/// What a scan node carries along its axis (src/exec/scan.cpp).
enum class scan_op { cumsum, cumprod, nancumsum, nancumprod, lfilter, sosfilt };

struct scan_payload {
  scan_op op = scan_op::cumsum;
  // lfilter: b then a, each `order + 1` long, normalised so that a[0] = 1.
  // sosfilt: 6 per section (b0 b1 b2 1 a1 a2).
  std::vector<double> coef;
  std::size_t order = 0;  // lfilter: state per lane; sosfilt: sections
  // The initial state per lane is `zi` times the lane's first input value when set (SciPy's
  // filtfilt and sosfiltfilt: lfilter_zi / sosfilt_zi scaled by x[0]); zeros when empty.
  std::vector<double> zi;
  // lfilter, sosfilt: from the last element to the first (set only inside the kernels, for
  // filtfilt's backward half: a node always scans forward)
  bool reverse = false;
  // filtfilt, sosfiltfilt: forward from zi · x[0], then backward from zi · y[-1], over the
  // input (the signal extended by `edge` at both ends: scipy's padding), the extension cut
  // off: the node is `edge` shorter than its input at each end along the axis. The backward
  // pass recomputes each chunk's forward values from the state saved at its start, so
  // nothing between the passes is stored.
  bool both_ways = false;
  index_t edge = 0;
};

/// The window filters built on map_overlap (scipy.ndimage's; src/exec/blocks.cpp).
enum class window_op { none, correlate, uniform, minimum, maximum, median };

/// map_blocks and map_overlap: output chunk c is computed from each input's block c (input
/// chunk index: c without the new axes, 0 at the dropped ones), extended by a halo of
/// `before`/`after` elements per axis. Input 0 is padded by the halo at the array's edges
/// (its coordinates are the output's plus `before`) unless `clip`: then the halo stops there.
struct blocks_payload {
  std::shared_ptr<const block_function> f;  // the user's; null for a window filter
  std::string name;
  std::vector<index_t> before, after;  // empty: no halo
  bool clip = false;
  std::vector<int> drop_axis, new_axis;
  // blockwise: per input, per axis, the output axis whose chunk index picks the block along
  // it, or -1 for the whole axis (contracted). Empty for map_blocks and map_overlap.
  std::vector<std::vector<int>> axis_map;
  index_t scratch = 0;
  // A window filter along `window_axis`: correlate's weights (before + after + 1 of them),
  // the window's size for the others, the median's rank in the window.
  window_op window = window_op::none;
  int window_axis = 0;
  std::vector<double> weights;
  index_t rank = 0;
};

/// Order statistics (median, quantile and their nan forms; src/exec/order.cpp). A select
/// node's values are q-major: axis 0 is q's (one for a median), then the input's kept axes.
struct quantile_spec {
  std::vector<double> q;  // each in [0, 1]
  quantile_method method = quantile_method::linear;
  bool median = false;    // numpy.median (q unused)
  bool skip_nan = false;  // the nan forms
  scalar_kind input = scalar_kind::float64, output = scalar_kind::float64;
  std::vector<bool> reduced;  // per input axis
  std::string name;           // "median", "nanpercentile", …: for messages and the task graph
};

/// Where a planned stage puts its result: values in memory, or a temporary Zarr array when
/// they would not fit (spilled). Written by the stage's tasks, read by later stages; released
/// after the last stage that reads it.
struct stage_result {
  bool spill = false;    // decided by the planner: the values go to a temporary Zarr array
  shape_t spill_chunks;  // that array's chunk shape
  bytes values;          // in memory: C order, native byte order
  std::optional<zarr_array> spilled;  // spilled: created when the stage runs
};

struct node {
  node_kind kind;
  shape_t shape;
  chunkarr::dtype dtype;
  chunks_t chunks;
  std::vector<node_ptr> inputs;

  // Payloads (which one applies depends on kind).
  std::shared_ptr<const zarr_array> zarr;                // zarr_source
  std::shared_ptr<const bytes> values;                   // memory_source: C order, native
  std::shared_ptr<const chunkarr::chunk_source> source;  // chunk_source
  bytes fill_value;                                      // fill: one element, native
  // A Python scalar (NEP 50): a literal (fill, fill_value set), or an elementwise node over
  // weak scalars only (2*3, ~5), which has no fill_value.
  bool weak_scalar = false;
  elementwise_payload elementwise;
  reduction_payload reduction;
  slice_payload slicing;
  random_payload random;
  scan_payload scan;
  std::shared_ptr<const blocks_payload> blocks;
  std::shared_ptr<const quantile_spec> select;
  std::vector<int> permutation;  // transpose: output axis d = input axis perm[d]
  int axis = 0;                  // concatenate, take, scan: the axis they work along
  // take: the indices, each in bounds; points: `axis` coordinates per point, in bounds
  std::shared_ptr<const std::vector<index_t>> taken;
  // extract: where each input chunk's selected elements start in the output, and the total
  // last (prefix sums of the mask's counts per chunk, counted when the node was built).
  std::shared_ptr<const std::vector<index_t>> offsets;
  std::shared_ptr<stage_result> result;  // materialised
  // The longest path to a source (a source is 1), set when the node is wrapped in an `array`,
  // before it is shared. Walks over the DAG recurse along such paths: max_depth bounds them.
  mutable std::uint32_t depth = 0;
};

/// The deepest expression accepted (`x + x + … + x` with 2048 terms): deeper ones are refused
/// with value_error when built, long before a walk could run out of stack.
inline constexpr std::uint32_t max_depth = 2048;

/// Visits every node reachable from `roots` once (depth first, without recursion, so no DAG
/// depth can overflow the stack): `visit(n)` returns whether to go on into n's inputs.
template <class F>
void visit_once(std::vector<const node*> roots, F&& visit) {
  std::unordered_set<const node*> seen;
  while (!roots.empty()) {
    const node* n = roots.back();
    roots.pop_back();
    if (!seen.insert(n).second || !visit(*n)) continue;
    for (const node_ptr& in : n->inputs) roots.push_back(in.get());
  }
}

/// A select node computed the other way (src/expr/order.cpp): its input's values read in
/// blocks whole along the reduced axes and `kept_chunk` along the kept ones, and each block's
/// statistics from them — the same values and shape.
node_ptr gather_form(const node& select, const shape_t& kept_chunk);
/// Regular chunks of `chunk_shape` over `shape` (clipped; 0-length axes get no chunks).
chunks_t regular_chunks(const shape_t& shape, const shape_t& chunk_shape);
/// The chunks of `from` that a slice of it passes through, cut to the slice: one output chunk
/// per input chunk it touches.
axis_chunks sliced_chunks(const axis_chunks& from, const slice_range& r);
/// The node behind `a`; value_error for an empty handle.
const node& node_of(const array& a);
/// NumPy's promotion of two dtypes (np.result_type of arrays), in native byte order.
dtype promote_types(const dtype& a, const dtype& b);
/// `axis` in [0, ndim) (negative counts from the end), or a shape_error naming `op`.
int normalize_axis(int axis, std::size_t ndim, const char* op);
/// Axes of a reshape that map onto each other: input axes [in_begin, in_end) hold the same
/// elements, in the same C order, as output axes [out_begin, out_end) (their products agree).
struct reshape_group {
  std::size_t in_begin, in_end, out_begin, out_end;
};
/// The finest such groups between two shapes of one nonzero size (size-1 axes join a group).
std::vector<reshape_group> reshape_groups(const shape_t& in, const shape_t& out);
/// Which stored source a zarr_source or chunk_source node reads (expression_input::identity).
inline const void* source_identity(const node& n) {
  return n.kind == node_kind::zarr_source ? static_cast<const void*>(n.zarr.get())
                                          : static_cast<const void*>(n.source.get());
}
/// A short description for messages and graphs: "add float32 (1000, 30)".
std::string describe(const node& n);

}  // namespace chunkarr::detail
