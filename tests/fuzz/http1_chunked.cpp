// Fuzz target: a chunked body, fed to the decoder in pieces whose sizes come from the input
// (first byte), as it arrives over TCP. Segments must lie inside the piece they came from and
// the decoder must never consume more than it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "http1.h"

namespace h1 = kop::proxy::server::h1;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + bytes[0] % 64;
  const char* data = reinterpret_cast<const char*>(bytes + 1);
  size_t len = size - 1;
  h1::ChunkedDecoder decoder;
  h1::ChunkedDecoder::Segment segs[4];
  size_t pos = 0;
  while (pos < len) {
    size_t n = len - pos < piece ? len - pos : piece;
    size_t used_total = 0;
    while (used_total < n) {
      size_t consumed = 0, nseg = 0;
      auto st = decoder.decode(data + pos + used_total, n - used_total, segs, 4, &consumed, &nseg);
      if (consumed > n - used_total || nseg > 4) abort();
      for (size_t i = 0; i < nseg; ++i) {
        if (segs[i].data < data + pos + used_total ||
            segs[i].data + segs[i].size > data + pos + used_total + consumed) {
          abort();
        }
      }
      used_total += consumed;
      if (st != h1::ChunkedDecoder::Status::kOk) return 0;
      if (consumed == 0 && nseg == 0) break;  // needs more input
    }
    pos += n;
  }
  return 0;
}
