#include "plan/plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "chunkarr/core/error.hpp"
#include "exec/evaluate.hpp"
#include "exec/executor.hpp"
#include "exec/order.hpp"
#include "exec/reduce.hpp"
#include "exec/scan.hpp"

namespace chunkarr::detail {

// ---- layouts -------------------------------------------------------------------------------

block_layout::block_layout(chunks_t chunks, shape_t block) : chunks_(std::move(chunks)) {
  const std::size_t ndim = chunks_.size();
  block_ = block.empty() ? shape_t(ndim, 1) : std::move(block);
  for (std::size_t d = 0; d < ndim; ++d) {
    const index_t n = static_cast<index_t>(chunks_[d].size());
    counts_.push_back((n + block_[d] - 1) / block_[d]);
    total_ *= counts_.back();
  }
}

box block_layout::chunk_range(index_t i) const {
  const std::size_t ndim = counts_.size();
  box r{shape_t(ndim), shape_t(ndim)};
  for (std::size_t d = ndim; d-- > 0;) {
    const index_t k = i % counts_[d];
    i /= counts_[d];
    r.start[d] = k * block_[d];
    r.stop[d] = std::min(r.start[d] + block_[d], static_cast<index_t>(chunks_[d].size()));
  }
  return r;
}

box block_layout::task_box(index_t i) const {
  const box r = chunk_range(i);
  box b{shape_t(r.ndim()), shape_t(r.ndim())};
  for (std::size_t d = 0; d < r.ndim(); ++d) {
    b.start[d] = chunks_[d].start(r.start[d]);
    b.stop[d] = chunks_[d].start(r.stop[d]);
  }
  return b;
}

index_t block_layout::task_of(const shape_t& index) const {
  index_t task = 0;
  for (std::size_t d = 0; d < counts_.size(); ++d) task = task * counts_[d] + index[d] / block_[d];
  return task;
}

box block_layout::chunk_box(const shape_t& index) const {
  box b{shape_t(index.size()), shape_t(index.size())};
  for (std::size_t d = 0; d < index.size(); ++d) {
    b.start[d] = chunks_[d].start(index[d]);
    b.stop[d] = chunks_[d].start(index[d] + 1);
  }
  return b;
}

shape_t block_layout::chunk_shape() const {
  shape_t shape;
  for (const axis_chunks& axis : chunks_) shape.push_back(axis.longest());
  return shape;
}

box strip_layout::step_box(index_t i, index_t o) const {
  const box kept_part = kept.task_box(i);
  const box reduced_part = steps.task_box(o);
  box b{{}, {}};
  std::size_t k = 0, r = 0;
  for (bool red : reduced) {
    const box& from = red ? reduced_part : kept_part;
    const std::size_t a = red ? r++ : k++;
    b.start.push_back(from.start[a]);
    b.stop.push_back(from.stop[a]);
  }
  return b;
}

std::string plan_stage::describe_task(index_t task) const {
  switch (kind) {
    case stage_kind::reduce_strips:
    case stage_kind::scan:
      return "strip " + to_string(strips.kept.chunk_range(task).start);
    case stage_kind::reduce:
    case stage_kind::select:
      return "chunk " + to_string(blocks.chunk_range(task).start);
    case stage_kind::materialise:
    case stage_kind::output: {
      const box r = blocks.chunk_range(block_of(task));
      if (r.shape() == shape_t(r.ndim(), 1)) return "chunk " + to_string(r.start);
      return "chunks " + to_string(r.start) + " to " + to_string(r.stop);
    }
  }
  return {};
}

index_t plan::total_tasks() const {
  index_t total = 0;
  for (const plan_stage& s : stages) total += s.tasks;
  return total;
}

bool plan::spills() const {
  return std::any_of(stages.begin(), stages.end(),
                     [](const plan_stage& s) { return s.result && s.result->result->spill; });
}

shape_t first_chunk(const chunks_t& chunks) {
  shape_t shape;
  for (const axis_chunks& axis : chunks) shape.push_back(axis.empty() ? 0 : axis.front());
  return shape;
}

namespace {

index_t itemsize_of(const node& n) {
  return static_cast<index_t>(n.dtype.itemsize());
}

// The same values in regular chunks: the input's first chunk along each axis.
chunks_t regular_like(const shape_t& shape, const chunks_t& chunks) {
  shape_t c = first_chunk(chunks);
  for (index_t& e : c) e = std::max<index_t>(e, 1);
  return regular_chunks(shape, c);
}

// Source reads per source byte when tasks cover the blocks of `write` and read `read` chunks
// (each task decodes every read chunk its box touches): 1 when the blocks align with them.
double amplification(const block_layout& write, const chunks_t& read, const shape_t& shape) {
  double total = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) continue;
    const axis_chunks& r = read[d];
    const axis_chunks& w = write.chunks()[d];
    const index_t step = write.block()[d];
    index_t touched = 0;
    for (index_t i = 0; i < w.size(); i += step) {
      const index_t lo = w.start(i), hi = w.start(std::min(i + step, w.size()));
      touched += r.start(r.find(hi - 1) + 1) - r.start(r.find(lo));
    }
    total *= static_cast<double>(touched) / static_cast<double>(shape[d]);
  }
  return total;
}

// Blocks of `write` chunks for tasks that read `read` chunks: along each axis, enough write
// chunks to cover one read chunk (aligned with it when that costs at most twice as many), as
// long as a block's values stay within `task_target` bytes.
shape_t choose_block(const chunks_t& write, const chunks_t& read, index_t itemsize,
                     index_t task_target) {
  const shape_t w = first_chunk(write), r = first_chunk(read);
  const std::size_t ndim = w.size();
  shape_t block(ndim, 1);
  for (std::size_t d = 0; d < ndim; ++d) {
    if (w[d] <= 0 || r[d] <= w[d]) continue;
    const index_t cover = (r[d] + w[d] - 1) / w[d];
    const index_t aligned = std::lcm(r[d], w[d]) / w[d];
    block[d] = aligned <= 2 * cover ? aligned : cover;
    block[d] = std::min<index_t>(block[d], static_cast<index_t>(write[d].size()));
  }
  auto volume = [&] {
    index_t v = itemsize;
    for (std::size_t d = 0; d < ndim; ++d) v *= std::max<index_t>(1, block[d] * w[d]);
    return v;
  };
  while (volume() > task_target) {
    auto widest = std::max_element(block.begin(), block.end());
    if (*widest <= 1) break;
    *widest = (*widest + 1) / 2;
  }
  return block;
}

bool has_reduction(const node& n, std::unordered_map<const node*, bool>& memo) {
  if (auto it = memo.find(&n); it != memo.end()) return it->second;
  bool found = n.kind == node_kind::reduction;
  for (const node_ptr& in : n.inputs) found = found || has_reduction(*in, memo);
  memo.emplace(&n, found);
  return found;
}

node_ptr materialised_node(const node& like, chunks_t chunks, bool spill) {
  auto m = std::make_shared<node>();
  m->kind = node_kind::materialised;
  m->shape = like.shape;
  m->dtype = like.dtype;
  m->chunks = std::move(chunks);
  m->result = std::make_shared<stage_result>();
  m->result->spill = spill;
  if (spill) {
    m->result->spill_chunks = first_chunk(m->chunks);
    for (index_t& c : m->result->spill_chunks) c = std::max<index_t>(c, 1);
  }
  return m;
}

class planner {
 public:
  planner(plan& p, const output_spec& out, const planning_options& o) : p_(p), out_(out) {
    p_.memory_limit = o.memory_limit;
    p_.threads = o.threads > 0
                     ? o.threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    p_.temp_dir = o.temp_dir.empty() ? std::filesystem::temp_directory_path() : o.temp_dir;
    running_held_ = out.held;
    check_ = o.check_budget;
  }

  // The node with every reduction (and every rechunk that needs one) below it turned into a
  // stage whose result it reads. Each node once.
  // Lowers the DAG under `root`, each node once (memoised), inputs before the node that reads
  // them. Iterative: an expression may be tens of thousands of nodes deep (`x + x + … + x`).
  node_ptr lower(const node_ptr& root) {
    struct frame {
      const node_ptr& n;
      std::vector<node_ptr> inputs;  // lowered so far, in order
    };
    std::vector<frame> stack;
    node_ptr done;  // the last node lowered, for the frame below it
    const auto enter = [&](const node_ptr& n) {
      if (auto it = lowered_.find(n.get()); it != lowered_.end()) {
        done = it->second;
        return;
      }
      if (n->kind == node_kind::reduction) {
        if (node_ptr fused = lower_fused(*n)) {
          lowered_.emplace(n.get(), fused);
          done = fused;
          return;
        }
      }
      stack.push_back({n, {}});
      done = nullptr;
    };
    enter(root);
    while (!stack.empty()) {
      frame& f = stack.back();
      if (done) f.inputs.push_back(std::exchange(done, nullptr));
      if (f.inputs.size() < f.n->inputs.size()) {
        enter(f.n->inputs[f.inputs.size()]);
        continue;
      }
      node_ptr out = f.n;
      if (!std::equal(f.inputs.begin(), f.inputs.end(), f.n->inputs.begin())) {
        auto copy = std::make_shared<node>(*f.n);
        copy->inputs = std::move(f.inputs);
        out = copy;
      }
      if (out->kind == node_kind::reduction) out = lower_reduction(out);
      if (out->kind == node_kind::rechunk) out = lower_rechunk(out, false);
      if (out->kind == node_kind::scan) out = lower_scan(out);
      if (out->kind == node_kind::select) out = lower_select(out);
      lowered_.emplace(f.n.get(), out);
      stack.pop_back();
      done = out;
    }
    return done;
  }

  void add_output(node_ptr root) {
    if (!out_.chunks.empty() && out_.chunks != root->chunks) {
      // The sink's chunks differ: a rechunk of the root (or a rechunk of the rechunk's input).
      auto r = std::make_shared<node>();
      r->kind = node_kind::rechunk;
      r->shape = root->shape;
      r->dtype = root->dtype;
      r->chunks = out_.chunks;
      r->inputs = {root->kind == node_kind::rechunk ? root->inputs[0] : root};
      root = r;
    }
    if (root->kind == node_kind::rechunk && out_.blocks) root = lower_rechunk(root, true);
    if (root->kind == node_kind::materialised && !out_.run_output && !root->result->spill) {
      p_.root_result = root;
      return;
    }
    if (root->kind == node_kind::materialised && root->result->spill && out_.blocks &&
        !p_.stages.empty() && p_.stages.back().result == root &&
        (p_.stages.back().kind == stage_kind::reduce_strips ||
         p_.stages.back().kind == stage_kind::scan) &&
        (out_.chunks.empty() || out_.chunks == root->chunks)) {
      // A spilled reduction or scan at the root of a store: its strips (steps) are the
      // output's chunks, so they go to the sink directly instead of through a temporary
      // array and a copy.
      plan_stage& last = p_.stages.back();
      last.to_output = true;
      last.result->result->spill = false;  // nothing reads it: no temporary array
      const std::string spilled = " (spilled to disk)";
      if (const auto at = last.name.find(spilled); at != std::string::npos)
        last.name.replace(at, spilled.size(), " (strips straight to the output)");
      // The sink's own bytes per chunk; a scan's tasks no longer pad and encode chunks for a
      // temporary array of their own.
      const index_t own_chunk =
          last.kind == stage_kind::scan
              ? 2 * element_count(block_layout(root->chunks).chunk_shape()) * itemsize_of(*root)
              : 0;
      for (index_t& b : last.task_bytes) b += out_.chunk_extra - own_chunk;
      return;
    }
    plan_stage s;
    s.kind = stage_kind::output;
    s.target = root;
    s.input = root;
    s.name = describe(*root);
    const chunks_t& chunks = out_.chunks.empty() ? root->chunks : out_.chunks;
    shape_t block;
    if (out_.blocks) {
      const node& reads = root->kind == node_kind::rechunk ? *root->inputs[0] : *root;
      block = choose_block(chunks, reads.chunks, itemsize_of(*root), task_target());
    }
    s.blocks = block_layout(chunks, block);
    if (out_.only_chunks) {
      std::vector<index_t> only;
      for (const shape_t& index : *out_.only_chunks) only.push_back(s.blocks.task_of(index));
      std::sort(only.begin(), only.end());
      only.erase(std::unique(only.begin(), only.end()), only.end());
      s.only_blocks = std::move(only);
    } else if (out_.skip_fill && root->kind == node_kind::zarr_source &&
               root->zarr->metadata().fill_element() == *out_.skip_fill) {
      // One listing of the source instead of a read per chunk: an array of 10^9 chunks with a
      // few stored costs what those few do.
      std::vector<index_t> only;
      for (const shape_t& index : root->zarr->stored_chunks())
        only.push_back(s.blocks.task_of(index));
      std::sort(only.begin(), only.end());
      only.erase(std::unique(only.begin(), only.end()), only.end());
      s.only_blocks = std::move(only);
    }
    add_blocks_stage(std::move(s), out_.chunk_extra);
  }

  void finish();

 private:
  // Bytes a task may take so that one task per thread fits beside what is held.
  index_t task_target() const {
    return std::max<index_t>((p_.memory_limit - running_held_) / (2 * p_.threads), 1 << 16);
  }

  // An output or materialise stage: tasks over blocks of chunks, each evaluating its block and
  // handing the chunks on (`extra`: what the sink allocates for one chunk).
  void add_blocks_stage(plan_stage s, index_t extra) {
    p_.programs.add(*s.input);
    s.tasks = s.only_blocks ? static_cast<index_t>(s.only_blocks->size()) : s.blocks.tasks();
    const index_t full_chunk = element_count(s.blocks.chunk_shape()) * itemsize_of(*s.input);
    s.task_bytes.resize(static_cast<std::size_t>(s.tasks));
    for (index_t i = 0; i < s.tasks; ++i) {
      const box r = s.blocks.chunk_range(s.block_of(i));
      const bool one_chunk = r.shape() == shape_t(r.ndim(), 1);
      s.task_bytes[static_cast<std::size_t>(i)] =
          estimate_bytes(p_.programs, *s.input, s.blocks.task_box(s.block_of(i))) + extra +
          (one_chunk ? 0 : full_chunk);
    }
    p_.stages.push_back(std::move(s));
  }

  // A reduction over its lowered input: per-chunk tasks folding into states in memory when
  // its result fits beside what is held, else strips whose results spill to disk.
  node_ptr lower_reduction(const node_ptr& r) {
    const node& input = *r->inputs[0];
    p_.programs.add(input);
    const reducer red(*r);
    const index_t state = static_cast<index_t>(red.state_bytes());
    const index_t count = element_count(r->shape);
    const index_t in_memory = checked_mul(count, state + itemsize_of(*r), "reduction states");

    plan_stage s;
    s.kind = stage_kind::reduce;
    s.name = describe(*r);
    s.target = r;
    s.input = r->inputs[0];
    s.blocks = block_layout(input.chunks);
    s.tasks = input.shape.empty() ? 1 : s.blocks.tasks();
    s.task_bytes.resize(static_cast<std::size_t>(s.tasks));
    index_t largest = 0;
    for (index_t i = 0; i < s.tasks; ++i) {
      const box b = s.blocks.task_box(i);
      const index_t kept = element_count(select_axes(b.shape(), r->reduction.reduced, false));
      const index_t bytes = estimate_bytes(p_.programs, input, b) + kept * state;
      s.task_bytes[static_cast<std::size_t>(i)] = bytes;
      largest = std::max(largest, bytes);
    }
    // Spill when that is what makes it fit (a task too large alone is reported as such).
    const bool fits = running_held_ + in_memory + largest <= p_.memory_limit;
    if (fits || running_held_ + largest > p_.memory_limit) {
      s.result = materialised_node(*r, r->chunks, false);
      running_held_ += count * itemsize_of(*r);
      p_.stages.push_back(std::move(s));
      return p_.stages.back().result;
    }
    // Spill: one task per strip of the kept axes, in regular chunks, writing a chunk each.
    s.kind = stage_kind::reduce_strips;
    s.name += " (spilled to disk)";
    const std::vector<bool>& reduced = r->reduction.reduced;
    const shape_t kept_shape = select_axes(input.shape, reduced, false);
    s.strips.reduced = reduced;
    s.strips.kept =
        block_layout(regular_like(kept_shape, select_axes(input.chunks, reduced, false)));
    s.strips.steps = block_layout(select_axes(input.chunks, reduced, true));
    chunks_t result_chunks;
    const chunks_t& kept_chunks = s.strips.kept.chunks();
    for (std::size_t d = 0, k = 0; d < reduced.size(); ++d) {
      if (!reduced[d])
        result_chunks.push_back(kept_chunks[k++]);
      else if (r->reduction.keepdims)
        result_chunks.push_back({1});
    }
    s.result = materialised_node(*r, std::move(result_chunks), true);
    s.tasks = s.strips.tasks();
    s.task_bytes.assign(static_cast<std::size_t>(s.tasks), 0);
    for (index_t i = 0; i < s.tasks; ++i) {
      const index_t kept = s.strips.kept_box(i).size();
      index_t eval = 0;
      for (index_t o = 0; o < s.strips.steps.tasks(); ++o)
        eval = std::max(eval, estimate_bytes(p_.programs, input, s.strips.step_box(i, o)));
      // The strip's states and finished values, and the encoded chunk.
      s.task_bytes[static_cast<std::size_t>(i)] = eval + kept * (state + 3 * itemsize_of(*r));
    }
    p_.stages.push_back(std::move(s));
    return p_.stages.back().result;
  }

  // Order statistics. When an output element's values fit a task many times over and blocks
  // of them can be read without decoding chunks many times, they are gathered: blocks whole
  // along the reduced axes, partitioned in memory (one read of the input). Otherwise radix
  // selection: one task per chunk of the input, pass after pass (the runner repeats the stage
  // until every rank is resolved: two reads of the input, usually) — cheaper than rechunking
  // through a temporary array, and bounded when the values per output element are not. The
  // result is in memory.
  node_ptr lower_select(const node_ptr& sel) {
    const node& input = *sel->inputs[0];
    const std::vector<bool>& reduced = sel->select->reduced;
    const index_t itemsize = itemsize_of(input), target = task_target();
    index_t n = 1;
    chunks_t kept_chunks;
    shape_t kept_shape, block;
    for (std::size_t d = 0; d < reduced.size(); ++d) {
      if (reduced[d]) {
        n *= input.shape[d];
      } else {
        kept_chunks.push_back(input.chunks[d]);
        kept_shape.push_back(input.shape[d]);
        block.push_back(
            std::max<index_t>(1, input.chunks[d].empty() ? 1 : input.chunks[d].front()));
      }
    }
    // A block, its copy to partition and the output: about three times its values.
    const auto block_bytes = [&] {
      index_t v = 3 * std::max<index_t>(n, 1) * itemsize;
      for (index_t c : block) v *= c;
      return v;
    };
    if (block_bytes() / std::max<index_t>(1, element_count(block)) <= target) {
      while (block_bytes() > target) {
        auto widest = std::max_element(block.begin(), block.end());
        if (*widest <= 1) break;
        *widest = (*widest + 1) / 2;
      }
      const block_layout write(regular_chunks(kept_shape, block));
      if (amplification(write, kept_chunks, kept_shape) <= 3) {
        lowered_.emplace(sel->inputs[0].get(), sel->inputs[0]);  // lowered already
        return lower(gather_form(*sel, block));
      }
    }
    p_.programs.add(input);
    plan_stage s;
    s.kind = stage_kind::select;
    s.name = describe(*sel) + " (radix selection)";
    s.target = sel;
    s.input = sel->inputs[0];
    s.blocks = block_layout(input.chunks);
    s.tasks = input.shape.empty() ? 1 : s.blocks.tasks();
    s.task_bytes.resize(static_cast<std::size_t>(s.tasks));
    // Fewer digits a pass and fewer candidates at once (more passes) until the selector's
    // histograms and the largest task fit the memory left.
    const index_t left = p_.memory_limit - running_held_;
    selector::params sp = selector::params_for(*sel, left);
    std::vector<index_t> eval(static_cast<std::size_t>(s.tasks));
    for (index_t i = 0; i < s.tasks; ++i)
      eval[static_cast<std::size_t>(i)] = estimate_bytes(p_.programs, input, s.blocks.task_box(i));
    while (true) {
      index_t largest = 0;
      for (index_t i = 0; i < s.tasks; ++i) {
        const index_t bytes = eval[static_cast<std::size_t>(i)] +
                              selector::task_bytes(*sel, sp, s.blocks.task_box(i));
        s.task_bytes[static_cast<std::size_t>(i)] = bytes;
        largest = std::max(largest, bytes);
      }
      if (largest + selector::held_bytes(*sel, sp) <= left) break;
      if (sp.digits > 4)
        --sp.digits;
      else if (sp.collect > 1024)
        sp.collect /= 2;
      else
        break;  // the budget check reports it
    }
    s.select_digits = sp.digits;
    s.select_collect = sp.collect;
    s.result = materialised_node(*sel, sel->chunks, false);
    running_held_ += element_count(sel->shape) * itemsize_of(*sel);
    p_.stages.push_back(std::move(s));
    return p_.stages.back().result;
  }

  // A scan over its lowered input: strips of the scan's chunks along the other axes, each
  // walking the scanned axis in order. Its result stays in memory when it fits beside what
  // is held, else it spills.
  node_ptr lower_scan(const node_ptr& sc) {
    const node& input = *sc->inputs[0];
    p_.programs.add(input);
    const scanner scan(*sc);
    std::vector<bool> along(sc->shape.size(), false);
    along[static_cast<std::size_t>(sc->axis)] = true;
    plan_stage s;
    s.kind = stage_kind::scan;
    s.name = describe(*sc);
    s.target = sc;
    s.input = sc->inputs[0];
    s.strips.reduced = along;
    s.strips.kept = block_layout(select_axes(sc->chunks, along, false));
    s.strips.steps = block_layout(select_axes(sc->chunks, along, true));
    s.tasks = element_count(sc->shape) == 0 ? 0 : s.strips.tasks();
    s.task_bytes.assign(static_cast<std::size_t>(std::max<index_t>(s.tasks, 1)), 0);
    const index_t item = itemsize_of(*sc);
    const index_t chunk = element_count(block_layout(sc->chunks).chunk_shape()) * item;
    index_t largest = 0;
    // filtfilt keeps the forward state at the start of every step for the backward pass.
    const index_t saved_states = sc->scan.both_ways ? s.strips.steps.tasks() + 1 : 1;
    for (index_t i = 0; i < s.tasks; ++i) {
      index_t eval = 0;
      for (index_t o = 0; o < s.strips.steps.tasks(); ++o) {
        const box step = s.strips.step_box(i, o);
        const box b = scan_input_box(*sc, step);
        // The input's values, the step's float64 values, and the step's result.
        eval = std::max(eval,
                        estimate_bytes(p_.programs, input, b) + b.size() * 8 + step.size() * item);
      }
      // The lanes' states, and a padded chunk and its encoding (a store's sink counts its own:
      // added when the chunks go there).
      const index_t bytes =
          eval +
          saved_states * s.strips.kept_box(i).size() * static_cast<index_t>(scan.state_bytes()) +
          2 * chunk;
      s.task_bytes[static_cast<std::size_t>(i)] = bytes;
      largest = std::max(largest, bytes);
    }
    const index_t in_memory = checked_mul(element_count(sc->shape), item, "scan result");
    const bool fits = running_held_ + in_memory + largest <= p_.memory_limit;
    s.result = materialised_node(*sc, sc->chunks, !fits);
    if (fits)
      running_held_ += in_memory;
    else
      s.name += " (spilled to disk)";
    p_.stages.push_back(std::move(s));
    return p_.stages.back().result;
  }

  // The reductions R_i inside `r`'s input G that a fused plan can compute strip by strip:
  // G reaches each R_i through elementwise nodes only, each R_i reduces the same axes as r
  // over an input of G's shape and chunks with no reduction of its own, and its result
  // broadcasts back onto G's kept axes (keepdims, or leading axes reduced). Empty: no fusion.
  std::vector<const node*> fusable_inner(const node& r) {
    const node& g = *r.inputs[0];
    std::vector<const node*> inner;
    bool other_reductions = false;  // below a non-elementwise node: not fusable
    visit_once({&g}, [&](const node& n) {
      if (n.kind == node_kind::reduction) inner.push_back(&n);
      if (n.kind != node_kind::elementwise && n.kind != node_kind::reduction)
        other_reductions = other_reductions || has_reduction(n, has_reduction_);
      return n.kind == node_kind::elementwise;
    });
    if (other_reductions) return {};
    for (const node* ri : inner) {
      const node& in = *ri->inputs[0];
      if (in.shape != g.shape || in.chunks != g.chunks ||
          ri->reduction.reduced != r.reduction.reduced || ri->reduction.flat_index ||
          has_reduction(in, has_reduction_))
        return {};
      if (!ri->reduction.keepdims) {  // reduced axes must lead, so the result broadcasts back
        bool kept_seen = false;
        for (bool red : ri->reduction.reduced) {
          if (red && kept_seen) return {};
          kept_seen = kept_seen || !red;
        }
      }
    }
    return inner;
  }

  // Reduction `r` and the reductions inside its input in one stage of strip tasks: each task
  // takes the chunks that share a kept-axes position, computes every R_i there, then r's
  // states there, reading those source chunks once (a task-local cache). The fold order is
  // the unfused plan's, so the result is bit-identical to it. Null when it does not apply, or
  // when a strip task would not leave room for one task per thread.
  node_ptr lower_fused(const node& r) {
    std::vector<const node*> inner = fusable_inner(r);
    if (inner.empty()) return nullptr;
    // Inner reductions planned already (shared with another stage) are read, not recomputed.
    std::erase_if(inner, [&](const node* ri) { return lowered_.count(ri) > 0; });
    if (inner.empty()) return nullptr;
    const node& g = *r.inputs[0];
    const std::vector<bool>& reduced = r.reduction.reduced;
    strip_layout strips;
    strips.reduced = reduced;
    strips.kept = block_layout(select_axes(g.chunks, reduced, false));
    strips.steps = block_layout(select_axes(g.chunks, reduced, true));
    if (strips.tasks() < p_.threads || strips.steps.tasks() < 2 || element_count(g.shape) == 0)
      return nullptr;

    // Lower the inner reductions' inputs (no reductions below them) and stand a result in
    // memory for each; then G reads those.
    plan_stage s;
    s.kind = stage_kind::reduce_strips;
    s.strips = strips;
    index_t state_sum = 0, inner_bytes = 0;
    for (const node* ri : inner) {
      auto lowered = std::make_shared<node>(*ri);
      lowered->inputs = {lower(ri->inputs[0])};
      state_sum += static_cast<index_t>(reducer(*lowered).state_bytes());
      inner_bytes += element_count(ri->shape) * itemsize_of(*ri);
      s.inner.push_back(lowered);
      s.inner_results.push_back(materialised_node(*ri, ri->chunks, false));
    }
    // Tentatively map each R_i to its result while lowering G; undone if not fused.
    for (std::size_t i = 0; i < inner.size(); ++i) lowered_[inner[i]] = s.inner_results[i];
    auto target = std::make_shared<node>(r);
    target->inputs = {lower(r.inputs[0])};
    const node& g_fused = *target->inputs[0];
    const reducer red(*target);
    state_sum += static_cast<index_t>(red.state_bytes());
    p_.programs.add(g_fused);
    for (const node_ptr& ri : s.inner) p_.programs.add(*ri->inputs[0]);

    // One task's bytes: the strip's source chunks (cached), the largest evaluation, states.
    std::vector<const node*> sources;
    collect_sources(g_fused, sources);
    for (const node_ptr& ri : s.inner) collect_sources(*ri->inputs[0], sources);
    s.tasks = strips.tasks();
    s.task_bytes.resize(static_cast<std::size_t>(s.tasks));
    index_t largest = 0;
    for (index_t i = 0; i < s.tasks; ++i) {
      index_t cache = 0, eval = 0;
      for (index_t o = 0; o < strips.steps.tasks(); ++o) {
        const box b = strips.step_box(i, o);
        for (const node* src : sources)
          cache += broadcast_box(*src, g.shape, b).size() * itemsize_of(*src);
        eval = std::max(eval, estimate_bytes(p_.programs, g_fused, b));
        for (const node_ptr& ri : s.inner)
          eval = std::max(eval, estimate_bytes(p_.programs, *ri->inputs[0], b));
      }
      const index_t kept = strips.kept_box(i).size();
      const index_t bytes = cache + eval + kept * state_sum + 2 * kept * 8;
      s.task_bytes[static_cast<std::size_t>(i)] = bytes;
      largest = std::max(largest, bytes);
    }
    const index_t count = element_count(r.shape);
    const index_t held = inner_bytes + count * itemsize_of(r);
    if (largest * p_.threads > p_.memory_limit - running_held_ - held) {
      // The program table keys nodes by address: keep the tentative ones alive.
      p_.retired.push_back(target);
      for (const node* ri : inner) lowered_.erase(ri);
      // Forget the nodes lowered through the tentative results.
      std::erase_if(lowered_, [&](const auto& entry) { return reads_any(*entry.second, s); });
      return nullptr;
    }
    s.name = describe(r) + " (fused with its inner reductions)";
    s.target = target;
    s.input = target->inputs[0];
    s.result = materialised_node(r, r.chunks, false);
    running_held_ += inner_bytes + count * itemsize_of(r);
    p_.stages.push_back(std::move(s));
    return p_.stages.back().result;
  }

  static bool reads_any(const node& n, const plan_stage& s) {
    bool found = false;
    visit_once({&n}, [&](const node& m) {
      for (const node_ptr& r : s.inner_results) found = found || &m == r.get();
      return !found;
    });
    return found;
  }

  // Source leaves reached through elementwise nodes (what a task-local cache serves).
  static void collect_sources(const node& root, std::vector<const node*>& out) {
    visit_once({&root}, [&](const node& n) {
      if ((n.kind == node_kind::zarr_source || n.kind == node_kind::chunk_source) &&
          std::find(out.begin(), out.end(), &n) == out.end())
        out.push_back(&n);
      return n.kind == node_kind::elementwise;
    });
  }

  // A rechunk reads its input's chunks for each of its own. When that would decode each input
  // chunk many times (new chunks much smaller than the old along some axis, with no room to
  // cover an old chunk per task), the input is first written to a temporary array in
  // intermediate chunks: each old chunk's region read once, each intermediate chunk read once
  // (rechunker's plan: intermediate = min(consolidated read chunks, write blocks) per axis).
  node_ptr lower_rechunk(const node_ptr& r, bool blocks) {
    const node& input = *r->inputs[0];
    if (element_count(r->shape) == 0) return r;  // nothing to read
    const index_t itemsize = itemsize_of(*r);
    const index_t target = task_target();
    const shape_t block =
        blocks ? choose_block(r->chunks, input.chunks, itemsize, target) : shape_t{};
    const block_layout write(r->chunks, block);
    if (amplification(write, input.chunks, r->shape) <= 3) return r;

    const shape_t s = first_chunk(input.chunks), t = first_chunk(r->chunks);
    const shape_t w_block = write.block();
    const std::size_t ndim = s.size();
    shape_t reads(ndim), inter(ndim);
    for (std::size_t d = 0; d < ndim; ++d) {
      const index_t w = std::min(w_block[d] * t[d], std::max<index_t>(r->shape[d], 1));
      reads[d] = w > s[d] ? s[d] * std::max<index_t>(1, w / s[d]) : s[d];
    }
    auto volume = [&](const shape_t& e) {
      index_t v = itemsize;
      for (index_t x : e) v *= std::max<index_t>(x, 1);
      return v;
    };
    // A read box holds the input's values in the widest dtype its expression passes through
    // (a mask of float32 data reads float32 chunks: four bytes per bool it writes).
    index_t widest_item = itemsize;
    visit_once({&input}, [&](const node& n) {
      widest_item = std::max(widest_item, static_cast<index_t>(n.dtype.itemsize()));
      return n.kind != node_kind::materialised;
    });
    auto read_volume = [&](const shape_t& e) { return volume(e) / itemsize * widest_item; };
    while (read_volume(reads) > target) {  // consolidate reads less, down to the input's chunks
      std::size_t widest = 0;
      double ratio = 1;
      for (std::size_t d = 0; d < ndim; ++d) {
        const double q = static_cast<double>(reads[d]) / static_cast<double>(s[d]);
        if (q > ratio) ratio = q, widest = d;
      }
      if (ratio <= 1) break;
      reads[widest] = s[widest] * std::max<index_t>(1, reads[widest] / s[widest] / 2);
    }
    shape_t inter_block(ndim);
    for (std::size_t d = 0; d < ndim; ++d) {
      const index_t w = std::min(w_block[d] * t[d], std::max<index_t>(r->shape[d], 1));
      inter[d] = std::max<index_t>(1, std::min(reads[d], w));
      inter_block[d] = (reads[d] + inter[d] - 1) / inter[d];
    }
    const node_ptr result = materialised_node(input, regular_chunks(input.shape, inter), true);
    plan_stage m;
    m.kind = stage_kind::materialise;
    m.name = describe(input) + " in chunks " + to_string(inter) + " (rechunk intermediate)";
    m.target = r->inputs[0];
    m.input = r->inputs[0];
    m.result = result;
    m.blocks = block_layout(result->chunks, inter_block);
    // The sink: one padded chunk and its encoding.
    add_blocks_stage(std::move(m), 3 * volume(inter));
    auto out = std::make_shared<node>(*r);
    out->inputs = {result};
    return out;
  }

  plan& p_;
  const output_spec& out_;
  bool check_ = true;
  index_t running_held_ = 0;  // a bound on what results in memory hold (for spill decisions)
  std::unordered_map<const node*, node_ptr> lowered_;
  std::unordered_map<const node*, bool> has_reduction_;
};

// The stages whose results a stage's tasks read: materialised nodes below its inputs.
std::vector<std::size_t> reads_of(const plan_stage& s,
                                  const std::unordered_map<const node*, std::size_t>& producer) {
  std::vector<std::size_t> out;
  visit_once(stage_roots(s), [&](const node& n) {
    if (n.kind != node_kind::materialised) return true;
    const auto it = producer.find(&n);
    if (it != producer.end() && std::find(out.begin(), out.end(), it->second) == out.end())
      out.push_back(it->second);
    return false;
  });
  std::sort(out.begin(), out.end());
  return out;
}

index_t memory_bytes(const node& result) {
  return result.result->spill ? 0 : element_count(result.shape) * itemsize_of(result);
}

// The bytes of a stage's results held in memory (its inner results live as long).
index_t result_bytes(const plan_stage& s) {
  if (s.to_output) return 0;  // its strips went to the sink
  index_t bytes = s.result ? memory_bytes(*s.result) : 0;
  for (const node_ptr& r : s.inner_results) bytes += memory_bytes(*r);
  return bytes;
}

// What a stage holds while it runs besides results: a per-chunk reduction folds into states
// for its whole result (strips fold into states of their own, counted in their tasks).
index_t own_bytes(const plan_stage& s) {
  if (s.kind == stage_kind::select)
    return selector::held_bytes(*s.target, {s.select_digits, s.select_collect});
  if (s.kind != stage_kind::reduce) return 0;
  return element_count(s.target->shape) * static_cast<index_t>(reducer(*s.target).state_bytes());
}

void planner::finish() {
  std::vector<plan_stage>& stages = p_.stages;
  std::unordered_map<const node*, std::size_t> producer;
  for (std::size_t k = 0; k < stages.size(); ++k) {
    if (stages[k].result) producer.emplace(stages[k].result.get(), k);
    for (const node_ptr& r : stages[k].inner_results) producer.emplace(r.get(), k);
  }
  // Each result lives until its last reader has run (the root's result until the end).
  std::vector<std::size_t> last(stages.size());
  for (std::size_t k = 0; k < stages.size(); ++k) {
    last[k] = k;
    stages[k].reads = reads_of(stages[k], producer);
    std::erase(stages[k].reads, k);  // a fused stage reads its own inner results
    for (std::size_t j : stages[k].reads) last[j] = std::max(last[j], k);
  }
  for (std::size_t k = 0; k < stages.size(); ++k) {
    if (stages[k].result && stages[k].result == p_.root_result) last[k] = stages.size();
    for (const node_ptr& r : stages[k].inner_results)  // read by later stages, or by its own
      if (r == p_.root_result) last[k] = stages.size();
    if (last[k] < stages.size()) stages[last[k]].release.push_back(k);
  }
  for (std::size_t k = 0; k < stages.size(); ++k) {
    plan_stage& s = stages[k];
    index_t held = out_.held + own_bytes(s);
    for (std::size_t j = 0; j <= k; ++j) {
      if (last[j] >= k) held += result_bytes(stages[j]);
    }
    s.budget = p_.memory_limit - held;
    if (!check_) continue;
    if (held > p_.memory_limit) {
      throw_error<memory_budget_error>(s.name, ": its results need ", held,
                                       " bytes held in memory, more than the memory limit of ",
                                       p_.memory_limit, " bytes");
    }
    index_t largest = 0;
    for (index_t i = 0; i < s.tasks; ++i) largest = std::max(largest, s.bytes_of(i));
    if (largest > s.budget) {
      const chunks_t& chunks = s.kind == stage_kind::output || s.kind == stage_kind::materialise
                                   ? s.blocks.chunks()
                                   : s.input->chunks;
      throw_error<memory_budget_error>(s.name, ": one task needs ", largest,
                                       " bytes, more than the ", s.budget,
                                       " bytes the memory limit leaves for tasks",
                                       over_budget_advice(first_chunk(chunks), largest, s.budget));
    }
  }
}

}  // namespace

plan make_plan(const node_ptr& root, const output_spec& output, const planning_options& options) {
  plan p;
  planner builder(p, output, options);
  if (output.blocks && root->kind == node_kind::rechunk) {
    // The output stage plans this rechunk itself, with tasks over blocks of chunks.
    auto r = std::make_shared<node>(*root);
    r->inputs = {builder.lower(root->inputs[0])};
    builder.add_output(r);
  } else {
    builder.add_output(builder.lower(root));
  }
  builder.finish();
  return p;
}

}  // namespace chunkarr::detail
