// The plan (internal): an expression DAG lowered to stages of per-chunk tasks, as a value.
//
// `make_plan` walks the DAG once, each node once (memoised by identity, so a DAG that shares
// subexpressions plans in time linear in its distinct nodes), and lowers it to stages that
// run in order:
//
// - `reduce`: a reduction, one task per chunk of its input; partial states are folded in
//   memory in chunk order (bit-identical for any thread count and budget).
// - `reduce_strips`: a reduction, one task per strip of chunks that share a position along
//   the kept axes; each task folds its strip in the same order. Used to fuse the reductions
//   inside a reduction's input (the anomaly variance), and to spill a result that does not fit
//   in memory: each strip's finished values go to a temporary Zarr array.
// - `select`: order statistics by radix selection: the input's chunks read once per pass,
//   each task counting digits of its values per output element, a few passes in all.
// - `materialise`: a node's values written to a temporary Zarr array in other chunks (the
//   intermediate of a rechunk whose direct copy would decode each chunk many times).
// - `scan`: a scan (cumsum, an IIR filter), one task per strip of chunks that share a
//   position on the other axes, walking the scanned axis in order with the state carried
//   from chunk to chunk; each step's values go to the result (in memory, spilled, or
//   straight to the output when the scan is the root of a store).
// - `output`: the root, in blocks of the sink's chunks.
//
// Every later stage reads an earlier one's result through a `materialised` node that stands
// for it. The plan knows every task's box and bytes before anything runs: the budget check,
// task counts, progress, statistics and the task graph (`to_dot`) all read it, so they
// cannot disagree. Immutable once built, except the stage results its run fills in.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "expr/node.hpp"
#include "plan/program.hpp"

namespace chunkarr::detail {

/// The chunks of an array (regular or not) grouped into blocks of `block` chunks per axis:
/// one task per block, in C order. A 0-d array has one block; an empty one none.
class block_layout {
 public:
  block_layout() = default;
  explicit block_layout(chunks_t chunks, shape_t block = {});

  index_t tasks() const { return total_; }
  const chunks_t& chunks() const { return chunks_; }
  const shape_t& block() const { return block_; }
  /// The chunk indices [start, stop) per axis of task `i`.
  box chunk_range(index_t i) const;
  /// The region task `i` covers.
  box task_box(index_t i) const;
  /// The task whose block holds chunk `index`.
  index_t task_of(const shape_t& index) const;
  /// The region chunk `index` covers.
  box chunk_box(const shape_t& index) const;
  /// The largest chunk's extent along each axis (what a regular grid over these chunks uses).
  shape_t chunk_shape() const;

 private:
  chunks_t chunks_;
  shape_t block_;   // chunks per task along each axis
  shape_t counts_;  // tasks along each axis
  index_t total_ = 1;
};

/// A reduction's strips: the kept axes cut into `kept` chunks (one task each), the reduced
/// axes walked in the input's chunks, in C order — the fold order of the `reduce` stage.
struct strip_layout {
  std::vector<bool> reduced;  // per input axis
  block_layout kept;          // over the kept axes
  block_layout steps;         // over the reduced axes: the input's chunks along them

  index_t tasks() const { return kept.tasks(); }
  /// The kept-axes region of strip `i`.
  box kept_box(index_t i) const { return kept.task_box(i); }
  /// The input region of step `o` of strip `i`.
  box step_box(index_t i, index_t o) const;
};

enum class stage_kind { reduce, reduce_strips, scan, select, materialise, output };

struct plan_stage {
  stage_kind kind = stage_kind::output;
  std::string name;  // for messages and graphs: "mean float32 (16,)"
  // What the stage computes (in the lowered DAG): the reduction, or the node whose values it
  // writes. Tasks evaluate `input`: the reduction's input, or the written node itself.
  node_ptr target;
  node_ptr input;
  // The node later stages read the result through (kind materialised); null for the output.
  node_ptr result;
  // reduce_strips with fused inner reductions: each strip computes them first (their results
  // are `inner_results`, filled strip by strip), then `input` reads them.
  std::vector<node_ptr> inner;
  std::vector<node_ptr> inner_results;

  block_layout blocks;  // reduce: the input's chunks; materialise, output: the written chunks
  strip_layout strips;  // reduce_strips, scan (`reduced`: the scanned axis)
  index_t tasks = 0;
  // output: when set, the tasks are only these blocks (in order); the others hold nothing but
  // the fill value, which the sink would not write.
  std::optional<std::vector<index_t>> only_blocks;
  std::vector<index_t> task_bytes;  // per task, or one value shared by every task
  index_t budget = 0;               // bytes left for tasks: the memory limit less `held`
  bool to_output = false;      // reduce_strips, scan at the root of a store: chunks go to the sink
  int select_digits = 0;       // select: bits counted per pass
  index_t select_collect = 0;  // select: candidate keys gathered at most
  std::vector<std::size_t> reads;    // earlier stages whose results its tasks read
  std::vector<std::size_t> release;  // stages whose results are freed after this one

  index_t bytes_of(index_t task) const {
    return task_bytes.size() == 1 ? task_bytes[0] : task_bytes[static_cast<std::size_t>(task)];
  }
  std::string describe_task(index_t task) const;
  /// The block of `blocks` that task `task` covers.
  index_t block_of(index_t task) const {
    return only_blocks ? (*only_blocks)[static_cast<std::size_t>(task)] : task;
  }
};

/// The nodes a stage's tasks evaluate: its input, and its inner reductions' inputs.
inline std::vector<const node*> stage_roots(const plan_stage& s) {
  std::vector<const node*> roots{s.input.get()};
  for (const node_ptr& ri : s.inner) roots.push_back(ri->inputs[0].get());
  return roots;
}

/// What the output stage feeds, as the sink sets it up.
struct output_spec {
  chunks_t chunks;          // the chunks the sink receives (a store's grid); empty: root's
  index_t chunk_extra = 0;  // bytes the sink allocates per chunk it receives
  index_t held = 0;         // bytes the sink holds for the whole run (compute's result)
  bool blocks = false;      // tasks may cover several chunks (a store: fewer decodes)
  bool run_output = true;   // false: the root is a reduction computed into memory (compute)
  // Set by a sink that writes nothing for chunks all of this fill element (one element of the
  // root's dtype, native order) into an output that holds no chunks yet: a root that reads a
  // Zarr array with this fill, as it is, then runs only the blocks that hold stored chunks.
  std::optional<bytes> skip_fill;
  // When set, the output stage runs only the blocks holding these chunks (of `chunks`): a
  // pipeline recomputing the chunks whose inputs changed.
  std::shared_ptr<const std::vector<shape_t>> only_chunks;
};

struct plan {
  std::vector<plan_stage> stages;
  program_table programs;
  index_t memory_limit = 0;
  int threads = 1;
  std::filesystem::path temp_dir;  // where spilled results go (created when the plan runs)

  /// The materialised node standing for the root's value after the plan ran (a reduction
  /// root computed into memory), or null when the output stage computes the root.
  node_ptr root_result;
  /// Nodes planned and then dropped (a fusion that did not fit), kept alive because the
  /// program table knows nodes by address.
  std::vector<node_ptr> retired;

  index_t total_tasks() const;
  bool spills() const;
};

struct planning_options {
  index_t memory_limit = 0;
  int threads = 0;                 // 0: all cores
  std::filesystem::path temp_dir;  // empty: the system's temporary directory
  bool check_budget = true;        // false: plan even what would not fit (to draw it)
};

/// Lowers the DAG under `root` to a plan, checking every task against the memory limit.
/// Throws memory_budget_error (naming the stage and a chunk shape that would fit) when a task
/// or the results that must stay in memory cannot.
plan make_plan(const node_ptr& root, const output_spec& output, const planning_options& options);

/// The entries of `values` (one per input axis) on the axes where `reduced` is `which`: the
/// kept axes' (false) or the reduced axes' (true).
template <class T>
std::vector<T> select_axes(const std::vector<T>& values, const std::vector<bool>& reduced,
                           bool which) {
  std::vector<T> out;
  for (std::size_t d = 0; d < reduced.size(); ++d)
    if (reduced[d] == which) out.push_back(values[d]);
  return out;
}

/// The shape of the first chunk along each axis (0 along an axis with no chunks).
shape_t first_chunk(const chunks_t& chunks);

}  // namespace chunkarr::detail
