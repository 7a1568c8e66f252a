// Fuzz target: an HTTP/1 request head as a client sends it, through the head-end scan and the
// strict parser; a parsed head's views must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "http1.h"

namespace h1 = kop::proxy::server::h1;

namespace {
bool inside(std::string_view v, const char* data, size_t len) {
  return v.empty() || (v.data() >= data && v.data() + v.size() <= data + len);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const char* data = reinterpret_cast<const char*>(bytes);
  h1::Limits limits;
  size_t scan_from = 0;
  size_t head_len = h1::find_head_end(data, size, &scan_from);
  if (head_len == 0) {
    if (size > 0) (void)h1::oversize_status(data, size, limits);
    return 0;
  }
  if (head_len > size) abort();
  h1::RequestHead head;
  h1::Error err;
  if (!h1::parse_request(data, head_len, limits, &head, &err)) return 0;
  if (head.header_count > h1::kMaxHeaders || head.head_bytes > head_len) abort();
  // An absolute-form target without a path ("GET http://host HTTP/1.1") has the path "/", which
  // is not in the input; every other view is.
  const bool path_ok = inside(head.path, data, head_len) || head.path == "/";
  if (!inside(head.method, data, head_len) || !inside(head.target, data, head_len) || !path_ok ||
      !inside(head.query, data, head_len)) {
    abort();
  }
  for (uint32_t i = 0; i < head.header_count; ++i) {
    const h1::Header& h = head.headers[i];
    if (!inside(h.name, data, head_len) || !inside(h.value, data, head_len)) abort();
    if (h.line_begin > h.line_end || h.line_end > head_len) abort();
  }
  if (head.chunked && head.content_length >= 0) abort();  // smuggling: never both
  return 0;
}
