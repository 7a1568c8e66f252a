#include "conversion.h"

#include <string>

#include "kop/api/review.h"
#include "kop/client/errors.h"

namespace kop::local::conversion {

namespace {

// The API server answers a failed conversion with the error as it is (no reason: it is not an
// API status error), code 500.
absl::Status failure(std::string message) {
  client::ApiStatus s;
  s.message = std::move(message);
  s.code = 500;
  return client::to_status(s);
}

// The ConversionReview apiVersion of the first of `versions` the API server speaks, or "".
std::string_view review_version(const JsonValue* versions) {
  if (versions == nullptr || !versions->IsArray()) return "";
  for (const auto& v : versions->GetArray()) {
    std::string_view s = json::as_string_view(v);
    if (s == "v1") return api::kConversionReviewV1;
    if (s == "v1beta1") return api::kConversionReviewV1beta1;
  }
  return "";
}

// The converted object with the original's metadata, except labels and annotations, which the
// webhook may change (string maps only).
absl::StatusOr<JsonDoc> restore_metadata(const JsonValue& original, const JsonValue& converted) {
  const JsonValue* answered = json::find(converted, "metadata");
  if (answered == nullptr)
    return absl::InvalidArgumentError("missing metadata in converted object");
  if (!answered->IsObject()) {
    return absl::InvalidArgumentError("invalid metadata of type " +
                                      std::string(json::type_name(*answered)) +
                                      " in converted object");
  }
  JsonDoc out = json::clone(converted);
  auto& a = out.GetAllocator();
  JsonValue meta(rapidjson::kObjectType);
  if (const JsonValue* m = json::find(original, "metadata"); m && m->IsObject()) {
    meta = json::copy(*m, a);
  }
  for (std::string_view field : {"labels", "annotations"}) {
    const JsonValue* v = json::find(*answered, field);
    if (v == nullptr || v->IsNull()) {
      json::remove_member(meta, field);
      continue;
    }
    if (!v->IsObject()) {
      return absl::InvalidArgumentError("invalid metadata." + std::string(field) + " of type " +
                                        std::string(json::type_name(*v)) + " in converted object");
    }
    for (const auto& m : v->GetObject()) {
      if (!m.value.IsString()) {
        return absl::InvalidArgumentError(
            "metadata." + std::string(field) + "[" + std::string(json::as_string_view(m.name)) +
            "] must be a string, but is " + std::string(json::type_name(m.value)) +
            " in converted object");
      }
    }
    json::set_member(meta, field, json::copy(*v, a), a);
  }
  json::set_member(out, "metadata", std::move(meta), a);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ObjectPtr>> convert(const admission::StoredReader& store,
                                               const ResourceType& t,
                                               std::vector<ObjectPtr> objects, bool list,
                                               absl::Duration timeout) {
  const std::string desired = t.api_version();
  std::vector<size_t> sent;
  std::vector<const api::Object*> docs;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (objects[i]->api_version() != desired) {
      sent.push_back(i);
      docs.push_back(objects[i].get());
    }
  }
  if (sent.empty()) return objects;
  // The request as the API server names it: the version it converts from (for a list too,
  // "Kind=Widget", as kube-apiserver v1.20 words it).
  const std::string from = std::string(objects[sent.front()]->api_version()) + ", Kind=" + t.kind;
  const std::string prefix = "conversion webhook for " + from;
  auto failed = [&](std::string_view why) {
    return failure(prefix + " failed: " + std::string(why));
  };

  auto crd_type = store.type("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  ObjectPtr crd = crd_type ? store.stored(*crd_type, "", t.resource + "." + t.group) : nullptr;
  if (crd == nullptr) return failed("its CustomResourceDefinition is gone");
  const JsonValue* conv = json::path(crd->doc(), {"spec", "conversion"});
  if (json::string_or_empty(conv, "strategy") != "Webhook") {
    // Changed to None since the kind was registered: only the apiVersion changes.
    for (size_t i : sent) {
      JsonDoc d = json::clone(objects[i]->doc());
      json::set_string(d, "apiVersion", desired, d.GetAllocator());
      objects[i] = api::share(std::move(d));
    }
    return objects;
  }
  const JsonValue* webhook = json::find(*conv, "webhook");
  std::string_view version =
      review_version(webhook ? json::find(*webhook, "conversionReviewVersions") : nullptr);
  if (version.empty()) return failure("no supported conversion review versions");
  const JsonValue* config = webhook ? json::find(*webhook, "clientConfig") : nullptr;
  if (config == nullptr || !config->IsObject()) return failed("no clientConfig");
  const auto seconds = absl::ToInt64Seconds(timeout);
  auto ep = admission::endpoint_of(store, *config,
                                   "timeout=" + std::to_string(seconds > 0 ? seconds : 1) + "s");
  if (!ep.ok()) return failed(std::string(ep.status().message()));
  const std::string uid = admission::review_uid();
  auto body = admission::post_review(*ep, api::conversion_request_json(version, uid, desired, docs),
                                     timeout);
  if (!body.ok()) return failed(std::string(body.status().message()));
  auto answer = api::parse_conversion_response(*body, uid, version);
  if (!answer.ok()) return failed(std::string(answer.status().message()));
  if (!answer->result.ok()) return failed(std::string(answer->result.message()));
  const std::vector<api::Object>& items = answer->converted_objects;
  if (items.size() != sent.size()) {
    return failure(prefix + " returned " + std::to_string(items.size()) + " objects, expected " +
                   std::to_string(sent.size()));
  }
  for (size_t k = 0; k < sent.size(); ++k) {
    const api::Object& original = *objects[sent[k]];
    const std::string at = std::to_string(k);
    if (auto st = api::check_converted_object(original, items[k], desired); !st.ok()) {
      std::string invalid = prefix;
      invalid += list ? " returned invalid converted object at index "
                      : " returned invalid object at index ";
      invalid += at;
      invalid += ": ";
      invalid += std::string(st.message());
      return failure(std::move(invalid));
    }
    auto restored = restore_metadata(original.doc(), items[k].doc());
    if (!restored.ok()) {
      std::string why = prefix;
      why += list ? " returned invalid metadata in object at index " + at + ": "
                  : std::string(" returned invalid metadata: ");
      why += std::string(restored.status().message());
      return failure(std::move(why));
    }
    objects[sent[k]] = api::share(std::move(*restored));
  }
  return objects;
}

}  // namespace kop::local::conversion
