#include "h2_alloc.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace kop::proxy::server {
namespace {

// Every block starts with a 16-byte header naming its class (kDirect: plain malloc), so the
// pointer handed out keeps malloc's 16-byte alignment and free needs no size.
constexpr size_t kHeader = 16;
constexpr uint32_t kDirect = 0xffffffffu;

uint32_t class_of(size_t n) {
  for (uint32_t i = 0; i < H2Allocator::kClassBytes.size(); ++i)
    if (n <= H2Allocator::kClassBytes[i]) return i;
  return kDirect;
}

uint32_t& header_of(void* user) {
  return *reinterpret_cast<uint32_t*>(static_cast<char*>(user) - kHeader);
}

size_t usable(uint32_t cls, void* user) {
  if (cls != kDirect) return H2Allocator::kClassBytes[cls];
  return *reinterpret_cast<size_t*>(static_cast<char*>(user) - kHeader + 8);
}

}  // namespace

H2Allocator::H2Allocator() {
  mem_.mem_user_data = this;
  mem_.malloc = [](size_t n, void* self) { return static_cast<H2Allocator*>(self)->allocate(n); };
  mem_.free = [](void* p, void* self) { static_cast<H2Allocator*>(self)->release(p); };
  mem_.calloc = [](size_t count, size_t size, void* self) -> void* {
    if (size && count > SIZE_MAX / size) return nullptr;
    void* p = static_cast<H2Allocator*>(self)->allocate(count * size);
    if (p) std::memset(p, 0, count * size);
    return p;
  };
  mem_.realloc = [](void* p, size_t n, void* self) {
    return static_cast<H2Allocator*>(self)->resize(p, n);
  };
}

H2Allocator::~H2Allocator() {
  for (Class& c : classes_) {
    while (c.head) {
      FreeBlock* b = c.head;
      c.head = b->next;
      std::free(reinterpret_cast<char*>(b) - kHeader);
    }
  }
}

void* H2Allocator::allocate(size_t n) {
  uint32_t cls = class_of(n);
  if (cls != kDirect) {
    Class& c = classes_[cls];
    if (FreeBlock* b = c.head) {
      c.head = b->next;
      --c.count;
      return b;
    }
  }
  size_t bytes = cls == kDirect ? n : kClassBytes[cls];
  if (bytes > SIZE_MAX - kHeader) return nullptr;
  char* raw = static_cast<char*>(std::malloc(kHeader + bytes));
  if (!raw) return nullptr;
  *reinterpret_cast<uint32_t*>(raw) = cls;
  *reinterpret_cast<size_t*>(raw + 8) = bytes;
  return raw + kHeader;
}

void H2Allocator::release(void* p) {
  if (!p) return;
  uint32_t cls = header_of(p);
  if (cls != kDirect) {
    Class& c = classes_[cls];
    if (c.count * kClassBytes[cls] < kCachedBytesPerClass) {
      FreeBlock* b = static_cast<FreeBlock*>(p);
      b->next = c.head;
      c.head = b;
      ++c.count;
      return;
    }
  }
  std::free(static_cast<char*>(p) - kHeader);
}

void* H2Allocator::resize(void* p, size_t n) {
  if (!p) return allocate(n);
  size_t have = usable(header_of(p), p);
  if (n <= have && header_of(p) != kDirect) return p;  // still fits its class
  void* q = allocate(n);
  if (!q) return nullptr;  // realloc semantics: the old block stays valid
  std::memcpy(q, p, have < n ? have : n);
  release(p);
  return q;
}

size_t H2Allocator::cached_blocks() const {
  size_t n = 0;
  for (const Class& c : classes_) n += c.count;
  return n;
}

}  // namespace kop::proxy::server
