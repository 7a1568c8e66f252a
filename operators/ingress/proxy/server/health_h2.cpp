// One HTTP/2 health probe on the wire: the request encoded by hand (static-table HPACK, no
// Huffman), the answer's header block decoded by nghttp2's HPACK inflater.
#include "health_h2.h"

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace kop::proxy::server {
namespace {

constexpr uint8_t kHeaders = 1, kRstStream = 3, kSettings = 4, kGoaway = 7, kContinuation = 9;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriority = 0x20;

void frame_header(std::string& out, size_t length, uint8_t type, uint8_t flags, uint32_t stream) {
  out += char((length >> 16) & 0xff);
  out += char((length >> 8) & 0xff);
  out += char(length & 0xff);
  out += char(type);
  out += char(flags);
  out += char((stream >> 24) & 0x7f);
  out += char((stream >> 16) & 0xff);
  out += char((stream >> 8) & 0xff);
  out += char(stream & 0xff);
}

// An HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` holds the bits above it.
void hpack_int(std::string& out, uint8_t first, int prefix_bits, size_t value) {
  size_t max = (size_t{1} << prefix_bits) - 1;
  if (value < max) {
    out += char(first | value);
    return;
  }
  out += char(first | max);
  value -= max;
  while (value >= 128) {
    out += char((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += char(value);
}

// A literal field without indexing whose name is static-table entry `name_index`.
void literal(std::string& out, size_t name_index, std::string_view value) {
  hpack_int(out, 0x00, 4, name_index);
  hpack_int(out, 0x00, 7, value.size());  // H = 0: not Huffman-coded
  out.append(value.data(), value.size());
}

uint32_t be24(const unsigned char* p) {
  return (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | uint32_t(p[2]);
}

uint32_t stream_of(const unsigned char* p) {
  return ((uint32_t(p[5]) & 0x7f) << 24) | (uint32_t(p[6]) << 16) | (uint32_t(p[7]) << 8) |
         uint32_t(p[8]);
}

// The :status of a complete header block; 0 when it has none or does not decode.
int status_of(const std::string& block) {
  nghttp2_hd_inflater* raw = nullptr;
  if (nghttp2_hd_inflate_new(&raw) != 0) return 0;
  std::unique_ptr<nghttp2_hd_inflater, decltype(&nghttp2_hd_inflate_del)> inflater(
      raw, &nghttp2_hd_inflate_del);
  const auto* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  int status = 0;
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t used = nghttp2_hd_inflate_hd2(inflater.get(), &nv, &flags, in, left, 1);
    if (used < 0) return 0;
    in += used;
    left -= size_t(used);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) != 0 &&
        std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen) == ":status") {
      std::string value(reinterpret_cast<const char*>(nv.value), nv.valuelen);
      status = std::atoi(value.c_str());
    }
    if ((flags & NGHTTP2_HD_INFLATE_FINAL) != 0) break;
    if (used == 0 && (flags & NGHTTP2_HD_INFLATE_EMIT) == 0) break;  // no progress
  }
  return status;
}

}  // namespace

std::string h2_probe_request(std::string_view scheme, std::string_view authority,
                             std::string_view path) {
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  frame_header(out, 0, kSettings, 0, 0);
  std::string block;
  block += char(0x82);                             // :method GET (static index 2)
  block += char(scheme == "https" ? 0x87 : 0x86);  // :scheme https (7) / http (6)
  literal(block, 4, path);                         // :path
  literal(block, 1, authority);                    // :authority
  literal(block, 58, "kop-health-check");          // user-agent
  frame_header(out, block.size(), kHeaders, kEndStream | kEndHeaders, 1);
  return out + block;
}

H2ProbeAnswer h2_probe_status(std::string_view received, int* status) {
  const auto* p = reinterpret_cast<const unsigned char*>(received.data());
  size_t at = 0;
  std::string block;
  bool in_block = false;
  while (received.size() - at >= 9) {
    uint32_t length = be24(p + at);
    uint8_t type = p[at + 3];
    uint8_t flags = p[at + 4];
    uint32_t stream = stream_of(p + at);
    if (received.size() - at - 9 < length) break;  // the rest of the frame is still coming
    const unsigned char* payload = p + at + 9;
    at += 9 + length;
    if (type == kGoaway || (type == kRstStream && stream == 1)) return H2ProbeAnswer::kFailed;
    if (in_block && (type != kContinuation || stream != 1)) return H2ProbeAnswer::kFailed;
    if (type == kHeaders && stream == 1) {
      size_t skip = 0, pad = 0;
      if ((flags & kPadded) != 0) {
        if (length < 1) return H2ProbeAnswer::kFailed;
        pad = payload[0];
        skip = 1;
      }
      if ((flags & kPriority) != 0) skip += 5;
      if (skip + pad > length) return H2ProbeAnswer::kFailed;
      block.assign(reinterpret_cast<const char*>(payload + skip), length - skip - pad);
      in_block = (flags & kEndHeaders) == 0;
    } else if (type == kContinuation && stream == 1) {
      if (!in_block) return H2ProbeAnswer::kFailed;
      block.append(reinterpret_cast<const char*>(payload), length);
      in_block = (flags & kEndHeaders) == 0;
    } else {
      continue;  // SETTINGS, WINDOW_UPDATE, PING, DATA...: nothing a probe needs
    }
    if (in_block) continue;
    *status = status_of(block);
    return *status > 0 ? H2ProbeAnswer::kStatus : H2ProbeAnswer::kFailed;
  }
  return H2ProbeAnswer::kNeedMore;
}

}  // namespace kop::proxy::server
