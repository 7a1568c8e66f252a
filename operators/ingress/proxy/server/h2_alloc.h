#pragma once
// A per-worker block cache behind nghttp2's allocator hooks (nghttp2_mem). nghttp2 allocates
// about four small blocks per stream (the stream, its outbound items, the copied header array)
// and frees them when the stream closes; with many streams in flight those frees overflow
// glibc's per-thread cache and fall through to the slower arena paths. Here a freed block goes
// back to a free list of its size class and the next stream takes it, at a bounded memory cost.
//
// Single-threaded: every session using one H2Allocator lives on the same worker thread. Sessions
// hold it by shared_ptr, so it outlives the last session that may still free into it.

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kop::proxy::server {

class H2Allocator {
 public:
  // Block sizes (usable bytes) of the classes; larger requests go straight to malloc.
  static constexpr std::array<size_t, 6> kClassBytes = {64, 128, 256, 512, 1024, 2048};
  // Bytes of freed blocks kept per class at most (the rest go back to malloc).
  static constexpr size_t kCachedBytesPerClass = size_t{256} * 1024;

  H2Allocator();
  ~H2Allocator();
  H2Allocator(const H2Allocator&) = delete;
  H2Allocator& operator=(const H2Allocator&) = delete;

  // The hooks for nghttp2_session_server_new3; valid while this object lives.
  nghttp2_mem* mem() { return &mem_; }

  void* allocate(size_t n);
  void release(void* p);
  void* resize(void* p, size_t n);

  // Blocks now held in the free lists (for tests and the memory bound).
  size_t cached_blocks() const;

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  struct Class {
    FreeBlock* head = nullptr;
    size_t count = 0;
  };
  std::array<Class, kClassBytes.size()> classes_;
  nghttp2_mem mem_;
};

}  // namespace kop::proxy::server
