// kop/api/gvk.h: API groups, versions, kinds and resources.
//
// A Kubernetes object names its type as apiVersion + kind ("networking.k8s.io/v1", "Ingress");
// the REST API addresses collections by group, version and plural resource
// ("/apis/networking.k8s.io/v1/namespaces/x/ingresses"). These types carry those names, parse
// apiVersion strings, print the same text as apimachinery (GroupVersionKind::to_string() is
// "networking.k8s.io/v1, Kind=Ingress"), hash (absl and std) and order.
//
// Mapping kind -> resource: builtin_kind() knows the built-in kinds (plural, singular, short
// names, namespaced or cluster-scoped). For anything else guess_resource() applies English
// pluralisation; a real client should prefer discovery (or the CRD's spec.names).
#pragma once

#include <absl/status/statusor.h>

#include <compare>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace kop::api {

struct GroupVersion {
  std::string group;    // "" is the core (legacy) group
  std::string version;  // "v1"

  // "v1" -> {"", "v1"}; "apps/v1" -> {"apps", "v1"}. Errors on "", "a/b/c", "/v1", "apps/".
  static absl::StatusOr<GroupVersion> parse(std::string_view api_version);

  // The apiVersion string: "v1" for the core group, else "group/version".
  std::string to_string() const;
  bool empty() const { return group.empty() && version.empty(); }

  auto operator<=>(const GroupVersion&) const = default;
  bool operator==(const GroupVersion&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupVersion& gv) {
    return H::combine(std::move(h), gv.group, gv.version);
  }
};

struct GroupKind {
  std::string group;
  std::string kind;

  // "Deployment.apps", or "Pod" for the core group (apimachinery's format).
  std::string to_string() const;

  auto operator<=>(const GroupKind&) const = default;
  bool operator==(const GroupKind&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupKind& gk) {
    return H::combine(std::move(h), gk.group, gk.kind);
  }
};

struct GroupResource {
  std::string group;
  std::string resource;

  // "deployments.apps", or "pods" for the core group.
  std::string to_string() const;

  auto operator<=>(const GroupResource&) const = default;
  bool operator==(const GroupResource&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupResource& gr) {
    return H::combine(std::move(h), gr.group, gr.resource);
  }
};

struct GroupVersionKind {
  std::string group;
  std::string version;
  std::string kind;

  // From an object's apiVersion and kind. Errors when apiVersion is malformed or kind empty.
  static absl::StatusOr<GroupVersionKind> from_api_version(std::string_view api_version,
                                                           std::string_view kind);

  std::string api_version() const { return group_version().to_string(); }
  GroupVersion group_version() const { return {group, version}; }
  GroupKind group_kind() const { return {group, kind}; }
  // "apps/v1, Kind=Deployment" ("/v1, Kind=Pod" for core), as apimachinery prints it.
  std::string to_string() const;
  bool empty() const { return group.empty() && version.empty() && kind.empty(); }

  auto operator<=>(const GroupVersionKind&) const = default;
  bool operator==(const GroupVersionKind&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupVersionKind& gvk) {
    return H::combine(std::move(h), gvk.group, gvk.version, gvk.kind);
  }
};

struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;  // plural, lowercase: "ingresses"

  std::string api_version() const { return group_version().to_string(); }
  GroupVersion group_version() const { return {group, version}; }
  GroupResource group_resource() const { return {group, resource}; }
  // "apps/v1, Resource=deployments" ("/v1, Resource=pods" for core), as apimachinery prints it.
  std::string to_string() const;
  bool empty() const { return group.empty() && version.empty() && resource.empty(); }

  auto operator<=>(const GroupVersionResource&) const = default;
  bool operator==(const GroupVersionResource&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GroupVersionResource& gvr) {
    return H::combine(std::move(h), gvr.group, gvr.version, gvr.resource);
  }
};

// One built-in kind as the API server serves it.
struct ResourceInfo {
  std::string_view group;     // "" for core
  std::string_view version;   // the preferred (stable) version
  std::string_view kind;      // "Ingress"
  std::string_view resource;  // plural: "ingresses"
  std::string_view singular;  // "ingress"
  bool namespaced;
  std::span<const std::string_view> short_names;  // kubectl short names ("ing")

  GroupVersionKind gvk() const {
    return {std::string(group), std::string(version), std::string(kind)};
  }
  GroupVersionResource gvr() const {
    return {std::string(group), std::string(version), std::string(resource)};
  }
};

// All built-in kinds kop knows (core, apps, batch, networking, discovery, coordination, events,
// rbac, apiextensions, storage, policy, autoscaling, admissionregistration, ...).
std::span<const ResourceInfo> builtin_resources();

// The built-in kind `kind` in `group` (any version), or nullptr. Event exists twice:
// ("", "Event") and ("events.k8s.io", "Event").
const ResourceInfo* builtin_kind(std::string_view group, std::string_view kind);

// The built-in resource in `group` named by its plural, singular or a short name
// (case-insensitive, like kubectl), or nullptr.
const ResourceInfo* builtin_resource(std::string_view group, std::string_view name);

// English pluralisation of a kind, lowercased: consonant+y -> ies ("Policy" -> "policies"),
// s/x/z/ch/sh -> es ("Ingress" -> "ingresses"), else +s ("Gateway" -> "gateways").
std::string pluralize_kind(std::string_view kind);

// The resource for `gvk`: the built-in plural when known, else pluralize_kind(). The version
// of `gvk` is kept as given.
GroupVersionResource guess_resource(const GroupVersionKind& gvk);

// Whether `gvk` is namespaced, for built-in kinds; std::nullopt when unknown (ask discovery).
std::optional<bool> builtin_namespaced(const GroupVersionKind& gvk);

}  // namespace kop::api

namespace kop {
using api::GroupKind;
using api::GroupResource;
using api::GroupVersion;
using api::GroupVersionKind;
using api::GroupVersionResource;
}  // namespace kop

template <>
struct std::hash<kop::api::GroupVersion> {
  size_t operator()(const kop::api::GroupVersion& v) const noexcept;
};
template <>
struct std::hash<kop::api::GroupVersionKind> {
  size_t operator()(const kop::api::GroupVersionKind& v) const noexcept;
};
template <>
struct std::hash<kop::api::GroupVersionResource> {
  size_t operator()(const kop::api::GroupVersionResource& v) const noexcept;
};
