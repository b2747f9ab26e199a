// Evaluating a node over a box (internal): the body of every task.
//
// `evaluate_into` produces the values of any node except an unmaterialised reduction over
// any box of its output, reading only the source chunks that box touches. Elementwise
// subtrees run as one fused block program; slices and transposes gather from their input's
// values over the bounding box. `estimate_bytes` bounds what an evaluation holds at once,
// which is what the planner checks against the memory budget.
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "expr/node.hpp"
#include "plan/program.hpp"

namespace chunkarr::detail {

/// Buffers recycled by size: every task of a stage needs buffers of the same few sizes, and a
/// fresh multi-MiB block costs a page fault per page on first touch. Thread-safe; keeps at
/// most 16 idle buffers and 64 MiB of them (memory the budget does not see), freed with the
/// pool.
class buffer_pool {
 public:
  bytes acquire(std::size_t size);
  void recycle(bytes buffer);

 private:
  static constexpr std::size_t max_spares = 16;
  static constexpr std::size_t max_idle_bytes = std::size_t{64} << 20;
  std::mutex mutex_;
  std::vector<bytes> spare_;
  std::size_t idle_ = 0;  // their capacities
};

/// Makes `pool` the one the current thread's evaluation takes its scratch buffers from (the
/// inputs of slices, transposes and fused leaves) until the scope ends; without one they are
/// allocated fresh. A source_cache_scope installs its cache's pool.
class buffer_pool_scope {
 public:
  explicit buffer_pool_scope(buffer_pool* pool);
  ~buffer_pool_scope();
  buffer_pool_scope(const buffer_pool_scope&) = delete;
  buffer_pool_scope& operator=(const buffer_pool_scope&) = delete;

 private:
  buffer_pool* previous_;
};

/// Decoded source values kept for the length of one task, so that a task that reads the same
/// source chunks twice (a fused two-pass reduction: the mean of a strip, then the strip's
/// deviations from it) decodes them once. Installed per thread by `source_cache_scope`;
/// evaluation consults it for source leaves (Zarr and chunk sources) read over a whole box.
class source_cache {
 public:
  const bytes* find(const node* n, const box& b) const;
  const bytes& insert(const node* n, const box& b, bytes values);
  /// Buffers for the task's own use, recycled with the entries' (see buffer_pool).
  bytes acquire(std::size_t size) { return spare_.acquire(size); }
  void recycle(bytes buffer) { spare_.recycle(std::move(buffer)); }
  /// Forgets the entries, keeping their buffers for reuse.
  void reset();
  buffer_pool& pool() { return spare_; }

 private:
  struct entry {
    const node* n;
    box region;
    bytes values;
  };
  std::deque<entry> entries_;  // stable addresses as entries are added
  buffer_pool spare_;
};

/// Makes `cache` the current thread's source cache until the scope ends.
class source_cache_scope {
 public:
  explicit source_cache_scope(source_cache* cache);
  ~source_cache_scope();
  source_cache_scope(const source_cache_scope&) = delete;
  source_cache_scope& operator=(const source_cache_scope&) = delete;

 private:
  source_cache* previous_;
  buffer_pool_scope pool_;
};

/// Told of every read of a stored source (a Zarr or chunk source, or a spilled stage result)
/// made on the thread that installed it with read_log_scope: the node, the region and the
/// values read (C order, native). A task reads each region once: later uses come from its
/// source_cache.
class read_log {
 public:
  virtual ~read_log() = default;
  virtual void read(const node& source, const box& region, std::span<const std::byte> values) = 0;
};

class read_log_scope {
 public:
  explicit read_log_scope(read_log* log);
  ~read_log_scope();
  read_log_scope(const read_log_scope&) = delete;
  read_log_scope& operator=(const read_log_scope&) = delete;

 private:
  read_log* previous_;
};

/// A scratch buffer of `size` bytes from the current thread's pool (see buffer_pool_scope),
/// else a fresh one (which costs its page faults); `release` gives it back.
bytes scratch_buffer(std::size_t size);
void release(bytes& scratch);

/// Writes the values of `n` over `region` (C order, native) into `out`, running the programs
/// `programs` compiled for it. Safe for concurrent use.
void evaluate_into(const program_table& programs, const node& n, const box& region,
                   std::span<std::byte> out);

/// The values of a random node over `region` (src/exec/random.cpp).
void random_into(const node& n, const box& region, std::span<std::byte> out);

/// The values of a blocks node (map_blocks, map_overlap, window filters) over `region`, and
/// the bytes that takes (src/exec/blocks.cpp).
void blocks_into(const program_table& programs, const node& n, const box& region,
                 std::span<std::byte> out);
index_t blocks_estimate(const program_table& programs, const node& n, const box& region);

/// An upper bound on the bytes evaluate_into(programs, n, region, …) holds at once, output
/// included.
index_t estimate_bytes(const program_table& programs, const node& n, const box& region);

/// A stored chunk of a Zarr source: `index` in `array`'s grid.
struct stored_chunk {
  const zarr_array* array = nullptr;
  shape_t index;
};

/// The chunk of a Zarr source whose values the values of `n` over `region` are, element for
/// element in C order, when there is one: `n` reaches the source only through nodes that
/// move no values (rechunks, a concatenation's operand, slices of step 1, new and dropped
/// size-1 axes) and `region` lands exactly on one of its chunks. Such a region's stored bytes
/// can be copied rather than decoded and encoded again (see output_sink::copy_stored).
std::optional<stored_chunk> stored_chunk_of(const node& n, const box& region);

/// The box of input `in` that an elementwise node reads for output `region` (broadcasting).
box broadcast_box(const node& in, const shape_t& out_shape, const box& region);

}  // namespace chunkarr::detail
