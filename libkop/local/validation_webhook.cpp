// Validation of admissionregistration.k8s.io/v1 webhook configurations, with the API server's
// messages and order (compared with kube-apiserver v1.20): what kop::local then calls
// (admission.cpp) is what a real server would accept.
#include <algorithm>
#include <cctype>
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

// Go's url.Parse, as far as ValidateWebhookURL looks: the scheme (lower-cased), the userinfo,
// host, query and fragment of "scheme://userinfo@host/path?query#fragment", or the parse error
// Go reports for a scheme that is not one.
struct UrlParts {
  std::string error;
  std::string scheme;
  std::string_view user, host, query, fragment;
};

UrlParts split_url(std::string_view text) {
  UrlParts u;
  const std::string_view raw = text;
  if (size_t hash = text.find('#'); hash != std::string_view::npos) {
    u.fragment = text.substr(hash + 1);
    text = text.substr(0, hash);
  }
  // getScheme: letters, then letters, digits, '+', '-' or '.' up to the ':'.
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (std::isalpha(static_cast<unsigned char>(c))) continue;
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        u.error =
            "parse " + field::quote(raw.substr(0, raw.find('#'))) + ": missing protocol scheme";
        return u;
      }
      for (char s : text.substr(0, i))
        u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(s)));
      text = text.substr(i + 1);
    }
    break;
  }
  if (size_t q = text.find('?'); q != std::string_view::npos) {
    u.query = text.substr(q + 1);
    text = text.substr(0, q);
  }
  if (text.substr(0, 1) != "/") {
    if (u.scheme.empty() && text.substr(0, text.find('/')).find(':') != std::string_view::npos) {
      u.error = "parse " + field::quote(raw.substr(0, raw.find('#'))) +
                ": first path segment in URL cannot contain colon";
    }
    return u;  // opaque, or a relative path: no host
  }
  if (text.substr(0, 2) != "//" || (u.scheme.empty() && text.substr(0, 3) == "///")) return u;
  std::string_view authority = text.substr(2, text.find('/', 2) - 2);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    u.user = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  u.host = authority;
  return u;
}

// ValidateWebhookURL with https required.
void webhook_url(std::string_view text, const std::string& path, FieldErrors& errs) {
  constexpr std::string_view kForm = "; desired format: https://host[/path]";
  UrlParts u = split_url(text);
  if (!u.error.empty()) {
    errs.push_back(
        field::required(path, "url must be a valid URL: " + u.error + std::string(kForm)));
    return;
  }
  if (u.scheme != "https") {
    errs.push_back(field::invalid(path, u.scheme,
                                  "'https' is the only allowed URL scheme" + std::string(kForm)));
  }
  if (u.host.empty()) {
    errs.push_back(field::invalid(path, "", "host must be provided" + std::string(kForm)));
  }
  if (!u.user.empty()) {
    errs.push_back(field::invalid(path, u.user, "user information is not permitted in the URL"));
  }
  if (!u.fragment.empty()) {
    errs.push_back(field::invalid(path, u.fragment, "fragments are not permitted in the URL"));
  }
  if (!u.query.empty()) {
    errs.push_back(field::invalid(path, u.query, "query parameters are not permitted in the URL"));
  }
}

// ValidateWebhookService: name, namespace, port (443 when unset) and the path's segments.
void webhook_service(const V& svc, const std::string& path, FieldErrors& errs) {
  // kube-apiserver (v1.20, checked) passes name and namespace in each other's place: a missing
  // namespace is reported on service.name, a missing name on service.namespace. Kept, so the
  // 422 is the same.
  if (json::string_or_empty(&svc, "namespace").empty()) {
    errs.push_back(field::required(at(path, "name"), "service name is required"));
  }
  if (json::string_or_empty(&svc, "name").empty()) {
    errs.push_back(field::required(at(path, "namespace"), "service namespace is required"));
  }
  if (auto port = json::get_int(&svc, "port"); port && (*port < 1 || *port > 65535)) {
    errs.push_back(field::invalid_int(at(path, "port"), *port,
                                      "port is not valid: must be between 1 and 65535, inclusive"));
  }
  std::string_view url_path = json::string_or_empty(&svc, "path");
  if (url_path.empty() || url_path == "/") return;
  const std::string p = at(path, "path");
  if (url_path == "//") {
    errs.push_back(field::invalid(p, url_path, "segment[0] may not be empty"));
    return;
  }
  if (url_path.front() != '/') errs.push_back(field::invalid(p, url_path, "must start with a '/'"));
  std::string_view rest = url_path.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t i = 0;
  for (size_t start = 0;; ++i) {
    size_t slash = rest.find('/', start);
    std::string_view step = rest.substr(start, slash - start);
    if (step.empty()) {
      errs.push_back(
          field::invalid(p, url_path, "segment[" + std::to_string(i) + "] may not be empty"));
    } else {
      for (const auto& m : is_dns1123_subdomain(step)) {
        errs.push_back(field::invalid(p, url_path, "segment[" + std::to_string(i) + "]: " + m));
      }
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

void client_config(const V& hook, const std::string& base, FieldErrors& errs) {
  webhook_client_config(json::find(hook, "clientConfig"), at(base, "clientConfig"), errs);
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

void webhook_client_config(const JsonValue* client_config, const std::string& path,
                           FieldErrors& errs) {
  const V* url = json::find(client_config, "url");
  const V* svc = json::find(client_config, "service");
  bool has_url = url != nullptr && !url->IsNull();
  bool has_service = svc != nullptr && !svc->IsNull();
  if (has_url == has_service) {
    errs.push_back(field::required(path, "exactly one of url or service is required"));
  } else if (has_url) {
    webhook_url(json::as_string_view(*url), at(path, "url"), errs);
  } else {
    webhook_service(*svc, at(path, "service"), errs);
  }
}

void crd_conversion(const JsonValue* conversion, const JsonValue* old_conversion,
                    FieldErrors& errs) {
  if (conversion == nullptr || conversion->IsNull()) return;
  // The API server validates its internal type, whose fields are flatter than v1's
  // spec.conversion.webhook.{clientConfig,conversionReviewVersions}: its field paths are these.
  const std::string base = "spec.conversion";
  const std::string config_path = at(base, "webhookClientConfig");
  const std::string versions_path = at(base, "conversionReviewVersions");
  std::string_view strategy = json::string_or_empty(conversion, "strategy");
  if (strategy.empty()) {
    errs.push_back(field::required(at(base, "strategy")));
  } else if (strategy != "None" && strategy != "Webhook") {
    errs.push_back(field::not_supported(at(base, "strategy"), strategy, {"None", "Webhook"}));
  }
  const V* webhook = json::find(conversion, "webhook");
  const V* config = json::find(webhook, "clientConfig");
  const V* versions = json::find(webhook, "conversionReviewVersions");
  bool has_config = config != nullptr && !config->IsNull();
  size_t version_count = versions != nullptr && versions->IsArray() ? versions->Size() : 0;
  if (strategy != "Webhook") {
    if (has_config) {
      errs.push_back(
          field::forbidden(config_path, "should not be set when strategy is not set to Webhook"));
    }
    if (version_count > 0) {
      errs.push_back(
          field::forbidden(versions_path, "should not be set when strategy is not set to Webhook"));
    }
    return;
  }
  if (!has_config) {
    errs.push_back(field::required(config_path, "required when strategy is set to Webhook"));
  } else {
    webhook_client_config(config, config_path, errs);
  }
  if (version_count == 0) {
    errs.push_back(field::required(versions_path));
    return;
  }
  std::set<std::string_view> seen;
  bool accepted = false;
  for (rapidjson::SizeType i = 0; i < versions->Size(); ++i) {
    std::string_view v = json::as_string_view((*versions)[i]);
    std::string p = idx(versions_path, i);
    if (!seen.insert(v).second) {
      errs.push_back(field::invalid(p, v, "duplicate version"));
      continue;
    }
    for (const auto& m : is_dns1035_label(v)) errs.push_back(field::invalid(p, v, m));
    accepted = accepted || v == "v1" || v == "v1beta1";
  }
  // An update of a CRD stored without an accepted version may keep it so (the API server's
  // ratcheting: a server upgrade must not make stored CRDs unwritable).
  bool old_accepted = true;
  if (const V* old = json::find(json::find(old_conversion, "webhook"), "conversionReviewVersions");
      old != nullptr && old->IsArray() && !old->Empty()) {
    old_accepted = false;
    for (const auto& v : old->GetArray()) {
      std::string_view s = json::as_string_view(v);
      old_accepted = old_accepted || s == "v1" || s == "v1beta1";
    }
  }
  if (!accepted && old_accepted) {
    errs.push_back(field::invalid_raw(versions_path, go_strings(*versions),
                                      "must include at least one of v1, v1beta1"));
  }
}

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
