// IngressController against kop::local and the real embedded proxy on 127.0.0.1 port 0:
// objects created through the client become routes served over a real socket; Ingress and
// IngressRoute statuses and Events are written; the --manifests follower applies, updates and
// deletes from a directory.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../../../operators/ingress/controllers/ingress_controller.h"
#include "../../../operators/ingress/controllers/manifest_dir.h"
#include "kop/local/local_client.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

std::string http_get(uint16_t port, std::string_view host, std::string_view path) {
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
  return out.substr(0, out.find("\r\n"));
}

template <typename F>
bool eventually(F f) {
  for (int i = 0; i < 100; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<local::Store>();
    client_ = std::make_unique<local::LocalClient>(store_);
    dir_ =
        std::filesystem::temp_directory_path() / ("kop-ingress-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (const char* crd :
         {"ingressroutes.ingress.kop.dev.yaml", "tlscertificatedelegations.ingress.kop.dev.yaml"})
      std::filesystem::copy_file(std::string(KOP_INGRESS_SOURCE_ROOT) + "/crds/" + crd, dir_ / crd);
  }
  void TearDown() override {
    if (controller_) controller_->stop();
    if (worker_.joinable()) worker_.join();
    if (cache_) cache_->stop();
    proxy_.shutdown(std::chrono::milliseconds(0));
    std::filesystem::remove_all(dir_);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  void start() {
    ControllerOptions o;
    o.render.http_address = {"127.0.0.1", 0};
    o.render.https_address.reset();
    o.render.admin.enabled = false;
    o.render.server.workers = 1;
    o.publish_address = "192.0.2.10,lb.example.com";
    cache::CacheOptions co;
    configure_cache(co, o.kinds);
    cache_ = std::make_unique<cache::Cache>(*client_, co);
    controller_ = std::make_unique<IngressController>(*client_, *cache_, proxy_, o);
    ASSERT_TRUE(controller_->setup().ok());
    cache_->start();
    worker_ = std::thread([this] { controller_->run(); });
    ASSERT_TRUE(eventually([&] { return controller_->ready(); }));
  }
  uint16_t port() { return proxy_.listener_port("http").value_or(0); }

  std::shared_ptr<local::Store> store_;
  std::unique_ptr<local::LocalClient> client_;
  std::filesystem::path dir_;
  proxy::Proxy proxy_;
  std::unique_ptr<cache::Cache> cache_;
  std::unique_ptr<IngressController> controller_;
  std::thread worker_;
};

TEST_F(ControllerTest, ManifestsBecomeRoutesStatusesAndEvents) {
  // The app answers on a real socket: a tiny listener that replies 200.
  int app = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(bind(app, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  listen(app, 16);
  socklen_t len = sizeof a;
  getsockname(app, reinterpret_cast<sockaddr*>(&a), &len);
  int app_port = ntohs(a.sin_port);
  std::atomic<bool> stop{false};
  std::thread app_thread([&] {
    while (!stop) {
      int c = accept(app, nullptr, nullptr);
      if (c < 0) break;
      char buf[4096];
      recv(c, buf, sizeof buf, 0);
      const char* resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      send(c, resp, strlen(resp), MSG_NOSIGNAL);
      close(c);
    }
  });

  write("app.yaml", R"(
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
metadata: {name: web, namespace: default}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /missing, pathType: Prefix, backend: {service: {name: nope, port: {number: 80}}}}
---
apiVersion: ingress.kop.dev/v1beta1
kind: IngressRoute
metadata: {name: ir, namespace: default}
spec:
  virtualhost: {fqdn: ir.example.com}
  routes: [{match: /, services: [{name: web, port: 80}]}]
)");
  ManifestDir manifests(*client_, ManifestDirOptions{dir_.string(), std::chrono::milliseconds(50)});
  ASSERT_TRUE(manifests.sync().ok());
  start();
  manifests.start();

  EXPECT_TRUE(
      eventually([&] { return http_get(port(), "web.example.com", "/") == "HTTP/1.1 200 OK"; }));
  EXPECT_EQ(http_get(port(), "ir.example.com", "/x"), "HTTP/1.1 200 OK");
  EXPECT_EQ(http_get(port(), "web.example.com", "/missing"), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(http_get(port(), "unknown.example.com", "/"), "HTTP/1.1 404 Not Found");

  client::ResourceRef ing{"networking.k8s.io", "v1", "ingresses", "Ingress", "default", "web"};
  EXPECT_TRUE(eventually([&] {
    auto o = client_->get(ing);
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
          e->get_string("/involvedObject/name") == "web")
        return true;
    return false;
  }));

  // Removing the Ingress from the files removes its routes.
  std::string text = testing::read_file((dir_ / "app.yaml").string());
  size_t from = text.find("---\napiVersion: networking.k8s.io/v1");
  size_t to = text.find("---\napiVersion: ingress.kop.dev/v1beta1");
  ASSERT_LT(from, to);
  text.erase(from, to - from);
  write("app.yaml", text);
  EXPECT_TRUE(eventually(
      [&] { return http_get(port(), "web.example.com", "/") == "HTTP/1.1 404 Not Found"; }));
  EXPECT_EQ(http_get(port(), "ir.example.com", "/"), "HTTP/1.1 200 OK");
  manifests.stop();
  stop = true;
  shutdown(app, SHUT_RDWR);
  close(app);
  app_thread.join();
}

}  // namespace
}  // namespace kop::ingress
