// The one file that includes oneTBB's headers.
#include "exec/executor.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>

#include "chunkarr/core/error.hpp"

namespace chunkarr::detail {
namespace {

// Rethrows the exception in `p` as its own type with `context` before its message.
[[noreturn]] void rethrow_with_context(std::exception_ptr p, const std::string& context) {
  try {
    std::rethrow_exception(p);
  } catch (const error& e) {
    e.rethrow_with(context);
  } catch (const std::bad_alloc&) {
    throw memory_budget_error(context + "out of memory");
  } catch (const std::logic_error&) {
    throw;  // a broken invariant: no user context makes it clearer
  } catch (const std::exception& e) {
    throw error(context + e.what());
  }
  throw error(context + "an unknown failure");  // not reached: every branch above throws
}

}  // namespace

std::string over_budget_advice(shape_t chunk, index_t task, index_t budget) {
  // Task bytes grow about linearly with the chunk: halve the longest axis until it fits.
  const shape_t original = chunk;
  double ratio = static_cast<double>(task) / static_cast<double>(std::max<index_t>(budget, 1));
  while (ratio > 0.8 && !chunk.empty()) {
    auto longest = std::max_element(chunk.begin(), chunk.end());
    if (*longest <= 1) break;
    *longest = (*longest + 1) / 2;
    ratio /= 2;
  }
  if (chunk == original) return "; raise the limit";
  return "; rechunk the input to about " + to_string(chunk) +
         " (chunkarr copy --chunks) or raise the limit";
}

stage_stats run_stage(const stage& s, index_t budget, int threads,
                      const std::function<void(index_t)>& on_done) {
  stage_stats stats;
  stats.tasks = s.tasks;
  if (s.tasks == 0) return stats;
  index_t largest = 0;
  index_t largest_task = 0;
  for (index_t i = 0; i < s.tasks; ++i) {
    const index_t b = s.bytes_of(i);
    if (b > largest) {
      largest = b;
      largest_task = i;
    }
  }
  if (largest > budget) {
    throw_error<memory_budget_error>(s.name, ": one task (", s.describe(largest_task), ") needs ",
                                     largest, " bytes, more than the memory limit of ", budget,
                                     " bytes", over_budget_advice(s.chunk_shape, largest, budget));
  }
  const std::size_t slots =
      static_cast<std::size_t>(std::max<index_t>(1, budget / std::max<index_t>(largest, 1)));

  std::atomic<index_t> in_flight{0};
  std::atomic<index_t> peak{0};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  std::string error_context;

  struct result {
    index_t task;
    index_t bytes;
    std::any value;
  };

  // No more workers than tasks the budget lets run at once: an idle worker would only hold its
  // thread-local buffers. More than cores when asked (oneTBB caps them at the core count
  // otherwise).
  if (threads > 0) threads = static_cast<int>(std::min<std::size_t>(threads, slots));
  std::optional<tbb::global_control> allow;
  if (threads > 0) {
    allow.emplace(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
  }
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::flow::graph g;
    index_t next = 0;
    tbb::flow::input_node<index_t> source(g, [&](tbb::flow_control& fc) -> index_t {
      if (next >= s.tasks) {
        fc.stop();
        return 0;
      }
      return next++;
    });
    tbb::flow::limiter_node<index_t> gate(g, slots);
    tbb::flow::function_node<index_t, result> work(
        g, tbb::flow::unlimited, [&](index_t task) -> result {
          const index_t bytes = s.bytes_of(task);
          const index_t now = in_flight += bytes;
          index_t seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
          try {
            if (s.cancel && s.cancel->load(std::memory_order_relaxed))
              throw_error<cancelled_error>("cancelled");
            return result{task, bytes, s.run(task)};
          } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!first_error) {
              first_error = std::current_exception();
              error_context = s.name + ", " + s.describe(task) + ": ";
            }
            g.cancel();
            return result{task, bytes, {}};
          }
        });
    tbb::flow::function_node<result, tbb::flow::continue_msg> sink(
        g, tbb::flow::serial, [&](result r) -> tbb::flow::continue_msg {
          if (!g.is_cancelled()) {
            try {
              s.consume(r.task, r.value);
              if (on_done) on_done(r.task);
            } catch (...) {
              std::lock_guard lock(error_mutex);
              if (!first_error) {
                first_error = std::current_exception();
                error_context = s.name + ", " + s.describe(r.task) + ": ";
              }
              g.cancel();
            }
          }
          r.value.reset();
          in_flight -= r.bytes;
          return {};
        });
    tbb::flow::make_edge(source, gate);
    tbb::flow::make_edge(gate, work);
    tbb::flow::make_edge(work, sink);
    tbb::flow::make_edge(sink, gate.decrementer());
    source.activate();
    g.wait_for_all();
  });
  if (first_error) rethrow_with_context(first_error, error_context);
  stats.peak_bytes = peak.load();
  return stats;
}

}  // namespace chunkarr::detail
