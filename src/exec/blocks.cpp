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
#include "exec/kernels.hpp"

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
  if (!p.axis_map.empty()) {  // blockwise
    const std::vector<int>& map = p.axis_map[k];
    box b{shape_t(map.size(), 0), in.shape};
    for (std::size_t d = 0; d < map.size(); ++d) {
      if (map[d] < 0) continue;
      const index_t i = c[static_cast<std::size_t>(map[d])];
      b.start[d] = in.chunks[d].start(i);
      b.stop[d] = in.chunks[d].start(i + 1);
    }
    return {b, b.relative_to(b.start)};
  }
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

// scipy's test for a symmetric (1) or antisymmetric (-1) odd window, which it then sums in
// pairs; 0 for any other.
int symmetry(const std::vector<double>& w) {
  const auto size = static_cast<index_t>(w.size());
  if (size % 2 == 0) return 0;
  const double* fw = w.data() + size / 2;
  const double eps = std::numeric_limits<double>::epsilon();
  bool even = true, odd = true;
  for (index_t i = 1; i <= size / 2; ++i) {
    even = even && std::abs(fw[i] - fw[-i]) <= eps;
    odd = odd && std::abs(fw[i] + fw[-i]) <= eps;
  }
  return even ? 1 : odd ? -1 : 0;
}

// Window sums over `rows` planes of `inner` lanes (lanes are independent lines; a line filter
// has one lane): y[i][j] from x[i + k][j], k over the window. Each output is summed in scipy's
// order — the loops run across outputs, never across one output's terms — so the bits are
// scipy's; sixteen outputs at a time stay in vector registers through all the terms.
using v4 = double __attribute__((vector_size(32)));  // four outputs side by side
[[gnu::always_inline]] inline v4 load4(const double* p) {
  v4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline v4 splat(double f) {
  return v4{f, f, f, f};
}

// One output's window sum in scipy's order (Form: 1 symmetric pairs, -1 antisymmetric, 0
// plain), for sixteen outputs at once (V = v4) or one (V = double).
template <int Form, class V, class L>
[[gnu::always_inline]] inline V window_sum(L load, const double* c, index_t e, index_t inner,
                                           const double* fw, index_t size1, index_t size2) {
  const auto times = [](const V& v, double f) {
    if constexpr (std::is_same_v<V, double>)
      return v * f;
    else
      return v * splat(f);
  };
  if constexpr (Form != 0) {
    V acc = times(load(c + e), fw[0]);
    for (index_t k = -size1; k < 0; ++k) {
      const V lo = load(c + k * inner + e), hi = load(c - k * inner + e);
      acc += times(Form > 0 ? lo + hi : lo - hi, fw[k]);
    }
    return acc;
  } else {
    V acc = times(load(c + size2 * inner + e), fw[size2]);
    for (index_t k = -size1; k < size2; ++k) acc += times(load(c + k * inner + e), fw[k]);
    return acc;
  }
}

template <int Form>
[[gnu::always_inline]] inline void correlate_range(const double* c, double* __restrict y, index_t n,
                                                   index_t inner, const double* fw, index_t size1,
                                                   index_t size2) {
  index_t e = 0;
  for (; e + 4 <= n; e += 4) {
    const v4 acc = window_sum<Form, v4>(load4, c, e, inner, fw, size1, size2);
    std::memcpy(y + e, &acc, sizeof acc);
  }
  const auto scalar = [](const double* p) { return *p; };
  for (; e < n; ++e) y[e] = window_sum<Form, double>(scalar, c, e, inner, fw, size1, size2);
}

__attribute__((target_clones("avx2", "default"))) void correlate_planes(
    const double* x, double* __restrict y, index_t rows, index_t inner,
    const std::vector<double>& w) {
  const auto size = static_cast<index_t>(w.size());
  const index_t size1 = size / 2, size2 = size - size1 - 1;
  const double* fw = w.data() + size1;
  const double* c = x + size1 * inner;  // output i's centre: row i + size1 of x
  const index_t n = rows * inner;
  switch (symmetry(w)) {
    case 1:
      return correlate_range<1>(c, y, n, inner, fw, size1, size2);
    case -1:
      return correlate_range<-1>(c, y, n, inner, fw, size1, size2);
    default:
      return correlate_range<0>(c, y, n, inner, fw, size1, size2);
  }
}

// The mean of each window of `size` rows: its own sum (scipy runs one sum along the whole
// line, whose rounding would make values depend on where chunks start).
__attribute__((target_clones("avx2", "default"))) void uniform_planes(const double* x,
                                                                      double* __restrict y,
                                                                      index_t rows, index_t inner,
                                                                      index_t size) {
  constexpr index_t T = 16;
  const index_t n = rows * inner;
  const auto d = static_cast<double>(size);
  index_t e = 0;
  for (; e + T <= n; e += T) {
    double acc[T] = {};
    for (index_t k = 0; k < size; ++k)
      for (index_t t = 0; t < T; ++t) acc[t] += x[k * inner + e + t];
    for (index_t t = 0; t < T; ++t) y[e + t] = acc[t] / d;
  }
  for (; e < n; ++e) {
    double acc = 0;
    for (index_t k = 0; k < size; ++k) acc += x[k * inner + e];
    y[e] = acc / d;
  }
}

// The min, max or median of each window of one line.
void rank_line(const blocks_payload& p, const double* x, double* y, index_t length, index_t size,
               std::vector<double>& scratch) {
  if (p.window == window_op::median) {
    scratch.resize(static_cast<std::size_t>(size));
    for (index_t i = 0; i < length; ++i) {
      std::copy(x + i, x + i + size, scratch.begin());
      std::nth_element(scratch.begin(), scratch.begin() + p.rank, scratch.end());
      y[i] = scratch[static_cast<std::size_t>(p.rank)];
    }
    return;
  }
  // A monotonic queue of candidates: O(1) per output.
  const bool is_min = p.window == window_op::minimum;
  std::deque<index_t> q;
  const auto better = [&](double a, double b) { return is_min ? a <= b : a >= b; };
  for (index_t k = 0; k < length + size - 1; ++k) {
    while (!q.empty() && better(x[k], x[q.back()])) q.pop_back();
    q.push_back(k);
    if (q.front() <= k - size) q.pop_front();
    if (k >= size - 1) y[k - size + 1] = x[q.front()];
  }
}

// The window filter of block `in` (shape `in_shape`: the output's, plus the halo along the
// axis) into `out`, through float64 as scipy's line buffers: tiles of lanes small enough to
// stay in cache, converted in, filtered, converted out.
void window_block(const node& n, const std::byte* in, const shape_t& in_shape, std::byte* out,
                  const shape_t& out_shape) {
  const blocks_payload& p = *n.blocks;
  const auto axis = static_cast<std::size_t>(p.window_axis);
  index_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= out_shape[d];
  for (std::size_t d = axis + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  const index_t length = out_shape[axis], in_length = in_shape[axis];
  const index_t size = in_length - length + 1;
  // Lanes per tile: about 256 KiB of float64 input.
  const index_t tile = std::clamp<index_t>((32 << 10) / std::max<index_t>(in_length, 1), 1, inner);
  bytes x_buffer = scratch_buffer(static_cast<std::size_t>(in_length * tile) * sizeof(double));
  bytes y_buffer = scratch_buffer(static_cast<std::size_t>(length * tile) * sizeof(double));
  auto* x = reinterpret_cast<double*>(x_buffer.data());
  auto* y = reinterpret_cast<double*>(y_buffer.data());
  std::vector<double> line, result, scratch;
  visit_kind(n.inputs[0]->dtype.kind, [&](auto in_sample) {
    using I = decltype(in_sample);
    visit_kind(n.dtype.kind, [&](auto out_sample) {
      using O = decltype(out_sample);
      for (index_t o = 0; o < outer; ++o) {
        for (index_t j0 = 0; j0 < inner; j0 += tile) {
          const index_t w = std::min(tile, inner - j0);
          const I* from = reinterpret_cast<const I*>(in) + o * in_length * inner + j0;
          if (inner == 1) {  // one contiguous line
            for (index_t k = 0; k < in_length; ++k) x[k] = static_cast<double>(from[k]);
          } else {
            for (index_t k = 0; k < in_length; ++k)
              for (index_t t = 0; t < w; ++t)
                x[k * w + t] = static_cast<double>(from[k * inner + t]);
          }
          switch (p.window) {
            case window_op::correlate:
              correlate_planes(x, y, length, w, p.weights);
              break;
            case window_op::uniform:
              uniform_planes(x, y, length, w, size);
              break;
            default:  // min, max, median: line by line
              line.resize(static_cast<std::size_t>(in_length));
              result.resize(static_cast<std::size_t>(length));
              for (index_t t = 0; t < w; ++t) {
                for (index_t k = 0; k < in_length; ++k)
                  line[static_cast<std::size_t>(k)] = x[k * w + t];
                rank_line(p, line.data(), result.data(), length, size, scratch);
                for (index_t k = 0; k < length; ++k)
                  y[k * w + t] = result[static_cast<std::size_t>(k)];
              }
          }
          O* to = reinterpret_cast<O*>(out) + o * length * inner + j0;
          if (inner == 1) {
            for (index_t k = 0; k < length; ++k) to[k] = convert<O>(y[k]);
          } else {
            for (index_t k = 0; k < length; ++k)
              for (index_t t = 0; t < w; ++t) to[k * inner + t] = convert<O>(y[k * w + t]);
          }
        }
      }
    });
  });
  release(x_buffer);
  release(y_buffer);
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
    values[k] = scratch_buffer(static_cast<std::size_t>(ib.read.size()) * in.dtype.itemsize());
    evaluate_into(programs, in, ib.read, values[k]);
    views.push_back({values[k].data(), ib.read.shape(), in.dtype});
    if (k == 0) core = ib.core;
  }
  struct give_back {
    std::vector<bytes>& values;
    ~give_back() {
      for (bytes& v : values) release(v);
    }
  } returner{values};
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
  for_each_index(touched_chunks(n, region), [&](const shape_t& c) {
    const box own = chunk_box_of(n.chunks, c);
    if (own == region) {
      compute_block(programs, n, c, own, out);
      return;
    }
    bytes block = scratch_buffer(static_cast<std::size_t>(own.size()) * itemsize);
    compute_block(programs, n, c, own, block);
    const box part = own.intersect(region);
    copy_region(block.data(), own.shape(), part.relative_to(own.start).start, out.data(),
                region.shape(), part.relative_to(region.start).start, part.shape(), itemsize);
    release(block);
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
    // A window filter's float64 copies of its input and output blocks; a user function's
    // own scratch.
    if (n.blocks->window != window_op::none) bytes += 1 << 20;  // tiles of ~256 KiB
    bytes += n.blocks->scratch;
    most = std::max(most, bytes);
  });
  return out + most;
}

}  // namespace chunkarr::detail
