// kop-ingress --webhook-addr: the validating admission webhook (operators/ingress/admission)
// served by libkop's webhook server on every replica, with certificates kop-ingress manages
// itself (a CA and serving certificate in a Secret, rotated, and the caBundle of the named
// ValidatingWebhookConfiguration kept equal to the CA) or read from files (cert-manager).
//
// Threads: add_webhook() once, before Manager::start(), from main's thread.
#pragma once

#include <memory>
#include <string>

#include "../controllers/ingress_controller.h"
#include "kop/client/client.h"
#include "kop/manager/manager.h"
#include "kop/webhook/certificates.h"
#include "kop/webhook/server.h"

namespace kop::ingress {

struct WebhookFlags {
  std::string addr;           // --webhook-addr; "" = no webhook
  std::string cert_dir;       // --webhook-cert-dir: tls.crt/tls.key; "" = self-managed
  std::string secret;         // --webhook-secret NS/NAME (self-managed)
  std::string service;        // --webhook-service: the Service's DNS names in the certificate
  std::string hosts;          // --webhook-hosts: more names and IPs, comma-separated
  std::string configuration;  // --webhook-configuration: its caBundle kept up to date
};

// What serves the webhook; destroy it after the Manager has stopped.
struct Webhook {
  std::shared_ptr<webhook::CertificateSource> certificates;
  std::unique_ptr<webhook::Server> server;
};

// Registers the webhook's runnables with `manager` (the certificate loop first, then the
// server). `ns` is kop-ingress' own namespace (the default Secret's and Service's). Errors name
// the flag at fault.
absl::StatusOr<std::unique_ptr<Webhook>> add_webhook(const WebhookFlags& flags,
                                                     const std::string& ns, client::Client& client,
                                                     manager::Manager& manager,
                                                     const ControllerOptions& options);

}  // namespace kop::ingress
