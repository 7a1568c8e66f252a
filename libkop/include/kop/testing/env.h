// kop/testing/env.h: an operator's test environment in one line (controller-runtime's envtest,
// without binaries: the API server is kop::local, in the test's process).
//
//   auto env = kop::testing::Env::start({.crd_files = {"crds/websites.yaml"}});
//   ASSERT_TRUE(env.ok()) << env.status();
//   auto& e = **env;
//   auto done = kop::controller::Builder(e.manager()).for_(kWebsite).complete(reconciler);
//   ASSERT_TRUE(e.run().ok());                        // starts the manager (controllers)
//   ASSERT_TRUE(e.apply(R"(
//     apiVersion: examples.kop.dev/v1alpha1
//     kind: Website
//     metadata: {name: blog}
//     spec: {content: hello})").ok());
//   KOP_ASSERT_OK(kop::testing::eventually("the ConfigMap exists", [&] {
//     return e.get(kConfigMap, "blog-content").status(); }));
//
// What it sets up:
//   - the API: a kop::local::Store (CRDs from crd_files / crds_yaml installed), reached in-process
//     (LocalClient, default) or over HTTPS through kop::local's HTTP front and a RestClient
//     (`http`), so the REST transport is exercised too;
//   - or, when KOP_TEST_KUBECONFIG names a kubeconfig (or `kubeconfig` is set), a real API server:
//     the same test runs against it unchanged (CRDs are applied and awaited until served);
//   - a fresh namespace "kop-test-XXXXXX" (namespace()); apply() puts namespaced objects without
//     a namespace there, and the manager's cache watches only it (unless options.manager.cache
//     names namespaces), so tests sharing a real server do not see each other;
//   - a Manager on a private metrics::Registry (registry()), not started until run();
//   - with `fake_clock`, a workqueue::FakeClock (clock()) that every controller built with
//     Builder(env.manager()) uses for its retry and requeue delays (the manager's
//     controller_clock; see docs/testing.md).
// stop() (and the destructor) stops the manager, then, on a real server, deletes the namespace
// and the CRDs the Env created.
//
// Faults: faults() is the store's fault injector (kop/local/faults.h) and store() the store
// itself; both are nullptr against a real server (a test that needs them skips there).
//
// Threading: start()/run()/stop() from the test's thread; the accessors and apply()/get() from
// any thread (the client is thread-safe).
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/gvk.h"
#include "kop/api/object.h"
#include "kop/client/client.h"
#include "kop/client/errors.h"
#include "kop/local/faults.h"
#include "kop/local/http_front.h"
#include "kop/local/store.h"
#include "kop/manager/manager.h"
#include "kop/metrics/registry.h"
#include "kop/workqueue/clock.h"

namespace kop::testing {

// The variable naming a kubeconfig to run the tests against a real API server.
inline constexpr const char* kKubeconfigVariable = "KOP_TEST_KUBECONFIG";

struct EnvOptions {
  // CRD manifest files (YAML, one or more documents) installed before start() returns.
  // Defaults to none.
  std::vector<std::string> crd_files = {};
  // More CRDs as YAML text. Defaults to "".
  std::string crds_yaml = {};
  // Reach kop::local over HTTPS (its HTTP front, a RestClient from the front's kubeconfig)
  // instead of in-process. Defaults to false. Ignored against a real server.
  bool http = false;
  // A kubeconfig file of a real API server. Defaults to "" = $KOP_TEST_KUBECONFIG, and when that
  // is unset too, kop::local.
  std::string kubeconfig = {};
  // The manager's options. `registry` is replaced by the Env's private registry; the cache's
  // namespaces default to namespace(). Defaults to a manager without endpoints or election.
  manager::ManagerOptions manager = {};
  // Make clock() a FakeClock. Defaults to false (clock() is then the real clock).
  bool fake_clock = false;
  // The field manager of apply(). Defaults to "kop-testing".
  std::string field_manager = "kop-testing";
};

class Env {
 public:
  static absl::StatusOr<std::unique_ptr<Env>> start(EnvOptions options = {});
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // Starts the manager (after the controllers were added). Returns once it runs; the
  // controllers start when their caches have synced.
  absl::Status run();
  // Stops the manager and removes what the Env created on a real server. Idempotent.
  absl::Status stop();

  client::Client& client() { return *client_; }
  manager::Manager& manager() { return *manager_; }
  metrics::Registry& registry() { return registry_; }
  // The test namespace (created by start()).
  const std::string& namespace_() const { return namespace_name_; }
  // Whether this runs against a real API server (KOP_TEST_KUBECONFIG).
  bool real_server() const { return store_ == nullptr; }
  // kop::local's store and fault injector; nullptr against a real server.
  local::Store* store() { return store_.get(); }
  local::Faults* faults();
  // The controllers' clock: a FakeClock with `fake_clock`, else the real clock.
  workqueue::Clock& clock();
  // The FakeClock; nullptr without `fake_clock`.
  workqueue::FakeClock* fake_clock() { return fake_clock_.get(); }

  // Server-side applies every object of `yaml` (field manager options.field_manager, forced),
  // namespaced ones without a namespace into namespace(). Returns them as stored, in order; stops
  // at the first error, which names the object.
  absl::StatusOr<std::vector<api::ObjectPtr>> apply(std::string_view yaml);
  // The object as stored now (not from the cache), in namespace() or in `ns`; cluster_get() for
  // a cluster-scoped kind.
  absl::StatusOr<api::ObjectPtr> get(const api::GroupVersionKind& gvk, std::string_view name);
  absl::StatusOr<api::ObjectPtr> get(const api::GroupVersionKind& gvk, std::string_view ns,
                                     std::string_view name);
  absl::StatusOr<api::ObjectPtr> cluster_get(const api::GroupVersionKind& gvk,
                                             std::string_view name);
  // Deletes the object (background propagation); NotFound counts as done.
  absl::Status remove(const api::GroupVersionKind& gvk, std::string_view name);
  // The objects of a kind in namespace() (label_selector as kubectl -l).
  absl::StatusOr<std::vector<api::ObjectPtr>> list(const api::GroupVersionKind& gvk,
                                                   std::string_view label_selector = {});

 private:
  explicit Env(EnvOptions options);
  absl::Status set_up();
  absl::Status install_crds();
  absl::Status install_crd(const api::Object& crd);

  EnvOptions options_;
  std::shared_ptr<local::Store> store_;
  std::unique_ptr<local::HttpFront> front_;  // with `http`
  std::shared_ptr<client::Client> client_;
  metrics::Registry registry_;
  std::unique_ptr<workqueue::FakeClock> fake_clock_;
  std::unique_ptr<manager::Manager> manager_;
  std::string namespace_name_;
  std::vector<api::ObjectPtr> created_crds_;  // on a real server: deleted by stop()
  bool stopped_ = false;
};

}  // namespace kop::testing
