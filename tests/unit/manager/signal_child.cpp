// manager-signal-child: the operator process that manager-signal-test starts and signals.
//
//   manager-signal-child KUBECONFIG drain|stuck
//
// Runs a Manager (leader election on Lease default/signal-test, identity "child") against the
// API server of the kubeconfig (the test's kop::local HTTP front), with a ConfigMap controller
// of two workers whose reconcile takes a while: 1.5 s ("drain", noticing ctx.stop but finishing
// its work) or 60 s ("stuck", ignoring it). It reports on stdout, one line each:
//   reconcile-start NS/NAME, saw-stop NS/NAME, reconcile-end NS/NAME, exit STATUS.
// Exit code: 0 when run_until_signal() returned OK, else 1.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "kop/client/config.h"
#include "kop/client/rest_client.h"
#include "kop/controller/builder.h"
#include "kop/manager/manager.h"

namespace {

void say(const std::string& line) {
  std::string l = line + "\n";
  [[maybe_unused]] ssize_t n = write(STDOUT_FILENO, l.data(), l.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: manager-signal-child KUBECONFIG drain|stuck\n");
    return 2;
  }
  const std::string mode = argv[2];
  const auto work =
      mode == "stuck" ? std::chrono::milliseconds(60'000) : std::chrono::milliseconds(1'500);
  kop::client::KubeconfigOptions ko;
  ko.paths = {argv[1]};
  auto config = kop::client::load_kubeconfig(ko);
  if (!config.ok()) {
    say("exit " + config.status().ToString());
    return 1;
  }
  config->qps = 0;
  auto rest = kop::client::RestClient::create(*config);
  if (!rest.ok()) {
    say("exit " + rest.status().ToString());
    return 1;
  }
  kop::manager::ManagerOptions o{.leader_election = true, .leader_election_id = "signal-test"};
  o.leader_election_options.identity = "child";
  o.graceful_shutdown_timeout = absl::Seconds(10);
  kop::manager::Manager mgr(**rest, o);
  kop::controller::ControllerOptions co{.name = "slow-cm", .max_concurrent_reconciles = 2};
  co.registry = &mgr.registry();
  auto c =
      kop::controller::Builder(mgr.cache())
          .for_({"", "v1", "ConfigMap"})
          .with_options(co)
          .build(std::make_shared<kop::controller::ReconcilerFunc>(
              [work](const kop::controller::Context& ctx,
                     const kop::controller::Request& r) -> absl::StatusOr<kop::controller::Result> {
                say("reconcile-start " + r.key());
                auto end = std::chrono::steady_clock::now() + work;
                bool saw = false;
                while (std::chrono::steady_clock::now() < end) {
                  if (!saw && ctx.stopping()) {
                    saw = true;
                    say("saw-stop " + r.key());
                  }
                  std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                say("reconcile-end " + r.key());
                return kop::controller::Result{};
              }));
  if (!c.ok()) {
    say("exit " + c.status().ToString());
    return 1;
  }
  mgr.add_controller(std::move(*c));
  absl::Status s = mgr.run_until_signal();
  say("exit " + s.ToString());
  return s.ok() ? 0 : 1;
}
