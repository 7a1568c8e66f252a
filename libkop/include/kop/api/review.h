// kop/api/review.h: the wire format of the reviews the API server and webhooks exchange —
// admission.k8s.io/v1 AdmissionReview and apiextensions.k8s.io/v1 ConversionReview — both
// sides of it, so that kop::webhook (the webhook) and kop::local (the API server calling one)
// speak it through the same types.
//
// The webhook's side: parse_admission_review / parse_conversion_review read what the API server
// sends, admission_review_json / conversion_review_json write the answer. Reading is strict
// because the body comes from the network: the root must be a review of the expected apiVersion
// and kind, `request` an object with a non-empty uid, every field the type the API defines;
// anything else is InvalidArgument naming the field
// ("AdmissionReview request.operation: \"PATCH\" is not CREATE, UPDATE, DELETE or CONNECT").
// A parse never crashes and never reads past the body (tests/fuzz/webhook_review.cpp).
// AdmissionReview v1beta1 is accepted too (same fields); the answer carries the request's
// apiVersion, as the API server requires.
//
// The API server's side: admission_request_json writes the review it sends (v1), and
// parse_admission_response reads the webhook's answer with kube-apiserver's checks
// (VerifyAdmissionResponse): the review must be an admission.k8s.io/v1 AdmissionReview whose
// response.uid is the request's; a mutating webhook's patch comes with patchType JSONPatch and
// a validating webhook sends neither. For conversion, conversion_request_json and
// parse_conversion_response, with check_converted_object for each object returned (kop::local
// calls CRD conversion webhooks with them; kop::webhook checks its converters' results with the
// last).
//
// Threads: plain functions and values; no shared state.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/api/object.h"

namespace kop::api {

enum class AdmissionOperation { kCreate, kUpdate, kDelete, kConnect };
// "CREATE", "UPDATE", "DELETE", "CONNECT".
std::string_view to_string(AdmissionOperation op);

struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
};

// admission.k8s.io/v1 AdmissionRequest.
struct AdmissionRequest {
  std::string review_api_version;  // "admission.k8s.io/v1" (or v1beta1): the answer uses it
  std::string uid;
  GroupVersionKind kind;          // the object's kind as the webhook sees it
  GroupVersionResource resource;  // the resource being accessed
  std::string sub_resource;       // "" or e.g. "status"
  // The kind and resource of the original request when matchPolicy Equivalent converted it;
  // equal to kind/resource otherwise.
  GroupVersionKind request_kind;
  GroupVersionResource request_resource;
  std::string name;        // may be "" on CREATE (generateName)
  std::string namespace_;  // "" for cluster-scoped resources
  AdmissionOperation operation = AdmissionOperation::kCreate;
  UserInfo user_info;
  std::optional<Object> object;      // CREATE, UPDATE (and CONNECT's options object)
  std::optional<Object> old_object;  // UPDATE, DELETE
  bool dry_run = false;  // the API server will not persist; webhooks with side effects must not act
  std::optional<Object> options;  // CreateOptions / UpdateOptions / DeleteOptions
};

// Reads a whole AdmissionReview body (the webhook's side).
absl::StatusOr<AdmissionRequest> parse_admission_review(std::string_view body);

// The admission.k8s.io/v1 AdmissionReview the API server sends for `request` (its
// review_api_version is not used: kop::local speaks v1 only). Absent objects are written as
// null, request_kind/request_resource as kind/resource when empty, subResource and namespace
// only when set.
std::string admission_request_json(const AdmissionRequest& request);

// admission.k8s.io/v1 AdmissionResponse.
struct AdmissionResponse {
  std::string uid;  // the request's uid
  bool allowed = true;
  // status, written when not allowed (or when code is set): code (default 403), reason, message.
  int32_t code = 0;
  std::string reason;
  std::string message;
  // An RFC 6902 JSON patch (text, not base64: the writer encodes it); "" = no patch.
  std::string patch;
  std::vector<std::string> warnings;
  std::map<std::string, std::string> audit_annotations;
};

// The AdmissionReview JSON the API server expects in answer (the webhook's side).
std::string admission_review_json(const AdmissionResponse& response,
                                  std::string_view review_api_version = "admission.k8s.io/v1");

// Reads a webhook's answer to the review with `uid` (the API server's side). `mutating`: the
// webhook may send a patch. An absent `allowed` reads as false, as Go decodes it. The patch is
// returned decoded from base64; code, reason and message from response.status.
absl::StatusOr<AdmissionResponse> parse_admission_response(std::string_view body,
                                                           std::string_view uid, bool mutating);

constexpr std::string_view kConversionReviewV1 = "apiextensions.k8s.io/v1";
constexpr std::string_view kConversionReviewV1beta1 = "apiextensions.k8s.io/v1beta1";

// apiextensions.k8s.io/v1 ConversionRequest.
struct ConversionRequest {
  std::string uid;
  std::string desired_api_version;  // e.g. "example.com/v2"
  std::vector<Object> objects;
  // The review's apiVersion (v1, or v1beta1 for a CRD listing it first): the answer uses it.
  std::string review_api_version = std::string(kConversionReviewV1);
};

// Reads a whole ConversionReview body (the webhook's side); v1 or v1beta1 (same fields).
absl::StatusOr<ConversionRequest> parse_conversion_review(std::string_view body);

// The ConversionReview the API server sends (the API server's side): `review_api_version` is
// kConversionReviewV1 or kConversionReviewV1beta1, the objects are written as they are (not
// copied).
std::string conversion_request_json(std::string_view review_api_version, std::string_view uid,
                                    std::string_view desired_api_version,
                                    const std::vector<const Object*>& objects);

// apiextensions.k8s.io/v1 ConversionResponse. `result` OK writes status "Success" with the
// converted objects; an error writes status "Failure" with its message and no objects.
struct ConversionResponse {
  std::string uid;
  std::vector<Object> converted_objects;
  absl::Status result;
};

// The ConversionReview the API server expects in answer (the webhook's side), in the request's
// review apiVersion.
std::string conversion_review_json(const ConversionResponse& response,
                                   std::string_view review_api_version = kConversionReviewV1);

// Reads a conversion webhook's answer to the review `uid` sent in `review_api_version` (the API
// server's side), with kube-apiserver's checks: a v1 answer must be an apiextensions.k8s.io/v1
// ConversionReview whose response.uid is `uid` (v1beta1 answers were never checked for either);
// a result.status other than Success comes back as a `result` error with the webhook's message
// (or "response.result.status was 'Failure', not 'Success'" without one); convertedObjects as
// sent, each a JSON object. A body that cannot be read is an InvalidArgument naming the field.
absl::StatusOr<ConversionResponse> parse_conversion_response(std::string_view body,
                                                             std::string_view uid,
                                                             std::string_view review_api_version);

// What the API server checks of an object a conversion webhook returned for `original`: the
// desired apiVersion, the same kind, name, namespace and uid. InvalidArgument in
// kube-apiserver's words otherwise ("invalid groupVersion (expected example.com/v2, received
// example.com/v1)", "must have the same name: a != b").
absl::Status check_converted_object(const Object& original, const Object& converted,
                                    std::string_view desired_api_version);

}  // namespace kop::api
