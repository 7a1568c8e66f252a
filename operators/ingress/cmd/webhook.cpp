#include "webhook.h"

#include <arpa/inet.h>

#include <utility>
#include <vector>

#include <absl/strings/str_split.h>
#include "../admission/validator.h"
#include "kop/webhook/self_managed.h"

namespace kop::ingress {
namespace {

bool is_ip(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Webhook>> add_webhook(const WebhookFlags& flags,
                                                     const std::string& ns, client::Client& client,
                                                     manager::Manager& manager,
                                                     const ControllerOptions& options) {
  auto out = std::make_unique<Webhook>();
  if (!flags.cert_dir.empty()) {
    if (!flags.configuration.empty())
      return absl::InvalidArgumentError(
          "--webhook-configuration: the caBundle is kept only with self-managed certificates "
          "(with --webhook-cert-dir, cert-manager's CA injector keeps it)");
    auto files = std::make_shared<webhook::FileCertificates>(flags.cert_dir);
    // Said here with the flag's name; the server would refuse to start without them anyway.
    if (auto cert = files->current(); !cert.ok()) {
      return absl::FailedPreconditionError(
          "--webhook-cert-dir " + flags.cert_dir + ": " + std::string(cert.status().message()) +
          ": mount the webhook certificate's Secret there (tls.crt and tls.key, e.g. "
          "cert-manager's), or leave --webhook-cert-dir unset and kop-ingress makes and rotates "
          "its own (--webhook-secret)");
    }
    out->certificates = std::move(files);
  } else {
    webhook::SelfManagedOptions so;
    std::string secret = flags.secret.empty() ? ns + "/kop-ingress-webhook-certs" : flags.secret;
    std::vector<std::string> parts = absl::StrSplit(secret, '/');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty())
      return absl::InvalidArgumentError("--webhook-secret: not NAMESPACE/NAME: " + secret);
    so.secret_namespace = parts[0];
    so.secret_name = parts[1];
    so.ca_name = "kop-ingress-webhook-ca";
    so.dns_names = webhook::service_dns_names(
        flags.service.empty() ? "kop-ingress-webhook" : flags.service, ns);
    std::vector<std::string> hosts = absl::StrSplit(flags.hosts, ',', absl::SkipWhitespace());
    for (std::string& host : hosts)
      (is_ip(host) ? so.ip_addresses : so.dns_names).push_back(std::move(host));
    if (!flags.configuration.empty())
      so.validating_webhook_configurations.push_back(flags.configuration);
    auto certs = std::make_shared<webhook::SelfManagedCertificates>(client, std::move(so));
    certs->add_to(manager);  // before the server: its first pass runs as the manager starts
    out->certificates = std::move(certs);
  }
  std::string address = flags.addr;
  if (address.front() == ':') address = "0.0.0.0" + address;
  webhook::ServerOptions server_options;
  server_options.address = address;
  server_options.certificates = out->certificates;
  out->server = std::make_unique<webhook::Server>(std::move(server_options));
  out->server->register_validator(
      std::string(admission::kPath),
      std::make_shared<admission::Validator>(
          admission::cache_inputs(manager.cache(), options.kinds, options.gateway.enabled),
          admission::DecisionOptions{options.model, options.gateway.translate}));
  out->server->add_to(manager);
  return out;
}

}  // namespace kop::ingress
