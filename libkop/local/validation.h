// Validation as kube-apiserver does it: apimachinery's name/label/annotation rules, ObjectMeta,
// and the built-in kinds kop reads. Messages and field paths are the API server's own, so the
// 422 Status causes match. Internal to kop::local.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "errors.h"
#include "kop/local/names.h"
#include "kop/local/resource.h"
#include "kop/local/store.h"

namespace kop::local::validation {

using Msgs = std::vector<std::string>;

Msgs is_dns1123_label(std::string_view v);
Msgs is_dns1123_subdomain(std::string_view v);
Msgs is_dns1035_label(std::string_view v);
Msgs is_qualified_name(std::string_view v);
Msgs is_valid_label_value(std::string_view v);
Msgs is_config_map_key(std::string_view v);
Msgs is_valid_port_name(std::string_view v);
Msgs is_wildcard_dns1123_subdomain(std::string_view v);
Msgs is_valid_ip(std::string_view v);

// Go's path helpers: "spec.rules[0].http".
std::string idx(std::string_view base, size_t i);
std::string key(std::string_view base, std::string_view k);  // base[k]

// ObjectMeta (ValidateObjectMetaAccessor) for a create; `is_update` skips rules that only
// apply to new objects.
void object_meta(const ResourceType& t, const JsonValue& obj, FieldErrors& errs);
void labels(const JsonValue* labels, const std::string& path, FieldErrors& errs);

// ValidateListOptions' resourceVersionMatch rules; `match` is the parameter as sent ("" = unset,
// anything but Exact and NotOlderThan is unsupported).
void list_options(const ListOptions& o, std::string_view match, FieldErrors& errs);

// Built-in kinds (Ingress, IngressClass, Service, EndpointSlice, Secret, ConfigMap, Namespace,
// CRD). `old` is null on create. Unknown kinds pass.
void builtin(const ResourceType& t, const JsonValue& obj, const JsonValue* old, FieldErrors& errs);
// admissionregistration.k8s.io/v1 Validating/MutatingWebhookConfiguration
// (validation_webhook.cpp).
void webhook_configuration(const JsonValue& obj, bool mutating, FieldErrors& errs);
// A webhook clientConfig at `path` (ValidateWebhookURL / ValidateWebhookService): exactly one of
// url (https, a host, no user, query or fragment) and service (name, namespace, port, path).
void webhook_client_config(const JsonValue* client_config, const std::string& path,
                           FieldErrors& errs);
// A CRD's spec.conversion (`old_conversion`: the stored CRD's on update, else null): strategy
// None or Webhook; Webhook needs webhook.clientConfig and conversionReviewVersions naming v1 or
// v1beta1, None allows neither. Field paths as the API server writes them
// (spec.conversion.webhookClientConfig, spec.conversion.conversionReviewVersions).
void crd_conversion(const JsonValue* conversion, const JsonValue* old_conversion,
                    FieldErrors& errs);

}  // namespace kop::local::validation
