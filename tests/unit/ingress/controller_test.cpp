// IngressController on a kop::manager::Manager against kop::local and the real embedded proxy
// on 127.0.0.1 port 0. Objects come from a directory followed by libkop/local's ManifestLoader
// (what --manifests uses): they become routes served over a real socket; Ingress and
// IngressRoute statuses and Events are written; edits of the files are followed. Two replicas
// on one store: both serve, only the Lease holder writes status, and when it stops the other
// takes over within the lease duration, writes status at once and clears it from an Ingress we
// stop owning. Status writes never delay a build: with a slow status API a new Ingress is
// routed while statuses are still being written, failed writes are retried, and a steady state
// writes nothing. After a round of status writes the next build takes the written Ingresses by
// pointer, and a status someone else wrote is put back. Losing the Lease keeps the replica
// serving and healthy; it campaigns again and writes at once when it wins. With the
// ingress-nginx reading, only an update of a ConfigMap an Ingress names starts a build.
#include <absl/strings/ascii.h>
#include <absl/strings/match.h>
#include <absl/time/time.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../../../operators/ingress/controllers/ingress_controller.h"
#include "eventually.h"
#include "kop/local/local_client.h"
#include "kop/local/manifest_loader.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using std::chrono::milliseconds;

// The whole response to GET `path` on `host` (Connection: close).
std::string http_response(uint16_t port, std::string_view host, std::string_view path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "connect failed";
  }
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host) +
                    "\r\nConnection: close\r\n\r\n";
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// The status line of GET `path` on `host`.
std::string http_get(uint16_t port, std::string_view host, std::string_view path) {
  std::string out = http_response(port, host, path);
  return out.substr(0, out.find("\r\n"));
}

using testing::eventually;

// The app: a listener on 127.0.0.1 that answers every request 200 "ok".
class App {
 public:
  App() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    listen(fd_, 64);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        recv(c, buf, sizeof buf, 0);
        const char* resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        send(c, resp, strlen(resp), MSG_NOSIGNAL);
        close(c);
      }
    });
  }
  ~App() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// One kop-ingress replica: its proxy, Manager (own cache) and controller, on the shared store.
struct Replica {
  proxy::Proxy proxy;
  std::unique_ptr<manager::Manager> mgr;
  std::unique_ptr<IngressController> controller;
  bool stopped = false;
  bool nginx_reading = false;       // --ingress-class nginx: ingress-nginx's annotations read
  size_t status_only_build_at = 0;  // 0: the default

  void start(client::Client& client, const std::string& name, const std::string& publish,
             bool leader_election) {
    start_with(client, name, publish, leader_election, {});
  }
  void start_with(client::Client& client, const std::string& name, const std::string& publish,
                  bool leader_election, absl::Duration retry_base) {
    ControllerOptions o;
    o.name = "kop-ingress-" + name;
    o.render.http_address = {"127.0.0.1", 0};
    o.render.https_address.reset();
    o.render.admin.enabled = false;
    o.render.server.workers = 1;
    if (nginx_reading) {
      o.model.ingress_class = "nginx";
      o.model.nginx_annotations = true;
    }
    o.publish_address = publish;
    if (retry_base > absl::ZeroDuration()) o.status_retry_base = retry_base;
    if (status_only_build_at > 0) o.status_only_build_at = status_only_build_at;
    manager::ManagerOptions mo;
    mo.leader_election = leader_election;
    mo.leader_election_id = "kop-ingress-test";
    mo.leader_election_namespace = "default";
    mo.leader_election_options.identity = name;
    // Short Lease; not released on stop, so a stopped leader looks like a crashed one and the
    // other replica must wait for the Lease to expire.
    mo.leader_election_options.lease_duration = absl::Milliseconds(1000);
    mo.leader_election_options.renew_deadline = absl::Milliseconds(600);
    mo.leader_election_options.retry_period = absl::Milliseconds(100);
    mo.leader_election_options.release_on_cancel = false;
    mo.exit_on_lost_lease = false;
    mo.graceful_shutdown_timeout = absl::Seconds(5);
    configure_cache(mo.cache, o.kinds, o.gateway.enabled, nginx_reading);
    mgr = std::make_unique<manager::Manager>(client, mo);
    controller = std::make_unique<IngressController>(*mgr, proxy, o);
    ASSERT_TRUE(controller->setup().ok());
    // Not ready before the caches run and a config is applied.
    EXPECT_EQ(mgr->readyz().status, 500);
    ASSERT_TRUE(mgr->start().ok());
  }
  void stop() {
    if (stopped || !mgr) return;
    stopped = true;
    controller->begin_shutdown();
    EXPECT_TRUE(mgr->stop().ok());
  }
  ~Replica() {
    stop();
    proxy.shutdown(milliseconds(0));
  }
  uint16_t port() { return proxy.listener_port("http").value_or(0); }
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<local::Store>();
    client_ = std::make_unique<local::LocalClient>(store_);
    dir_ = std::filesystem::temp_directory_path() /
           ("kop-ingress-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    for (const char* crd :
         {"ingressroutes.ingress.kop.dev.yaml", "tlscertificatedelegations.ingress.kop.dev.yaml"})
      std::filesystem::copy_file(std::string(KOP_INGRESS_SOURCE_ROOT) + "/crds/" + crd, dir_ / crd);
    loader_ = std::make_unique<local::ManifestLoader>(
        store_, local::ManifestLoaderOptions{dir_.string(), absl::Milliseconds(50)});
  }
  void TearDown() override {
    loader_->stop();
    std::filesystem::remove_all(dir_);
  }
  // Atomically (write + rename), so the loader's poll never reads a half-written file.
  void write(const std::string& name, const std::string& text) {
    std::filesystem::path tmp = dir_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, dir_ / name);
  }
  // app.yaml's text with a label on the Service "web": a change that builds but routes the same.
  static std::string with_service_label(std::string text) {
    const std::string_view meta = "metadata: {name: web, namespace: default}";
    text.replace(text.find(meta), meta.size(),
                 "metadata: {name: web, namespace: default, labels: {touched: here}}");
    return text;
  }
  std::string ingress_ip() {
    auto o = client_->get(ingress_ref_);
    if (!o.ok()) return "error";
    return std::string((*o)->get_string("/status/loadBalancer/ingress/0/ip").value_or(""));
  }

  std::string app_yaml(int app_port, std::string_view ingress_class = "kop") {
    return R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: )" +
           std::to_string(app_port) + R"(}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
  annotations: {kubernetes.io/ingress.class: )" +
           std::string(ingress_class) + R"(}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
)";
  }

  // Ingresses ing-0 .. ing-<n-1> of hosts h<i>.example.com, each to Service web, as documents
  // to append to app_yaml().
  static std::string ingresses_yaml(int n) {
    std::string text;
    for (int i = 0; i < n; ++i)
      text += "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ing-" +
              std::to_string(i) + ", namespace: default}\nspec:\n  rules:\n  - host: h" +
              std::to_string(i) +
              ".example.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, "
              "backend: {service: {name: web, port: {number: 80}}}}\n";
    return text;
  }

  std::shared_ptr<local::Store> store_;
  std::unique_ptr<local::LocalClient> client_;
  std::filesystem::path dir_;
  std::unique_ptr<local::ManifestLoader> loader_;
  client::ResourceRef ingress_ref_{"networking.k8s.io", "v1",      "ingresses",
                                   "Ingress",           "default", "web"};
};

TEST_F(ControllerTest, ManifestsBecomeRoutesStatusesAndEvents) {
  App app;
  write(
      "app.yaml",
      app_yaml(app.port()) +
          R"(      - {path: /missing, pathType: Prefix, backend: {service: {name: nope, port: {number: 80}}}}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: ir, namespace: default}
spec:
  virtualhost: {fqdn: ir.example.com}
  routes: [{match: /, services: [{name: web, port: 80}]}]
)");
  local::SyncReport report = loader_->sync();
  ASSERT_TRUE(report.problems.empty()) << report.problems[0].to_string();
  Replica r;
  r.start(*client_, "single", "192.0.2.10,lb.example.com", /*leader_election=*/false);
  ASSERT_TRUE(eventually([&] { return r.controller->ready(); }));
  EXPECT_TRUE(eventually([&] { return r.mgr->readyz().status == 200; }));
  EXPECT_TRUE(r.controller->writing_status());  // no leader election: every replica writes
  loader_->start();

  EXPECT_TRUE(
      eventually([&] { return http_get(r.port(), "web.example.com", "/") == "HTTP/1.1 200 OK"; }));
  EXPECT_EQ(http_get(r.port(), "ir.example.com", "/x"), "HTTP/1.1 200 OK");
  EXPECT_EQ(http_get(r.port(), "web.example.com", "/missing"), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(http_get(r.port(), "unknown.example.com", "/"), "HTTP/1.1 404 Not Found");

  EXPECT_TRUE(eventually([&] {
    auto o = client_->get(ingress_ref_);
    return o.ok() && (*o)->get_string("/status/loadBalancer/ingress/0/ip") == "192.0.2.10" &&
           (*o)->get_string("/status/loadBalancer/ingress/1/hostname") == "lb.example.com";
  }));
  client::ResourceRef ir{"ingress.kop.dev", "v1beta1", "ingressroutes",
                         "IngressRoute",    "default", "ir"};
  EXPECT_TRUE(eventually([&] {
    auto o = client_->get(ir);
    return o.ok() && (*o)->get_string("/status/currentStatus") == "valid" &&
           (*o)->get_string("/status/conditions/0/type") == "Valid" &&
           (*o)->get_string("/status/conditions/0/status") == "True";
  }));
  EXPECT_TRUE(eventually([&] {
    auto events = client_->list(client::ResourceRef{"", "v1", "events", "Event", "default", ""});
    if (!events.ok()) return false;
    for (const auto& e : events->items)
      if (e->get_string("/reason") == "ServiceNotFound" &&
          e->get_string("/involvedObject/name") == "web" &&
          e->get_string("/involvedObject/kind") == "Ingress" &&
          e->get_string("/message")
                  .value_or("")
                  .find("Ingress default/web: spec.rules[0].http.paths[1].backend") == 0 &&
          e->get_string("/source/component") == "kop-ingress")
        return true;
    return false;
  }));

  // A burst of changes makes few builds (deduplicated), and an unchanged config is not
  // re-applied: touching an unrelated object's labels builds but does not apply.
  uint64_t applies = r.controller->applies();
  uint64_t builds = r.controller->builds();
  std::string labelled = with_service_label(testing::read_file((dir_ / "app.yaml").string()));
  write("app.yaml", labelled);
  EXPECT_TRUE(eventually([&] { return r.controller->builds() > builds; }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(r.controller->applies(), applies);

  // Removing the Ingress from the files removes its routes; the IngressRoute stays.
  size_t from = labelled.find("---\napiVersion: networking.k8s.io/v1");
  size_t to = labelled.find("---\napiVersion: ingress.kop.dev/v1beta1");
  ASSERT_LT(from, to);
  labelled.erase(from, to - from);
  write("app.yaml", labelled);
  EXPECT_TRUE(eventually(
      [&] { return http_get(r.port(), "web.example.com", "/") == "HTTP/1.1 404 Not Found"; }));
  EXPECT_EQ(http_get(r.port(), "ir.example.com", "/"), "HTTP/1.1 200 OK");
  EXPECT_GT(r.controller->applies(), applies);

  // Deleting the file deletes its objects.
  std::filesystem::remove(dir_ / "app.yaml");
  EXPECT_TRUE(eventually(
      [&] { return http_get(r.port(), "ir.example.com", "/") == "HTTP/1.1 404 Not Found"; }));
  loader_->stop();
  r.stop();
}

TEST_F(ControllerTest, TwoReplicasBothServeOnlyTheLeaderWritesStatusAndFailover) {
  App app;
  write("app.yaml", app_yaml(app.port()));
  ASSERT_TRUE(loader_->sync().problems.empty());
  loader_->start();

  Replica a, b;
  a.start(*client_, "replica-a", "192.0.2.1", /*leader_election=*/true);
  // a takes the free Lease first; b then waits as a candidate.
  ASSERT_TRUE(eventually([&] { return a.mgr->is_leader(); }));
  b.start(*client_, "replica-b", "192.0.2.2", /*leader_election=*/true);

  // Both proxies get the config and serve.
  EXPECT_TRUE(
      eventually([&] { return http_get(a.port(), "web.example.com", "/") == "HTTP/1.1 200 OK"; }));
  EXPECT_TRUE(
      eventually([&] { return http_get(b.port(), "web.example.com", "/") == "HTTP/1.1 200 OK"; }));
  EXPECT_TRUE(eventually([&] { return b.mgr->readyz().status == 200; }));

  // Only the leader writes: the status carries a's address, b never wrote anything.
  EXPECT_TRUE(eventually([&] { return ingress_ip() == "192.0.2.1"; }));
  EXPECT_TRUE(a.controller->writing_status());
  // A change that both replicas build: b still does not write.
  uint64_t b_builds = b.controller->builds();
  write("app.yaml", app_yaml(app.port()) +
                        "      - {path: /v2, pathType: Prefix, backend: {service: {name: web, "
                        "port: {number: 80}}}}\n");
  EXPECT_TRUE(eventually([&] { return b.controller->builds() > b_builds; }));
  EXPECT_TRUE(eventually(
      [&] { return http_get(b.port(), "web.example.com", "/v2") == "HTTP/1.1 200 OK"; }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(b.mgr->is_leader());
  EXPECT_FALSE(b.controller->writing_status());
  EXPECT_EQ(b.controller->status_passes(), 0u);
  EXPECT_EQ(ingress_ip(), "192.0.2.1");

  // The leader stops without releasing the Lease (as if it crashed): b takes over once the
  // Lease expires (1 s) and writes its status at once, with no object changing.
  a.stop();
  auto stopped_at = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.mgr->is_leader()) << "the Lease was not released: b must wait for its expiry";
  ASSERT_TRUE(eventually([&] { return b.mgr->is_leader(); }, milliseconds(5000)));
  auto took = std::chrono::steady_clock::now() - stopped_at;
  EXPECT_LE(took, milliseconds(1000 + 500)) << "lease 1 s + retry 100 ms + slack";
  EXPECT_TRUE(eventually([&] { return ingress_ip() == "192.0.2.2"; }, milliseconds(3000)));
  EXPECT_TRUE(b.mgr->is_leader());
  EXPECT_TRUE(b.controller->writing_status());
  EXPECT_EQ(b.controller->lease_losses(), 0u);
  EXPECT_EQ(b.mgr->healthz().status, 200);
  // b still serves.
  EXPECT_EQ(http_get(b.port(), "web.example.com", "/"), "HTTP/1.1 200 OK");

  // An Ingress we stop owning (another class) loses its routes and the address we published.
  write("app.yaml", app_yaml(app.port(), "other"));
  EXPECT_TRUE(eventually(
      [&] { return http_get(b.port(), "web.example.com", "/") == "HTTP/1.1 404 Not Found"; }));
  EXPECT_TRUE(eventually([&] { return ingress_ip().empty(); }));
  auto o = client_->get(ingress_ref_);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ((*o)->at("/status/loadBalancer/ingress"), nullptr);
  loader_->stop();
  b.stop();
}

TEST_F(ControllerTest, LosingTheLeaseKeepsServingStopsWritingAndCampaignsAgain) {
  App app;
  write("app.yaml", app_yaml(app.port()));
  ASSERT_TRUE(loader_->sync().problems.empty());
  Replica a;
  a.start(*client_, "replica-a", "192.0.2.1", /*leader_election=*/true);
  ASSERT_TRUE(eventually([&] { return ingress_ip() == "192.0.2.1"; }));
  EXPECT_EQ(a.mgr->healthz().status, 200);

  // Another holder takes the Lease behind a's back: a cannot renew, gives up after the renew
  // deadline (600 ms) and stops writing, but keeps serving and stays healthy.
  client::ResourceRef lease{"coordination.k8s.io", "v1", "leases", "Lease", "default",
                            "kop-ingress-test"};
  auto set_holder = [&](const std::string& holder, int seconds) {
    return eventually([&] {
      auto got = client_->get(lease);
      if (!got.ok()) return false;
      api::Object next(**got);
      if (!next.set_string("/spec/holderIdentity", holder).ok()) return false;
      if (!next.set_int("/spec/leaseDurationSeconds", seconds).ok()) return false;
      return client_->update(lease, next).ok();
    });
  };
  ASSERT_TRUE(set_holder("intruder", 60));
  ASSERT_TRUE(eventually([&] { return a.controller->lease_losses() == 1; }, milliseconds(5000)));
  EXPECT_FALSE(a.controller->writing_status());
  EXPECT_FALSE(a.mgr->is_leader());
  EXPECT_EQ(a.mgr->healthz().status, 200) << a.mgr->healthz("/healthz?verbose").body;

  // Not the leader any more: a change is served but nothing is written into the status, not
  // even to repair a status someone else changed.
  uint64_t passes = a.controller->status_passes();
  uint64_t writes = a.controller->status_writes();
  ASSERT_TRUE(eventually([&] {
    auto got = client_->get(ingress_ref_);
    if (!got.ok()) return false;
    api::Object next(**got);
    if (!next.set_json("/status/loadBalancer", R"({"ingress":[{"ip":"198.51.100.7"}]})").ok())
      return false;
    return client_->update_status(ingress_ref_, next).ok();
  }));
  write("app.yaml", app_yaml(app.port()) +
                        "      - {path: /v2, pathType: Prefix, backend: {service: {name: web, "
                        "port: {number: 80}}}}\n");
  loader_->sync();
  EXPECT_TRUE(eventually(
      [&] { return http_get(a.port(), "web.example.com", "/v2") == "HTTP/1.1 200 OK"; }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(a.controller->status_passes(), passes);
  EXPECT_EQ(a.controller->status_writes(), writes);
  EXPECT_EQ(ingress_ip(), "198.51.100.7");

  // The intruder lets the Lease go: a, still campaigning, wins it and writes at once (no object
  // changes), the same process, no restart.
  ASSERT_TRUE(set_holder("", 1));
  ASSERT_TRUE(eventually([&] { return a.mgr->is_leader(); }, milliseconds(5000)));
  EXPECT_TRUE(eventually([&] { return ingress_ip() == "192.0.2.1"; }, milliseconds(3000)));
  EXPECT_TRUE(a.controller->writing_status());
  EXPECT_EQ(a.controller->lease_losses(), 1u);
  EXPECT_EQ(a.mgr->healthz().status, 200);
  EXPECT_EQ(http_get(a.port(), "web.example.com", "/v2"), "HTTP/1.1 200 OK");
  a.stop();
}

// The status API is slow (each status write takes 100 ms, as a client throttled to 10 QPS)
// and fails now and then: builds do not wait for it.
class SlowStatusClient : public local::LocalClient {
 public:
  using local::LocalClient::LocalClient;
  absl::StatusOr<api::ObjectPtr> update_status(const client::ResourceRef& ref,
                                               const api::Object& object,
                                               const client::UpdateOptions& options) override {
    int n = calls_.fetch_add(1) + 1;
    std::this_thread::sleep_for(milliseconds(100));
    // The 3rd write meets a real conflict (the object changed since the cache saw it), the 5th
    // a server error: both are retried.
    if (n == 3) {
      auto got = get(ref);
      if (got.ok()) {
        api::Object bumped(**got);
        bumped.set_label("bumped", "yes");
        (void)update(ref, bumped);
      }
    }
    if (n == 5) return absl::UnavailableError("injected: status API unavailable");
    return local::LocalClient::update_status(ref, object, options);
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
};

TEST_F(ControllerTest, StatusWritesNeverDelayBuildsAndSteadyStateWritesNothing) {
  App app;
  constexpr int kIngresses = 40;
  const std::string text = app_yaml(app.port()) + ingresses_yaml(kIngresses);
  write("app.yaml", text);
  ASSERT_TRUE(loader_->sync().problems.empty());
  loader_->start();
  SlowStatusClient slow(store_);
  Replica r;
  r.start_with(slow, "single", "192.0.2.10", /*leader_election=*/false, absl::Milliseconds(50));
  auto with_status = [&] {
    auto list = client_->list(
        client::ResourceRef{"networking.k8s.io", "v1", "ingresses", "Ingress", "default", ""});
    int n = 0;
    if (list.ok())
      for (const auto& o : list->items)
        if (o->get_string("/status/loadBalancer/ingress/0/ip") == "192.0.2.10") ++n;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return r.controller->ready(); }));
  // 41 writes take over 4 s; meanwhile a new Ingress is routed within a bounded short time.
  write("fresh.yaml", R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: fresh, namespace: default}
spec:
  rules:
  - host: fresh.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
)");
  auto written_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      eventually([&] { return http_get(r.port(), "fresh.example.com", "/") == "HTTP/1.1 200 OK"; },
                 milliseconds(3000)));
  auto took = std::chrono::steady_clock::now() - written_at;
  int done = with_status();
  EXPECT_LT(done, kIngresses + 2) << "statuses were all written before the new Ingress was "
                                     "routed: the test did not overlap them";
  EXPECT_LT(took, milliseconds(1500)) << "the loader polls every 50 ms; a build takes ms";

  // Every owned Ingress gets its status (the conflict and the error were retried).
  EXPECT_TRUE(eventually([&] { return with_status() == kIngresses + 2; }, milliseconds(20000)))
      << with_status();
  // The store has the last status before the writer counts that write: wait for the count.
  EXPECT_TRUE(eventually([&] {
    return r.controller->status_writes() >= static_cast<uint64_t>(kIngresses + 2);
  })) << r.controller->status_writes();
  EXPECT_GE(slow.calls(), kIngresses + 2 + 2);

  // Steady state: a change that builds (a label on the Service) writes no status.
  std::this_thread::sleep_for(milliseconds(500));
  int calls = slow.calls();
  uint64_t builds = r.controller->builds();
  write("app.yaml", with_service_label(text));
  EXPECT_TRUE(eventually([&] { return r.controller->builds() > builds; }));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(slow.calls(), calls);
  // Our own status writes do not cause builds.
  uint64_t settled = r.controller->builds();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(r.controller->builds(), settled);
  loader_->stop();
  r.stop();
}

// After a round of status writes, the next build takes every written Ingress by pointer (the
// event filter recorded each write as status-only) instead of comparing it again; a status that
// someone else wrote meanwhile (kubectl edit, a second controller) is still put back by the
// writer after that build.
TEST_F(ControllerTest, AfterAStatusRoundTheNextBuildTakesTheWrittenIngressesAndOursIsPutBack) {
  App app;
  constexpr int kIngresses = 30;
  const std::string text = app_yaml(app.port()) + ingresses_yaml(kIngresses);
  write("app.yaml", text);
  ASSERT_TRUE(loader_->sync().problems.empty());
  loader_->start();
  Replica r;
  r.start(*client_, "single", "192.0.2.10", /*leader_election=*/false);
  client::ResourceRef ing3{"networking.k8s.io", "v1", "ingresses", "Ingress", "default", "ing-3"};
  auto ip_of = [&](const client::ResourceRef& ref) {
    auto o = client_->get(ref);
    return o.ok() ? std::string((*o)->get_string("/status/loadBalancer/ingress/0/ip").value_or(""))
                  : "error";
  };
  ASSERT_TRUE(eventually([&] {
    return r.controller->status_writes() >= static_cast<uint64_t>(kIngresses + 1) &&
           ip_of(ing3) == "192.0.2.10" && ip_of(ingress_ref_) == "192.0.2.10";
  }));
  // The writes start no build, and no build has taken them yet.
  EXPECT_EQ(r.controller->status_only_taken(), 0u);

  // Someone else's status on ing-3.
  auto other = client_->get(ing3);
  ASSERT_TRUE(other.ok());
  api::Object changed(**other);
  ASSERT_TRUE(
      changed.set_json("/status/loadBalancer", R"({"ingress":[{"ip":"198.51.100.9"}]})").ok());
  ASSERT_TRUE(client_->update_status(ing3, changed).ok());
  ASSERT_EQ(ip_of(ing3), "198.51.100.9");
  // In the replica's cache too (its event filter sees the write right after).
  auto informer = r.mgr->cache().find_informer({"networking.k8s.io", "v1", "Ingress"});
  ASSERT_NE(informer, nullptr);
  ASSERT_TRUE(eventually([&] {
    api::ObjectPtr o = informer->get("default", "ing-3");
    return o && o->get_string("/status/loadBalancer/ingress/0/ip") == "198.51.100.9";
  }));

  // A change that builds: every written Ingress is taken by pointer (the foreign write went on
  // ing-3's run of writes), and ours is written on ing-3 again.
  const uint64_t builds = r.controller->builds();
  write("app.yaml", with_service_label(text));
  ASSERT_TRUE(eventually([&] { return r.controller->builds() > builds; }));
  EXPECT_EQ(r.controller->status_only_taken(), static_cast<uint64_t>(kIngresses + 1));
  EXPECT_TRUE(eventually([&] { return ip_of(ing3) == "192.0.2.10"; })) << ip_of(ing3);
  EXPECT_EQ(http_get(r.port(), "h3.example.com", "/"), "HTTP/1.1 200 OK");
  loader_->stop();
  r.stop();
}

// The record of status-only writes holds the Ingresses they replaced until a build takes it: past
// its bound, a write asks for a build, so a status round with no change after it does not hold
// every old Ingress (the builds take the written ones by pointer).
TEST_F(ControllerTest, AStatusRoundPastTheRecordsBoundBuildsWithoutAChange) {
  App app;
  constexpr int kIngresses = 30;
  constexpr size_t kBound = 8;
  write("app.yaml", app_yaml(app.port()) + ingresses_yaml(kIngresses));
  ASSERT_TRUE(loader_->sync().problems.empty());
  loader_->start();
  Replica r;
  r.status_only_build_at = kBound;
  r.start(*client_, "single", "192.0.2.10", /*leader_election=*/false);
  ASSERT_TRUE(eventually(
      [&] { return r.controller->status_writes() >= static_cast<uint64_t>(kIngresses + 1); }));
  // Nothing but the status writes: the builds they asked for took all but the last few.
  EXPECT_TRUE(eventually([&] {
    return r.controller->status_only_taken() >= static_cast<uint64_t>(kIngresses + 1 - kBound);
  })) << r.controller->status_only_taken();
  EXPECT_LE(r.controller->status_only_taken(), static_cast<uint64_t>(kIngresses + 1));
  EXPECT_EQ(http_get(r.port(), "h3.example.com", "/"), "HTTP/1.1 200 OK");
  loader_->stop();
  r.stop();
}

// With the ingress-nginx reading, ConfigMaps are watched for custom-headers: an update of a
// ConfigMap no Ingress names (application settings, leader-election locks) starts no build,
// while an update of the one an Ingress names builds and is served.
TEST_F(ControllerTest, OnlyTheConfigMapsIngressesNameStartBuilds) {
  App app;
  std::string text = app_yaml(app.port(), "nginx");
  const std::string annotations = "annotations: {kubernetes.io/ingress.class: nginx}";
  text.replace(text.find(annotations), annotations.size(),
               "annotations: {kubernetes.io/ingress.class: nginx, "
               "nginx.ingress.kubernetes.io/custom-headers: default/headers}");
  write("app.yaml", text);
  auto config_map = [](std::string_view name, std::string_view data) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + std::string(name) +
           ", namespace: default}\ndata: {" + std::string(data) + "}\n";
  };
  write("headers.yaml", config_map("headers", "X-Team: a"));
  write("settings.yaml", config_map("settings", "level: \"1\""));
  ASSERT_TRUE(loader_->sync().problems.empty());
  loader_->start();
  Replica r;
  r.nginx_reading = true;
  r.start(*client_, "single", "192.0.2.10", /*leader_election=*/false);
  auto team = [&](std::string_view value) {
    std::string out = absl::AsciiStrToLower(http_response(r.port(), "web.example.com", "/"));
    return out.starts_with("http/1.1 200") &&
           absl::StrContains(out, "\r\nx-team: " + std::string(value) + "\r\n");
  };
  ASSERT_TRUE(eventually([&] { return team("a"); }));

  // The unnamed ConfigMap changes: once the controller's cache holds the change (its watch
  // event has passed the predicate), no build has started.
  uint64_t builds = r.controller->builds();
  write("settings.yaml", config_map("settings", "level: \"2\""));
  const api::GroupVersionKind kind{"", "v1", "ConfigMap"};
  EXPECT_TRUE(eventually([&] {
    auto o = r.mgr->cache().get(kind, "default", "settings");
    return o.ok() && (*o)->get_string("/data/level") == "2";
  }));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(r.controller->builds(), builds);

  // The named one changes: a build, and the new header is served.
  write("headers.yaml", config_map("headers", "X-Team: b"));
  EXPECT_TRUE(eventually([&] { return team("b"); }));
  EXPECT_GT(r.controller->builds(), builds);
  loader_->stop();
  r.stop();
}

}  // namespace
}  // namespace kop::ingress
