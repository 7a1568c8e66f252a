// Validation of ObjectMeta and the built-in kinds, with the API server's 422 messages and causes.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class Validation : public ::testing::Test {
 protected:
  Store s;
  client::ApiStatus fail(std::string_view resource, std::string_view group, std::string_view body) {
    auto t = s.registry().by_resource(group, "v1", resource);
    auto r = s.create(*t, "default", J(body));
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? client::ApiStatus{} : api(r.status());
  }
  void ok(std::string_view resource, std::string_view group, std::string_view body) {
    auto t = s.registry().by_resource(group, "v1", resource);
    auto r = s.create(*t, "default", J(body));
    EXPECT_TRUE(r.ok()) << api(r.status()).message;
  }
};

TEST_F(Validation, IngressPathTypeRequired) {
  auto st = fail(
      "ingresses", "networking.k8s.io",
      R"({"metadata":{"name":"i"},"spec":{"rules":[{"host":"a.example.com","http":{"paths":[{"path":"/","backend":{"service":{"name":"s","port":{"number":80}}}}]}}]}})");
  EXPECT_EQ(st.code, 422);
  EXPECT_EQ(st.reason, "Invalid");
  EXPECT_EQ(
      st.message,
      R"(Ingress.networking.k8s.io "i" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified)");
  ASSERT_EQ(st.details->causes.size(), 1u);
  EXPECT_EQ(st.details->causes[0].type, "FieldValueRequired");
  EXPECT_EQ(st.details->causes[0].message, "Required value: pathType must be specified");
  EXPECT_EQ(st.details->causes[0].field, "spec.rules[0].http.paths[0].pathType");
  EXPECT_EQ(st.details->kind, "Ingress");
  EXPECT_EQ(st.details->group, "networking.k8s.io");
  EXPECT_EQ(st.details->name, "i");
}

TEST_F(Validation, IngressPathsAndBackends) {
  auto st = fail("ingresses", "networking.k8s.io",
                 R"({"metadata":{"name":"i"},"spec":{"rules":[{"host":"1.2.3.4","http":{"paths":[
                   {"path":"a//b","pathType":"Prefix","backend":{"service":{"name":"s","port":{"number":80}}}},
                   {"path":"/x/..","pathType":"Exact","backend":{"service":{"name":"Bad_Name","port":{"number":0}}}},
                   {"path":"/","pathType":"Glob","backend":{}}]}}]}})");
  std::vector<std::string> got;
  for (auto& c : st.details->causes) got.push_back(c.field + ": " + c.message);
  std::vector<std::string> want = {
      R"(spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address)",
      R"(spec.rules[0].http.paths[0].path: Invalid value: "a//b": must be an absolute path)",
      R"(spec.rules[0].http.paths[0].path: Invalid value: "a//b": must not contain '//')",
      R"(spec.rules[0].http.paths[1].path: Invalid value: "/x/..": cannot end with '/..')",
      R"(spec.rules[0].http.paths[1].backend.service.name: Invalid value: "Bad_Name": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'))",
      R"(spec.rules[0].http.paths[1].backend: Required value: port name or number is required)",
      R"(spec.rules[0].http.paths[2].pathType: Unsupported value: "Glob": supported values: "Exact", "ImplementationSpecific", "Prefix")",
      R"(spec.rules[0].http.paths[2].backend: Invalid value: "": resource or service backend is required)",
  };
  for (auto& g : got) g = g.substr(0, g.find(": ")) + ": " + g.substr(g.find(": ") + 2);
  ASSERT_EQ(got.size(), want.size()) << st.message;
  for (size_t i = 0; i < want.size(); ++i) {
    auto colon = want[i].find(": ");
    EXPECT_EQ(st.details->causes[i].field, want[i].substr(0, colon));
    EXPECT_EQ(st.details->causes[i].message, want[i].substr(colon + 2));
  }
  EXPECT_EQ(st.message.substr(0, 45), "Ingress.networking.k8s.io \"i\" is invalid: [sp");
}

TEST_F(Validation, IngressValidShapes) {
  ok("ingresses", "networking.k8s.io",
     R"({"metadata":{"name":"host-only"},"spec":{"rules":[{"host":"a.example.com"}]}})");
  ok("ingresses", "networking.k8s.io",
     R"({"metadata":{"name":"full"},"spec":{"ingressClassName":"kop","tls":[{"hosts":["*.example.com"],"secretName":"tls"}],
        "rules":[{"host":"*.example.com","http":{"paths":[{"path":"/api","pathType":"Prefix","backend":{"service":{"name":"api","port":{"name":"http"}}}},
                                                          {"pathType":"ImplementationSpecific","backend":{"service":{"name":"api","port":{"number":8080}}}}]}}]}})");
  auto st = fail("ingresses", "networking.k8s.io", R"({"metadata":{"name":"empty"},"spec":{}})");
  EXPECT_EQ(st.details->causes[0].message,
            "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must "
            "be specified");
  auto both = fail(
      "ingresses", "networking.k8s.io",
      R"({"metadata":{"name":"b"},"spec":{"defaultBackend":{"service":{"name":"s","port":{"name":"http","number":80}}}}})");
  EXPECT_EQ(both.details->causes[0].message,
            R"(Invalid value: "": cannot set both port name & port number)");
  auto http_no_paths =
      fail("ingresses", "networking.k8s.io",
           R"({"metadata":{"name":"n"},"spec":{"rules":[{"http":{"paths":[]}}]}})");
  EXPECT_EQ(http_no_paths.details->causes[0].field, "spec.rules[0].http.paths");
  auto tls = fail(
      "ingresses", "networking.k8s.io",
      R"({"metadata":{"name":"t"},"spec":{"rules":[{"host":"a.b"}],"tls":[{"hosts":["Bad..host"]}]}})");
  EXPECT_EQ(tls.details->causes[0].field, "spec.tls[0].hosts[0]");
}

TEST_F(Validation, IngressClass) {
  ok("ingressclasses", "networking.k8s.io",
     R"({"metadata":{"name":"kop"},"spec":{"controller":"kop.dev/ingress"}})");
  auto st = fail("ingressclasses", "networking.k8s.io",
                 R"({"metadata":{"name":"x"},"spec":{"controller":"nodomain"}})");
  EXPECT_EQ(st.details->causes[0].message,
            R"(Invalid value: "nodomain": must be a domain-prefixed path (such as "acme.io/foo"))");
  auto ic = s.registry().by_resource("networking.k8s.io", "v1", "ingressclasses");
  auto u =
      s.patch(*ic, "", "kop", PatchType::kJsonMerge, R"({"spec":{"controller":"other.dev/x"}})");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(api(u.status()).details->causes[0].message,
            R"(Invalid value: "other.dev/x": field is immutable)");
}

TEST_F(Validation, Service) {
  ok("services", "",
     R"({"metadata":{"name":"web"},"spec":{"ports":[{"port":80}],"selector":{"app":"web"}}})");
  auto svc = s.registry().by_resource("", "v1", "services");
  auto got = s.get(*svc, "default", "web");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::path_string((*got)->doc(), {"spec", "type"}), "ClusterIP");
  EXPECT_EQ(json::path_string((*got)->doc(), {"spec", "ports"}).size(), 0u);
  EXPECT_EQ(json::to_json(*json::path((*got)->doc(), {"spec", "ports"})),
            R"([{"port":80,"protocol":"TCP","targetPort":80}])");
  EXPECT_FALSE(json::path_string((*got)->doc(), {"spec", "clusterIP"}).empty());
  auto st = fail(
      "services", "",
      R"({"metadata":{"name":"1web"},"spec":{"type":"Weird","ports":[{"port":70000},{"port":80,"name":"a"}]}})");
  std::vector<std::string> fields;
  for (auto& c : st.details->causes) fields.push_back(c.field);
  // ValidateService's order: metadata, ports, ..., type.
  EXPECT_EQ(fields,
            (std::vector<std::string>{"metadata.name", "spec.ports[0].name", "spec.ports[0].port",
                                      "spec.ports[0].targetPort", "spec.type"}));
  EXPECT_EQ(st.details->causes[2].message,
            "Invalid value: 70000: must be between 1 and 65535, inclusive");
  // An overlong dotted part is not an IP (and must not overflow while parsing).
  auto longip = fail(
      "services", "",
      R"({"metadata":{"name":"lip"},"spec":{"clusterIP":"1.99999999999999999999.3.4","ports":[{"port":80}]}})");
  EXPECT_EQ(longip.details->causes[0].field, "spec.clusterIP");
  auto noports = fail("services", "", R"({"metadata":{"name":"np"},"spec":{}})");
  EXPECT_EQ(noports.details->causes[0].field, "spec.ports");
  ok("services", "", R"({"metadata":{"name":"headless"},"spec":{"clusterIP":"None"}})");
  ok("services", "",
     R"({"metadata":{"name":"ext"},"spec":{"type":"ExternalName","externalName":"db.example.com"}})");
  // clusterIP is immutable.
  auto im = s.patch(*svc, "default", "web", PatchType::kJsonMerge,
                    R"({"spec":{"clusterIP":"10.0.0.9"}})");
  ASSERT_FALSE(im.ok());
  EXPECT_EQ(api(im.status()).details->causes[0].message,
            R"(Invalid value: "10.0.0.9": field is immutable)");
}

TEST_F(Validation, EndpointSlice) {
  auto eps = s.registry().by_resource("discovery.k8s.io", "v1", "endpointslices");
  auto r = s.create(
      *eps, "default",
      J(R"({"metadata":{"name":"e"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]}],"ports":[{"name":"http","port":8080}]})"));
  ASSERT_TRUE(r.ok()) << api(r.status()).message;
  EXPECT_EQ(json::to_json(*json::find((*r)->doc(), "ports")),
            R"([{"name":"http","port":8080,"protocol":"TCP"}])");
  auto st = fail(
      "endpointslices", "discovery.k8s.io",
      R"({"metadata":{"name":"b"},"addressType":"IPv4","endpoints":[{"addresses":[]},{"addresses":["::1"]}]})");
  EXPECT_EQ(st.details->causes[0].field, "endpoints[0].addresses");
  EXPECT_EQ(st.details->causes[0].message, "Required value: must contain at least 1 address");
  EXPECT_EQ(st.details->causes[1].field, "endpoints[1].addresses[0]");
  std::string many = R"({"metadata":{"name":"m"},"addressType":"IPv4","endpoints":[)";
  for (int i = 0; i < 1001; ++i)
    many += std::string(i ? "," : "") + R"({"addresses":["10.0.0.1"]})";
  many += "]}";
  auto tm = fail("endpointslices", "discovery.k8s.io", many);
  EXPECT_EQ(tm.details->causes[0].field, "endpoints");
  EXPECT_EQ(tm.details->causes[0].message, "Too many: 1001: must have at most 1000 items");
  auto noat = fail("endpointslices", "discovery.k8s.io", R"({"metadata":{"name":"n"}})");
  EXPECT_EQ(noat.details->causes[0].field, "addressType");
  auto im = s.patch(*eps, "default", "e", PatchType::kJsonMerge,
                    R"({"addressType":"IPv6","endpoints":[{"addresses":["::1"]}]})");
  ASSERT_FALSE(im.ok());
  EXPECT_EQ(api(im.status()).details->causes[0].message,
            R"(Invalid value: "IPv6": field is immutable)");
}

TEST_F(Validation, Secret) {
  auto st =
      fail("secrets", "",
           R"({"metadata":{"name":"t"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}})");
  EXPECT_EQ(st.message, R"(Secret "t" is invalid: data[tls.key]: Required value)");
  auto keys = fail("secrets", "", R"({"metadata":{"name":"k"},"data":{"bad key":"eA=="}})");
  EXPECT_EQ(keys.details->causes[0].field, "data[bad key]");
  std::string big(1400000, 'A');
  auto sz = fail("secrets", "", R"({"metadata":{"name":"big"},"data":{"a":")" + big + R"("}})");
  EXPECT_EQ(sz.details->causes[0].message, "Too long: must have at most 1048576 bytes");
  auto sec = s.registry().by_resource("", "v1", "secrets");
  auto r =
      s.create(*sec, "default", J(R"({"metadata":{"name":"sd"},"stringData":{"user":"admin"}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::to_json(*json::find((*r)->doc(), "data")), R"({"user":"YWRtaW4="})");
  EXPECT_EQ(json::find((*r)->doc(), "stringData"), nullptr);
  EXPECT_EQ(json::string_or_empty(&((*r)->doc()), "type"), "Opaque");
  auto im =
      s.patch(*sec, "default", "sd", PatchType::kJsonMerge, R"({"type":"kubernetes.io/tls"})");
  ASSERT_FALSE(im.ok());
  EXPECT_EQ(api(im.status()).details->causes[0].field, "type");
}

TEST_F(Validation, ObjectMeta) {
  auto st = fail(
      "configmaps", "",
      R"({"metadata":{"name":"Bad_Name","labels":{"a b":"c","ok":"-bad-"},"annotations":{"x/y/z":"1"},"finalizers":["plain"]}})");
  std::vector<std::string> fields;
  for (auto& c : st.details->causes) fields.push_back(c.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"metadata.name", "metadata.labels", "metadata.labels",
                                              "metadata.annotations", "metadata.finalizers[0]"}));
  EXPECT_EQ(
      st.details->causes[0].message,
      R"(Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'))");
  EXPECT_EQ(
      st.details->causes[4].message,
      R"(Invalid value: "plain": name is neither a standard finalizer name nor is it fully qualified)");
  auto ns = s.registry().by_resource("", "v1", "namespaces");
  auto r = s.create(*ns, "", J(R"({"metadata":{"name":"has.dot"}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(api(r.status()).details->causes[0].message.substr(0, 50),
            R"(Invalid value: "has.dot": a lowercase RFC 1123 lab)");
}

}  // namespace
}  // namespace kop::local
