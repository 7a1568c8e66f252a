#include "kop/api/gvk.h"

#include <absl/hash/hash.h>
#include <absl/status/status.h>
#include <fmt/format.h>

#include <array>

namespace kop::api {

absl::StatusOr<GroupVersion> GroupVersion::parse(std::string_view api_version) {
  if (api_version.empty()) return absl::InvalidArgumentError("empty apiVersion");
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) {
    return GroupVersion{"", std::string(api_version)};
  }
  std::string_view group = api_version.substr(0, slash);
  std::string_view version = api_version.substr(slash + 1);
  if (group.empty() || version.empty() || version.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "unexpected apiVersion \"{}\": want \"version\" or \"group/version\"", api_version));
  }
  return GroupVersion{std::string(group), std::string(version)};
}

std::string GroupVersion::to_string() const {
  if (group.empty()) return version;
  return fmt::format("{}/{}", group, version);
}

std::string GroupKind::to_string() const {
  if (group.empty()) return kind;
  return fmt::format("{}.{}", kind, group);
}

std::string GroupResource::to_string() const {
  if (group.empty()) return resource;
  return fmt::format("{}.{}", resource, group);
}

absl::StatusOr<GroupVersionKind> GroupVersionKind::from_api_version(std::string_view api_version,
                                                                    std::string_view kind) {
  auto gv = GroupVersion::parse(api_version);
  if (!gv.ok()) return gv.status();
  if (kind.empty()) return absl::InvalidArgumentError("empty kind");
  return GroupVersionKind{std::move(gv->group), std::move(gv->version), std::string(kind)};
}

std::string GroupVersionKind::to_string() const {
  return fmt::format("{}/{}, Kind={}", group, version, kind);
}

std::string GroupVersionResource::to_string() const {
  return fmt::format("{}/{}, Resource={}", group, version, resource);
}

namespace {

using SN = std::string_view;

// Short names, kept in static arrays so ResourceInfo can hold spans.
constexpr std::array<SN, 1> kPo{"po"};
constexpr std::array<SN, 1> kSvc{"svc"};
constexpr std::array<SN, 1> kEp{"ep"};
constexpr std::array<SN, 1> kCm{"cm"};
constexpr std::array<SN, 1> kNs{"ns"};
constexpr std::array<SN, 1> kNo{"no"};
constexpr std::array<SN, 1> kEv{"ev"};
constexpr std::array<SN, 1> kSa{"sa"};
constexpr std::array<SN, 1> kPv{"pv"};
constexpr std::array<SN, 1> kPvc{"pvc"};
constexpr std::array<SN, 1> kRc{"rc"};
constexpr std::array<SN, 1> kLimits{"limits"};
constexpr std::array<SN, 1> kQuota{"quota"};
constexpr std::array<SN, 1> kCs{"cs"};
constexpr std::array<SN, 1> kDeploy{"deploy"};
constexpr std::array<SN, 1> kRs{"rs"};
constexpr std::array<SN, 1> kSts{"sts"};
constexpr std::array<SN, 1> kDs{"ds"};
constexpr std::array<SN, 1> kCj{"cj"};
constexpr std::array<SN, 1> kHpa{"hpa"};
constexpr std::array<SN, 1> kPdb{"pdb"};
constexpr std::array<SN, 1> kIng{"ing"};
constexpr std::array<SN, 1> kNetpol{"netpol"};
constexpr std::array<SN, 2> kCrd{"crd", "crds"};
constexpr std::array<SN, 1> kSc{"sc"};
constexpr std::array<SN, 1> kPc{"pc"};
constexpr std::array<SN, 1> kCsr{"csr"};
constexpr std::array<SN, 0> kNone{};

const std::array<ResourceInfo, 45>& table() {
  static const std::array<ResourceInfo, 45> t{{
      // core/v1
      {"", "v1", "Pod", "pods", "pod", true, kPo},
      {"", "v1", "Service", "services", "service", true, kSvc},
      {"", "v1", "Endpoints", "endpoints", "endpoints", true, kEp},
      {"", "v1", "Secret", "secrets", "secret", true, kNone},
      {"", "v1", "ConfigMap", "configmaps", "configmap", true, kCm},
      {"", "v1", "Namespace", "namespaces", "namespace", false, kNs},
      {"", "v1", "Node", "nodes", "node", false, kNo},
      {"", "v1", "Event", "events", "event", true, kEv},
      {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, kSa},
      {"", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false, kPv},
      {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true,
       kPvc},
      {"", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", true,
       kRc},
      {"", "v1", "LimitRange", "limitranges", "limitrange", true, kLimits},
      {"", "v1", "ResourceQuota", "resourcequotas", "resourcequota", true, kQuota},
      {"", "v1", "PodTemplate", "podtemplates", "podtemplate", true, kNone},
      {"", "v1", "ComponentStatus", "componentstatuses", "componentstatus", false, kCs},
      {"", "v1", "Binding", "bindings", "binding", true, kNone},
      // apps/v1
      {"apps", "v1", "Deployment", "deployments", "deployment", true, kDeploy},
      {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, kRs},
      {"apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, kSts},
      {"apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, kDs},
      {"apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true,
       kNone},
      // batch/v1
      {"batch", "v1", "Job", "jobs", "job", true, kNone},
      {"batch", "v1", "CronJob", "cronjobs", "cronjob", true, kCj},
      // autoscaling, policy
      {"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
       "horizontalpodautoscaler", true, kHpa},
      {"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true,
       kPdb},
      // networking, discovery, coordination, events
      {"networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", true, kIng},
      {"networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", false, kNone},
      {"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", true,
       kNetpol},
      {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, kNone},
      {"coordination.k8s.io", "v1", "Lease", "leases", "lease", true, kNone},
      {"events.k8s.io", "v1", "Event", "events", "event", true, kEv},
      // rbac
      {"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", true, kNone},
      {"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", true,
       kNone},
      {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", false,
       kNone},
      {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
       "clusterrolebinding", false, kNone},
      // apiextensions, storage, scheduling, admission, certificates, node, apiregistration
      {"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
       "customresourcedefinition", false, kCrd},
      {"storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", false, kSc},
      {"storage.k8s.io", "v1", "CSIDriver", "csidrivers", "csidriver", false, kNone},
      {"storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", "volumeattachment", false,
       kNone},
      {"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", false, kPc},
      {"admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
       "validatingwebhookconfigurations", "validatingwebhookconfiguration", false, kNone},
      {"admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
       "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", false, kNone},
      {"certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests",
       "certificatesigningrequest", false, kCsr},
      {"apiregistration.k8s.io", "v1", "APIService", "apiservices", "apiservice", false, kNone},
  }};
  return t;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

}  // namespace

std::span<const ResourceInfo> builtin_resources() {
  return table();
}

const ResourceInfo* builtin_kind(std::string_view group, std::string_view kind) {
  for (const ResourceInfo& r : table()) {
    if (r.group == group && r.kind == kind) return &r;
  }
  return nullptr;
}

const ResourceInfo* builtin_resource(std::string_view group, std::string_view name) {
  for (const ResourceInfo& r : table()) {
    if (r.group != group) continue;
    if (equals_ignore_case(r.resource, name) || equals_ignore_case(r.singular, name)) {
      return &r;
    }
    for (SN s : r.short_names) {
      if (equals_ignore_case(s, name)) return &r;
    }
  }
  return nullptr;
}

std::string pluralize_kind(std::string_view kind) {
  std::string s(kind);
  for (char& c : s) c = lower(c);
  if (s.empty()) return s;
  char last = s.back();
  if (last == 'y' && s.size() >= 2 && !is_vowel(s[s.size() - 2])) {
    s.pop_back();
    return s + "ies";
  }
  if (last == 's' || last == 'x' || last == 'z' || s.ends_with("ch") || s.ends_with("sh")) {
    return s + "es";
  }
  return s + "s";
}

GroupVersionResource guess_resource(const GroupVersionKind& gvk) {
  if (const ResourceInfo* r = builtin_kind(gvk.group, gvk.kind)) {
    return {gvk.group, gvk.version, std::string(r->resource)};
  }
  return {gvk.group, gvk.version, pluralize_kind(gvk.kind)};
}

std::optional<bool> builtin_namespaced(const GroupVersionKind& gvk) {
  if (const ResourceInfo* r = builtin_kind(gvk.group, gvk.kind)) return r->namespaced;
  return std::nullopt;
}

}  // namespace kop::api

size_t std::hash<kop::api::GroupVersion>::operator()(
    const kop::api::GroupVersion& v) const noexcept {
  return absl::Hash<kop::api::GroupVersion>()(v);
}
size_t std::hash<kop::api::GroupVersionKind>::operator()(
    const kop::api::GroupVersionKind& v) const noexcept {
  return absl::Hash<kop::api::GroupVersionKind>()(v);
}
size_t std::hash<kop::api::GroupVersionResource>::operator()(
    const kop::api::GroupVersionResource& v) const noexcept {
  return absl::Hash<kop::api::GroupVersionResource>()(v);
}
