// StatusWriter and HTTPRoute statuses: a route found with our status.parents entry in place is
// not compared again (no status JSON made) while neither it nor its desired status changes; a
// status someone else overwrites is put back, their entry kept.
#include "../../../operators/ingress/controllers/status_writer.h"
#include "eventually.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "kop/local/local_client.h"

namespace kop::ingress {
namespace {

const api::GroupVersionKind kHTTPRoute{"gateway.networking.k8s.io", "v1", "HTTPRoute"};
constexpr int kRoutes = 10;
constexpr std::string_view kOthers = "example.com/other-controller";

std::string route_name(int i) {
  return "route-" + std::to_string(i);
}

using testing::eventually;

// Our status of route i: Accepted under Gateway default/gw, with `reason`.
gateway::RouteStatus route_status(int i, const std::string& reason) {
  gateway::RouteParentStatus parent;
  parent.parent = {std::string(gateway::kGroup), "Gateway", "default", "gw", "", std::nullopt};
  api::Condition accepted;
  accepted.type = "Accepted";
  accepted.status = "True";
  accepted.reason = reason;
  accepted.observed_generation = 1;
  parent.conditions.push_back(accepted);
  return gateway::RouteStatus{ObjectRef{"HTTPRoute", "default", route_name(i)}, {parent}};
}

// Routes route-0 .. route-(kRoutes-1), each naming Gateway default/gw, seen through a cache
// by a StatusWriter that is writing.
struct Routes {
  Routes() {
    // HTTPRoutes served (a CRD with a status subresource that keeps any field).
    auto crd = api::Object::parse(
        R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",)"
        R"("metadata":{"name":"httproutes.gateway.networking.k8s.io"},)"
        R"("spec":{"group":"gateway.networking.k8s.io","scope":"Namespaced",)"
        R"("names":{"plural":"httproutes","kind":"HTTPRoute"},"versions":[{"name":"v1",)"
        R"("served":true,"storage":true,"subresources":{"status":{}},"schema":)"
        R"({"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})");
    EXPECT_TRUE(crd.ok());
    EXPECT_TRUE(client
                    .create({"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                             "CustomResourceDefinition", "", ""},
                            *crd)
                    .ok());
    for (int i = 0; i < kRoutes; ++i) {
      auto obj = api::Object::parse(
          R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":")" +
          route_name(i) +
          R"(","namespace":"default","generation":1},"spec":{"parentRefs":[{"name":"gw"}]}})");
      EXPECT_TRUE(obj.ok());
      EXPECT_TRUE(client.create(client::ResourceRef::of(kHTTPRoute, "default", ""), *obj).ok());
    }
    auto got = cache.get_informer(kHTTPRoute);
    EXPECT_TRUE(got.ok());
    informer = *got;
    cache.start();
    EXPECT_TRUE(cache.wait_for_cache_sync(absl::Seconds(10)).ok());
    publish();
    writer.set_writing(true);
    writer.start();
  }
  ~Routes() {
    writer.stop();
    cache.stop();
  }

  // A build's DesiredStatus: every route Accepted, but route `changed`, given `reason`.
  void publish(int changed = -1, const std::string& reason = "Accepted") {
    auto d = std::make_shared<DesiredStatus>();
    for (int i = 0; i < kRoutes; ++i)
      d->http_routes.push_back(route_status(i, i == changed ? reason : "Accepted"));
    writer.publish(d);
  }
  // Publishes and waits until that pass has ended (the next one started: one writer thread).
  void pass(int changed = -1, const std::string& reason = "Accepted") {
    const uint64_t before = writer.passes();
    publish(changed, reason);
    ASSERT_TRUE(eventually([&] { return writer.passes() > before; }));
    publish(changed, reason);
    ASSERT_TRUE(eventually([&] { return writer.passes() > before + 1; }));
  }
  // Route i's status.parents entry of `controller`: its Accepted reason, "" when none.
  std::string cached_reason(int i, std::string_view controller) {
    api::ObjectPtr o = informer->get("default", route_name(i));
    if (!o) return "";
    for (int p = 0; p < 4; ++p) {
      const std::string at = "/status/parents/" + std::to_string(p);
      if (o->get_string(at + "/controllerName").value_or("") == controller)
        return std::string(o->get_string(at + "/conditions/0/reason").value_or(""));
    }
    return "";
  }
  bool ours_in_place(int changed = -1, const std::string& reason = "Accepted") {
    for (int i = 0; i < kRoutes; ++i)
      if (cached_reason(i, gateway::kControllerName) != (i == changed ? reason : "Accepted"))
        return false;
    return true;
  }

  std::shared_ptr<local::Store> store = std::make_shared<local::Store>();
  local::LocalClient client{store};
  // Plain options: HTTPRoute is then no optional kind, watched once asked for (after its CRD).
  cache::Cache cache{client, cache::CacheOptions{}};
  std::shared_ptr<cache::Informer> informer;
  StatusWriter writer{client, cache, StatusWriterOptions{.retry_base = absl::Milliseconds(10)}};
};

// A build that changed no route status (an endpoint change, say, or another route's) makes no
// status JSON for the routes found as desired before; a changed desired status is written.
TEST(StatusWriterRoutes, RoutesFoundAsDesiredAreNotComparedAgainUntilOneChanges) {
  Routes r;
  ASSERT_TRUE(eventually([&] { return r.ours_in_place(); }));
  ASSERT_NO_FATAL_FAILURE(r.pass());  // our writes came back: each route compared once more
  const uint64_t compared = r.writer.gateway_objects_compared();
  const uint64_t writes = r.writer.writes();
  ASSERT_NO_FATAL_FAILURE(r.pass());
  ASSERT_NO_FATAL_FAILURE(r.pass());
  EXPECT_EQ(r.writer.gateway_objects_compared(), compared);
  EXPECT_EQ(r.writer.writes(), writes);

  // One route's desired status changes: it alone is compared and written.
  r.publish(4, "Changed");
  ASSERT_TRUE(eventually([&] { return r.ours_in_place(4, "Changed"); }));
  ASSERT_NO_FATAL_FAILURE(r.pass(4, "Changed"));
  EXPECT_EQ(r.writer.writes(), writes + 1);
  EXPECT_GE(r.writer.gateway_objects_compared(), compared + 1);
  EXPECT_LE(r.writer.gateway_objects_compared(), compared + 4);  // not the 10 routes again
  const uint64_t settled = r.writer.gateway_objects_compared();
  ASSERT_NO_FATAL_FAILURE(r.pass(4, "Changed"));
  EXPECT_EQ(r.writer.gateway_objects_compared(), settled);
}

// Someone else overwrites a route's status (kubectl edit, another controller replacing the
// parents list): the next pass notices (a new resourceVersion) and puts our entry back, keeping
// theirs.
TEST(StatusWriterRoutes, AStatusOverwrittenByAnotherWriterIsPutBack) {
  Routes r;
  ASSERT_TRUE(eventually([&] { return r.ours_in_place(); }));
  ASSERT_NO_FATAL_FAILURE(r.pass());
  ASSERT_NO_FATAL_FAILURE(r.pass());
  const uint64_t compared = r.writer.gateway_objects_compared();
  const uint64_t writes = r.writer.writes();

  auto current = r.client.get(client::ResourceRef::of(kHTTPRoute, "default", route_name(7)));
  ASSERT_TRUE(current.ok());
  api::Object overwritten(**current);
  ASSERT_TRUE(overwritten
                  .set_json("/status", R"({"parents":[{"parentRef":{"name":"theirs"},)"
                                       R"("controllerName":")" +
                                           std::string(kOthers) +
                                           R"(","conditions":[{"type":"Accepted",)"
                                           R"("status":"True","reason":"Theirs",)"
                                           R"("message":"m","lastTransitionTime":)"
                                           R"("2026-01-01T00:00:00Z"}]}]})")
                  .ok());
  ASSERT_TRUE(
      r.client
          .update_status(client::ResourceRef::of(kHTTPRoute, "default", route_name(7)), overwritten)
          .ok());
  ASSERT_TRUE(eventually([&] { return r.cached_reason(7, kOthers) == "Theirs"; }));
  r.publish();  // a build that changed nothing of ours
  EXPECT_TRUE(eventually([&] { return r.ours_in_place(); }));
  EXPECT_EQ(r.cached_reason(7, kOthers), "Theirs");
  EXPECT_EQ(r.writer.writes(), writes + 1);
  ASSERT_NO_FATAL_FAILURE(r.pass());
  EXPECT_LE(r.writer.gateway_objects_compared(), compared + 4);  // route-7's, not all 10
}

}  // namespace
}  // namespace kop::ingress
