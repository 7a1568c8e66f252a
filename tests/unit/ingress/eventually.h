// Waiting in the kop-ingress tests for what another thread or process does, bounded in time.
#pragma once

#include <chrono>
#include <thread>

namespace kop::ingress::testing {

// Polls `done` every `every` until it holds or `limit` passes; returns its last answer.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

}  // namespace kop::ingress::testing
