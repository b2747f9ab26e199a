#include "chunkarr/core/chunk_grid.hpp"

#include <algorithm>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

chunk_grid::chunk_grid(shape_t shape, shape_t chunks)
    : shape_(std::move(shape)), chunks_(std::move(chunks)) {
  if (shape_.size() != chunks_.size()) {
    throw_error<shape_error>("chunks ", to_string(chunks_), " do not match shape ",
                             to_string(shape_), ": ", chunks_.size(), " vs ", shape_.size(),
                             " dimensions");
  }
  if (shape_.size() > static_cast<std::size_t>(max_ndim)) {
    throw_error<shape_error>("shape ", to_string(shape_), " has ", shape_.size(),
                             " dimensions; at most ", max_ndim, " are supported");
  }
  counts_.resize(shape_.size());
  for (std::size_t d = 0; d < shape_.size(); ++d) {
    if (shape_[d] < 0) {
      throw_error<shape_error>("shape ", to_string(shape_), " has a negative extent");
    }
    if (chunks_[d] <= 0) {
      throw_error<shape_error>("chunks ", to_string(chunks_), " must all be positive (shape ",
                               to_string(shape_), ")");
    }
    counts_[d] = shape_[d] / chunks_[d] + (shape_[d] % chunks_[d] != 0);
  }
  element_count(shape_);  // validates that the array's size is representable
  chunk_elements_ = element_count(chunks_);
  total_ = element_count(counts_);
}

box chunk_grid::chunk_box(std::span<const index_t> index) const {
  box b{shape_t(ndim()), shape_t(ndim())};
  for (std::size_t d = 0; d < ndim(); ++d) {
    if (index.size() != ndim() || index[d] < 0 || index[d] >= counts_[d]) {
      throw_error<shape_error>("chunk index ", to_string(index), " is outside the chunk grid ",
                               to_string(counts_));
    }
    b.start[d] = index[d] * chunks_[d];
    b.stop[d] = std::min(b.start[d] + chunks_[d], shape_[d]);
  }
  return b;
}

box chunk_grid::chunks_touching(const box& region) const {
  check_box_within(region, shape_);
  box r{shape_t(ndim()), shape_t(ndim())};
  if (region.empty()) return r;
  for (std::size_t d = 0; d < ndim(); ++d) {
    r.start[d] = region.start[d] / chunks_[d];
    r.stop[d] = (region.stop[d] - 1) / chunks_[d] + 1;
  }
  return r;
}

index_t chunk_grid::linear_index(std::span<const index_t> index) const {
  index_t linear = 0;
  for (std::size_t d = 0; d < counts_.size(); ++d) linear = linear * counts_[d] + index[d];
  return linear;
}

shape_t chunk_grid::unravel(index_t linear) const {
  shape_t index(ndim());
  for (std::size_t d = ndim(); d-- > 0;) {
    index[d] = linear % counts_[d];
    linear /= counts_[d];
  }
  return index;
}

}  // namespace chunkarr
