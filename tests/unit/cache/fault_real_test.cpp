// The informer under faults against a real kube-apiserver (KOP_TEST_KUBECONFIG names its
// kubeconfig; skipped otherwise, so CI, which has none, skips it). The informer reaches the
// server through a TCP relay that cuts every connection at random moments (watches dropped by
// the network) and, once, refuses connections for a while (the server unreachable) while a
// writer keeps changing objects directly; watches are also closed by the server itself
// (timeoutSeconds of 1-2 s). On a server whose history is short (etcd compacted often, no watch
// cache for ConfigMaps, see docs/real-apiserver.md), resuming after the outage gets a real 410.
// When the writer stops, the cache must equal the server's state and every handler must have
// seen each object's final state.
//
// Knobs (environment): KOP_TEST_BLACKOUT_MS (default 3000): length of the outage;
// KOP_TEST_EXPECT_GONE=1: also require at least one relist caused by 410.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <regex>
#include <thread>

#include "final_states.h"
#include "kop/cache/shared_informer.h"
#include "kop/client/config.h"
#include "kop/client/rest_client.h"
#include "tcp_fault_proxy.h"
#include "test_util.h"

namespace kop::cache {
namespace {

using testing::cache_state;
using testing::eventually;
using testing::FinalStates;
using testing::server_state;

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::shared_ptr<client::RestClient> make_client(client::Config cfg) {
  cfg.qps = 0;
  client::RestClientOptions o;
  o.max_retries = 1;
  o.initial_backoff = absl::Milliseconds(10);
  auto rc = client::RestClient::create(std::move(cfg), o);
  EXPECT_TRUE(rc.ok()) << rc.status();
  return rc.ok() ? *rc : nullptr;
}

TEST(InformerUnderFaultsReal, EndsEqualToServerAndHandlersSawFinalStates) {
  const char* path = std::getenv("KOP_TEST_KUBECONFIG");
  if (!path || !*path) GTEST_SKIP() << "KOP_TEST_KUBECONFIG is not set: no real API server";
  auto cfg = client::load_kubeconfig({.paths = {path}});
  ASSERT_TRUE(cfg.ok()) << cfg.status();

  // The relay sits in front of the server's port; TLS passes through it untouched.
  std::smatch m;
  ASSERT_TRUE(std::regex_match(cfg->server, m, std::regex(R"(https://127\.0\.0\.1:(\d+))")))
      << "expects a loopback server, got " << cfg->server;
  kop::testing::TcpFaultProxy relay(static_cast<uint16_t>(std::stoi(m[1].str())));
  ASSERT_NE(relay.port(), 0);
  client::Config relayed = *cfg;
  relayed.server = "https://127.0.0.1:" + std::to_string(relay.port());
  if (relayed.tls_server_name.empty()) relayed.tls_server_name = "127.0.0.1";

  auto direct = make_client(*cfg);
  auto faulty = make_client(relayed);
  ASSERT_TRUE(direct && faulty);

  const std::string ns =
      "kop-faults-" + std::to_string(absl::ToUnixMillis(absl::Now()) % 100000000);
  auto ns_obj = api::Object::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" +
                                   ns + R"("}})");
  ASSERT_TRUE(direct->create({"", "v1", "namespaces", {}, ""}, *ns_obj).ok());
  const client::ResourceRef cms = client::ResourceRef{"", "v1", "configmaps", {}, ""}.in(ns);

  InformerOptions io;
  io.reflector.ref = cms;
  io.reflector.page_size = 7;
  io.reflector.min_watch_timeout = absl::Seconds(1);  // the server closes watches too
  io.reflector.backoff.initial = absl::Milliseconds(20);
  io.reflector.backoff.max = absl::Milliseconds(200);
  metrics::Registry reg;
  io.reflector.registry = &reg;
  SharedInformer informer(*faulty, io);
  auto seen = std::make_shared<FinalStates>();
  informer.add_event_handler(seen);

  for (int i = 0; i < 20; ++i) {
    api::Object cm("v1", "ConfigMap");
    cm.set_name("pre-" + std::to_string(i));
    cm.set_namespace(ns);
    ASSERT_TRUE(direct->create(cms, cm).ok());
  }
  informer.start();

  std::atomic<bool> writing{true};
  std::thread cutter([&] {
    std::mt19937 rng(7);
    while (writing) {
      absl::SleepFor(absl::Milliseconds(200 + rng() % 600));
      relay.cut_all();
    }
  });

  const auto blackout =
      std::chrono::milliseconds(std::atoi(env_or("KOP_TEST_BLACKOUT_MS", "3000")));
  std::mt19937 rng(12345);
  for (int op = 0; op < 1200; ++op) {
    if (op == 500) {
      relay.blackout(blackout);
      relay.cut_all();
    }
    std::string name = "obj-" + std::to_string(rng() % 60);
    int what = rng() % 10;
    api::Object cm("v1", "ConfigMap");
    cm.set_name(name);
    cm.set_namespace(ns);
    (void)cm.set_string("/data/v", std::to_string(op));
    if (what < 4) {
      (void)direct->create(cms, cm);  // AlreadyExists is fine
    } else if (what < 8) {
      (void)direct->update(cms.named(name), cm);  // NotFound is fine
    } else {
      (void)direct->remove(cms.named(name));
    }
    // Stretch the writes over the outage so the history moves on while the informer is away.
    if (op >= 500 && op < 700) absl::SleepFor(absl::FromChrono(blackout) / 200);
  }
  writing = false;
  cutter.join();
  const auto want = server_state(*direct, cms);
  ASSERT_GT(want.size(), 10u);

  EXPECT_TRUE(
      eventually([&] { return cache_state(informer.indexer()) == want; }, absl::Seconds(60)));
  EXPECT_EQ(cache_state(informer.indexer()), want);
  EXPECT_TRUE(eventually([&] { return seen->live() == want; }, absl::Seconds(30)));
  EXPECT_EQ(seen->live(), want);

  ReflectorStatus st = informer.status();
  std::printf(
      "real faults: cuts=%llu refused=%llu lists=%llu relists_gone=%llu watches=%llu "
      "events=%llu errors=%llu\n",
      static_cast<unsigned long long>(relay.cuts()),
      static_cast<unsigned long long>(relay.refused()), static_cast<unsigned long long>(st.lists),
      static_cast<unsigned long long>(st.relists_gone), static_cast<unsigned long long>(st.watches),
      static_cast<unsigned long long>(st.watch_events), static_cast<unsigned long long>(st.errors));
  EXPECT_GT(relay.cuts(), 5u);
  EXPECT_GT(st.watches, 5u);
  if (std::string(env_or("KOP_TEST_EXPECT_GONE", "0")) == "1") {
    EXPECT_GE(st.relists_gone, 1u);
  }
  informer.stop();
  (void)direct->remove({"", "v1", "namespaces", {}, "", ns});
}

}  // namespace
}  // namespace kop::cache
