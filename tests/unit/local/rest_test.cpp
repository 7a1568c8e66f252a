// The REST layer without sockets: paths, discovery, status codes, Status bodies, Table output,
// deletecollection, watch encoding.
#include <gtest/gtest.h>

#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

class Rest : public ::testing::Test {
 protected:
  rest::Response call(std::string method, std::string target, std::string body = {},
                      std::map<std::string, std::string> headers = {}) {
    rest::Request r{std::move(method), std::move(target), std::move(headers), std::move(body)};
    if (!r.body.empty() && !r.headers.count("content-type"))
      r.headers["content-type"] = "application/json";
    return rest::handle(store, opts, r);
  }
  JsonDoc body(const rest::Response& r) { return J(r.body); }
  Store store;
  rest::Options opts{"", "127.0.0.1:6443"};
};

TEST_F(Rest, Discovery) {
  auto api = call("GET", "/api");
  EXPECT_EQ(api.status, 200);
  EXPECT_EQ(json::path_string(body(api), {"kind"}), "APIVersions");
  auto v1 = body(call("GET", "/api/v1"));
  bool pods_status = false, cms = false;
  for (auto& r : v1["resources"].GetArray()) {
    if (json::string_or_empty(&r, "name") == "pods/status") pods_status = true;
    if (json::string_or_empty(&r, "name") == "configmaps") {
      cms = true;
      EXPECT_EQ(json::to_json(*json::find(r, "shortNames")), R"(["cm"])");
      EXPECT_TRUE(json::find(r, "namespaced")->GetBool());
    }
  }
  EXPECT_TRUE(pods_status && cms);
  auto apis = body(call("GET", "/apis"));
  bool networking = false;
  for (auto& g : apis["groups"].GetArray())
    networking = networking || json::string_or_empty(&g, "name") == "networking.k8s.io";
  EXPECT_TRUE(networking);
  EXPECT_EQ(call("GET", "/apis/networking.k8s.io/v1").status, 200);
  EXPECT_EQ(call("GET", "/apis/nope.example.com/v1").status, 404);
  EXPECT_EQ(call("GET", "/version").status, 200);
  EXPECT_EQ(call("GET", "/openapi/v2").status, 200);
  auto oa = body(call("GET", "/openapi/v3"));
  EXPECT_TRUE(json::path(oa, {"paths", "apis/networking.k8s.io/v1"}));
  auto gv = body(call("GET", "/openapi/v3/api/v1"));
  EXPECT_TRUE(
      json::path(gv, {"paths", "/api/v1/namespaces/{namespace}/configmaps/{name}", "patch"}));
}

TEST_F(Rest, VerbsAndStatusCodes) {
  auto c = call("POST", "/api/v1/namespaces/default/configmaps",
                R"({"metadata":{"name":"a"},"data":{"k":"v"}})");
  EXPECT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.body.substr(0, 37), R"({"kind":"ConfigMap","apiVersion":"v1")");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/a").status, 200);
  auto nf = call("GET", "/api/v1/namespaces/default/configmaps/zz");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body, client::to_json(api(client::not_found("", "configmaps", "zz"))));
  auto list = body(call("GET", "/api/v1/configmaps?labelSelector=&limit=10"));
  EXPECT_EQ(json::string_or_empty(&list, "kind"), "ConfigMapList");
  EXPECT_EQ(call("PUT", "/api/v1/namespaces/default/configmaps/a",
                 R"({"metadata":{"name":"a"},"data":{"k":"w"}})")
                .status,
            200);
  auto p = call("PATCH", "/api/v1/namespaces/default/configmaps/a", R"({"data":{"x":"y"}})",
                {{"content-type", "application/merge-patch+json"}});
  EXPECT_EQ(p.status, 200) << p.body;
  auto bad = call("PATCH", "/api/v1/namespaces/default/configmaps/a", "{}",
                  {{"content-type", "text/plain"}});
  EXPECT_EQ(bad.status, 415);
  auto apply = call("PATCH", "/api/v1/namespaces/default/configmaps/b?fieldManager=m",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
                    {{"content-type", "application/apply-patch+yaml"}});
  EXPECT_EQ(apply.status, 201) << apply.body;
  auto del = call("DELETE", "/api/v1/namespaces/default/configmaps/a");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(json::path_string(body(del), {"status"}), "Success");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/nothings").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/b/scale").status, 404);
  // Cluster-scoped objects and the namespace subresource path.
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/status").status, 200);
  // Protobuf is spoken (proto_test.cpp), CBOR is not.
  auto cbor = call("POST", "/api/v1/namespaces/default/configmaps", std::string("\xd9\xd9\xf7", 3),
                   {{"content-type", "application/cbor"}});
  EXPECT_EQ(cbor.status, 415);
}

TEST_F(Rest, DeleteCollectionAndOptionsBody) {
  for (auto n : {"a", "b", "c"}) {
    call("POST", "/api/v1/namespaces/default/configmaps",
         std::string(R"({"metadata":{"name":")") + n + R"(","labels":{"x":")" +
             (std::string(n) == "c" ? "n" : "y") + R"("}}})");
  }
  auto d = call("DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=x%3Dy");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(body(d)["items"].Size(), 2u);
  auto rest = body(call("GET", "/api/v1/namespaces/default/configmaps"));
  EXPECT_EQ(rest["items"].Size(), 1u);
  auto pre = call("DELETE", "/api/v1/namespaces/default/configmaps/c",
                  R"({"preconditions":{"uid":"other"}})");
  EXPECT_EQ(pre.status, 409);
}

// Query parameters with values the API server does not know are 422 before anything is looked
// up (kube-apiserver v1.20: an unknown propagationPolicy on a missing object is 422, not 404).
TEST_F(Rest, UnknownOptionValuesAreInvalid) {
  auto rvm = call("GET", "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Bogus");
  EXPECT_EQ(rvm.status, 422);
  EXPECT_EQ(
      json::path_string(body(rvm), {"message"}),
      R"(ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", ""])");
  auto del =
      call("DELETE", "/api/v1/namespaces/default/configmaps/nothere?propagationPolicy=Sideways");
  EXPECT_EQ(del.status, 422);
  EXPECT_EQ(
      json::path_string(body(del), {"message"}),
      R"(DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil")");
  auto in_body = call("DELETE", "/api/v1/namespaces/default/configmaps/nothere",
                      R"({"propagationPolicy":"Sideways"})");
  EXPECT_EQ(in_body.status, 422);
  EXPECT_EQ(call("DELETE", "/api/v1/namespaces/default/configmaps/nothere").status, 404);
}

TEST_F(Rest, TableOutput) {
  call("POST", "/api/v1/namespaces/default/services",
       R"({"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}})");
  auto t = call("GET", "/api/v1/namespaces/default/services", "",
                {{"accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  ASSERT_EQ(t.status, 200);
  auto d = body(t);
  EXPECT_EQ(json::string_or_empty(&d, "kind"), "Table");
  std::vector<std::string> cols;
  for (auto& c : d["columnDefinitions"].GetArray())
    cols.emplace_back(json::string_or_empty(&c, "name"));
  EXPECT_EQ(cols, (std::vector<std::string>{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)",
                                            "Age"}));
  ASSERT_EQ(d["rows"].Size(), 1u);
  EXPECT_EQ(json::as_string_view(d["rows"][0]["cells"][0]), "web");
  EXPECT_EQ(json::as_string_view(d["rows"][0]["cells"][4]), "80/TCP");
  EXPECT_EQ(json::string_or_empty(&(d["rows"][0]["object"]), "kind"), "PartialObjectMetadata");
}

// A CRD's printer columns as Gateway API's use them: a JSONPath filter on a list
// (.status.conditions[?(@.type=="Accepted")].status) and a date column shown as an age.
TEST_F(Rest, CrdPrinterColumnsFilterAndDate) {
  auto crd = call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                  R"({"metadata":{"name":"gates.example.com"},"spec":{"group":"example.com",
        "scope":"Namespaced","names":{"plural":"gates","singular":"gate","kind":"Gate"},
        "versions":[{"name":"v1","served":true,"storage":true,
          "additionalPrinterColumns":[
            {"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"},
            {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}],
          "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})");
  ASSERT_EQ(crd.status, 201) << crd.body;
  auto g = call("POST", "/apis/example.com/v1/namespaces/default/gates",
                R"({"metadata":{"name":"g"},"status":{"conditions":[
                      {"type":"Programmed","status":"False"},{"type":"Accepted","status":"True"}]}})");
  ASSERT_EQ(g.status, 201) << g.body;
  auto t = call("GET", "/apis/example.com/v1/namespaces/default/gates", "",
                {{"accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  ASSERT_EQ(t.status, 200);
  auto d = body(t);
  ASSERT_EQ(d["rows"].Size(), 1u);
  const JsonValue& cells = d["rows"][0]["cells"];
  ASSERT_EQ(cells.Size(), 3u) << t.body;
  EXPECT_EQ(json::as_string_view(cells[1]), "True");
  // An age as kube-apiserver prints it ("0s", "5m"), not the timestamp.
  std::string age(json::as_string_view(cells[2]));
  EXPECT_TRUE(!age.empty() && age.back() == 's' && age.find('T') == std::string::npos) << age;
}

TEST_F(Rest, AuthAndWatchEncoding) {
  opts.token = "t";
  EXPECT_EQ(call("GET", "/api/v1/configmaps").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/configmaps", "", {{"authorization", "Bearer t"}}).status, 200);
  auto w = call("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0", "",
                {{"authorization", "Bearer t"}});
  ASSERT_TRUE(w.watch);
  auto cm = store.registry().by_resource("", "v1", "configmaps");
  ASSERT_TRUE(store.create(*cm, "default", configmap("x")).ok());
  auto ev = w.watch->next(absl::Milliseconds(1000));
  ASSERT_TRUE(ev);
  std::string line = rest::encode_event(*ev, *cm, false);
  EXPECT_EQ(line.substr(0, 26), R"({"type":"ADDED","object":{)");
  EXPECT_EQ(line.back(), '\n');
  auto rvm =
      call("GET", "/api/v1/configmaps?watch=true&resourceVersionMatch=Exact&resourceVersion=1", "",
           {{"authorization", "Bearer t"}});
  EXPECT_EQ(rvm.status, 422);
}

}  // namespace
}  // namespace kop::local
