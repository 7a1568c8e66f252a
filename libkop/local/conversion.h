// CRD conversion webhooks in kop::local. A CRD whose spec.conversion.strategy is Webhook keeps
// its objects in the storage version; an object read or written in another served version goes
// through the CRD's webhook as the API server sends it: an apiextensions.k8s.io ConversionReview
// (the first of v1 and v1beta1 that conversionReviewVersions lists), one review for all the
// objects of a list, the webhook reached as admission webhooks are (webhook_call.h). The answer
// is checked as the API server checks it: the response uid, the result status, as many objects
// as were sent, each in the desired apiVersion with the same kind, name, namespace and uid; of
// its metadata only labels and annotations are taken (the rest stays the original's). A failure
// is the API server's 500 "conversion webhook for GROUP/VERSION, Kind=KIND failed: ...".
// Strategy None needs no call: the store only rewrites apiVersion (store.cpp's present()).
// Internal to kop::local: the store calls it outside its lock, at its public surface.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <vector>

#include "kop/local/names.h"
#include "kop/local/resource.h"
#include "webhook_call.h"

namespace kop::local::conversion {

// Whether objects of `t` (the version requested) pass through a webhook on their way in and out.
inline bool by_webhook(const ResourceType& t) {
  return t.webhook_conversion && t.version != t.storage_version;
}

// `objects` (of t's group and kind, in any version) in t's version, converted by one review to
// the CRD's webhook; objects already in t's version are not sent. `list`: the objects are a
// list's items (the API server words a bad one "converted object at index N"). Bounded by
// `timeout`.
absl::StatusOr<std::vector<ObjectPtr>> convert(const admission::StoredReader& store,
                                               const ResourceType& t,
                                               std::vector<ObjectPtr> objects, bool list,
                                               absl::Duration timeout);

}  // namespace kop::local::conversion
