#include "exec/run_plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "chunkarr/store/store.hpp"
#include "exec/evaluate.hpp"
#include "exec/executor.hpp"
#include "exec/order.hpp"
#include "exec/reduce.hpp"
#include "exec/scan.hpp"

namespace chunkarr::detail {
namespace {

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

// Where spilled results go: a directory store of its own inside the temp directory, erased
// (the directory too) when the run ends, however it ends.
class spill_area {
 public:
  explicit spill_area(const std::filesystem::path& parent) {
    static std::atomic<int> counter{0};
    remove_orphans(parent);
    store_ = make_directory_store(parent / (std::string(prefix) + std::to_string(::getpid()) + "-" +
                                            std::to_string(counter++)));
  }
  ~spill_area() {
    try {
      store_->erase_prefix("");
    } catch (const std::exception&) {  // a temporary left behind is no reason to fail a run
    }
  }
  spill_area(const spill_area&) = delete;
  spill_area& operator=(const spill_area&) = delete;

  // The temporary Zarr array a spilled result goes to.
  zarr_array create(const std::string& name, const node& result) const {
    array_metadata meta;
    meta.shape = result.shape;
    meta.dtype = result.dtype;
    meta.chunks = result.result->spill_chunks;
    meta.compressor = make_codec("blosc:lz4:1:shuffle");
    meta.fill = 0.0;
    return zarr_array::create(store_, name, meta);
  }
  void erase(const std::string& name) const { store_->erase_prefix(name); }

 private:
  static constexpr const char* prefix = "chunkarr-spill-";

  // Spill areas of runs that died without removing theirs (kill -9): their process is gone.
  static void remove_orphans(const std::filesystem::path& parent) {
    try {
      const std::shared_ptr<kvstore> dir = make_directory_store(parent);
      for (const std::string& name : dir->list_dir("")) {
        if (!name.starts_with(prefix)) continue;
        if (!writer_is_gone(std::string_view(name).substr(std::strlen(prefix)))) continue;
        make_directory_store(parent / name)->erase_prefix("");
      }
    } catch (const std::exception&) {  // an unreadable temp directory fails later, clearly
    }
  }

  std::shared_ptr<kvstore> store_;
};

class plan_runner {
 public:
  plan_runner(plan& p, const std::function<void(index_t, index_t)>& progress,
              const std::atomic<bool>* cancel, task_observer* observer)
      : p_(p), progress_(progress), cancel_(cancel), observer_(observer), total_(p.total_tasks()) {}

  void run(const output_sink& sink, execution_stats* stats) {
    if (p_.spills()) spill_.emplace(p_.temp_dir);
    for (std::size_t k = 0; k < p_.stages.size(); ++k) {
      plan_stage& s = p_.stages[k];
      if (observer_) observer_->stage_begins(k, k + 1 == p_.stages.size());
      allocate(s, "stage" + std::to_string(k));
      switch (s.kind) {
        case stage_kind::reduce:
          run_reduce(s);
          break;
        case stage_kind::reduce_strips:
          run_strips(s, sink);
          break;
        case stage_kind::scan:
          run_scan(s, sink);
          break;
        case stage_kind::select:
          run_select(s);
          break;
        case stage_kind::materialise:
          run_blocks(s, spill_sink(s));
          break;
        case stage_kind::output:
          run_blocks(s, sink);
          break;
      }
      for (std::size_t j : s.release) release(p_.stages[j], "stage" + std::to_string(j));
    }
    if (stats) *stats = stats_;
  }

 private:
  void allocate(plan_stage& s, const std::string& name) {
    auto make = [&](const node_ptr& r) {
      if (r->result->spill)
        r->result->spilled = spill_->create(name, *r);
      else
        r->result->values.resize(static_cast<std::size_t>(element_count(r->shape)) *
                                 r->dtype.itemsize());
    };
    if (s.result && !s.to_output) make(s.result);
    for (const node_ptr& r : s.inner_results) make(r);
  }

  void release(plan_stage& s, const std::string& name) {
    auto drop = [&](const node_ptr& r) {
      r->result->values = bytes();
      if (r->result->spilled) {
        r->result->spilled.reset();
        spill_->erase(name);
      }
    };
    if (s.result) drop(s.result);
    for (const node_ptr& r : s.inner_results) drop(r);
  }

  // Runs `s` with the budget the plan gave it.
  void execute(const plan_stage& plan_s, stage& s) {
    s.name = plan_s.name;
    s.tasks = plan_s.tasks;
    s.bytes_of = [&](index_t i) { return plan_s.bytes_of(i); };
    s.describe = [&](index_t i) { return plan_s.describe_task(i); };
    s.chunk_shape = first_chunk(plan_s.input->chunks);
    s.cancel = cancel_;
    if (observer_) {  // each task's body between begin_task and end_task, on its thread
      s.run = [this, body = std::move(s.run)](index_t i) -> std::any {
        observer_->begin_task();
        struct ender {
          task_observer* o;
          ~ender() { o->end_task(); }
        } end{observer_};
        return body(i);
      };
    }
    const stage_stats st =
        run_stage(s, std::max<index_t>(plan_s.budget, 1), p_.threads, [&](index_t) {
          ++done_;
          if (progress_) progress_(done_, total_);
        });
    stats_.stages += 1;
    stats_.tasks += st.tasks;
    stats_.peak_task_bytes = std::max(stats_.peak_task_bytes, st.peak_bytes);
    stats_.budget = plan_s.budget;
  }

  // One task per input chunk; the serial sink folds partials per kept-axes group in
  // reduced-axes chunk order, holding back those that arrive early.
  void run_reduce(const plan_stage& ps) {
    const node& r = *ps.target;
    const node& input = *ps.input;
    const reducer red(r);
    const std::vector<bool>& reduced = r.reduction.reduced;
    const std::size_t ndim = input.shape.size();
    const shape_t kept_shape = select_axes(input.shape, reduced, false);
    const index_t count = element_count(kept_shape);
    bytes states(static_cast<std::size_t>(count) * red.state_bytes());
    red.init(states.data(), count);

    const block_layout& layout = ps.blocks;
    shape_t counts;
    for (const axis_chunks& axis : input.chunks)
      counts.push_back(static_cast<index_t>(axis.size()));
    auto group_and_order = [&](const shape_t& index) {
      index_t group = 0, order = 0;
      for (std::size_t d = 0; d < ndim; ++d) {
        if (reduced[d])
          order = order * counts[d] + index[d];
        else
          group = group * counts[d] + index[d];
      }
      return std::pair{group, order};
    };
    std::map<index_t, index_t> next;  // per group: the order of the next partial to fold
    std::map<std::pair<index_t, index_t>, std::pair<box, bytes>> pending;
    const shape_t origin(kept_shape.size(), 0);
    auto fold = [&](const box& b, const bytes& partial) {
      fold_partial(red, states.data(), kept_shape, origin, reduced, b, partial);
    };

    stage s;
    buffer_pool buffers;
    s.run = [&](index_t i) -> std::any {
      buffer_pool_scope scope(&buffers);
      const box b = layout.task_box(i);
      bytes values = buffers.acquire(static_cast<std::size_t>(b.size()) * input.dtype.itemsize());
      evaluate_into(p_.programs, input, b, values);
      const std::size_t states = static_cast<std::size_t>(
          element_count(select_axes(b.shape(), reduced, false)) * red.state_bytes());
      auto partial =
          std::make_shared<bytes>(red.partial(values.data(), b, buffers.acquire(states)));
      buffers.recycle(std::move(values));
      return partial;
    };
    s.consume = [&](index_t i, std::any& result) {
      const shape_t index = layout.chunk_range(i).start;
      const box b = layout.task_box(i);
      auto partial = std::any_cast<std::shared_ptr<bytes>>(result);
      auto [group, order] = group_and_order(index);
      index_t& expected = next[group];
      if (order != expected) {
        pending.emplace(std::pair{group, order}, std::pair{b, std::move(*partial)});
        return;
      }
      fold(b, *partial);
      buffers.recycle(std::move(*partial));
      ++expected;
      for (auto it = pending.find({group, expected}); it != pending.end();
           it = pending.find({group, expected})) {
        fold(it->second.first, it->second.second);
        buffers.recycle(std::move(it->second.second));
        pending.erase(it);
        ++expected;
      }
    };
    execute(ps, s);
    red.finish(states.data(), count, ps.result->result->values.data());
  }

  // Radix selection: the stage's tasks (one per input chunk) run once per pass, each task's
  // digit counts merged as they come (integer counts: any order gives the same), until every
  // rank is resolved.
  void run_select(const plan_stage& ps) {
    const node& input = *ps.input;
    selector sel(*ps.target, {ps.select_digits, ps.select_collect});
    const block_layout& layout = ps.blocks;
    buffer_pool buffers;
    while (!sel.done()) {
      if (sel.pass() > 0) total_ += ps.tasks;  // progress counts every pass's tasks
      stage s;
      s.run = [&](index_t i) -> std::any {
        buffer_pool_scope scope(&buffers);
        const box b = layout.task_box(i);
        bytes values = buffers.acquire(static_cast<std::size_t>(b.size()) * input.dtype.itemsize());
        evaluate_into(p_.programs, input, b, values);
        std::shared_ptr<selector::partial_t> partial = sel.partial(values.data(), b);
        buffers.recycle(std::move(values));
        return partial;
      };
      s.consume = [&](index_t, std::any& result) {
        sel.merge(*std::any_cast<std::shared_ptr<selector::partial_t>>(result));
      };
      execute(ps, s);
      sel.next_pass();
    }
    sel.finish(ps.result->result->values.data());
  }

  // One task per strip of chunks along the reduced axes: the inner reductions first (fused),
  // then the reduction itself, folded in the same order as run_reduce; each strip's finished
  // values go into the result in memory, or as one chunk of the spilled result.
  void run_strips(const plan_stage& ps, const output_sink& sink) {
    const node& r = *ps.target;
    const node& input = *ps.input;
    const strip_layout& strips = ps.strips;
    const std::vector<bool>& reduced = strips.reduced;
    const reducer red(r);
    std::vector<std::unique_ptr<reducer>> inner_reducers;
    for (const node_ptr& ri : ps.inner) inner_reducers.push_back(std::make_unique<reducer>(*ri));
    const shape_t kept_shape = select_axes(input.shape, reduced, false);
    stage_result& out = *ps.result->result;

    buffer_pool strip_buffers;  // the tasks' buffers when they have no cache
    // Folds `what` over strip `i` with `red_of` into a fresh buffer of finished values.
    auto reduce_strip = [&](index_t i, const node& what, const reducer& rd, std::size_t itemsize,
                            source_cache* cache) {
      buffer_pool& buffers = cache ? cache->pool() : strip_buffers;
      const box kept = strips.kept_box(i);
      const shape_t kshape = kept.shape();
      const index_t kcount = element_count(kshape);
      bytes local(static_cast<std::size_t>(kcount) * rd.state_bytes());
      rd.init(local.data(), kcount);
      for (index_t o = 0; o < strips.steps.tasks(); ++o) {
        const box b = strips.step_box(i, o);
        const std::size_t size = static_cast<std::size_t>(b.size()) * what.dtype.itemsize();
        bytes values = buffers.acquire(size);
        evaluate_into(p_.programs, what, b, values);
        const std::size_t states = static_cast<std::size_t>(
            element_count(select_axes(b.shape(), reduced, false)) * rd.state_bytes());
        bytes partial = rd.partial(values.data(), b, buffers.acquire(states));
        fold_partial(rd, local.data(), kshape, kept.start, reduced, b, partial);
        buffers.recycle(std::move(values));
        buffers.recycle(std::move(partial));
      }
      bytes finished(static_cast<std::size_t>(kcount) * itemsize);
      rd.finish(local.data(), kcount, finished.data());
      return finished;
    };
    // Task caches, pooled so that their buffers serve task after task (and die with the stage).
    std::mutex pool_mutex;
    std::vector<std::unique_ptr<source_cache>> pool;
    const bool fused = !ps.inner.empty();

    stage s;
    s.run = [&](index_t i) -> std::any {
      std::unique_ptr<source_cache> cache;
      if (fused) {
        std::lock_guard lock(pool_mutex);
        if (!pool.empty()) {
          cache = std::move(pool.back());
          pool.pop_back();
        }
      }
      if (fused && !cache) cache = std::make_unique<source_cache>();
      struct give_back {
        std::unique_ptr<source_cache>& cache;
        std::mutex& mutex;
        std::vector<std::unique_ptr<source_cache>>& pool;
        ~give_back() {
          if (!cache) return;
          cache->reset();
          std::lock_guard lock(mutex);
          pool.push_back(std::move(cache));
        }
      } returner{cache, pool_mutex, pool};
      buffer_pool_scope pool_scope(&strip_buffers);
      source_cache_scope scope(cache.get());  // its own pool when there is a cache
      const box kept = strips.kept_box(i);
      const shape_t kshape = kept.shape();
      for (std::size_t k = 0; k < ps.inner.size(); ++k) {
        const node& ri = *ps.inner[k];
        const bytes finished =
            reduce_strip(i, *ri.inputs[0], *inner_reducers[k], ri.dtype.itemsize(), cache.get());
        copy_region(finished.data(), kshape, shape_t(kshape.size(), 0),
                    ps.inner_results[k]->result->values.data(), kept_shape, kept.start, kshape,
                    ri.dtype.itemsize());
      }
      const bytes finished = reduce_strip(i, input, red, r.dtype.itemsize(), cache.get());
      if (!out.spill && !ps.to_output) {
        copy_region(finished.data(), kshape, shape_t(kshape.size(), 0), out.values.data(),
                    kept_shape, kept.start, kshape, r.dtype.itemsize());
        return {};
      }
      // One chunk of the result (of the spilled array, or of the output): its index and box
      // over the result's axes (keepdims: size 1 along the reduced ones).
      shape_t index;
      box region{{}, {}};
      const shape_t kept_index = strips.kept.chunk_range(i).start;
      for (std::size_t d = 0, k = 0; d < reduced.size(); ++d) {
        if (!reduced[d]) {
          index.push_back(kept_index[k]);
          region.start.push_back(kept.start[k]);
          region.stop.push_back(kept.stop[k]);
          ++k;
        } else if (r.reduction.keepdims) {
          index.push_back(0);
          region.start.push_back(0);
          region.stop.push_back(1);
        }
      }
      emit_chunk(ps, sink, index, region, finished);
      return {};
    };
    s.consume = [](index_t, std::any&) {};
    execute(ps, s);
  }

  // One chunk of a stage's result (`values` over `region`) to the output's sink (to_output)
  // or to the stage's spilled array, padded to the full chunk shape at an edge.
  static void emit_chunk(const plan_stage& ps, const output_sink& sink, const shape_t& index,
                         const box& region, std::span<const std::byte> values) {
    static const bytes zero(16, std::byte{0});
    const stage_result& out = *ps.result->result;
    const bytes* pad = ps.to_output ? sink.pad : &zero;
    const shape_t& full = ps.to_output ? sink.full_chunk : out.spill_chunks;
    auto emit = [&](std::span<const std::byte> chunk) {
      if (ps.to_output)
        sink.consume(index, region, chunk);
      else
        out.spilled->write_chunk(index, chunk);
    };
    const shape_t shape = region.shape();
    if (!pad || shape == full) {
      emit(values);
      return;
    }
    const std::size_t itemsize = ps.target->dtype.itemsize();
    bytes padded(static_cast<std::size_t>(element_count(full)) * itemsize);
    fill_elements(padded.data(), element_count(full), pad->data(), itemsize);
    copy_region(values.data(), shape, shape_t(shape.size(), 0), padded.data(), full,
                shape_t(shape.size(), 0), shape, itemsize);
    emit(padded);
  }

  // One task per strip of chunks along the scanned axis, walking it in order: each step's
  // input values, then the scan over them from the state the previous step left, then the
  // step's values into the result (in memory), or as one chunk (spilled, or the output's).
  void run_scan(const plan_stage& ps, const output_sink& sink) {
    const node& sc = *ps.target;
    const node& input = *ps.input;
    const strip_layout& strips = ps.strips;
    const scanner scan(sc);
    const auto axis = static_cast<std::size_t>(sc.axis);
    stage_result& out = *ps.result->result;
    const std::size_t itemsize = sc.dtype.itemsize();
    buffer_pool buffers;
    // A step's values into the result (in memory), or as one chunk (spilled, or the output's).
    const auto deliver = [&](const shape_t& kept_index, index_t o, const box& b,
                             const bytes& result) {
      const shape_t shape = b.shape();
      if (!out.spill && !ps.to_output) {
        copy_region(result.data(), shape, shape_t(shape.size(), 0), out.values.data(), sc.shape,
                    b.start, shape, itemsize);
        return;
      }
      shape_t index = kept_index;
      index.insert(index.begin() + static_cast<std::ptrdiff_t>(axis), o);
      emit_chunk(ps, sink, index, b, result);
    };
    // (outer, length, inner) of a box around the axis.
    const auto split = [&](const shape_t& shape) {
      index_t outer = 1, inner = 1;
      for (std::size_t d = 0; d < axis; ++d) outer *= shape[d];
      for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
      return std::array<index_t, 3>{outer, shape[axis], inner};
    };
    const auto cancelled = [&] { return cancel_ && cancel_->load(std::memory_order_relaxed); };
    stage s;
    s.run = [&](index_t i) -> std::any {
      buffer_pool_scope scope(&buffers);
      const box kept = strips.kept_box(i);
      const auto lane_state = static_cast<std::size_t>(kept.size()) * scan.state_bytes();
      bytes state(lane_state);
      const shape_t kept_index = strips.kept.chunk_range(i).start;
      const index_t steps = strips.steps.tasks();
      if (!sc.scan.both_ways) {
        for (index_t k = 0; k < steps && !cancelled(); ++k) {
          const index_t o = k;  // the step's chunk
          const box b = strips.step_box(i, o);
          const auto [outer, length, inner] = split(b.shape());
          bytes values =
              buffers.acquire(static_cast<std::size_t>(b.size()) * input.dtype.itemsize());
          evaluate_into(p_.programs, input, b, values);
          bytes result = buffers.acquire(static_cast<std::size_t>(b.size()) * itemsize);
          scan.step(state.data(), outer, length, inner, values.data(), result.data(), k == 0);
          buffers.recycle(std::move(values));
          deliver(kept_index, o, b, result);
          buffers.recycle(std::move(result));
        }
        return {};
      }
      // filtfilt: forward through the steps keeping the state each starts from, then back:
      // each step's forward values again from its saved state, then the backward filter.
      std::vector<bytes> saved(static_cast<std::size_t>(steps));
      const auto forward_values = [&](index_t o, bool first) {
        const box in = scan_input_box(sc, strips.step_box(i, o));
        bytes values =
            buffers.acquire(static_cast<std::size_t>(in.size()) * input.dtype.itemsize());
        evaluate_into(p_.programs, input, in, values);
        bytes doubles = buffers.acquire(static_cast<std::size_t>(in.size()) * sizeof(double));
        auto* y = reinterpret_cast<double*>(doubles.data());
        scan.to_double(values.data(), in.size(), y);
        buffers.recycle(std::move(values));
        const auto [outer, length, inner] = split(in.shape());
        scan.forward(state.data(), outer, length, inner, y, first);
        return std::pair{in, std::move(doubles)};
      };
      for (index_t o = 0; o < steps && !cancelled(); ++o) {
        saved[static_cast<std::size_t>(o)] = state;
        auto [in, doubles] = forward_values(o, o == 0);
        buffers.recycle(std::move(doubles));
      }
      bytes back(lane_state);
      for (index_t o = steps; o-- > 0 && !cancelled();) {
        state = saved[static_cast<std::size_t>(o)];
        auto [in, doubles] = forward_values(o, o == 0);
        const auto [outer, length, inner] = split(in.shape());
        scan.backward(back.data(), outer, length, inner, reinterpret_cast<double*>(doubles.data()),
                      o == steps - 1);
        // The step's own part of the input's box (without the padding).
        const box b = strips.step_box(i, o);
        box part = b.relative_to(b.start);
        part.start[axis] = b.start[axis] + sc.scan.edge - in.start[axis];
        part.stop[axis] = part.start[axis] + (b.stop[axis] - b.start[axis]);
        bytes result = buffers.acquire(static_cast<std::size_t>(b.size()) * itemsize);
        copy_region(doubles.data(), in.shape(), part.start, result.data(), b.shape(),
                    shape_t(b.ndim(), 0), b.shape(), itemsize);
        buffers.recycle(std::move(doubles));
        deliver(kept_index, o, b, result);
        buffers.recycle(std::move(result));
      }
      return {};
    };
    s.consume = [](index_t, std::any&) {};
    if (ps.tasks > 0) execute(ps, s);
  }

  // The sink of a materialise stage: each chunk into the stage's spilled result.
  static output_sink spill_sink(const plan_stage& ps) {
    static const bytes zero(16, std::byte{0});
    const zarr_array* z = &*ps.result->result->spilled;
    return {[z](const shape_t& index, const box&, std::span<const std::byte> values) {
              z->write_chunk(index, values);
            },
            &zero,
            z->metadata().chunks,
            {}};
  }

  // One task per block of chunks: the block's values, then each chunk of it to the sink.
  void run_blocks(const plan_stage& ps, const output_sink& sink) {
    const node& root = *ps.input;
    const std::size_t itemsize = root.dtype.itemsize();
    const block_layout& layout = ps.blocks;
    const shape_t full_chunk = sink.pad ? sink.full_chunk : layout.chunk_shape();
    const index_t full_elements = element_count(full_chunk);
    buffer_pool buffers;
    stage s;
    s.run = [&](index_t i) -> std::any {
      buffer_pool_scope scope(&buffers);
      const box b = layout.task_box(ps.block_of(i));
      const box range = layout.chunk_range(ps.block_of(i));
      const bool one_chunk = range.shape() == shape_t(range.ndim(), 1);
      if (one_chunk && sink.copy_stored) {
        if (const auto from = stored_chunk_of(root, b);
            from && sink.copy_stored(range.start, *from))
          return {};
      }
      bytes values = buffers.acquire(static_cast<std::size_t>(b.size()) * itemsize);
      evaluate_into(p_.programs, root, b, values);
      bytes chunk;
      for_each_index(range, [&](const shape_t& index) {
        const box c = layout.chunk_box(index);
        const bool padded = sink.pad && c.shape() != full_chunk;
        if (one_chunk && !padded) {
          sink.consume(index, c, values);
          return;
        }
        const shape_t& shape = padded ? full_chunk : c.shape();
        chunk.resize(static_cast<std::size_t>(element_count(shape)) * itemsize);
        if (padded) fill_elements(chunk.data(), full_elements, sink.pad->data(), itemsize);
        copy_region(values.data(), b.shape(), c.relative_to(b.start).start, chunk.data(), shape,
                    shape_t(c.ndim(), 0), c.shape(), itemsize);
        sink.consume(index, c, chunk);
      });
      buffers.recycle(std::move(values));
      return {};
    };
    s.consume = [](index_t, std::any&) {};
    if (ps.tasks > 0) execute(ps, s);
  }

  plan& p_;
  std::optional<spill_area> spill_;
  const std::function<void(index_t, index_t)>& progress_;
  const std::atomic<bool>* cancel_;
  task_observer* observer_;
  index_t total_ = 0;
  index_t done_ = 0;
  execution_stats stats_;
};

}  // namespace

void run_plan(plan& p, const output_sink& sink, const compute_options& options,
              task_observer* observer) {
  plan_runner(p, options.progress, options.cancel, observer).run(sink, options.stats);
}

}  // namespace chunkarr::detail
