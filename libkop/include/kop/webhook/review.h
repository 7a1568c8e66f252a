// kop/webhook/review.h: the wire format of the reviews the API server sends to webhooks —
// admission.k8s.io/v1 AdmissionReview and apiextensions.k8s.io/v1 ConversionReview — read
// strictly and answered in the shape the API server expects.
//
// Reading is strict because the body comes from the network: the root must be a review of the
// expected apiVersion and kind, `request` an object with a non-empty uid, every field the type
// the API defines; anything else is InvalidArgument naming the field
// ("AdmissionReview request.operation: \"PATCH\" is not CREATE, UPDATE, DELETE or CONNECT").
// A parse never crashes and never reads past the body (tests/fuzz/webhook_review.cpp).
// AdmissionReview v1beta1 is accepted too (same fields); the answer carries the request's
// apiVersion, as the API server requires.
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

namespace kop::webhook {

enum class Operation { kCreate, kUpdate, kDelete, kConnect };
// "CREATE", "UPDATE", "DELETE", "CONNECT".
std::string_view to_string(Operation op);

struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
};

// admission.k8s.io/v1 AdmissionRequest.
struct AdmissionRequest {
  std::string review_api_version;  // "admission.k8s.io/v1" (or v1beta1): the answer uses it
  std::string uid;
  api::GroupVersionKind kind;          // the object's kind as the webhook sees it
  api::GroupVersionResource resource;  // the resource being accessed
  std::string sub_resource;            // "" or e.g. "status"
  // The kind and resource of the original request when matchPolicy Equivalent converted it;
  // equal to kind/resource otherwise.
  api::GroupVersionKind request_kind;
  api::GroupVersionResource request_resource;
  std::string name;        // may be "" on CREATE (generateName)
  std::string namespace_;  // "" for cluster-scoped resources
  Operation operation = Operation::kCreate;
  UserInfo user_info;
  std::optional<api::Object> object;      // CREATE, UPDATE (and CONNECT's options object)
  std::optional<api::Object> old_object;  // UPDATE, DELETE
  bool dry_run = false;  // the API server will not persist; webhooks with side effects must not act
  std::optional<api::Object> options;  // CreateOptions / UpdateOptions / DeleteOptions
};

// Reads a whole AdmissionReview body.
absl::StatusOr<AdmissionRequest> parse_admission_review(std::string_view body);

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

// The AdmissionReview JSON the API server expects in answer.
std::string admission_review_json(const AdmissionResponse& response,
                                  std::string_view review_api_version = "admission.k8s.io/v1");

// apiextensions.k8s.io/v1 ConversionRequest.
struct ConversionRequest {
  std::string uid;
  std::string desired_api_version;  // e.g. "example.com/v2"
  std::vector<api::Object> objects;
};

absl::StatusOr<ConversionRequest> parse_conversion_review(std::string_view body);

// apiextensions.k8s.io/v1 ConversionResponse. `result` OK writes status "Success" with the
// converted objects; an error writes status "Failure" with its message and no objects.
struct ConversionResponse {
  std::string uid;
  std::vector<api::Object> converted_objects;
  absl::Status result;
};

std::string conversion_review_json(const ConversionResponse& response);

}  // namespace kop::webhook
