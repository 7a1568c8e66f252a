#include "kop/log/quote.h"

#include "encode.h"

namespace kop::log {

std::string quote(std::string_view s) {
  fmt::memory_buffer out;
  internal::append_text_value(out, s, /*always_quote=*/true);
  return fmt::to_string(out);
}

}  // namespace kop::log
