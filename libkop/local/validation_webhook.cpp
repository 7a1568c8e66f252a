// Validation of admissionregistration.k8s.io/v1 webhook configurations, with the API server's
// messages and order (compared with kube-apiserver v1.20): what kop::local then calls
// (admission.cpp) is what a real server would accept.
#include <algorithm>
#include <set>

#include "validation.h"

namespace kop::local::validation {

namespace {

using V = JsonValue;

std::string at(const std::string& base, std::string_view field) {
  return base + "." + std::string(field);
}

void one_of(const V& hook, const std::string& base, std::string_view field,
            const std::vector<std::string>& valid, FieldErrors& errs) {
  const V* v = json::find(hook, field);
  if (v == nullptr || v->IsNull()) return;
  std::string_view s = json::as_string_view(*v);
  if (std::find(valid.begin(), valid.end(), s) == valid.end()) {
    errs.push_back(field::not_supported(at(base, field), s, valid));
  }
}

// Go's %#v of a []string: []string{"a", "b"}.
std::string go_strings(const V& list) {
  std::string out = "[]string{";
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    out += (i ? ", " : "") + field::quote(json::as_string_view(list[i]));
  }
  return out + "}";
}

void client_config(const V& hook, const std::string& base, FieldErrors& errs) {
  const V* cc = json::find(hook, "clientConfig");
  std::string path = at(base, "clientConfig");
  const V* url = json::find(cc, "url");
  const V* svc = json::find(cc, "service");
  bool has_url = url != nullptr && !url->IsNull();
  bool has_service = svc != nullptr && !svc->IsNull();
  if (has_url == has_service) {
    errs.push_back(field::required(path, "exactly one of url or service is required"));
    return;
  }
  if (has_url) {
    std::string_view text = json::as_string_view(*url);
    if (text.substr(0, 8) != "https://") {
      // The API server names the scheme it found.
      auto colon = text.find(':');
      errs.push_back(field::invalid(
          at(path, "url"), colon == std::string_view::npos ? "" : text.substr(0, colon),
          "'https' is the only allowed URL scheme; desired format: https://host[/path]"));
    }
    return;
  }
  if (json::string_or_empty(svc, "name").empty()) {
    errs.push_back(field::required(at(path, "service.name"), "service name is required"));
  }
  if (json::string_or_empty(svc, "namespace").empty()) {
    errs.push_back(field::required(at(path, "service.namespace"), "service namespace is required"));
  }
}

void review_versions(const V& hook, const std::string& base, FieldErrors& errs) {
  const V* versions = json::find(hook, "admissionReviewVersions");
  if (versions == nullptr || !versions->IsArray() || versions->Empty()) {
    errs.push_back(
        field::required(at(base, "admissionReviewVersions"), "must specify one of v1, v1beta1"));
    return;
  }
  bool known = false;
  for (const auto& v : versions->GetArray()) {
    std::string_view s = json::as_string_view(v);
    known = known || s == "v1" || s == "v1beta1";
  }
  if (!known) {
    errs.push_back(field::invalid_raw(at(base, "admissionReviewVersions"), go_strings(*versions),
                                      "must include at least one of v1, v1beta1"));
  }
}

}  // namespace

void webhook_configuration(const JsonValue& obj, bool mutating, FieldErrors& errs) {
  const V* hooks = json::find(obj, "webhooks");
  if (hooks == nullptr || !hooks->IsArray()) return;
  std::set<std::string, std::less<>> names;
  for (rapidjson::SizeType i = 0; i < hooks->Size(); ++i) {
    const V& hook = (*hooks)[i];
    std::string base = "webhooks[" + std::to_string(i) + "]";
    std::string_view name = json::string_or_empty(&hook, "name");
    if (name.empty()) {
      errs.push_back(field::required(at(base, "name"), ""));
    } else if (std::count(name.begin(), name.end(), '.') < 2) {
      errs.push_back(
          field::invalid(at(base, "name"), name,
                         "should be a domain with at least three segments separated by dots"));
    } else if (!names.insert(std::string(name)).second) {
      errs.push_back(field::duplicate(at(base, "name"), field::quote(name)));
    }
    one_of(hook, base, "failurePolicy", {"Fail", "Ignore"}, errs);
    one_of(hook, base, "matchPolicy", {"Equivalent", "Exact"}, errs);
    if (mutating) one_of(hook, base, "reinvocationPolicy", {"IfNeeded", "Never"}, errs);
    const V* side_effects = json::find(hook, "sideEffects");
    if (side_effects == nullptr || side_effects->IsNull()) {
      errs.push_back(
          field::required(at(base, "sideEffects"), "must specify one of None, NoneOnDryRun"));
    } else {
      one_of(hook, base, "sideEffects", {"None", "NoneOnDryRun"}, errs);
    }
    if (auto timeout = json::get_int(&hook, "timeoutSeconds");
        timeout && (*timeout < 1 || *timeout > 30)) {
      errs.push_back(field::invalid_int(at(base, "timeoutSeconds"), *timeout,
                                        "the timeout value must be between 1 and 30 seconds"));
    }
    client_config(hook, base, errs);
    review_versions(hook, base, errs);
  }
}

}  // namespace kop::local::validation
