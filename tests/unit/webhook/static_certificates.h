// A CertificateSource that always serves one certificate: the webhook tests make it once with
// kop/certs and hand it to the server they start.
#pragma once

#include <memory>
#include <utility>

#include <absl/status/statusor.h>

#include "kop/webhook/certificates.h"

namespace kop::webhook {

class StaticCertificates : public CertificateSource {
 public:
  explicit StaticCertificates(Certificate c) : c_(std::make_shared<Certificate>(std::move(c))) {}
  absl::StatusOr<std::shared_ptr<const Certificate>> current() override { return c_; }

 private:
  std::shared_ptr<const Certificate> c_;
};

}  // namespace kop::webhook
