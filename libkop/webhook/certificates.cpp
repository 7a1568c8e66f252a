#include "kop/webhook/certificates.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include "text.h"

#include <fstream>
#include <sstream>

namespace kop::webhook {

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

BIO* read_bio(std::string_view pem) {
  return BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
}

// mtime, size and inode of both files: a renamed-in file (a Kubernetes volume's ..data swap)
// changes the inode even when the size and second are the same.
std::string stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return detail::cat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

absl::StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(detail::cat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::Status check_key_pair(std::string_view cert_pem, std::string_view key_pem,
                            absl::Time* not_after) {
  std::unique_ptr<BIO, Free> cb(read_bio(cert_pem));
  std::unique_ptr<X509, Free> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError("the certificate is not a PEM certificate");
  std::unique_ptr<BIO, Free> kb(read_bio(key_pem));
  std::unique_ptr<EVP_PKEY, Free> key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError("the key is not a PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError("the key does not belong to the certificate");
  }
  if (not_after != nullptr) {
    struct tm t {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) == 1) {
      *not_after = absl::FromTM(t, absl::UTCTimeZone());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> certificate_expiry(std::string_view cert_pem) {
  std::unique_ptr<BIO, Free> cb(read_bio(cert_pem));
  std::unique_ptr<X509, Free> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  struct tm t {};
  if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) != 1) {
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  return absl::FromTM(t, absl::UTCTimeZone());
}

FileCertificates::FileCertificates(const std::string& dir, const std::string& cert_name,
                                   const std::string& key_name)
    : dir_(dir),
      cert_path_(detail::cat(dir, "/", cert_name)),
      key_path_(detail::cat(dir, "/", key_name)) {}

absl::Status FileCertificates::check_configuration() {
  auto cert = current();
  if (cert.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(detail::cat(
      "no webhook serving certificate in ", dir_, ": ", cert.status().message(),
      ". FileCertificates reads ", cert_path_, " and ", key_path_,
      ": put the certificate there (e.g. cert-manager's Secret mounted as a volume), or use "
      "SelfManagedCertificates (kop/webhook/self_managed.h) and the operator makes its own"));
}

absl::StatusOr<std::shared_ptr<const Certificate>> FileCertificates::current() {
  absl::MutexLock lock(&mu_);
  absl::Time now = absl::Now();
  if (now - checked_ < absl::Seconds(1)) {
    if (current_) return current_;
    return last_error_;
  }
  checked_ = now;
  std::string stamp = stamp_of(cert_path_) + "|" + stamp_of(key_path_);
  if (stamp == stamp_) {
    if (current_) return current_;
    return last_error_;
  }
  auto cert = read_file(cert_path_);
  auto key = read_file(key_path_);
  absl::Status st = !cert.ok() ? cert.status() : key.status();
  auto next = std::make_shared<Certificate>();
  if (st.ok()) st = check_key_pair(*cert, *key, &next->not_after);
  if (!st.ok()) {
    // Keep serving the previous pair; try again on the next check (a writer may be mid-way).
    last_error_ =
        absl::Status(st.code(), detail::cat(cert_path_, ", ", key_path_, ": ", st.message()));
    if (current_) return current_;
    return last_error_;
  }
  stamp_ = std::move(stamp);
  next->cert_pem = std::move(*cert);
  next->key_pem = std::move(*key);
  next->generation = current_ ? current_->generation + 1 : 1;
  current_ = std::move(next);
  return current_;
}

}  // namespace kop::webhook
