// The Kubernetes protobuf encoding of bodies: kubectl's own bytes decode to the JSON the API
// server would write, every served kind round-trips and creates the same object as its JSON,
// responses and watch frames are protobuf only for clients that do not take JSON, and bad input
// is a 400 naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto_codec.h"
#include "rest.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

// kubectl v1.32 `create namespace demo`, as it sent it (kubectl -v=9).
const std::string kNamespaceDemo(
    "k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x1c\x0a\x14\x0a\x04"
    "demo\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x00\x1a"
    "\x02\x0a\x00\x1a\x00\x22\x00",
    0x37);

// Every served kind, written as a client would (not in Go's normal form: decode adds what Go's
// encoding/json writes for unset values).
const char* const kObjects[] = {
    R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"demo","labels":{"a":"b"}}})",
    R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"default"},
        "data":{"k":"v","empty":""},"binaryData":{"b":"AAEC/w=="},"immutable":false})",
    R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","namespace":"default"},
        "type":"Opaque","data":{"password":"czNjcmV0"}})",
    R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc","namespace":"default"},
        "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"},
        {"name":"b","port":81,"targetPort":8081,"protocol":"UDP"}]}})",
    R"({"kind":"Endpoints","apiVersion":"v1","metadata":{"name":"svc","namespace":"default"},
        "subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]})",
    R"({"kind":"Event","apiVersion":"v1","metadata":{"name":"e","namespace":"default"},
        "involvedObject":{"kind":"Pod","name":"p"},"reason":"Started","count":3,
        "firstTimestamp":"2026-01-02T03:04:05Z","eventTime":"2026-01-02T03:04:05.123456Z"})",
    R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"robot","namespace":"default"},
        "automountServiceAccountToken":false})",
    R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"default"},
        "spec":{"containers":[{"name":"c","image":"busybox","args":["sleep","1"],
        "resources":{"limits":{"cpu":"500m","memory":"64Mi"}},
        "securityContext":{"runAsUser":0,"privileged":false},
        "volumeMounts":[{"name":"v","mountPath":"/v"}]}],
        "volumes":[{"name":"v","configMap":{"name":"c","defaultMode":420}}]}})",
    R"({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"default"},
        "spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},
        "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":"10%"}},
        "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"nginx","image":"nginx:1","ports":[{"containerPort":80}]}]}}}})",
    R"({"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"i","namespace":"default"},
        "spec":{"ingressClassName":"kop","rules":[{"host":"a.example.com","http":{"paths":[
        {"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}}]}}]}})",
    R"({"kind":"IngressClass","apiVersion":"networking.k8s.io/v1","metadata":{"name":"kop"},
        "spec":{"controller":"kop.dev/ingress"}})",
    R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"es","namespace":"default"},
        "addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":false}}],
        "ports":[{"name":"","port":80,"protocol":"TCP"}]})",
    R"({"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"l","namespace":"default"},
        "spec":{"holderIdentity":"me","leaseDurationSeconds":15,"renewTime":"2026-01-02T03:04:05.000001Z"}})",
};

// Every member of `want` is in `got` with the same value (decode may add Go's zero values).
void expect_contains(const JsonValue& got, const JsonValue& want, const std::string& where) {
  if (want.IsObject()) {
    ASSERT_TRUE(got.IsObject()) << where;
    for (auto& m : want.GetObject()) {
      std::string name(json::as_string_view(m.name));
      const JsonValue* g = json::find(got, name);
      ASSERT_NE(g, nullptr) << where << "." << name << " missing";
      std::string path = where;
      path.append(".").append(name);
      expect_contains(*g, m.value, path);
    }
  } else if (want.IsArray()) {
    ASSERT_TRUE(got.IsArray() && got.Size() == want.Size()) << where;
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i)
      expect_contains(got[i], want[i], where + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_TRUE(json::equal(got, want))
        << where << ": " << json::to_json(got) << " != " << json::to_json(want);
  }
}

TEST(Proto, KubectlNamespaceBytesDecodeToGoJson) {
  auto d = proto::decode(kNamespaceDemo);
  ASSERT_TRUE(d.ok()) << d.status();
  // The API server marshals the same Go object as this (creationTimestamp is omitzero in the
  // tables' k8s.io/apimachinery; older ones wrote null): spec and status are structs, never
  // left out.
  EXPECT_EQ(
      json::to_json(*d),
      R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"demo"},"spec":{},"status":{}})");
}

TEST(Proto, EveryServedKindRoundTrips) {
  for (const char* text : kObjects) {
    JsonDoc obj = J(text);
    std::string kind(json::string_or_empty(&obj, "kind"));
    auto pb = proto::encode(obj);
    ASSERT_TRUE(pb.ok()) << kind << ": " << pb.status();
    EXPECT_EQ(pb->substr(0, 4), std::string("k8s\0", 4));
    auto back = proto::decode(*pb);
    ASSERT_TRUE(back.ok()) << kind << ": " << back.status();
    expect_contains(*back, obj, kind);
    // Go's normal form is a fixed point.
    auto again = proto::decode(*proto::encode(*back));
    ASSERT_TRUE(again.ok()) << kind;
    EXPECT_EQ(json::to_json(*again), json::to_json(*back)) << kind;
  }
  // Pointers keep their zero values, non-pointer omitempty fields drop them.
  auto deploy = *proto::decode(*proto::encode(J(kObjects[8])));
  EXPECT_EQ(json::to_json(*json::path(deploy, {"spec", "replicas"})), "0");
  EXPECT_EQ(json::find(*json::path(deploy, {"spec"}), "minReadySeconds"), nullptr);
  EXPECT_EQ(json::to_json(*json::path(deploy, {"spec", "strategy", "rollingUpdate"})),
            R"({"maxUnavailable":"10%","maxSurge":1})");
  auto es = *proto::decode(*proto::encode(J(kObjects[11])));
  EXPECT_EQ(json::to_json(*json::path(es, {"endpoints"})),
            R"([{"addresses":["10.0.0.1"],"conditions":{"ready":false}}])");
  EXPECT_EQ(json::to_json(*json::path(es, {"ports"})),
            R"([{"name":"","protocol":"TCP","port":80}])");
}

class ProtoRest : public ::testing::Test {
 protected:
  rest::Response call(std::string method, std::string target, std::string body,
                      std::map<std::string, std::string> headers) {
    rest::Request r{std::move(method), std::move(target), std::move(headers), std::move(body)};
    return rest::handle(store, opts, r);
  }
  Store store;
  rest::Options opts{"", "127.0.0.1:6443"};
};

std::string collection(const JsonValue& obj) {
  const api::ResourceInfo* info =
      api::builtin_kind(api::GroupVersion::parse(json::string_or_empty(&obj, "apiVersion"))->group,
                        json::string_or_empty(&obj, "kind"));
  std::string av(json::string_or_empty(&obj, "apiVersion"));
  std::string base = av.find('/') == std::string::npos ? "/api/" + av : "/apis/" + av;
  if (info->namespaced) base += "/namespaces/default";
  return base + "/" + std::string(info->resource);
}

// The store gets the same object from a protobuf body as from the JSON the API server would
// have decoded from the same Go object.
TEST_F(ProtoRest, CreateFromProtobufEqualsCreateFromJson) {
  Store json_store;
  rest::Options o{"", "127.0.0.1:6443"};
  for (const char* text : kObjects) {
    JsonDoc obj = J(text);
    std::string kind(json::string_or_empty(&obj, "kind"));
    std::string path = collection(obj);
    auto pb = proto::encode(obj);
    ASSERT_TRUE(pb.ok());
    auto r = call("POST", path + "?fieldManager=kubectl-create", *pb,
                  {{"content-type", "application/vnd.kubernetes.protobuf"},
                   {"accept", "application/vnd.kubernetes.protobuf,application/json"}});
    ASSERT_EQ(r.status, 201) << kind << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json");  // JSON is acceptable: JSON it is
    std::string go_json = json::to_json(*proto::decode(*pb));
    auto j = rest::handle(json_store, o,
                          {"POST",
                           path + "?fieldManager=kubectl-create",
                           {{"content-type", "application/json"}},
                           go_json});
    ASSERT_EQ(j.status, 201) << kind << ": " << j.body;
    JsonDoc a = J(r.body), b = J(j.body);
    for (JsonDoc* d : {&a, &b}) {
      JsonValue& meta = (*d)["metadata"];
      for (auto k : {"uid", "resourceVersion", "creationTimestamp", "managedFields"})
        meta.RemoveMember(k);
      if (JsonValue* spec = json::find(*d, "spec")) {
        spec->RemoveMember("clusterIP");
        spec->RemoveMember("clusterIPs");
      }
    }
    EXPECT_EQ(json::to_json(a), json::to_json(b)) << kind;
    // SetDefaults_Endpoints (found by tests/unit/local/proto_compare_real.py).
    if (kind == "Endpoints") {
      EXPECT_EQ(json::path_string(a["subsets"][0]["ports"][0], {"protocol"}), "TCP");
    }
  }
}

TEST_F(ProtoRest, AnswersProtobufOnlyWhenJsonIsNotAcceptable) {
  JsonDoc cm = J(kObjects[1]);
  auto c = call("POST", "/api/v1/namespaces/default/configmaps", *proto::encode(cm),
                {{"content-type", "application/vnd.kubernetes.protobuf"},
                 {"accept", "application/vnd.kubernetes.protobuf"}});
  ASSERT_EQ(c.status, 201);
  EXPECT_EQ(c.content_type, "application/vnd.kubernetes.protobuf");
  auto got = proto::decode(c.body);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(json::path_string(*got, {"data", "k"}), "v");
  EXPECT_FALSE(json::path_string(*got, {"metadata", "uid"}).empty());
  // A list, and an error (a Status) in protobuf too.
  auto l = call("GET", "/api/v1/namespaces/default/configmaps", "",
                {{"accept", "application/vnd.kubernetes.protobuf"}});
  auto list = proto::decode(l.body);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(json::path_string(*list, {"kind"}), "ConfigMapList");
  EXPECT_EQ((*list)["items"].Size(), 1u);
  auto nf = call("GET", "/api/v1/namespaces/default/configmaps/nope", "",
                 {{"accept", "application/vnd.kubernetes.protobuf"}});
  EXPECT_EQ(nf.status, 404);
  auto st = proto::decode(nf.body);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(json::path_string(*st, {"reason"}), "NotFound");
  EXPECT_EQ(json::to_json(*json::find(*st, "code")), "404");
  // Discovery has no table: 406 as the API server answers.
  EXPECT_EQ(call("GET", "/api/v1", "", {{"accept", "application/vnd.kubernetes.protobuf"}}).status,
            406);
}

TEST_F(ProtoRest, WatchFramesAreLengthPrefixedWatchEvents) {
  auto w = call("GET", "/api/v1/namespaces/default/configmaps?watch=1", "",
                {{"accept", "application/vnd.kubernetes.protobuf;stream=watch"}});
  ASSERT_TRUE(w.watch);
  EXPECT_TRUE(w.watch_protobuf);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/default/configmaps", *proto::encode(J(kObjects[1])),
                 {{"content-type", "application/vnd.kubernetes.protobuf"}})
                .status,
            201);
  auto ev = w.watch->next(absl::Seconds(5));
  ASSERT_TRUE(ev);
  std::string frame = rest::encode_event_protobuf(*ev);
  w.watch->stop();
  ASSERT_GT(frame.size(), 4u);
  size_t n = (static_cast<uint8_t>(frame[0]) << 24) | (static_cast<uint8_t>(frame[1]) << 16) |
             (static_cast<uint8_t>(frame[2]) << 8) | static_cast<uint8_t>(frame[3]);
  EXPECT_EQ(n, frame.size() - 4);
  // WatchEvent {1: "ADDED", 2: {1: envelope}}: the type, then the object's envelope.
  EXPECT_EQ(frame.substr(4, 7), std::string("\x0a\x05"
                                            "ADDED",
                                            7));
  size_t magic = frame.find(std::string("k8s\0", 4));
  ASSERT_NE(magic, std::string::npos);
  auto obj = proto::decode(frame.substr(magic));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(json::path_string(*obj, {"metadata", "name"}), "c");
}

TEST_F(ProtoRest, BadBodiesAre400NamingTheField) {
  auto post = [&](std::string body) {
    return call("POST", "/api/v1/namespaces/default/configmaps", std::move(body),
                {{"content-type", "application/vnd.kubernetes.protobuf"}});
  };
  auto message = [](const rest::Response& r) {
    return std::string(json::path_string(J(r.body), {"message"}));
  };
  std::string good = *proto::encode(J(kObjects[1]));
  // ConfigMap field 9 does not exist: raw = {0x48 0x01} appended to the ConfigMap message.
  std::string env(std::string("k8s\0", 4) +
                  "\x0a\x0f\x0a\x02v1\x12\x09"
                  "ConfigMap" +
                  "\x12\x02\x48\x01");
  auto r = post(env);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(message(r), ::testing::HasSubstr("core.ConfigMap: unknown field number 9"));
  EXPECT_EQ(post("k8s").status, 400);
  EXPECT_THAT(message(post(good.substr(0, good.size() / 2))), ::testing::HasSubstr("past the end"));
  EXPECT_THAT(message(post(std::string("nope") + good.substr(4))), ::testing::HasSubstr("magic"));
  // A kind without a table, and a wrong wire type (data as a varint).
  std::string other(std::string("k8s\0", 4) +
                    "\x0a\x0f\x0a\x02v1\x12\x09"
                    "NotAThing");
  EXPECT_THAT(message(post(other)), ::testing::HasSubstr("no protobuf table"));
  std::string wire(std::string("k8s\0", 4) +
                   "\x0a\x0f\x0a\x02v1\x12\x09"
                   "ConfigMap" +
                   "\x12\x02\x10\x01");
  EXPECT_THAT(message(post(wire)), ::testing::HasSubstr("field 2 (data): wire type 0"));
  // The store saw none of these.
  JsonDoc list = J(call("GET", "/api/v1/namespaces/default/configmaps", "", {}).body);
  EXPECT_EQ(list["items"].Size(), 0u);
}

TEST(Proto, ContentNegotiation) {
  EXPECT_TRUE(proto::is_protobuf("application/vnd.kubernetes.protobuf"));
  EXPECT_TRUE(proto::is_protobuf("application/vnd.kubernetes.protobuf; charset=x"));
  EXPECT_FALSE(proto::is_protobuf("application/json"));
  EXPECT_FALSE(proto::wants_protobuf("application/vnd.kubernetes.protobuf,application/json"));
  EXPECT_FALSE(proto::wants_protobuf("*/*"));
  EXPECT_FALSE(proto::wants_protobuf(""));
  EXPECT_TRUE(proto::wants_protobuf("application/vnd.kubernetes.protobuf"));
  EXPECT_TRUE(proto::wants_protobuf("application/vnd.kubernetes.protobuf;stream=watch"));
}

}  // namespace
}  // namespace kop::local
