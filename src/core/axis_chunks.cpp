#include "chunkarr/core/axis_chunks.hpp"

#include <algorithm>
#include <limits>

#include "chunkarr/core/error.hpp"

namespace chunkarr {

axis_chunks::axis_chunks(std::initializer_list<index_t> lengths)
    : axis_chunks(std::span<const index_t>(lengths.begin(), lengths.size())) {}

axis_chunks::axis_chunks(std::span<const index_t> lengths) {
  for (index_t c : lengths) {
    if (c <= 0) {
      throw_error<shape_error>("chunk lengths ", to_string(lengths), " must all be positive");
    }
    push_back(c);
  }
}

void axis_chunks::push_back(index_t length) {
  if (length <= 0) throw_error<shape_error>("a chunk of length ", length, ": must be positive");
  if (length > std::numeric_limits<index_t>::max() - extent_) {
    throw_error<shape_error>("chunks over an axis of ", extent_, " + ", length,
                             " elements: overflows int64");
  }
  if (bounds_.empty()) {
    // Regular while every chunk after the first has one size, but for a shorter last one.
    if (count_ <= 1 || ((*this)[count_ - 1] == size_ && length <= size_)) {
      if (count_ == 0) first_ = length;
      if (count_ <= 1) size_ = length;
      ++count_;
      extent_ += length;
      return;
    }
    if (count_ >= max_irregular) throw_irregular(count_ + 1);
    std::vector<index_t> bounds;
    bounds.reserve(static_cast<std::size_t>(count_) + 2);
    for (index_t i = 0; i <= count_; ++i) bounds.push_back(start(i));
    bounds_ = std::move(bounds);
  }
  if (count_ >= max_irregular) throw_irregular(count_ + 1);
  bounds_.push_back(bounds_.back() + length);
  ++count_;
  extent_ += length;
}

void axis_chunks::append(const axis_chunks& other) {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    *this = other;
    return;
  }
  if (other.extent_ > std::numeric_limits<index_t>::max() - extent_) {
    throw_error<shape_error>("chunks over an axis of ", extent_, " + ", other.extent_,
                             " elements: overflows int64");
  }
  if (bounds_.empty() && other.bounds_.empty()) {
    // Regular still when every chunk after this one's first is one size, but for the last.
    const index_t size = count_ >= 2 ? (*this)[1] : other.first_;
    const bool regular = (count_ == 1 || (*this)[count_ - 1] == size) && other.first_ == size &&
                         (other.count_ <= 1 || other[1] <= size) &&
                         (other.count_ <= 2 || other.size_ == size);
    if (regular) {
      size_ = size;
      count_ += other.count_;
      extent_ += other.extent_;
      return;
    }
  }
  if (count_ + other.count_ > max_irregular) throw_irregular(count_ + other.count_);
  for (index_t c : other) push_back(c);
}

void axis_chunks::throw_irregular(index_t count) {
  throw_error<shape_error>(count, " chunks of irregular lengths along one axis (at most ",
                           max_irregular, "): rechunk to regular chunks first");
}

axis_chunks axis_chunks::regular(index_t extent, index_t size, index_t first) {
  if (first == 0) first = size;
  if (extent < 0 || size <= 0 || first <= 0) {
    throw_error<shape_error>("chunks of ", size, " (the first ", first, ") over an axis of ",
                             extent, ": the chunks must be positive and the axis not negative");
  }
  axis_chunks a;
  a.extent_ = extent;
  if (extent == 0) return a;
  a.first_ = std::min(first, extent);
  a.size_ = size;
  const index_t rest = extent - a.first_;
  a.count_ = 1 + rest / size + (rest % size != 0);
  if (a.count_ == 1) a.size_ = a.first_;
  return a;
}

index_t axis_chunks::start(index_t i) const {
  if (!bounds_.empty()) return bounds_[static_cast<std::size_t>(i)];
  if (i == 0) return 0;
  if (i >= count_) return extent_;
  return first_ + (i - 1) * size_;
}

index_t axis_chunks::find(index_t position) const {
  if (!bounds_.empty()) {
    return std::upper_bound(bounds_.begin(), bounds_.end(), position) - bounds_.begin() - 1;
  }
  if (position < first_) return 0;
  return 1 + (position - first_) / size_;
}

index_t axis_chunks::longest() const {
  if (count_ == 0) return 0;
  if (bounds_.empty()) return std::max(first_, count_ > 1 ? (*this)[1] : first_);
  index_t m = 0;
  for (std::size_t i = 0; i + 1 < bounds_.size(); ++i) m = std::max(m, bounds_[i + 1] - bounds_[i]);
  return m;
}

shape_t axis_chunks::lengths() const {
  return shape_t(begin(), end());
}

bool operator==(const axis_chunks& a, const axis_chunks& b) {
  if (a.count_ != b.count_ || a.extent_ != b.extent_) return false;
  if (a.count_ == 0) return true;
  if (a.is_regular() && b.is_regular()) {
    // The first chunk, the middle size and the extent fix the rest.
    return a.first_ == b.first_ && (a.count_ <= 2 || a.size_ == b.size_);
  }
  for (index_t i = 1; i < a.count_; ++i) {
    if (a.start(i) != b.start(i)) return false;
  }
  return true;
}

std::string to_string(const axis_chunks& a) {
  constexpr index_t shown = 8;
  if (a.size() <= shown) return to_string(a.lengths());
  std::string s = "(";
  for (index_t i = 0; i < shown - 1; ++i) s += std::to_string(a[i]) + ", ";
  return s + "…, " + std::to_string(a[a.size() - 1]) + ") [" + std::to_string(a.size()) +
         " chunks]";
}

}  // namespace chunkarr
