// Response pacing: nginx's limit_rate and limit_rate_after (ingress-nginx's limit-rate and
// limit-rate-after annotations) for one response, as ForwardAction::response_bytes_per_second
// and response_rate_after_bytes configure it.
//
// nginx lets a response have sent, `t` seconds after its request began, at most
// `after + rate * (t + 1)` bytes: the first `after` bytes and the first second's worth go at once,
// then `rate` bytes a second. The server hands body bytes on as the upstream gives them (one
// read at a time) and, after a read of n bytes, waits pace_delay_ms(..., sent + n, ...) before
// reading the upstream again: the next read goes once a read of the same size fits the budget.
// So a response never runs ahead of nginx's budget by more than one read's growth, and ends
// about when nginx's would (a little later when its last read is short). The limit is per
// request: an HTTP/2 stream is paced alone, and two connections of one client get twice the
// rate, as in nginx. Only body bytes are counted (nginx counts the head too).
// Threading: pure functions; any thread.
#pragma once

#include <cstdint>

namespace kop::proxy {

// Milliseconds from `elapsed_ms` (after the request began) until `sent` body bytes are within
// nginx's budget; 0 when they are now (always with `bytes_per_second` 0: no limit).
uint64_t pace_delay_ms(uint64_t bytes_per_second, uint64_t after_bytes, uint64_t sent,
                       uint64_t elapsed_ms);

}  // namespace kop::proxy
