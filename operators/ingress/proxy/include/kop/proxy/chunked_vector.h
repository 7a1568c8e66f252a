// ChunkedVector: a vector split into copy-on-write chunks of 128 elements, so that a route
// table compiled from the previous one (and the proxy's snapshot of it) shares every chunk a
// change did not touch: one cluster changed among 10k copies 79 chunk pointers and one chunk,
// not 10k shared_ptr (each a cache miss on the cluster's control block, again when the
// previous table is dropped).
//
// Reading an element is one more indirection than a vector's. A copy shares every chunk; a
// write to a chunk another vector also holds copies it first (the other keeps reading the old
// one). Two vectors holding the same chunk at position k hold the same elements there
// (shares_chunk()): a walk over what changed between a vector and a copy it was patched from
// skips the chunks they share.
// Threading: like any container; a chunk another vector holds is never written, and copying a
// vector writes nothing to it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace kop::proxy {

template <typename T>
class ChunkedVector {
 public:
  static constexpr std::size_t kChunkBits = 7;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](std::size_t i) const { return (*chunks_[i >> kChunkBits])[i & kMask]; }

  // Element i to change in place: its chunk is copied first when another vector holds it.
  T& mutable_at(std::size_t i) { return own(i >> kChunkBits)[i & kMask]; }
  void set(std::size_t i, T value) { mutable_at(i) = std::move(value); }

  // Grows with default elements or shrinks (the elements past the end are reset, so a chunk
  // holds nothing beyond the size and shared chunks hold equal elements).
  void resize(std::size_t n) {
    if (n < size_ && (n & kMask) != 0) {
      Chunk& last = own(n >> kChunkBits);
      for (std::size_t i = n & kMask; i < kChunkSize; ++i) last[i] = T();
    }
    chunks_.resize((n + kMask) >> kChunkBits);
    for (auto& c : chunks_)
      if (c == nullptr) c = std::make_shared<Chunk>();
    size_ = n;
  }
  void push_back(T value) {
    resize(size_ + 1);
    set(size_ - 1, std::move(value));
  }

  // Chunks: element i is in chunk i / kChunkSize.
  std::size_t chunk_count() const { return chunks_.size(); }
  // Whether `other` holds the same chunk at position k (then the elements there are equal).
  bool shares_chunk(const ChunkedVector& other, std::size_t k) const {
    return k < chunks_.size() && k < other.chunks_.size() && chunks_[k] == other.chunks_[k];
  }
  // Calls f(i), in order, for every index i of this vector in a chunk `other` does not hold too:
  // when this vector was patched from a copy of `other`, the indexes that can differ (all of
  // them when `other` is empty). f may return a bool: false stops the walk.
  template <typename F>
  void for_each_unshared_index(const ChunkedVector& other, F&& f) const {
    for (std::size_t k = 0; k < chunks_.size(); ++k) {
      if (shares_chunk(other, k)) continue;
      const std::size_t end = std::min(size_, (k + 1) << kChunkBits);
      for (std::size_t i = k << kChunkBits; i < end; ++i) {
        if constexpr (std::is_same_v<std::invoke_result_t<F&, std::size_t>, bool>) {
          if (!f(i)) return;
        } else {
          f(i);
        }
      }
    }
  }

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    const_iterator() = default;
    const_iterator(const ChunkedVector* v, std::size_t i) : v_(v), i_(i) {}
    reference operator*() const { return (*v_)[i_]; }
    pointer operator->() const { return &(*v_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator was = *this;
      ++i_;
      return was;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }

   private:
    const ChunkedVector* v_ = nullptr;
    std::size_t i_ = 0;
  };
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

 private:
  static constexpr std::size_t kMask = kChunkSize - 1;
  using Chunk = std::array<T, kChunkSize>;

  // Chunk k, copied first unless this vector is its only holder (no other vector can be reading
  // it: gaining a holder means copying this vector, which a writer's caller must not do
  // meanwhile; holders going away on other threads only lower the count).
  Chunk& own(std::size_t k) {
    std::shared_ptr<Chunk>& c = chunks_[k];
    if (c.use_count() != 1) c = std::make_shared<Chunk>(*c);
    return *c;
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;  // never null
  std::size_t size_ = 0;
};

}  // namespace kop::proxy
