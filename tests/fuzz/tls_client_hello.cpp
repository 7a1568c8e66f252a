// Fuzz target: the TLS ClientHello reader (passthrough SNI). Every prefix of the input is also
// parsed: the reader promises that a prefix of a valid hello answers kNeedMore, never kInvalid,
// so a complete hello whose prefix was rejected is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "client_hello.h"

namespace hello = kop::proxy::server::hello;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  hello::Result full = hello::parse(data);
  if (full.status == hello::Status::kDone) {
    for (char c : full.sni) {
      if (c >= 'A' && c <= 'Z') abort();  // promised lowercase
    }
    // Every split point of a hello that parses must ask for more, never reject.
    size_t step = size > 512 ? size / 256 : 1;
    for (size_t cut = 0; cut < size; cut += step) {
      hello::Result part = hello::parse(data.substr(0, cut));
      if (part.status == hello::Status::kInvalid) abort();
    }
  }
  std::string sni;
  (void)hello::parse_server_name(data, &sni);
  return 0;
}
