#include "kop/api/review.h"

#include <absl/strings/escaping.h>
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "kop/api/json.h"
#include "kop/log/quote.h"

namespace kop::api {

namespace {

using kop::log::quote;
using Value = rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kAdmissionV1 = "admission.k8s.io/v1";

// Debian's abseil has its own string_view, which fmt does not take.
std::string_view sv(absl::string_view s) {
  return {s.data(), s.size()};
}

// Reads the fields of one review's `request` (or `response`), each error naming the field.
class FieldReader {
 public:
  FieldReader(std::string_view review, const Value& request, std::string_view part = "request")
      : review_(review), part_(part), request_(request) {}

  absl::Status error(std::string_view field, std::string_view what) const {
    return absl::InvalidArgumentError(fmt::format("{} {}.{}: {}", review_, part_, field, what));
  }

  // A string member; absent (or null) reads as "" unless required.
  absl::StatusOr<std::string> string(const Value* parent, std::string_view field,
                                     std::string_view key, bool required = false) const {
    const Value* v = json::find(parent, key);
    if (v == nullptr || v->IsNull()) {
      if (required) return error(field, "required");
      return std::string();
    }
    if (!v->IsString()) return error(field, "must be a string");
    return std::string(json::as_string_view(*v));
  }

  // A member that must be an object when present (null reads as absent).
  absl::StatusOr<const Value*> object(const Value* parent, std::string_view field,
                                      std::string_view key, bool required = false) const {
    const Value* v = json::find(parent, key);
    if (v == nullptr || v->IsNull()) {
      if (required) return error(field, "required");
      return nullptr;
    }
    if (!v->IsObject()) return error(field, "must be an object");
    return v;
  }

  absl::StatusOr<std::optional<Object>> embedded(std::string_view key) const {
    auto v = object(&request_, key, key);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return std::optional<Object>();
    auto obj = Object::from_value(**v);
    if (!obj.ok()) return error(key, std::string(obj.status().message()));
    return std::optional<Object>(std::move(*obj));
  }

  // A {group, version, kind} or {group, version, resource} member: `last` names the third field.
  template <typename GV>
  absl::StatusOr<GV> group_version(std::string_view key, bool required, std::string_view last,
                                   std::string GV::*last_member) const {
    auto v = object(&request_, key, key, required);
    if (!v.ok()) return v.status();
    GV out;
    if (*v == nullptr) return out;
    std::string f(key);
    auto g = string(*v, f + ".group", "group");
    auto ver = string(*v, f + ".version", "version", true);
    auto third = string(*v, fmt::format("{}.{}", f, last), last, true);
    for (const auto* s : {&g, &ver, &third}) {
      if (!s->ok()) return s->status();
    }
    out.group = std::move(*g);
    out.version = std::move(*ver);
    out.*last_member = std::move(*third);
    return out;
  }
  absl::StatusOr<GroupVersionKind> gvk(std::string_view key, bool required) const {
    return group_version(key, required, "kind", &GroupVersionKind::kind);
  }
  absl::StatusOr<GroupVersionResource> gvr(std::string_view key, bool required) const {
    return group_version(key, required, "resource", &GroupVersionResource::resource);
  }

 private:
  std::string_view review_;
  std::string_view part_;
  const Value& request_;
};

// The root object's `request`, after checking apiVersion and kind.
absl::StatusOr<const Value*> review_request(const Object& root, std::string_view kind,
                                            std::initializer_list<std::string_view> versions) {
  std::string_view api_version = root.api_version();
  bool known = false;
  for (auto v : versions) known = known || api_version == v;
  if (!known) {
    return absl::InvalidArgumentError(
        fmt::format("{}: apiVersion {} is not {}", kind, quote(api_version), *versions.begin()));
  }
  if (root.kind() != kind) {
    return absl::InvalidArgumentError(
        fmt::format("{}: kind {} is not {}", kind, quote(root.kind()), kind));
  }
  const Value* request = json::find(root.doc(), "request");
  if (request == nullptr || request->IsNull()) {
    return absl::InvalidArgumentError(fmt::format("{}: request is required", kind));
  }
  if (!request->IsObject()) {
    return absl::InvalidArgumentError(fmt::format("{}: request must be an object", kind));
  }
  return request;
}

absl::StatusOr<AdmissionOperation> parse_operation(const FieldReader& r, std::string_view text) {
  for (auto op : {AdmissionOperation::kCreate, AdmissionOperation::kUpdate,
                  AdmissionOperation::kDelete, AdmissionOperation::kConnect}) {
    if (text == to_string(op)) return op;
  }
  return r.error("operation", quote(text) + " is not CREATE, UPDATE, DELETE or CONNECT");
}

void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_raw_object(Writer& w, const Object& obj) {
  std::string text = obj.to_json();
  w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
}

// {group, version, <last>}: a GroupVersionKind or a GroupVersionResource.
template <typename GV>
void write_group_version(Writer& w, const GV& gv, const char* last,
                         const std::string GV::*last_member) {
  w.StartObject();
  w.Key("group");
  write_string(w, gv.group);
  w.Key("version");
  write_string(w, gv.version);
  w.Key(last);
  write_string(w, gv.*last_member);
  w.EndObject();
}

void write_kind(Writer& w, const GroupVersionKind& gvk) {
  write_group_version(w, gvk, "kind", &GroupVersionKind::kind);
}

void write_resource(Writer& w, const GroupVersionResource& gvr) {
  write_group_version(w, gvr, "resource", &GroupVersionResource::resource);
}

void write_optional_object(Writer& w, const std::optional<Object>& obj) {
  if (obj) {
    write_raw_object(w, *obj);
  } else {
    w.Null();
  }
}

std::string finish(const rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

std::string_view to_string(AdmissionOperation op) {
  switch (op) {
    case AdmissionOperation::kCreate:
      return "CREATE";
    case AdmissionOperation::kUpdate:
      return "UPDATE";
    case AdmissionOperation::kDelete:
      return "DELETE";
    case AdmissionOperation::kConnect:
      return "CONNECT";
  }
  return "CREATE";
}

absl::StatusOr<AdmissionRequest> parse_admission_review(std::string_view body) {
  auto root = Object::parse(body);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("AdmissionReview: {}", sv(root.status().message())));
  }
  auto request =
      review_request(*root, "AdmissionReview", {kAdmissionV1, "admission.k8s.io/v1beta1"});
  if (!request.ok()) return request.status();
  const Value& req = **request;
  FieldReader r("AdmissionReview", req);

  AdmissionRequest out;
  out.review_api_version = std::string(root->api_version());
  auto uid = r.string(&req, "uid", "uid", true);
  if (!uid.ok()) return uid.status();
  if (uid->empty()) return r.error("uid", "must not be empty");
  out.uid = std::move(*uid);

  auto kind = r.gvk("kind", true);
  if (!kind.ok()) return kind.status();
  out.kind = std::move(*kind);
  auto resource = r.gvr("resource", true);
  if (!resource.ok()) return resource.status();
  out.resource = std::move(*resource);
  auto request_kind = r.gvk("requestKind", false);
  if (!request_kind.ok()) return request_kind.status();
  out.request_kind = request_kind->kind.empty() ? out.kind : std::move(*request_kind);
  auto request_resource = r.gvr("requestResource", false);
  if (!request_resource.ok()) return request_resource.status();
  out.request_resource =
      request_resource->resource.empty() ? out.resource : std::move(*request_resource);

  for (auto [field, dest] :
       {std::pair{"subResource", &out.sub_resource}, std::pair{"name", &out.name},
        std::pair{"namespace", &out.namespace_}}) {
    auto s = r.string(&req, field, field);
    if (!s.ok()) return s.status();
    *dest = std::move(*s);
  }
  auto op = r.string(&req, "operation", "operation", true);
  if (!op.ok()) return op.status();
  auto operation = parse_operation(r, *op);
  if (!operation.ok()) return operation.status();
  out.operation = *operation;

  auto user = r.object(&req, "userInfo", "userInfo");
  if (!user.ok()) return user.status();
  if (*user != nullptr) {
    auto name = r.string(*user, "userInfo.username", "username");
    auto uuid = r.string(*user, "userInfo.uid", "uid");
    if (!name.ok()) return name.status();
    if (!uuid.ok()) return uuid.status();
    out.user_info.username = std::move(*name);
    out.user_info.uid = std::move(*uuid);
    if (const Value* groups = json::find(*user, "groups"); groups && !groups->IsNull()) {
      if (!groups->IsArray()) return r.error("userInfo.groups", "must be an array of strings");
      for (const Value& g : groups->GetArray()) {
        if (!g.IsString()) return r.error("userInfo.groups", "must be an array of strings");
        out.user_info.groups.emplace_back(json::as_string_view(g));
      }
    }
  }

  for (auto [field, dest] :
       {std::pair{"object", &out.object}, std::pair{"oldObject", &out.old_object},
        std::pair{"options", &out.options}}) {
    auto obj = r.embedded(field);
    if (!obj.ok()) return obj.status();
    *dest = std::move(*obj);
  }
  if (const Value* dry = json::find(req, "dryRun"); dry && !dry->IsNull()) {
    if (!dry->IsBool()) return r.error("dryRun", "must be a boolean");
    out.dry_run = dry->GetBool();
  }
  switch (out.operation) {
    case AdmissionOperation::kCreate:
      if (!out.object) return r.error("object", "required for CREATE");
      break;
    case AdmissionOperation::kUpdate:
      if (!out.object) return r.error("object", "required for UPDATE");
      if (!out.old_object) return r.error("oldObject", "required for UPDATE");
      break;
    case AdmissionOperation::kDelete:
    case AdmissionOperation::kConnect:
      break;
  }
  return out;
}

std::string admission_review_json(const AdmissionResponse& response,
                                  std::string_view review_api_version) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("apiVersion");
  write_string(w, review_api_version);
  w.Key("kind");
  w.String("AdmissionReview");
  w.Key("response");
  w.StartObject();
  w.Key("uid");
  write_string(w, response.uid);
  w.Key("allowed");
  w.Bool(response.allowed);
  if (!response.allowed || response.code != 0) {
    w.Key("status");
    w.StartObject();
    w.Key("metadata");
    w.StartObject();
    w.EndObject();
    w.Key("status");
    w.String(response.allowed ? "Success" : "Failure");
    if (!response.message.empty()) {
      w.Key("message");
      write_string(w, response.message);
    }
    if (!response.reason.empty()) {
      w.Key("reason");
      write_string(w, response.reason);
    }
    w.Key("code");
    w.Int(response.code != 0 ? response.code : 403);
    w.EndObject();
  }
  if (!response.patch.empty()) {
    w.Key("patchType");
    w.String("JSONPatch");
    w.Key("patch");
    write_string(w, absl::Base64Escape(response.patch));
  }
  if (!response.warnings.empty()) {
    w.Key("warnings");
    w.StartArray();
    for (const auto& warning : response.warnings) write_string(w, warning);
    w.EndArray();
  }
  if (!response.audit_annotations.empty()) {
    w.Key("auditAnnotations");
    w.StartObject();
    for (const auto& [k, v] : response.audit_annotations) {
      write_string(w, k);
      write_string(w, v);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return finish(buf);
}

std::string admission_request_json(const AdmissionRequest& request) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("apiVersion");
  write_string(w, kAdmissionV1);
  w.Key("kind");
  w.String("AdmissionReview");
  w.Key("request");
  w.StartObject();
  w.Key("uid");
  write_string(w, request.uid);
  w.Key("kind");
  write_kind(w, request.kind);
  w.Key("resource");
  write_resource(w, request.resource);
  w.Key("requestKind");
  write_kind(w, request.request_kind.kind.empty() ? request.kind : request.request_kind);
  w.Key("requestResource");
  write_resource(
      w, request.request_resource.resource.empty() ? request.resource : request.request_resource);
  if (!request.sub_resource.empty()) {
    w.Key("subResource");
    write_string(w, request.sub_resource);
    w.Key("requestSubResource");
    write_string(w, request.sub_resource);
  }
  w.Key("name");
  write_string(w, request.name);
  if (!request.namespace_.empty()) {
    w.Key("namespace");
    write_string(w, request.namespace_);
  }
  w.Key("operation");
  write_string(w, to_string(request.operation));
  w.Key("userInfo");
  w.StartObject();
  w.Key("username");
  write_string(w, request.user_info.username);
  if (!request.user_info.uid.empty()) {
    w.Key("uid");
    write_string(w, request.user_info.uid);
  }
  w.Key("groups");
  w.StartArray();
  for (const auto& g : request.user_info.groups) write_string(w, g);
  w.EndArray();
  w.EndObject();
  w.Key("object");
  write_optional_object(w, request.object);
  w.Key("oldObject");
  write_optional_object(w, request.old_object);
  w.Key("dryRun");
  w.Bool(request.dry_run);
  w.Key("options");
  write_optional_object(w, request.options);
  w.EndObject();
  w.EndObject();
  return finish(buf);
}

absl::StatusOr<AdmissionResponse> parse_admission_response(std::string_view body,
                                                           std::string_view uid, bool mutating) {
  auto root = Object::parse(body);
  if (!root.ok()) return absl::InvalidArgumentError(std::string(root.status().message()));
  const Value* resp = json::find(root->doc(), "response");
  if (resp == nullptr || resp->IsNull()) {
    return absl::InvalidArgumentError("webhook response was absent");
  }
  if (!resp->IsObject()) return absl::InvalidArgumentError("response must be an object");
  FieldReader r("AdmissionReview", *resp, "response");
  auto got_uid = r.string(resp, "uid", "uid");
  if (!got_uid.ok()) return got_uid.status();
  if (*got_uid != uid) {
    return absl::InvalidArgumentError(
        fmt::format("expected response.uid={}, got {}", quote(uid), quote(*got_uid)));
  }
  if (root->api_version() != kAdmissionV1 || root->kind() != "AdmissionReview") {
    return absl::InvalidArgumentError(
        fmt::format("expected webhook response of {}, Kind=AdmissionReview, got {}, Kind={}",
                    kAdmissionV1, root->api_version(), root->kind()));
  }
  AdmissionResponse out;
  out.uid = std::move(*got_uid);
  if (const Value* allowed = json::find(*resp, "allowed"); allowed && !allowed->IsNull()) {
    if (!allowed->IsBool()) return r.error("allowed", "must be a boolean");
    out.allowed = allowed->GetBool();
  } else {
    out.allowed = false;
  }
  auto status = r.object(resp, "status", "status");
  if (!status.ok()) return status.status();
  if (*status != nullptr) {
    auto message = r.string(*status, "status.message", "message");
    auto reason = r.string(*status, "status.reason", "reason");
    if (!message.ok()) return message.status();
    if (!reason.ok()) return reason.status();
    out.message = std::move(*message);
    out.reason = std::move(*reason);
    if (const Value* code = json::find(**status, "code"); code && !code->IsNull()) {
      if (!code->IsInt()) return r.error("status.code", "must be a 32-bit integer");
      out.code = code->GetInt();
    }
  }
  auto patch = r.string(resp, "patch", "patch");
  if (!patch.ok()) return patch.status();
  const Value* patch_type = json::find(*resp, "patchType");
  bool has_type = patch_type != nullptr && !patch_type->IsNull();
  if (!mutating) {
    if (!patch->empty())
      return absl::InvalidArgumentError("validating webhook may not return response.patch");
    if (has_type)
      return absl::InvalidArgumentError("validating webhook may not return response.patchType");
    return out;
  }
  if (!patch->empty() && !has_type) {
    return absl::InvalidArgumentError("webhook returned response.patch but not response.patchType");
  }
  if (patch->empty() && has_type) {
    return absl::InvalidArgumentError("webhook returned response.patchType but not response.patch");
  }
  if (has_type) {
    std::string_view type = patch_type->IsString() ? json::as_string_view(*patch_type) : "";
    if (type != "JSONPatch") {
      return absl::InvalidArgumentError(
          fmt::format("webhook returned invalid response.patchType of {}", quote(type)));
    }
    if (!absl::Base64Unescape(absl::string_view(patch->data(), patch->size()), &out.patch)) {
      return r.error("patch", "is not base64");
    }
  }
  return out;
}

absl::StatusOr<ConversionRequest> parse_conversion_review(std::string_view body) {
  auto root = Object::parse(body);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("ConversionReview: {}", sv(root.status().message())));
  }
  auto request =
      review_request(*root, "ConversionReview", {kConversionReviewV1, kConversionReviewV1beta1});
  if (!request.ok()) return request.status();
  const Value& req = **request;
  FieldReader r("ConversionReview", req);
  ConversionRequest out;
  out.review_api_version = std::string(root->api_version());
  auto uid = r.string(&req, "uid", "uid", true);
  if (!uid.ok()) return uid.status();
  if (uid->empty()) return r.error("uid", "must not be empty");
  out.uid = std::move(*uid);
  auto desired = r.string(&req, "desiredAPIVersion", "desiredAPIVersion", true);
  if (!desired.ok()) return desired.status();
  if (!GroupVersion::parse(*desired).ok()) {
    return r.error("desiredAPIVersion", quote(*desired) + " is not group/version");
  }
  out.desired_api_version = std::move(*desired);
  const Value* objects = json::find(req, "objects");
  if (objects == nullptr || objects->IsNull()) return out;
  if (!objects->IsArray()) return r.error("objects", "must be an array of objects");
  out.objects.reserve(objects->Size());
  for (rapidjson::SizeType i = 0; i < objects->Size(); ++i) {
    const Value& o = (*objects)[i];
    std::string field = fmt::format("objects[{}]", i);
    if (!o.IsObject()) return r.error(field, "must be an object");
    auto obj = Object::from_value(o);
    if (!obj.ok()) return r.error(field, std::string(obj.status().message()));
    if (obj->api_version().empty() || obj->kind().empty()) {
      return r.error(field, "apiVersion and kind are required");
    }
    out.objects.push_back(std::move(*obj));
  }
  return out;
}

std::string conversion_request_json(std::string_view review_api_version, std::string_view uid,
                                    std::string_view desired_api_version,
                                    const std::vector<const Object*>& objects) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("kind");
  w.String("ConversionReview");
  w.Key("apiVersion");
  write_string(w, review_api_version);
  w.Key("request");
  w.StartObject();
  w.Key("uid");
  write_string(w, uid);
  w.Key("desiredAPIVersion");
  write_string(w, desired_api_version);
  w.Key("objects");
  w.StartArray();
  for (const Object* o : objects) o->doc().Accept(w);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return finish(buf);
}

absl::StatusOr<ConversionResponse> parse_conversion_response(std::string_view body,
                                                             std::string_view uid,
                                                             std::string_view review_api_version) {
  auto root = Object::parse(body);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("the answer is not a JSON object: {}", sv(root.status().message())));
  }
  const bool v1 = review_api_version == kConversionReviewV1;
  if (v1 && (root->api_version() != kConversionReviewV1 || root->kind() != "ConversionReview")) {
    return absl::InvalidArgumentError(
        fmt::format("expected webhook response of {}, Kind=ConversionReview, got {}, Kind={}",
                    kConversionReviewV1, root->api_version(), root->kind()));
  }
  const Value* resp = json::find(root->doc(), "response");
  if (resp == nullptr || !resp->IsObject())
    return absl::InvalidArgumentError("no response provided");
  ConversionResponse out;
  out.uid = std::string(json::string_or_empty(resp, "uid"));
  if (v1 && out.uid != uid) {
    return absl::InvalidArgumentError(
        fmt::format("expected response.uid={}, got {}", quote(uid), quote(out.uid)));
  }
  const Value* result = json::find(*resp, "result");
  std::string_view status = json::string_or_empty(result, "status");
  if (status != "Success") {
    std::string_view message = json::string_or_empty(result, "message");
    out.result = absl::InvalidArgumentError(
        message.empty() ? fmt::format("response.result.status was '{}', not 'Success'", status)
                        : std::string(message));
    return out;
  }
  const Value* objects = json::find(*resp, "convertedObjects");
  if (objects == nullptr || objects->IsNull()) return out;
  FieldReader r("ConversionReview", *resp, "response");
  if (!objects->IsArray()) return r.error("convertedObjects", "must be an array of objects");
  out.converted_objects.reserve(objects->Size());
  for (rapidjson::SizeType i = 0; i < objects->Size(); ++i) {
    auto obj = Object::from_value((*objects)[i]);
    if (!obj.ok()) return r.error(fmt::format("convertedObjects[{}]", i), "must be an object");
    out.converted_objects.push_back(std::move(*obj));
  }
  return out;
}

absl::Status check_converted_object(const Object& original, const Object& converted,
                                    std::string_view desired_api_version) {
  if (converted.api_version() != desired_api_version) {
    return absl::InvalidArgumentError(fmt::format("invalid groupVersion (expected {}, received {})",
                                                  desired_api_version, converted.api_version()));
  }
  struct Field {
    const char* what;
    std::string_view was, is;
  };
  const Field fields[] = {
      {"kind", original.kind(), converted.kind()},
      {"name", original.name(), converted.name()},
      {"namespace", original.ns(), converted.ns()},
      {"UID", original.uid(), converted.uid()},
  };
  for (const Field& f : fields) {
    if (f.was != f.is) {
      return absl::InvalidArgumentError(
          fmt::format("must have the same {}: {} != {}", f.what, f.was, f.is));
    }
  }
  return absl::OkStatus();
}

std::string conversion_review_json(const ConversionResponse& response,
                                   std::string_view review_api_version) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("apiVersion");
  write_string(w, review_api_version);
  w.Key("kind");
  w.String("ConversionReview");
  w.Key("response");
  w.StartObject();
  w.Key("uid");
  write_string(w, response.uid);
  w.Key("result");
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
  w.Key("status");
  w.String(response.result.ok() ? "Success" : "Failure");
  if (!response.result.ok()) {
    w.Key("message");
    write_string(w, std::string(response.result.message()));
  }
  w.EndObject();
  w.Key("convertedObjects");
  w.StartArray();
  if (response.result.ok()) {
    for (const auto& obj : response.converted_objects) write_raw_object(w, obj);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return finish(buf);
}

}  // namespace kop::api
