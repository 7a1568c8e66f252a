// BuildCache: build_model(snapshot, options, &cache) must give exactly build_model(snapshot,
// options) after every kind of change, and must re-translate only the Ingresses whose inputs
// changed (an EndpointSlice change touches the Ingresses of that Service only).
#include <gtest/gtest.h>

#include <sstream>

#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::parse_objects;
using testing::service_yaml;
using testing::snapshot_of;
using testing::tls_secret_yaml;

std::string ingress_yaml(std::string_view name, std::string_view service, std::string_view host,
                         std::string_view tls_secret = "", std::string_view extra_meta = "") {
  std::ostringstream y;
  y << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " << name
    << "\n  namespace: default\n"
    << extra_meta << "spec:\n";
  if (!tls_secret.empty())
    y << "  tls:\n  - {hosts: [" << host << "], secretName: " << tls_secret << "}\n";
  y << "  rules:\n  - host: " << host << "\n    http:\n      paths:\n"
    << "      - {path: /, pathType: Prefix, backend: {service: {name: " << service
    << ", port: {number: 80}}}}\n";
  return y.str();
}

api::ObjectPtr one(const std::string& yaml) {
  auto objects = parse_objects(yaml);
  EXPECT_EQ(objects.size(), 1u);
  return objects.at(0);
}

// Replaces the object of the same kind list with the same namespace/name.
void replace(std::vector<api::ObjectPtr>& list, api::ObjectPtr o) {
  for (auto& p : list)
    if (p->ns() == o->ns() && p->name() == o->name()) {
      p = std::move(o);
      return;
    }
  list.push_back(std::move(o));
}

void remove(std::vector<api::ObjectPtr>& list, std::string_view name) {
  std::erase_if(list, [&](const api::ObjectPtr& p) { return p->name() == name; });
}

class BuildCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snap_ = snapshot_of(service_yaml("default", "a", 2, 1) + service_yaml("default", "b", 2, 2) +
                        tls_secret_yaml("default", "ex", "example") +
                        ingress_yaml("ia", "a", "a.example.com") +
                        ingress_yaml("ib", "b", "example.com", "ex") +
                        ingress_yaml("ic", "missing", "c.example.com"));
  }
  // Builds with the cache and checks it against a build without.
  Model check() {
    Model cached = build_model(snap_, options_, &cache_);
    Model full = build_model(snap_, options_);
    EXPECT_EQ(describe(cached), describe(full));
    EXPECT_TRUE(cached == full);
    return cached;
  }
  Snapshot snap_;
  Options options_;
  BuildCache cache_;
};

TEST_F(BuildCacheTest, EqualsFullBuildAndReusesUnchangedIngresses) {
  Model m = check();
  EXPECT_EQ(cache_.translated(), 3u);
  EXPECT_EQ(cache_.reused(), 0u);
  EXPECT_NE(describe(m).find("ServiceNotFound"), std::string::npos);

  check();  // nothing changed
  EXPECT_EQ(cache_.translated(), 0u);
  EXPECT_EQ(cache_.reused(), 3u);

  // Endpoint-only change of Service a: only ia is translated again.
  replace(snap_.endpoint_slices, one(service_yaml("default", "a", 3, 7)
                                         .substr(service_yaml("default", "a", 3, 7)
                                                     .find("---\napiVersion: "
                                                           "discovery"))));
  m = check();
  EXPECT_EQ(cache_.translated(), 1u);
  EXPECT_EQ(cache_.reused(), 2u);
  ASSERT_TRUE(m.clusters.count("default/a/80"));
  EXPECT_EQ(m.clusters.at("default/a/80")->endpoints.size(), 3u);
  EXPECT_EQ(m.clusters.at("default/a/80")->endpoints[0].address, "10.0.7.1");

  // The missing Service appears: ic's Event goes, its route forwards.
  for (auto& o : parse_objects(service_yaml("default", "missing", 1, 3))) {
    if (o->kind() == "Service")
      snap_.services.push_back(o);
    else
      snap_.endpoint_slices.push_back(o);
  }
  m = check();
  EXPECT_EQ(cache_.translated(), 1u);
  EXPECT_EQ(describe(m).find("ServiceNotFound"), std::string::npos);
  EXPECT_TRUE(m.clusters.count("default/missing/80"));

  // The Secret is replaced by another certificate: ib only.
  replace(snap_.secrets, one(tls_secret_yaml("default", "ex", "other")));
  check();
  EXPECT_EQ(cache_.translated(), 1u);

  // The Secret is deleted: ib gets its Event.
  remove(snap_.secrets, "ex");
  m = check();
  EXPECT_EQ(cache_.translated(), 1u);
  EXPECT_NE(describe(m).find("SecretNotFound"), std::string::npos);

  // The Service b is deleted: ib routes answer 503 and an Event names it.
  remove(snap_.services, "b");
  m = check();
  EXPECT_EQ(cache_.translated(), 1u);
  EXPECT_NE(describe(m).find("Service \"default/b\" not found"), std::string::npos);

  // An Ingress is edited (a new object), another deleted.
  replace(snap_.ingresses, one(ingress_yaml("ia", "missing", "a2.example.com")));
  remove(snap_.ingresses, "ic");
  m = check();
  EXPECT_EQ(cache_.translated(), 1u);
  EXPECT_EQ(cache_.reused(), 1u);
  EXPECT_EQ(m.owned_ingresses.size(), 2u);
}

TEST_F(BuildCacheTest, ClassAndOptionChangesTranslateEverything) {
  replace(snap_.ingresses,
          one(ingress_yaml("ia", "a", "a.example.com", "",
                           "  annotations: {kubernetes.io/ingress.class: other}\n")));
  Model m = check();
  EXPECT_EQ(m.owned_ingresses.size(), 2u);

  options_.ingress_class = "other";
  options_.watch_ingress_without_class = false;
  m = check();
  EXPECT_EQ(cache_.translated(), 3u);
  ASSERT_EQ(m.owned_ingresses.size(), 1u);
  EXPECT_EQ(m.owned_ingresses[0].name, "ia");

  // An IngressClass appearing may change which Ingresses are ours.
  snap_.ingress_classes.push_back(
      one("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: kop\n"
          "  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}\n"
          "spec: {controller: kop.dev/ingress-controller}\n"));
  check();
  EXPECT_EQ(cache_.translated(), 3u);
  check();
  EXPECT_EQ(cache_.reused(), 3u);
}

TEST_F(BuildCacheTest, SameUidAndResourceVersionIsTheSameObject) {
  auto with_meta = [](std::string_view rv, std::string_view host = "a.example.com") {
    return one(
        ingress_yaml("ia", "a", host, "",
                     std::string("  uid: u-ia\n  resourceVersion: \"") + std::string(rv) + "\"\n"));
  };
  replace(snap_.ingresses, with_meta("5"));
  check();
  replace(snap_.ingresses, with_meta("5"));  // parsed again: another ObjectPtr, same version
  check();
  EXPECT_EQ(cache_.reused(), 3u);
  // A new version whose spec and metadata are the same (a status write) is not translated again.
  replace(snap_.ingresses, with_meta("6"));
  check();
  EXPECT_EQ(cache_.translated(), 0u);
  replace(snap_.ingresses, with_meta("7", "a2.example.com"));
  check();
  EXPECT_EQ(cache_.translated(), 1u);
}

}  // namespace
}  // namespace kop::ingress
