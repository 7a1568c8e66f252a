// kop::ingress::StatusWriter: writes the statuses and Events the builds decided, on its own
// thread, so a build never waits on the API server.
//
// A build publishes a DesiredStatus (publish(): swaps a pointer under a short lock, never
// blocks on I/O). The writer thread, while writing is on (set_writing(true): this replica leads,
// or there is no leader election), makes passes over the latest DesiredStatus: for each
// object it reads the current object from the Manager's cache and writes only what differs
// (an Ingress' status.loadBalancer, an IngressRoute's currentStatus/description/
// observedGeneration and Valid condition, the status of our GatewayClasses and Gateways, our
// entries of route status.parents and of BackendTLSPolicy status.ancestors), so a steady state
// writes nothing. A write is an
// update of the status subresource based on the cached resourceVersion; a conflict or any error
// is retried for that object alone with exponential backoff (retry_base doubling up to
// retry_max), while the other objects go on. A write whose result has not reached the cache yet
// is not repeated. A newer DesiredStatus published during a pass ends the pass and starts a new
// one over the newer one (objects already written then compare equal and are skipped).
// Events go through kop::record::Recorder (aggregation, similar-event combining and the spam
// filter of client-go's EventCorrelator): an Event is recorded when its rejection appears in a
// build (not again while it persists; again if it goes away and comes back), and every current
// rejection once when writing is turned on after having been off.
// Turning writing off (or may_write answering false) stops the pass before its next write
// (a write in flight completes).
// At scale: one write is in flight at a time, so the writer holds at most one of the API
// server's concurrency seats; the rate is the client's (kop-ingress gives this writer its own
// client, --status-qps/--status-burst). A 429 (API Priority and Fairness, or max-inflight)
// pauses every write for its Retry-After (else retry_base), not only the object's. When a pass
// completes with every status as desired after writes, the round is reported: log line
// "statuses written" (writes, seconds, per second) and the gauges
// kop_ingress_status_round_seconds / kop_ingress_status_round_writes.
//
// Threading: start()/stop() from the owning thread; publish(), set_writing() and the
// accessors from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include "gateway_services.h"
#include "ingress_statuses.h"
#include "kop/cache/cache.h"
#include "kop/client/client.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/model.h"
#include "kop/record/recorder.h"

namespace kop::ingress {

// What the statuses should be, as of one build.
struct DesiredStatus {
  using IngressStatus = DesiredIngressStatus;
  IngressStatuses ingresses;  // by "namespace/name"; shared with the builds before and after
  std::vector<IngressRouteStatus> routes;
  // Gateway API (gateway_status.h says what is written). An HTTPRoute with no parent of ours
  // left but an entry of ours in status.parents is listed with no parents: the entry goes.
  std::vector<gateway::ClassStatus> gateway_classes;
  std::vector<gateway::GatewayStatus> gateways;
  std::vector<gateway::RouteStatus> http_routes;
  std::vector<gateway::RouteStatus> grpc_routes;  // the same, for GRPCRoutes
  std::vector<gateway::RouteStatus> tls_routes;   // the same, for TLSRoutes
  // Our status.ancestors entries of BackendTLSPolicies (none: our old entries go).
  std::vector<gateway::PolicyStatus> backend_tls_policies;
  std::vector<Event> events;
  // Gateway Services (gateway_services.h): the owned Services made or updated to these, and
  // the owned Services named in gateway_services_stale deleted. Both empty when none are
  // provisioned (type None, --manifests).
  std::vector<DesiredGatewayService> gateway_services;
  std::vector<std::string> gateway_services_stale;
};

struct StatusWriterOptions {
  api::GroupVersionKind ingress{"networking.k8s.io", "v1", "Ingress"};
  api::GroupVersionKind ingress_route{"ingress.kop.dev", "v1beta1", "IngressRoute"};
  api::GroupVersionKind gateway_class{"gateway.networking.k8s.io", "v1", "GatewayClass"};
  api::GroupVersionKind gateway{"gateway.networking.k8s.io", "v1", "Gateway"};
  api::GroupVersionKind http_route{"gateway.networking.k8s.io", "v1", "HTTPRoute"};
  api::GroupVersionKind grpc_route{"gateway.networking.k8s.io", "v1", "GRPCRoute"};
  api::GroupVersionKind tls_route{"gateway.networking.k8s.io", "v1", "TLSRoute"};
  api::GroupVersionKind backend_tls_policy{"gateway.networking.k8s.io", "v1", "BackendTLSPolicy"};
  api::GroupVersionKind service{"", "v1", "Service"};
  // How Gateway Services are made (namespace, type, selector). Defaults as its fields.
  GatewayServiceOptions gateway_services;
  // Our GatewayClass controllerName: route status.parents entries carrying it are ours.
  // Default kop.dev/gateway-controller.
  std::string gateway_controller_name = std::string(gateway::kControllerName);
  // Event source component. Default "kop-ingress".
  std::string component = "kop-ingress";
  // First retry delay of a failed write; doubles per failure. Default 100 ms.
  absl::Duration retry_base = absl::Milliseconds(100);
  // Longest retry delay. Default 30 s.
  absl::Duration retry_max = absl::Seconds(30);
  // Asked before every write as well: false stops the pass (e.g. Manager::is_leader(), which
  // turns false once the renew deadline passes even before leadership formally ends, so a
  // replica that was frozen never writes after its term). Default unset = always true.
  std::function<bool()> may_write;
};

class StatusWriter {
 public:
  StatusWriter(client::Client& client, cache::Cache& cache, StatusWriterOptions options);
  ~StatusWriter();
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;

  void start();
  void stop();
  // The latest desired statuses (replaces any earlier one not yet written).
  void publish(std::shared_ptr<const DesiredStatus> desired);
  void set_writing(bool on);
  bool writing() const;

  // Passes made while writing (each compares every object once at most).
  uint64_t passes() const { return passes_.load(); }
  // Status writes (PUTs of a status subresource) that succeeded / failed.
  uint64_t writes() const { return writes_.load(); }
  uint64_t write_errors() const { return write_errors_.load(); }
  // Events handed to the Recorder and written (created or aggregated).
  uint64_t events_recorded() const { return events_recorded_.load(); }
  // The last completed round of writes (see above): how many, and from the start of the first
  // pass that found a status to write to the end of the pass that found all as desired.
  uint64_t last_round_writes() const { return last_round_writes_.load(); }
  absl::Duration last_round_duration() const { return absl::Nanoseconds(last_round_nanos_.load()); }
  uint64_t throttled() const { return throttled_.load(); }  // 429s that paused the writer
  // Ingresses compared with the cache, over all passes (skipped shards count nothing).
  uint64_t ingresses_compared() const { return ingresses_compared_.load(); }
  // Gateway API objects whose status JSON was made to compare it with the cache, over all
  // passes (objects found as desired before, unchanged since, count nothing).
  uint64_t gateway_objects_compared() const { return gateway_objects_compared_.load(); }

 private:
  struct Retry {
    int failures = 0;
    absl::Time next;
  };
  // What we wrote on an object, based on which resourceVersion: until the cache shows another
  // resourceVersion, the write has not come back through the watch and is not repeated.
  struct Written {
    std::string base_resource_version;
    std::string value;
  };
  enum class Outcome { kDone, kWritten, kBackoff, kAborted };
  // One desired status of a Gateway API object: an element of a DesiredStatus, held through it
  // (an aliasing pointer), and how two of its type compare.
  struct Wanted {
    std::shared_ptr<const void> status;
    bool (*equal)(const void*, const void*);
  };
  // A Gateway API object found with its desired status in place, at this resourceVersion.
  struct Checked {
    std::string resource_version;
    std::shared_ptr<const void> status;  // the desired status it was found with
    uint64_t pass = 0;                   // the last pass that found it so
  };

  void run();
  // One pass; false when it was cut short (writing off, stop, or a newer DesiredStatus).
  void pass(const std::shared_ptr<const DesiredStatus>& desired_ptr);
  bool keep_going(const DesiredStatus& desired);
  Outcome ingress(const std::string& key, const DesiredStatus::IngressStatus& want);
  Outcome route(const IngressRouteStatus& st);
  // A Gateway API object's whole status, as `status_json(current, now)` makes it (now = ""
  // gives the value compared with what was last written) from `want`.
  Outcome gateway_object(
      const api::GroupVersionKind& gvk, const std::string& ns, const std::string& name,
      const Wanted& want,
      const std::function<std::string(const api::Object&, std::string_view)>& status_json);
  void events(const DesiredStatus& desired);
  // A Gateway's Service made or brought in line, or an owned Service deleted
  // (status_writer_services.cpp).
  Outcome gateway_service(const DesiredGatewayService& want);
  Outcome delete_gateway_service(const std::string& name);
  bool backing_off(const std::string& key, absl::Time now);
  // A 429 pauses all writes until `until`; true while paused.
  bool paused(absl::Time now);
  void failed(const std::string& key, const absl::Status& status, absl::Time now);

  client::Client& client_;
  cache::Cache& cache_;
  const StatusWriterOptions options_;
  record::Recorder recorder_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::shared_ptr<const DesiredStatus> desired_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Writing was turned on again: record every current rejection once more.
  bool rerecord_ ABSL_GUARDED_BY(mu_) = false;

  // Touched by the writer thread only.
  std::map<std::string, Retry> retries_;
  std::map<std::string, Written> written_;
  std::set<std::string> recorded_;  // event keys of the rejections recorded and still current
  absl::Time earliest_retry_ = absl::InfiniteFuture();
  absl::Time paused_until_ = absl::InfinitePast();
  // The round of writes in progress: started by the first pass that found a status to write.
  absl::Time round_start_ = absl::InfiniteFuture();
  uint64_t round_writes_ = 0;
  int pass_backoffs_ = 0;  // objects of the current pass left for a retry
  // The Ingress shards a pass found all as desired, with the Ingress store's generation before
  // that pass: while a DesiredStatus holds the same shard object and none of its Ingresses was
  // written since, the shard is as desired still and the pass skips it. So a build that changed
  // no Ingress (an endpoint change) costs no comparison of 10k Ingresses with the cache, and one
  // Ingress written (ours coming back, or someone else's) makes the next pass compare its shard
  // (the store's written keys, Indexer::keys_written_since); all of them when the store cannot
  // tell (more writes than it keeps, a relist).
  std::array<std::shared_ptr<const IngressStatuses::Shard>, IngressStatuses::kShards>
      checked_shards_;
  uint64_t checked_generation_ = 0;
  std::shared_ptr<const cache::Informer> checked_informer_;  // held: never a reused address
  // The Gateway API objects (by the key of written_) found with their desired status in place.
  // The status JSON is a function of the object and the desired status alone, so while the
  // cache holds the same resourceVersion and the desired status is equal (compared as structs,
  // no JSON), the object is as desired still: a build that changed one route costs no status
  // JSON of the 10k others. Someone else's write (kubectl edit of the status, another
  // controller) changes the resourceVersion: that object is compared again and ours put back.
  // Entries not found by a complete pass go (they would hold an old DesiredStatus).
  std::unordered_map<std::string, Checked> checked_gateway_objects_;
  uint64_t pass_id_ = 0;

  std::atomic<uint64_t> passes_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> events_recorded_{0};
  std::atomic<uint64_t> last_round_writes_{0};
  std::atomic<int64_t> last_round_nanos_{0};
  std::atomic<uint64_t> throttled_{0};
  std::atomic<uint64_t> ingresses_compared_{0};
  std::atomic<uint64_t> gateway_objects_compared_{0};
};

}  // namespace kop::ingress
