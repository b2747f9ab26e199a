// The executor (internal): the one place chunkarr uses oneTBB.
//
// A stage is a list of tasks with known byte sizes. `run_stage` streams them through a oneTBB
// flow graph: an ordered source, a byte-budget gate (a limiter admitting as many tasks as fit
// in the budget), the tasks themselves on all worker threads, and a serial sink that
// consumes each result (in any order) and releases its bytes. The first exception cancels
// the graph and is rethrown with the task's description.
#pragma once

#include <any>
#include <atomic>
#include <functional>
#include <string>

#include "chunkarr/core/index.hpp"

namespace chunkarr::detail {

struct stage_stats {
  index_t tasks = 0;
  index_t peak_bytes = 0;  // the most task bytes in flight at once
};

struct stage {
  std::string name;                              // for messages: "mean float32 (1000, 30)"
  index_t tasks = 0;                             // run in order 0 … tasks-1
  std::function<index_t(index_t)> bytes_of;      // a task's byte estimate
  std::function<std::string(index_t)> describe;  // "chunk (3, 1)"
  shape_t chunk_shape;  // the largest task's chunk, to suggest a smaller one when over budget
  std::function<std::any(index_t)> run;             // the task (parallel)
  std::function<void(index_t, std::any&)> consume;  // the sink (serial)
  const std::atomic<bool>* cancel = nullptr;        // stop (cancelled_error) once true
};

/// "; rechunk the input to about (…) …": advice for a task of `task` bytes over `budget`,
/// from the chunk shape the task covers.
std::string over_budget_advice(shape_t chunk, index_t task, index_t budget);

/// Runs `s` with at most `budget` task bytes in flight on `threads` threads (0: all cores).
/// Throws memory_budget_error before running when one task alone exceeds the budget.
stage_stats run_stage(const stage& s, index_t budget, int threads,
                      const std::function<void(index_t)>& on_done = {});

}  // namespace chunkarr::detail
