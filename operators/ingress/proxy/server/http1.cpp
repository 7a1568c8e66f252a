#include "http1.h"

#include <bit>
#include <cstring>

namespace kop::proxy::server::h1 {
namespace {

// tchar (RFC 9110 5.6.2).
constexpr bool make_tchar(unsigned c) {
  if (c >= '0' && c <= '9') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

struct Tables {
  bool tchar[256];
  bool value[256];   // field-vchar, SP, HTAB, obs-text
  bool target[256];  // visible ASCII (no SP, no CTL, no obs-text)
  constexpr Tables() : tchar(), value(), target() {
    for (unsigned c = 0; c < 256; ++c) {
      tchar[c] = make_tchar(c);
      value[c] = (c >= 0x20 && c != 0x7f) || c == '\t';
      target[c] = c > 0x20 && c < 0x7f;
    }
  }
};
constexpr Tables kT;

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

// Case-insensitive comparison against a lowercase literal of the same length.
inline bool ieq(const char* p, const char* lit, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (lower(p[i]) != lit[i]) return false;
  return true;
}
inline bool ieq(std::string_view s, std::string_view lit) {
  return s.size() == lit.size() && ieq(s.data(), lit.data(), lit.size());
}

// ieq() for a field name (a token) against one of the names below, eight bytes per step:
// OR-ing 0x20 lowercases the letters and maps no other token byte onto a letter, '-' or a
// digit (the only bytes of these names), so it accepts exactly what ieq() accepts.
inline bool ieq_token(const char* p, const char* lit, size_t n) {
  constexpr uint64_t k20 = 0x2020202020202020ull;
  for (; n >= 8; p += 8, lit += 8, n -= 8) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, lit, 8);
    if ((a | k20) != b) return false;
  }
  if (n == 0) return true;
  static_assert(std::endian::native == std::endian::little, "the mask below keeps the low bytes");
  uint64_t a = 0, b = 0;
  std::memcpy(&a, p, n);
  std::memcpy(&b, lit, n);
  return (a | (k20 >> (8 * (8 - n)))) == b;
}

HeaderKind classify(std::string_view n) {
  const char* p = n.data();
  switch (n.size()) {
    case 2:
      if (ieq_token(p, "te", 2)) return HeaderKind::kTe;
      break;
    case 4:
      if (ieq_token(p, "host", 4)) return HeaderKind::kHost;
      break;
    case 6:
      if (ieq_token(p, "expect", 6)) return HeaderKind::kExpect;
      if (ieq_token(p, "server", 6)) return HeaderKind::kServer;
      break;
    case 7:
      if (ieq_token(p, "upgrade", 7)) return HeaderKind::kUpgrade;
      if (ieq_token(p, "trailer", 7)) return HeaderKind::kTrailer;
      break;
    case 10:
      if (ieq_token(p, "connection", 10)) return HeaderKind::kConnection;
      if (ieq_token(p, "keep-alive", 10)) return HeaderKind::kKeepAlive;
      break;
    case 12:
      if (ieq_token(p, "x-request-id", 12)) return HeaderKind::kXRequestId;
      break;
    case 14:
      if (ieq_token(p, "content-length", 14)) return HeaderKind::kContentLength;
      if (ieq_token(p, "http2-settings", 14)) return HeaderKind::kHttp2Settings;
      break;
    case 15:
      if (ieq_token(p, "x-forwarded-for", 15)) return HeaderKind::kXForwardedFor;
      break;
    case 16:
      if (ieq_token(p, "proxy-connection", 16)) return HeaderKind::kProxyConnection;
      if (ieq_token(p, "x-forwarded-host", 16)) return HeaderKind::kXForwardedHost;
      break;
    case 17:
      if (ieq_token(p, "transfer-encoding", 17)) return HeaderKind::kTransferEncoding;
      if (ieq_token(p, "x-forwarded-proto", 17)) return HeaderKind::kXForwardedProto;
      break;
    default:
      break;
  }
  if (n.size() >= 11 && (p[0] | 0x20) == 's' && ieq_token(p, "ssl-client-", 11))
    return HeaderKind::kSslClient;
  return HeaderKind::kOther;
}

// Skips field-value bytes (kT.value) in [p, end): eight at a time while a word holds none of
// the bytes that end or break a value (controls below 0x20, HTAB included, and DEL), then one at
// a time; the same stopping byte as the per-byte loop alone, in about a quarter of the steps.
inline const char* skip_value_bytes(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    uint64_t below_space = (w - 0x20 * kOnes) & ~w & kHigh;  // some byte < 0x20
    uint64_t x = w ^ (0x7f * kOnes);
    uint64_t del = (x - kOnes) & ~x & kHigh;  // some byte == 0x7f
    if (below_space | del) break;
    p += 8;
  }
  while (p < end && kT.value[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

inline std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Parses the field lines in [p, end) (end points at the final CRLF of the blank line) and the
// framing headers common to requests and responses. Returns nullptr on success, else a reason;
// *status gets the code to answer.
const char* parse_fields(const char* base, const char* p, const char* end, Head* h, int* status) {
  *status = 400;
  uint32_t te_count = 0;
  while (p < end) {
    const char* line = p;
    if (*p == ' ' || *p == '\t') return "obs-fold or whitespace before field name";
    const char* name = p;
    while (p < end && kT.tchar[static_cast<unsigned char>(*p)]) ++p;
    if (p == name) return "invalid field name";
    if (p >= end || *p != ':') return "invalid character in field name";
    std::string_view n(name, p - name);
    ++p;
    const char* v = p;
    p = skip_value_bytes(p, end);
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return "invalid character in field value";
    std::string_view value = trim_ows(std::string_view(v, p - v));
    p += 2;
    if (h->header_count == kMaxHeaders) {
      *status = 431;
      return "too many header fields";
    }
    Header& f = h->headers[h->header_count++];
    f.name = n;
    f.value = value;
    f.kind = classify(n);
    f.line_begin = static_cast<uint32_t>(line - base);
    f.line_end = static_cast<uint32_t>(p - base);
    switch (f.kind) {
      case HeaderKind::kContentLength: {
        if (h->content_length >= 0) return "duplicate Content-Length";
        if (value.empty() || value.size() > 18) return "invalid Content-Length";
        int64_t cl = 0;
        for (char c : value) {
          if (c < '0' || c > '9') return "invalid Content-Length";
          cl = cl * 10 + (c - '0');
        }
        h->content_length = cl;
        break;
      }
      case HeaderKind::kTransferEncoding:
        ++te_count;
        if (!ieq(value, "chunked")) {
          *status = 501;
          return "unsupported Transfer-Encoding";
        }
        h->chunked = true;
        break;
      case HeaderKind::kConnection: {
        // Comma-separated tokens.
        std::string_view rest = value;
        while (!rest.empty()) {
          size_t comma = rest.find(',');
          std::string_view tok = trim_ows(rest.substr(0, comma));
          if (ieq(tok, "close"))
            h->conn_close = true;
          else if (ieq(tok, "keep-alive"))
            h->conn_keep_alive = true;
          else if (ieq(tok, "upgrade"))
            h->conn_upgrade = true;
          else if (!tok.empty())
            h->conn_other = true;
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        break;
      }
      case HeaderKind::kUpgrade:
        h->upgrade = value;
        break;
      default:
        break;
    }
  }
  if (te_count > 1) return "duplicate Transfer-Encoding";
  if (h->chunked && h->content_length >= 0) return "Content-Length with Transfer-Encoding";
  return nullptr;
}

// Parses "HTTP/1.x"; returns the minor version, -1 when malformed, -2 when another version.
int parse_version(const char* p, const char* end) {
  if (end - p != 8 || std::memcmp(p, "HTTP/", 5) != 0 || p[6] != '.') return -1;
  if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9') return -1;
  if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) return -2;
  return p[7] - '0';
}

bool fail(Error* err, int status, const char* reason) {
  err->status = status;
  err->reason = reason;
  return false;
}

}  // namespace

size_t find_head_end(const char* data, size_t len, size_t* scan_from) {
  size_t i = *scan_from;
  while (i < len) {
    const void* nl = std::memchr(data + i, '\n', len - i);
    if (!nl) {
      *scan_from = len;
      return 0;
    }
    size_t at = static_cast<const char*>(nl) - data;
    // "\r\n\r\n" ends at `at`; a head that starts with CRLF lines is handled by the parser.
    if (at >= 3 && data[at - 1] == '\r' && data[at - 2] == '\n' && data[at - 3] == '\r')
      return at + 1;
    // A bare LF blank line ("\n\n" or "\r\n\n") also ends the head; the parser rejects it.
    if (at >= 1 && data[at - 1] == '\n') return at + 1;
    i = at + 1;
  }
  *scan_from = len > 3 ? len - 3 : 0;
  return 0;
}

bool parse_request(const char* data, size_t len, const Limits& limits, RequestHead* r, Error* err) {
  const char* p = data;
  const char* end = data + len;
  // RFC 9112 2.2: ignore at least one empty line before the request-line.
  int skipped = 0;
  while (end - p >= 2 && p[0] == '\r' && p[1] == '\n' && skipped < 4) {
    p += 2;
    ++skipped;
  }
  if (len < 4 || end[-1] != '\n' || end[-2] != '\r' || end[-3] != '\n' || end[-4] != '\r')
    return fail(err, 400, "bare LF line ending");
  const char* m = p;
  while (p < end && kT.tchar[static_cast<unsigned char>(*p)]) ++p;
  if (p == m || p >= end || *p != ' ') return fail(err, 400, "invalid method");
  r->method = std::string_view(m, p - m);
  ++p;
  const char* t = p;
  while (p < end && kT.target[static_cast<unsigned char>(*p)]) ++p;
  if (p == t || p >= end || *p != ' ') return fail(err, 400, "invalid request target");
  r->target = std::string_view(t, p - t);
  if (r->target.size() > limits.max_uri_bytes) return fail(err, 414, "URI too long");
  ++p;
  const char* v = p;
  while (p < end && *p != '\r') ++p;
  if (end - p < 2 || p[1] != '\n') return fail(err, 400, "invalid request line");
  int minor = parse_version(v, p);
  if (minor == -1) return fail(err, 400, "invalid HTTP version");
  if (minor == -2) return fail(err, 505, "HTTP version not supported");
  r->version_minor = minor;
  p += 2;
  int status = 400;
  if (const char* why = parse_fields(data, p, end - 2, r, &status)) return fail(err, status, why);
  r->head_bytes = static_cast<uint32_t>(len);

  // Method classification (exact, case-sensitive per RFC 9110 9.1).
  std::string_view meth = r->method;
  r->is_head = meth == "HEAD";
  r->is_get_like = meth == "GET" || r->is_head || meth == "OPTIONS" || meth == "TRACE" ||
                   meth == "PUT" || meth == "DELETE";
  if (meth == "CONNECT") return fail(err, 501, "CONNECT not supported");
  if (r->chunked && r->version_minor == 0)
    return fail(err, 400, "Transfer-Encoding in an HTTP/1.0 request");

  // Per-request headers.
  for (uint32_t i = 0; i < r->header_count; ++i) {
    const Header& f = r->headers[i];
    switch (f.kind) {
      case HeaderKind::kHost:
        if (r->host_index >= 0) return fail(err, 400, "duplicate Host");
        r->host_index = static_cast<int>(i);
        break;
      case HeaderKind::kXForwardedFor:
        if (r->xff_index < 0) r->xff_index = static_cast<int>(i);
        break;
      case HeaderKind::kXRequestId:
        if (r->request_id_index < 0) r->request_id_index = static_cast<int>(i);
        break;
      case HeaderKind::kExpect:
        if (ieq(f.value, "100-continue"))
          r->expect_continue = true;
        else
          return fail(err, 417, "unsupported expectation");
        break;
      default:
        break;
    }
  }
  if (r->host_index >= 0) {
    r->host = r->headers[r->host_index].value;
    if (r->host.empty() && r->version_minor == 1) return fail(err, 400, "empty Host");
  } else if (r->version_minor == 1) {
    return fail(err, 400, "missing Host");
  }

  // Target forms.
  std::string_view tgt = r->target;
  if (tgt[0] == '/') {
    // origin-form
  } else if (tgt == "*") {
    if (meth != "OPTIONS") return fail(err, 400, "asterisk-form outside OPTIONS");
    r->path = tgt;
    return true;
  } else {
    // absolute-form: http(s)://authority[/path]. The authority must equal Host.
    size_t scheme_len = 0;
    if (tgt.size() > 7 && ieq(tgt.data(), "http://", 7))
      scheme_len = 7;
    else if (tgt.size() > 8 && ieq(tgt.data(), "https://", 8))
      scheme_len = 8;
    else
      return fail(err, 400, "invalid request target form");
    std::string_view rest = tgt.substr(scheme_len);
    size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    if (authority.empty() || authority.find('@') != std::string_view::npos)
      return fail(err, 400, "invalid authority in absolute-form");
    bool same = r->host_index >= 0 && r->host.size() == authority.size();
    for (size_t i = 0; same && i < authority.size(); ++i)
      same = lower(authority[i]) == lower(r->host[i]);
    if (!same) return fail(err, 400, "absolute-form authority differs from Host");
    tgt = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    if (tgt[0] == '?') return fail(err, 400, "absolute-form without path");
  }
  size_t q = tgt.find('?');
  if (q == std::string_view::npos) {
    r->path = tgt;
    r->query = {};
  } else {
    r->path = tgt.substr(0, q);
    r->query = tgt.substr(q + 1);
  }
  if (r->path.find('#') != std::string_view::npos) return fail(err, 400, "fragment in target");
  return true;
}

int oversize_status(const char* data, size_t len, const Limits& limits) {
  size_t line = len;
  if (const void* nl = std::memchr(data, '\n', len)) line = static_cast<const char*>(nl) - data;
  return line > limits.max_uri_bytes ? 414 : 431;
}

bool parse_response(const char* data, size_t len, ResponseHead* r, const char** reason) {
  const char* p = data;
  const char* end = data + len;
  if (len < 16 || end[-1] != '\n' || end[-2] != '\r' || end[-3] != '\n' || end[-4] != '\r') {
    *reason = "malformed response head";
    return false;
  }
  int minor = parse_version(p, p + 8);
  if (minor < 0 || p[8] != ' ') {
    *reason = "invalid response version";
    return false;
  }
  r->version_minor = minor;
  p += 9;
  if (p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9') {
    *reason = "invalid status code";
    return false;
  }
  r->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  p += 3;
  const char* rs = p;
  if (*p == ' ') {
    ++p;
    rs = p;
    while (p < end && (kT.value[static_cast<unsigned char>(*p)])) ++p;
  }
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
    *reason = "invalid status line";
    return false;
  }
  r->reason = std::string_view(rs, p - rs);
  p += 2;
  int status = 0;
  if (const char* why = parse_fields(data, p, end - 2, r, &status)) {
    *reason = why;
    return false;
  }
  r->head_bytes = static_cast<uint32_t>(len);
  return true;
}

ChunkedDecoder::Status ChunkedDecoder::decode(const char* data, size_t len, Segment* segs,
                                              size_t max_segs, size_t* consumed, size_t* nseg) {
  size_t i = 0;
  size_t n = 0;
  auto err = [&] {
    state_ = State::kError;
    *consumed = i;
    *nseg = n;
    return Status::kError;
  };
  while (i < len) {
    char c = data[i];
    switch (state_) {
      case State::kSizeStart:
      case State::kSize: {
        int d;
        if (c >= '0' && c <= '9')
          d = c - '0';
        else if (c >= 'a' && c <= 'f')
          d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
          d = c - 'A' + 10;
        else
          d = -1;
        if (d >= 0) {
          if (++digits_ > 15) return err();  // < 2^60 bytes
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(d);
          state_ = State::kSize;
          ++i;
          break;
        }
        if (state_ == State::kSizeStart) return err();
        if (c == ';')
          state_ = State::kExt;
        else if (c == '\r')
          state_ = State::kSizeLf;
        else
          return err();
        ++i;
        break;
      }
      case State::kExt:
        // chunk-ext: tokens and quoted strings; we only forbid CTLs (and bare LF).
        if (c == '\r')
          state_ = State::kSizeLf;
        else if (!kT.value[static_cast<unsigned char>(c)])
          return err();
        if (++trailer_bytes_ > 4096) return err();
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return err();
        ++i;
        digits_ = 0;
        trailer_bytes_ = 0;
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
        break;
      case State::kData: {
        if (n == max_segs) {
          *consumed = i;
          *nseg = n;
          return Status::kOk;
        }
        size_t take = len - i;
        if (take > remaining_) take = static_cast<size_t>(remaining_);
        segs[n++] = Segment{data + i, take};
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return err();
        ++i;
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return err();
        ++i;
        state_ = State::kSizeStart;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
          ++i;
          break;
        }
        if (c == ' ' || c == '\t' || !kT.tchar[static_cast<unsigned char>(c)]) return err();
        state_ = State::kTrailer;
        break;
      case State::kTrailer:
        if (c == '\r')
          state_ = State::kTrailerLf;
        else if (!kT.value[static_cast<unsigned char>(c)])
          return err();
        if (++trailer_bytes_ > 8192) return err();
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') return err();
        ++i;
        state_ = State::kTrailerStart;
        break;
      case State::kFinalLf:
        if (c != '\n') return err();
        ++i;
        state_ = State::kDone;
        *consumed = i;
        *nseg = n;
        return Status::kDone;
      case State::kDone:
        *consumed = i;
        *nseg = n;
        return Status::kDone;
      case State::kError:
        return err();
    }
  }
  *consumed = i;
  *nseg = n;
  return state_ == State::kDone ? Status::kDone : Status::kOk;
}

HeaderKind classify_header(std::string_view name) {
  return classify(name);
}

bool named_by_connection(const Head& head, std::string_view name) {
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (head.headers[i].kind != HeaderKind::kConnection) continue;
    std::string_view rest = head.headers[i].value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view tok = trim_ows(rest.substr(0, comma));
      bool same = tok.size() == name.size();
      for (size_t k = 0; same && k < tok.size(); ++k) same = lower(tok[k]) == lower(name[k]);
      if (same) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string_view reason_phrase(int s) {
  switch (s) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

size_t to_hex(uint64_t v, char* buf) {
  static const char kDigits[] = "0123456789abcdef";
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = kDigits[v & 15];
    v >>= 4;
  } while (v);
  for (size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

size_t to_dec(uint64_t v, char* buf) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace kop::proxy::server::h1
