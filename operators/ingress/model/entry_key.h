// Internal to the model: EntryKey, the key of an Ingress entry of the BuildCache (an Ingress'
// uid, else "/namespace/name"), held once and shared by every index that names the entry.
//
// The indexes of build_cache.h and incremental.cpp (the readers of an object, the entries of a
// host, the entry of an Ingress' name) each held a std::string copy of the key: a 36-character
// uid is 32 bytes and a 48-byte heap block per copy, about 24 MB at 100,000 Ingresses. An
// EntryKey is one pointer to a reference-counted block holding the characters; copies share it.
// It compares, hashes and orders by its text (as std::string_view), so the maps look entries up
// by a std::string_view as before, and an index may outlive the entry it names.
// Threading: immutable text; the count is atomic, so copies may be made and dropped on any
// thread, as std::shared_ptr's.
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace kop::ingress::internal {

class EntryKey {
 public:
  EntryKey() = default;  // the empty key
  explicit EntryKey(std::string_view text) {
    if (text.empty()) return;
    void* block = ::operator new(sizeof(Rep) + text.size());
    rep_ = new (block) Rep{{1}, static_cast<uint32_t>(text.size())};
    std::memcpy(reinterpret_cast<char*>(rep_ + 1), text.data(), text.size());
  }
  EntryKey(const EntryKey& other) noexcept : rep_(other.rep_) {
    if (rep_ != nullptr) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  EntryKey(EntryKey&& other) noexcept : rep_(other.rep_) { other.rep_ = nullptr; }
  EntryKey& operator=(EntryKey other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~EntryKey() {
    if (rep_ != nullptr && rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      rep_->~Rep();
      ::operator delete(rep_);
    }
  }

  std::string_view view() const {
    return rep_ == nullptr ? std::string_view()
                           : std::string_view(reinterpret_cast<const char*>(rep_ + 1), rep_->size);
  }
  operator std::string_view() const { return view(); }  // NOLINT: reads like its text

  friend bool operator==(const EntryKey& a, const EntryKey& b) {
    return a.rep_ == b.rep_ || a.view() == b.view();
  }
  friend bool operator==(const EntryKey& a, std::string_view b) { return a.view() == b; }
  friend std::strong_ordering operator<=>(const EntryKey& a, const EntryKey& b) {
    return a.view() <=> b.view();
  }
  friend std::strong_ordering operator<=>(const EntryKey& a, std::string_view b) {
    return a.view() <=> b;
  }

 private:
  // The characters follow the header in the same block.
  struct Rep {
    std::atomic<uint32_t> refs;
    uint32_t size;
  };
  Rep* rep_ = nullptr;
};

}  // namespace kop::ingress::internal
