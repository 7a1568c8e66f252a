#include "kop/manager/manager.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "kop/log/log.h"

namespace kop::manager {
namespace {

// The self-pipe of run_until_signal: the handler only writes a byte (async-signal-safe).
int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signals{0};

extern "C" void on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(1);  // second signal: exit at once
  char c = 's';
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &c, 1);
}

}  // namespace

Manager::Manager(client::Client& client, ManagerOptions options)
    : client_(client),
      options_(std::move(options)),
      registry_(options_.registry != nullptr ? options_.registry : &metrics::default_registry()),
      cache_(client, options_.cache) {
  readyz_.push_back({"informer-sync", [this]() -> absl::Status {
                       if (!cache_.started()) return absl::UnavailableError("cache not started");
                       std::string missing;
                       for (const auto& s : cache_.states()) {
                         if (s.synced) continue;
                         if (!missing.empty()) missing += ", ";
                         missing += s.gvk.to_string();
                         if (!s.last_error.ok())
                           missing += " (" + std::string(s.last_error.message()) + ")";
                       }
                       if (!missing.empty())
                         return absl::UnavailableError("not synced: " + missing);
                       return absl::OkStatus();
                     }});
  healthz_.push_back({"ping", [] { return absl::OkStatus(); }});
}

Manager::~Manager() {
  stop().IgnoreError();
}

void Manager::add_controller(std::unique_ptr<controller::Controller> controller) {
  controllers_.push_back(std::move(controller));
}

void Manager::add_runnable(std::string name, std::function<absl::Status()> start,
                           std::function<absl::Status(absl::Duration)> stop, bool leader_only) {
  runnables_.push_back({std::move(name), std::move(start), std::move(stop), leader_only});
}

void Manager::add_healthz_check(std::string name, Check check) {
  healthz_.push_back({std::move(name), std::move(check)});
}
void Manager::add_readyz_check(std::string name, Check check) {
  readyz_.push_back({std::move(name), std::move(check)});
}

HttpResponse Manager::run_checks(const std::vector<std::pair<std::string, Check>>& checks,
                                 const std::string& target, std::string_view what) {
  bool verbose = target.find("verbose") != std::string::npos;
  bool ok = true;
  std::string lines;
  for (const auto& [name, check] : checks) {
    absl::Status s = check();
    if (s.ok()) {
      lines += "[+]" + name + " ok\n";
    } else {
      ok = false;
      lines += "[-]" + name + " failed: " + std::string(s.message()) + "\n";
    }
  }
  if (ok && !verbose) return {200, "text/plain; charset=utf-8", "ok"};
  lines += ok ? std::string(what) + " check passed\n" : std::string(what) + " check failed\n";
  return {ok ? 200 : 500, "text/plain; charset=utf-8", lines};
}

HttpResponse Manager::readyz(const std::string& target) const {
  return run_checks(readyz_, target, "readyz");
}
HttpResponse Manager::healthz(const std::string& target) const {
  return run_checks(healthz_, target, "healthz");
}

int Manager::metrics_port() const {
  return metrics_server_ ? metrics_server_->port() : 0;
}
int Manager::health_port() const {
  if (health_server_) return health_server_->port();
  return metrics_port();
}

bool Manager::is_leader() const {
  if (!options_.leader_election) return true;
  return elector_ != nullptr && elector_->is_leader();
}

absl::Status Manager::start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("manager already started");
    started_ = true;
  }
  auto serve_probes = [this](HttpServer& s) {
    s.handle("/healthz", [this](const std::string& t) { return healthz(t); });
    s.handle("/readyz", [this](const std::string& t) { return readyz(t); });
  };
  if (!options_.metrics_address.empty()) {
    metrics_server_ = std::make_unique<HttpServer>(options_.metrics_address);
    metrics_server_->handle("/metrics", [this](const std::string&) {
      return HttpResponse{200, std::string(metrics::kExpositionContentType), registry_->expose()};
    });
    if (options_.health_probe_address.empty()) serve_probes(*metrics_server_);
    if (auto s = metrics_server_->start(); !s.ok()) return s;
  }
  if (!options_.health_probe_address.empty()) {
    health_server_ = std::make_unique<HttpServer>(options_.health_probe_address);
    serve_probes(*health_server_);
    if (auto s = health_server_->start(); !s.ok()) return s;
  }
  // Informers of the controllers' sources are created when the controllers start; the cache
  // starts those immediately, and any created before now here.
  cache_.start();
  for (auto& r : runnables_) {
    if (r.leader_only) continue;
    if (auto s = r.start(); !s.ok())
      return absl::Status(s.code(), r.name + ": " + std::string(s.message()));
  }
  if (!options_.leader_election) {
    start_leader_work();
    return absl::OkStatus();
  }
  LeaderElectionOptions le = options_.leader_election_options;
  le.lease_name = options_.leader_election_id;
  le.lease_namespace = options_.leader_election_namespace;
  le.registry = registry_;
  le.campaign_after_loss = !options_.exit_on_lost_lease;
  LeaderCallbacks cb;
  cb.on_started_leading = [this] { start_leader_work(); };
  cb.on_stopped_leading = [this] {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;  // a clean shutdown, not a loss
    }
    auto log = log::named("manager");
    log.error("leader election lost: stopping leader-only work");
    // Another replica may lead soon: nothing is awaited (reconciles see ctx.stop).
    stop_leader_work(absl::ZeroDuration()).IgnoreError();
    if (!options_.exit_on_lost_lease) log.info("campaigning for the lease again");
    absl::MutexLock lock(&mu_);
    lease_lost_ = true;
    if (options_.exit_on_lost_lease) done_ = true;
  };
  elector_ = std::make_unique<LeaderElector>(client_, le, std::move(cb));
  return elector_->run();
}

void Manager::start_leader_work() {
  absl::MutexLock lock(&mu_);
  if (stopped_ || leader_work_running_) return;
  leader_work_running_ = true;
  for (auto& r : runnables_) {
    if (!r.leader_only) continue;
    if (auto s = r.start(); !s.ok()) {
      log::named("manager").error(s, "runnable failed to start", "runnable", r.name);
      if (error_.ok()) error_ = absl::Status(s.code(), r.name + ": " + std::string(s.message()));
      done_ = true;
    }
  }
  // A controller's start() waits for its cache to sync (and, in a new term, for the previous
  // term's reconciles to end): one thread each, so the elector's thread (and other
  // controllers) are not held up.
  for (auto& c : controllers_) {
    starters_.emplace_back([this, ctl = c.get()] {
      absl::Status s = ctl->start();
      // Cancelled: stopped while starting (shutdown, or the Lease lost meanwhile).
      if (!s.ok() && !absl::IsCancelled(s) && !absl::IsFailedPrecondition(s)) {
        log::named("manager").error(s, "controller failed to start", "controller", ctl->name());
        fail(s);
      }
    });
  }
}

void Manager::fail(absl::Status error) {
  absl::MutexLock lock(&mu_);
  if (error_.ok()) error_ = std::move(error);
  done_ = true;
}

absl::Status Manager::stop_leader_work(absl::Duration timeout) {
  std::vector<std::thread> starters;
  {
    absl::MutexLock lock(&mu_);
    if (!leader_work_running_) return absl::OkStatus();
    leader_work_running_ = false;
    starters.swap(starters_);
  }
  // Drain every controller at once, each within the same deadline.
  std::vector<absl::Status> results(controllers_.size());
  std::vector<std::thread> stoppers;
  for (size_t i = 0; i < controllers_.size(); ++i) {
    stoppers.emplace_back([&, i] { results[i] = controllers_[i]->stop(timeout); });
  }
  for (auto& t : stoppers) t.join();
  for (auto& t : starters) t.join();
  absl::Status out;
  for (auto& s : results) out.Update(s);
  for (auto& r : runnables_) {
    if (r.leader_only && r.stop) out.Update(r.stop(timeout));
  }
  return out;
}

absl::Status Manager::wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
  if (!error_.ok()) return error_;
  if (lease_lost_ && options_.exit_on_lost_lease) return absl::AbortedError("leader election lost");
  return absl::OkStatus();
}

absl::Status Manager::stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
  }
  auto log = log::named("manager");
  log.info("stopping: draining controllers", "timeout",
           absl::FormatDuration(options_.graceful_shutdown_timeout));
  absl::Status out = stop_leader_work(options_.graceful_shutdown_timeout);
  if (!out.ok()) log.error(out, "graceful shutdown timed out");
  if (elector_ != nullptr) elector_->stop();  // releases the Lease
  for (auto& r : runnables_) {
    if (!r.leader_only && r.stop) out.Update(r.stop(options_.graceful_shutdown_timeout));
  }
  cache_.stop();
  if (metrics_server_) metrics_server_->stop();
  if (health_server_) health_server_->stop();
  absl::MutexLock lock(&mu_);
  done_ = true;
  return out;
}

absl::Status Manager::run_until_signal() {
  if (g_signal_pipe[0] < 0) {
    if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  }
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (auto s = start(); !s.ok()) {
    stop().IgnoreError();
    return s;
  }
  while (true) {
    pollfd p{g_signal_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char c;
      [[maybe_unused]] ssize_t n = read(g_signal_pipe[0], &c, 1);
      log::named("manager").info("signal received: shutting down (a second signal exits at once)");
      break;
    }
    absl::MutexLock lock(&mu_);
    if (done_) break;
  }
  absl::Status ended;
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) {
      ended = error_;
    } else if (lease_lost_ && options_.exit_on_lost_lease) {
      ended = absl::AbortedError("leader election lost");
    }
  }
  absl::Status s = stop();
  if (!ended.ok()) return ended;
  return s;
}

}  // namespace kop::manager
