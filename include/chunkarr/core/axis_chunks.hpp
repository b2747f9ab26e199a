// The chunks along one axis of an array.
//
// As in dask, an array's chunking is a list of chunk lengths per axis, and most of the lists
// are regular: a first chunk, then chunks of one size, the last clipped at the axis's end (a
// store's grid, a slice of one with step 1, either of them reversed). Those are held in O(1),
// so an array of 10^9 one-element chunks costs nothing until its chunks are visited. Others (a
// strided selection through regular chunks) keep their boundaries. Built whole or by appending
// chunks; cheap to copy when regular.
#pragma once

#include <initializer_list>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "chunkarr/core/index.hpp"

namespace chunkarr {

class axis_chunks {
 public:
  /// No chunks: an axis of length 0.
  axis_chunks() = default;
  /// The given lengths, each positive (held in O(1) when they are regular).
  axis_chunks(std::initializer_list<index_t> lengths);
  explicit axis_chunks(std::span<const index_t> lengths);
  /// Chunks of `size` over `extent`, the first one `first` long (all clipped at `extent`).
  /// Throws shape_error unless extent >= 0 and size, first > 0.
  static axis_chunks regular(index_t extent, index_t size, index_t first = 0);

  /// Appends a chunk of `length` > 0 (staying O(1) while the chunks stay regular).
  void push_back(index_t length);
  /// Appends all of `other`'s chunks (O(1) when the result stays regular).
  void append(const axis_chunks& other);

  /// The most chunks an axis holds when their lengths are not regular (each is stored): more
  /// throws shape_error rather than spend minutes and gigabytes on a chunk list.
  static constexpr index_t max_irregular = index_t{1} << 24;

  /// Number of chunks.
  index_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// The axis's length: the sum of the chunks.
  index_t extent() const { return extent_; }
  /// The length of chunk `i` (0 <= i < size()).
  index_t operator[](index_t i) const { return start(i + 1) - start(i); }
  index_t front() const { return (*this)[0]; }
  /// Where chunk `i` begins (0 <= i <= size(); start(size()) is the extent).
  index_t start(index_t i) const;
  /// The chunk that holds `position` (0 <= position < extent()).
  index_t find(index_t position) const;
  /// The longest chunk (0 when there are none).
  index_t longest() const;
  /// Whether the chunks are held in O(1): first, then chunks of one size.
  bool is_regular() const { return bounds_.empty(); }
  /// All the lengths (O(size()): for messages and tests).
  shape_t lengths() const;

  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = index_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = index_t;
    iterator() = default;
    iterator(const axis_chunks* a, index_t i) : a_(a), i_(i) {}
    index_t operator*() const { return (*a_)[i_]; }
    index_t operator[](difference_type n) const { return (*a_)[i_ + n]; }
    iterator& operator++() { return ++i_, *this; }
    iterator operator++(int) { return {a_, i_++}; }
    iterator& operator--() { return --i_, *this; }
    iterator operator--(int) { return {a_, i_--}; }
    iterator& operator+=(difference_type n) { return i_ += n, *this; }
    iterator& operator-=(difference_type n) { return i_ -= n, *this; }
    friend iterator operator+(iterator it, difference_type n) { return it += n; }
    friend iterator operator+(difference_type n, iterator it) { return it += n; }
    friend iterator operator-(iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(iterator a, iterator b) { return a.i_ - b.i_; }
    friend bool operator==(iterator a, iterator b) { return a.i_ == b.i_; }
    friend auto operator<=>(iterator a, iterator b) { return a.i_ <=> b.i_; }

   private:
    const axis_chunks* a_ = nullptr;
    index_t i_ = 0;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, count_}; }

  /// Equal when the lengths are, however they are held.
  friend bool operator==(const axis_chunks& a, const axis_chunks& b);
  friend bool operator==(const axis_chunks& a, const shape_t& lengths) {
    return a == axis_chunks(lengths);
  }

 private:
  [[noreturn]] static void throw_irregular(index_t count);

  index_t extent_ = 0;
  index_t count_ = 0;
  index_t first_ = 0;            // regular: the first chunk's length
  index_t size_ = 0;             // regular: the others' (the last clipped)
  std::vector<index_t> bounds_;  // otherwise: 0, c0, c0+c1, …, extent
};

/// `(10, 10, 5)`, or `(10, 10, …, 5) [1000 chunks]` when there are many.
std::string to_string(const axis_chunks& a);

}  // namespace chunkarr
