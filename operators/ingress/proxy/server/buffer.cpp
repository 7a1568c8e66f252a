#include "buffer.h"

#include <cstring>

namespace kop::proxy::server {

void Buffer::reserve(size_t n) {
  if (cap >= n) return;
  size_t c = cap ? cap : 4096;
  while (c < n) c *= 2;
  std::unique_ptr<char[]> m(new char[c]);
  if (wpos) std::memcpy(m.get(), mem.get(), wpos);
  if (pinned && !retired) retired = std::move(mem);  // the pinned write's memory
  mem = std::move(m);
  cap = c;
}

void Buffer::compact() {
  if (rpos == 0) return;
  size_t n = wpos - rpos;
  if (n) std::memmove(mem.get(), mem.get() + rpos, n);
  rpos = 0;
  wpos = n;
}

void Buffer::append(const char* p, size_t n) {
  if (free() < n) {
    if (!pinned) compact();
    if (free() < n) reserve(wpos + n);
  }
  std::memcpy(mem.get() + wpos, p, n);
  wpos += n;
}

}  // namespace kop::proxy::server
