// kop/record/recorder.h: writing core/v1 Events about objects (client-go's EventRecorder).
//
// event(obj, type, reason, message) records that something happened to `obj`, as kubectl
// describe shows it. As client-go's EventCorrelator does, in this order:
//   1. similar events are combined: events about the same object from the same source with the
//      same type and reason but different messages are tracked together; once 10 different
//      messages have been seen with no gap longer than 10 minutes between two of them, each
//      further one is written as one shared Event whose message is "(combined from similar
//      events): <latest message>" (its count bumps like any repeated Event). A gap over 10
//      minutes starts the tracking afresh;
//   2. aggregation: the same (object, type, reason, message, source) again bumps `count` and
//      `lastTimestamp` of the Event already written (a merge patch of count, lastTimestamp and
//      message), instead of a new Event; the first one is created as
//      "<object name>.<hex nanoseconds>" with firstTimestamp = lastTimestamp = now and count 1
//      (a patch answered NotFound creates a new one);
//   3. spam filter: each source + object has a token bucket, 25 events burst, refilled by one
//      every 5 minutes (client-go's defaults); every event takes a token, repeated or not.
//      Events beyond it are dropped and event() answers ResourceExhausted;
//   - the memories (written events, similar-event tracking, buckets) each hold at most 4096
//     entries (client-go's LRU size; here a full memory is forgotten at once, which only means
//     one more create, or one more fresh bucket).
// Events of cluster-scoped objects go to namespace "default", as client-go's.
// Differences from client-go, on purpose: event() writes synchronously on the caller's thread
// and returns the API's answer (client-go queues and retries in the background), so a test or
// a reconcile can see the outcome; `count` counts the writes that happened (client-go also
// counts events its spam filter dropped, so its count can jump).
//
// Threading: every method may be called from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <functional>
#include <string>
#include <string_view>

#include "kop/api/object.h"
#include "kop/client/client.h"

namespace kop::record {

inline constexpr std::string_view kEventTypeNormal = "Normal";
inline constexpr std::string_view kEventTypeWarning = "Warning";

struct RecorderOptions {
  // source.component (and reportingComponent), e.g. "website-controller". Required.
  std::string component{};
  // source.host. Defaults to "" (omitted).
  std::string host{};
  // Spam filter bucket size per object. Defaults to 25 (client-go's defaultSpamBurst).
  int spam_burst = 25;
  // One token back per this much time. Defaults to 5 minutes (client-go's defaultSpamQPS =
  // 1/300).
  absl::Duration spam_refill = absl::Minutes(5);
  // Distinct events remembered for aggregation (and objects for the spam filter and similar
  // events). Defaults to 4096 (client-go's maxLruCacheEntries).
  size_t max_remembered = 4096;
  // Different messages (same source, object, type and reason) after which they are combined.
  // Defaults to 10 (client-go's defaultAggregateMaxEvents). 0 turns combining off.
  size_t similar_max = 10;
  // Longest gap between similar events that keeps them tracked together. Defaults to 10 minutes
  // (client-go's defaultAggregateIntervalInSeconds).
  absl::Duration similar_interval = absl::Minutes(10);
  // Time source. Defaults to (unset means) absl::Now.
  std::function<absl::Time()> now;
};

class Recorder {
 public:
  Recorder(client::Client& client, RecorderOptions options);
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Records an event about `regarding` (needs kind, name; uses apiVersion, namespace, uid,
  // resourceVersion). `type` is kEventTypeNormal or kEventTypeWarning. Returns the API error of
  // the write, ResourceExhausted when the spam filter dropped it, InvalidArgument for a bad type.
  absl::Status event(const api::Object& regarding, std::string_view type, std::string_view reason,
                     std::string_view message);

 private:
  struct Remembered {
    std::string namespace_;
    std::string name;
    int64_t count = 0;
  };
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  struct Similar {
    absl::flat_hash_set<std::string> messages;
    absl::Time last;
  };
  absl::Time now() const { return options_.now ? options_.now() : absl::Now(); }
  bool take_token(const std::string& spam_key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when this message is to be combined with its similar events.
  bool combine(const std::string& similar_key, std::string_view message, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  client::Client& client_;
  const RecorderOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Remembered> remembered_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Similar> similar_ ABSL_GUARDED_BY(mu_);
  int64_t last_name_nanos_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kop::record
