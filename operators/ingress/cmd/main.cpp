// kop-ingress: the Ingress operator. One process holds the control loop (IngressController, a
// libkop controller run by a kop::manager::Manager with leader election for status writes) and
// the embedded L7 proxy it configures. Every flag is in docs/ingress.md.
#include <unistd.h>
#include <csignal>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <absl/strings/numbers.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include "../controllers/ingress_controller.h"
#include "builtin_crds.h"
#include "kop/client/config.h"
#include "kop/client/rest_client.h"
#include "kop/flags/flags.h"
#include "kop/local/http_front.h"
#include "kop/local/local_client.h"
#include "kop/local/manifest_loader.h"
#include "kop/local/store.h"
#include "kop/log/log.h"
#include "kop/manager/http_server.h"
#include "kop/manager/manager.h"
#include "kop/metrics/registry.h"
#include "kop/proxy/proxy.h"
#include "migrate.h"
#include "webhook.h"

// Sanitizer builds free every object before exiting, so that LeakSanitizer still checks that
// the process can (see the end of run()).
#if defined(__SANITIZE_ADDRESS__)
#define KOP_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KOP_FREE_AT_EXIT 1
#endif
#endif

namespace {

struct Flags {
  std::string kubeconfig, manifests, api_addr;
  std::string http_addr = ":8080", https_addr = ":8443", admin_addr = "127.0.0.1:9001";
  std::string metrics_addr = ":8000";
  std::string ingress_class = "kop";
  std::string controller_class = std::string(kop::ingress::kControllerName);
  std::string nginx_annotations;  // "" = true for --ingress-class nginx
  bool watch_without_class = true;
  bool install_crds = true;
  bool gateway_api = true;
  std::string gateway_controller_name = "kop.dev/gateway-controller";
  std::string gateway_local_port_offset = "10000";
  std::string gateway_service_type = "LoadBalancer", gateway_port_range = "20000-29999";
  std::string gateway_pod_selector = "app.kubernetes.io/name=kop-ingress";
  std::string publish_service, publish_address;
  std::string leader_elect;  // "" = by mode (cluster: true, --manifests: false)
  std::string le_namespace, le_id;
  std::string le_lease_duration = "15s", le_renew_deadline = "10s", le_retry_period = "2s";
  std::string log_format = "text", log_level = "info";
  std::string server_header = "overwrite";
  uint32_t workers = 0;
  // controller-runtime's defaults (client-go's own are 5/10).
  std::string kube_api_qps = "20", kube_api_burst = "30";
  // One status write is in flight at a time (one seat of the server's concurrency); 100/s
  // writes 10k statuses in under 2 minutes while leaving the priority level to other tenants.
  std::string status_qps = "100", status_burst = "100";
  std::string cache_sync_timeout = "2m";  // controller-runtime's CacheSyncTimeout default
  kop::ingress::WebhookFlags webhook;
};

bool parse_bool(const std::string& v, bool* out) {
  if (v == "true" || v == "1" || v == "yes") return *out = true, true;
  if (v == "false" || v == "0" || v == "no") return *out = false, true;
  return false;
}

// Every flag of kop-ingress (docs/ingress.md), each setting its field of `f`.
void add_flags(kop::flags::FlagSet& set, Flags& f) {
  auto text = [&set](const char* name, const char* value_name, const char* help, std::string* out) {
    set.add_string(name, value_name, help, out);
  };
  text("kubeconfig", "PATH", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
       &f.kubeconfig);
  text("manifests", "DIR",
       "no cluster: load DIR's YAML files into an in-process API store (kop::local) and follow "
       "changes to them",
       &f.manifests);
  set.add_bool("install-crds",
               "with --manifests: put kop-ingress' own CRDs (IngressRoute, "
               "TLSCertificateDelegation, Gateway API; built in) into the store first, so DIR "
               "needs only your objects (default true)",
               &f.install_crds);
  text("api-addr", "HOST:PORT",
       "with --manifests: serve the store's Kubernetes API (kubectl); prints a kubeconfig (with "
       "a bearer token made at start)",
       &f.api_addr);
  text("kube-api-qps", "N", "client-side rate limit of API requests (default 20)", &f.kube_api_qps);
  text("kube-api-burst", "N", "burst of that limit (default 30)", &f.kube_api_burst);
  text("status-qps", "N",
       "rate limit of status and Event writes, on their own client (default 100; 0 = none, the "
       "server's 429s alone pace them)",
       &f.status_qps);
  text("status-burst", "N", "burst of that limit (default 100)", &f.status_burst);
  text("cache-sync-timeout", "D",
       "how long the first lists of every watched kind may take before /healthz fails and the "
       "controller gives up (default 2m; raise it for 100k objects on a slow API server)",
       &f.cache_sync_timeout);
  text("http-addr", "HOST:PORT", "plain HTTP listener (default :8080)", &f.http_addr);
  text("https-addr", "HOST:PORT", "HTTPS listener (default :8443; \"\" disables)", &f.https_addr);
  text("admin-addr", "HOST:PORT",
       "proxy admin listener, /config_dump /metrics (default 127.0.0.1:9001; \"\" disables)",
       &f.admin_addr);
  text("metrics-addr", "HOST:PORT", "/metrics /healthz /readyz (default :8000)", &f.metrics_addr);
  text("ingress-class", "NAME", "kubernetes.io/ingress.class value we own (default kop)",
       &f.ingress_class);
  set.add_bool("watch-ingress-without-class", "own Ingresses without class (default true)",
               &f.watch_without_class);
  text("controller-class", "NAME",
       "IngressClass spec.controller we own (default kop.dev/ingress-controller; "
       "k8s.io/ingress-nginx takes over an ingress-nginx IngressClass)",
       &f.controller_class);
  text("nginx-annotations", "true|false",
       "read nginx.ingress.kubernetes.io/* annotations as ingress-nginx does (default: true with "
       "--ingress-class nginx, else false)",
       &f.nginx_annotations);
  text("publish-service", "NS/NAME",
       "copy this Service's load balancer address into Ingress status", &f.publish_service);
  text("publish-address", "ADDRS", "comma-separated IPs/host names for Ingress status instead",
       &f.publish_address);
  set.add_bool("leader-elect",
               "only the Lease holder writes statuses and Events; every replica serves traffic "
               "(default true in a cluster, false with --manifests)",
               [&f](bool on) { f.leader_elect = on ? "true" : "false"; });
  text("leader-election-namespace", "NS",
       "namespace of the Lease (default $POD_NAMESPACE, else the service account's namespace, "
       "else default)",
       &f.le_namespace);
  text("leader-election-id", "NAME", "name of the Lease (default kop-ingress-<ingress class>)",
       &f.le_id);
  text("leader-election-lease-duration", "D", "durations as 500ms, 15s, 1m (default 15s)",
       &f.le_lease_duration);
  text("leader-election-renew-deadline", "D", "(default 10s)", &f.le_renew_deadline);
  text("leader-election-retry-period", "D", "(default 2s)", &f.le_retry_period);
  set.add_bool("gateway-api",
               "watch and serve Gateway API objects (GatewayClass, Gateway, HTTPRoute, "
               "GRPCRoute, TLSRoute, ReferenceGrant, BackendTLSPolicy) when their CRDs are "
               "installed (default true)",
               &f.gateway_api);
  text("gateway-controller-name", "NAME",
       "GatewayClass spec.controllerName we own (default kop.dev/gateway-controller)",
       &f.gateway_controller_name);
  text("gateway-local-port-offset", "N",
       "with --manifests: each Gateway gets its own loopback address (127.0.1.1, 127.0.1.2, ...) "
       "and its listener ports plus N there (default 10000: port 80 -> 10080; 0 keeps them)",
       &f.gateway_local_port_offset);
  text("gateway-service-type", "TYPE",
       "in a cluster, each Gateway's Service (made by the leader in $POD_NAMESPACE): "
       "LoadBalancer (default), NodePort, ClusterIP, or None (no Service: listener ports bound "
       "on the pod, addresses from --publish-service/--publish-address)",
       &f.gateway_service_type);
  text("gateway-port-range", "MIN-MAX",
       "internal ports the Gateway Services' targetPorts use; bound on --http-addr's host "
       "(default 20000-29999)",
       &f.gateway_port_range);
  text("gateway-pod-selector", "K=V[,K=V]",
       "the Gateway Services' selector: kop-ingress' pod labels (default "
       "app.kubernetes.io/name=kop-ingress)",
       &f.gateway_pod_selector);
  text("webhook-addr", "HOST:PORT",
       "serve the validating admission webhook (path /validate-kop-ingress: Ingress, "
       "IngressRoute, Gateway, HTTPRoute, GRPCRoute, TLSRoute, ReferenceGrant judged by the "
       "translation itself) over HTTPS (default \"\": none)",
       &f.webhook.addr);
  text("webhook-cert-dir", "DIR",
       "its certificate from DIR/tls.crt and tls.key, reloaded on change (cert-manager); "
       "default: a CA and certificate kop-ingress makes, rotates and keeps in a Secret",
       &f.webhook.cert_dir);
  text("webhook-secret", "NS/NAME",
       "that Secret (default <own namespace>/kop-ingress-webhook-certs)", &f.webhook.secret);
  text("webhook-service", "NAME",
       "the Service the API server calls the webhook through: its DNS names go into the "
       "certificate (default kop-ingress-webhook)",
       &f.webhook.service);
  text("webhook-hosts", "LIST",
       "more names and IPs for the certificate, comma-separated (e.g. 127.0.0.1 for a "
       "clientConfig.url on loopback)",
       &f.webhook.hosts);
  text("webhook-configuration", "NAME",
       "keep this ValidatingWebhookConfiguration's caBundle equal to the CA (self-managed "
       "certificates only; default \"\": not kept)",
       &f.webhook.configuration);
  text("log-format", "text|json", "log line format (default text)", &f.log_format);
  text("log-level", "LEVEL", "error, warn, info, debug, trace (default info)", &f.log_level);
  set.add_uint32("workers", "N", "proxy worker threads (default: one per core)", &f.workers);
  text("server-header", "POLICY",
       "the server response header: overwrite (every response says \"server: kop\"), "
       "append_if_absent or pass_through (default overwrite)",
       &f.server_header);
}

// The namespace a pod runs in: $POD_NAMESPACE (examples/deploy sets it from the downward API),
// else the service account's namespace file, else "default".
std::string own_namespace() {
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr && *ns != '\0') return ns;
  std::ifstream f("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  if (f && std::getline(f, ns) && !ns.empty()) return ns;
  return "default";
}

// 32 random bytes from the kernel, hex: the bearer token of --api-addr (never logged).
absl::StatusOr<std::string> random_token() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[32];
  if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes))
    return absl::UnavailableError("cannot read /dev/urandom");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

absl::StatusOr<kop::proxy::SocketAddress> address(const std::string& text) {
  std::string t = text;
  if (!t.empty() && t[0] == ':') t = "0.0.0.0" + t;
  return kop::proxy::parse_socket_address(t, true);
}

int run(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "migrate")
    return kop::ingress::run_migrate(argc - 1, argv + 1);
  Flags f;
  kop::flags::FlagSet flags(
      "kop-ingress",
      "kop-ingress [flags]\n"
      "       kop-ingress migrate [-f FILE|DIR]... [--kubeconfig PATH] [-n NS]  (ingress-nginx "
      "annotations report)",
      "Kubernetes Ingress and Gateway API controller with an embedded L7 proxy. Every flag is "
      "in docs/ingress.md.");
  add_flags(flags, f);
  if (std::optional<int> exit = flags.run(argc, argv)) return *exit;

  kop::log::Options log_options;
  if (f.log_format == "json")
    log_options.format = kop::log::Format::kJson;
  else if (f.log_format != "text")
    return flags.usage_error("--log-format is text or json");
  if (!kop::log::parse_level(f.log_level, &log_options.level))
    return flags.usage_error("unknown --log-level " + f.log_level);
  kop::log::configure(log_options);
  kop::log::Logger log = kop::log::Logger().with_name("main");

  kop::ingress::ControllerOptions options;
  options.model.ingress_class = f.ingress_class;
  options.model.watch_ingress_without_class = f.watch_without_class;
  options.model.controller_name = f.controller_class;
  options.model.nginx_annotations = f.ingress_class == "nginx";
  if (!f.nginx_annotations.empty() &&
      !parse_bool(f.nginx_annotations, &options.model.nginx_annotations))
    return flags.usage_error("--nginx-annotations takes true or false");
  options.gateway.enabled = f.gateway_api;
  if (f.gateway_controller_name.empty())
    return flags.usage_error("--gateway-controller-name must not be empty");
  options.gateway.translate.controller_name = f.gateway_controller_name;
  options.gateway.local = !f.manifests.empty();
  if (!absl::SimpleAtoi(f.gateway_local_port_offset, &options.gateway.local_port_offset) ||
      options.gateway.local_port_offset > 65534)
    return flags.usage_error("--gateway-local-port-offset: not an integer from 0 to 65534: " +
                             f.gateway_local_port_offset);
  kop::ingress::GatewayServiceOptions& gs = options.gateway.services;
  auto service_type = kop::ingress::parse_gateway_service_type(f.gateway_service_type);
  if (!service_type.ok())
    return flags.usage_error("--gateway-service-type: " +
                             std::string(service_type.status().message()));
  gs.type = *service_type;
  if (auto s =
          kop::ingress::parse_gateway_port_range(f.gateway_port_range, gs.port_min, gs.port_max);
      !s.ok())
    return flags.usage_error("--gateway-port-range: " + std::string(s.message()));
  auto selector = kop::ingress::parse_pod_selector(f.gateway_pod_selector);
  if (!selector.ok())
    return flags.usage_error("--gateway-pod-selector: " + std::string(selector.status().message()));
  gs.pod_selector = *std::move(selector);
  gs.ns = own_namespace();
  options.publish_service = f.publish_service;
  options.publish_address = f.publish_address;
  if (!absl::ParseDuration(f.cache_sync_timeout, &options.cache_sync_timeout) ||
      options.cache_sync_timeout <= absl::ZeroDuration())
    return flags.usage_error("--cache-sync-timeout: not a duration: " + f.cache_sync_timeout);
  auto http = address(f.http_addr);
  if (!http.ok()) return flags.usage_error("--http-addr: " + std::string(http.status().message()));
  options.render.http_address = *http;
  if (f.https_addr.empty()) {
    options.render.https_address.reset();
  } else {
    auto https = address(f.https_addr);
    if (!https.ok())
      return flags.usage_error("--https-addr: " + std::string(https.status().message()));
    options.render.https_address = *https;
  }
  if (f.admin_addr.empty()) {
    options.render.admin.enabled = false;
  } else {
    auto admin = address(f.admin_addr);
    if (!admin.ok())
      return flags.usage_error("--admin-addr: " + std::string(admin.status().message()));
    options.render.admin.address = *admin;
  }
  options.render.server.workers = f.workers;
  auto server_header = kop::proxy::parse_server_header(f.server_header);
  if (!server_header)
    return flags.usage_error(
        "--server-header is overwrite, append_if_absent or pass_through, not " + f.server_header);
  options.render.server.server_header = *server_header;
  auto metrics_address = address(f.metrics_addr);
  if (!metrics_address.ok())
    return flags.usage_error("--metrics-addr: " + std::string(metrics_address.status().message()));
  double kube_api_qps = 0, status_qps = 0;
  int kube_api_burst = 0, status_burst = 0;
  for (auto [prefix, qps_text, burst_text, qps, burst] :
       {std::tuple{"kube-api", &f.kube_api_qps, &f.kube_api_burst, &kube_api_qps, &kube_api_burst},
        std::tuple{"status", &f.status_qps, &f.status_burst, &status_qps, &status_burst}}) {
    if (!absl::SimpleAtod(*qps_text, qps) || *qps < 0)
      return flags.usage_error(std::string("--") + prefix +
                               "-qps: not a number >= 0: " + *qps_text);
    if (!absl::SimpleAtoi(*burst_text, burst) || *burst < 1)
      return flags.usage_error(std::string("--") + prefix +
                               "-burst: not an integer >= 1: " + *burst_text);
  }
  bool leader_elect = f.leader_elect.empty() ? f.manifests.empty() : f.leader_elect == "true";
  kop::manager::LeaderElectionOptions le;
  for (auto [flag, text, out] :
       {std::tuple{"lease-duration", &f.le_lease_duration, &le.lease_duration},
        std::tuple{"renew-deadline", &f.le_renew_deadline, &le.renew_deadline},
        std::tuple{"retry-period", &f.le_retry_period, &le.retry_period}}) {
    if (!absl::ParseDuration(*text, out) || *out <= absl::ZeroDuration())
      return flags.usage_error(std::string("--leader-election-") + flag +
                               ": not a duration: " + *text);
  }
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') le.identity = pod;
  le.lease_namespace = f.le_namespace.empty() ? own_namespace() : f.le_namespace;
  le.lease_name = f.le_id.empty() ? "kop-ingress-" + f.ingress_class : f.le_id;
  if (leader_elect) {
    if (absl::Status s = kop::manager::LeaderElector::validate(le); !s.ok())
      return flags.usage_error("leader election: " + std::string(s.message()));
  }

  // Block the stop signals in every thread; main waits for them with sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::shared_ptr<kop::client::Client> client;
  std::shared_ptr<kop::client::Client> status_client;  // own rate limit (--status-qps)
  std::shared_ptr<kop::local::Store> store;
  std::unique_ptr<kop::local::ManifestLoader> manifests;
  if (!f.manifests.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(f.manifests, ec)) {
      log.error(absl::NotFoundError(f.manifests + ": not a directory"), "cannot read manifests");
      return 1;
    }
    store = std::make_shared<kop::local::Store>();
    client = std::make_shared<kop::local::LocalClient>(store);
    // Before the first sync, so IngressRoutes in DIR are accepted in the same pass.
    if (f.install_crds) {
      auto installed = kop::ingress::install_builtin_crds(*client);
      if (!installed.ok()) {
        log.error(installed.status(), "cannot install the built-in CRDs");
        return 1;
      }
      log.info("built-in CRDs installed", "crds", installed->size());
    }
    kop::local::ManifestLoaderOptions loader_options{f.manifests};
    // Every sync's new problems, not only the first's: a refused change keeps the old object.
    loader_options.on_problem = [log](const kop::local::ManifestProblem& p) {
      log.warn("manifest not applied", "problem", p.to_string());
    };
    manifests = std::make_unique<kop::local::ManifestLoader>(store, std::move(loader_options));
    kop::local::SyncReport report = manifests->sync();
    log.info("manifests loaded", "dir", f.manifests, "applied", report.applied);
    manifests->start();  // follows the directory (inotify; polled every 500 ms without)
  } else {
    if (!f.api_addr.empty()) return flags.usage_error("--api-addr needs --manifests");
    absl::StatusOr<kop::client::Config> config =
        f.kubeconfig.empty()
            ? kop::client::load_default_config()
            : kop::client::load_kubeconfig(kop::client::KubeconfigOptions{{f.kubeconfig}});
    if (!config.ok()) {
      log.error(config.status(), "cannot load the cluster configuration");
      return 1;
    }
    config->qps = kube_api_qps;
    config->burst = kube_api_burst;
    auto rest = kop::client::RestClient::create(*config);
    if (!rest.ok()) {
      log.error(rest.status(), "cannot create the API client");
      return 1;
    }
    client = *rest;
    kop::client::Config status_config = *config;
    status_config.qps = status_qps;
    status_config.burst = status_burst;
    auto status_rest = kop::client::RestClient::create(status_config);
    if (!status_rest.ok()) {
      log.error(status_rest.status(), "cannot create the API client");
      return 1;
    }
    status_client = *status_rest;
    options.status_client = status_client.get();
    // API servers before 1.21 serve EndpointSlices only as v1beta1.
    auto probe = client->list(kop::client::ResourceRef{"discovery.k8s.io", "v1", "endpointslices",
                                                       "EndpointSlice", "", ""},
                              kop::client::ListOptions{.limit = 1});
    if (!probe.ok() && kop::client::is_not_found(probe.status())) {
      log.info("discovery.k8s.io/v1 EndpointSlices not served; using v1beta1");
      options.kinds.endpoint_slice.version = "v1beta1";
    }
  }
  std::unique_ptr<kop::local::HttpFront> front;
  if (!f.api_addr.empty()) {
    kop::local::HttpFrontOptions fo;
    fo.listen = f.api_addr;
    // The front requires this token and the printed kubeconfig carries it, so kubectl works
    // with that kubeconfig as is (no "Please enter Username" prompt).
    auto token = random_token();
    if (!token.ok()) {
      log.error(token.status(), "cannot make the API token");
      return 1;
    }
    fo.token = *std::move(token);
    front = std::make_unique<kop::local::HttpFront>(store, fo);
    if (absl::Status s = front->start(); !s.ok()) {
      log.error(s, "cannot serve the API", "addr", f.api_addr);
      return 1;
    }
    log.info("serving kop::local's Kubernetes API", "url", front->url());
    std::cout << front->kubeconfig() << std::flush;
  }

  kop::proxy::ProxyOptions proxy_options;
  proxy_options.on_event = [](std::string_view line) {
    static const kop::log::Logger l = kop::log::Logger().with_name("proxy");
    l.info(line);
  };
  kop::proxy::Proxy proxy(proxy_options);

  kop::manager::ManagerOptions mo;
  mo.leader_election = leader_elect;
  mo.leader_election_id = le.lease_name;
  mo.leader_election_namespace = le.lease_namespace;
  mo.leader_election_options = le;
  // Every replica serves traffic: losing the Lease only stops status writes here; the Manager
  // campaigns again and status writing resumes when this replica wins.
  mo.exit_on_lost_lease = false;
  // With --manifests the cache keeps kop::local's stored objects, not a second copy of each
  // (set first: configure_cache() leaves shared EndpointSlices whole).
  mo.cache.share_objects = store != nullptr;
  kop::ingress::configure_cache(mo.cache, options.kinds, options.gateway.enabled,
                                options.model.nginx_annotations);
  kop::manager::Manager mgr(*client, mo);
  kop::ingress::IngressController controller(mgr, proxy, options);
  std::unique_ptr<kop::ingress::Webhook> webhook;  // outlives the Manager's run (StopFirst)
  // The Manager calls into the controller until it is stopped: stop it first on every way out.
  struct StopFirst {
    kop::manager::Manager& mgr;
    kop::ingress::IngressController& controller;
    ~StopFirst() {
      controller.begin_shutdown();
      mgr.stop().IgnoreError();
    }
  } stop_first{mgr, controller};
  if (absl::Status s = controller.setup(); !s.ok()) {
    log.error(s, "cannot set up the controller");
    return 1;
  }
  if (!f.webhook.addr.empty()) {
    auto added = kop::ingress::add_webhook(f.webhook, own_namespace(), *client, mgr, options);
    if (!added.ok()) return flags.usage_error(std::string(added.status().message()));
    webhook = *std::move(added);
  }

  // The Manager's probes, on libkop's HTTP server, with the proxy's metrics after the
  // registry's (one scrape sees the controller and the data path).
  std::string metrics_listen = f.metrics_addr;
  if (!metrics_listen.empty() && metrics_listen[0] == ':')
    metrics_listen = "0.0.0.0" + metrics_listen;
  kop::manager::HttpServer probes(metrics_listen);
  probes.handle("/healthz", [&](const std::string& t) { return mgr.healthz(t); });
  probes.handle("/readyz", [&](const std::string& t) { return mgr.readyz(t); });
  probes.handle("/metrics", [&](const std::string&) {
    return kop::manager::HttpResponse{200, std::string(kop::metrics::kExpositionContentType),
                                      mgr.registry().expose() + proxy.metrics_text()};
  });
  if (absl::Status s = probes.start(); !s.ok()) {
    log.error(s, "cannot serve metrics");
    return 1;
  }
  if (absl::Status s = mgr.start(); !s.ok()) {
    log.error(s, "cannot start");
    return 1;
  }
  log.info("kop-ingress started", "http", f.http_addr, "https", f.https_addr, "metrics",
           f.metrics_addr, "ingress_class", f.ingress_class, "source",
           f.manifests.empty() ? std::string("cluster") : "manifests " + f.manifests,
           "leader_elect", leader_elect, "lease",
           leader_elect ? le.lease_namespace + "/" + le.lease_name : std::string("-"));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log.info("stopping (a second signal exits at once)", "signal", sig);
  std::thread([stop_signals] {
    int again = 0;
    sigwait(&stop_signals, &again);
    _exit(1);
  }).detach();
  if (manifests) manifests->stop();
  controller.begin_shutdown();
  if (absl::Status s = mgr.stop(); !s.ok()) log.warn("graceful shutdown incomplete", "error", s);
  probes.stop();
  proxy.shutdown();
#ifndef KOP_FREE_AT_EXIT
  // Everything has stopped: threads joined, connections drained, the Lease given up. What is
  // left (caches, the model, the proxy's tables) needs no destructor, and freeing it block by
  // block takes seconds at 100k Ingresses (glibc consolidating its free lists), time a pod's
  // termination grace period is better spent on. The log writes straight to its fd.
  std::fflush(nullptr);
  std::_Exit(0);
#endif
  return 0;
}

}  // namespace

// An exception that reaches main is a bug: name it rather than let std::terminate abort.
int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, so every absl::Mutex::Lock would run the lock-order
  // checker (a process-wide spin lock and graph update: ~300 instructions, shared by all
  // threads). The tests keep it; the program does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kop-ingress: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "kop-ingress: fatal: unknown exception\n");
  }
  return 70;  // EX_SOFTWARE
}
