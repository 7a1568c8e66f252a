#include "kop/api/gvk.h"

#include <absl/container/flat_hash_set.h>
#include <gtest/gtest.h>

#include <unordered_set>

namespace kop::api {
namespace {

TEST(GroupVersionTest, Parse) {
  auto core = GroupVersion::parse("v1");
  ASSERT_TRUE(core.ok());
  EXPECT_EQ(core->group, "");
  EXPECT_EQ(core->version, "v1");
  EXPECT_EQ(core->to_string(), "v1");

  auto net = GroupVersion::parse("networking.k8s.io/v1");
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(net->group, "networking.k8s.io");
  EXPECT_EQ(net->version, "v1");
  EXPECT_EQ(net->to_string(), "networking.k8s.io/v1");

  for (std::string_view bad : {"", "a/b/c", "/v1", "apps/"}) {
    EXPECT_FALSE(GroupVersion::parse(bad).ok()) << bad;
  }
}

TEST(GroupVersionKindTest, FromApiVersionAndStrings) {
  auto gvk = GroupVersionKind::from_api_version("apps/v1", "Deployment");
  ASSERT_TRUE(gvk.ok());
  EXPECT_EQ(*gvk, (GroupVersionKind{"apps", "v1", "Deployment"}));
  EXPECT_EQ(gvk->api_version(), "apps/v1");
  EXPECT_EQ(gvk->to_string(), "apps/v1, Kind=Deployment");
  EXPECT_EQ(gvk->group_kind().to_string(), "Deployment.apps");
  EXPECT_EQ((GroupVersionKind{"", "v1", "Pod"}).to_string(), "/v1, Kind=Pod");
  EXPECT_EQ((GroupKind{"", "Pod"}).to_string(), "Pod");
  EXPECT_FALSE(GroupVersionKind::from_api_version("apps/v1", "").ok());
  EXPECT_FALSE(GroupVersionKind::from_api_version("a/b/c", "X").ok());

  GroupVersionResource gvr{"apps", "v1", "deployments"};
  EXPECT_EQ(gvr.to_string(), "apps/v1, Resource=deployments");
  EXPECT_EQ(gvr.group_resource().to_string(), "deployments.apps");
  EXPECT_EQ((GroupResource{"", "pods"}).to_string(), "pods");
  EXPECT_EQ((GroupVersionResource{"", "v1", "pods"}).api_version(), "v1");
}

TEST(GroupVersionKindTest, HashAndOrder) {
  GroupVersionKind a{"apps", "v1", "Deployment"};
  GroupVersionKind b{"apps", "v1", "StatefulSet"};
  GroupVersionKind c{"", "v1", "Pod"};
  EXPECT_LT(c, a);
  EXPECT_LT(a, b);
  absl::flat_hash_set<GroupVersionKind> s{a, b, c, a};
  EXPECT_EQ(s.size(), 3u);
  std::unordered_set<GroupVersionKind> u{a, b, c, a};
  EXPECT_EQ(u.size(), 3u);
  EXPECT_TRUE(u.contains(GroupVersionKind{"", "v1", "Pod"}));
  std::unordered_set<GroupVersionResource> r{{"", "v1", "pods"}, {"", "v1", "pods"}};
  EXPECT_EQ(r.size(), 1u);
  std::unordered_set<GroupVersion> g{{"", "v1"}, {"apps", "v1"}};
  EXPECT_EQ(g.size(), 2u);
  absl::flat_hash_set<GroupVersionResource> ar{{"", "v1", "pods"}};
  EXPECT_TRUE(ar.contains(GroupVersionResource{"", "v1", "pods"}));
}

TEST(BuiltinResourcesTest, CoreKinds) {
  struct Case {
    std::string_view group, kind, resource;
    bool namespaced;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "Pod", "pods", true},
           {"", "Service", "services", true},
           {"", "Endpoints", "endpoints", true},
           {"", "Secret", "secrets", true},
           {"", "ConfigMap", "configmaps", true},
           {"", "Namespace", "namespaces", false},
           {"", "Node", "nodes", false},
           {"", "Event", "events", true},
           {"events.k8s.io", "Event", "events", true},
           {"", "ServiceAccount", "serviceaccounts", true},
           {"apps", "Deployment", "deployments", true},
           {"apps", "ReplicaSet", "replicasets", true},
           {"apps", "StatefulSet", "statefulsets", true},
           {"apps", "DaemonSet", "daemonsets", true},
           {"discovery.k8s.io", "EndpointSlice", "endpointslices", true},
           {"networking.k8s.io", "Ingress", "ingresses", true},
           {"networking.k8s.io", "IngressClass", "ingressclasses", false},
           {"coordination.k8s.io", "Lease", "leases", true},
           {"apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false},
           {"rbac.authorization.k8s.io", "Role", "roles", true},
           {"rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true},
           {"rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false},
           {"rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false},
       }) {
    const ResourceInfo* r = builtin_kind(c.group, c.kind);
    ASSERT_NE(r, nullptr) << c.kind;
    EXPECT_EQ(r->resource, c.resource) << c.kind;
    EXPECT_EQ(r->namespaced, c.namespaced) << c.kind;
    EXPECT_EQ(builtin_resource(c.group, c.resource), r) << c.kind;
    EXPECT_EQ(builtin_namespaced(r->gvk()), c.namespaced);
    EXPECT_EQ(guess_resource(r->gvk()), r->gvr());
  }
  // A kind in the wrong group is not the built-in.
  EXPECT_EQ(builtin_kind("", "Deployment"), nullptr);
  EXPECT_EQ(builtin_kind("apps", "Pod"), nullptr);
  EXPECT_FALSE(builtin_namespaced(GroupVersionKind{"example.com", "v1", "Widget"}).has_value());
}

TEST(BuiltinResourcesTest, SingularAndShortNames) {
  EXPECT_EQ(builtin_resource("", "pod")->kind, "Pod");
  EXPECT_EQ(builtin_resource("", "po")->kind, "Pod");
  EXPECT_EQ(builtin_resource("", "SVC")->kind, "Service");
  EXPECT_EQ(builtin_resource("networking.k8s.io", "ing")->kind, "Ingress");
  EXPECT_EQ(builtin_resource("apiextensions.k8s.io", "crds")->kind, "CustomResourceDefinition");
  EXPECT_EQ(builtin_resource("", "nope"), nullptr);
  // Every entry is self-consistent.
  for (const ResourceInfo& r : builtin_resources()) {
    EXPECT_FALSE(r.kind.empty());
    EXPECT_FALSE(r.resource.empty());
    EXPECT_EQ(builtin_kind(r.group, r.kind), &r);
  }
}

TEST(PluralizeTest, EnglishRules) {
  EXPECT_EQ(pluralize_kind("Widget"), "widgets");
  EXPECT_EQ(pluralize_kind("Policy"), "policies");
  EXPECT_EQ(pluralize_kind("Gateway"), "gateways");  // vowel + y
  EXPECT_EQ(pluralize_kind("Ingress"), "ingresses");
  EXPECT_EQ(pluralize_kind("Box"), "boxes");
  EXPECT_EQ(pluralize_kind("Patch"), "patches");
  EXPECT_EQ(pluralize_kind("Mesh"), "meshes");
  EXPECT_EQ(pluralize_kind("IngressRoute"), "ingressroutes");
  EXPECT_EQ(pluralize_kind(""), "");
  EXPECT_EQ(guess_resource({"example.com", "v1alpha1", "Proxy"}),
            (GroupVersionResource{"example.com", "v1alpha1", "proxies"}));
  // Built-in wins over the rule (Endpoints is not "endpointses").
  EXPECT_EQ(guess_resource({"", "v1", "Endpoints"}).resource, "endpoints");
}

}  // namespace
}  // namespace kop::api
