// Fault injection for kop::local, for tests of clients, informers and controllers under failure.
//
// A Faults object belongs to a Store (store.faults()) and is consulted at the start of every
// verb; the HTTP front also consults it before accepting a connection. Rules are armed from the
// test thread and take effect on the next request. Thread-safe.
//
//   faults.fail("list", 500, 2);                // the next two lists get 500 InternalError
//   faults.fail("*", 429, 1, "configmaps");     // next configmaps request of any verb: 429
//   faults.fail("watch", 410);                  // next watch starts with a 410 Expired ERROR event
//   faults.set_latency(absl::Milliseconds(50));   // every request waits 50 ms first
//   faults.close_watches_after(3);              // new watches end after 3 events
//   faults.close_watches_randomly(0.1, 42);     // each event ends the watch with p = 0.1 (seeded)
//   faults.refuse_connections_for(absl::Seconds(2));  // HTTP front: reset new connections
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kop::local {

class Faults {
 public:
  // verb: get, list, watch, create, update, patch, delete, deletecollection, or "*".
  // code: 429 (TooManyRequests, Retry-After 1), 500 (InternalError), 503, 504 or 410 (Expired).
  // times: how many matching requests fail; -1 for all until clear().
  void fail(std::string verb, int code, int times = 1, std::string resource = {});
  void set_latency(absl::Duration d);
  void close_watches_after(int events);  // 0 turns it off
  void close_watches_randomly(double probability, uint64_t seed = 1);
  void refuse_connections_for(absl::Duration d);
  void clear();

  // Consulted by the store and the front.
  std::optional<int> take_failure(std::string_view verb, std::string_view resource);
  absl::Duration latency() const;
  int watch_close_after() const;
  bool random_close();  // draws once
  bool refusing_connections() const;

 private:
  struct Rule {
    std::string verb, resource;
    int code;
    int times;
  };
  mutable absl::Mutex mu_;
  std::vector<Rule> rules_ ABSL_GUARDED_BY(mu_);
  absl::Duration latency_ ABSL_GUARDED_BY(mu_);
  int close_after_ ABSL_GUARDED_BY(mu_) = 0;
  double close_p_ ABSL_GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_){1};
  // A steady_clock deadline, private: unlike absl::Now() it does not move with the wall clock.
  std::chrono::steady_clock::time_point refuse_until_ ABSL_GUARDED_BY(mu_){};
};

}  // namespace kop::local
