// kop::local::Store — an in-process Kubernetes API store with the API server's semantics.
//
// What it promises (each point is what kube-apiserver does; docs/local.md lists the places where
// kop::local knowingly differs):
//  - One global, monotonically increasing resourceVersion; every write that changes an object
//    takes the next one. A write that changes nothing (a no-op update or patch) writes nothing
//    and returns the stored object unchanged, as etcd3's GuaranteedUpdate does.
//  - create: uid (random v4), creationTimestamp (RFC 3339, seconds), generation 1 for kinds that
//    track it, generateName, AlreadyExists, NotFound for a missing namespace, Forbidden in a
//    terminating one; status cleared when the kind has a status subresource.
//  - update/patch: optimistic concurrency (409 Conflict when metadata.resourceVersion is stale; an
//    empty resourceVersion is an unconditional update), generation bumped when anything but
//    metadata and status changes, status ignored by main-resource writes and everything but
//    status ignored by /status writes (for kinds with the subresource).
//  - delete: finalizers keep the object with deletionTimestamp and deletionGracePeriodSeconds 0
//    until an update empties them; propagationPolicy Background (default), Foreground
//    (foregroundDeletion finalizer until blocking dependents are gone) and Orphan; garbage
//    collection of dependents through ownerReferences; deleting a Namespace marks it Terminating,
//    deletes what it holds, then removes it.
//  - list: label and field selectors, limit/continue pagination over a consistent snapshot (an
//    expired continue token is 410 Expired), resourceVersion "" / "0" / N with
//    resourceVersionMatch NotOlderThan or Exact (Exact and continue served from the event
//    history; older than the history is 410 Expired).
//  - watch: from "" or "0" (synthetic ADDED events for what exists, then changes) or from a
//    resourceVersion (replayed from a bounded per-resource history; too old is an ERROR event with
//    a 410 Expired Status "too old resource version: X (Y)"); bookmarks on request; DELETED events
//    carry the last state with the deletion's resourceVersion; a watcher that falls more than
//    watch_buffer events behind is closed rather than blocking writers.
//  - versions: a CRD's objects are kept in its storage version. With spec.conversion.strategy
//    None another served version only changes apiVersion; with Webhook every read, list, watch
//    event and write in another version goes through the CRD's conversion webhook (a
//    ConversionReview; one per list), called outside the store's lock. A failed conversion is
//    the API server's 500 "conversion webhook for ... failed: ..." (a watch ends, as the API
//    server's does when it cannot encode an event).
//
// Errors: every call returns absl::StatusOr; a failure is an absl::Status carrying the API's Status
// object (kop/client/errors.h: client::is_not_found(), client::api_status(), ...), exactly what
// LocalClient returns and what the HTTP front writes as the body.
//
// Threading: every method is thread-safe. Writes are serialised by one mutex; watch fan-out
// happens under it but only appends to per-watcher bounded queues. Garbage collection and the
// namespace lifecycle run synchronously at the end of the write that made them necessary, so
// tests observe a settled store when a call returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/time/time.h>
#include "kop/client/client.h"
#include "kop/local/faults.h"
#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local {

struct StoreOptions {
  // Events kept per resource (group/resource) for watch resume, Exact lists and continue tokens.
  // Older resourceVersions get 410 Expired. Defaults to 1000.
  size_t history_size = 1000;
  // Events queued for one watcher before it is closed as too slow. Defaults to 1000.
  size_t watch_buffer = 1000;
  // How often a watcher that asked for bookmarks receives one when idle. Defaults to 1 minute,
  // as kube-apiserver sends them: a second woke every informer of an idle client 17 times a
  // second (1 % of a core for kop-ingress at 10k). Tests that need them sooner set their own.
  absl::Duration bookmark_interval = absl::Minutes(1);
  // Create default, kube-system, kube-public and kube-node-lease at start. Defaults to true.
  bool create_system_namespaces = true;
  // How long a CRD conversion webhook may take to answer. Defaults to 30 seconds (the API
  // server's fixed timeout for conversion webhooks).
  absl::Duration conversion_timeout = absl::Seconds(30);
};

// Requests take kop::client's options (kop/client/client.h), read as the API server reads the
// query parameters they stand for; ListOptions::timeout_seconds is ignored (a list answers at
// once). A watch's timeout_seconds ends it after that long.
using client::CreateOptions;
using client::DeleteOptions;
using client::GetOptions;
using client::ListOptions;
using client::ObjectList;
using client::PatchOptions;
using client::PatchType;
using client::UpdateOptions;
using client::WatchOptions;

// "application/merge-patch+json" etc. -> PatchType; nullopt when not a patch media type.
std::optional<PatchType> patch_type_from_content_type(std::string_view content_type);

struct DeleteResult {
  ObjectPtr object{};    // the last state (removed) or the object now carrying deletionTimestamp
  bool removed = false;  // true when the object is gone from the store
};

// Watch events are kop::client's: ADDED/MODIFIED/DELETED carry the object, BOOKMARK an object
// with only kind, apiVersion and metadata.resourceVersion, ERROR the Status object and the error.
using WatchEvent = client::WatchEvent;

class Watch;
using WatchPtr = std::unique_ptr<Watch>;

class Store {
 public:
  explicit Store(StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Registry& registry();
  Faults& faults();
  uint64_t current_resource_version() const;

  // `type` names the version served; objects come back with that apiVersion.
  absl::StatusOr<ObjectPtr> get(const ResourceType& type, std::string_view ns,
                                std::string_view name, const GetOptions& opts = {});
  // ns "" lists across namespaces (and is required for cluster-scoped kinds).
  absl::StatusOr<ObjectList> list(const ResourceType& type, std::string_view ns,
                                  const ListOptions& opts = {});
  // Never fails for a known kind: errors (too old resourceVersion, injected faults) arrive as an
  // ERROR event, as over HTTP. Bad selectors are 400 BadRequest.
  absl::StatusOr<WatchPtr> watch(const ResourceType& type, std::string_view ns,
                                 const WatchOptions& opts = {});

  absl::StatusOr<ObjectPtr> create(const ResourceType& type, std::string_view ns, JsonDoc obj,
                                   const CreateOptions& opts = {});
  absl::StatusOr<ObjectPtr> update(const ResourceType& type, std::string_view ns,
                                   std::string_view name, JsonDoc obj,
                                   const UpdateOptions& opts = {});
  absl::StatusOr<ObjectPtr> update_status(const ResourceType& type, std::string_view ns,
                                          std::string_view name, JsonDoc obj,
                                          const UpdateOptions& opts = {});
  absl::StatusOr<ObjectPtr> patch(const ResourceType& type, std::string_view ns,
                                  std::string_view name, PatchType pt, std::string_view body,
                                  const PatchOptions& opts = {});
  absl::StatusOr<ObjectPtr> patch_status(const ResourceType& type, std::string_view ns,
                                         std::string_view name, PatchType pt, std::string_view body,
                                         const PatchOptions& opts = {});
  absl::StatusOr<DeleteResult> remove(const ResourceType& type, std::string_view ns,
                                      std::string_view name, const DeleteOptions& opts = {});
  // deletecollection: deletes every object the selectors match; returns the deleted/terminating
  // list.
  absl::StatusOr<ObjectList> remove_collection(const ResourceType& type, std::string_view ns,
                                               const ListOptions& sel,
                                               const DeleteOptions& opts = {});

  // kop::local's own reads (admission webhooks): no faults, no selectors, no resourceVersion.
  // Every stored object of `type` / one object, or nullptr.
  std::vector<ObjectPtr> stored(const ResourceType& type) const;
  ObjectPtr stored(const ResourceType& type, std::string_view ns, std::string_view name) const;

  // Convenience for tests and the manifest loader: resolves apiVersion/kind from the object.
  absl::StatusOr<ResourceTypePtr> type_of(const JsonValue& obj) const;

  struct Impl;

 private:
  // The writes themselves; the public methods put admission webhooks (admission.h) around them,
  // outside the store's lock.
  absl::StatusOr<ObjectPtr> create_now(const ResourceType& type, std::string_view ns, JsonDoc obj,
                                       const CreateOptions& opts);
  absl::StatusOr<ObjectPtr> update_now(const ResourceType& type, std::string_view ns,
                                       std::string_view name, JsonDoc obj,
                                       const UpdateOptions& opts, bool status);
  absl::StatusOr<ObjectPtr> patch_now(const ResourceType& type, std::string_view ns,
                                      std::string_view name, PatchType pt, std::string_view body,
                                      const PatchOptions& opts, bool status);
  absl::StatusOr<DeleteResult> remove_now(const ResourceType& type, std::string_view ns,
                                          std::string_view name, const DeleteOptions& opts);
  // A patch of a kind converted by webhook: the stored object converted to `type`'s version,
  // patched there, converted back and written (retried on a conflict).
  absl::StatusOr<ObjectPtr> patch_converted(const ResourceType& type, std::string_view ns,
                                            std::string_view name, PatchType pt,
                                            std::string_view body, const PatchOptions& opts,
                                            bool status);
  absl::StatusOr<WatchPtr> watch_as(const ResourceType& type, std::string_view ns,
                                    const WatchOptions& opts, ResourceTypePtr convert_to);
  // stored(), converted by webhook when `type` asks for it (admission's oldObject).
  absl::StatusOr<ObjectPtr> stored_as(const ResourceType& type, std::string_view ns,
                                      std::string_view name) const;
  // store_admission.cpp: the same requests with the matching webhooks called.
  absl::StatusOr<ObjectPtr> admitted_create(const ResourceType& type, std::string_view ns,
                                            JsonDoc obj, const CreateOptions& opts);
  absl::StatusOr<ObjectPtr> admitted_update(const ResourceType& type, std::string_view ns,
                                            std::string_view name, JsonDoc obj,
                                            const UpdateOptions& opts, bool status);
  absl::StatusOr<ObjectPtr> admitted_patch(const ResourceType& type, std::string_view ns,
                                           std::string_view name, PatchType pt,
                                           std::string_view body, const PatchOptions& opts,
                                           bool status);
  absl::StatusOr<DeleteResult> admitted_remove(const ResourceType& type, std::string_view ns,
                                               std::string_view name, const DeleteOptions& opts);

  std::shared_ptr<Impl> impl_;
};

// A watch stream, and the kop::client::WatchStream LocalClient hands out. One consumer thread
// calls next(); stop()/cancel() may be called from any thread and wake a blocked next().
class Watch : public client::WatchStream {
 public:
  ~Watch() override;
  // Blocks until the next event; std::nullopt once the watch has ended: stopped, timed out,
  // closed by a fault or after an ERROR event, or too slow. Never an error Status.
  absl::StatusOr<std::optional<WatchEvent>> next() override;
  // Waits up to `wait` for the next event. nullopt means nothing arrived in time, or the watch
  // has ended (then ended() is true).
  std::optional<WatchEvent> next(absl::Duration wait);
  bool ended() const;
  void stop();
  void cancel() override { stop(); }

  struct State;
  Watch(std::shared_ptr<State> s, std::weak_ptr<Store::Impl> store);

 private:
  // The next event, waiting until `until` (forever when unset), converted when the watch asked
  // for a version that a conversion webhook serves.
  std::optional<WatchEvent> wait_next(std::optional<std::chrono::steady_clock::time_point> until);
  // The next event as the store queued it.
  std::optional<WatchEvent> wait_stored(std::optional<std::chrono::steady_clock::time_point> until);

  std::shared_ptr<State> s_;
  std::weak_ptr<Store::Impl> store_;
};

// The list object the API server returns:
// {"kind":"<Kind>List","apiVersion":..,"metadata":{...},"items":[...]}. Items of built-in kinds
// carry no apiVersion/kind (the API server's typed lists omit them); custom resources keep theirs.
// `strip_item_types` false keeps them always.
JsonDoc make_list(const ResourceType& type, const ObjectList& r, bool strip_item_types = true);

}  // namespace kop::local
