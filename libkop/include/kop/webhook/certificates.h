// kop/webhook/certificates.h: where the webhook server's serving certificate comes from.
//
// A CertificateSource hands out the current certificate; the server asks it on every new
// connection and builds a new TLS context only when the generation changed, so a rotated or
// replaced certificate is served from the next connection on without a restart.
//   - FileCertificates: tls.crt / tls.key in a directory (cert-manager's Secret mounted as a
//     volume, controller-runtime's CertDir). The files are checked at most once a second; a
//     change is picked up once both files parse and the key matches the certificate (a
//     half-written pair keeps the previous one served).
//   - SelfManagedCertificates (kop/webhook/self_managed.h): a CA and serving certificate the
//     manager creates, shares through a Secret and rotates.
//
// Key material is never logged; errors name files and fields, never contents.
// Threads: current() may be called from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kop::webhook {

struct Certificate {
  std::string cert_pem;  // the serving certificate (and any intermediates)
  std::string key_pem;   // its private key
  std::string ca_pem;    // the CA that signed it, for caBundle ("" when not known)
  absl::Time not_after = absl::InfinitePast();  // the serving certificate's expiry
  uint64_t generation = 0;                      // differs whenever the pair differs
};

class CertificateSource {
 public:
  virtual ~CertificateSource() = default;
  // The certificate to serve now; an error when there is none (yet). Unavailable means "not
  // yet, expected soon" (a self-managed certificate before the first pass).
  virtual absl::StatusOr<std::shared_ptr<const Certificate>> current() = 0;
  // Asked once by Server::start(): an error stops the start, for a source that cannot serve as
  // configured, saying what to do. Defaults to OK (a certificate that comes later, as a
  // self-managed one does, is not an error).
  virtual absl::Status check_configuration() { return absl::OkStatus(); }
};

// OK when `cert_pem` holds a certificate, `key_pem` a private key, and the key is the
// certificate's. Fills `not_after` when given.
absl::Status check_key_pair(std::string_view cert_pem, std::string_view key_pem,
                            absl::Time* not_after = nullptr);

// The expiry (notAfter) of the first certificate in `cert_pem`.
absl::StatusOr<absl::Time> certificate_expiry(std::string_view cert_pem);

class FileCertificates : public CertificateSource {
 public:
  explicit FileCertificates(const std::string& dir, const std::string& cert_name = "tls.crt",
                            const std::string& key_name = "tls.key");
  absl::StatusOr<std::shared_ptr<const Certificate>> current() override;
  // FailedPrecondition when the files are missing, unreadable or not a matching pair at start,
  // naming the files and the two ways out (mount the certificate there, or self-managed).
  absl::Status check_configuration() override;

 private:
  std::string dir_;
  std::string cert_path_;
  std::string key_path_;
  absl::Mutex mu_;
  std::shared_ptr<const Certificate> current_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);  // the files' identity when last read
  absl::Time checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::webhook
