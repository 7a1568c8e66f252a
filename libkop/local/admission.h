// Admission webhooks in kop::local: the ValidatingWebhookConfigurations and
// MutatingWebhookConfigurations stored in it are called on writes as the API server calls them
// (admission.k8s.io/v1 AdmissionReview over HTTPS), so a webhook is tested without a cluster.
//
// What is followed: rules (operations, apiGroups, apiVersions, resources with subresources and
// "*", scope), matchPolicy (Exact: the version must be listed; Equivalent, the default: any
// version of the group and resource — the object is sent in the version requested, kop::local
// does not convert), namespaceSelector (the Namespace's labels; a Namespace judged by its own),
// objectSelector (the new or the old object's labels), failurePolicy (Fail, the default: a call
// that fails refuses the request with 500 "failed calling webhook"; Ignore: skipped),
// timeoutSeconds (default 10, 1-30), dry runs (admitted too; a webhook whose sideEffects is
// neither None nor NoneOnDryRun, which v1 validation refuses, would refuse them with 400),
// admissionReviewVersions (must list v1), clientConfig.url and clientConfig.service (resolved
// through the Service's EndpointSlices stored in kop::local: kop::local has no cluster network,
// so an EndpointSlice whose address is where the webhook listens, e.g. 127.0.0.1, stands for
// the Pods; the certificate must name service.namespace.svc), caBundle (else the system roots).
// Mutating webhooks run first, in configuration-name order, each seeing the previous one's
// patch (JSONPatch); then validating webhooks on the object as it would be stored, one after
// another (the API server calls them in parallel; the first denial wins either way).
// Not done: reinvocationPolicy IfNeeded (no second round), matchConditions (CEL), warnings
// (dropped), audit annotations.
// Internal to kop::local: the store calls it outside its lock.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

#include "kop/api/review.h"
#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local {
class Store;
}

namespace kop::local::admission {

struct Request {
  const ResourceType& type;
  std::string ns;
  std::string name;
  std::string sub_resource;                                       // "" or "status"
  api::AdmissionOperation op = api::AdmissionOperation::kCreate;  // never kConnect
  bool dry_run = false;
  const JsonValue* object = nullptr;      // CREATE and UPDATE
  const JsonValue* old_object = nullptr;  // UPDATE and DELETE
};

struct Hook {
  ObjectPtr config;                    // keeps `webhook` alive
  const JsonValue* webhook = nullptr;  // one entry of config's webhooks
  std::string name;
  bool mutating = false;  // a MutatingWebhookConfiguration's: it may answer with a patch
};

// The stored webhooks (mutating or validating) whose rules match the request's operation and
// resource. Selectors are judged when the hook is called, on the object as it is then.
std::vector<Hook> matching(Store& store, bool mutating, const Request& request);

// Calls `hooks` in order on `obj` (the request's object), applying each patch to it.
absl::Status mutate(Store& store, const std::vector<Hook>& hooks, Request request, JsonDoc& obj);
// Calls `hooks`; the first denial or failed call (failurePolicy Fail) is the answer.
absl::Status validate(Store& store, const std::vector<Hook>& hooks, const Request& request);

}  // namespace kop::local::admission
