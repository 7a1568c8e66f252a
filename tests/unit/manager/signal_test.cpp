// Graceful shutdown of a real operator process on SIGTERM and SIGINT: the test serves a
// kop::local store over HTTP (HttpFront), starts manager-signal-child against it, and signals
// it. One signal: intake stops (an object created afterwards is never reconciled), the
// reconcile in flight finishes, the Lease is released (holder cleared, leaseDurationSeconds 1,
// renewTime at shutdown) and the process exits 0 within the graceful timeout. A second signal
// while draining: the process exits at once with status 1, leaving the Lease held.
#include <absl/strings/match.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "kop/api/views.h"
#include "kop/local/http_front.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"

extern char** environ;

namespace kop::manager {
namespace {

const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};

// The child process, its stdout and stderr collected by a reader thread.
class Child {
 public:
  Child(const std::string& kubeconfig, const std::string& mode) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    std::string path = KOP_SIGNAL_CHILD;
    char* argv[] = {path.data(), const_cast<char*>(kubeconfig.c_str()),
                    const_cast<char*>(mode.c_str()), nullptr};
    int rc = posix_spawn(&pid_, path.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    EXPECT_EQ(rc, 0) << "cannot start " << path;
    if (rc != 0) pid_ = -1;
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) {
        absl::MutexLock lock(&mu_);
        out_.append(buf, n);
      }
      close(fd);
    });
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    reader_.join();
  }
  void signal(int sig) { kill(pid_, sig); }
  std::string output() const {
    absl::MutexLock lock(&mu_);
    return out_;
  }
  bool wait_for(const std::string& text, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto has = [&] { return absl::StrContains(out_, text); };
    return mu_.AwaitWithTimeout(absl::Condition(&has), timeout);
  }
  // The wait status, or nullopt if still running after `timeout`.
  std::optional<int> wait_exit(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  mutable absl::Mutex mu_;
  std::string out_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

class SignalShutdown : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(front_.start().ok());
    char tmpl[] = "/tmp/kop-signal-test-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    kubeconfig_ = tmpl;
    std::ofstream(kubeconfig_) << front_.kubeconfig();
  }
  void TearDown() override { std::remove(kubeconfig_.c_str()); }

  void create_cm(const std::string& name) {
    api::Object o("v1", "ConfigMap");
    o.set_namespace("default");
    o.set_name(name);
    ASSERT_TRUE(local_.create(client::ResourceRef::of(kConfigMap, "default"), o).ok());
  }
  api::ObjectPtr lease() {
    auto got = local_.get({"coordination.k8s.io", "v1", "leases", {}, "default", "signal-test"});
    return got.ok() ? *got : nullptr;
  }

  std::shared_ptr<local::Store> store_ = std::make_shared<local::Store>();
  local::LocalClient local_{store_};
  // Plain HTTP: what is tested is the process's shutdown, not TLS (OpenSSL's allocations for a
  // TLS client are never freed by cpprest and would fail the child's leak check under ASan).
  local::HttpFront front_{store_, {.tls = false}};
  std::string kubeconfig_;
};

TEST_P(SignalShutdown, OneSignalStopsIntakeDrainsReleasesTheLeaseAndExitsZero) {
  const int sig = GetParam();
  create_cm("a");
  Child child(kubeconfig_, "drain");
  ASSERT_TRUE(child.wait_for("reconcile-start default/a", absl::Seconds(30))) << child.output();
  auto held = lease();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(api::LeaseView(*held).holder_identity(), "child");

  absl::Time signalled = absl::Now();
  child.signal(sig);
  // Shutdown began: the reconcile in flight sees ctx.stop.
  ASSERT_TRUE(child.wait_for("saw-stop default/a", absl::Seconds(5))) << child.output();
  // Intake is stopped: an object created now is never reconciled, though a worker is free.
  create_cm("late");
  auto status = child.wait_exit(absl::Seconds(15));
  ASSERT_TRUE(status.has_value()) << "still running: " << child.output();
  absl::Duration took = absl::Now() - signalled;
  ASSERT_TRUE(WIFEXITED(*status)) << child.output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << child.output();
  EXPECT_LT(took, absl::Seconds(10));  // within the graceful shutdown timeout
  // The reconcile in flight was drained (finished) before the process exited.
  std::string out = child.output();
  auto end = out.find("reconcile-end default/a");
  auto exit_line = out.find("exit OK");
  ASSERT_NE(end, std::string::npos) << out;
  ASSERT_NE(exit_line, std::string::npos) << out;
  EXPECT_LT(end, exit_line);
  EXPECT_FALSE(absl::StrContains(out, "reconcile-start default/late")) << out;
  // The Lease was released as controller-runtime's ReleaseOnCancel does.
  auto released = lease();
  ASSERT_NE(released, nullptr);
  api::LeaseView v(*released);
  EXPECT_EQ(v.holder_identity().value_or("?"), "");
  EXPECT_EQ(v.lease_duration_seconds(), 1);
  ASSERT_TRUE(v.renew_time().has_value());
  EXPECT_GE(*v.renew_time(), signalled - absl::Milliseconds(1));
}

TEST_P(SignalShutdown, ASecondSignalWhileDrainingExitsAtOnceWithStatusOne) {
  const int sig = GetParam();
  create_cm("a");
  Child child(kubeconfig_, "stuck");
  ASSERT_TRUE(child.wait_for("reconcile-start default/a", absl::Seconds(30))) << child.output();
  child.signal(sig);
  ASSERT_TRUE(child.wait_for("saw-stop default/a", absl::Seconds(5))) << child.output();
  // Draining (its reconcile ignores the stop and would run for a minute).
  EXPECT_FALSE(child.wait_exit(absl::Milliseconds(300)).has_value());
  absl::Time second = absl::Now();
  child.signal(sig);
  auto status = child.wait_exit(absl::Seconds(5));
  ASSERT_TRUE(status.has_value()) << "still running: " << child.output();
  EXPECT_LT(absl::Now() - second, absl::Seconds(2));
  ASSERT_TRUE(WIFEXITED(*status)) << child.output();
  EXPECT_EQ(WEXITSTATUS(*status), 1) << child.output();
  std::string out = child.output();
  EXPECT_FALSE(absl::StrContains(out, "reconcile-end")) << out;  // not drained
  EXPECT_FALSE(absl::StrContains(out, "exit OK")) << out;
  // Exited at once: nothing was released.
  auto l = lease();
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(api::LeaseView(*l).holder_identity(), "child");
}

INSTANTIATE_TEST_SUITE_P(Signals, SignalShutdown, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == SIGTERM ? "SIGTERM" : "SIGINT");
                         });

}  // namespace
}  // namespace kop::manager
