#include "conversion.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "kop/client/errors.h"

namespace kop::local::conversion {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// The API server answers a failed conversion with the error as it is (no reason: it is not an
// API status error), code 500.
absl::Status failure(std::string message) {
  client::ApiStatus s;
  s.message = std::move(message);
  s.code = 500;
  return client::to_status(s);
}

std::string review_body(std::string_view review_api_version, const std::string& uid,
                        const std::string& desired, const std::vector<const JsonValue*>& objects) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("kind");
  w.String("ConversionReview");
  w.Key("apiVersion");
  w.String(review_api_version.data(), static_cast<rapidjson::SizeType>(review_api_version.size()));
  w.Key("request");
  w.StartObject();
  w.Key("uid");
  w.String(uid.data(), static_cast<rapidjson::SizeType>(uid.size()));
  w.Key("desiredAPIVersion");
  w.String(desired.data(), static_cast<rapidjson::SizeType>(desired.size()));
  w.Key("objects");
  w.StartArray();
  for (const JsonValue* o : objects) o->Accept(w);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// The first ConversionReview version of `versions` the API server speaks, or "".
std::string_view review_version(const JsonValue* versions) {
  if (versions == nullptr || !versions->IsArray()) return "";
  for (const auto& v : versions->GetArray()) {
    std::string_view s = json::as_string_view(v);
    if (s == "v1" || s == "v1beta1") return s;
  }
  return "";
}

// The convertedObjects of a successful answer; an error in the API server's words otherwise.
absl::StatusOr<const JsonValue*> converted_objects(const JsonDoc& answer, bool v1,
                                                   const std::string& uid) {
  if (!answer.IsObject()) return absl::InvalidArgumentError("the answer is not a JSON object");
  if (v1) {
    std::string_view av = json::string_or_empty(&answer, "apiVersion");
    std::string_view kind = json::string_or_empty(&answer, "kind");
    if (av != "apiextensions.k8s.io/v1" || kind != "ConversionReview") {
      return absl::InvalidArgumentError(
          "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got " +
          std::string(av) + ", Kind=" + std::string(kind));
    }
  }
  const JsonValue* resp = json::find(answer, "response");
  if (resp == nullptr || !resp->IsObject()) {
    return absl::InvalidArgumentError("no response provided");
  }
  // v1beta1 answers were never checked for their uid; v1 answers are.
  if (v1 && json::string_or_empty(resp, "uid") != uid) {
    return absl::InvalidArgumentError("expected response.uid=\"" + uid + "\", got \"" +
                                      std::string(json::string_or_empty(resp, "uid")) + "\"");
  }
  const JsonValue* result = json::find(*resp, "result");
  std::string_view status = json::string_or_empty(result, "status");
  if (status != "Success") {
    std::string_view message = json::string_or_empty(result, "message");
    if (!message.empty()) return absl::InvalidArgumentError(std::string(message));
    return absl::InvalidArgumentError("response.result.status was '" + std::string(status) +
                                      "', not 'Success'");
  }
  return json::find(*resp, "convertedObjects");
}

// The checks of one converted object against its original (same kind, name, namespace, uid).
absl::Status same_object(const JsonValue& in, const JsonValue& out) {
  struct Field {
    const char* what;
    std::string_view was, is;
  };
  const Field fields[] = {
      {"kind", json::string_or_empty(&in, "kind"), json::string_or_empty(&out, "kind")},
      {"name", json::path_string(in, {"metadata", "name"}),
       json::path_string(out, {"metadata", "name"})},
      {"namespace", json::path_string(in, {"metadata", "namespace"}),
       json::path_string(out, {"metadata", "namespace"})},
      {"UID", json::path_string(in, {"metadata", "uid"}),
       json::path_string(out, {"metadata", "uid"})},
  };
  for (const Field& f : fields) {
    if (f.was != f.is) {
      return absl::InvalidArgumentError("must have the same " + std::string(f.what) + ": " +
                                        std::string(f.was) + " != " + std::string(f.is));
    }
  }
  return absl::OkStatus();
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
  std::vector<const JsonValue*> docs;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (objects[i]->api_version() != desired) {
      sent.push_back(i);
      docs.push_back(&objects[i]->doc());
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
  auto body = admission::post_review(
      *ep, review_body("apiextensions.k8s.io/" + std::string(version), uid, desired, docs),
      timeout);
  if (!body.ok()) return failed(std::string(body.status().message()));
  std::string parse_error;
  auto answer = json::parse(*body, &parse_error);
  if (!answer) return failed("the answer is not JSON: " + parse_error);
  auto converted = converted_objects(*answer, version == "v1", uid);
  if (!converted.ok()) return failed(std::string(converted.status().message()));
  const JsonValue* items = *converted;
  const size_t count = items != nullptr && items->IsArray() ? items->Size() : 0;
  if (count != sent.size()) {
    return failure(prefix + " returned " + std::to_string(count) + " objects, expected " +
                   std::to_string(sent.size()));
  }
  for (size_t k = 0; k < sent.size(); ++k) {
    const JsonValue& original = objects[sent[k]]->doc();
    const JsonValue& out = (*items)[static_cast<rapidjson::SizeType>(k)];
    const std::string at = std::to_string(k);
    std::string invalid = prefix;
    invalid += list ? " returned invalid converted object at index "
                    : " returned invalid object at index ";
    invalid += at;
    invalid += ": ";
    if (!out.IsObject()) return failure(invalid + "not a JSON object");
    std::string_view got = json::string_or_empty(&out, "apiVersion");
    if (got != desired) {
      invalid += "invalid groupVersion (expected ";
      invalid += desired;
      invalid += ", received ";
      invalid += got;
      invalid += ")";
      return failure(std::move(invalid));
    }
    if (auto st = same_object(original, out); !st.ok()) {
      return failure(invalid + std::string(st.message()));
    }
    auto restored = restore_metadata(original, out);
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
