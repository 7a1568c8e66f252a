// BackendTLSPolicy (kop/ingress/gateway_api.h, docs/gateway-api/translation.md): the cluster TLS
// settings a policy gives the Service ports it targets (hostname as SNI and name, CA from a
// ConfigMap or the system store, subjectAltNames), sectionName over the whole Service, the
// oldest policy winning a conflict, invalid policies failing closed, the status.ancestors per
// Gateway, and the rendered config as the proxy compiles it.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gateway_test_util.h"
#include "kop/ingress/gateway_api.h"
#include "kop/ingress/render.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::ingress::gateway {
namespace {

using gwtest::cond;
using gwtest::gateway;
using gwtest::kClass;
using gwtest::parent;
using gwtest::route;
using gwtest::run;

std::string ca_pem() {
  return testing::read_file(std::string(KOP_INGRESS_TESTDATA) + "/certs/example.crt");
}

std::string config_map(std::string_view ns, std::string_view name, const std::string& ca) {
  std::string y = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + std::string(name) +
                  ", namespace: " + std::string(ns) + "}\ndata:\n  ca.crt: |\n";
  size_t at = 0;
  while (at < ca.size()) {
    size_t nl = ca.find('\n', at);
    if (nl == std::string::npos) nl = ca.size();
    y += "    " + ca.substr(at, nl - at) + "\n";
    at = nl + 1;
  }
  return y;
}

// A Service with two named ports (https-1: 443, https-2: 8443), with ready endpoints.
std::string two_port_service(std::string_view ns, std::string_view name, int n) {
  std::string s = "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + std::string(name) +
                  ", namespace: " + std::string(ns) +
                  "}\nspec:\n  ports:\n  - {name: https-1, port: 443, targetPort: 8443}\n"
                  "  - {name: https-2, port: 8443, targetPort: 8443}\n"
                  "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
                  "  name: " +
                  std::string(name) + "-x\n  namespace: " + std::string(ns) +
                  "\n  labels: {kubernetes.io/service-name: " + std::string(name) +
                  "}\naddressType: IPv4\nports:\n- {name: https-1, port: 8443}\n"
                  "- {name: https-2, port: 8443}\nendpoints:\n- addresses: [\"10.0." +
                  std::to_string(n) + ".1\"]\n  conditions: {ready: true}\n";
  return s;
}

// A BackendTLSPolicy with generation 4 created at `created`; `spec` is indented by two spaces.
std::string policy(std::string_view ns, std::string_view name, std::string_view spec,
                   std::string_view created = "2026-01-01T00:00:00Z") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: "
         "{name: " +
         std::string(name) + ", namespace: " + std::string(ns) +
         ", generation: 4, creationTimestamp: \"" + std::string(created) + "\"}\nspec:\n" +
         std::string(spec);
}

std::string target(std::string_view service, std::string_view section = "") {
  std::string t = "  targetRefs: [{group: \"\", kind: Service, name: " + std::string(service);
  if (!section.empty()) t += ", sectionName: " + std::string(section);
  return t + "}]\n";
}

std::string ca_validation(std::string_view hostname, std::string_view cm = "ca") {
  return "  validation:\n    hostname: " + std::string(hostname) +
         "\n    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: " + std::string(cm) +
         "}]\n";
}

const char* kHttp = "  - {name: http, port: 80, protocol: HTTP}\n";

const PolicyStatus* policy_status(const Result& r, std::string_view name) {
  for (const PolicyStatus& p : r.policy_statuses)
    if (p.policy.name == name) return &p;
  return nullptr;
}

// "Accepted-status reason / ResolvedRefs-status reason" on ancestor Gateway `gw`.
std::string policy_conds(const Result& r, std::string_view name, std::string_view gw = "gw") {
  const PolicyStatus* p = policy_status(r, name);
  if (p == nullptr) return "no status";
  for (const RouteParentStatus& a : p->ancestors)
    if (a.parent.name == gw)
      return cond(a.conditions, "Accepted") + " / " + cond(a.conditions, "ResolvedRefs");
  return "no ancestor " + std::string(gw);
}

// The route answering `path` on the one front door's host "*".
const Route* route_for(const Result& r, std::string_view path) {
  for (const FrontDoor& d : r.front_doors)
    for (const VirtualHost& vh : d.virtual_hosts)
      for (const Route& rt : vh.routes)
        if (rt.path.value == path) return &rt;
  ADD_FAILURE() << "no route for " << path << "\n" << describe(r);
  return nullptr;
}

// The cluster route `path` forwards to (its only one).
const Cluster* cluster_for(const Result& r, std::string_view path) {
  const Route* rt = route_for(r, path);
  if (rt == nullptr || rt->clusters.size() != 1) return nullptr;
  auto c = r.clusters.find(rt->clusters[0].cluster);
  return c == r.clusters.end() ? nullptr : &*c->second;
}

// Compiles the front doors with the proxy; a refused config fails the test.
void compiles(const Result& r) {
  ingress::Model m;
  m.clusters = decltype(m.clusters)(r.clusters.begin(), r.clusters.end());
  RenderOptions ro;
  ro.http_address = {"127.0.0.1", 0};
  ro.https_address.reset();
  ro.admin.enabled = false;
  std::vector<BoundFrontDoor> bound;
  bound.reserve(r.front_doors.size());
  for (size_t i = 0; i < r.front_doors.size(); ++i)
    bound.push_back(BoundFrontDoor{&r.front_doors[i],
                                   proxy::SocketAddress{"127.0.3." + std::to_string(i + 1), 0}});
  auto table = proxy::RouteTable::compile(render(m, ro, bound));
  EXPECT_TRUE(table.ok()) << table.status() << "\n" << describe(r);
}

std::string rule(std::string_view path, std::string_view service, int port = 80) {
  return "  - matches: [{path: {type: Exact, value: " + std::string(path) +
         "}}]\n    backendRefs: [{name: " + std::string(service) +
         ", port: " + std::to_string(port) + "}]\n";
}

TEST(BackendTlsPolicy, CaFromConfigMapHostnameAndAncestorStatus) {
  Result r =
      run(std::string(kClass) + gateway("infra", "gw", kHttp) +
          testing::service_yaml("infra", "secure", 1, 1) +
          testing::service_yaml("infra", "plain", 1, 2) + config_map("infra", "ca", ca_pem()) +
          policy("infra", "p", target("secure", "http") + ca_validation("abc.example.com")) +
          route("infra", "r",
                "  parentRefs: [{name: gw}]\n  rules:\n" + rule("/secure", "secure") +
                    rule("/plain", "plain")));
  const Cluster* secure = cluster_for(r, "/secure");
  const Cluster* plain = cluster_for(r, "/plain");
  ASSERT_TRUE(secure && plain) << describe(r);
  ASSERT_TRUE(secure->tls.has_value()) << describe(r);
  EXPECT_EQ(secure->tls->server_name, "abc.example.com");
  EXPECT_TRUE(secure->tls->verify);
  EXPECT_EQ(secure->tls->ca_pem, ca_pem());
  EXPECT_TRUE(secure->tls->subject_alt_names.empty());
  EXPECT_FALSE(secure->h2c);
  EXPECT_FALSE(plain->tls.has_value());
  EXPECT_EQ(policy_conds(r, "p"), "True Accepted / True ResolvedRefs");
  const PolicyStatus* st = policy_status(r, "p");
  ASSERT_NE(st, nullptr);
  ASSERT_EQ(st->ancestors.size(), 1u);
  EXPECT_EQ(st->ancestors[0].parent,
            (ParentRef{"gateway.networking.k8s.io", "Gateway", "infra", "gw", "", std::nullopt}));
  for (const Condition& c : st->ancestors[0].conditions) EXPECT_EQ(c.observed_generation, 4);
  EXPECT_EQ(cond(parent(r, "r").conditions, "ResolvedRefs"), "True ResolvedRefs");
  compiles(r);
}

TEST(BackendTlsPolicy, SectionNameOverWholeServiceAndOldestWinsAConflict) {
  std::string yaml =
      std::string(kClass) + gateway("infra", "gw", kHttp) + config_map("infra", "ca", ca_pem()) +
      two_port_service("infra", "both", 1) + two_port_service("infra", "contested", 2) +
      two_port_service("infra", "sections", 3) +
      // On "both": one policy for port https-1, one for the whole Service.
      policy("infra", "port-one", target("both", "https-1") + ca_validation("one.example.com")) +
      policy("infra", "whole", target("both") + ca_validation("whole.example.com")) +
      // On "contested": two for the whole Service; the older wins although its name is later.
      policy("infra", "z-older", target("contested") + ca_validation("older.example.com"),
             "2026-01-01T00:00:00Z") +
      policy("infra", "a-newer", target("contested") + ca_validation("newer.example.com"),
             "2026-01-02T00:00:00Z") +
      // On "sections": the same port named twice, same age: the first by name wins.
      policy("infra", "s-1", target("sections", "https-1") + ca_validation("s1.example.com")) +
      policy("infra", "s-2", target("sections", "https-1") + ca_validation("s2.example.com")) +
      route("infra", "r",
            "  parentRefs: [{name: gw}]\n  rules:\n" + rule("/both-443", "both", 443) +
                rule("/both-8443", "both", 8443) + rule("/contested", "contested", 443) +
                rule("/sections", "sections", 443) + rule("/sections-8443", "sections", 8443));
  Result r = run(yaml);
  auto sni = [&](std::string_view path) -> std::string {
    const Cluster* c = cluster_for(r, path);
    if (c == nullptr) return "no cluster";
    return c->tls ? c->tls->server_name : "plain";
  };
  EXPECT_EQ(sni("/both-443"), "one.example.com");
  EXPECT_EQ(sni("/both-8443"), "whole.example.com");
  EXPECT_EQ(sni("/contested"), "older.example.com");
  EXPECT_EQ(sni("/sections"), "s1.example.com");
  EXPECT_EQ(sni("/sections-8443"), "plain");
  EXPECT_EQ(policy_conds(r, "port-one"), "True Accepted / True ResolvedRefs");
  EXPECT_EQ(policy_conds(r, "whole"), "True Accepted / True ResolvedRefs");
  EXPECT_EQ(policy_conds(r, "z-older"), "True Accepted / True ResolvedRefs");
  EXPECT_EQ(policy_conds(r, "a-newer"), "False Conflicted / True ResolvedRefs");
  EXPECT_EQ(policy_conds(r, "s-1"), "True Accepted / True ResolvedRefs");
  EXPECT_EQ(policy_conds(r, "s-2"), "False Conflicted / True ResolvedRefs");
  compiles(r);
  // The same input in another order gives the same Result.
  auto in = gwtest::input(yaml);
  std::reverse(in->snap.backend_tls_policies.begin(), in->snap.backend_tls_policies.end());
  EXPECT_EQ(translate(in->snap, {}), r);
}

TEST(BackendTlsPolicy, InvalidCaReferencesFailClosed) {
  Result r = run(
      std::string(kClass) + gateway("infra", "gw", kHttp) + config_map("infra", "ca", ca_pem()) +
      config_map("infra", "junk", "not a certificate\n") +
      testing::service_yaml("infra", "missing", 1, 1) +
      testing::service_yaml("infra", "malformed", 1, 2) +
      testing::service_yaml("infra", "kind", 1, 3) + testing::service_yaml("infra", "half", 1, 4) +
      policy("infra", "missing", target("missing") + ca_validation("abc.example.com", "nope")) +
      policy("infra", "malformed", target("malformed") + ca_validation("abc.example.com", "junk")) +
      policy("infra", "kind",
             target("kind") +
                 "  validation:\n    hostname: abc.example.com\n    caCertificateRefs: "
                 "[{group: invalid.io, kind: InvalidKind, name: x}]\n") +
      policy("infra", "half",
             target("half") +
                 "  validation:\n    hostname: abc.example.com\n    caCertificateRefs:\n"
                 "    - {group: \"\", kind: ConfigMap, name: nope}\n"
                 "    - {group: \"\", kind: ConfigMap, name: ca}\n") +
      route("infra", "r",
            "  parentRefs: [{name: gw}]\n  rules:\n" + rule("/missing", "missing") +
                rule("/malformed", "malformed") + rule("/kind", "kind") + rule("/half", "half")));
  EXPECT_EQ(policy_conds(r, "missing"),
            "False NoValidCACertificate / False InvalidCACertificateRef");
  EXPECT_EQ(policy_conds(r, "malformed"),
            "False NoValidCACertificate / False InvalidCACertificateRef");
  EXPECT_EQ(policy_conds(r, "kind"), "False NoValidCACertificate / False InvalidKind");
  // One good reference of two: used, and the bad one reported.
  EXPECT_EQ(policy_conds(r, "half"), "True Accepted / False InvalidCACertificateRef");
  const Cluster* half = cluster_for(r, "/half");
  ASSERT_TRUE(half && half->tls) << describe(r);
  EXPECT_EQ(half->tls->ca_pem, ca_pem());
  // Never plain text: the rules whose backend has an unusable policy answer 500, while the
  // route's own references are resolved and it stays accepted.
  for (const char* path : {"/missing", "/malformed", "/kind"}) {
    const Route* rt = route_for(r, path);
    ASSERT_NE(rt, nullptr);
    EXPECT_EQ(rt->action, RouteAction::kNoBackend) << path << "\n" << describe(r);
    EXPECT_TRUE(rt->clusters.empty()) << path;
  }
  EXPECT_EQ(cond(parent(r, "r").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "r").conditions, "ResolvedRefs"), "True ResolvedRefs");
  size_t events = 0;
  for (const Event& e : r.events)
    if (e.object.kind == "BackendTLSPolicy") {
      ++events;
      EXPECT_NE(e.message.find("caCertificateRefs["), std::string::npos) << e.message;
    }
  EXPECT_EQ(events, 4u) << describe(r);
  compiles(r);
}

TEST(BackendTlsPolicy, SystemTrustSubjectAltNamesAndInvalidValidation) {
  auto with = [](std::string_view validation) {
    return std::string(kClass) + gateway("infra", "gw", kHttp) +
           testing::service_yaml("infra", "svc", 1, 1) +
           policy("infra", "p", target("svc") + "  validation:\n" + std::string(validation)) +
           route("infra", "r", "  parentRefs: [{name: gw}]\n  rules:\n" + rule("/x", "svc"));
  };
  Result system =
      run(with("    hostname: api.example.com\n    wellKnownCACertificates: System\n"
               "    subjectAltNames:\n"
               "    - {type: Hostname, hostname: \"*.example.com\"}\n"
               "    - {type: URI, uri: \"spiffe://abc.example.com/test-identity\"}\n"));
  const Cluster* c = cluster_for(system, "/x");
  ASSERT_TRUE(c && c->tls) << describe(system);
  EXPECT_EQ(c->tls->server_name, "api.example.com");
  EXPECT_TRUE(c->tls->ca_pem.empty());  // the system trust store
  EXPECT_EQ(c->tls->subject_alt_names,
            (std::vector<std::string>{"*.example.com", "spiffe://abc.example.com/test-identity"}));
  EXPECT_EQ(policy_conds(system, "p"), "True Accepted / True ResolvedRefs");
  compiles(system);

  for (const char* bad : {
           "    hostname: api.example.com\n    wellKnownCACertificates: Mine\n",
           "    hostname: \"*.example.com\"\n    wellKnownCACertificates: System\n",
           "    hostname: api.example.com\n",
           "    hostname: api.example.com\n    wellKnownCACertificates: System\n"
           "    caCertificateRefs: [{group: \"\", kind: ConfigMap, name: ca}]\n",
           "    hostname: api.example.com\n    wellKnownCACertificates: System\n"
           "    subjectAltNames: [{type: URI, uri: \"no-scheme\"}]\n",
       }) {
    Result r = run(with(bad));
    EXPECT_EQ(policy_conds(r, "p"), "False Invalid / True ResolvedRefs") << bad;
    const Route* rt = route_for(r, "/x");
    ASSERT_NE(rt, nullptr);
    EXPECT_EQ(rt->action, RouteAction::kNoBackend) << bad;
    compiles(r);
  }
}

TEST(BackendTlsPolicy, GrpcRouteGetsHttp2OverTlsAndTlsRouteIsUntouched) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "gw",
                         std::string(kHttp) +
                             "  - name: tls\n    port: 443\n    protocol: TLS\n    hostname: "
                             "\"*.example.com\"\n    tls: {mode: Passthrough}\n") +
                 config_map("infra", "ca", ca_pem()) + testing::service_yaml("infra", "svc", 1, 1) +
                 policy("infra", "p", target("svc") + ca_validation("abc.example.com")) +
                 gwtest::route_of_kind("GRPCRoute", "infra", "g",
                                       "  parentRefs: [{name: gw, sectionName: http}]\n"
                                       "  rules:\n  - backendRefs: [{name: svc, port: 80}]\n",
                                       "2026-01-01T00:00:00Z") +
                 gwtest::route_of_kind("TLSRoute", "infra", "t",
                                       "  parentRefs: [{name: gw, sectionName: tls}]\n"
                                       "  hostnames: [abc.example.com]\n"
                                       "  rules:\n  - backendRefs: [{name: svc, port: 80}]\n",
                                       "2026-01-01T00:00:00Z"));
  bool h2_tls = false, relay_plain = false;
  for (const auto& [name, c] : r.clusters) {
    if (c->tls && c->h2c) h2_tls = true;
    if (!c->tls && !c->h2c) relay_plain = true;  // the passthrough relay's cluster
  }
  EXPECT_TRUE(h2_tls) << describe(r);
  EXPECT_TRUE(relay_plain) << describe(r);
  // Only the GRPCRoute uses the policy: its one Gateway is the ancestor.
  EXPECT_EQ(policy_conds(r, "p"), "True Accepted / True ResolvedRefs");
  compiles(r);
}

// GEP-1911: appProtocol kubernetes.io/wss is WebSocket over TLS, served on an HTTPRoute only
// with a BackendTLSPolicy on the port.
TEST(BackendTlsPolicy, WssPortNeedsAPolicy) {
  auto wss = [](std::string_view name, int n) {
    std::string y = testing::service_yaml("infra", name, 1, n);
    const std::string port = "{name: http, port: 80, targetPort: 8080}";
    y.replace(y.find(port), port.size(),
              "{name: http, port: 80, targetPort: 8080, appProtocol: kubernetes.io/wss}");
    return y;
  };
  Result r = run(std::string(kClass) + gateway("infra", "gw", kHttp) +
                 config_map("infra", "ca", ca_pem()) + wss("secure", 1) + wss("bare", 2) +
                 policy("infra", "p", target("secure") + ca_validation("abc.example.com")) +
                 route("infra", "r",
                       "  parentRefs: [{name: gw}]\n  rules:\n" + rule("/secure", "secure") +
                           rule("/bare", "bare")));
  const Route* secure = route_for(r, "/secure");
  ASSERT_NE(secure, nullptr);
  EXPECT_TRUE(secure->websocket);
  const Cluster* c = cluster_for(r, "/secure");
  ASSERT_TRUE(c && c->tls) << describe(r);
  EXPECT_FALSE(c->h2c);
  const Route* bare = route_for(r, "/bare");
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(bare->action, RouteAction::kNoBackend);
  EXPECT_EQ(cond(parent(r, "r").conditions, "ResolvedRefs"), "False UnsupportedProtocol");
  EXPECT_EQ(cond(parent(r, "r").conditions, "Accepted"), "True Accepted");
  compiles(r);
}

TEST(BackendTlsPolicy, NoStatusWithoutARouteAndEventsForUnsupportedTargets) {
  Result r =
      run(std::string(kClass) + gateway("infra", "gw", kHttp) +
          config_map("infra", "ca", ca_pem()) + testing::service_yaml("infra", "unused", 1, 1) +
          policy("infra", "unused", target("unused") + ca_validation("abc.example.com")) +
          policy("infra", "odd",
                 "  targetRefs: [{group: example.com, kind: Backend, name: b}]\n" +
                     ca_validation("abc.example.com")));
  EXPECT_TRUE(r.policy_statuses.empty()) << describe(r);
  bool named = false;
  for (const Event& e : r.events)
    if (e.object.name == "odd" && e.field == "spec.targetRefs[0]") named = true;
  EXPECT_TRUE(named) << describe(r);
}

}  // namespace
}  // namespace kop::ingress::gateway
