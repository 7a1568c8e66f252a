#pragma once
// Byte buffer of a connection's input or output: [0, rpos) consumed, [rpos, wpos) data,
// [wpos, cap) free.

#include <cstddef>
#include <memory>

namespace kop::proxy::server {

struct Buffer {
  std::unique_ptr<char[]> mem;
  size_t cap = 0, rpos = 0, wpos = 0;
  // While an asynchronous write reads [rpos, wpos) in place, appends must not move those bytes:
  // pin() stops compaction, and a reallocation keeps the memory the write reads until unpin().
  // (Without it an append during the write compacted the data under it: an HTTP/2 client got
  // later bytes in place of earlier ones in large responses.)
  bool pinned = false;
  std::unique_ptr<char[]> retired;
  void pin() { pinned = true; }
  void unpin() {
    pinned = false;
    retired.reset();
  }
  void reserve(size_t n);  // ensures cap >= n, keeps data
  size_t size() const { return wpos - rpos; }
  size_t free() const { return cap - wpos; }
  char* data() { return mem.get() + rpos; }
  char* end() { return mem.get() + wpos; }
  void compact();  // moves data to offset 0
  void append(const char* p, size_t n);
  void consume(size_t n) {
    rpos += n;
    if (rpos == wpos) rpos = wpos = 0;
  }
  void clear() { rpos = wpos = 0; }
};

}  // namespace kop::proxy::server
