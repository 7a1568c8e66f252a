// The same checks against both transports of kop::Client: LocalClient (in-process) and
// RestClient over HTTPS to kop::local's HTTP front. What passes here behaves the same either way.
#include <gtest/gtest.h>

#include <thread>

#include "kop/api/object.h"
#include "kop/client/config.h"
#include "kop/client/errors.h"
#include "kop/client/rest_client.h"
#include "kop/local/http_front.h"
#include "kop/local/local_client.h"
#include "test_util.h"

namespace kop::local {
namespace {

using client::ResourceRef;

api::Object obj(std::string_view json) {
  return api::Object::parse(json).value();
}

class Contract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    StoreOptions so;
    so.history_size = 5;
    so.bookmark_interval = absl::Milliseconds(100);
    store = std::make_shared<Store>(so);
    if (GetParam() == "local") {
      c = std::make_shared<LocalClient>(store);
      return;
    }
    HttpFrontOptions fo;
    fo.token = "secret-token";
    front = std::make_unique<HttpFront>(store, fo);
    ASSERT_TRUE(front->start().ok());
    auto cfg = client::parse_kubeconfig(front->kubeconfig(), "test");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    cfg->qps = 0;
    client::RestClientOptions ro;
    ro.initial_backoff = absl::Milliseconds(10);
    auto rc = client::RestClient::create(*cfg, ro);
    ASSERT_TRUE(rc.ok()) << rc.status();
    c = *rc;
  }
  void TearDown() override {
    c.reset();
    if (front) front->stop();
  }
  std::shared_ptr<Store> store;
  std::unique_ptr<HttpFront> front;
  std::shared_ptr<client::Client> c;
  ResourceRef cms{"", "v1", "configmaps", {}, "default", {}};
  ResourceRef ings{"networking.k8s.io", "v1", "ingresses", {}, "default", {}};
};

TEST_P(Contract, CrudAndErrors) {
  auto created = c->create(
      cms,
      obj(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"x":"1"}})"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)->namespace_(), "default");
  EXPECT_TRUE(
      client::is_already_exists(c->create(cms, obj(R"({"metadata":{"name":"a"}})")).status()));
  // A stored object (with a resourceVersion) cannot be created again: 500 as etcd3 answers.
  EXPECT_TRUE(client::is_internal(c->create(cms, **created).status()));
  auto got = c->get(cms.named("a"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->resource_version(), (*created)->resource_version());
  auto nf = c->get(cms.named("zz"));
  ASSERT_TRUE(client::is_not_found(nf.status())) << nf.status();
  EXPECT_EQ(client::api_status(nf.status())->message, R"(configmaps "zz" not found)");

  api::Object stale = **created;
  api::Object mod = **created;
  ASSERT_TRUE(mod.set_string("/data/x", "2").ok());
  ASSERT_TRUE(c->update(cms.named("a"), mod).ok());
  ASSERT_TRUE(stale.set_string("/data/x", "3").ok());
  auto conflict = c->update(cms.named("a"), stale);
  EXPECT_TRUE(client::is_conflict(conflict.status())) << conflict.status();

  for (auto [pt, body] : std::vector<std::pair<client::PatchType, std::string>>{
           {client::PatchType::kJsonMerge, R"({"data":{"m":"1"}})"},
           {client::PatchType::kJsonPatch, R"([{"op":"add","path":"/data/j","value":"2"}])"},
           {client::PatchType::kStrategicMerge, R"({"data":{"s":"3"}})"}}) {
    auto p = c->patch(cms.named("a"), pt, body);
    ASSERT_TRUE(p.ok()) << p.status();
  }
  auto after = c->get(cms.named("a"));
  EXPECT_EQ((*after)->get_string("/data/s").value_or(""), "3");
  EXPECT_EQ((*after)->get_string("/data/j").value_or(""), "2");

  client::PatchOptions po;
  po.field_manager = "tester";
  auto applied = c->patch(
      cms.named("b"), client::PatchType::kApply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"data":{"k":"v"}})", po);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE((*applied)->has_managed_fields());

  auto del = c->remove(cms.named("a"));
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(*del, nullptr);
  EXPECT_TRUE(client::is_not_found(c->remove(cms.named("a")).status()));
}

TEST_P(Contract, InvalidCarriesCauses) {
  auto r = c->create(
      ings, obj(R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},
      "spec":{"rules":[{"http":{"paths":[{"path":"/","backend":{"service":{"name":"s","port":{"number":80}}}}]}}]}})"));
  ASSERT_TRUE(client::is_invalid(r.status())) << r.status();
  auto causes = client::causes_of(r.status());
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "spec.rules[0].http.paths[0].pathType");
  EXPECT_EQ(causes[0].message, "Required value: pathType must be specified");
  EXPECT_EQ(causes[0].type, "FieldValueRequired");
}

TEST_P(Contract, PagingAndWatchFromListVersion) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        c->create(cms, obj(R"({"metadata":{"name":"c)" + std::to_string(i) + R"("}})")).ok());
  }
  client::ListOptions lo;
  lo.limit = 2;
  std::vector<std::string> names;
  std::string rv;
  do {
    auto page = c->list(cms, lo);
    ASSERT_TRUE(page.ok()) << page.status();
    for (auto& i : page->items) names.emplace_back(i->name());
    if (rv.empty()) rv = page->resource_version;
    lo.continue_token = page->continue_token;
  } while (!lo.continue_token.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));

  client::WatchOptions wo;
  wo.resource_version = rv;
  auto w = c->watch(cms, wo);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(
      c->patch(cms.named("c3"), client::PatchType::kJsonMerge, R"({"data":{"z":"1"}})").ok());
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok()) << ev.status();
  ASSERT_TRUE(ev->has_value());
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kModified);
  EXPECT_EQ((*ev)->object->name(), "c3");
  ASSERT_TRUE(c->remove(cms.named("c3")).ok());
  auto del = (*w)->next();
  ASSERT_TRUE(del.ok() && del->has_value());
  EXPECT_EQ((*del)->type, client::WatchEvent::Type::kDeleted);
  (*w)->cancel();
}

TEST_P(Contract, TooOldWatchIsGone) {
  auto first = c->create(cms, obj(R"({"metadata":{"name":"g"}})"));
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(c->patch(cms.named("g"), client::PatchType::kJsonMerge,
                         "{\"data\":{\"n\":\"" + std::to_string(i) + "\"}}")
                    .ok());
  }
  client::WatchOptions wo;
  wo.resource_version = std::string((*first)->resource_version());
  auto w = c->watch(cms, wo);
  ASSERT_TRUE(w.ok()) << w.status();
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok() && ev->has_value()) << ev.status();
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kError);
  EXPECT_TRUE(client::is_gone((*ev)->error)) << (*ev)->error;
  auto end = (*w)->next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST_P(Contract, Bookmarks) {
  client::WatchOptions wo;
  wo.allow_watch_bookmarks = true;
  wo.resource_version = std::to_string(store->current_resource_version());
  auto w = c->watch(cms, wo);
  ASSERT_TRUE(w.ok());
  auto ev = (*w)->next();
  ASSERT_TRUE(ev.ok() && ev->has_value()) << ev.status();
  EXPECT_EQ((*ev)->type, client::WatchEvent::Type::kBookmark);
  EXPECT_EQ((*ev)->object->resource_version(), std::to_string(store->current_resource_version()));
  (*w)->cancel();
}

TEST_P(Contract, StatusSubresource) {
  ASSERT_TRUE(
      c->create(
           ings,
           obj(R"({"metadata":{"name":"i"},"spec":{"defaultBackend":{"service":{"name":"s","port":{"number":80}}}}})"))
          .ok());
  auto st = c->patch_status(
      ings.named("i"), client::PatchType::kJsonMerge,
      R"({"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"}]}},"spec":{"defaultBackend":null}})");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ((*st)->get_string("/status/loadBalancer/ingress/0/ip").value_or(""), "10.0.0.1");
  EXPECT_TRUE((*st)->at("/spec/defaultBackend"));
}

INSTANTIATE_TEST_SUITE_P(Transports, Contract, ::testing::Values("local", "rest"));

// HTTP-only behaviour.
TEST(HttpFront, RejectsWrongTokenAndRefusesConnectionsOnDemand) {
  auto store = std::make_shared<Store>();
  HttpFrontOptions fo;
  fo.token = "right";
  HttpFront front(store, fo);
  ASSERT_TRUE(front.start().ok());
  auto cfg = client::parse_kubeconfig(front.kubeconfig(), "t");
  ASSERT_TRUE(cfg.ok());
  cfg->bearer_token = "wrong";
  client::RestClientOptions ro;
  ro.max_retries = 0;
  auto rc = client::RestClient::create(*cfg, ro);
  ASSERT_TRUE(rc.ok());
  ResourceRef cms{"", "v1", "configmaps", {}, "default", {}};
  auto r = (*rc)->list(cms);
  EXPECT_TRUE(client::is_unauthorized(r.status())) << r.status();

  cfg->bearer_token = "right";
  auto good = client::RestClient::create(*cfg, ro);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE((*good)->list(cms).ok());
  store->faults().refuse_connections_for(absl::Milliseconds(500));
  auto refused = client::RestClient::create(*cfg, ro);
  auto rr = (*refused)->list(cms);
  EXPECT_FALSE(rr.ok());
  EXPECT_FALSE(client::is_api_error(rr.status())) << rr.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto later = client::RestClient::create(*cfg, ro);
  EXPECT_TRUE((*later)->list(cms).ok());
  store->faults().fail("list", 429, 1);
  auto limited = (*later)->list(cms);
  EXPECT_TRUE(client::is_too_many_requests(limited.status())) << limited.status();
  front.stop();
}

}  // namespace
}  // namespace kop::local
