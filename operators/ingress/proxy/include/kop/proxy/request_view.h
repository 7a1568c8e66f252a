// RequestView: the read-only view of a request that routing and load balancing look at.
//
// It borrows everything (no copies, no allocation): the server builds one on the stack from its
// parsed request. Headers are given either as a span of name/value pairs (names compared
// case-insensitively) or as a lookup callback over the server's own header storage.
// Threading: a value type; used on the worker thread that owns the request.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace kop::proxy {

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// Returns the value of the nth (0-based) header named `lower_name` (already lowercase) into
// *value, or false when there are fewer than n+1 such headers.
using HeaderLookupFn = bool (*)(const void* ctx, std::string_view lower_name, std::size_t nth,
                                std::string_view* value);

struct RequestView {
  std::string_view method;               // "GET"
  std::string_view path;                 // without the query string, e.g. "/foo/bar"
  std::string_view query;                // without '?', may be empty (used by redirects)
  std::string_view host;                 // Host / :authority as received (port allowed)
  std::string_view client_address;       // peer IP text, for hash_on source_ip; may be empty
  std::string_view scheme;               // "http" or "https" (the client's); may be empty
  std::span<const HeaderField> headers;  // used when lookup is null
  HeaderLookupFn lookup = nullptr;
  const void* lookup_ctx = nullptr;

  // The nth header named `lower_name` (which must be lowercase).
  bool header(std::string_view lower_name, std::size_t nth, std::string_view* value) const;
  bool header(std::string_view lower_name, std::string_view* value) const {
    return header(lower_name, 0, value);
  }
  // The value of the first query parameter named `name` (exact, as on the wire: no
  // percent-decoding); "" for a parameter without '='. False when there is none.
  bool query_param(std::string_view name, std::string_view* value) const;
};

// ASCII case-insensitive equality (header names, host names).
bool iequals(std::string_view a, std::string_view b);

}  // namespace kop::proxy
