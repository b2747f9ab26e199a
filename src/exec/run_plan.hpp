// Running a plan (internal): each stage through the executor, under the budget it was given.
//
// Stages run in order. A reduction's partial states are folded in a fixed order (the chunks'
// C order along the reduced axes), so its result is bit-identical for any thread count and
// budget, and whether it was computed chunk by chunk, strip by strip or spilled to disk.
// Results that later stages read are held in memory, or written to a temporary Zarr array
// in a directory under the plan's temp_dir that is removed when the run ends (however it
// ends); each is released after the last stage that reads it.
#pragma once

#include <functional>
#include <span>

#include "chunkarr/exec/compute.hpp"
#include "exec/evaluate.hpp"
#include "plan/plan.hpp"

namespace chunkarr::detail {

/// Where the output stage's chunks go.
struct output_sink {
  /// Called on the worker threads, several at once, for each chunk of the output: its index,
  /// its box and its values (C order, native byte order): exactly the box, or with `pad` set,
  /// the full chunk with the edge padded with that element.
  std::function<void(const shape_t& index, const box& region, std::span<const std::byte>)> consume;
  const bytes* pad = nullptr;
  shape_t full_chunk;  // with `pad`: the shape chunks are padded to
  /// When set, offered each output chunk whose values are a stored chunk of a Zarr source
  /// (stored_chunk_of) before anything is computed for it: true when it took that chunk's
  /// stored bytes as they are, so the chunk is neither decoded nor computed.
  std::function<bool(const shape_t& index, const stored_chunk& from)> copy_stored;
};

/// Told when each stage starts (its index in the plan; `last`: the stage that feeds the sink),
/// and around each task's body, on the thread that runs it (the sink's consume runs inside a
/// task): what a pipeline needs to learn which source regions each output chunk was computed
/// from (with a read_log).
class task_observer {
 public:
  virtual ~task_observer() = default;
  virtual void stage_begins(std::size_t stage, bool last) = 0;
  virtual void begin_task() = 0;
  virtual void end_task() noexcept = 0;
};

/// Runs `p`, feeding the output stage's chunks to `sink`. From `options`: `progress(done,
/// total)` is called from one thread at a time as tasks finish, `stats` is filled in when set,
/// `cancel` stops the run (the memory limit, threads and temp directory are the plan's).
void run_plan(plan& p, const output_sink& sink, const compute_options& options,
              task_observer* observer = nullptr);

}  // namespace chunkarr::detail
