#include "exec/evaluate.hpp"
#include <stdexcept>

#include <algorithm>
#include <cstring>

#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "plan/program.hpp"

namespace chunkarr::detail {
namespace {

index_t bytes_of(const node& n, const box& region) {
  return region.size() * static_cast<index_t>(n.dtype.itemsize());
}

// Copies elements from a strided view (strides in elements, possibly negative or 0) into a
// C-order buffer of `shape`.
void gather(const std::byte* src, const shape_t& strides, const shape_t& shape, std::byte* dst,
            std::size_t itemsize) {
  const index_t total = element_count(shape);
  if (total == 0) return;
  const std::size_t n = shape.size();
  if (n == 0) {
    std::memcpy(dst, src, itemsize);
    return;
  }
  const index_t inner = shape[n - 1];
  const index_t inner_stride = strides[n - 1] * static_cast<index_t>(itemsize);
  shape_t index(n, 0);
  std::byte* out = dst;
  while (true) {
    const std::byte* p = src;
    for (std::size_t d = 0; d + 1 < n; ++d)
      p += index[d] * strides[d] * static_cast<index_t>(itemsize);
    if (inner_stride == static_cast<index_t>(itemsize)) {
      std::memcpy(out, p, static_cast<std::size_t>(inner) * itemsize);
    } else {
      for (index_t i = 0; i < inner; ++i)
        std::memcpy(out + i * itemsize, p + i * inner_stride, itemsize);
    }
    out += inner * static_cast<index_t>(itemsize);
    std::size_t d = n - 1;
    while (d > 0) {
      --d;
      if (++index[d] < shape[d]) break;
      index[d] = 0;
      if (d == 0) return;
    }
    if (n == 1) return;
  }
}

// The input box a slice node reads for output `region`, and the view into it.
struct slice_plan {
  box input;
  index_t base = 0;  // element offset of the first selected element within `input`
  shape_t strides;   // per output axis, in elements of `input`'s C-order buffer
};

slice_plan plan_slice(const node& n, const box& region) {
  const node& in = *n.inputs[0];
  const slice_payload& p = n.slicing;
  slice_plan sp;
  sp.input = box{shape_t(in.shape.size()), shape_t(in.shape.size())};
  std::vector<int> out_axis_of_input(in.shape.size(), -1);
  std::size_t in_axis = 0;
  for (std::size_t d = 0; d < n.shape.size(); ++d) {
    if (p.output_is_new[d]) continue;
    while (p.dropped[in_axis]) ++in_axis;
    out_axis_of_input[in_axis] = static_cast<int>(d);
    ++in_axis;
  }
  for (std::size_t a = 0; a < in.shape.size(); ++a) {
    const slice_range& r = p.ranges[a];
    if (p.dropped[a]) {
      sp.input.start[a] = r.start;
      sp.input.stop[a] = r.start + 1;
      continue;
    }
    const int d = out_axis_of_input[a];
    const index_t o0 = region.start[d], o1 = region.stop[d];
    if (o1 <= o0) {  // empty along this axis
      sp.input.start[a] = sp.input.stop[a] = 0;
      continue;
    }
    const index_t first = r.start + o0 * r.step;
    const index_t last = r.start + (o1 - 1) * r.step;
    sp.input.start[a] = std::min(first, last);
    sp.input.stop[a] = std::max(first, last) + 1;
  }
  const shape_t in_strides = c_strides(sp.input.shape());
  sp.strides.assign(n.shape.size(), 0);
  for (std::size_t a = 0; a < in.shape.size(); ++a) {
    if (p.dropped[a]) continue;
    const int d = out_axis_of_input[a];
    const slice_range& r = p.ranges[a];
    sp.strides[d] = r.step * in_strides[a];
    if (region.stop[d] > region.start[d]) {
      sp.base += (r.start + region.start[d] * r.step - sp.input.start[a]) * in_strides[a];
    }
  }
  return sp;
}

box transpose_input_box(const node& n, const box& region) {
  const std::size_t ndim = n.shape.size();
  box in{shape_t(ndim), shape_t(ndim)};
  for (std::size_t d = 0; d < ndim; ++d) {
    in.start[n.permutation[d]] = region.start[d];
    in.stop[n.permutation[d]] = region.stop[d];
  }
  return in;
}

// A leaf of a block program, ready to be read: a base pointer and per-output-axis strides.
struct leaf_view {
  const std::byte* base = nullptr;
  shape_t strides;  // in elements, per output axis
  bytes owned;      // the leaf's values over its box, when they had to be computed
};

thread_local source_cache* current_cache = nullptr;
thread_local buffer_pool* current_pool = nullptr;  // see buffer_pool_scope

// Values read from storage: Zarr and chunk sources, and spilled stage results.
bool is_source(const node& n) {
  return n.kind == node_kind::zarr_source || n.kind == node_kind::chunk_source ||
         (n.kind == node_kind::materialised && n.result->spill);
}

thread_local read_log* current_read_log = nullptr;  // see read_log_scope

void read_source(const node& n, const box& region, std::span<std::byte> out) {
  if (n.kind == node_kind::zarr_source)
    n.zarr->read(region, out);
  else if (n.kind == node_kind::chunk_source)
    n.source->read(region, out);
  else
    n.result->spilled->read(region, out);
  if (current_read_log) current_read_log->read(n, region, out);
}

// Values held in memory for the whole node (C order), or nullptr.
const bytes* memory_values(const node& n) {
  if (n.kind == node_kind::memory_source) return n.values.get();
  if (n.kind == node_kind::materialised && !n.result->spill) return &n.result->values;
  return nullptr;
}

leaf_view make_leaf_view(const program_table& programs, const node& leaf, const shape_t& out_shape,
                         const box& region) {
  leaf_view v;
  const std::size_t ndim = out_shape.size();
  const std::size_t offset = ndim - leaf.shape.size();
  v.strides.assign(ndim, 0);
  if (leaf.kind == node_kind::fill && element_count(leaf.shape) > 0) {
    v.base = leaf.fill_value.data();  // every stride 0
    return v;
  }
  const box lbox = broadcast_box(leaf, out_shape, region);
  shape_t leaf_strides;
  if (const bytes* values = memory_values(leaf)) {
    leaf_strides = c_strides(leaf.shape);
    index_t start = 0;
    for (std::size_t a = 0; a < leaf.shape.size(); ++a) start += lbox.start[a] * leaf_strides[a];
    v.base = values->data() + start * static_cast<index_t>(leaf.dtype.itemsize());
  } else if (current_cache && is_source(leaf)) {  // read once per task, then shared
    const bytes* cached = current_cache->find(&leaf, lbox);
    if (!cached) {
      bytes values = current_cache->acquire(static_cast<std::size_t>(bytes_of(leaf, lbox)));
      read_source(leaf, lbox, values);
      cached = &current_cache->insert(&leaf, lbox, std::move(values));
    }
    leaf_strides = c_strides(lbox.shape());
    v.base = cached->data();
  } else {
    const auto size = static_cast<std::size_t>(bytes_of(leaf, lbox));
    v.owned = scratch_buffer(size);  // released by run_program
    evaluate_into(programs, leaf, lbox, v.owned);
    leaf_strides = c_strides(lbox.shape());
    v.base = v.owned.data();
  }
  for (std::size_t a = 0; a < leaf.shape.size(); ++a) {
    const std::size_t d = a + offset;
    v.strides[d] = leaf.shape[a] == 1 ? 0 : leaf_strides[a];  // size 1: broadcast
  }
  return v;
}

void run_program(const program_table& programs, const node& n, const box& region,
                 std::span<std::byte> out) {
  const block_program& program = programs.at(n);
  const shape_t shape = region.shape();
  const std::size_t ndim = shape.size();
  std::vector<leaf_view> leaves;
  leaves.reserve(program.leaves.size());
  struct give_back {  // the leaves' own buffers, to the task's pool
    std::vector<leaf_view>& leaves;
    ~give_back() {
      for (leaf_view& l : leaves) release(l.owned);
    }
  } returned{leaves};
  for (const node* leaf : program.leaves)
    leaves.push_back(make_leaf_view(programs, *leaf, n.shape, region));

  const std::size_t registers = program.register_kinds.size();
  std::vector<bytes> owned(registers);
  for (std::size_t r = program.leaves.size(); r < registers; ++r) {
    owned[r].resize(static_cast<std::size_t>(block_elements) * 8);
  }
  std::vector<operand_ref> refs(registers);
  for (std::size_t r = program.leaves.size(); r < registers; ++r) refs[r] = {owned[r].data(), 1};
  std::vector<std::size_t> itemsize(registers);
  for (std::size_t r = 0; r < registers; ++r) {
    itemsize[r] = make_dtype(program.register_kinds[r]).itemsize();
  }
  const std::size_t out_itemsize = n.dtype.itemsize();

  // Fold what is the same for every element (scalars, and operations on them only) once, so
  // `x * 1000` multiplies by one value instead of casting a block of 1000s per block.
  std::vector<bool> uniform(registers, false);
  for (std::size_t l = 0; l < leaves.size(); ++l) {
    uniform[l] = std::all_of(leaves[l].strides.begin(), leaves[l].strides.end(),
                             [](index_t st) { return st == 0; });
    if (uniform[l]) refs[l] = {leaves[l].base, 0};
  }
  std::vector<const instruction*> per_block;
  std::vector<operand_ref> args;
  for (const instruction& ins : program.code) {
    const bool folded = std::all_of(ins.inputs.begin(), ins.inputs.end(),
                                    [&](int i) { return uniform[static_cast<std::size_t>(i)]; });
    if (!folded) {
      per_block.push_back(&ins);
      continue;
    }
    args.clear();
    for (int i : ins.inputs) args.push_back(refs[i]);
    ins.kernel(1, args.data(), owned[ins.output].data());
    refs[ins.output] = {owned[ins.output].data(), 0};
    uniform[ins.output] = true;
  }

  const index_t total = element_count(shape);
  if (total == 0) return;
  // The instruction that computes the result writes it straight into `out` (one pass over the
  // output less than computing it into a register and copying).
  const instruction* last =
      !per_block.empty() && per_block.back()->output == program.result ? per_block.back() : nullptr;
  const index_t row = ndim ? shape[ndim - 1] : 1;
  const index_t rows = total / row;
  shape_t index(ndim ? ndim - 1 : 0, 0);
  std::vector<const std::byte*> row_base(program.leaves.size());
  for (index_t r = 0; r < rows; ++r) {
    for (std::size_t l = 0; l < leaves.size(); ++l) {
      index_t offset = 0;
      for (std::size_t d = 0; d + 1 < ndim; ++d) offset += index[d] * leaves[l].strides[d];
      row_base[l] = leaves[l].base + offset * static_cast<index_t>(itemsize[l]);
    }
    for (index_t j = 0; j < row; j += block_elements) {
      const index_t count = std::min(block_elements, row - j);
      for (std::size_t l = 0; l < leaves.size(); ++l) {
        if (uniform[l]) continue;
        const index_t inner = ndim ? leaves[l].strides[ndim - 1] : 0;
        refs[l] = {row_base[l] + j * inner * static_cast<index_t>(itemsize[l]), inner};
      }
      std::byte* dst = out.data() + (r * row + j) * static_cast<index_t>(out_itemsize);
      for (const instruction* ins : per_block) {
        args.clear();
        for (int i : ins->inputs) args.push_back(refs[i]);
        ins->kernel(count, args.data(), ins == last ? dst : owned[ins->output].data());
      }
      const operand_ref& result = refs[program.result];
      if (last) {
        // written in place
      } else if (result.stride == 1) {
        std::memcpy(dst, result.data, static_cast<std::size_t>(count) * out_itemsize);
      } else {
        fill_elements(dst, count, result.data, out_itemsize);
      }
    }
    for (std::size_t d = ndim > 1 ? ndim - 1 : 0; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

box broadcast_box(const node& in, const shape_t& out_shape, const box& region) {
  const std::size_t offset = out_shape.size() - in.shape.size();
  box b{shape_t(in.shape.size()), shape_t(in.shape.size())};
  for (std::size_t a = 0; a < in.shape.size(); ++a) {
    if (in.shape[a] == 1) {
      b.start[a] = 0;
      b.stop[a] = 1;
    } else {
      b.start[a] = region.start[a + offset];
      b.stop[a] = region.stop[a + offset];
    }
  }
  return b;
}

const bytes* source_cache::find(const node* n, const box& b) const {
  for (const entry& e : entries_) {
    if (e.n == n && e.region == b) return &e.values;
  }
  return nullptr;
}

const bytes& source_cache::insert(const node* n, const box& b, bytes values) {
  entries_.push_back({n, b, std::move(values)});
  return entries_.back().values;
}

read_log_scope::read_log_scope(read_log* log) : previous_(current_read_log) {
  current_read_log = log;
}

read_log_scope::~read_log_scope() {
  current_read_log = previous_;
}

bytes scratch_buffer(std::size_t size) {
  return current_pool ? current_pool->acquire(size) : bytes(size);
}

void release(bytes& scratch) {
  if (current_pool && !scratch.empty()) current_pool->recycle(std::move(scratch));
}

bytes buffer_pool::acquire(std::size_t size) {
  {
    // The smallest spare that holds `size`: tasks whose boxes differ a little (a take's, a
    // slice's edge) reuse each other's buffers instead of each keeping its own.
    std::lock_guard lock(mutex_);
    std::size_t best = spare_.size();
    for (std::size_t i = 0; i < spare_.size(); ++i) {
      // Not one more than twice as large: a small request would strand a large buffer.
      if (spare_[i].capacity() >= size && spare_[i].capacity() <= 2 * size + 4096 &&
          (best == spare_.size() || spare_[i].capacity() < spare_[best].capacity()))
        best = i;
    }
    if (best < spare_.size()) {
      bytes out = std::move(spare_[best]);
      idle_ -= out.capacity();
      spare_.erase(spare_.begin() + static_cast<std::ptrdiff_t>(best));
      out.resize(size);  // within its capacity: no allocation, no initialisation
      return out;
    }
  }
  return bytes(size);
}

void buffer_pool::recycle(bytes buffer) {
  std::lock_guard lock(mutex_);
  if (spare_.size() >= max_spares || idle_ + buffer.capacity() > max_idle_bytes) return;
  idle_ += buffer.capacity();
  spare_.push_back(std::move(buffer));
}

void source_cache::reset() {
  for (entry& e : entries_) spare_.recycle(std::move(e.values));
  entries_.clear();
}

buffer_pool_scope::buffer_pool_scope(buffer_pool* pool) : previous_(current_pool) {
  current_pool = pool;
}

buffer_pool_scope::~buffer_pool_scope() {
  current_pool = previous_;
}

source_cache_scope::source_cache_scope(source_cache* cache)
    : previous_(current_cache), pool_(cache ? &cache->pool() : current_pool) {
  current_cache = cache;
}

source_cache_scope::~source_cache_scope() {
  current_cache = previous_;
}

namespace {

// The values of `n` over `region` for a slice or transpose to gather from. A source is read
// once per task into the task's cache and used there (no copy); anything else is evaluated
// into `scratch`, taken from the current pool (see buffer_pool_scope).
const std::byte* input_values(const program_table& programs, const node& n, const box& region,
                              bytes& scratch) {
  const auto size = static_cast<std::size_t>(bytes_of(n, region));
  if (current_cache && is_source(n)) {
    const bytes* cached = current_cache->find(&n, region);
    if (!cached) {
      bytes values = current_cache->acquire(size);
      read_source(n, region, values);
      cached = &current_cache->insert(&n, region, std::move(values));
    }
    return cached->data();
  }
  scratch = scratch_buffer(size);
  evaluate_into(programs, n, region, scratch);
  return scratch.data();
}

// The parts of a concatenation's `region` that each input holds: which input, its box there,
// and where along the joined axis the part starts in `region`.
struct concat_piece {
  std::size_t input;
  box part;
  index_t at;
};

std::vector<concat_piece> concatenate_pieces(const node& n, const box& region) {
  const auto axis = static_cast<std::size_t>(n.axis);
  std::vector<concat_piece> pieces;
  index_t offset = 0;
  for (std::size_t i = 0; i < n.inputs.size(); ++i) {
    const index_t length = n.inputs[i]->shape[axis];
    const index_t lo = std::max(region.start[axis], offset);
    const index_t hi = std::min(region.stop[axis], offset + length);
    if (lo < hi) {
      concat_piece p{i, region, lo - region.start[axis]};
      p.part.start[axis] = lo - offset;
      p.part.stop[axis] = hi - offset;
      pieces.push_back(std::move(p));
    }
    offset += length;
  }
  return pieces;
}

// A region inside one input (every chunk of the result is) is that input's values there;
// one across inputs is assembled from their parts.
void concatenate_into(const program_table& programs, const node& n, const box& region,
                      std::span<std::byte> out) {
  if (region.size() == 0) return;
  const std::vector<concat_piece> pieces = concatenate_pieces(n, region);
  if (pieces.size() == 1) {
    evaluate_into(programs, *n.inputs[pieces.front().input], pieces.front().part, out);
    return;
  }
  const std::size_t itemsize = n.dtype.itemsize();
  const shape_t origin(region.ndim(), 0);
  for (const concat_piece& p : pieces) {
    bytes scratch;
    const std::byte* values = input_values(programs, *n.inputs[p.input], p.part, scratch);
    shape_t at = origin;
    at[static_cast<std::size_t>(n.axis)] = p.at;
    copy_region(values, p.part.shape(), origin, out.data(), region.shape(), at, p.part.shape(),
                itemsize);
    release(scratch);
  }
}

// The box of a take's input that its `region` reads: along the axis, from the least to the
// greatest index it takes.
box take_input_box(const node& n, const box& region) {
  const auto axis = static_cast<std::size_t>(n.axis);
  box in = region;
  const auto first = n.taken->begin() + region.start[axis];
  const auto last = n.taken->begin() + region.stop[axis];
  if (first == last) {
    in.start[axis] = in.stop[axis] = 0;
    return in;
  }
  const auto [lo, hi] = std::minmax_element(first, last);
  in.start[axis] = *lo;
  in.stop[axis] = *hi + 1;
  // Indices within one input chunk (every chunk of a take's result) read that whole chunk:
  // decoded straight into place, where a part of it would be decoded and then copied.
  const axis_chunks& chunks = n.inputs[0]->chunks[axis];
  const index_t c = chunks.find(*lo);
  if (chunks.find(*hi) == c) {
    in.start[axis] = chunks.start(c);
    in.stop[axis] = chunks.start(c + 1);
  }
  return in;
}

void take_into(const program_table& programs, const node& n, const box& region,
               std::span<std::byte> out) {
  if (region.size() == 0) return;
  const auto axis = static_cast<std::size_t>(n.axis);
  const box in_box = take_input_box(n, region);
  bytes scratch;
  const std::byte* input = input_values(programs, *n.inputs[0], in_box, scratch);
  // (outer, axis, inner) views of both: whole rows of `inner` elements move at once.
  const shape_t shape = region.shape();
  index_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const auto row = static_cast<std::size_t>(inner) * n.dtype.itemsize();
  const index_t in_len = in_box.stop[axis] - in_box.start[axis];
  const index_t out_len = shape[axis];
  const index_t* idx = n.taken->data() + region.start[axis];
  for (index_t o = 0; o < outer; ++o) {
    for (index_t k = 0; k < out_len; ++k) {
      std::memcpy(out.data() + static_cast<std::size_t>(o * out_len + k) * row,
                  input + static_cast<std::size_t>(o * in_len + idx[k] - in_box.start[axis]) * row,
                  row);
    }
  }
  release(scratch);
}

// What a points node's `region` reads: the bounding box of its points along the indexed
// axes, the region's own box along the others.
box points_input_box(const node& n, const box& region) {
  const auto k = static_cast<std::size_t>(n.axis);
  const node& in = *n.inputs[0];
  box b;
  b.start.assign(k, 0);
  b.stop.assign(k, 0);
  if (region.stop[0] > region.start[0]) {
    for (std::size_t d = 0; d < k; ++d) {
      b.start[d] = in.shape[d];
      b.stop[d] = 0;
    }
    const index_t* coords = n.taken->data();
    for (index_t p = region.start[0]; p < region.stop[0]; ++p) {
      for (std::size_t d = 0; d < k; ++d) {
        const index_t i = coords[static_cast<std::size_t>(p) * k + d];
        b.start[d] = std::min(b.start[d], i);
        b.stop[d] = std::max(b.stop[d], i + 1);
      }
    }
  }
  b.start.insert(b.start.end(), region.start.begin() + 1, region.start.end());
  b.stop.insert(b.stop.end(), region.stop.begin() + 1, region.stop.end());
  return b;
}

void points_into(const program_table& programs, const node& n, const box& region,
                 std::span<std::byte> out) {
  if (region.size() == 0) return;
  const auto k = static_cast<std::size_t>(n.axis);
  const box in_box = points_input_box(n, region);
  bytes scratch;
  const std::byte* input = input_values(programs, *n.inputs[0], in_box, scratch);
  // Each point's row (the region's box along the trailing axes) is contiguous in the box.
  const shape_t in_shape = in_box.shape();
  index_t row = 1;
  for (std::size_t d = k; d < in_shape.size(); ++d) row *= in_shape[d];
  const std::size_t row_bytes = static_cast<std::size_t>(row) * n.dtype.itemsize();
  const index_t* coords = n.taken->data();
  for (index_t p = region.start[0]; p < region.stop[0]; ++p) {
    index_t at = 0;
    for (std::size_t d = 0; d < k; ++d) {
      at = at * in_shape[d] + coords[static_cast<std::size_t>(p) * k + d] - in_box.start[d];
    }
    std::memcpy(out.data() + static_cast<std::size_t>(p - region.start[0]) * row_bytes,
                input + static_cast<std::size_t>(at) * row_bytes, row_bytes);
  }
  release(scratch);
}

// An extract's input chunks that hold a region's elements: their indices [first, last).
std::pair<std::size_t, std::size_t> extract_chunks(const node& n, const box& region) {
  const std::vector<index_t>& offsets = *n.offsets;
  // The chunk whose selection holds region.start: the last one starting at or before it.
  const auto first = std::upper_bound(offsets.begin(), offsets.end() - 1, region.start[0]);
  const auto last = std::lower_bound(first, offsets.end() - 1, region.stop[0]);
  return {static_cast<std::size_t>(first - offsets.begin()) - 1,
          static_cast<std::size_t>(last - offsets.begin())};
}

void extract_into(const program_table& programs, const node& n, const box& region,
                  std::span<std::byte> out) {
  if (region.size() == 0) return;
  const std::vector<index_t>& offsets = *n.offsets;
  const axis_chunks& chunks = n.inputs[0]->chunks[0];
  const std::size_t itemsize = n.dtype.itemsize();
  const auto [first, last] = extract_chunks(n, region);
  for (std::size_t c = first; c < last; ++c) {
    if (offsets[c + 1] == offsets[c]) continue;  // nothing selected there
    const index_t start = chunks.start(static_cast<index_t>(c));
    const box in_box{{start}, {start + chunks[static_cast<index_t>(c)]}};
    bytes mask_scratch, values_scratch;
    const auto* mask =
        reinterpret_cast<const bool*>(input_values(programs, *n.inputs[1], in_box, mask_scratch));
    const std::byte* values = input_values(programs, *n.inputs[0], in_box, values_scratch);
    // The k-th selected element of the chunk is element offsets[c] + k of the output.
    index_t k = offsets[c];
    for (index_t i = 0, len = in_box.stop[0] - start; i < len && k < region.stop[0]; ++i) {
      if (!mask[i]) continue;
      if (k >= region.start[0]) {
        std::memcpy(out.data() + static_cast<std::size_t>(k - region.start[0]) * itemsize,
                    values + static_cast<std::size_t>(i) * itemsize, itemsize);
      }
      ++k;
    }
    release(values_scratch);
    release(mask_scratch);
  }
}

// What a reshape's `region` reads: a box of its input (per group of axes, the rows of the
// leading input axis that hold the region's flat range, whole along the axes after it), and
// per group where each of the region's elements sits in that box's flat order.
struct reshape_view {
  box input;
  bool identity = true;  // the region is the box's elements in their order: no gather
  std::vector<std::vector<index_t>> offsets;  // per group, in the region's C order
  std::vector<index_t> stride;                // per group: elements of the groups after it
};

reshape_view plan_reshape(const node& n, const box& region, bool with_offsets) {
  const node& in = *n.inputs[0];
  const std::vector<reshape_group> groups = reshape_groups(in.shape, n.shape);
  reshape_view v;
  v.input.start.assign(in.shape.size(), 0);
  v.input.stop = in.shape;
  std::vector<index_t> sizes;  // per group: the input box's elements in the group
  std::vector<index_t> bases;
  for (const reshape_group& g : groups) {
    // Where the region's corners fall in the group's flat order.
    index_t first = 0, last = 0, count = 1, stride = 1;
    for (std::size_t d = g.out_end; d-- > g.out_begin;) {
      first += region.start[d] * stride;
      last += (region.stop[d] - 1) * stride;
      count *= region.stop[d] - region.start[d];
      stride *= n.shape[d];
    }
    std::size_t lead = g.in_begin;
    while (lead < g.in_end && in.shape[lead] == 1) ++lead;
    index_t inner = 1;
    for (std::size_t d = lead + 1; d < g.in_end; ++d) inner *= in.shape[d];
    index_t base = 0, size = 1;
    if (lead < g.in_end) {
      v.input.start[lead] = first / inner;
      v.input.stop[lead] = last / inner + 1;
      base = v.input.start[lead] * inner;
      size = (v.input.stop[lead] - v.input.start[lead]) * inner;
    }
    v.identity = v.identity && first == base && count == size && last - first + 1 == count;
    sizes.push_back(size);
    bases.push_back(base);
  }
  v.stride.assign(groups.size(), 1);
  for (std::size_t g = groups.size(); g-- > 1;) v.stride[g - 1] = v.stride[g] * sizes[g];
  if (!with_offsets || v.identity) return v;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const reshape_group& g = groups[k];
    // The region's elements of the group in C order (an odometer, last axis fastest).
    std::vector<index_t> offsets;
    shape_t at(region.start.begin() + static_cast<std::ptrdiff_t>(g.out_begin),
               region.start.begin() + static_cast<std::ptrdiff_t>(g.out_end));
    shape_t strides(at.size(), 1);
    for (std::size_t d = at.size(); d-- > 1;)
      strides[d - 1] = strides[d] * n.shape[g.out_begin + d];
    index_t count = 1;
    for (std::size_t d = g.out_begin; d < g.out_end; ++d) count *= region.stop[d] - region.start[d];
    offsets.reserve(static_cast<std::size_t>(count));
    for (index_t e = 0; e < count; ++e) {
      index_t flat = 0;
      for (std::size_t d = 0; d < at.size(); ++d) flat += at[d] * strides[d];
      offsets.push_back(flat - bases[k]);
      for (std::size_t d = at.size(); d-- > 0;) {
        if (++at[d] < region.stop[g.out_begin + d]) break;
        at[d] = region.start[g.out_begin + d];
      }
    }
    v.offsets.push_back(std::move(offsets));
  }
  return v;
}

void reshape_gather(const reshape_view& v, std::size_t g, const std::byte* input, index_t base,
                    std::byte*& out, std::size_t itemsize) {
  const std::vector<index_t>& offsets = v.offsets[g];
  if (g + 1 < v.offsets.size()) {
    for (index_t o : offsets)
      reshape_gather(v, g + 1, input, base + o * v.stride[g], out, itemsize);
    return;
  }
  // The last group: runs of consecutive offsets move at once.
  for (std::size_t i = 0; i < offsets.size();) {
    std::size_t j = i + 1;
    while (j < offsets.size() && offsets[j] == offsets[j - 1] + 1) ++j;
    const std::size_t bytes = (j - i) * itemsize;
    std::memcpy(out, input + static_cast<std::size_t>(base + offsets[i]) * itemsize, bytes);
    out += bytes;
    i = j;
  }
}

void reshape_into(const program_table& programs, const node& n, const box& region,
                  std::span<std::byte> out) {
  if (region.size() == 0) return;
  const reshape_view v = plan_reshape(n, region, true);
  if (v.identity) {
    evaluate_into(programs, *n.inputs[0], v.input, out);
    return;
  }
  bytes scratch;
  const std::byte* input = input_values(programs, *n.inputs[0], v.input, scratch);
  std::byte* at = out.data();
  reshape_gather(v, 0, input, 0, at, n.dtype.itemsize());
  release(scratch);
}

}  // namespace

void evaluate_into(const program_table& programs, const node& n, const box& region,
                   std::span<std::byte> out) {
  const std::size_t itemsize = n.dtype.itemsize();
  if (current_cache && is_source(n)) {
    if (const bytes* cached = current_cache->find(&n, region)) {
      std::memcpy(out.data(), cached->data(), out.size());
      return;
    }
  }
  if (is_source(n)) {
    read_source(n, region, out);
    if (current_cache) {
      bytes copy = current_cache->acquire(out.size());
      std::memcpy(copy.data(), out.data(), out.size());
      current_cache->insert(&n, region, std::move(copy));
    }
    return;
  }
  if (const bytes* values = memory_values(n)) {
    copy_region(values->data(), n.shape, region.start, out.data(), region.shape(),
                shape_t(n.shape.size(), 0), region.shape(), itemsize);
    return;
  }
  switch (n.kind) {
    case node_kind::zarr_source:
    case node_kind::chunk_source:
    case node_kind::memory_source:
    case node_kind::materialised:
      return;  // read above
    case node_kind::fill:
      fill_elements(out.data(), region.size(), n.fill_value.data(), itemsize);
      return;
    case node_kind::arange:
      visit_kind(n.dtype.kind, [&](auto sample) {
        using T = decltype(sample);
        T* values = reinterpret_cast<T*>(out.data());
        for (index_t i = region.start[0]; i < region.stop[0]; ++i) {
          values[i - region.start[0]] = static_cast<T>(i);
        }
      });
      return;
    case node_kind::random:
      random_into(n, region, out);
      return;
    case node_kind::elementwise:
      run_program(programs, n, region, out);
      return;
    case node_kind::rechunk:  // the same values: only the tasks' boxes follow the new chunks
      evaluate_into(programs, *n.inputs[0], region, out);
      return;
    case node_kind::slice: {
      const slice_plan sp = plan_slice(n, region);
      bytes scratch;
      const std::byte* input = input_values(programs, *n.inputs[0], sp.input, scratch);
      if (region.size() > 0) {
        gather(input + sp.base * static_cast<index_t>(itemsize), sp.strides, region.shape(),
               out.data(), itemsize);
      }
      release(scratch);
      return;
    }
    case node_kind::transpose: {
      const box in_box = transpose_input_box(n, region);
      bytes scratch;
      const std::byte* input = input_values(programs, *n.inputs[0], in_box, scratch);
      const shape_t in_strides = c_strides(in_box.shape());
      shape_t strides(n.shape.size());
      for (std::size_t d = 0; d < strides.size(); ++d) strides[d] = in_strides[n.permutation[d]];
      gather(input, strides, region.shape(), out.data(), itemsize);
      release(scratch);
      return;
    }
    case node_kind::concatenate:
      concatenate_into(programs, n, region, out);
      return;
    case node_kind::take:
      take_into(programs, n, region, out);
      return;
    case node_kind::extract:
      extract_into(programs, n, region, out);
      return;
    case node_kind::points:
      points_into(programs, n, region, out);
      return;
    case node_kind::reshape:
      reshape_into(programs, n, region, out);
      return;
    case node_kind::reduction:
      throw std::logic_error("a reduction reached evaluation unmaterialised");
    case node_kind::scan:
      throw std::logic_error("a scan reached evaluation unmaterialised");
    case node_kind::select:
      throw std::logic_error("a selection reached evaluation unmaterialised");
    case node_kind::blocks:
      blocks_into(programs, n, region, out);
      return;
  }
}

std::optional<stored_chunk> stored_chunk_of(const node& n, const box& region) {
  if (region.size() == 0) return std::nullopt;
  switch (n.kind) {
    case node_kind::zarr_source: {
      const chunk_grid& grid = n.zarr->grid();
      shape_t index(region.ndim());
      for (std::size_t d = 0; d < index.size(); ++d) {
        const index_t size = grid.chunks()[d];
        if (size <= 0 || region.start[d] % size != 0) return std::nullopt;
        index[d] = region.start[d] / size;
      }
      if (grid.chunk_box(index) != region) return std::nullopt;
      return stored_chunk{n.zarr.get(), std::move(index)};
    }
    case node_kind::rechunk:
      return stored_chunk_of(*n.inputs[0], region);
    case node_kind::concatenate: {
      const std::vector<concat_piece> pieces = concatenate_pieces(n, region);
      if (pieces.size() != 1) return std::nullopt;
      return stored_chunk_of(*n.inputs[pieces.front().input], pieces.front().part);
    }
    case node_kind::slice: {
      const slice_payload& p = n.slicing;
      for (std::size_t d = 0; d < p.ranges.size(); ++d) {
        if (!p.dropped[d] && p.ranges[d].step != 1) return std::nullopt;
      }
      return stored_chunk_of(*n.inputs[0], plan_slice(n, region).input);
    }
    case node_kind::reshape: {  // a chunk that is an input chunk's elements in their order
      const reshape_view v = plan_reshape(n, region, false);
      if (!v.identity) return std::nullopt;
      return stored_chunk_of(*n.inputs[0], v.input);
    }
    default:
      return std::nullopt;
  }
}

index_t estimate_bytes(const program_table& programs, const node& n, const box& region) {
  const index_t out = bytes_of(n, region);
  switch (n.kind) {
    case node_kind::materialised: {
      if (!n.result->spill) return out;
      return out +
             2 * element_count(n.result->spill_chunks) * static_cast<index_t>(n.dtype.itemsize());
    }
    case node_kind::rechunk:
      return estimate_bytes(programs, *n.inputs[0], region);
    case node_kind::zarr_source: {
      // The read decodes one touched chunk at a time into scratch, from its stored bytes.
      const index_t chunk = n.zarr->metadata().chunk_bytes();
      return out + chunk * (n.zarr->metadata().order == memory_order::f ? 3 : 2);
    }
    case node_kind::chunk_source:
      return out + n.source->scratch_bytes();
    case node_kind::memory_source:
    case node_kind::fill:
    case node_kind::arange:
    case node_kind::random:
    case node_kind::reduction:
    case node_kind::scan:
    case node_kind::select:
      return out;
    case node_kind::blocks:
      return blocks_estimate(programs, n, region);
    case node_kind::slice: {
      const slice_plan sp = plan_slice(n, region);
      return out + estimate_bytes(programs, *n.inputs[0], sp.input);
    }
    case node_kind::transpose:
      return out + estimate_bytes(programs, *n.inputs[0], transpose_input_box(n, region));
    case node_kind::take:
      return out + estimate_bytes(programs, *n.inputs[0], take_input_box(n, region));
    case node_kind::points:
      return out + estimate_bytes(programs, *n.inputs[0], points_input_box(n, region));
    case node_kind::extract: {  // one input chunk's values and mask at a time
      if (region.size() == 0) return out;
      const axis_chunks& chunks = n.inputs[0]->chunks[0];
      const auto [first, last] = extract_chunks(n, region);
      index_t most = 0;
      for (std::size_t c = first; c < last; ++c) {
        const index_t start = chunks.start(static_cast<index_t>(c));
        const box in_box{{start}, {start + chunks[static_cast<index_t>(c)]}};
        most = std::max(most, estimate_bytes(programs, *n.inputs[0], in_box) +
                                  estimate_bytes(programs, *n.inputs[1], in_box));
      }
      return out + most;
    }
    case node_kind::reshape: {
      if (region.size() == 0) return out;
      const reshape_view v = plan_reshape(n, region, false);
      const index_t in = estimate_bytes(programs, *n.inputs[0], v.input);
      // A gather holds the offsets too (at most one index per element).
      return v.identity ? in : out + in + region.size() * static_cast<index_t>(sizeof(index_t));
    }
    case node_kind::concatenate: {
      const auto pieces = concatenate_pieces(n, region);
      if (pieces.size() == 1 && pieces.front().part.shape() == region.shape())
        return estimate_bytes(programs, *n.inputs[pieces.front().input], pieces.front().part);
      // The parts are evaluated one after another, each into scratch copied into the output.
      index_t most = 0;
      for (const concat_piece& p : pieces)
        most = std::max(most, estimate_bytes(programs, *n.inputs[p.input], p.part));
      return out + most;
    }
    case node_kind::elementwise: {
      const block_program& program = programs.at(n);
      index_t total = out + program.scratch_bytes();
      for (const node* leaf : program.leaves) {
        if (leaf->kind == node_kind::fill || memory_values(*leaf)) continue;
        total += estimate_bytes(programs, *leaf, broadcast_box(*leaf, n.shape, region));
      }
      return total;
    }
  }
  return out;
}

}  // namespace chunkarr::detail
