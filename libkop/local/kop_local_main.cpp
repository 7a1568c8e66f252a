// kop-local: kop::local served over the Kubernetes REST API, for developing operators without a
// cluster.
//
//   kop-local --listen 127.0.0.1:PORT [--crds DIR] [--manifests DIR] [--write-kubeconfig FILE]
//             [--insecure-http] [--token TOKEN]
//
// HTTPS with a CA generated at start unless --insecure-http; a random bearer token unless
// --token is given ("" with --token= turns authentication off). The kubeconfig written names
// the server, the CA and the token; kubectl and libkop programs use it as is. --crds and
// --manifests are kept in step with their directories while running. SIGINT/SIGTERM stop it.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "kop/flags/flags.h"
#include "kop/local/http_front.h"
#include "kop/local/manifest_loader.h"
#include "kop/local/store.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

std::string random_token() {
  std::random_device rd;
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string t;
  for (int i = 0; i < 32; ++i) t += kChars[rd() % (sizeof kChars - 1)];
  return t;
}

// Options whose loader prints each new problem of every sync (a refused change is not silent).
kop::local::ManifestLoaderOptions reporting(std::string dir, const char* what) {
  kop::local::ManifestLoaderOptions o{std::move(dir)};
  o.on_problem = [what](const kop::local::ManifestProblem& p) {
    std::fprintf(stderr, "kop-local: %s: %s\n", what, p.to_string().c_str());
  };
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  kop::local::HttpFrontOptions fo;
  fo.listen = "127.0.0.1:6443";
  std::string crds, manifests, kubeconfig;
  bool token_set = false;
  bool insecure_http = false;
  kop::flags::FlagSet flags(
      "kop-local",
      "kop-local --listen HOST:PORT [--crds DIR] [--manifests DIR] [--write-kubeconfig FILE]\n"
      "                 [--insecure-http] [--token TOKEN]",
      "kop::local's in-memory API server over the Kubernetes REST API, for developing operators "
      "without a cluster. SIGINT/SIGTERM stop it.");
  flags.add_string("listen", "HOST:PORT", "where to serve (default 127.0.0.1:6443)", &fo.listen);
  flags.add_string("crds", "DIR", "CRD manifests to load, kept in step with the directory", &crds);
  flags.add_string("manifests", "DIR", "objects to load, kept in step with the directory",
                   &manifests);
  flags.add_string("write-kubeconfig", "FILE",
                   "write a kubeconfig naming the server, its CA and the token", &kubeconfig);
  flags.add_bool("insecure-http", "plain HTTP instead of HTTPS with a CA made at start",
                 &insecure_http);
  flags.add("token", "TOKEN",
            "the bearer token clients must send (default: a random one; --token= turns "
            "authentication off)",
            [&](std::string_view v) {
              fo.token.assign(v);
              token_set = true;
              return absl::OkStatus();
            });
  if (std::optional<int> exit = flags.run(argc, argv)) return *exit;
  if (insecure_http) fo.tls = false;
  if (!token_set) fo.token = random_token();
  auto store = std::make_shared<kop::local::Store>();
  std::unique_ptr<kop::local::ManifestLoader> crd_loader, manifest_loader;
  if (!crds.empty()) {
    crd_loader = std::make_unique<kop::local::ManifestLoader>(store, reporting(crds, "crds"));
    crd_loader->sync();
  }
  if (!manifests.empty()) {
    manifest_loader =
        std::make_unique<kop::local::ManifestLoader>(store, reporting(manifests, "manifests"));
    manifest_loader->sync();
  }
  kop::local::HttpFront front(store, fo);
  if (auto st = front.start(); !st.ok()) {
    std::fprintf(stderr, "kop-local: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (!kubeconfig.empty()) {
    std::ofstream out(kubeconfig, std::ios::trunc);
    out << front.kubeconfig();
    if (!out) {
      std::fprintf(stderr, "kop-local: cannot write %s\n", kubeconfig.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "kop-local: serving %s\n", front.url().c_str());
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (crd_loader) crd_loader->start();
  if (manifest_loader) manifest_loader->start();
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (manifest_loader) manifest_loader->stop();
  if (crd_loader) crd_loader->stop();
  front.stop();
  return 0;
}
