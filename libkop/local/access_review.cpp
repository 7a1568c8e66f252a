#include "access_review.h"

#include "errors.h"

namespace kop::local::access_review {

namespace {

constexpr std::string_view kAccess = "selfsubjectaccessreviews";
constexpr std::string_view kRules = "selfsubjectrulesreviews";
constexpr std::string_view kReason = "kop-local allows every authenticated request";

JsonValue all_of(std::initializer_list<const char*> names, JsonAlloc& a) {
  JsonValue arr(rapidjson::kArrayType);
  for (const char* n : names) arr.PushBack(json::ref(n), a);
  return arr;
}

}  // namespace

bool is_review(std::string_view resource) {
  return resource == kAccess || resource == kRules;
}

absl::StatusOr<JsonDoc> answer(std::string_view resource, const JsonValue& body) {
  std::string_view kind =
      resource == kAccess ? "SelfSubjectAccessReview" : "SelfSubjectRulesReview";
  if (!body.IsObject()) return client::bad_request("the request body is not a JSON object");
  std::string_view got = json::string_or_empty(&body, "kind");
  if (!got.empty() && got != kind) {
    return client::bad_request("the body is a " + std::string(got) + ", not a " +
                               std::string(kind));
  }
  const JsonValue* spec = json::find(body, "spec");
  FieldErrors errs;
  if (resource == kAccess) {
    // ValidateSelfSubjectAccessReviewSpec: exactly one of the two attribute sets.
    bool res = spec && json::find(*spec, "resourceAttributes") &&
               !json::find(*spec, "resourceAttributes")->IsNull();
    bool non = spec && json::find(*spec, "nonResourceAttributes") &&
               !json::find(*spec, "nonResourceAttributes")->IsNull();
    if (!res && !non) {
      errs.push_back(field::invalid_raw(
          "spec.resourceAttributes", "\"null\"",
          "exactly one of nonResourceAttributes or resourceAttributes must be specified"));
    } else if (res && non) {
      // The bad value as Go's %#v prints the internal type, as the API server shows it.
      const JsonValue& n = *json::find(*spec, "nonResourceAttributes");
      errs.push_back(
          field::invalid_raw("spec.nonResourceAttributes",
                             "authorization.NonResourceAttributes{Path:" +
                                 field::quote(json::string_or_empty(&n, "path")) +
                                 ", Verb:" + field::quote(json::string_or_empty(&n, "verb")) + "}",
                             "cannot be specified in combination with resourceAttributes"));
    }
  } else if (spec == nullptr || json::string_or_empty(spec, "namespace").empty()) {
    return client::bad_request("no namespace on request");  // the API server's words
  }
  // The API server names neither kind nor object here (".authorization.k8s.io \"\" is invalid").
  if (!errs.empty()) return errors::invalid(kGroup, "", "", errs);

  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", json::make_string(kind, a), a);
  d.AddMember("apiVersion", "authorization.k8s.io/v1", a);
  JsonValue meta(rapidjson::kObjectType);
  meta.AddMember("creationTimestamp", JsonValue(), a);
  d.AddMember("metadata", meta, a);
  d.AddMember("spec", JsonValue(*spec, a), a);
  JsonValue status(rapidjson::kObjectType);
  if (resource == kAccess) {
    status.AddMember("allowed", true, a);
    status.AddMember("reason", json::make_string(kReason, a), a);
  } else {
    JsonValue rule(rapidjson::kObjectType);
    rule.AddMember("verbs", all_of({"*"}, a), a);
    rule.AddMember("apiGroups", all_of({"*"}, a), a);
    rule.AddMember("resources", all_of({"*"}, a), a);
    JsonValue rules(rapidjson::kArrayType);
    rules.PushBack(rule, a);
    status.AddMember("resourceRules", rules, a);
    JsonValue non(rapidjson::kObjectType);
    non.AddMember("verbs", all_of({"*"}, a), a);
    non.AddMember("nonResourceURLs", all_of({"*"}, a), a);
    JsonValue nons(rapidjson::kArrayType);
    nons.PushBack(non, a);
    status.AddMember("nonResourceRules", nons, a);
    status.AddMember("incomplete", false, a);
  }
  d.AddMember("status", status, a);
  return d;
}

void add_discovery(JsonValue& resources, JsonAlloc& a) {
  for (auto [name, kind] : {std::pair{kAccess, "SelfSubjectAccessReview"},
                            std::pair{kRules, "SelfSubjectRulesReview"}}) {
    JsonValue r(rapidjson::kObjectType);
    r.AddMember("name", json::make_string(name, a), a);
    r.AddMember("singularName", "", a);
    r.AddMember("namespaced", false, a);
    r.AddMember("kind", json::ref(kind), a);
    r.AddMember("verbs", all_of({"create"}, a), a);
    resources.PushBack(r, a);
  }
}

JsonDoc whoami(bool authenticated) {
  JsonDoc d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("kind", "SelfSubjectReview", a);
  d.AddMember("apiVersion", "authentication.k8s.io/v1", a);
  JsonValue meta(rapidjson::kObjectType);
  meta.AddMember("creationTimestamp", JsonValue(), a);
  d.AddMember("metadata", meta, a);
  JsonValue user(rapidjson::kObjectType);
  user.AddMember("username", json::ref(authenticated ? "kop-local" : "system:anonymous"), a);
  user.AddMember("groups",
                 authenticated ? all_of({"system:masters", "system:authenticated"}, a)
                               : all_of({"system:unauthenticated"}, a),
                 a);
  JsonValue status(rapidjson::kObjectType);
  status.AddMember("userInfo", user, a);
  d.AddMember("status", status, a);
  return d;
}

void add_authn_discovery(JsonValue& resources, JsonAlloc& a) {
  JsonValue r(rapidjson::kObjectType);
  r.AddMember("name", json::make_string(kWhoami, a), a);
  r.AddMember("singularName", "", a);
  r.AddMember("namespaced", false, a);
  r.AddMember("kind", "SelfSubjectReview", a);
  r.AddMember("verbs", all_of({"create"}, a), a);
  resources.PushBack(r, a);
}

}  // namespace kop::local::access_review
