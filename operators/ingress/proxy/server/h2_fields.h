// Field lines ("name: value\r\n", as the exchange passes trailers around) as an nghttp2 header
// array, for the trailers HEADERS frame of either side (upstream requests, downstream
// responses).
// Threading: any (pure function).
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kop::proxy::server {

// Fills `out` with views into `lines`, whose names it lowercases in place (HTTP/2 field names
// are lowercase); lines without a colon are skipped. `lines` must outlive the use of `out`.
inline void field_lines_to_nv(std::string& lines, std::vector<nghttp2_nv>& out) {
  out.clear();
  size_t at = 0;
  while (at < lines.size()) {
    size_t eol = lines.find("\r\n", at);
    if (eol == std::string::npos) eol = lines.size();
    size_t colon = lines.find(':', at);
    if (colon != std::string::npos && colon < eol) {
      size_t v = colon + 1;
      while (v < eol && lines[v] == ' ') ++v;
      for (size_t i = at; i < colon; ++i)
        if (lines[i] >= 'A' && lines[i] <= 'Z') lines[i] = static_cast<char>(lines[i] + 32);
      out.push_back({reinterpret_cast<uint8_t*>(&lines[at]), reinterpret_cast<uint8_t*>(&lines[v]),
                     colon - at, eol - v, NGHTTP2_NV_FLAG_NONE});
    }
    at = eol + 2;
  }
}

}  // namespace kop::proxy::server
