// Fuzz target: an HTTP/1 response head as an upstream sends it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "http1.h"

namespace h1 = kop::proxy::server::h1;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const char* data = reinterpret_cast<const char*>(bytes);
  size_t scan_from = 0;
  size_t head_len = h1::find_head_end(data, size, &scan_from);
  if (head_len == 0) return 0;
  h1::ResponseHead head;
  const char* reason = nullptr;
  if (!h1::parse_response(data, head_len, &head, &reason)) return 0;
  if (head.status < 100 || head.status > 999) abort();
  if (head.header_count > h1::kMaxHeaders) abort();
  if (head.chunked && head.content_length >= 0) abort();
  return 0;
}
