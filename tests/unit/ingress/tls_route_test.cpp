// TLSRoute and TLS listeners (kop/ingress/gateway_api.h): listener checks (modes, kinds,
// certificates, sharing a port with HTTPS), TLSRoute attachment and status, relays per SNI
// name on the Gateway's front door, and the rendered front door as the proxy compiles it.
#include <gtest/gtest.h>

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
using gwtest::listener;
using gwtest::parent;
using gwtest::route;
using gwtest::route_of_kind;
using gwtest::run;
using testing::service_yaml;
using testing::tls_secret_yaml;

std::string tls_route(std::string_view ns, std::string_view name, std::string_view spec,
                      std::string_view created = "2026-01-01T00:00:00Z") {
  return route_of_kind("TLSRoute", ns, name, spec, created);
}

const char* kPassthrough =
    "  - name: tls\n    port: 443\n    protocol: TLS\n    hostname: \"*.example.com\"\n"
    "    tls: {mode: Passthrough}\n";

const FrontDoor* door(const Result& r, std::string_view gw, uint16_t port) {
  for (const FrontDoor& d : r.front_doors)
    if (d.gateway.name == gw && d.port == port) return &d;
  ADD_FAILURE() << "no front door " << gw << ":" << port << "\n" << describe(r);
  return nullptr;
}

// The front doors rendered (each on its own loopback address) and compiled by the proxy; a
// refused config fails the test.
std::shared_ptr<const proxy::RouteTable> compile_doors(const Result& r) {
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
  return table.ok() ? *table : nullptr;
}

// Where the proxy relays a TLS connection with `sni` on front door listener `name`:
// "passthrough <clusters>", "terminate <clusters>" or "none".
std::string relay_of(const proxy::RouteTable& table, std::string_view name, std::string_view sni) {
  const proxy::Listener* l = table.find_listener(name);
  if (l == nullptr) return "no listener";
  const proxy::ListenerTcpProxy* passthrough = table.passthrough_for_sni(*l, sni);
  const proxy::ListenerTcpProxy* terminate = table.tcp_proxy_for_sni(*l, sni);
  const proxy::ListenerTcpProxy* p = passthrough != nullptr ? passthrough : terminate;
  if (p == nullptr) return "none";
  std::string out = passthrough != nullptr ? "passthrough" : "terminate";
  for (const proxy::WeightedCluster& c : p->config->clusters)
    out += " " + c.cluster + "*" + std::to_string(c.weight);
  return out;
}

TEST(TlsListener, ModesKindsAndCertificates) {
  Result r =
      run(std::string(kClass) +
          gateway("infra", "gw",
                  std::string(kPassthrough) +
                      "  - name: terminate\n    port: 8443\n    protocol: TLS\n"
                      "    tls: {mode: Terminate, certificateRefs: [{name: cert}]}\n"
                      "  - name: no-cert\n    port: 8444\n    protocol: TLS\n    tls: {mode: "
                      "Terminate}\n"
                      "  - name: no-tls\n    port: 8445\n    protocol: TLS\n"
                      "  - name: kinds\n    port: 8446\n    protocol: TLS\n    tls: {mode: "
                      "Passthrough}\n"
                      "    allowedRoutes: {kinds: [{kind: TCPRoute}, {kind: TLSRoute}]}\n"
                      "  - name: http-kind\n    port: 8447\n    protocol: TLS\n    tls: {mode: "
                      "Passthrough}\n"
                      "    allowedRoutes: {kinds: [{kind: HTTPRoute}]}\n") +
          tls_secret_yaml("infra", "cert", "example"));
  std::vector<RouteGroupKind> tls_route_kind{{"gateway.networking.k8s.io", "TLSRoute"}};
  EXPECT_EQ(cond(listener(r, "gw", "tls").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(listener(r, "gw", "tls").conditions, "Programmed"), "True Programmed");
  EXPECT_EQ(listener(r, "gw", "tls").supported_kinds, tls_route_kind);
  EXPECT_EQ(cond(listener(r, "gw", "terminate").conditions, "Programmed"), "True Programmed");
  EXPECT_EQ(listener(r, "gw", "terminate").supported_kinds, tls_route_kind);
  // Terminate without a certificate: accepted as written, refs unresolved, not served.
  EXPECT_EQ(cond(listener(r, "gw", "no-cert").conditions, "ResolvedRefs"),
            "False InvalidCertificateRef");
  EXPECT_EQ(cond(listener(r, "gw", "no-cert").conditions, "Programmed"), "False Invalid");
  EXPECT_EQ(cond(listener(r, "gw", "no-tls").conditions, "Accepted"), "False UnsupportedValue");
  // TLSRouteListenerPassthroughSupportedKinds: the kind it cannot carry is refused, the other
  // is kept.
  EXPECT_EQ(cond(listener(r, "gw", "kinds").conditions, "ResolvedRefs"), "False InvalidRouteKinds");
  EXPECT_EQ(listener(r, "gw", "kinds").supported_kinds, tls_route_kind);
  EXPECT_EQ(cond(listener(r, "gw", "http-kind").conditions, "ResolvedRefs"),
            "False InvalidRouteKinds");
  EXPECT_TRUE(listener(r, "gw", "http-kind").supported_kinds.empty());
  const FrontDoor* d = door(r, "gw", 443);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->protocol, "TLS");
  EXPECT_TRUE(d->certificates.empty());
  // Front doors without any route still make a config the proxy takes (and close connections).
  auto table = compile_doors(r);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(relay_of(*table, "gw/infra/gw/443", "a.example.com"), "none");
}

TEST(TlsListener, HttpsAndTlsShareAPortHttpDoesNot) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "shared",
                         std::string(kPassthrough) +
                             "  - name: https\n    port: 443\n    protocol: HTTPS\n"
                             "    hostname: www.example.com\n"
                             "    tls: {certificateRefs: [{name: cert}]}\n") +
                 gateway("infra", "clash",
                         "  - {name: http, port: 80, protocol: HTTP}\n"
                         "  - name: tls\n    port: 80\n    protocol: TLS\n"
                         "    tls: {mode: Passthrough}\n") +
                 tls_secret_yaml("infra", "cert", "example") + service_yaml("infra", "db") +
                 service_yaml("infra", "web") +
                 tls_route("infra", "db",
                           "  parentRefs: [{name: shared}]\n"
                           "  hostnames: [db.example.com, www.example.com]\n"
                           "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
                 route("infra", "web",
                       "  parentRefs: [{name: shared}]\n"
                       "  rules: [{backendRefs: [{name: web, port: 80}]}]\n"));
  EXPECT_EQ(cond(listener(r, "shared", "tls").conditions, "Conflicted"), "False NoConflicts");
  EXPECT_EQ(cond(listener(r, "shared", "https").conditions, "Conflicted"), "False NoConflicts");
  EXPECT_EQ(cond(listener(r, "clash", "tls").conditions, "Conflicted"), "True ProtocolConflict");
  EXPECT_EQ(cond(listener(r, "clash", "http").conditions, "Conflicted"), "True ProtocolConflict");
  const FrontDoor* d = door(r, "shared", 443);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->protocol, "HTTPS");
  // The HTTPRoute is served on the HTTPS listener only; the TLSRoute's www.example.com is that
  // listener's name (its certificate), so only db.example.com is relayed.
  EXPECT_EQ(listener(r, "shared", "https").attached_routes, 1);
  EXPECT_EQ(listener(r, "shared", "tls").attached_routes, 1);
  ASSERT_EQ(d->relays.size(), 1u) << describe(r);
  EXPECT_EQ(d->relays[0].host, "db.example.com");
  auto table = compile_doors(r);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(relay_of(*table, "gw/infra/shared/443", "db.example.com"), "passthrough infra/db/80*1");
  EXPECT_EQ(relay_of(*table, "gw/infra/shared/443", "www.example.com"), "none");
  bool conflict_event = false;
  for (const Event& e : r.events)
    conflict_event |= e.object.kind == "TLSRoute" && e.reason == "HostnameConflict";
  EXPECT_TRUE(conflict_event) << describe(r);
}

TEST(TLSRoute, AttachmentAndStatusReasons) {
  Result r =
      run(std::string(kClass) + gateway("infra", "tls", kPassthrough) +
          gateway("infra", "http-only", "  - {name: http, port: 80, protocol: HTTP}\n") +
          service_yaml("infra", "db") +
          tls_route("infra", "ok",
                    "  parentRefs: [{name: tls}]\n  hostnames: [a.example.com, b.other.org]\n"
                    "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
          tls_route("infra", "on-http",
                    "  parentRefs: [{name: http-only}]\n  hostnames: [a.example.com]\n"
                    "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
          tls_route("infra", "no-section",
                    "  parentRefs: [{name: tls, sectionName: nope}]\n  hostnames: [a.example.com]\n"
                    "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
          tls_route("infra", "no-host",
                    "  parentRefs: [{name: tls}]\n  hostnames: [www.nomatch.com]\n"
                    "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
          tls_route("other", "other-ns",
                    "  parentRefs: [{name: tls, namespace: infra}]\n  hostnames: [c.example.com]\n"
                    "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
          // HTTPRouteDisallowedKind: an HTTPRoute on a TLSRoute-only listener.
          route("infra", "http-on-tls",
                "  parentRefs: [{name: tls}]\n  rules: [{backendRefs: [{name: db, port: 80}]}]\n"));
  EXPECT_EQ(cond(parent(r, "ok").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "ok").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(parent(r, "ok").conditions[0].observed_generation, 3);
  EXPECT_EQ(cond(parent(r, "on-http").conditions, "Accepted"), "False NotAllowedByListeners");
  EXPECT_EQ(cond(parent(r, "no-section").conditions, "Accepted"), "False NoMatchingParent");
  EXPECT_EQ(cond(parent(r, "no-host").conditions, "Accepted"), "False NoMatchingListenerHostname");
  EXPECT_EQ(cond(parent(r, "other-ns").conditions, "Accepted"), "False NotAllowedByListeners");
  EXPECT_EQ(cond(parent(r, "http-on-tls").conditions, "Accepted"), "False NotAllowedByListeners");
  EXPECT_EQ(cond(parent(r, "http-on-tls").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(listener(r, "tls", "tls").attached_routes, 1);
  EXPECT_EQ(listener(r, "http-only", "http").attached_routes, 0);
  const FrontDoor* d = door(r, "tls", 443);
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->relays.size(), 1u) << describe(r);
  EXPECT_EQ(d->relays[0].host, "a.example.com");  // b.other.org is outside *.example.com
  EXPECT_FALSE(d->relays[0].tls.has_value());
  EXPECT_NE(describe(r).find("TLSRoute infra/ok\n"), std::string::npos) << describe(r);
}

TEST(TLSRoute, BackendsWeightsAndReferenceGrants) {
  Result r = run(
      std::string(kClass) + gateway("infra", "tls", kPassthrough) + service_yaml("infra", "db") +
      service_yaml("apps", "remote") + service_yaml("apps", "granted") +
      R"(---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-tls-routes, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TLSRoute, namespace: infra}]
  to: [{group: "", kind: Service, name: granted}]
)" +
      tls_route("infra", "weights",
                "  parentRefs: [{name: tls}]\n  hostnames: [w.example.com]\n"
                "  rules: [{backendRefs: [{name: db, port: 80, weight: 3}, "
                "{name: missing, port: 80, weight: 1}]}]\n") +
      tls_route("infra", "no-grant",
                "  parentRefs: [{name: tls}]\n  hostnames: [n.example.com]\n"
                "  rules: [{backendRefs: [{name: remote, namespace: apps, port: 80}]}]\n") +
      tls_route("infra", "granted",
                "  parentRefs: [{name: tls}]\n  hostnames: [g.example.com]\n"
                "  rules: [{backendRefs: [{name: granted, namespace: apps, port: 80}]}]\n") +
      tls_route("infra", "unknown-kind",
                "  parentRefs: [{name: tls}]\n  hostnames: [k.example.com]\n"
                "  rules: [{backendRefs: [{group: unknownkind.example.com, kind: NonExistent, "
                "name: db, port: 80}]}]\n") +
      tls_route("infra", "older",
                "  parentRefs: [{name: tls}]\n  hostnames: [w.example.com]\n"
                "  rules: [{backendRefs: [{name: db, port: 80}]}]\n",
                "2025-01-01T00:00:00Z"));
  EXPECT_EQ(cond(parent(r, "weights").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "weights").conditions, "ResolvedRefs"), "False BackendNotFound");
  EXPECT_EQ(cond(parent(r, "no-grant").conditions, "ResolvedRefs"), "False RefNotPermitted");
  EXPECT_EQ(cond(parent(r, "granted").conditions, "ResolvedRefs"), "True ResolvedRefs");
  EXPECT_EQ(cond(parent(r, "unknown-kind").conditions, "ResolvedRefs"), "False InvalidKind");
  auto table = compile_doors(r);
  ASSERT_NE(table, nullptr);
  const std::string l = "gw/infra/tls/443";
  // w.example.com is claimed twice: the older route keeps it.
  EXPECT_EQ(relay_of(*table, l, "w.example.com"), "passthrough infra/db/80*1");
  EXPECT_EQ(relay_of(*table, l, "g.example.com"), "passthrough apps/granted/80*1");
  // No usable backend: the connection goes to the cluster without endpoints (closed).
  EXPECT_EQ(relay_of(*table, l, "n.example.com"), "passthrough passthrough-unavailable*1");
  EXPECT_EQ(relay_of(*table, l, "k.example.com"), "passthrough passthrough-unavailable*1");
  EXPECT_EQ(relay_of(*table, l, "x.example.com"), "none");
}

TEST(TLSRoute, InvalidWeightsShareIsClosed) {
  Result r = run(std::string(kClass) + gateway("infra", "tls", kPassthrough) +
                 service_yaml("infra", "db") +
                 tls_route("infra", "weights",
                           "  parentRefs: [{name: tls}]\n  hostnames: [w.example.com]\n"
                           "  rules: [{backendRefs: [{name: db, port: 80, weight: 3}, "
                           "{name: missing, port: 80, weight: 1}]}]\n"));
  auto table = compile_doors(r);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(relay_of(*table, "gw/infra/tls/443", "w.example.com"),
            "passthrough infra/db/80*3 passthrough-unavailable*1");
}

TEST(TLSRoute, BadInputOnlyAffectsItsOwnRoute) {
  Result r = run(
      std::string(kClass) + gateway("infra", "tls", kPassthrough) + service_yaml("infra", "db") +
      tls_route("infra", "good",
                "  parentRefs: [{name: tls}]\n  hostnames: [good.example.com]\n"
                "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
      tls_route("infra", "heavy",
                "  parentRefs: [{name: tls}]\n  hostnames: [heavy.example.com]\n"
                "  rules: [{backendRefs: [{name: db, port: 80, weight: 2000000}]}]\n") +
      tls_route("infra", "odd-host",
                "  parentRefs: [{name: tls}]\n  hostnames: [\"bad_host!\", ok.example.com]\n"
                "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
      tls_route("infra", "all-bad-hosts",
                "  parentRefs: [{name: tls}]\n  hostnames: [\"***\"]\n"
                "  rules: [{backendRefs: [{name: db, port: 80}]}]\n") +
      tls_route("infra", "odd-rules",
                "  parentRefs: [{name: tls}]\n  hostnames: [odd.example.com]\n"
                "  rules: [x, {backendRefs: [7]}]\n"));
  EXPECT_EQ(cond(parent(r, "good").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "heavy").conditions, "Accepted"), "False UnsupportedValue");
  EXPECT_NE(parent(r, "heavy").conditions[0].message.find("spec.rules[0].backendRefs[0].weight"),
            std::string::npos);
  EXPECT_EQ(cond(parent(r, "odd-host").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "all-bad-hosts").conditions, "Accepted"),
            "False NoMatchingListenerHostname");
  EXPECT_EQ(cond(parent(r, "odd-rules").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(cond(parent(r, "odd-rules").conditions, "ResolvedRefs"), "False BackendNotFound");
  // good, odd-host and odd-rules are attached; heavy and all-bad-hosts are not.
  EXPECT_EQ(listener(r, "tls", "tls").attached_routes, 3);
  bool host_event = false;
  for (const Event& e : r.events)
    host_event |= e.object.name == "odd-host" && e.field == "spec.hostnames[0]";
  EXPECT_TRUE(host_event) << describe(r);
  auto table = compile_doors(r);
  ASSERT_NE(table, nullptr);
  const std::string l = "gw/infra/tls/443";
  EXPECT_EQ(relay_of(*table, l, "good.example.com"), "passthrough infra/db/80*1");
  EXPECT_EQ(relay_of(*table, l, "ok.example.com"), "passthrough infra/db/80*1");
  EXPECT_EQ(relay_of(*table, l, "heavy.example.com"), "none");
  EXPECT_EQ(relay_of(*table, l, "odd.example.com"), "passthrough passthrough-unavailable*1");
}

TEST(TLSRoute, TerminateRelaysPlaintextWithTheListenerCertificate) {
  Result r = run(std::string(kClass) +
                 gateway("infra", "term",
                         "  - name: any-host\n    port: 8443\n    protocol: TLS\n"
                         "    tls: {mode: Terminate, certificateRefs: [{name: cert}]}\n"
                         "  - name: wild\n    port: 9443\n    protocol: TLS\n"
                         "    hostname: \"*.example.com\"\n"
                         "    tls: {mode: Terminate, certificateRefs: [{name: cert}]}\n") +
                 tls_secret_yaml("infra", "cert", "example") + service_yaml("infra", "plain") +
                 tls_route("infra", "plain",
                           "  parentRefs: [{name: term}]\n"
                           "  hostnames: [tls.example.com, a.b.example.com]\n"
                           "  rules: [{backendRefs: [{name: plain, port: 80}]}]\n"));
  EXPECT_EQ(cond(parent(r, "plain").conditions, "Accepted"), "True Accepted");
  EXPECT_EQ(listener(r, "term", "any-host").attached_routes, 1);
  EXPECT_EQ(listener(r, "term", "wild").attached_routes, 1);
  const FrontDoor* d = door(r, "term", 8443);
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->relays.size(), 2u) << describe(r);
  ASSERT_TRUE(d->relays[0].tls.has_value());
  EXPECT_EQ(d->relays[0].tls->secret.key(), "infra/cert");
  // The certificate is served under each relayed name (the proxy needs one per name).
  std::vector<std::string> names;
  names.reserve(d->certificates.size());
  for (const auto& [host, tls] : d->certificates) names.push_back(host);
  EXPECT_EQ(names, (std::vector<std::string>{"*", "a.b.example.com", "tls.example.com"}));
  auto table = compile_doors(r);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(relay_of(*table, "gw/infra/term/8443", "tls.example.com"),
            "terminate infra/plain/80*1");
  EXPECT_EQ(relay_of(*table, "gw/infra/term/9443", "a.b.example.com"),
            "terminate infra/plain/80*1");
}

}  // namespace
}  // namespace kop::ingress::gateway
