// kop/client/client.h: kop::Client, the one interface through which libkop talks to Kubernetes.
//
// Two transports implement it: kop::client::RestClient (HTTP(S) to a kube-apiserver, or to
// kop::local's HTTP front) and kop::local (an in-process API store). Both follow the Kubernetes
// API conventions, so code tested against one behaves the same against the other:
//   - a resource is addressed by ResourceRef: group/version + plural resource (or a kind, which
//     the transport maps to the resource through its RESTMapper) + namespace + name;
//   - every write returns the object as the server stored it (new resourceVersion, defaults);
//   - failures are absl::Status values carrying the API's Status object (kop/client/errors.h):
//     is_not_found(), is_conflict(), is_gone(), ... work on the result of every call;
//   - list pages with limit/continue; a continue token is only valid with the same selectors;
//   - watch follows the resourceVersion rules of the API: "" or "0" first sends the current state
//     as synthetic ADDED events, then changes; a version from a list starts exactly after it
//     (too old: an ERROR event whose error is_gone()). Reflectors list, then watch from the
//     list's resourceVersion.
//
// Threading: a Client is safe to call from any thread, concurrently. A WatchStream is read by one
// thread (next()); cancel() may be called from any other thread at any time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include "kop/api/gvk.h"
#include "kop/api/object.h"

namespace kop::client {

// ---- addressing -------------------------------------------------------------------------------

// Which objects a call is about. Set `resource` (the plural, as in the URL) when known; otherwise
// set `kind` and the transport maps group/version/kind to the resource and its scope (RESTMapper):
// `namespace_` is then ignored for cluster-scoped kinds. With `resource` set, the scope of a
// built-in resource comes from kop/api/gvk.h's table; for others `namespace_` decides (set =
// namespaced), as with client-go's dynamic client. For list and watch an empty `namespace_` means
// all namespaces and `name` must be empty (a watch with `name` set watches that one object, through
// fieldSelector metadata.name=NAME as client-go does).
struct ResourceRef {
  std::string group;       // "" for the core group
  std::string version;     // "v1"
  std::string resource;    // plural lowercase, e.g. "ingresses"; "" = map from `kind`
  std::string kind;        // e.g. "Ingress"; used when `resource` is empty
  std::string namespace_;  // "" = cluster-scoped resource, or all namespaces for list/watch
  std::string name;        // "" for collections

  static ResourceRef of(const api::GroupVersionResource& gvr, std::string_view ns = {},
                        std::string_view name = {}) {
    return {gvr.group, gvr.version, gvr.resource, {}, std::string(ns), std::string(name)};
  }
  static ResourceRef of(const api::GroupVersionKind& gvk, std::string_view ns = {},
                        std::string_view name = {}) {
    return {gvk.group, gvk.version, {}, gvk.kind, std::string(ns), std::string(name)};
  }
  // Where `object` lives: its apiVersion and kind (mapped to the resource by the transport),
  // metadata.namespace and metadata.name. For create/update of an object in hand:
  //   client.create(ResourceRef::of(obj), obj);
  static ResourceRef of(const api::Object& object);
  // The same collection with another namespace / name.
  ResourceRef in(std::string_view ns) const {
    ResourceRef r = *this;
    r.namespace_ = std::string(ns);
    return r;
  }
  ResourceRef named(std::string_view n) const {
    ResourceRef r = *this;
    r.name = std::string(n);
    return r;
  }
  api::GroupVersion group_version() const { return {group, version}; }
  // "ingresses.networking.k8s.io/NS/NAME"-style text for messages and logs.
  std::string to_string() const;

  bool operator==(const ResourceRef&) const = default;
};

// ---- options (each default is written on its field) ------------------------------------------

// Query parameter `resourceVersionMatch`.
enum class ResourceVersionMatch {
  kUnset,         // default: not sent
  kExact,         // "Exact": exactly resource_version (needs a non-empty resource_version)
  kNotOlderThan,  // "NotOlderThan": at least resource_version
};

struct GetOptions {
  // resourceVersion: "" (default) = the latest (quorum read); "0" = any cached version.
  std::string resource_version{};
};

struct ListOptions {
  std::string label_selector{};  // labelSelector, e.g. "app=web,tier!=db"; default "" = everything
  std::string field_selector{};  // fieldSelector, e.g. "metadata.name=x"; default "" = everything
  int64_t limit = 0;             // limit: page size; default 0 = no limit (one page)
  std::string continue_token{};  // continue: from a previous page's ObjectList::continue_token
  std::string resource_version{};  // resourceVersion; default "" = latest
  ResourceVersionMatch resource_version_match = ResourceVersionMatch::kUnset;
  std::optional<int64_t> timeout_seconds{};  // timeoutSeconds; default unset (server default)
};

struct WatchOptions {
  std::string label_selector{};  // default "" = everything
  std::string field_selector{};  // default "" = everything
  // resourceVersion: default "" = the current state as ADDED events, then changes; a list's
  // resourceVersion = only changes after it.
  std::string resource_version{};
  bool allow_watch_bookmarks = false;  // allowWatchBookmarks; default false
  // timeoutSeconds: the server ends the watch after this long; default unset = the server's
  // default (kube-apiserver: a random 30–60 minutes).
  std::optional<int64_t> timeout_seconds{};
};

// dryRun=All: validate and answer as if written, store nothing.
struct CreateOptions {
  std::string field_manager{};  // fieldManager; default "" = not sent (server derives one)
  bool dry_run = false;         // default false
};

struct UpdateOptions {
  std::string field_manager{};  // fieldManager; default "" = not sent
  bool dry_run = false;         // default false
};

// The Content-Type of a patch body.
enum class PatchType {
  kJsonMerge,       // application/merge-patch+json (RFC 7386)
  kJsonPatch,       // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
  kApply,           // application/apply-patch+yaml (server-side apply; field_manager required)
};
// The Content-Type header value for `type`.
std::string_view content_type(PatchType type);

struct PatchOptions {
  std::string field_manager{};  // fieldManager; default "" (required by the server for kApply)
  bool dry_run = false;         // default false
  // force: for kApply only, take ownership of conflicting fields; default unset = not sent.
  std::optional<bool> force{};
};

// DeleteOptions.propagationPolicy.
enum class PropagationPolicy {
  kUnset,       // default: the resource's own default (usually Background)
  kOrphan,      // "Orphan"
  kBackground,  // "Background"
  kForeground,  // "Foreground"
};

struct DeleteOptions {
  PropagationPolicy propagation_policy = PropagationPolicy::kUnset;
  // preconditions: delete only if the stored object still has this uid / resourceVersion
  // (otherwise 409 Conflict). Default unset.
  std::optional<std::string> precondition_uid{};
  std::optional<std::string> precondition_resource_version{};
  std::optional<int64_t> grace_period_seconds{};  // default unset = the resource's default
  bool dry_run = false;                           // default false
};

// ---- results ---------------------------------------------------------------------------------

// One page of a list. Items carry apiVersion and kind even when the server left them out (the API
// server omits them in lists of built-in kinds; both transports fill them in).
struct ObjectList {
  std::string api_version;                      // of the items, e.g. "networking.k8s.io/v1"
  std::string kind;                             // of the list, e.g. "IngressList"
  std::string resource_version;                 // metadata.resourceVersion: watch from here
  std::string continue_token;                   // metadata.continue: "" on the last page
  std::optional<int64_t> remaining_item_count;  // metadata.remainingItemCount, when sent
  std::vector<api::ObjectPtr> items;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  // ADDED/MODIFIED: the new state; DELETED: the last state; BOOKMARK: an object of the watched
  // kind carrying only metadata.resourceVersion; ERROR: the Status object as sent.
  api::ObjectPtr object;
  // ERROR only: the error, with the Status as payload (is_gone() for a too-old resourceVersion).
  absl::Status error;
};
// "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR".
std::string_view to_string(WatchEvent::Type type);

// The events of one watch, in the order the server sent them.
class WatchStream {
 public:
  virtual ~WatchStream() = default;

  // Blocks until the next event. std::nullopt when the stream ended cleanly: the server closed it
  // (timeoutSeconds elapsed, server shutdown) or cancel() was called. An error Status when the
  // connection failed or the server sent something undecodable. After nullopt or an error, every
  // further call returns std::nullopt. An ERROR event is an event, not an error of next(): the
  // server ends the stream after it.
  virtual absl::StatusOr<std::optional<WatchEvent>> next() = 0;

  // Ends the stream: a blocked next() returns std::nullopt promptly. Any thread, any number of
  // times, also after the stream ended. The destructor cancels too.
  virtual void cancel() = 0;
};
using WatchStreamPtr = std::unique_ptr<WatchStream>;

// ---- the interface ---------------------------------------------------------------------------

class Client {
 public:
  virtual ~Client() = default;

  // GET one object. `ref.name` required.
  virtual absl::StatusOr<api::ObjectPtr> get(const ResourceRef& ref,
                                             const GetOptions& options = {}) = 0;

  // LIST one page of a collection (`ref.name` must be empty).
  virtual absl::StatusOr<ObjectList> list(const ResourceRef& ref,
                                          const ListOptions& options = {}) = 0;

  // WATCH a collection (or one object when `ref.name` is set).
  virtual absl::StatusOr<WatchStreamPtr> watch(const ResourceRef& ref,
                                               const WatchOptions& options = {}) = 0;

  // POST `object` into the collection `ref` (`ref.name` ignored; the object's metadata.name or
  // generateName names it). The object's namespace, when set, must equal `ref.namespace_`.
  virtual absl::StatusOr<api::ObjectPtr> create(const ResourceRef& ref, const api::Object& object,
                                                const CreateOptions& options = {}) = 0;

  // PUT `object` at `ref` (`ref.name` required). metadata.resourceVersion, when set, must match
  // the stored one (409 Conflict otherwise); unset means an unconditional update.
  virtual absl::StatusOr<api::ObjectPtr> update(const ResourceRef& ref, const api::Object& object,
                                                const UpdateOptions& options = {}) = 0;

  // PATCH `ref` with `body` interpreted per `type`. kApply creates the object when missing.
  virtual absl::StatusOr<api::ObjectPtr> patch(const ResourceRef& ref, PatchType type,
                                               std::string_view body,
                                               const PatchOptions& options = {}) = 0;

  // DELETE `ref`. Returns the object when the server answered with it (deletion pending on
  // finalizers or a grace period: metadata.deletionTimestamp is set), or nullptr when the server
  // answered with a Success Status (the object is gone).
  virtual absl::StatusOr<api::ObjectPtr> remove(const ResourceRef& ref,
                                                const DeleteOptions& options = {}) = 0;

  // The status subresource (`ref` + "/status"): spec changes are ignored by update_status and
  // patch_status, status changes by update/patch, when the kind has a status subresource.
  virtual absl::StatusOr<api::ObjectPtr> get_status(const ResourceRef& ref,
                                                    const GetOptions& options = {}) = 0;
  virtual absl::StatusOr<api::ObjectPtr> update_status(const ResourceRef& ref,
                                                       const api::Object& object,
                                                       const UpdateOptions& options = {}) = 0;
  virtual absl::StatusOr<api::ObjectPtr> patch_status(const ResourceRef& ref, PatchType type,
                                                      std::string_view body,
                                                      const PatchOptions& options = {}) = 0;
};
using ClientPtr = std::shared_ptr<Client>;

}  // namespace kop::client

namespace kop {
using Client = client::Client;
}  // namespace kop
