// The sinks: compute, store, compute_chunks. Each makes a plan (plan/plan.hpp) with the output
// its sink needs and runs it (exec/run_plan.hpp); nothing here walks the expression.
#include "chunkarr/exec/compute.hpp"
#include "chunkarr/exec/tracking.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "chunkarr/codec/codec.hpp"
#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "chunkarr/expr/order.hpp"
#include "chunkarr/store/location.hpp"
#include "chunkarr/zarr/group.hpp"
#include "exec/run_plan.hpp"
#include "expr/node.hpp"
#include "plan/plan.hpp"

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

const node& checked(const array& a) {
  if (!a) throw_error<value_error>("operation on an empty chunkarr::array");
  return *a.node();
}

// Whether every element of `values` has the bytes of `element`.
bool all_equal(std::span<const std::byte> values, const bytes& element) {
  const std::size_t n = element.size();
  for (std::size_t i = 0; i < values.size(); i += n) {
    if (std::memcmp(values.data() + i, element.data(), n) != 0) return false;
  }
  return true;
}

planning_options planning(const compute_options& o) {
  planning_options p;
  p.memory_limit = o.memory_limit;
  p.threads = o.threads;
  p.temp_dir = o.temp_dir;
  return p;
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
  const node& root = checked(a);
  check_result_fits(a, options);
  if (static_cast<index_t>(out.size()) != a.nbytes()) {
    throw_error<shape_error>("compute_into: ", out.size(), " bytes for ", describe(root),
                             ", expected ", a.nbytes());
  }
  // The result is held for the whole run; a reduction at the root is computed straight into
  // memory (no output stage) unless it had to spill.
  output_spec spec;
  spec.held = a.nbytes();
  spec.run_output = false;
  plan p = make_plan(a.node(), spec, planning(options));
  const std::size_t itemsize = root.dtype.itemsize();
  output_sink sink;
  sink.consume = [&](const shape_t&, const box& b, std::span<const std::byte> values) {
    if (b.ndim() == 0 || b == box::whole(root.shape)) {
      std::memcpy(out.data(), values.data(), out.size());
      return;
    }
    copy_region(values.data(), b.shape(), shape_t(b.ndim(), 0), out.data(), root.shape, b.start,
                b.shape(), itemsize);
  };
  run_plan(p, sink, options);
  if (p.root_result) {
    const bytes& values = p.root_result->result->values;
    std::memcpy(out.data(), values.data(), out.size());
  }
}

namespace {

// Runs `a` into the chunks of `grid`, handing each chunk's values (the full chunk, edge chunks
// padded with `pad`, when `pad` is set; else exactly the chunk's box) to `consume` on the
// worker threads. `extra` bytes per task are counted for what `consume` allocates; `skip_fill`
// is the output_spec's.
void run_chunks(
    const array& a, const chunk_grid& grid, const bytes* pad, index_t extra,
    const std::string& what,
    const std::function<void(const shape_t&, const box&, std::span<const std::byte>)>& consume,
    const compute_options& options, std::optional<bytes> skip_fill = std::nullopt,
    std::function<bool(const shape_t&, const stored_chunk&)> copy_stored = {},
    std::shared_ptr<const std::vector<shape_t>> only = nullptr, task_observer* observer = nullptr) {
  const node& root = checked(a);
  if (grid.shape() != root.shape) {
    throw_error<shape_error>(what, ": shape ", to_string(grid.shape()), " does not match ",
                             describe(root));
  }
  const index_t full_bytes = grid.chunk_elements() * static_cast<index_t>(root.dtype.itemsize());
  output_spec spec;
  spec.chunks = regular_chunks(root.shape, grid.chunks());
  spec.chunk_extra = (pad ? full_bytes : 0) + extra;
  spec.blocks = true;
  spec.skip_fill = std::move(skip_fill);
  spec.only_chunks = std::move(only);
  plan p = make_plan(a.node(), spec, planning(options));
  run_plan(p, {consume, pad, grid.chunks(), std::move(copy_stored)}, options, observer);
}

// The shape of a chunk (its full shape, or its box's) without the axes along which the array's
// chunks are 1 long: size-1 axes move no element, so two chunks whose shapes agree so hold
// their elements in the same order.
shape_t squeezed(const shape_t& shape, const shape_t& chunks) {
  shape_t out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (chunks[d] != 1) out.push_back(shape[d]);
  }
  return out;
}

// Whether chunk `index` of `out` may be stored as the bytes chunk `from` is stored with:
// one dtype and byte order, memory order and compressor, and the same elements in the same
// places (edge padding included).
bool same_stored_form(const zarr_array& out, const shape_t& index, const stored_chunk& from) {
  const array_metadata& a = out.metadata();
  const array_metadata& b = from.array->metadata();
  if (!(a.dtype == b.dtype) || a.order != b.order) return false;
  if (static_cast<bool>(a.compressor) != static_cast<bool>(b.compressor)) return false;
  if (a.compressor && a.compressor->spec() != b.compressor->spec()) return false;
  return squeezed(a.chunks, a.chunks) == squeezed(b.chunks, b.chunks) &&
         squeezed(out.grid().chunk_box(index).shape(), a.chunks) ==
             squeezed(from.array->grid().chunk_box(from.index).shape(), b.chunks);
}

}  // namespace

namespace {

// The observer of store_observed: each task's reads of the inputs, logged on its thread.
class observed_run final : public task_observer, public read_log {
 public:
  observed_run(const array& a, store_observer& observer) : observer_(observer) {
    std::size_t k = 0;
    for (const expression_input& in : inputs_of(a)) index_.emplace(in.identity(), k++);
  }

  void stage_begins(std::size_t, bool last) override {
    std::lock_guard lock(mutex_);
    if (new_stage_reads_) observer_.stage_reads(stage_reads_);
    new_stage_reads_ = false;
    last_ = last;
  }
  void begin_task() override {
    task_reads().clear();
    scope_.emplace(this);
  }
  void end_task() noexcept override {
    scope_.reset();
    std::vector<input_read>& reads = task_reads();
    // Reads of a stage before the output count for every chunk; the last stage's were told
    // with their chunks.
    if (reads.empty() || last_) {
      reads.clear();
      return;
    }
    try {
      std::lock_guard lock(mutex_);
      stage_reads_.insert(stage_reads_.end(), reads.begin(), reads.end());
      new_stage_reads_ = true;
    } catch (...) {  // out of memory: the run fails elsewhere
    }
    reads.clear();
  }
  void read(const node& source, const box& region, std::span<const std::byte> values) override {
    read_of(source_identity(source), region, values);
  }
  // A chunk of a Zarr input whose stored bytes were copied: its values, decoded for the
  // digests (full chunk), as a read of its box.
  void stored_read(const zarr_array& z, const shape_t& index, std::span<const std::byte> full) {
    const box b = z.grid().chunk_box(index);
    if (b.shape() == z.metadata().chunks) return read_of(&z, b, full);
    bytes clipped(static_cast<std::size_t>(b.size()) * z.dtype().itemsize());
    copy_region(full.data(), z.metadata().chunks, shape_t(b.ndim(), 0), clipped.data(), b.shape(),
                shape_t(b.ndim(), 0), b.shape(), z.dtype().itemsize());
    read_of(&z, b, clipped);
  }
  void read_of(const void* id, const box& region, std::span<const std::byte> values) {
    const auto it = index_.find(id);
    if (it == index_.end()) return;  // a spilled stage result
    task_reads().push_back({it->second, region});
    observer_.input_values(it->second, region, values);
  }
  static std::vector<input_read>& task_reads() {
    thread_local std::vector<input_read> reads;
    return reads;
  }

 private:
  store_observer& observer_;
  std::unordered_map<const void*, std::size_t> index_;
  std::mutex mutex_;
  std::vector<input_read> stage_reads_;
  bool new_stage_reads_ = false;
  bool last_ = false;  // the running stage feeds the sink
  static thread_local std::optional<read_log_scope> scope_;
};

thread_local std::optional<read_log_scope> observed_run::scope_;

void store_chunks(const array& a, const zarr_array& out, const compute_options& options,
                  bool write_empty_chunks, const std::vector<shape_t>* only,
                  store_observer* observer) {
  const bytes fill = out.metadata().fill_element();
  const array typed =
      a.dtype().kind == out.dtype().kind ? a : a.astype(make_dtype(out.dtype().kind));
  std::optional<observed_run> watch;
  if (observer) watch.emplace(typed, *observer);
  std::shared_ptr<const std::vector<shape_t>> wanted;
  std::unordered_set<index_t> wanted_set;  // linear chunk indices
  if (only) {
    wanted = std::make_shared<const std::vector<shape_t>>(*only);
    for (const shape_t& index : *only) wanted_set.insert(out.grid().linear_index(index));
  }
  // Into an array that holds no chunks yet, a chunk of fill needs no removing, and a source's
  // unstored chunks need not be read at all.
  const bool fresh = !write_empty_chunks && !observer && out.stored_chunks().empty();
  run_chunks(
      typed, out.grid(), &fill, out.metadata().chunk_bytes(), "store",
      [&](const shape_t& index, const box&, std::span<const std::byte> chunk) {
        if (only && !wanted_set.contains(out.grid().linear_index(index))) return;
        const bool stored = write_empty_chunks || !all_equal(chunk, fill);
        if (stored) {
          out.write_chunk(index, chunk);
        } else if (!fresh) {
          out.erase_chunk(index);
        }
        if (observer) observer->chunk_done(index, chunk, stored, observed_run::task_reads());
      },
      options, fresh ? std::optional<bytes>(fill) : std::nullopt,
      // A chunk that is a source's stored chunk in the same form is copied as stored (a
      // concatenation, a stack or an aligned slice of arrays stored alike): no decode, no
      // encode. Not when fill chunks are left out, which needs the values to tell. Observed,
      // the chunk is decoded for its digests (still no encode).
      write_empty_chunks ? [&](const shape_t& index, const stored_chunk& from) {
        if (only && !wanted_set.contains(out.grid().linear_index(index))) return true;
        if (!same_stored_form(out, index, from)) return false;
        const std::optional<bytes> stored =
            from.array->storage()->get(from.array->chunk_key(from.index));
        if (!stored) return false;  // not stored: computed as the fill value it reads as
        // A chunk whose header does not promise a whole chunk is decoded the usual way, which
        // names the key and the damage.
        const std::size_t whole = static_cast<std::size_t>(out.metadata().chunk_bytes());
        const codec* c = out.metadata().compressor.get();
        try {
          if ((c ? c->decoded_size(*stored) : std::optional(stored->size())) != whole) return false;
        } catch (const codec_error&) {
          return false;
        }
        if (observer) {
          bytes full(whole);
          from.array->read_chunk(from.index, full);
          watch->stored_read(*from.array, from.index, full);
          out.storage()->set(out.chunk_key(index), *stored);
          observer->chunk_done(index, full, true, observed_run::task_reads());
          return true;
        }
        out.storage()->set(out.chunk_key(index), *stored);
        return true;
      } : std::function<bool(const shape_t&, const stored_chunk&)>{},
      std::move(wanted), watch ? &*watch : nullptr);
}

}  // namespace

void store(const array& a, const zarr_array& out, const compute_options& options,
           bool write_empty_chunks) {
  store_chunks(a, out, options, write_empty_chunks, nullptr, nullptr);
}

void store_observed(const array& a, const zarr_array& out, const compute_options& options,
                    bool write_empty_chunks, const std::vector<shape_t>* only,
                    store_observer& observer) {
  store_chunks(a, out, options, write_empty_chunks, only, &observer);
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

array take(const array& a, const array& indices, int axis, const compute_options& options) {
  const node& i = checked(indices);
  if (i.shape.size() != 1) {
    throw_error<shape_error>("take: the indices must be 1-D, not ", describe(i));
  }
  if (i.dtype.is_float() || i.dtype.is_bool()) {
    throw_error<type_error>("take: the indices must be integers, not ", describe(i));
  }
  const xt::xarray<std::int64_t> values = compute<std::int64_t>(indices, options);
  return take(a, std::vector<index_t>(values.begin(), values.end()), axis);
}

array compress(const array& condition, const array& a, int axis, const compute_options& options) {
  const node& c = checked(condition);
  if (c.shape.size() != 1) {
    throw_error<shape_error>("compress: the condition must be 1-D, not ", describe(c));
  }
  if (!c.dtype.is_bool()) {
    throw_error<type_error>("compress: the condition must be boolean, not ", describe(c));
  }
  const xt::xarray<bool> values = compute<bool>(condition, options);
  return compress(std::vector<bool>(values.begin(), values.end()), a, axis);
}

array vindex(const array& a, const std::vector<array>& indices, const compute_options& options) {
  checked(a);
  if (indices.empty()) throw_error<shape_error>("vindex: no index arrays");
  // The index arrays broadcast together (their sum has that shape), computed now.
  const dtype i8 = make_dtype(scalar_kind::int64);
  array together = zeros({}, i8);
  for (const array& i : indices) {
    const node& n = checked(i);
    if (!n.dtype.is_signed_int() && !n.dtype.is_unsigned_int()) {
      throw_error<type_error>("vindex: the indices must be integers, not ", describe(n));
    }
    try {
      together = together + i.astype(i8);
    } catch (const shape_error&) {
      std::string shapes;
      for (const array& j : indices) shapes += (shapes.empty() ? "" : " ") + to_string(j.shape());
      throw_error<shape_error>("vindex: the index arrays do not broadcast together (shapes ",
                               shapes, ")");
    }
  }
  const shape_t points = together.shape();
  std::vector<std::vector<index_t>> coords;
  for (const array& i : indices) {
    const xt::xarray<std::int64_t> values =
        compute<std::int64_t>(broadcast_to(i.astype(i8), points), options);
    coords.emplace_back(values.begin(), values.end());
  }
  array out = vindex(a, coords);
  if (points.size() == 1) return out;
  shape_t shape = points;  // the points' shape, then the trailing axes
  shape.insert(shape.end(), out.shape().begin() + 1, out.shape().end());
  return out.reshape(shape);
}

namespace {

// A mask flattened in regular chunks with its count per chunk (extract's selection): the
// counts computed now, streaming.
struct counted_mask {
  array mask;  // ravelled bool, in chunks of `length`
  index_t length = 1;
  std::shared_ptr<std::vector<index_t>> offsets;  // prefix sums of the counts, total last
  axis_chunks out_chunks;                         // one per chunk that selects anything
};

counted_mask count_mask(const array& condition, const compute_options& options) {
  counted_mask m;
  m.mask = ravel(condition.astype(make_dtype(scalar_kind::bool_)));
  const axis_chunks& along = node_of(m.mask).chunks[0];
  const index_t n = m.mask.size();
  m.length = along.size() > 0 ? along[0] : 1;
  const axis_chunks regular = axis_chunks::regular(n, m.length);
  if (!(along == regular)) m.mask = rechunk(m.mask, {m.length});
  // The count per chunk as a sum over the mask split into rows of one chunk each (padded
  // with false to whole rows).
  const index_t chunk_count = regular.size();
  array padded = m.mask;
  if (chunk_count * m.length > n) {
    padded = concatenate(
        {m.mask, zeros({chunk_count * m.length - n}, make_dtype(scalar_kind::bool_), {m.length})});
  }
  const xt::xarray<std::int64_t> counted = compute<std::int64_t>(
      sum(padded.reshape({chunk_count, m.length}).astype(make_dtype(scalar_kind::int64)), {1}),
      options);
  m.offsets = std::make_shared<std::vector<index_t>>(1, 0);
  for (std::int64_t k : counted) {
    m.offsets->push_back(m.offsets->back() + k);
    if (k > 0) m.out_chunks.push_back(k);  // one output chunk per input chunk that selects
  }
  return m;
}

// The elements of `values` (of the mask's size) where the mask holds.
array extract_node(const array& values_in, const counted_mask& m) {
  array values = ravel(values_in);
  if (!(node_of(values).chunks[0] == node_of(m.mask).chunks[0]))
    values = rechunk(values, {m.length});
  auto out = std::make_shared<node>();
  out->kind = detail::node_kind::extract;
  out->dtype = values.dtype();
  out->shape = {m.offsets->back()};
  out->chunks = {m.out_chunks};
  out->offsets = m.offsets;
  out->inputs = {values.node(), m.mask.node()};
  return array(std::move(out));
}

}  // namespace

array extract(const array& condition, const array& arr, const compute_options& options) {
  const node& c = checked(condition);
  const node& a = checked(arr);
  if (element_count(c.shape) != element_count(a.shape)) {
    throw_error<shape_error>("extract: the condition ", describe(c), " and the array ", describe(a),
                             " differ in size");
  }
  // Both flattened (C order), in the same regular chunks; the values are read only when the
  // result is.
  return extract_node(arr, count_mask(condition, options));
}

std::vector<array> nonzero(const array& a, const compute_options& options) {
  const node& n = checked(a);
  if (n.shape.empty())
    throw_error<value_error>("nonzero: a 0-d array has no axes (use atleast_1d)");
  const counted_mask m = count_mask(a, options);
  std::vector<array> out;
  shape_t chunk = first_chunk(n.chunks);
  for (index_t& c : chunk) c = std::max<index_t>(c, 1);
  const array grid = indices(n.shape, make_dtype(scalar_kind::int64), chunk);
  for (std::size_t d = 0; d < n.shape.size(); ++d)
    out.push_back(extract_node(grid(static_cast<index_t>(d)), m));
  return out;
}

array argwhere(const array& a, const compute_options& options) {
  const node& n = checked(a);
  if (n.shape.empty()) {  // NumPy: (1, 0) when the scalar is true, (0, 0) when false
    return argwhere(reshape(a, {1}), options)(all, range(0, 0));
  }
  return stack(nonzero(a, options), 1);
}

array flatnonzero(const array& a, const compute_options& options) {
  const node& n = checked(a);
  const counted_mask m = count_mask(a, options);
  const index_t length = std::max<index_t>(1, m.length);
  return extract_node(arange(element_count(n.shape), make_dtype(scalar_kind::int64), length), m);
}

array bincount(const array& x, std::optional<array> weights, index_t minlength,
               const compute_options& options) {
  const node& n = checked(x);
  if (n.shape.size() != 1)
    throw_error<shape_error>("bincount: takes a 1-d array, not one of shape ", to_string(n.shape));
  const dtype t = n.dtype;
  if (!(t.is_bool() || t.is_signed_int() || (t.is_unsigned_int() && t.itemsize() < 8))) {
    throw_error<type_error>("bincount: cannot cast ", t.name(),
                            " to int64 safely (non-negative integers only)");
  }
  if (minlength < 0)
    throw_error<value_error>("bincount: minlength must be non-negative, not ", minlength);
  if (weights && weights->shape() != n.shape) {
    throw_error<shape_error>("bincount: weights of shape ", to_string(weights->shape()),
                             " for values of shape ", to_string(n.shape));
  }
  index_t length = minlength;
  if (n.shape[0] > 0) {
    const dtype i8 = make_dtype(scalar_kind::int64);
    std::int64_t range[2] = {0, 0};
    compute_into(
        stack({reduce(reduce_op::min, x).astype(i8), reduce(reduce_op::max, x).astype(i8)}),
        std::as_writable_bytes(std::span<std::int64_t>(range)), options);
    if (range[0] < 0)
      throw_error<value_error>("bincount: the values must be non-negative, not ", range[0]);
    if (range[1] >= (index_t{1} << 28)) {
      throw_error<value_error>("bincount: the largest value is ", range[1],
                               ": more than 2^28 bins");
    }
    length = std::max<index_t>(length, range[1] + 1);
  }
  if (length == 0) {
    const std::vector<std::int64_t> none;
    return from_buffer(std::as_bytes(std::span<const std::int64_t>(none)), {0},
                       make_dtype(weights ? scalar_kind::float64 : scalar_kind::int64));
  }
  std::vector<double> edges(static_cast<std::size_t>(length) + 1);
  for (std::size_t i = 0; i < edges.size(); ++i) edges[i] = static_cast<double>(i);
  if (weights) weights = weights->astype(make_dtype(scalar_kind::float64));
  return histogram(x.dtype().is_bool() ? x.astype(make_dtype(scalar_kind::int64)) : x, edges,
                   weights)
      .counts;
}

}  // namespace chunkarr
