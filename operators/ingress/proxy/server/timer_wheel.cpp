#include "timer_wheel.h"

namespace kop::proxy::server {

TimerWheel::TimerWheel() {
  for (auto& s : slots_) s.prev = s.next = &s;
  tick_ = now_ms() / kTickMs;
}

void TimerWheel::arm(Timer& t, uint64_t now, uint64_t after) {
  cancel(t);
  uint64_t exp = (now + after + kTickMs - 1) / kTickMs;
  if (exp <= tick_) exp = tick_ + 1;
  t.expiry = exp;
  Timer& s = slots_[exp % kSlots];
  t.next = &s;
  t.prev = s.prev;
  s.prev->next = &t;
  s.prev = &t;
}

void TimerWheel::advance(uint64_t now) {
  uint64_t target = now / kTickMs;
  if (target > tick_ + kSlots) tick_ = target - kSlots;
  while (tick_ < target) {
    ++tick_;
    Timer& s = slots_[tick_ % kSlots];
    // Move the expired timers to a local list first: a callback may cancel or re-arm others.
    Timer local;
    local.prev = local.next = &local;
    for (Timer* t = s.next; t != &s;) {
      Timer* nx = t->next;
      if (t->expiry <= tick_) {
        cancel(*t);
        t->next = &local;
        t->prev = local.prev;
        local.prev->next = t;
        local.prev = t;
      }
      t = nx;
    }
    while (local.next != &local) {
      Timer* t = local.next;
      cancel(*t);
      t->fn(t->self);
    }
  }
}

}  // namespace kop::proxy::server
