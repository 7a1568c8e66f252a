// Timers of one worker: a hashed wheel of 10 ms ticks. arm() and cancel() are O(1) list
// operations on an intrusive Timer, so a per-request timeout costs a few instructions and no
// allocation. A timer fires from TimerWheel::advance(), which the worker's ticker calls.
// Threading: one wheel per worker; its thread only.
#pragma once

#include <chrono>
#include <cstdint>

namespace kop::proxy::server {

using Clock = std::chrono::steady_clock;

struct Timer {
  Timer* prev = nullptr;
  Timer* next = nullptr;
  uint64_t expiry = 0;  // tick
  void (*fn)(void*) = nullptr;
  void* self = nullptr;
  bool armed() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  static constexpr uint64_t kTickMs = 10;
  static constexpr unsigned kSlots = 1024;
  TimerWheel();
  void arm(Timer& t, uint64_t now_ms, uint64_t after_ms);
  static void cancel(Timer& t) {
    if (!t.prev) return;
    t.prev->next = t.next;
    t.next->prev = t.prev;
    t.prev = t.next = nullptr;
  }
  // Runs every timer due up to now_ms.
  void advance(uint64_t now_ms);

 private:
  Timer slots_[kSlots];
  uint64_t tick_ = 0;
};

inline uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count());
}

}  // namespace kop::proxy::server
