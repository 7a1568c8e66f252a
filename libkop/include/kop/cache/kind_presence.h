// kop/cache/kind_presence.h: whether the API server serves a kind now (a CRD may come and go).
//
// KindPresence answers, for each tracked GroupVersionKind, "is it served?", and calls the kind's
// callback each time the answer changes (the first answer included). A Cache uses it for its
// optional kinds (ByObject::optional): an informer runs only while its kind is served.
// How it knows, in order of preference:
//   - It watches CustomResourceDefinitions (apiextensions.k8s.io/v1, one informer for all
//     tracked kinds, storing only a summary of each CRD: crd_summary()). A kind is served while a
//     CRD of its group and kind exists, is Established, serves the kind's version and is not being
//     deleted (a CRD being deleted loses its objects first, so the kind counts as gone from the
//     deletion's start).
//   - When CRDs cannot be listed (RBAC forbids it, or the server has no apiextensions group), it
//     polls instead: each tracked kind is asked for with a LIST of limit 1 (404 = not served;
//     the answer discovery gives, but for exactly the collection the informer would list). The
//     poll interval starts at poll_min and doubles up to poll_max while nothing changes; a change
//     starts it again from poll_min. Other errors (timeouts, 5xx) keep the last answer.
// Built-in kinds are asked the same way; their answer is simply always "served".
//
// Threading: every method is safe from any thread. Callbacks run on KindPresence's own thread,
// one at a time, never while a KindPresence lock is held (a callback may call present()); the
// callbacks of one kind come in the order the answers changed. stop() waits for a callback in
// progress and no callback runs after it.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/container/flat_hash_map.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "kop/api/gvk.h"
#include "kop/cache/reflector.h"
#include "kop/cache/shared_informer.h"
#include "kop/client/client.h"
#include "kop/log/log.h"

namespace kop::cache {

struct KindPresenceOptions {
  // First interval of the polling fallback (and again after a change). Defaults to 1 s.
  absl::Duration poll_min = absl::Seconds(1);
  // Longest interval of the polling fallback. Defaults to 30 s.
  absl::Duration poll_max = absl::Seconds(30);
  // Backoff, clock and metrics registry of the CRD informer and of the retries of the first CRD
  // list (when it fails with neither 403 nor 404). Defaults to ReflectorOptions' defaults.
  ReflectorOptions reflector{};
};

class KindPresence {
 public:
  enum class Mode {
    kStarting,      // the first CRD list has not answered yet
    kWatchingCrds,  // answers come from the CRD informer
    kPolling,       // CRDs cannot be listed: each kind is polled
  };
  // `present`: the kind is served now.
  using Callback = std::function<void(bool present)>;

  KindPresence(client::Client& client, KindPresenceOptions options = {});
  ~KindPresence();  // stops
  KindPresence(const KindPresence&) = delete;
  KindPresence& operator=(const KindPresence&) = delete;

  // Tracks `gvk` (collection `resource`, its plural; "" = mapped from the kind by the client).
  // Before or after start(); a second track() of the same kind replaces its callback.
  void track(const api::GroupVersionKind& gvk, std::string resource, Callback callback);

  void start();  // once
  void stop();   // idempotent

  // The last answer for `gvk`, recorded once its callback returned; nullopt before the first
  // one (or for a kind not tracked).
  std::optional<bool> present(const api::GroupVersionKind& gvk) const;
  // Asks again now (in polling mode, probes at once instead of at the next interval): an
  // informer of the kind got a 404, so the kind may just have gone.
  void recheck();
  // Every tracked kind has an answer.
  bool answered() const;
  // Waits until answered(). DeadlineExceeded names the kinds without an answer and why.
  absl::Status wait_answered(absl::Duration timeout) const;
  Mode mode() const;

 private:
  struct Tracked {
    std::string resource;
    Callback callback;
    std::optional<bool> answer;
  };
  void run();
  // The first CRD list decides the mode; false when stopped before it did.
  bool choose_mode();
  void watch_crds();
  void poll();
  // Records the new answers and calls the callbacks of those that changed. True if any did.
  bool publish(const std::vector<std::pair<api::GroupVersionKind, bool>>& answers);
  bool wake_or_stop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changed_ || stopping_; }

  client::Client& client_;
  const KindPresenceOptions options_;
  log::Logger log_;
  std::unique_ptr<SharedInformer> crds_;  // watching mode only (created by the run thread)
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<api::GroupVersionKind, Tracked> tracked_ ABSL_GUARDED_BY(mu_);
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kStarting;
  absl::Status mode_error_ ABSL_GUARDED_BY(mu_);  // why kStarting lasts (last CRD list error)
  bool changed_ ABSL_GUARDED_BY(mu_) = true;      // look again (a CRD event, a new kind)
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Held while callbacks run, so stop() returns only once none runs.
  absl::Mutex callback_mu_;
};

// Whether `crd` (a CustomResourceDefinition) makes `gvk` served now: same group and kind,
// Established, the version served, not being deleted.
bool crd_serves(const api::Object& crd, const api::GroupVersionKind& gvk);

// What crd_serves() reads of `crd` and nothing else (name, resourceVersion, deletionTimestamp,
// group, kind, each version's name and served flag, the conditions' type and status): the CRD
// informer stores these, not the CRDs' schemas, which reach megabytes in clusters with many
// CRDs.
api::ObjectPtr crd_summary(api::ObjectPtr crd);

}  // namespace kop::cache
