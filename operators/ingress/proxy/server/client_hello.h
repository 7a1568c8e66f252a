// Reading a TLS ClientHello without consuming it: the first handshake record(s) a client sends
// are parsed, strictly and with every length checked, to learn the SNI name before deciding
// whether to terminate TLS here or relay the bytes untouched (TLS passthrough).
//
// Guarantees: never reads past `data`; a prefix of a valid hello (any split across TCP
// segments or TLS records) answers kNeedMore, never kInvalid; anything that cannot be the
// start of a ClientHello, or a hello larger than kMaxClientHelloBytes, answers kInvalid.
// No allocation but the SNI string. No asio, no OpenSSL: pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kop::proxy::server::hello {

// Bound on the ClientHello handshake message (body and header). Real hellos are 200 bytes to
// about 2 KiB (post-quantum key shares included); 16 KiB leaves room and bounds the buffering.
inline constexpr size_t kMaxClientHelloBytes = 16384;
// Bound on the bytes the caller has to buffer: the hello plus one record header per record.
inline constexpr size_t kMaxBufferedBytes = kMaxClientHelloBytes + size_t{5} * 64;

enum class Status { kNeedMore, kDone, kInvalid };

struct Result {
  Status status = Status::kNeedMore;
  std::string sni;         // lowercased host_name without a trailing dot; empty: no SNI
  std::string_view error;  // kInvalid: why (static text, for logs and tests)
};

// Parses the TLS records at the start of `data` (the bytes received so far on a connection).
Result parse(std::string_view data);

// Parses the body of a server_name extension (RFC 6066 3): the host_name, lowercased, without
// a trailing dot. False when malformed (lengths, types, bytes outside letters, digits, '-',
// '.', empty labels, more than one host_name).
bool parse_server_name(std::string_view ext, std::string* sni);

}  // namespace kop::proxy::server::hello
