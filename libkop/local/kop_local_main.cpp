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
#include <random>
#include <string>
#include <thread>

#include "kop/local/http_front.h"
#include "kop/local/manifest_loader.h"
#include "kop/local/store.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

void usage() {
  std::fprintf(stderr,
               "usage: kop-local --listen HOST:PORT [--crds DIR] [--manifests DIR] "
               "[--write-kubeconfig FILE]\n"
               "                 [--insecure-http] [--token TOKEN]\n");
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
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) -> std::string {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      if (i + 1 < argc) return argv[++i];
      std::fprintf(stderr, "kop-local: %s needs a value\n", name.c_str());
      std::exit(2);
    };
    auto is = [&](const std::string& name) { return a == name || a.rfind(name + "=", 0) == 0; };
    if (is("--listen")) {
      fo.listen = value("--listen");
    } else if (is("--crds")) {
      crds = value("--crds");
    } else if (is("--manifests")) {
      manifests = value("--manifests");
    } else if (is("--write-kubeconfig")) {
      kubeconfig = value("--write-kubeconfig");
    } else if (a == "--insecure-http") {
      fo.tls = false;
    } else if (is("--token")) {
      fo.token = value("--token");
      token_set = true;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "kop-local: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
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
