// kop-ingress: the Ingress operator. One process holds the control loop (IngressController
// over libkop caches) and the embedded L7 proxy it configures. Every flag is in docs/ingress.md.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../controllers/ingress_controller.h"
#include "../controllers/manifest_dir.h"
#include "health_server.h"
#include "kop/cache/cache.h"
#include "kop/client/config.h"
#include "kop/client/rest_client.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"
#include "kop/log/log.h"
#include "kop/metrics/registry.h"
#include "kop/proxy/proxy.h"
#ifdef KOP_INGRESS_HAVE_HTTP_FRONT
#include "kop/local/http_front.h"
#endif

namespace {

constexpr const char* kUsage =
    R"(kop-ingress: Kubernetes Ingress controller with an embedded L7 proxy.

Usage: kop-ingress [flags]
  --kubeconfig PATH            kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --manifests DIR              no cluster: load DIR's YAML files into an in-process API store
                               (kop::local) and follow changes to them
  --api-addr HOST:PORT         with --manifests: serve the store's Kubernetes API (kubectl)
  --http-addr HOST:PORT        plain HTTP listener (default :8080)
  --https-addr HOST:PORT       HTTPS listener (default :8443; "" disables)
  --admin-addr HOST:PORT       proxy admin listener, /config_dump /metrics (default 127.0.0.1:9001)
  --metrics-addr HOST:PORT     /metrics /healthz /readyz (default :8000)
  --ingress-class NAME         kubernetes.io/ingress.class value we own (default kop)
  --watch-ingress-without-class[=true|false]  own Ingresses without class (default true)
  --publish-service NS/NAME    copy this Service's load balancer address into Ingress status
  --publish-address ADDRS      comma-separated IPs/host names for Ingress status instead
  --leader-elect[=true|false]  leader election for status writes (default true; see docs)
  --log-format text|json       log line format (default text)
  --log-level LEVEL            error, warn, info, debug, trace (default info)
  --workers N                  proxy worker threads (default: one per core)
  -h, --help                   this text
)";

struct Flags {
  std::string kubeconfig, manifests, api_addr;
  std::string http_addr = ":8080", https_addr = ":8443", admin_addr = "127.0.0.1:9001";
  std::string metrics_addr = ":8000";
  std::string ingress_class = "kop";
  bool watch_without_class = true;
  std::string publish_service, publish_address;
  bool leader_elect = true;
  std::string log_format = "text", log_level = "info";
  uint32_t workers = 0;
};

bool parse_bool(const std::string& v, bool* out) {
  if (v == "true" || v == "1" || v == "yes") return *out = true, true;
  if (v == "false" || v == "0" || v == "no") return *out = false, true;
  return false;
}

int usage_error(const std::string& msg) {
  std::cerr << "kop-ingress: " << msg << "\n\n" << kUsage;
  return 2;
}

absl::StatusOr<kop::proxy::SocketAddress> address(const std::string& text) {
  std::string t = text;
  if (!t.empty() && t[0] == ':') t = "0.0.0.0" + t;
  return kop::proxy::parse_socket_address(t, true);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  std::map<std::string, std::string*> strings = {{"kubeconfig", &f.kubeconfig},
                                                 {"manifests", &f.manifests},
                                                 {"api-addr", &f.api_addr},
                                                 {"http-addr", &f.http_addr},
                                                 {"https-addr", &f.https_addr},
                                                 {"admin-addr", &f.admin_addr},
                                                 {"metrics-addr", &f.metrics_addr},
                                                 {"ingress-class", &f.ingress_class},
                                                 {"publish-service", &f.publish_service},
                                                 {"publish-address", &f.publish_address},
                                                 {"log-format", &f.log_format},
                                                 {"log-level", &f.log_level}};
  std::map<std::string, bool*> bools = {{"watch-ingress-without-class", &f.watch_without_class},
                                        {"leader-elect", &f.leader_elect}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (arg.rfind("--", 0) != 0) return usage_error("unexpected argument " + arg);
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (auto b = bools.find(name); b != bools.end()) {
      if (has_value && !parse_bool(value, b->second))
        return usage_error("--" + name + " takes true or false");
      if (!has_value) *b->second = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return usage_error("--" + name + " needs a value");
      value = argv[++i];
    }
    if (auto s = strings.find(name); s != strings.end())
      *s->second = value;
    else if (name == "workers")
      f.workers = static_cast<uint32_t>(std::atoi(value.c_str()));
    else
      return usage_error("unknown flag --" + name);
  }

  kop::log::Options log_options;
  if (f.log_format == "json")
    log_options.format = kop::log::Format::kJson;
  else if (f.log_format != "text")
    return usage_error("--log-format is text or json");
  if (!kop::log::parse_level(f.log_level, &log_options.level))
    return usage_error("unknown --log-level " + f.log_level);
  kop::log::configure(log_options);
  kop::log::Logger log = kop::log::Logger().with_name("main");

  kop::ingress::ControllerOptions options;
  options.model.ingress_class = f.ingress_class;
  options.model.watch_ingress_without_class = f.watch_without_class;
  options.publish_service = f.publish_service;
  options.publish_address = f.publish_address;
  auto http = address(f.http_addr);
  if (!http.ok()) return usage_error("--http-addr: " + std::string(http.status().message()));
  options.render.http_address = *http;
  if (f.https_addr.empty()) {
    options.render.https_address.reset();
  } else {
    auto https = address(f.https_addr);
    if (!https.ok()) return usage_error("--https-addr: " + std::string(https.status().message()));
    options.render.https_address = *https;
  }
  if (f.admin_addr.empty()) {
    options.render.admin.enabled = false;
  } else {
    auto admin = address(f.admin_addr);
    if (!admin.ok()) return usage_error("--admin-addr: " + std::string(admin.status().message()));
    options.render.admin.address = *admin;
  }
  options.render.server.workers = f.workers;
  auto metrics_address = address(f.metrics_addr);
  if (!metrics_address.ok())
    return usage_error("--metrics-addr: " + std::string(metrics_address.status().message()));
  if (f.leader_elect)
    log.info(
        "leader election is not available yet (it comes with libkop/manager): this "
        "replica writes statuses and Events as if it were the leader; run one replica or "
        "pass --leader-elect=false on all but one");

  // Block the stop signals in every thread; main waits for them with sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::shared_ptr<kop::client::Client> client;
  std::shared_ptr<kop::local::Store> store;
  std::unique_ptr<kop::ingress::ManifestDir> manifests;
  if (!f.manifests.empty()) {
    store = std::make_shared<kop::local::Store>();
    client = std::make_shared<kop::local::LocalClient>(store);
    manifests = std::make_unique<kop::ingress::ManifestDir>(
        *client, kop::ingress::ManifestDirOptions{f.manifests});
    absl::Status s = manifests->sync();
    if (absl::IsNotFound(s)) {
      log.error(s, "cannot read manifests");
      return 1;
    }
    if (!s.ok()) log.warn("some manifests were not applied", "error", s);
    manifests->start();
  } else {
    if (!f.api_addr.empty()) return usage_error("--api-addr needs --manifests");
    absl::StatusOr<kop::client::Config> config =
        f.kubeconfig.empty()
            ? kop::client::load_default_config()
            : kop::client::load_kubeconfig(kop::client::KubeconfigOptions{{f.kubeconfig}});
    if (!config.ok()) {
      log.error(config.status(), "cannot load the cluster configuration");
      return 1;
    }
    auto rest = kop::client::RestClient::create(*config);
    if (!rest.ok()) {
      log.error(rest.status(), "cannot create the API client");
      return 1;
    }
    client = *rest;
    // API servers before 1.21 serve EndpointSlices only as v1beta1.
    auto probe = client->list(kop::client::ResourceRef{"discovery.k8s.io", "v1", "endpointslices",
                                                       "EndpointSlice", "", ""},
                              kop::client::ListOptions{.limit = 1});
    if (!probe.ok() && kop::client::is_not_found(probe.status())) {
      log.info("discovery.k8s.io/v1 EndpointSlices not served; using v1beta1");
      options.kinds.endpoint_slice.version = "v1beta1";
    }
  }
#ifdef KOP_INGRESS_HAVE_HTTP_FRONT
  std::unique_ptr<kop::local::HttpFront> front;
  if (!f.api_addr.empty()) {
    kop::local::HttpFrontOptions fo;
    fo.listen = f.api_addr;
    front = std::make_unique<kop::local::HttpFront>(store, fo);
    if (absl::Status s = front->start(); !s.ok()) {
      log.error(s, "cannot serve the API", "addr", f.api_addr);
      return 1;
    }
    log.info("serving kop::local's Kubernetes API", "url", front->url());
    std::cout << front->kubeconfig() << std::flush;
  }
#else
  if (!f.api_addr.empty())
    return usage_error("--api-addr: this build has no kop::local HTTP front");
#endif

  kop::proxy::ProxyOptions proxy_options;
  proxy_options.on_event = [](std::string_view line) {
    static const kop::log::Logger l = kop::log::Logger().with_name("proxy");
    l.info(line);
  };
  kop::proxy::Proxy proxy(proxy_options);

  kop::cache::CacheOptions cache_options;
  kop::ingress::configure_cache(cache_options, options.kinds);
  kop::cache::Cache cache(*client, cache_options);
  kop::ingress::IngressController controller(*client, cache, proxy, options);
  if (absl::Status s = controller.setup(); !s.ok()) {
    log.error(s, "cannot set up the controller");
    return 1;
  }

  kop::ingress::HealthServer health({
      {"/healthz",
       [] {
         return kop::ingress::HttpAnswer{200, "text/plain", "ok\n"};
       }},
      {"/readyz",
       [&] {
         return controller.ready()
                    ? kop::ingress::HttpAnswer{200, "text/plain", "ok\n"}
                    : kop::ingress::HttpAnswer{503, "text/plain", "no config applied yet\n"};
       }},
      {"/metrics",
       [&] {
         return kop::ingress::HttpAnswer{
             200, std::string(kop::metrics::kExpositionContentType),
             kop::metrics::default_registry().expose() + proxy.metrics_text()};
       }},
  });
  if (absl::Status s = health.start(*metrics_address); !s.ok()) {
    log.error(s, "cannot serve metrics");
    return 1;
  }

  cache.start();
  std::thread worker([&] { controller.run(); });
  log.info("kop-ingress started", "http", f.http_addr, "https", f.https_addr, "metrics",
           f.metrics_addr, "ingress_class", f.ingress_class, "source",
           f.manifests.empty() ? std::string("cluster") : "manifests " + f.manifests);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log.info("stopping", "signal", sig);
  if (manifests) manifests->stop();
  controller.stop();
  worker.join();
  cache.stop();
  health.stop();
  proxy.shutdown();
  return 0;
}
