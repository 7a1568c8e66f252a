// A throwaway certificate authority and serving certificate for kop::local's HTTPS front
// (ECDSA P-256, SANs 127.0.0.1, ::1 and localhost by default). Internal to kop::local.
#pragma once

#include <string>
#include <vector>

namespace kop::local::certs {

struct Bundle {
  std::string ca_pem;    // the CA certificate (goes into kubeconfig certificate-authority-data)
  std::string cert_pem;  // the serving certificate, signed by the CA
  std::string key_pem;   // its private key
  std::string error;     // non-empty when generation failed
};

Bundle generate(const std::vector<std::string>& dns_names = {"localhost"},
                const std::vector<std::string>& ips = {"127.0.0.1", "::1"});

}  // namespace kop::local::certs
