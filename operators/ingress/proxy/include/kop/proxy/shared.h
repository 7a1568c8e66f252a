// kop::proxy::Shared<T>: an immutable value held by shared_ptr<const T>, so that one Config can
// hold the unchanged virtual hosts and clusters of the previous one instead of copies.
//
// It reads like the value it holds: `->` and `*` give the const T, and it converts to const T&;
// a T converts to a Shared (one allocation). Two Shared are equal when they hold the same object
// or equal values, so comparing two Configs that share most parts costs a pointer comparison
// per shared part. There is no mutable access: to change a part, copy the value, change the
// copy and assign it back. RouteTable::compile() reuses the compiled form of a part it gets
// again by pointer.
// Threading: as shared_ptr<const T>: the value never changes; any thread may read it.
#pragma once

#include <memory>
#include <utility>

namespace kop::proxy {

template <typename T>
class Shared {
 public:
  Shared() : ptr_(std::make_shared<const T>()) {}
  // Implicit, so that aggregates and push_back() take a T as they did when parts were values.
  Shared(T value) : ptr_(std::make_shared<const T>(std::move(value))) {}  // NOLINT
  // `ptr` must not be null.
  explicit Shared(std::shared_ptr<const T> ptr) : ptr_(std::move(ptr)) {}

  const T& operator*() const { return *ptr_; }
  const T* operator->() const { return ptr_.get(); }
  operator const T&() const { return *ptr_; }  // NOLINT: reads like the value
  const std::shared_ptr<const T>& ptr() const { return ptr_; }

  friend bool operator==(const Shared& a, const Shared& b) {
    return a.ptr_ == b.ptr_ || *a.ptr_ == *b.ptr_;
  }

 private:
  std::shared_ptr<const T> ptr_;
};

}  // namespace kop::proxy
