#include "kop/webhook/self_managed.h"

#include <absl/strings/escaping.h>

#include "kop/certs/cert_authority.h"
#include "kop/client/errors.h"
#include "kop/log/log.h"
#include "kop/manager/manager.h"
#include "text.h"

namespace kop::webhook {

namespace {

const log::Logger& logger() {
  static const log::Logger l = log::named("webhook.certificates");
  return l;
}

const api::GroupVersionKind kSecret{"", "v1", "Secret"};
const api::GroupVersionKind kValidating{"admissionregistration.k8s.io", "v1",
                                        "ValidatingWebhookConfiguration"};
const api::GroupVersionKind kMutating{"admissionregistration.k8s.io", "v1",
                                      "MutatingWebhookConfiguration"};
const api::GroupVersionKind kCrd{"apiextensions.k8s.io", "v1", "CustomResourceDefinition"};

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";

// What the Secret holds (decoded); "" for a key that is absent or not base64.
struct Stored {
  std::string tls_crt, tls_key, ca_crt, ca_key;
};

std::string data_of(const Object& secret, std::string_view key) {
  auto b64 = secret.get_string(detail::cat("/data/", key));
  std::string out;
  if (!b64 || !absl::Base64Unescape(absl::string_view(b64->data(), b64->size()), &out)) return {};
  return out;
}

// The PEM certificates of a bundle, in order.
std::vector<std::string> split_bundle(std::string_view bundle) {
  std::vector<std::string> out;
  size_t at = bundle.find(kBegin);
  while (at != std::string_view::npos) {
    size_t next = bundle.find(kBegin, at + kBegin.size());
    out.emplace_back(bundle.substr(at, next == std::string_view::npos ? next : next - at));
    at = next;
  }
  return out;
}

}  // namespace

std::vector<std::string> service_dns_names(std::string_view service, std::string_view ns) {
  std::string s(service);
  return {s, detail::cat(s, ".", ns), detail::cat(s, ".", ns, ".svc"),
          detail::cat(s, ".", ns, ".svc.cluster.local")};
}

SelfManagedCertificates::SelfManagedCertificates(client::Client& client, SelfManagedOptions options)
    : client_(client), options_(std::move(options)) {}

SelfManagedCertificates::~SelfManagedCertificates() {
  stop();
}

absl::Time SelfManagedCertificates::now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

absl::StatusOr<std::shared_ptr<const Certificate>> SelfManagedCertificates::current() {
  absl::MutexLock lock(&mu_);
  if (current_) return current_;
  return status_.ok() ? absl::UnavailableError("no certificate yet") : status_;
}

absl::Status SelfManagedCertificates::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Status SelfManagedCertificates::sync_secret() {
  const auto ref =
      client::ResourceRef::of(kSecret, options_.secret_namespace, options_.secret_name);
  auto got = client_.get(ref);
  if (!got.ok() && !client::is_not_found(got.status())) return got.status();
  std::optional<Object> secret;
  Stored s;
  if (got.ok()) {
    secret = **got;
    s = {data_of(*secret, "tls.crt"), data_of(*secret, "tls.key"), data_of(*secret, "ca.crt"),
         data_of(*secret, "ca.key")};
  }
  const absl::Time t = now();
  std::vector<std::string> cas = split_bundle(s.ca_crt);
  absl::Time ca_expiry = absl::InfinitePast();
  bool ca_ok = !cas.empty() && check_key_pair(cas.front(), s.ca_key, &ca_expiry).ok() &&
               ca_expiry - t > options_.ca_renew_before;
  bool ca_rotated = false;
  if (!ca_ok) {
    auto ca = certs::create_ca(options_.ca_name, options_.ca_validity);
    if (!ca.ok()) return ca.status();
    // The old CA stays in the bundle while it is valid: what it signed is still being served.
    std::vector<std::string> bundle{ca->cert_pem};
    if (!cas.empty() && ca_expiry > t) bundle.push_back(cas.front());
    for (size_t i = 1; i < cas.size(); ++i) {
      auto expiry = certificate_expiry(cas[i]);
      if (expiry.ok() && *expiry > t && bundle.size() < 3) bundle.push_back(cas[i]);
    }
    s.ca_crt.clear();
    for (const auto& pem : bundle) s.ca_crt += pem;
    s.ca_key = std::move(ca->key_pem);
    cas = split_bundle(s.ca_crt);
    ca_rotated = true;
    logger().info("webhook CA created", "secret", ref.to_string(), "replaced", secret.has_value());
  }
  absl::Time expiry = absl::InfinitePast();
  bool pair_ok =
      check_key_pair(s.tls_crt, s.tls_key, &expiry).ok() && expiry - t > options_.renew_before;
  // Right after a CA rotation the old serving certificate stays (the caBundles do not have the
  // new CA yet); it is reissued under the new CA on the next pass.
  bool tls_ok = pair_ok &&
                (ca_rotated ? cas.size() > 1 &&
                                  certs::check_serving_certificate(
                                      s.tls_crt, cas[1], options_.dns_names, options_.ip_addresses)
                                      .ok()
                            : certs::check_serving_certificate(
                                  s.tls_crt, cas.front(), options_.dns_names, options_.ip_addresses)
                                  .ok());
  if (!tls_ok) {
    auto cert = certs::create_serving_certificate({cas.front(), s.ca_key}, options_.dns_names,
                                                  options_.ip_addresses, options_.validity);
    if (!cert.ok()) return cert.status();
    s.tls_crt = std::move(cert->cert_pem);
    s.tls_key = std::move(cert->key_pem);
    logger().info("webhook serving certificate issued", "secret", ref.to_string());
  }
  if (!ca_rotated && tls_ok) {
    // Adopt what is stored.
  } else {
    Object out = secret ? *secret : Object(kSecret);
    if (!secret) {
      out.set_name(options_.secret_name);
      out.set_namespace(options_.secret_namespace);
      out.set_label("app.kubernetes.io/managed-by", "kop-webhook");
      (void)out.set_string("/type", "kubernetes.io/tls");
    }
    for (auto [key, value] : {std::pair{"tls.crt", &s.tls_crt}, std::pair{"tls.key", &s.tls_key},
                              std::pair{"ca.crt", &s.ca_crt}, std::pair{"ca.key", &s.ca_key}}) {
      if (absl::Status st = out.set_string(detail::cat("/data/", key), absl::Base64Escape(*value));
          !st.ok()) {
        return st;
      }
    }
    // The resourceVersion read is in `out`: a concurrent writer makes this a Conflict.
    auto written = secret ? client_.update(ref, out) : client_.create(ref.named(""), out);
    if (!written.ok()) return written.status();
  }
  absl::Time not_after = absl::InfinitePast();
  (void)check_key_pair(s.tls_crt, s.tls_key, &not_after);
  absl::MutexLock lock(&mu_);
  if (current_ && current_->cert_pem == s.tls_crt && current_->key_pem == s.tls_key &&
      current_->ca_pem == s.ca_crt) {
    return absl::OkStatus();
  }
  auto next = std::make_shared<Certificate>();
  next->cert_pem = std::move(s.tls_crt);
  next->key_pem = std::move(s.tls_key);
  next->ca_pem = std::move(s.ca_crt);
  next->not_after = not_after;
  next->generation = current_ ? current_->generation + 1 : 1;
  current_ = std::move(next);
  return absl::OkStatus();
}

std::vector<SelfManagedCertificates::Target> SelfManagedCertificates::targets() const {
  std::vector<Target> out;
  auto each = [&](const std::vector<std::string>& names, const api::GroupVersionKind& gvk,
                  bool crd) {
    for (const auto& name : names) out.push_back({client::ResourceRef::of(gvk, "", name), crd});
  };
  each(options_.validating_webhook_configurations, kValidating, false);
  each(options_.mutating_webhook_configurations, kMutating, false);
  each(options_.conversion_crds, kCrd, true);
  return out;
}

bool SelfManagedCertificates::lacks_bundle(const Object& obj, bool crd) const {
  std::string bundle;
  {
    absl::MutexLock lock(&mu_);
    // Before the first pass: that pass (or the one after it) writes it.
    if (current_ == nullptr) return true;
    bundle = absl::Base64Escape(current_->ca_pem);
  }
  if (crd) {
    return obj.get_string("/spec/conversion/webhook/clientConfig/caBundle") !=
           std::string_view(bundle);
  }
  const auto* hooks = obj.at("/webhooks");
  size_t n = hooks != nullptr && hooks->IsArray() ? hooks->Size() : 0;
  for (size_t i = 0; i < n; ++i) {
    if (obj.get_string(detail::cat("/webhooks/", i, "/clientConfig/caBundle")) !=
        std::string_view(bundle)) {
      return true;
    }
  }
  return false;
}

absl::Status SelfManagedCertificates::inject(const Target& target, const std::string& bundle_b64) {
  const client::ResourceRef& ref = target.ref;
  const bool crd = target.crd;
  auto got = client_.get(ref);
  if (client::is_not_found(got.status())) {
    logger().debug("caBundle target not found (yet)", "object", ref.to_string());
    return absl::OkStatus();
  }
  if (!got.ok()) return got.status();
  Object out(**got);
  bool changed = false;
  auto set_bundle = [&](const std::string& pointer) -> absl::Status {
    if (out.get_string(pointer) == std::string_view(bundle_b64)) return absl::OkStatus();
    changed = true;
    return out.set_string(pointer, bundle_b64);
  };
  if (crd) {
    if (out.get_string("/spec/conversion/strategy") != "Webhook") {
      return absl::FailedPreconditionError(
          detail::cat(ref.to_string(), ": spec.conversion.strategy is not Webhook"));
    }
    if (absl::Status st = set_bundle("/spec/conversion/webhook/clientConfig/caBundle"); !st.ok()) {
      return st;
    }
  } else {
    const auto* hooks = out.at("/webhooks");
    size_t n = hooks != nullptr && hooks->IsArray() ? hooks->Size() : 0;
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status st = set_bundle(detail::cat("/webhooks/", i, "/clientConfig/caBundle"));
          !st.ok()) {
        return st;
      }
    }
  }
  if (!changed) return absl::OkStatus();
  auto written = client_.update(ref, out);
  if (!written.ok()) return written.status();
  logger().info("caBundle updated", "object", ref.to_string());
  return absl::OkStatus();
}

absl::Status SelfManagedCertificates::sync() {
  absl::Status st;
  // Of replicas racing on the Secret, the losers read what the winner wrote and adopt it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    st = sync_secret();
    if (!client::is_conflict(st) && !client::is_already_exists(st)) break;
  }
  if (st.ok()) {
    std::string bundle;
    {
      absl::MutexLock lock(&mu_);
      bundle = absl::Base64Escape(current_->ca_pem);
    }
    for (const Target& target : targets()) {
      absl::Status one = inject(target, bundle);
      if (st.ok() && !one.ok()) st = one;
    }
  }
  absl::MutexLock lock(&mu_);
  status_ = st;
  return st;
}

bool SelfManagedCertificates::wait(absl::Duration timeout, bool kick) {
  absl::MutexLock lock(&loop_mu_);
  auto woken = [this, kick]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop_mu_) {
    return stopping_ || (kick && kicked_);
  };
  loop_mu_.AwaitWithTimeout(absl::Condition(&woken), timeout);
  if (stopping_) return true;
  if (kick) kicked_ = false;
  return false;
}

// One target's watch, by name, for as long as the loop runs. An ADDED or MODIFIED state without
// the current caBundle kicks the loop into a pass. A watch that ends (the server's timeout, an
// error, a refusal) is opened again after retry_interval; it starts with the current state, so
// nothing written in between is missed.
void SelfManagedCertificates::watch(const Target& target) {
  bool warned = false;
  do {
    auto stream = client_.watch(target.ref);
    if (!stream.ok()) {
      if (!warned) {
        logger().warn("cannot watch a caBundle target: it is kept every refresh interval only",
                      "object", target.ref.to_string(), "error", stream.status());
        warned = true;
      }
      continue;
    }
    {
      absl::MutexLock lock(&loop_mu_);
      if (stopping_) return;
      streams_.push_back(stream->get());
    }
    while (true) {
      auto event = (*stream)->next();
      if (!event.ok() || !event->has_value()) break;
      const client::WatchEvent& e = **event;
      if (e.type == client::WatchEvent::Type::kError) {
        if (!warned && !client::is_gone(e.error)) {
          logger().warn("cannot watch a caBundle target: it is kept every refresh interval only",
                        "object", target.ref.to_string(), "error", e.error);
          warned = true;
        }
        break;
      }
      if ((e.type == client::WatchEvent::Type::kAdded ||
           e.type == client::WatchEvent::Type::kModified) &&
          e.object != nullptr && lacks_bundle(*e.object, target.crd)) {
        logger().debug("caBundle target changed", "object", target.ref.to_string());
        absl::MutexLock lock(&loop_mu_);
        kicked_ = true;
      }
    }
    absl::MutexLock lock(&loop_mu_);
    std::erase(streams_, stream->get());
  } while (!wait(options_.retry_interval, /*kick=*/false));
}

void SelfManagedCertificates::start() {
  if (loop_.joinable()) return;
  {
    absl::MutexLock lock(&loop_mu_);
    stopping_ = false;
    kicked_ = false;
  }
  loop_ = std::thread([this] {
    do {
      absl::Status st = sync();
      if (!st.ok()) logger().error(st, "webhook certificates");
      if (wait(st.ok() ? options_.refresh_interval : options_.retry_interval, /*kick=*/true)) {
        return;
      }
    } while (true);
  });
  for (const Target& target : targets()) {
    watchers_.emplace_back([this, target] { watch(target); });
  }
}

void SelfManagedCertificates::stop() {
  if (!loop_.joinable()) return;
  {
    absl::MutexLock lock(&loop_mu_);
    stopping_ = true;
    for (client::WatchStream* stream : streams_) stream->cancel();
  }
  loop_.join();
  for (auto& t : watchers_) t.join();
  watchers_.clear();
}

void SelfManagedCertificates::add_to(manager::Manager& manager) {
  manager.add_runnable(
      "webhook-certificates",
      [this] {
        start();
        return absl::OkStatus();
      },
      [this](absl::Duration) {
        stop();
        return absl::OkStatus();
      },
      /*leader_only=*/false);
  manager.add_readyz_check("webhook-certificates", [this] { return status(); });
}

}  // namespace kop::webhook
