// kop/manager/helpers.h: what most reconcilers do (controller-runtime's controllerutil).
//
//   - add_finalizer / remove_finalizer: write the object with the finalizer added or removed
//     (an update carrying the resourceVersion read: a stale object fails with 409 Conflict,
//     which the controller retries). No write when nothing changes.
//   - set_controller_reference(owner, obj): adds the ownerReference with controller=true and
//     blockOwnerDeletion=true; AlreadyExists when another controller already owns obj;
//     InvalidArgument when the owner has no uid or lives in another namespace.
//   - create_or_update(client, obj, mutate): gets obj's current state (by its
//     apiVersion/kind/namespace/name), applies `mutate`, and creates it when missing or updates it
//     when mutate changed anything; returns what it did.
//   - create_or_patch: the same, but writes the difference as a JSON merge patch (RFC 7386), and
//     the status difference through the status subresource.
//   - set_status_condition: sets a metav1.Condition on obj's status (kop/api/conditions.h) and
//     writes status through the status subresource when it changed.
//
// Threading: free functions; as thread-safe as the client.
#pragma once

#include <absl/status/statusor.h>

#include <functional>
#include <string_view>

#include "kop/api/conditions.h"
#include "kop/api/object.h"
#include "kop/client/client.h"

namespace kop::manager {

enum class OperationResult { kUnchanged, kCreated, kUpdated, kUpdatedStatus };
std::string_view to_string(OperationResult r);

absl::StatusOr<api::ObjectPtr> add_finalizer(client::Client& client, const api::Object& obj,
                                             std::string_view finalizer);
absl::StatusOr<api::ObjectPtr> remove_finalizer(client::Client& client, const api::Object& obj,
                                                std::string_view finalizer);

absl::Status set_controller_reference(const api::Object& owner, api::Object& obj);

// `obj` names the object (apiVersion, kind, namespace, name) and receives the stored result.
// `mutate` must not change the name or namespace.
absl::StatusOr<OperationResult> create_or_update(
    client::Client& client, api::Object& obj,
    const std::function<absl::Status(api::Object&)>& mutate);
absl::StatusOr<OperationResult> create_or_patch(
    client::Client& client, api::Object& obj,
    const std::function<absl::Status(api::Object&)>& mutate);

// The RFC 7386 merge patch turning `from` into `to` ("{}" when equal).
std::string merge_patch(const rapidjson::Value& from, const rapidjson::Value& to);

absl::StatusOr<api::ObjectPtr> set_status_condition(client::Client& client, const api::Object& obj,
                                                    const api::Condition& condition);

}  // namespace kop::manager
