// kop::proxy::Boxed<T>: an optional value kept on the heap, for the rarely set parts of
// structures held by the ten thousand (a route's redirect, CORS, retry policy, rate limit...).
//
// It reads and writes like std::optional<T> (has_value, `->`, `*`, emplace, reset, assignment
// from a T, a std::optional<T> or std::nullopt; equal when both are unset or both hold equal
// values) but costs one pointer while unset, where std::optional<T> costs sizeof(T) always: a
// model Route with eight such parts inline was 1.4 KB, most of it never used. A copy copies the
// value (one allocation when set), as std::optional does.
// Threading: as std::optional: no sharing, no locks.
#pragma once

#include <memory>
#include <optional>
#include <utility>

namespace kop::proxy {

template <typename T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(std::nullopt_t) {}  // NOLINT: reads like std::optional
  // Implicit, so that `route.cors = cors;` works as it did on a std::optional.
  Boxed(T value) : ptr_(std::make_unique<T>(std::move(value))) {}  // NOLINT
  Boxed(std::optional<T> value) {                                  // NOLINT
    if (value) ptr_ = std::make_unique<T>(*std::move(value));
  }
  Boxed(const Boxed& other) : ptr_(other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this != &other) ptr_ = other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  ~Boxed() = default;

  bool has_value() const { return ptr_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  // Unchecked, as std::optional's: only while has_value().
  const T& operator*() const { return *ptr_; }
  T& operator*() { return *ptr_; }
  const T* operator->() const { return ptr_.get(); }
  T* operator->() { return ptr_.get(); }

  template <typename... Args>
  T& emplace(Args&&... args) {
    ptr_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *ptr_;
  }
  void reset() { ptr_.reset(); }
  // A copy of the value as a std::optional (for code that keeps one).
  std::optional<T> optional() const { return ptr_ ? std::optional<T>(*ptr_) : std::nullopt; }

  friend bool operator==(const Boxed& a, const Boxed& b) {
    if (a.ptr_ == nullptr || b.ptr_ == nullptr) return a.ptr_ == b.ptr_;
    return *a.ptr_ == *b.ptr_;
  }
  friend bool operator==(const Boxed& a, const std::optional<T>& b) {
    if (a.ptr_ == nullptr || !b) return a.ptr_ == nullptr && !b;
    return *a.ptr_ == *b;
  }
  friend bool operator==(const Boxed& a, std::nullopt_t) { return a.ptr_ == nullptr; }

 private:
  std::unique_ptr<T> ptr_;
};

}  // namespace kop::proxy
