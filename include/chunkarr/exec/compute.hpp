// Sinks: running an expression.
//
// Nothing in an `array` runs until one of these is called. Each lowers the expression to a
// plan — stages of per-chunk tasks: every reduction first, then the output — and streams
// them through the executor with at most `memory_limit` bytes in flight. A reduction's result
// stays in memory when it fits beside the tasks, and is spilled to a temporary Zarr array
// (`temp_dir`) when it does not, so `store` is bounded by disk, not memory. A task that could not
// fit is a `memory_budget_error` before anything runs, and an exception in any task cancels the run
// and surfaces here with the operation and the chunk it was computing.
//
// `compute` assembles the result in memory; `store` writes it to a new Zarr array chunk by
// chunk, under a temporary name renamed into place only when every chunk is written;
// `to_dot` draws the task graph without running it.
#pragma once

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include <xtensor/xarray.hpp>

#include "chunkarr/expr/array.hpp"
#include "chunkarr/zarr/zarr_array.hpp"

namespace chunkarr {

/// What a run did, for tests and benchmarks.
struct execution_stats {
  index_t stages = 0;
  index_t tasks = 0;
  index_t peak_task_bytes = 0;  // the most task bytes in flight at once, over all stages
  index_t budget = 0;           // the task budget the executor enforced (bytes)
};

/// min(1 GiB, a quarter of physical memory).
index_t default_memory_limit();

/// How a run may use the machine: every sink takes these.
struct compute_options {
  index_t memory_limit = default_memory_limit();  // bytes for tasks, results and reductions
  int threads = 0;  // worker threads; 0: all cores (no more run than the memory limit lets
                    // work at once)
  // Called as tasks finish, from one thread at a time (the executor's serial sink).
  std::function<void(index_t done, index_t total)> progress;
  execution_stats* stats = nullptr;  // filled in when set
  // Where results too large to hold in memory are spilled (a directory created inside it and
  // removed after the run); default: the system's temporary directory ($TMPDIR or /tmp).
  std::filesystem::path temp_dir;
  // When set, read before each task: once it is true the run stops with cancelled_error, and
  // an output being written is removed (the old one, if any, is left as it was). A signal
  // handler may set it (a lock-free atomic).
  const std::atomic<bool>* cancel = nullptr;
};

/// Computes `a` into `out` (a.nbytes() bytes, C order, a.dtype() in native byte order).
/// Throws memory_budget_error when the result or any task exceeds the memory limit (the
/// result of `compute` must fit in memory; a `store` never needs to hold its result).
void compute_into(const array& a, std::span<std::byte> out, const compute_options& options = {});

/// Throws memory_budget_error when a's result alone would exceed the memory limit.
void check_result_fits(const array& a, const compute_options& options);

/// Computes `a` into an xtensor array of T (casting first when T is not a's dtype).
template <class T>
xt::xarray<T> compute(const array& a, const compute_options& options = {}) {
  const array typed =
      a.dtype().kind == kind_of<T>::value ? a : a.astype(make_dtype(kind_of<T>::value));
  check_result_fits(typed, options);
  xt::xarray<T> out(std::vector<std::size_t>(typed.shape().begin(), typed.shape().end()));
  compute_into(typed, std::as_writable_bytes(std::span(out.data(), out.size())), options);
  return out;
}

/// Writes `a` into `out`, an array already created with a's shape, chunk by chunk in out's
/// chunks (values cast to out's dtype; edge chunks padded with its fill value).
void store(const array& a, const zarr_array& out, const compute_options& options = {},
           bool write_empty_chunks = true);

/// Computes `a` in chunks of `chunk_shape` and hands each one — its box and its values, C
/// order, native byte order — to `consume`, on the worker threads, several at once, in no set
/// order. With `pad_edges`, edge chunks come full size, padded with zeros. `consume_bytes` is
/// what one call of `consume` allocates, counted against the memory limit. A sink for writers
/// other than Zarr (HDF5 uses it).
void compute_chunks(const array& a, const shape_t& chunk_shape,
                    const std::function<void(const box&, std::span<const std::byte>)>& consume,
                    index_t consume_bytes, bool pad_edges, const compute_options& options = {});

/// take and compress with their indices or condition in an array (a Zarr array of channel
/// numbers, a lazy mask such as `stddev(a, {0}) > 3`): that 1-D array is computed now (it
/// must fit in memory), then the selection is as lazy as take(a, vector, axis).
array take(const array& a, const array& indices, int axis = 0, const compute_options& options = {});
array compress(const array& condition, const array& a, int axis = 0,
               const compute_options& options = {});

/// vindex with the index arrays as arrays (a Zarr array of coordinates, an expression),
/// computed now: they broadcast together to the points' shape, which leads the result's.
array vindex(const array& a, const std::vector<array>& indices,
             const compute_options& options = {});

/// NumPy's extract(condition, arr), which is arr[condition] for a mask of arr's shape: the
/// elements of `arr` where `condition` (any array of arr's size; nonzero is true) holds, as a
/// 1-D array in C order. The condition's count per chunk is computed now (streamed, holding
/// one count per chunk: the result's length depends on it); the values are read when the
/// result is, one input chunk per output chunk. Both are flattened as ravel does (rechunked
/// first where their chunks do not span the trailing axes).
array extract(const array& condition, const array& arr, const compute_options& options = {});

/// NumPy's nonzero, argwhere and flatnonzero of `a` (nonzero is true): the indices of its
/// true elements in C order — one int64 array per axis, their (count, ndim) stack, and the
/// indices into the flattened array. Threshold crossings for spike detection:
/// `argwhere(lfp < -4 * noise)`. As extract: the count per chunk is computed now, one
/// streaming pass; the indices when the result is read (to memory or streamed to Zarr).
std::vector<array> nonzero(const array& a, const compute_options& options = {});
array argwhere(const array& a, const compute_options& options = {});
array flatnonzero(const array& a, const compute_options& options = {});

/// NumPy's bincount of the non-negative integers `x` (1-d, of a type that casts to int64
/// safely): how many times each value occurs (int64), or the sums of `weights` (float64),
/// max(x) + 1 long, or `minlength` when that is longer. The length depends on the values, so
/// their min and max are computed now; the counts when the result is (a histogram per chunk).
array bincount(const array& x, std::optional<array> weights = std::nullopt, index_t minlength = 0,
               const compute_options& options = {});

/// The chunk task graph in Graphviz DOT, summarised when large. Runs nothing.
std::string to_dot(const array& a, const compute_options& options = {});

/// An array over the values of an xtensor expression (copied now), in chunks of `chunk_shape`.
template <class E>
array from_xtensor(const E& e, shape_t chunk_shape = {}) {
  using T = typename E::value_type;
  const xt::xarray<T> values = e;
  shape_t shape(values.shape().begin(), values.shape().end());
  return from_buffer(std::as_bytes(std::span(values.data(), values.size())), std::move(shape),
                     make_dtype(kind_of<T>::value), std::move(chunk_shape));
}

}  // namespace chunkarr
