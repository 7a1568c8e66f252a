#include "admission.h"

#include <algorithm>

#include "kop/api/labels.h"
#include "kop/api/review.h"
#include "kop/client/errors.h"
#include "kop/local/store.h"
#include "patch.h"
#include "webhook_call.h"

namespace kop::local::admission {

namespace {

// Whether the string array `list` holds `value` or "*". An absent list matches nothing.
bool listed(const JsonValue* list, std::string_view value) {
  if (list == nullptr || !list->IsArray()) return false;
  for (const auto& v : list->GetArray()) {
    std::string_view s = json::as_string_view(v);
    if (s == "*" || s == value) return true;
  }
  return false;
}

bool resource_listed(const JsonValue* list, std::string_view resource, std::string_view sub) {
  if (list == nullptr || !list->IsArray()) return false;
  for (const auto& v : list->GetArray()) {
    std::string_view s = json::as_string_view(v);
    if (s == "*/*") return true;
    auto slash = s.find('/');
    std::string_view res = s.substr(0, slash);
    std::string_view want_sub = slash == std::string_view::npos ? "" : s.substr(slash + 1);
    if (res != "*" && res != resource) continue;
    if (want_sub == "*" ? !sub.empty() : want_sub == sub) return true;
  }
  return false;
}

bool rules_match(const JsonValue& hook, const Request& r) {
  const JsonValue* rules = json::find(hook, "rules");
  if (rules == nullptr || !rules->IsArray()) return false;
  bool exact = json::string_or_empty(&hook, "matchPolicy") == "Exact";
  for (const auto& rule : rules->GetArray()) {
    if (!listed(json::find(rule, "operations"), api::to_string(r.op))) continue;
    if (!listed(json::find(rule, "apiGroups"), r.type.group)) continue;
    if (exact && !listed(json::find(rule, "apiVersions"), r.type.version)) continue;
    if (!resource_listed(json::find(rule, "resources"), r.type.resource, r.sub_resource)) continue;
    std::string_view scope = json::string_or_empty(&rule, "scope");
    if (scope == "Cluster" && r.type.namespaced) continue;
    if (scope == "Namespaced" && !r.type.namespaced) continue;
    return true;
  }
  return false;
}

const JsonValue* labels_of(const JsonValue* obj) {
  return obj == nullptr ? nullptr : json::path(*obj, {"metadata", "labels"});
}

// namespaceSelector and objectSelector, judged on the request as it is now. A selector that does
// not parse is a failed call (failurePolicy decides).
absl::StatusOr<bool> selectors_match(Store& store, const JsonValue& hook, const Request& r) {
  if (const JsonValue* sel = json::find(hook, "objectSelector"); sel && !sel->IsNull()) {
    auto s = api::LabelSelector::from_json(sel);
    if (!s.ok())
      return absl::InvalidArgumentError("objectSelector: " + std::string(s.status().message()));
    if (!s->matches_json(labels_of(r.object)) && !s->matches_json(labels_of(r.old_object))) {
      return false;
    }
  }
  const JsonValue* sel = json::find(hook, "namespaceSelector");
  if (sel == nullptr || sel->IsNull()) return true;
  auto s = api::LabelSelector::from_json(sel);
  if (!s.ok())
    return absl::InvalidArgumentError("namespaceSelector: " + std::string(s.status().message()));
  if (s->empty()) return true;
  bool is_namespace = r.type.group.empty() && r.type.resource == "namespaces";
  if (is_namespace) {
    return s->matches_json(labels_of(r.object != nullptr ? r.object : r.old_object));
  }
  if (!r.type.namespaced) return true;
  auto ns_type = store.registry().by_resource("", "v1", "namespaces");
  auto ns = store.stored(*ns_type, "", r.ns);
  return ns != nullptr && s->matches_json(labels_of(&ns->doc()));
}

// The review kop::local sends: the request as the API server describes it, made by kop-local's
// user (system:masters), in the version requested (no conversion).
absl::StatusOr<api::AdmissionRequest> review_of(const Request& r, std::string uid) {
  api::AdmissionRequest out;
  out.uid = std::move(uid);
  out.kind = {r.type.group, r.type.version, r.type.kind};
  out.resource = {r.type.group, r.type.version, r.type.resource};
  out.sub_resource = r.sub_resource;
  out.name = r.name;
  out.namespace_ = r.ns;
  out.operation = r.op;
  out.user_info = {
      .username = "kop-local", .uid = {}, .groups = {"system:masters", "system:authenticated"}};
  for (auto [from, to] :
       {std::pair{r.object, &out.object}, std::pair{r.old_object, &out.old_object}}) {
    if (from == nullptr) continue;
    auto obj = api::Object::from_value(*from);
    if (!obj.ok()) return obj.status();
    *to = std::move(*obj);
  }
  out.options =
      api::Object("meta.k8s.io/v1", r.op == api::AdmissionOperation::kCreate   ? "CreateOptions"
                                    : r.op == api::AdmissionOperation::kUpdate ? "UpdateOptions"
                                                                               : "DeleteOptions");
  out.dry_run = r.dry_run;
  return out;
}

// The store's own reads, as endpoint_of() makes them.
class StoreReads : public StoredReader {
 public:
  explicit StoreReads(Store& store) : store_(store) {}
  ResourceTypePtr type(std::string_view group, std::string_view version,
                       std::string_view resource) const override {
    return store_.registry().by_resource(group, version, resource);
  }
  std::vector<ObjectPtr> stored(const ResourceType& t) const override { return store_.stored(t); }
  ObjectPtr stored(const ResourceType& t, std::string_view ns,
                   std::string_view name) const override {
    return store_.stored(t, ns, name);
  }

 private:
  Store& store_;
};

// One call. OK with the answer; a denial as the API server words it; a failed call as
// InternalError unless failurePolicy is Ignore (then nullopt: skipped).
absl::StatusOr<std::optional<api::AdmissionResponse>> call(Store& store, const Hook& hook,
                                                           const Request& r) {
  const JsonValue& w = *hook.webhook;
  auto matched = selectors_match(store, w, r);
  if (matched.ok() && !*matched) return std::optional<api::AdmissionResponse>();
  std::string_view side_effects = json::string_or_empty(&w, "sideEffects");
  if (r.dry_run && side_effects != "None" && side_effects != "NoneOnDryRun") {
    return client::bad_request("admission webhook \"" + hook.name +
                               "\" has side effects and does not support dry run");
  }
  bool ignore = json::string_or_empty(&w, "failurePolicy") == "Ignore";
  int64_t timeout = std::clamp<int64_t>(json::get_int(&w, "timeoutSeconds").value_or(10), 1, 30);
  auto failed =
      [&](const std::string& why) -> absl::StatusOr<std::optional<api::AdmissionResponse>> {
    if (ignore) return std::optional<api::AdmissionResponse>();
    return client::internal_error("failed calling webhook \"" + hook.name +
                                  "\": " + std::string(why));
  };
  if (!matched.ok()) return failed(std::string(matched.status().message()));
  if (!listed(json::find(w, "admissionReviewVersions"), "v1")) {
    return failed("it does not accept admission.k8s.io/v1 AdmissionReview");
  }
  const JsonValue* config = json::find(w, "clientConfig");
  if (config == nullptr || !config->IsObject()) return failed("no clientConfig");
  auto ep = endpoint_of(StoreReads(store), *config, "timeout=" + std::to_string(timeout) + "s");
  if (!ep.ok()) return failed(std::string(ep.status().message()));
  auto review = review_of(r, review_uid());
  if (!review.ok()) return failed(std::string(review.status().message()));
  auto body = post_review(*ep, api::admission_request_json(*review), absl::Seconds(timeout));
  if (!body.ok()) return failed(std::string(body.status().message()));
  auto answer = api::parse_admission_response(*body, review->uid, hook.mutating);
  if (!answer.ok()) return failed(std::string(answer.status().message()));
  if (!answer->allowed) {
    client::ApiStatus s;
    s.reason = answer->reason;
    s.message = answer->message;
    s.code = answer->code;
    s.status = "Failure";
    if (s.code < 400) s.code = 400;
    s.message = "admission webhook \"" + hook.name + "\" denied the request" +
                (s.message.empty() ? " without explanation" : ": " + s.message);
    return client::to_status(s);
  }
  return std::optional<api::AdmissionResponse>(std::move(*answer));
}

}  // namespace

std::vector<Hook> matching(Store& store, bool mutating, const Request& request) {
  std::vector<Hook> out;
  auto type = store.registry().by_resource(
      "admissionregistration.k8s.io", "v1",
      mutating ? "mutatingwebhookconfigurations" : "validatingwebhookconfigurations");
  if (type == nullptr) return out;
  auto items = store.stored(*type);
  if (items.empty()) return out;
  std::sort(items.begin(), items.end(),
            [](const ObjectPtr& a, const ObjectPtr& b) { return a->name() < b->name(); });
  for (const auto& config : items) {
    const JsonValue* hooks = json::find(config->doc(), "webhooks");
    if (hooks == nullptr || !hooks->IsArray()) continue;
    for (const auto& w : hooks->GetArray()) {
      if (rules_match(w, request)) {
        out.push_back({config, &w, std::string(json::string_or_empty(&w, "name")), mutating});
      }
    }
  }
  return out;
}

absl::Status mutate(Store& store, const std::vector<Hook>& hooks, Request request, JsonDoc& obj) {
  for (const auto& hook : hooks) {
    request.object = &obj;
    auto answer = call(store, hook, request);
    if (!answer.ok()) return answer.status();
    if (!answer->has_value() || (*answer)->patch.empty()) continue;
    auto patched = patch::json_patch(obj, (*answer)->patch);
    if (!patched.ok()) {
      return client::internal_error(
          "admission webhook \"" + hook.name +
          "\" returned a patch that does not apply: " + std::string(patched.status().message()));
    }
    obj = std::move(*patched);
  }
  return absl::OkStatus();
}

absl::Status validate(Store& store, const std::vector<Hook>& hooks, const Request& request) {
  for (const auto& hook : hooks) {
    auto answer = call(store, hook, request);
    if (!answer.ok()) return answer.status();
  }
  return absl::OkStatus();
}

}  // namespace kop::local::admission
