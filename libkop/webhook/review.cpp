#include "kop/webhook/review.h"

#include <absl/strings/escaping.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "text.h"

#include "kop/api/json.h"

namespace kop::webhook {

namespace {

namespace json = api::json;
using Value = rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Reads the fields of one review's `request`, each error naming the field.
class FieldReader {
 public:
  FieldReader(std::string_view review, const Value& request) : review_(review), request_(request) {}

  absl::Status error(std::string_view field, std::string_view what) const {
    return absl::InvalidArgumentError(detail::cat(review_, " request.", field, ": ", what));
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

  absl::StatusOr<std::optional<api::Object>> embedded(std::string_view key) const {
    auto v = object(&request_, key, key);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return std::optional<api::Object>();
    auto obj = api::Object::from_value(**v);
    if (!obj.ok()) return error(key, std::string(obj.status().message()));
    return std::optional<api::Object>(std::move(*obj));
  }

  absl::StatusOr<api::GroupVersionKind> gvk(std::string_view key, bool required) const {
    auto v = object(&request_, key, key, required);
    if (!v.ok()) return v.status();
    api::GroupVersionKind out;
    if (*v == nullptr) return out;
    std::string f(key);
    auto g = string(*v, f + ".group", "group");
    auto ver = string(*v, f + ".version", "version", true);
    auto k = string(*v, f + ".kind", "kind", true);
    for (const auto* s : {&g, &ver, &k}) {
      if (!s->ok()) return s->status();
    }
    return api::GroupVersionKind{std::move(*g), std::move(*ver), std::move(*k)};
  }

  absl::StatusOr<api::GroupVersionResource> gvr(std::string_view key, bool required) const {
    auto v = object(&request_, key, key, required);
    if (!v.ok()) return v.status();
    api::GroupVersionResource out;
    if (*v == nullptr) return out;
    std::string f(key);
    auto g = string(*v, f + ".group", "group");
    auto ver = string(*v, f + ".version", "version", true);
    auto r = string(*v, f + ".resource", "resource", true);
    for (const auto* s : {&g, &ver, &r}) {
      if (!s->ok()) return s->status();
    }
    return api::GroupVersionResource{std::move(*g), std::move(*ver), std::move(*r)};
  }

 private:
  std::string_view review_;
  const Value& request_;
};

// The root object's `request`, after checking apiVersion and kind.
absl::StatusOr<const Value*> review_request(const api::Object& root, std::string_view kind,
                                            std::initializer_list<std::string_view> versions) {
  std::string_view api_version = root.api_version();
  bool known = false;
  for (auto v : versions) known = known || api_version == v;
  if (!known) {
    return absl::InvalidArgumentError(
        detail::cat(kind, ": apiVersion \"", api_version, "\" is not ", *versions.begin()));
  }
  if (root.kind() != kind) {
    return absl::InvalidArgumentError(
        detail::cat(kind, ": kind \"", root.kind(), "\" is not ", kind));
  }
  const Value* request = json::find(root.doc(), "request");
  if (request == nullptr || request->IsNull()) {
    return absl::InvalidArgumentError(detail::cat(kind, ": request is required"));
  }
  if (!request->IsObject()) {
    return absl::InvalidArgumentError(detail::cat(kind, ": request must be an object"));
  }
  return request;
}

absl::StatusOr<Operation> parse_operation(const FieldReader& r, std::string_view text) {
  if (text == "CREATE") return Operation::kCreate;
  if (text == "UPDATE") return Operation::kUpdate;
  if (text == "DELETE") return Operation::kDelete;
  if (text == "CONNECT") return Operation::kConnect;
  return r.error("operation",
                 detail::cat("\"", text, "\" is not CREATE, UPDATE, DELETE or CONNECT"));
}

void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_raw_object(Writer& w, const api::Object& obj) {
  std::string text = obj.to_json();
  w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
}

std::string finish(const rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

std::string_view to_string(Operation op) {
  switch (op) {
    case Operation::kCreate:
      return "CREATE";
    case Operation::kUpdate:
      return "UPDATE";
    case Operation::kDelete:
      return "DELETE";
    case Operation::kConnect:
      return "CONNECT";
  }
  return "CREATE";
}

absl::StatusOr<AdmissionRequest> parse_admission_review(std::string_view body) {
  auto root = api::Object::parse(body);
  if (!root.ok()) {
    return absl::InvalidArgumentError(detail::cat("AdmissionReview: ", root.status().message()));
  }
  auto request =
      review_request(*root, "AdmissionReview", {"admission.k8s.io/v1", "admission.k8s.io/v1beta1"});
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
    case Operation::kCreate:
      if (!out.object) return r.error("object", "required for CREATE");
      break;
    case Operation::kUpdate:
      if (!out.object) return r.error("object", "required for UPDATE");
      if (!out.old_object) return r.error("oldObject", "required for UPDATE");
      break;
    case Operation::kDelete:
    case Operation::kConnect:
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

absl::StatusOr<ConversionRequest> parse_conversion_review(std::string_view body) {
  auto root = api::Object::parse(body);
  if (!root.ok()) {
    return absl::InvalidArgumentError(detail::cat("ConversionReview: ", root.status().message()));
  }
  auto request = review_request(*root, "ConversionReview", {"apiextensions.k8s.io/v1"});
  if (!request.ok()) return request.status();
  const Value& req = **request;
  FieldReader r("ConversionReview", req);
  ConversionRequest out;
  auto uid = r.string(&req, "uid", "uid", true);
  if (!uid.ok()) return uid.status();
  if (uid->empty()) return r.error("uid", "must not be empty");
  out.uid = std::move(*uid);
  auto desired = r.string(&req, "desiredAPIVersion", "desiredAPIVersion", true);
  if (!desired.ok()) return desired.status();
  if (!api::GroupVersion::parse(*desired).ok()) {
    return r.error("desiredAPIVersion", detail::cat("\"", *desired, "\" is not group/version"));
  }
  out.desired_api_version = std::move(*desired);
  const Value* objects = json::find(req, "objects");
  if (objects == nullptr || objects->IsNull()) return out;
  if (!objects->IsArray()) return r.error("objects", "must be an array of objects");
  out.objects.reserve(objects->Size());
  for (rapidjson::SizeType i = 0; i < objects->Size(); ++i) {
    const Value& o = (*objects)[i];
    std::string field = detail::cat("objects[", i, "]");
    if (!o.IsObject()) return r.error(field, "must be an object");
    auto obj = api::Object::from_value(o);
    if (!obj.ok()) return r.error(field, std::string(obj.status().message()));
    if (obj->api_version().empty() || obj->kind().empty()) {
      return r.error(field, "apiVersion and kind are required");
    }
    out.objects.push_back(std::move(*obj));
  }
  return out;
}

std::string conversion_review_json(const ConversionResponse& response) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("apiVersion");
  w.String("apiextensions.k8s.io/v1");
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

}  // namespace kop::webhook
