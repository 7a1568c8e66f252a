// website-operator: reconciles Websites (examples.kop.dev/v1alpha1) into a ConfigMap, a
// Deployment and a Service. See website_reconciler.h and docs/getting-started.md.
//
//   website-operator [--kubeconfig FILE] [--namespace NS] [--metrics-addr HOST:PORT]
//                    [--leader-elect] [--leader-election-namespace NS]
#include <kop/client/config.h>
#include <kop/client/rest_client.h>
#include <kop/flags/flags.h>
#include <kop/log/log.h>
#include <kop/manager/manager.h>
#include <kop/record/recorder.h>

#include <optional>
#include <string>

#include "website_reconciler.h"

int main(int argc, char** argv) {
  std::string kubeconfig, ns, metrics_addr = "127.0.0.1:8080", le_ns = "default";
  bool leader_elect = false;
  kop::flags::FlagSet flags(
      "website-operator",
      "website-operator [--kubeconfig FILE] [--namespace NS] [--metrics-addr HOST:PORT]\n"
      "                        [--leader-elect] [--leader-election-namespace NS]",
      "Reconciles Websites (examples.kop.dev/v1alpha1) into a ConfigMap, a Deployment and a "
      "Service.");
  flags.add_string("kubeconfig", "FILE",
                   "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
                   &kubeconfig);
  flags.add_string("namespace", "NS", "watch only this namespace (default: all)", &ns);
  flags.add_string("metrics-addr", "HOST:PORT", "/metrics (default 127.0.0.1:8080; \"0\": off)",
                   &metrics_addr);
  flags.add_bool("leader-elect", "only the Lease holder reconciles (default false)", &leader_elect);
  flags.add_string("leader-election-namespace", "NS", "namespace of the Lease (default default)",
                   &le_ns);
  if (std::optional<int> exit = flags.run(argc, argv)) return *exit;
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
