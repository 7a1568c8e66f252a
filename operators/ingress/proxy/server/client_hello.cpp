// The ClientHello reader (client_hello.h). Layout checked (RFC 8446 4.1.2, RFC 5246 7.4.1.2):
//   record:    type(1)=22 version(2)=3.x length(2)<=2^14, fragments concatenated
//   handshake: type(1)=1 length(3)
//   hello:     version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2> (even)
//              compression_methods<1..2^8-1> [extensions<0..2^16-1>]
//   extension: type(2) length(2) data; no type twice; server_name is type 0.
#include "client_hello.h"

#include <algorithm>

namespace kop::proxy::server::hello {
namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr size_t kMaxRecord = 16384;
constexpr uint16_t kServerNameExtension = 0;
constexpr size_t kMaxRecords = 64;  // kMaxBufferedBytes counts one header per record

uint32_t be16(const unsigned char* p) {
  return (uint32_t{p[0]} << 8) | p[1];
}

// A bounds-checked reader over the handshake message body.
struct Reader {
  const unsigned char* p;
  size_t left;
  bool take(size_t n, const unsigned char** out) {
    if (n > left) return false;
    *out = p;
    p += n;
    left -= n;
    return true;
  }
  bool u8(uint32_t* v) {
    const unsigned char* q;
    if (!take(1, &q)) return false;
    *v = q[0];
    return true;
  }
  bool u16(uint32_t* v) {
    const unsigned char* q;
    if (!take(2, &q)) return false;
    *v = be16(q);
    return true;
  }
};

Result invalid(std::string_view why) {
  Result r;
  r.status = Status::kInvalid;
  r.error = why;
  return r;
}

bool ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Parses the complete ClientHello body.
Result parse_body(const unsigned char* body, size_t len) {
  Reader r{body, len};
  const unsigned char* skip;
  uint32_t n = 0;
  if (!r.take(2 + 32, &skip)) return invalid("hello too short");
  if (skip[0] != 3) return invalid("bad client version");
  if (!r.u8(&n) || n > 32 || !r.take(n, &skip)) return invalid("bad session id");
  if (!r.u16(&n) || n < 2 || n % 2 != 0 || !r.take(n, &skip)) return invalid("bad cipher suites");
  if (!r.u8(&n) || n < 1 || !r.take(n, &skip)) return invalid("bad compression methods");
  Result out;
  out.status = Status::kDone;
  if (r.left == 0) return out;  // no extensions at all (old clients): no SNI
  if (!r.u16(&n) || n != r.left) return invalid("bad extensions length");
  uint32_t seen[64];
  size_t seen_count = 0;
  bool have_sni = false;
  while (r.left > 0) {
    uint32_t type = 0, elen = 0;
    const unsigned char* data;
    if (!r.u16(&type) || !r.u16(&elen) || !r.take(elen, &data)) return invalid("bad extension");
    if (std::find(seen, seen + seen_count, type) != seen + seen_count)
      return invalid("duplicate extension");
    if (seen_count < std::size(seen)) seen[seen_count++] = type;
    if (type == kServerNameExtension) {
      if (have_sni) return invalid("duplicate server_name");
      have_sni = true;
      if (!parse_server_name(std::string_view(reinterpret_cast<const char*>(data), elen), &out.sni))
        return invalid("bad server_name extension");
    }
  }
  return out;
}

}  // namespace

bool parse_server_name(std::string_view ext, std::string* sni) {
  const auto* p = reinterpret_cast<const unsigned char*>(ext.data());
  if (ext.size() < 2 || be16(p) != ext.size() - 2) return false;
  size_t i = 2;
  bool found = false;
  while (i < ext.size()) {
    if (ext.size() - i < 3) return false;
    uint8_t name_type = p[i];
    size_t len = be16(p + i + 1);
    i += 3;
    if (len > ext.size() - i) return false;
    std::string_view name = ext.substr(i, len);
    i += len;
    if (name_type != 0) continue;  // unknown name types are skipped (RFC 6066)
    if (found) return false;       // at most one host_name
    found = true;
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return false;
    size_t label = 0;
    for (char c : name) {
      if (c == '.') {
        if (label == 0) return false;  // empty label
        label = 0;
        continue;
      }
      if (!ldh(c) || ++label > 63) return false;
    }
    if (label == 0) return false;
    sni->assign(name);
    for (char& c : *sni)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return found;
}

Result parse(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  // Handshake bytes gathered from consecutive records, copied only when the hello spans
  // several records (rare); otherwise parsed in place.
  std::string joined;
  const unsigned char* hs = nullptr;
  size_t hs_len = 0;
  size_t pos = 0;
  for (size_t records = 0;; ++records) {
    // Tiny records would make the caller re-parse many times: a real hello uses one or two.
    if (records == kMaxRecords) return invalid("ClientHello split into too many records");
    if (size - pos < 5) {
      // Check what is there already, so garbage is refused without waiting for more.
      if (size - pos >= 1 && p[pos] != kHandshakeRecord) return invalid("not a handshake record");
      if (size - pos >= 2 && p[pos + 1] != 3) return invalid("bad record version");
      return Result{};
    }
    if (p[pos] != kHandshakeRecord) return invalid("not a handshake record");
    if (p[pos + 1] != 3) return invalid("bad record version");
    size_t rlen = be16(p + pos + 3);
    if (rlen == 0 || rlen > kMaxRecord) return invalid("bad record length");
    size_t have = std::min(rlen, size - pos - 5);
    const unsigned char* frag = p + pos + 5;
    if (records == 0 && have == rlen) {
      hs = frag;
      hs_len = rlen;
    } else {
      if (records == 0) joined.reserve(std::min(kMaxBufferedBytes, size));
      if (hs != nullptr && joined.empty()) joined.assign(reinterpret_cast<const char*>(hs), hs_len);
      joined.append(reinterpret_cast<const char*>(frag), have);
      hs = reinterpret_cast<const unsigned char*>(joined.data());
      hs_len = joined.size();
    }
    // The handshake header may be known already.
    if (hs_len >= 1 && hs[0] != kClientHello) return invalid("not a ClientHello");
    if (hs_len >= 4) {
      size_t body = (size_t{hs[1]} << 16) | (size_t{hs[2]} << 8) | hs[3];
      if (body + 4 > kMaxClientHelloBytes) return invalid("ClientHello too large");
      if (hs_len >= body + 4) return parse_body(hs + 4, body);
    }
    if (have < rlen) return Result{};  // the record is still arriving
    pos += 5 + rlen;
    if (pos >= size) return Result{};
  }
}

}  // namespace kop::proxy::server::hello
