// Planning and the sinks: compute, store, to_dot.
//
// resolve() walks the DAG bottom-up and replaces every reduction by its materialised result
// (a memory_source), running one stage per reduction; what remains is a DAG of elementwise
// operations, slices and transposes over sources, evaluated per output chunk in the final
// stage. Memory: materialised results and the output being assembled are held for the whole
// run and subtracted from the limit; the rest is the executor's budget for tasks.
#include "chunkarr/exec/compute.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "exec/evaluate.hpp"
#include "exec/executor.hpp"
#include "exec/reduce.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using namespace detail;

index_t default_memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  const index_t gib = index_t{1} << 30;
  if (pages <= 0 || page_size <= 0) return gib;
  return std::min(gib, static_cast<index_t>(pages) * page_size / 4);
}

namespace {

// The chunks of a node as a grid: chunk i along axis d spans [bounds[d][i], bounds[d][i+1]).
struct chunk_layout {
  std::vector<shape_t> bounds;
  shape_t counts;
  index_t total = 1;

  explicit chunk_layout(const chunks_t& chunks) {
    for (const shape_t& axis : chunks) {
      bounds.push_back(boundaries(axis));
      counts.push_back(static_cast<index_t>(axis.size()));
      total *= static_cast<index_t>(axis.size());
    }
  }
  shape_t unravel(index_t linear) const {
    shape_t index(counts.size());
    for (std::size_t d = counts.size(); d-- > 0;) {
      index[d] = linear % counts[d];
      linear /= counts[d];
    }
    return index;
  }
  box chunk_box(const shape_t& index) const {
    box b{shape_t(index.size()), shape_t(index.size())};
    for (std::size_t d = 0; d < index.size(); ++d) {
      b.start[d] = bounds[d][index[d]];
      b.stop[d] = bounds[d][index[d] + 1];
    }
    return b;
  }
};

std::string chunk_name(const shape_t& index) {
  return "chunk " + to_string(index);
}

// A reduction task: its input's values over `b`, and the partial states of b's kept part.
index_t reduction_task_bytes(const node& n, const box& b, index_t state_bytes) {
  index_t kept = 1;
  for (std::size_t d = 0; d < b.ndim(); ++d) {
    if (!n.reduction.reduced[d]) kept *= b.stop[d] - b.start[d];
  }
  return estimate_bytes(*n.inputs[0], b) + kept * state_bytes;
}

shape_t first_chunk(const chunks_t& chunks) {
  shape_t shape;
  for (const shape_t& axis : chunks) shape.push_back(axis.empty() ? 0 : axis.front());
  return shape;
}

// Combines `partial` (the states of input_box's kept part) into `states`, the states of the
// kept-space box starting at `origin` with shape `states_shape`, row by row.
void fold_partial(const reducer& red, std::byte* states, const shape_t& states_shape,
                  const shape_t& origin, const std::vector<bool>& reduced, const box& input_box,
                  const bytes& partial) {
  const index_t state_bytes = static_cast<index_t>(red.state_bytes());
  const shape_t strides = c_strides(states_shape);
  box kept{{}, {}};
  for (std::size_t d = 0; d < reduced.size(); ++d) {
    if (reduced[d]) continue;
    kept.start.push_back(input_box.start[d]);
    kept.stop.push_back(input_box.stop[d]);
  }
  const shape_t shape = kept.shape();
  const index_t count = element_count(shape);
  if (count == 0) return;
  const std::size_t k = shape.size();
  const index_t row = k ? shape[k - 1] : 1;
  shape_t index(k ? k - 1 : 0, 0);
  for (index_t r = 0; r < count / row; ++r) {
    index_t to = 0;
    const index_t from = r * row;
    for (std::size_t d = 0; d + 1 < k; ++d)
      to += (kept.start[d] - origin[d] + index[d]) * strides[d];
    if (k) to += kept.start[k - 1] - origin[k - 1];
    red.combine(states + to * state_bytes, partial.data() + from * state_bytes, row);
    for (std::size_t d = k > 1 ? k - 1 : 0; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

shape_t unravel_in(const shape_t& counts, index_t linear) {
  shape_t index(counts.size());
  for (std::size_t d = counts.size(); d-- > 0;) {
    index[d] = linear % counts[d];
    linear /= counts[d];
  }
  return index;
}

bool has_reduction(const node& n) {
  if (n.kind == node_kind::reduction) return true;
  for (const node_ptr& in : n.inputs)
    if (has_reduction(*in)) return true;
  return false;
}

// Source leaves reached from `n` through elementwise nodes (what a task-local cache serves).
void program_sources(const node& n, std::vector<const node*>& out) {
  if (n.kind == node_kind::zarr_source || n.kind == node_kind::chunk_source) {
    if (std::find(out.begin(), out.end(), &n) == out.end()) out.push_back(&n);
    return;
  }
  if (n.kind != node_kind::elementwise) return;
  for (const node_ptr& in : n.inputs) program_sources(*in, out);
}

// The reductions R_i inside `r`'s input G that a fused plan can compute strip by strip:
// G reaches each R_i through elementwise nodes only, each R_i reduces the same axes as r
// over an input of G's shape and chunks with no reduction of its own, and its result
// broadcasts back onto G's kept axes (keepdims, or leading axes reduced). Empty: no fusion.
std::vector<const node*> fusable_inner(const node& r) {
  const node& g = *r.inputs[0];
  std::vector<const node*> inner;
  bool ok = true;
  std::function<void(const node&)> walk = [&](const node& n) {
    if (!ok) return;
    if (n.kind == node_kind::reduction) {
      if (std::find(inner.begin(), inner.end(), &n) == inner.end()) inner.push_back(&n);
      return;
    }
    if (n.kind != node_kind::elementwise) {
      ok = ok && !has_reduction(n);
      return;
    }
    for (const node_ptr& in : n.inputs) walk(*in);
  };
  walk(g);
  if (!ok || inner.empty()) return {};
  for (const node* ri : inner) {
    const node& in = *ri->inputs[0];
    if (in.shape != g.shape || in.chunks != g.chunks ||
        ri->reduction.reduced != r.reduction.reduced || ri->reduction.flat_index ||
        has_reduction(in))
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

// A memory source standing for `like` (same shape, dtype and chunks) with `values`.
node_ptr memory_node(const node& like, std::shared_ptr<const bytes> values) {
  auto m = std::make_shared<node>();
  m->kind = node_kind::memory_source;
  m->shape = like.shape;
  m->dtype = like.dtype;
  m->chunks = like.chunks;
  m->values = std::move(values);
  return m;
}

// Reduction `r`'s result from its final states, as a memory source.
node_ptr finished(const node& r, const reducer& red, const bytes& states, index_t count) {
  auto values = std::make_shared<bytes>(static_cast<std::size_t>(count) * r.dtype.itemsize());
  red.finish(states.data(), count, values->data());
  return memory_node(r, std::move(values));
}

class planner {
 public:
  explicit planner(const compute_options& o) : options_(o) {}

  // The node with every reduction below it materialised.
  node_ptr resolve(const node_ptr& n) {
    if (auto it = resolved_.find(n.get()); it != resolved_.end()) return it->second;
    if (n->kind == node_kind::reduction) {
      if (node_ptr fused = materialise_fused(*n)) {
        resolved_.emplace(n.get(), fused);
        return fused;
      }
    }
    std::vector<node_ptr> inputs;
    bool changed = false;
    for (const node_ptr& in : n->inputs) {
      inputs.push_back(resolve(in));
      changed = changed || inputs.back() != in;
    }
    node_ptr out = n;
    if (changed) {
      auto copy = std::make_shared<node>(*n);
      copy->inputs = std::move(inputs);
      out = copy;
    }
    if (out->kind == node_kind::reduction) out = materialise(*out);
    resolved_.emplace(n.get(), out);
    return out;
  }

  // Runs a stage with the memory not held by results as its task budget.
  void run(const stage& s) {
    const index_t budget = task_budget(s.name);
    index_t done = 0;
    const stage_stats st = run_stage(s, budget, options_.threads, [&](index_t) {
      ++done;
      if (options_.progress) options_.progress(done + progress_base_, progress_total_);
    });
    progress_base_ += s.tasks;
    stats_.stages += 1;
    stats_.tasks += st.tasks;
    stats_.peak_task_bytes = std::max(stats_.peak_task_bytes, st.peak_bytes);
    stats_.budget = budget;
  }

  // Bytes held for the whole run (materialised reductions, the result being assembled).
  void hold(index_t bytes, const std::string& what) {
    held_ += bytes;
    if (held_ > options_.memory_limit) {
      throw_error<memory_budget_error>(what, " needs ", bytes, " bytes held in memory (", held_,
                                       " in all), more than the memory limit of ",
                                       options_.memory_limit, " bytes");
    }
  }
  void release(index_t bytes) { held_ -= bytes; }

  void set_progress_total(index_t total) { progress_total_ = total; }

  // The plan-time memory check: every stage's largest task against the budget it will have,
  // before any stage runs (the reductions' results count as held, as they will be).
  void check_plan(const node& root, index_t output_task_extra) const {
    std::map<const node*, bool> seen;
    index_t held = held_;
    std::function<void(const node&)> walk = [&](const node& n) {
      if (seen[&n]) return;
      seen[&n] = true;
      for (const node_ptr& in : n.inputs) walk(*in);
      if (n.kind != node_kind::reduction) return;
      const node& input = *n.inputs[0];
      const chunk_layout layout(input.chunks);
      const index_t state = static_cast<index_t>(reducer(n).state_bytes());
      index_t largest = 0;
      for (index_t i = 0; i < layout.total; ++i) {
        largest =
            std::max(largest, reduction_task_bytes(n, layout.chunk_box(layout.unravel(i)), state));
      }
      const index_t out = element_count(n.shape) * static_cast<index_t>(n.dtype.itemsize());
      check_fits(describe(n), largest, held + element_count(n.shape) * state + out, input.chunks);
      held += out;
    };
    walk(root);
    if (root.kind == node_kind::reduction) return;
    const chunk_layout layout(root.chunks);
    index_t largest = 0;
    for (index_t i = 0; i < (root.shape.empty() ? 1 : layout.total); ++i) {
      const box b = root.shape.empty() ? box{} : layout.chunk_box(layout.unravel(i));
      largest = std::max(largest, estimate_bytes(root, b) + output_task_extra);
    }
    check_fits(describe(root), largest, held, root.chunks);
  }
  void finish() const {
    if (options_.stats) *options_.stats = stats_;
  }

  // The number of tasks every stage will run (reductions and `root`'s own chunks).
  static index_t count_tasks(const node& n, std::map<const node*, index_t>& seen) {
    if (seen.count(&n)) return 0;
    seen[&n] = 0;
    index_t total = 0;
    for (const node_ptr& in : n.inputs) total += count_tasks(*in, seen);
    if (n.kind == node_kind::reduction) total += chunk_layout(n.inputs[0]->chunks).total;
    return total;
  }

 private:
  void check_fits(const std::string& name, index_t task, index_t held,
                  const chunks_t& chunks) const {
    if (held > options_.memory_limit) {
      throw_error<memory_budget_error>(name, ": its result needs ", held,
                                       " bytes held in memory, more than the memory limit of ",
                                       options_.memory_limit, " bytes");
    }
    if (task <= options_.memory_limit - held) return;
    throw_error<memory_budget_error>(
        name, ": one task needs ", task, " bytes, more than the ", options_.memory_limit - held,
        " bytes the memory limit leaves for tasks",
        over_budget_advice(first_chunk(chunks), task, options_.memory_limit - held));
  }

  index_t task_budget(const std::string& name) const {
    const index_t budget = options_.memory_limit - held_;
    if (budget <= 0) {
      throw_error<memory_budget_error>(name, ": no memory is left for tasks: ", held_,
                                       " bytes of results are held and the limit is ",
                                       options_.memory_limit);
    }
    return budget;
  }

  // Computes reduction `r` and the reductions inside its input in one stage of strip tasks
  // (see fusable_inner): each task takes the chunks that share a kept-axes position, computes
  // every R_i there, then r's states there, reading those source chunks once. The fold order
  // is the unfused plan's, so the result is bit-identical to it. nullptr when it does not
  // apply, or when a strip task would not leave room for one task per thread.
  node_ptr materialise_fused(const node& r) {
    const std::vector<const node*> inner = fusable_inner(r);
    if (inner.empty()) return nullptr;
    const node& g = *r.inputs[0];
    const chunk_layout layout(g.chunks);
    const std::vector<bool>& reduced = r.reduction.reduced;
    const std::size_t ndim = g.shape.size();
    shape_t kept_shape, kept_counts, reduced_counts;
    for (std::size_t d = 0; d < ndim; ++d) {
      (reduced[d] ? reduced_counts : kept_counts).push_back(layout.counts[d]);
      if (!reduced[d]) kept_shape.push_back(g.shape[d]);
    }
    const index_t groups = element_count(kept_counts);
    const index_t per_group = element_count(reduced_counts);
    const int threads = options_.threads > 0
                            ? options_.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (groups < threads || per_group < 2 || layout.total == 0) return nullptr;

    // The chunk indices of group `gi`, in the unfused fold order (reduced axes, C order).
    auto group_chunks = [&](index_t gi) {
      const shape_t kept_index = unravel_in(kept_counts, gi);
      std::vector<shape_t> out;
      for (index_t o = 0; o < per_group; ++o) {
        const shape_t red_index = unravel_in(reduced_counts, o);
        shape_t index(ndim);
        std::size_t k = 0, q = 0;
        for (std::size_t d = 0; d < ndim; ++d)
          index[d] = reduced[d] ? red_index[q++] : kept_index[k++];
        out.push_back(std::move(index));
      }
      return out;
    };
    auto kept_box_of = [&](const shape_t& index) {
      box kb{{}, {}};
      const box b = layout.chunk_box(index);
      for (std::size_t d = 0; d < ndim; ++d) {
        if (reduced[d]) continue;
        kb.start.push_back(b.start[d]);
        kb.stop.push_back(b.stop[d]);
      }
      return kb;
    };

    // The results of the inner reductions, filled strip by strip, read as memory sources.
    std::map<const node*, node_ptr> replaced;
    std::vector<std::shared_ptr<bytes>> inner_values;
    std::vector<std::unique_ptr<reducer>> inner_reducers;
    for (const node* ri : inner) {
      auto values = std::make_shared<bytes>(static_cast<std::size_t>(
          element_count(ri->shape) * static_cast<index_t>(ri->dtype.itemsize())));
      replaced[ri] = memory_node(*ri, values);
      inner_values.push_back(values);
      inner_reducers.push_back(std::make_unique<reducer>(*ri));
    }
    std::function<node_ptr(const node_ptr&)> substitute = [&](const node_ptr& n) -> node_ptr {
      if (auto it = replaced.find(n.get()); it != replaced.end()) return it->second;
      if (n->kind != node_kind::elementwise) return n;
      auto copy = std::make_shared<node>(*n);
      for (node_ptr& in : copy->inputs) in = substitute(in);
      return copy;
    };
    const node_ptr g_fused = substitute(r.inputs[0]);
    const reducer red(r);

    // One task's bytes: the strip's source chunks (cached), the largest evaluation, states.
    std::vector<const node*> sources;
    program_sources(*g_fused, sources);
    for (const node* ri : inner) program_sources(*ri->inputs[0], sources);
    index_t state_sum = static_cast<index_t>(red.state_bytes());
    for (const auto& ir : inner_reducers) state_sum += static_cast<index_t>(ir->state_bytes());
    auto task_bytes = [&](index_t gi) {
      index_t cache = 0, eval = 0;
      const std::vector<shape_t> chunks = group_chunks(gi);
      for (const shape_t& c : chunks) {
        const box b = layout.chunk_box(c);
        for (const node* src : sources)
          cache +=
              broadcast_box(*src, g.shape, b).size() * static_cast<index_t>(src->dtype.itemsize());
        eval = std::max(eval, estimate_bytes(*g_fused, b));
        for (const node* ri : inner) eval = std::max(eval, estimate_bytes(*ri->inputs[0], b));
      }
      const index_t kept = element_count(kept_box_of(chunks.front()).shape());
      return cache + eval + kept * state_sum + 2 * kept * 8;
    };
    index_t largest = 0;
    for (index_t gi = 0; gi < groups; ++gi) largest = std::max(largest, task_bytes(gi));
    index_t inner_bytes = 0;
    for (const auto& v : inner_values) inner_bytes += static_cast<index_t>(v->size());
    const index_t out_count = element_count(kept_shape);
    const index_t states_size =
        checked_mul(out_count, static_cast<index_t>(red.state_bytes()), "states");
    const index_t out_size =
        checked_mul(out_count, static_cast<index_t>(r.dtype.itemsize()), "result");
    const index_t room = options_.memory_limit - held_ - inner_bytes - states_size - out_size;
    if (largest * threads > room) return nullptr;

    hold(inner_bytes + states_size + out_size, describe(r));
    bytes states(static_cast<std::size_t>(states_size));
    red.init(states.data(), out_count);

    struct strip_result {
      box kept;
      bytes states;
    };
    stage s;
    s.name = describe(r) + " (fused with its inner reductions)";
    s.tasks = groups;
    s.chunk_shape = first_chunk(g.chunks);
    s.describe = [&](index_t gi) { return "strip of " + chunk_name(group_chunks(gi).front()); };
    s.bytes_of = task_bytes;
    // Task caches, pooled so that their buffers serve task after task (and die with the stage).
    std::mutex pool_mutex;
    std::vector<std::unique_ptr<source_cache>> pool;
    s.run = [&](index_t gi) -> std::any {
      std::unique_ptr<source_cache> cache;
      {
        std::lock_guard lock(pool_mutex);
        if (!pool.empty()) {
          cache = std::move(pool.back());
          pool.pop_back();
        }
      }
      if (!cache) cache = std::make_unique<source_cache>();
      struct give_back {
        std::unique_ptr<source_cache>& cache;
        std::mutex& mutex;
        std::vector<std::unique_ptr<source_cache>>& pool;
        ~give_back() {
          cache->reset();
          std::lock_guard lock(mutex);
          pool.push_back(std::move(cache));
        }
      } returner{cache, pool_mutex, pool};
      source_cache_scope scope(cache.get());
      const std::vector<shape_t> chunks = group_chunks(gi);
      const box kept = kept_box_of(chunks.front());
      const shape_t kshape = kept.shape();
      const index_t kcount = element_count(kshape);
      // Each inner reduction over the strip, finished into its share of the result.
      for (std::size_t i = 0; i < inner.size(); ++i) {
        const node& ri = *inner[i];
        const reducer& ired = *inner_reducers[i];
        bytes local(static_cast<std::size_t>(kcount) * ired.state_bytes());
        ired.init(local.data(), kcount);
        for (const shape_t& c : chunks) {
          const box b = layout.chunk_box(c);
          bytes values =
              cache->acquire(static_cast<std::size_t>(b.size()) * ri.inputs[0]->dtype.itemsize());
          evaluate_into(*ri.inputs[0], b, values);
          fold_partial(ired, local.data(), kshape, kept.start, reduced, b,
                       ired.partial(values.data(), b));
          cache->recycle(std::move(values));
        }
        bytes finished(static_cast<std::size_t>(kcount) * ri.dtype.itemsize());
        ired.finish(local.data(), kcount, finished.data());
        copy_region(finished.data(), kshape, shape_t(kshape.size(), 0), inner_values[i]->data(),
                    kept_shape, kept.start, kshape, ri.dtype.itemsize());
      }
      // Then r's states over the strip, from the same (cached) chunks.
      strip_result out{kept, bytes(static_cast<std::size_t>(kcount) * red.state_bytes())};
      red.init(out.states.data(), kcount);
      for (const shape_t& c : chunks) {
        const box b = layout.chunk_box(c);
        bytes values = cache->acquire(static_cast<std::size_t>(b.size()) * g.dtype.itemsize());
        evaluate_into(*g_fused, b, values);
        fold_partial(red, out.states.data(), kshape, kept.start, reduced, b,
                     red.partial(values.data(), b));
        cache->recycle(std::move(values));
      }
      return std::make_shared<strip_result>(std::move(out));
    };
    s.consume = [&](index_t, std::any& result) {
      auto strip = std::any_cast<std::shared_ptr<strip_result>>(result);
      const shape_t kshape = strip->kept.shape();
      copy_region(strip->states.data(), kshape, shape_t(kshape.size(), 0), states.data(),
                  kept_shape, strip->kept.start, kshape, red.state_bytes());
    };
    run(s);
    // Progress was planned for the unfused stages: account for the tasks not run.
    progress_base_ += layout.total * static_cast<index_t>(inner.size() + 1) - groups;
    if (options_.progress) options_.progress(progress_base_, progress_total_);

    release(states_size + inner_bytes);  // the inner results die with this stage
    return finished(r, red, states, out_count);
  }

  node_ptr materialise(const node& n) {
    const node& input = *n.inputs[0];
    const reducer red(n);
    const std::size_t state_bytes = red.state_bytes();
    const std::vector<bool>& reduced = n.reduction.reduced;
    const std::size_t ndim = input.shape.size();
    shape_t kept_shape;
    for (std::size_t d = 0; d < ndim; ++d) {
      if (!reduced[d]) kept_shape.push_back(input.shape[d]);
    }
    const index_t out_count = element_count(kept_shape);
    const index_t states_size = checked_mul(out_count, static_cast<index_t>(state_bytes), "states");
    const index_t out_size =
        checked_mul(out_count, static_cast<index_t>(n.dtype.itemsize()), "result");
    hold(states_size + out_size, describe(n));
    bytes states(static_cast<std::size_t>(states_size));
    red.init(states.data(), out_count);

    // Partials are folded per group (the kept-axes chunk) in reduced-axes chunk order.
    const chunk_layout layout(input.chunks);
    shape_t kept_counts, reduced_counts;
    for (std::size_t d = 0; d < ndim; ++d) {
      (reduced[d] ? reduced_counts : kept_counts).push_back(layout.counts[d]);
    }
    const index_t groups = element_count(kept_counts);
    std::vector<index_t> next(static_cast<std::size_t>(groups), 0);
    std::map<std::pair<index_t, index_t>, std::pair<box, bytes>> pending;
    auto group_and_order = [&](const shape_t& index) {
      index_t group = 0, order = 0;
      for (std::size_t d = 0; d < ndim; ++d) {
        if (reduced[d])
          order = order * layout.counts[d] + index[d];
        else
          group = group * layout.counts[d] + index[d];
      }
      return std::pair{group, order};
    };
    const shape_t origin(kept_shape.size(), 0);
    auto fold = [&](const box& input_box, const bytes& partial) {
      fold_partial(red, states.data(), kept_shape, origin, reduced, input_box, partial);
    };

    stage s;
    s.name = describe(n);
    s.tasks = layout.total;
    s.chunk_shape = first_chunk(input.chunks);
    s.describe = [&](index_t i) { return chunk_name(layout.unravel(i)); };
    s.bytes_of = [&](index_t i) {
      return reduction_task_bytes(n, layout.chunk_box(layout.unravel(i)),
                                  static_cast<index_t>(state_bytes));
    };
    buffer_pool buffers;
    s.run = [&](index_t i) -> std::any {
      const box b = layout.chunk_box(layout.unravel(i));
      bytes values = buffers.acquire(static_cast<std::size_t>(b.size()) * input.dtype.itemsize());
      evaluate_into(input, b, values);
      auto partial = std::make_shared<bytes>(red.partial(values.data(), b));
      buffers.recycle(std::move(values));
      return partial;
    };
    s.consume = [&](index_t i, std::any& result) {
      const shape_t index = layout.unravel(i);
      const box b = layout.chunk_box(index);
      auto partial = std::any_cast<std::shared_ptr<bytes>>(result);
      auto [group, order] = group_and_order(index);
      if (order != next[group]) {
        pending.emplace(std::pair{group, order}, std::pair{b, std::move(*partial)});
        return;
      }
      fold(b, *partial);
      ++next[group];
      for (auto it = pending.find({group, next[group]}); it != pending.end();
           it = pending.find({group, next[group]})) {
        fold(it->second.first, it->second.second);
        pending.erase(it);
        ++next[group];
      }
    };
    run(s);

    release(states_size);
    return finished(n, red, states, out_count);
  }

  const compute_options& options_;
  std::map<const node*, node_ptr> resolved_;
  index_t held_ = 0;
  index_t progress_base_ = 0;
  index_t progress_total_ = 0;
  execution_stats stats_;
};

const node& checked(const array& a) {
  if (!a) throw_error<value_error>("operation on an empty chunkarr::array");
  return *a.node();
}

}  // namespace

void check_result_fits(const array& a, const compute_options& options) {
  const index_t bytes = a.nbytes();
  if (bytes > options.memory_limit) {
    throw_error<memory_budget_error>("compute: the result ", describe(checked(a)), " needs ", bytes,
                                     " bytes, more than the memory limit of ", options.memory_limit,
                                     " bytes; store it to Zarr instead, or reduce it");
  }
}

void compute_into(const array& a, std::span<std::byte> out, const compute_options& options) {
  const node& root_in = checked(a);
  check_result_fits(a, options);
  if (static_cast<index_t>(out.size()) != a.nbytes()) {
    throw_error<shape_error>("compute_into: ", out.size(), " bytes for ", describe(root_in),
                             ", expected ", a.nbytes());
  }
  planner p(options);
  std::map<const node*, index_t> seen;
  p.set_progress_total(planner::count_tasks(root_in, seen) + chunk_layout(root_in.chunks).total);
  p.hold(a.nbytes(), "the result " + describe(root_in));
  p.check_plan(root_in, 0);
  const node_ptr root = p.resolve(a.node());
  if (root->kind == node_kind::memory_source) {  // a reduction: already computed
    std::memcpy(out.data(), root->values->data(), out.size());
    p.finish();
    return;
  }
  const chunk_layout layout(root->chunks);
  const std::size_t itemsize = root->dtype.itemsize();
  stage s;
  s.name = describe(*root);
  s.tasks = root->shape.empty() ? 1 : layout.total;
  s.chunk_shape = first_chunk(root->chunks);
  auto box_of = [&](index_t i) {
    return root->shape.empty() ? box{} : layout.chunk_box(layout.unravel(i));
  };
  s.describe = [&](index_t i) {
    return chunk_name(root->shape.empty() ? shape_t{} : layout.unravel(i));
  };
  s.bytes_of = [&](index_t i) { return estimate_bytes(*root, box_of(i)); };
  buffer_pool buffers;
  s.run = [&](index_t i) -> std::any {
    const box b = box_of(i);
    if (b.ndim() == 0 || b == box::whole(root->shape)) {
      evaluate_into(*root, b, out);
      return {};
    }
    bytes values = buffers.acquire(static_cast<std::size_t>(b.size()) * itemsize);
    evaluate_into(*root, b, values);
    copy_region(values.data(), b.shape(), shape_t(b.ndim(), 0), out.data(), root->shape, b.start,
                b.shape(), itemsize);
    buffers.recycle(std::move(values));
    return {};
  };
  s.consume = [](index_t, std::any&) {};
  if (root->shape.empty() || element_count(root->shape) > 0) p.run(s);
  p.finish();
}

namespace {

// Runs `a` in chunks of `grid`, handing each chunk's values (a full chunk of the grid, edge
// chunks padded with `pad`, when `pad` is set; else exactly the chunk's box) to `consume` on
// the worker threads. `extra` bytes per task are counted for what `consume` allocates.
void run_chunks(
    const array& a, const chunk_grid& grid, const bytes* pad, index_t extra,
    const std::string& what,
    const std::function<void(const shape_t&, const box&, std::span<const std::byte>)>& consume,
    const compute_options& options) {
  const node& root_in = checked(a);
  if (grid.shape() != root_in.shape) {
    throw_error<shape_error>(what, ": shape ", to_string(grid.shape()), " does not match ",
                             describe(root_in));
  }
  const std::size_t itemsize = root_in.dtype.itemsize();
  const index_t full_bytes = grid.chunk_elements() * static_cast<index_t>(itemsize);
  planner p(options);
  std::map<const node*, index_t> seen;
  p.set_progress_total(planner::count_tasks(root_in, seen) + grid.chunk_count());
  p.check_plan(root_in, full_bytes + extra);
  const node_ptr root = p.resolve(a.node());
  stage s;
  s.name = what + " " + describe(*root);
  s.tasks = grid.chunk_count();
  s.chunk_shape = grid.chunks();
  s.describe = [&](index_t i) { return chunk_name(grid.unravel(i)); };
  s.bytes_of = [&](index_t i) {
    return estimate_bytes(*root, grid.chunk_box(grid.unravel(i))) + full_bytes + extra;
  };
  buffer_pool buffers;
  s.run = [&](index_t i) -> std::any {
    const shape_t index = grid.unravel(i);
    const box b = grid.chunk_box(index);
    const bool edge = b.shape() != grid.chunks();
    if (!edge || !pad) {
      bytes values = buffers.acquire(static_cast<std::size_t>(b.size()) * itemsize);
      evaluate_into(*root, b, values);
      consume(index, b, values);
      buffers.recycle(std::move(values));
      return {};
    }
    bytes chunk(static_cast<std::size_t>(full_bytes));
    fill_elements(chunk.data(), grid.chunk_elements(), pad->data(), itemsize);
    bytes values(static_cast<std::size_t>(b.size()) * itemsize);
    evaluate_into(*root, b, values);
    copy_region(values.data(), b.shape(), shape_t(b.ndim(), 0), chunk.data(), grid.chunks(),
                shape_t(b.ndim(), 0), b.shape(), itemsize);
    consume(index, b, chunk);
    return {};
  };
  s.consume = [](index_t, std::any&) {};
  p.run(s);
  p.finish();
}

}  // namespace

void store(const array& a, const zarr_array& out, const compute_options& options) {
  const bytes fill = out.metadata().fill_element();
  const array typed =
      a.dtype().kind == out.dtype().kind ? a : a.astype(make_dtype(out.dtype().kind));
  run_chunks(
      typed, out.grid(), &fill, out.metadata().chunk_bytes(), "store",
      [&](const shape_t& index, const box&, std::span<const std::byte> chunk) {
        out.write_chunk(index, chunk);
      },
      options);
}

void compute_chunks(const array& a, const shape_t& chunk_shape,
                    const std::function<void(const box&, std::span<const std::byte>)>& consume,
                    index_t consume_bytes, bool pad_edges, const compute_options& options) {
  const node& root_in = checked(a);
  if (chunk_shape.size() != root_in.shape.size()) {
    throw_error<shape_error>("compute_chunks: chunks ", to_string(chunk_shape),
                             " do not match shape ", to_string(root_in.shape));
  }
  const bytes zero(root_in.dtype.itemsize(), std::byte{0});
  run_chunks(
      a, chunk_grid(root_in.shape, chunk_shape), pad_edges ? &zero : nullptr, consume_bytes,
      "compute",
      [&](const shape_t&, const box& b, std::span<const std::byte> values) { consume(b, values); },
      options);
}

zarr_array store(const array& a, const std::filesystem::path& path,
                 const compute_options& options) {
  const node& root_in = checked(a);
  array_metadata meta;
  meta.shape = root_in.shape;
  meta.dtype = root_in.dtype;
  meta.compressor = make_codec(options.codec);
  meta.fill = 0.0;
  if (!options.chunks.empty()) {
    if (options.chunks.size() != meta.shape.size()) {
      throw_error<shape_error>("store: chunks ", to_string(options.chunks), " do not match shape ",
                               to_string(meta.shape));
    }
    meta.chunks = options.chunks;
  } else {
    for (const shape_t& axis : root_in.chunks) meta.chunks.push_back(axis.empty() ? 1 : axis[0]);
  }
  meta.validate(path.string());
  staged_directory staging(path, options.overwrite);
  const zarr_array out = zarr_array::create(make_directory_store(staging.path()), "", meta);
  store(a, out, options);
  staging.commit();
  return zarr_array::open(path);
}

namespace {

std::string escape_dot(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string to_dot(const array& a, const compute_options& options) {
  (void)options;
  const node& root = checked(a);
  // One cluster per stage: each reduction (inputs first), then the output.
  std::vector<const node*> stages;
  std::map<const node*, bool> visited;
  std::function<void(const node&)> walk = [&](const node& n) {
    if (visited[&n]) return;
    visited[&n] = true;
    for (const node_ptr& in : n.inputs) walk(*in);
    if (n.kind == node_kind::reduction) stages.push_back(&n);
  };
  walk(root);
  if (root.kind != node_kind::reduction) stages.push_back(&root);
  constexpr index_t shown = 8;
  std::ostringstream dot;
  dot << "digraph chunkarr {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n";
  std::map<const node*, std::string> result_of;  // reduction -> its combine node
  for (std::size_t k = 0; k < stages.size(); ++k) {
    const node& n = *stages[k];
    const bool is_output = k + 1 == stages.size() && n.kind != node_kind::reduction;
    const node& tasks_over = is_output ? n : *n.inputs[0];
    const chunk_layout layout(tasks_over.chunks);
    const index_t tasks = tasks_over.shape.empty() ? 1 : layout.total;
    // The sources this stage's tasks read from storage.
    std::set<std::string> sources;
    std::function<void(const node&)> find_sources = [&](const node& m) {
      if (m.kind == node_kind::zarr_source || m.kind == node_kind::chunk_source)
        sources.insert(describe(m));
      if (m.kind == node_kind::reduction && &m != &tasks_over) return;
      for (const node_ptr& in : m.inputs) find_sources(*in);
    };
    find_sources(tasks_over);
    std::string reads_from;
    for (const std::string& src : sources) reads_from += "\\n" + escape_dot(src);
    dot << "  subgraph cluster_" << k << " {\n    label=\"stage " << k + 1 << ": "
        << (is_output ? "output " : "") << escape_dot(describe(n)) << " (" << tasks << " tasks)"
        << reads_from
        << (!is_output && !fusable_inner(n).empty()
                ? "\\nfused with the reductions inside it: one task per strip, when it fits"
                : "")
        << "\";\n";
    // Which reductions this stage's tasks read.
    std::vector<std::string> reads;
    std::function<void(const node&)> uses = [&](const node& m) {
      for (const node_ptr& in : m.inputs) {
        if (in->kind == node_kind::reduction)
          reads.push_back(result_of.at(in.get()));
        else
          uses(*in);
      }
    };
    uses(tasks_over);
    if (tasks_over.kind == node_kind::reduction) reads.push_back(result_of.at(&tasks_over));
    for (index_t i = 0; i < std::min(tasks, shown); ++i) {
      const shape_t index = tasks_over.shape.empty() ? shape_t{} : layout.unravel(i);
      dot << "    s" << k << "_" << i << " [label=\"" << (is_output ? "compute" : "partial")
          << "\\n"
          << to_string(index) << "\"];\n";
    }
    if (tasks > shown) {
      dot << "    s" << k << "_more [label=\"… " << tasks - shown
          << " more tasks\", shape=note];\n";
    }
    if (!is_output) {
      dot << "    s" << k << "_combine [label=\"combine " << name_of(n.reduction.op)
          << "\\n(fixed order)\", shape=ellipse];\n";
      result_of[&n] = "s" + std::to_string(k) + "_combine";
    }
    dot << "  }\n";
    auto each_task = [&](const std::function<void(const std::string&)>& f) {
      for (index_t i = 0; i < std::min(tasks, shown); ++i)
        f("s" + std::to_string(k) + "_" + std::to_string(i));
      if (tasks > shown) f("s" + std::to_string(k) + "_more");
    };
    for (const std::string& r : reads) {
      each_task([&](const std::string& t) { dot << "  " << r << " -> " << t << ";\n"; });
    }
    if (!is_output) {
      each_task([&](const std::string& t) { dot << "  " << t << " -> s" << k << "_combine;\n"; });
    }
  }
  dot << "}\n";
  return dot.str();
}

}  // namespace chunkarr
