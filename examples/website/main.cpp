// website-operator: reconciles Websites (examples.kop.dev/v1alpha1) into a ConfigMap, a
// Deployment and a Service. See website_reconciler.h and docs/getting-started.md.
//
//   website-operator [--kubeconfig FILE] [--namespace NS] [--metrics-addr HOST:PORT]
//                    [--leader-elect] [--leader-election-namespace NS]
#include <kop/client/config.h>
#include <kop/client/rest_client.h>
#include <kop/log/log.h>
#include <kop/manager/manager.h>
#include <kop/record/recorder.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "website_reconciler.h"

namespace {

void usage() {
  std::fprintf(
      stderr,
      "usage: website-operator [--kubeconfig FILE] [--namespace NS (default: all)]\n"
      "                        [--metrics-addr HOST:PORT (default 127.0.0.1:8080, \"0\" = off)]\n"
      "                        [--leader-elect] [--leader-election-namespace NS (default: "
      "default)]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, ns, metrics_addr = "127.0.0.1:8080", le_ns = "default";
  bool leader_elect = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        out = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a.rfind("--kubeconfig", 0) == 0)
      ok = value(kubeconfig);
    else if (a.rfind("--namespace", 0) == 0)
      ok = value(ns);
    else if (a.rfind("--metrics-addr", 0) == 0)
      ok = value(metrics_addr);
    else if (a.rfind("--leader-election-namespace", 0) == 0)
      ok = value(le_ns);
    else if (a == "--leader-elect" || a == "--leader-elect=true")
      leader_elect = true;
    else if (a == "--leader-elect=false")
      leader_elect = false;
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else
      ok = false;
    if (!ok) {
      usage();
      return 2;
    }
  }
  auto log = kop::log::named("website-operator");

  kop::client::KubeconfigOptions ko;
  if (!kubeconfig.empty()) ko.paths = {kubeconfig};
  auto config =
      kubeconfig.empty() ? kop::client::load_default_config() : kop::client::load_kubeconfig(ko);
  if (!config.ok()) {
    log.error(config.status(), "loading the client configuration");
    return 1;
  }
  // controller-runtime's client defaults (client-go's 5 QPS is too slow for an operator).
  config->qps = 20;
  config->burst = 30;
  auto client = kop::client::RestClient::create(*config);
  if (!client.ok()) {
    log.error(client.status(), "creating the REST client");
    return 1;
  }

  kop::manager::ManagerOptions mo;
  mo.leader_election = leader_elect;
  mo.leader_election_id = "website-operator.examples.kop.dev";
  mo.leader_election_namespace = le_ns;
  if (metrics_addr != "0") mo.metrics_address = metrics_addr;
  if (!ns.empty()) mo.cache.default_namespaces = {ns};
  kop::manager::Manager mgr(**client, mo);

  kop::record::Recorder events(**client, {.component = "website-operator"});
  auto reconciler = std::make_shared<website::WebsiteReconciler>(**client, mgr.cache(), events);
  if (auto s = website::add_controller(mgr, reconciler); !s.ok()) {
    log.error(s, "building the controller");
    return 1;
  }
  log.info("starting", "namespace", ns.empty() ? "(all)" : ns, "metrics", metrics_addr,
           "leader_elect", leader_elect);
  absl::Status s = mgr.run_until_signal();
  if (!s.ok()) {
    log.error(s, "manager stopped");
    return 1;
  }
  return 0;
}
