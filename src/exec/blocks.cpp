// Evaluating a blocks node (map_blocks, map_overlap, the window filters): each output chunk a
// region touches is computed whole from its inputs' blocks — input 0's with its halo, read as
// one region of the (padded) input — then the region's part of it is copied out.
//
// The window filters follow scipy.ndimage's line filters (ni_filters.c): each line along the
// axis is read into a float64 buffer extended by the halo; correlate1d sums in scipy's order
// (with its symmetric and antisymmetric forms), so its results equal scipy's bit for bit.
#include <algorithm>
#include <cstring>
#include <deque>

#include "chunkarr/core/error.hpp"
#include "chunkarr/core/region_copy.hpp"
#include "exec/evaluate.hpp"

namespace chunkarr::detail {
namespace {

// The input chunk index of output chunk `c`: without the new axes, 0 at the dropped ones.
shape_t input_chunk(const blocks_payload& p, const shape_t& c) {
  shape_t index;
  for (std::size_t d = 0; d < c.size(); ++d) {
    if (!std::binary_search(p.new_axis.begin(), p.new_axis.end(), static_cast<int>(d)))
      index.push_back(c[d]);
  }
  for (int d : p.drop_axis) index.insert(index.begin() + d, 0);
  return index;
}

box chunk_box_of(const chunks_t& chunks, const shape_t& index) {
  box b{shape_t(index.size()), shape_t(index.size())};
  for (std::size_t d = 0; d < index.size(); ++d) {
    b.start[d] = chunks[d].start(index[d]);
    b.stop[d] = chunks[d].start(index[d] + 1);
  }
  return b;
}

// What input k reads for output chunk `c`, and where the chunk's own values sit in it.
struct input_block {
  box read;
  box core;
};

input_block input_block_of(const node& n, std::size_t k, const shape_t& c) {
  const blocks_payload& p = *n.blocks;
  const node& in = *n.inputs[k];
  if (k > 0 || p.before.empty()) {
    const box b = chunk_box_of(in.chunks, input_chunk(p, c));
    return {b, b.relative_to(b.start)};
  }
  // Input 0 with a halo: the chunk's own box (in the output's coordinates) extended.
  const box own = chunk_box_of(n.chunks, c);
  input_block r{own, own};
  for (std::size_t d = 0; d < own.ndim(); ++d) {
    if (p.clip) {
      r.read.start[d] = std::max<index_t>(0, own.start[d] - p.before[d]);
      r.read.stop[d] = std::min(n.shape[d], own.stop[d] + p.after[d]);
    } else {  // the padded input: its coordinates are the output's plus `before`
      r.read.start[d] = own.start[d];
      r.read.stop[d] = own.stop[d] + p.before[d] + p.after[d];
    }
    r.core.start[d] = p.clip ? own.start[d] - r.read.start[d] : p.before[d];
    r.core.stop[d] = r.core.start[d] + (own.stop[d] - own.start[d]);
  }
  return r;
}

// ---- window filters ----------------------------------------------------------------------

// scipy's correlate1d over one line: `x` holds the window's halo before and after the
// `length` outputs.
void correlate_line(const double* x, double* y, index_t length, const std::vector<double>& w,
                    index_t before) {
  const auto size = static_cast<index_t>(w.size());
  const index_t size1 = size / 2, size2 = size - size1 - 1;
  const double* fw = w.data() + size1;
  // The window's centre for output i is at x[i + before - origin] = x[i + size1].
  (void)before;
  int symmetric = 0;
  if (size & 1) {
    symmetric = 1;
    for (index_t i = 1; i <= size / 2; ++i) {
      if (std::abs(fw[i] - fw[-i]) > std::numeric_limits<double>::epsilon()) {
        symmetric = 0;
        break;
      }
    }
    if (symmetric == 0) {
      symmetric = -1;
      for (index_t i = 1; i <= size / 2; ++i) {
        if (std::abs(fw[i] + fw[-i]) > std::numeric_limits<double>::epsilon()) {
          symmetric = 0;
          break;
        }
      }
    }
  }
  for (index_t i = 0; i < length; ++i) {
    const double* c = x + i + size1;
    double s;
    if (symmetric > 0) {
      s = c[0] * fw[0];
      for (index_t j = -size1; j < 0; ++j) s += (c[j] + c[-j]) * fw[j];
    } else if (symmetric < 0) {
      s = c[0] * fw[0];
      for (index_t j = -size1; j < 0; ++j) s += (c[j] - c[-j]) * fw[j];
    } else {
      s = c[size2] * fw[size2];
      for (index_t j = -size1; j < size2; ++j) s += c[j] * fw[j];
    }
    y[i] = s;
  }
}

void window_line(const blocks_payload& p, const double* x, double* y, index_t length,
                 index_t before, std::vector<double>& scratch) {
  const index_t size = p.window == window_op::correlate
                           ? static_cast<index_t>(p.weights.size())
                           : p.before[static_cast<std::size_t>(p.window_axis)] +
                                 p.after[static_cast<std::size_t>(p.window_axis)] + 1;
  switch (p.window) {
    case window_op::none:
      return;
    case window_op::correlate:
      correlate_line(x, y, length, p.weights, before);
      return;
    case window_op::uniform:
      // Each output's own window sum (scipy runs one sum along the whole line, whose
      // rounding would make values depend on where chunks start).
      for (index_t i = 0; i < length; ++i) {
        double s = 0;
        for (index_t k = 0; k < size; ++k) s += x[i + k];
        y[i] = s / static_cast<double>(size);
      }
      return;
    case window_op::minimum:
    case window_op::maximum: {  // a monotonic queue of candidates: O(1) per output
      const bool is_min = p.window == window_op::minimum;
      std::deque<index_t> q;
      const auto better = [&](double a, double b) { return is_min ? a <= b : a >= b; };
      for (index_t k = 0; k < length + size - 1; ++k) {
        while (!q.empty() && better(x[k], x[q.back()])) q.pop_back();
        q.push_back(k);
        if (q.front() <= k - size) q.pop_front();
        if (k >= size - 1) y[k - size + 1] = x[q.front()];
      }
      return;
    }
    case window_op::median:
      scratch.resize(static_cast<std::size_t>(size));
      for (index_t i = 0; i < length; ++i) {
        std::copy(x + i, x + i + size, scratch.begin());
        std::nth_element(scratch.begin(), scratch.begin() + p.rank, scratch.end());
        y[i] = scratch[static_cast<std::size_t>(p.rank)];
      }
      return;
  }
}

template <class T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, bool>)
    return v != 0;
  else
    return static_cast<T>(v);
}

// The window filter of block `in` (shape `in_shape`, the halo along the axis) into `out`.
void window_block(const node& n, const std::byte* in, const shape_t& in_shape, std::byte* out,
                  const shape_t& out_shape) {
  const blocks_payload& p = *n.blocks;
  const auto axis = static_cast<std::size_t>(p.window_axis);
  index_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= out_shape[d];
  for (std::size_t d = axis + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  const index_t length = out_shape[axis], in_length = in_shape[axis];
  std::vector<double> line(static_cast<std::size_t>(in_length)),
      result(static_cast<std::size_t>(length)), scratch;
  visit_kind(n.inputs[0]->dtype.kind, [&](auto in_sample) {
    using I = decltype(in_sample);
    const I* x = reinterpret_cast<const I*>(in);
    visit_kind(n.dtype.kind, [&](auto out_sample) {
      using O = decltype(out_sample);
      O* y = reinterpret_cast<O*>(out);
      for (index_t o = 0; o < outer; ++o) {
        for (index_t j = 0; j < inner; ++j) {
          const I* from = x + o * in_length * inner + j;
          for (index_t k = 0; k < in_length; ++k)
            line[static_cast<std::size_t>(k)] = static_cast<double>(from[k * inner]);
          window_line(p, line.data(), result.data(), length, p.before[axis], scratch);
          O* to = y + o * length * inner + j;
          for (index_t k = 0; k < length; ++k)
            to[k * inner] = from_double<O>(result[static_cast<std::size_t>(k)]);
        }
      }
    });
  });
}

// Computes output chunk `c` (box `own`) into `out` (the chunk's shape).
void compute_block(const program_table& programs, const node& n, const shape_t& c, const box& own,
                   std::span<std::byte> out) {
  const blocks_payload& p = *n.blocks;
  std::vector<bytes> values(n.inputs.size());
  std::vector<block_view> views;
  box core;
  for (std::size_t k = 0; k < n.inputs.size(); ++k) {
    const node& in = *n.inputs[k];
    const input_block ib = input_block_of(n, k, c);
    values[k].resize(static_cast<std::size_t>(ib.read.size()) * in.dtype.itemsize());
    evaluate_into(programs, in, ib.read, values[k]);
    views.push_back({values[k].data(), ib.read.shape(), in.dtype});
    if (k == 0) core = ib.core;
  }
  if (p.window != window_op::none) {
    window_block(n, values[0].data(), views[0].shape, out.data(), own.shape());
    return;
  }
  const block_info info{c, own, core};
  try {
    (*p.f)(views, block_span{out.data(), own.shape(), n.dtype}, info);
  } catch (const error& e) {
    e.rethrow_with(p.name + ": the function failed on chunk " + to_string(c) + ": ");
  } catch (const std::exception& e) {
    throw_error<error>(p.name, ": the function failed on chunk ", to_string(c), ": ", e.what());
  }
}

// The output chunks a region touches: [first, last] per axis.
box touched_chunks(const node& n, const box& region) {
  box r{shape_t(region.ndim()), shape_t(region.ndim())};
  for (std::size_t d = 0; d < region.ndim(); ++d) {
    r.start[d] = n.chunks[d].find(region.start[d]);
    r.stop[d] = n.chunks[d].find(region.stop[d] - 1) + 1;
  }
  return r;
}

}  // namespace

void blocks_into(const program_table& programs, const node& n, const box& region,
                 std::span<std::byte> out) {
  if (region.size() == 0) return;
  const std::size_t itemsize = n.dtype.itemsize();
  bytes block;
  for_each_index(touched_chunks(n, region), [&](const shape_t& c) {
    const box own = chunk_box_of(n.chunks, c);
    if (own == region) {
      compute_block(programs, n, c, own, out);
      return;
    }
    block.resize(static_cast<std::size_t>(own.size()) * itemsize);
    compute_block(programs, n, c, own, block);
    const box part = own.intersect(region);
    copy_region(block.data(), own.shape(), part.relative_to(own.start).start, out.data(),
                region.shape(), part.relative_to(region.start).start, part.shape(), itemsize);
  });
}

index_t blocks_estimate(const program_table& programs, const node& n, const box& region) {
  const index_t out = region.size() * static_cast<index_t>(n.dtype.itemsize());
  if (region.size() == 0) return out;
  index_t most = 0;
  for_each_index(touched_chunks(n, region), [&](const shape_t& c) {
    const box own = chunk_box_of(n.chunks, c);
    index_t bytes = own == region ? 0 : own.size() * static_cast<index_t>(n.dtype.itemsize());
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      const input_block ib = input_block_of(n, k, c);
      bytes += estimate_bytes(programs, *n.inputs[k], ib.read);
    }
    // A window filter's line buffers (three lines at most as long as the read box's longest
    // axis), a user function's own scratch.
    const shape_t read = input_block_of(n, 0, c).read.shape();
    bytes += n.blocks->scratch + 24 * *std::max_element(read.begin(), read.end());
    most = std::max(most, bytes);
  });
  return out + most;
}

}  // namespace chunkarr::detail
