// Proxy::apply at scale (issue 18): a running proxy (two workers, one listener) serving 10k
// virtual hosts (two routes each) and 10k clusters of 10 endpoints gets the next Config with
// one virtual host changed, or one cluster's endpoints changed, as the ingress controller
// hands it over: the unchanged parts are the same `Shared` objects as in the previous Config.
// The Listed variants serve as the controller renders: an "http" listener naming every host
// and an "https" one naming every tenth host, each with a certificate of its own (1,000).
// Time: CPU of the whole process per apply (MeasureProcessCPUTime), so the workers' adoption
// of the new snapshot and their release of the old one count too.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "kop/proxy/config.h"
#include "kop/proxy/proxy.h"

namespace kop::proxy {
namespace {

constexpr int kApps = 10000;
constexpr int kEndpoints = 10;

std::string ip(int n) {
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}

ClusterConfig cluster(int app, int first_endpoint) {
  ClusterConfig c;
  c.name = "apps/app" + std::to_string(app) + ":80";
  for (int e = 0; e < kEndpoints; ++e)
    c.endpoints.push_back(EndpointConfig{{ip(first_endpoint + e), 8080}, 1});
  return c;
}

std::string host_name(int app) {
  return "app" + std::to_string(app) + ".apps.example.com";
}

VirtualHostConfig host(int app, const std::string& api_path) {
  VirtualHostConfig vh;
  vh.name = host_name(app);
  vh.domains = {vh.name};
  std::string target = "apps/app" + std::to_string(app) + ":80";
  for (const std::string& path : {api_path, std::string("/")}) {
    RouteConfig rc;
    rc.match.path = {PathMatchType::kPrefix, path};
    rc.forward.clusters = {WeightedCluster{target, 1}};
    vh.routes.push_back(std::move(rc));
  }
  return vh;
}

Config base_config() {
  Config c;
  c.admin.enabled = false;
  c.listeners.push_back(ListenerConfig{.name = "http", .address = {"127.0.0.1", 0}});
  for (int a = 0; a < kApps; ++a) {
    c.clusters.emplace_back(cluster(a, a * kEndpoints));
    c.virtual_hosts.emplace_back(host(a, "/api"));
  }
  return c;
}

constexpr int kTlsEvery = 10;  // the Listed variants: every tenth host on https

std::string pem(int (*write)(BIO*, void*), void* what) {
  BIO* b = BIO_new(BIO_s_mem());
  write(b, what);
  char* data = nullptr;
  long len = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(b);
  return out;
}

// A self-signed P-256 certificate for `name` (key generation is cheap: 1,000 in well under a
// second).
CertificateConfig certificate(const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, subject);
  X509_sign(x, key, EVP_sha256());
  CertificateConfig c;
  c.name = name;
  c.server_names = {name};
  c.cert_pem = pem([](BIO* b, void* p) { return PEM_write_bio_X509(b, static_cast<X509*>(p)); }, x);
  c.key_pem = pem(
      [](BIO* b, void* p) {
        return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(p), nullptr, nullptr, 0, nullptr,
                                        nullptr);
      },
      key);
  X509_free(x);
  EVP_PKEY_free(key);
  return c;
}

// base_config() with listeners that name their hosts, as the ingress controller renders them.
Config listed_config() {
  Config c = base_config();
  ListenerConfig& http = c.listeners[0];
  ListenerConfig https{.name = "https", .address = {"127.0.0.1", 0}};
  https.tls = TlsConfig{};
  for (int a = 0; a < kApps; ++a) {
    http.virtual_hosts.push_back(host_name(a));
    if (a % kTlsEvery != 0) continue;
    https.virtual_hosts.push_back(host_name(a));
    https.tls->certificates.push_back(certificate(host_name(a)));
  }
  c.listeners.push_back(std::move(https));
  return c;
}

// Applies `next(flip)` (a Config differing from the running one in one part) per iteration.
template <typename Next>
void apply_changes(benchmark::State& state, Next next, Config config = base_config()) {
  ProxyOptions options;
  options.workers = 2;
  Proxy proxy(options);
  if (auto s = proxy.apply(std::make_shared<const Config>(config)); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  bool flip = false;
  for (auto _ : state) {
    state.PauseTiming();
    flip = !flip;
    next(config, flip);
    auto shared = std::make_shared<const Config>(config);
    state.ResumeTiming();
    if (auto s = proxy.apply(shared); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  proxy.shutdown(std::chrono::milliseconds(0));
}

void BM_ApplyOneHostChanged(benchmark::State& state) {
  apply_changes(state, [](Config& c, bool flip) {
    c.virtual_hosts[kApps / 2] = host(kApps / 2, flip ? "/v2" : "/api");
  });
}
BENCHMARK(BM_ApplyOneHostChanged)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(40);

// The changed host is on both listeners (kApps / 2 is a multiple of kTlsEvery).
void BM_ApplyOneHostChangedListed(benchmark::State& state) {
  apply_changes(
      state,
      [](Config& c, bool flip) {
        c.virtual_hosts[kApps / 2] = host(kApps / 2, flip ? "/v2" : "/api");
      },
      listed_config());
}
BENCHMARK(BM_ApplyOneHostChangedListed)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(40);

void BM_ApplyOneClusterEndpointsChanged(benchmark::State& state) {
  apply_changes(state, [](Config& c, bool flip) {
    c.clusters[kApps / 2] =
        cluster(kApps / 2, flip ? kApps * kEndpoints : (kApps / 2) * kEndpoints);
  });
}
BENCHMARK(BM_ApplyOneClusterEndpointsChanged)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(40);

}  // namespace
}  // namespace kop::proxy

BENCHMARK_MAIN();
