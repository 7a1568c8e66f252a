// kop/webhook/self_managed.h: certificates the operator manages itself — no cert-manager.
//
//   auto certs = std::make_shared<kop::webhook::SelfManagedCertificates>(client,
//       kop::webhook::SelfManagedOptions{
//           .secret_namespace = "website-system", .secret_name = "website-webhook-certs",
//           .dns_names = kop::webhook::service_dns_names("website-webhook", "website-system"),
//           .validating_webhook_configurations = {"website-validation"}});
//   certs->add_to(manager);                                 // before the server
//   kop::webhook::Server server({.certificates = certs});
//   server.add_to(manager);
//
// What it does, on every replica, at start and every refresh_interval:
//   1. The Secret (type kubernetes.io/tls: tls.crt, tls.key, ca.crt, ca.key) is created when
//      missing, else adopted: replicas share one CA and one serving certificate. Writes carry
//      the resourceVersion read (optimistic concurrency): of two replicas racing, one writes and
//      the other reads what it wrote (AlreadyExists / Conflict → read again and adopt).
//   2. A new serving certificate is issued when the one stored is missing, unreadable, not
//      signed by the CA, lacks a requested name, or expires within renew_before.
//   3. The CA is replaced when it expires within ca_renew_before: the new CA goes into ca.crt
//      first, the old one stays after it until it expires, and the serving certificate signed
//      by the old CA is kept until the next pass, so every caBundle written in between accepts
//      the certificate served.
//   4. The caBundle (ca.crt) is written into every webhook of the named
//      ValidatingWebhookConfigurations and MutatingWebhookConfigurations and into
//      spec.conversion.webhook.clientConfig of the named CRDs, when it differs (with the
//      resourceVersion read). Each named object is watched (by name: RBAC `watch` with
//      resourceNames is enough): one created after the start, or written back without the
//      caBundle (kubectl replace, a Helm upgrade), gets a pass at once. A watch the server
//      refuses is logged once, and the object is then kept only at every refresh_interval.
// The certificate served is the Secret's, so after a rotation by any replica every replica
// serves the new one after its next pass. Errors are retried every retry_interval and shown by
// status() (the readyz check "webhook-certificates"). Key material is never logged.
//
// Threads: current() and status() from any thread; sync() from one thread at a time (the loop
// add_to() starts, or a test). start() adds one thread for the passes and one per named
// object for its watch; stop() ends them all.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kop/client/client.h"
#include "kop/webhook/certificates.h"

namespace kop::manager {
class Manager;
}

namespace kop::webhook {

struct SelfManagedOptions {
  // The Secret holding the CA and serving certificate. Both required.
  std::string secret_namespace{};
  std::string secret_name{};
  // Names the API server reaches the webhook by: the Service's DNS names
  // (service_dns_names()) and/or, for a clientConfig.url, its host. At least one in all.
  std::vector<std::string> dns_names{};
  std::vector<std::string> ip_addresses{};
  // Objects whose caBundle is kept equal to the CA. Defaults to none.
  std::vector<std::string> validating_webhook_configurations{};
  std::vector<std::string> mutating_webhook_configurations{};
  std::vector<std::string> conversion_crds{};  // CRD names, e.g. "websites.example.com"
  // The CA's common name. Defaults to "kop-webhook-ca".
  std::string ca_name = "kop-webhook-ca";
  // Lifetimes and how long before expiry a replacement is made. Defaults: CA 10 years, renewed
  // 1 year before; serving certificate 1 year, renewed 90 days before.
  absl::Duration ca_validity = absl::Hours(24 * 3650);
  absl::Duration ca_renew_before = absl::Hours(24 * 365);
  absl::Duration validity = absl::Hours(24 * 365);
  absl::Duration renew_before = absl::Hours(24 * 90);
  // How often the loop checks the Secret and caBundles. Defaults to 10 minutes; after an error,
  // retry_interval (defaults to 5 s).
  absl::Duration refresh_interval = absl::Minutes(10);
  absl::Duration retry_interval = absl::Seconds(5);
  // The time, for expiry decisions. Defaults to (empty means) absl::Now.
  std::function<absl::Time()> clock{};
};

// "svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local": what the API server may use for a
// clientConfig.service (it uses svc.ns.svc).
std::vector<std::string> service_dns_names(std::string_view service, std::string_view ns);

class SelfManagedCertificates : public CertificateSource {
 public:
  SelfManagedCertificates(client::Client& client, SelfManagedOptions options);
  ~SelfManagedCertificates() override;  // stop()
  SelfManagedCertificates(const SelfManagedCertificates&) = delete;
  SelfManagedCertificates& operator=(const SelfManagedCertificates&) = delete;

  absl::StatusOr<std::shared_ptr<const Certificate>> current() override;

  // One pass: the Secret (create, adopt, renew), then the caBundles. Returns the first error.
  absl::Status sync();
  // The last pass's outcome (Unavailable before the first).
  absl::Status status() const;

  // Runs the loop on every replica (an all-replica runnable, started before runnables added
  // after it) and adds the readyz check "webhook-certificates".
  void add_to(manager::Manager& manager);
  void start();
  void stop();

 private:
  struct Target {
    client::ResourceRef ref;
    bool crd = false;
  };
  std::vector<Target> targets() const;
  absl::Status sync_secret();
  absl::Status inject(const Target& target, const std::string& bundle_b64);
  absl::Time now() const;
  // Whether `obj` (a target's current state) lacks the current CA in a caBundle.
  bool lacks_bundle(const Object& obj, bool crd) const;
  void watch(const Target& target);
  // Waits up to `timeout` for stop() (true) or, with `kick` set, for a kick (false).
  bool wait(absl::Duration timeout, bool kick);

  client::Client& client_;
  SelfManagedOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Certificate> current_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_) = absl::UnavailableError("certificates not synced yet");

  // The loop's wake-ups: stop(), or a watch seeing a target without the caBundle.
  absl::Mutex loop_mu_;
  bool stopping_ ABSL_GUARDED_BY(loop_mu_) = false;
  bool kicked_ ABSL_GUARDED_BY(loop_mu_) = false;
  // The open watches, for stop() to cancel.
  std::vector<client::WatchStream*> streams_ ABSL_GUARDED_BY(loop_mu_);
  std::thread loop_;
  std::vector<std::thread> watchers_;
};

}  // namespace kop::webhook
