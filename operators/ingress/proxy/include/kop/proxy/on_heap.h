// kop::proxy::OnHeap<T>: a part every value has but few set apart from its defaults (a route's
// redirect and direct answer, header mutations, a cluster's hash policy), kept on the heap once
// it differs from them.
//
// It reads like a plain member through `->`, `*` and its conversion to const T&: while nothing
// was written it reads one shared T{} (so reading code needs no check), and costs one pointer
// where a plain member costs sizeof(T) in each of the ten thousand routes or clusters. Writes go
// through edit(), which allocates the first time; a value equal to the defaults given to the
// constructor or assigned is not kept. Equal when the values are (an unset part reads as T{}).
// A copy copies the value (one allocation when set).
// Threading: as a plain member: no sharing, no locks (the shared defaults are never written).
#pragma once

#include <memory>
#include <utility>

namespace kop::proxy {

template <typename T>
class OnHeap {
 public:
  OnHeap() = default;
  // Implicit, so that `route.redirect = redirect;` reads as it did on a plain member.
  OnHeap(T value) {  // NOLINT
    if (!(value == defaults())) ptr_ = std::make_unique<T>(std::move(value));
  }
  OnHeap(const OnHeap& other) : ptr_(other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr) {}
  OnHeap(OnHeap&&) noexcept = default;
  OnHeap& operator=(const OnHeap& other) {
    if (this != &other) ptr_ = other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr;
    return *this;
  }
  OnHeap& operator=(OnHeap&&) noexcept = default;
  ~OnHeap() = default;

  const T& operator*() const { return ptr_ ? *ptr_ : defaults(); }
  const T* operator->() const { return &**this; }
  operator const T&() const { return **this; }  // NOLINT: reads like the value
  // The value to change in place (allocated, from the defaults, at the first call).
  T& edit() {
    if (!ptr_) ptr_ = std::make_unique<T>();
    return *ptr_;
  }
  // Whether a value other than the defaults may be held (false: it reads the defaults).
  bool allocated() const { return ptr_ != nullptr; }

  friend bool operator==(const OnHeap& a, const OnHeap& b) { return a.ptr_ == b.ptr_ || *a == *b; }

 private:
  static const T& defaults() {
    static const T kDefaults{};
    return kDefaults;
  }
  std::unique_ptr<T> ptr_;
};

}  // namespace kop::proxy
