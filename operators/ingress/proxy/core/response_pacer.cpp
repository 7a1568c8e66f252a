// pace_delay_ms(): nginx's limit_rate arithmetic (response_pacer.h).
#include "kop/proxy/response_pacer.h"

namespace kop::proxy {

uint64_t pace_delay_ms(uint64_t bytes_per_second, uint64_t after_bytes, uint64_t sent,
                       uint64_t elapsed_ms) {
  if (bytes_per_second == 0 || sent <= after_bytes) return 0;
  // The instant (ms after the start) from which `sent - after` bytes are allowed:
  // rate * (t + 1000) / 1000 >= sent - after. 128 bits: (sent - after) * 1000 may pass 2^64.
  unsigned __int128 paced = sent - after_bytes;
  unsigned __int128 due = (paced * 1000 + bytes_per_second - 1) / bytes_per_second;
  if (due <= 1000 + static_cast<unsigned __int128>(elapsed_ms)) return 0;
  unsigned __int128 wait = due - 1000 - elapsed_ms;
  constexpr uint64_t kDay = uint64_t{86400} * 1000;  // a bound, so the result fits a timer
  return wait > kDay ? kDay : static_cast<uint64_t>(wait);
}

}  // namespace kop::proxy
