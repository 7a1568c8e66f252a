// kop/client/credentials.h: the credentials a request carries, kept fresh.
//
// A Config names static credentials (a token, a client certificate, basic auth) and dynamic
// ones: a token file that rotates (bound service account tokens) and exec credential plugins
// (client.authentication.k8s.io/v1 and v1beta1 ExecCredential). Credentials turns a Config into
// the Authorization header of each request:
//   - token file: read when older than Config::token_file_refresh (1 minute); a failed re-read
//     keeps the last good token (client-go's cached file token source);
//   - exec plugin: run on first use, its answer cached until status.expirationTimestamp (or for
//     the life of the Credentials when it has none); invalidate() after a 401 drops it, so the
//     next request runs the plugin again. The plugin gets KUBERNETES_EXEC_INFO (an ExecCredential
//     with spec.interactive=false and, when provideClusterInfo, spec.cluster), the configured env
//     and args, no stdin; its stderr goes to ours.
// Tokens, keys and passwords are never logged nor put in error messages.
//
// Threading: every method may be called from any thread; concurrent callers share one plugin run.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include "kop/client/config.h"

namespace kop::client {

// The status of an ExecCredential.
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;           // clientCertificateData
  std::string client_key_pem;            // clientKeyData
  std::optional<absl::Time> expiration;  // expirationTimestamp; nullopt = does not expire
};

// Runs the plugin once and decodes its ExecCredential. Errors name the command (never the
// output, which holds secrets) and what was wrong: not found, exit status, bad JSON, wrong
// apiVersion or kind, neither token nor certificate.
absl::StatusOr<ExecCredential> run_exec_plugin(const ExecConfig& exec, const Config& config);

class Credentials {
 public:
  // `now` is the clock (tests move it).
  explicit Credentials(Config config, std::function<absl::Time()> now = &absl::Now);

  // The Authorization header value: "Bearer <token>", "Basic <base64>", or "" for none.
  absl::StatusOr<std::string> authorization() ABSL_LOCKS_EXCLUDED(mu_);

  // The client certificate and key to present (from the Config, or from the exec plugin when it
  // returned one); nullopt when there is none.
  absl::StatusOr<std::optional<std::pair<std::string, std::string>>> client_certificate()
      ABSL_LOCKS_EXCLUDED(mu_);

  // After a 401: forget the exec credential and the token file's read time.
  void invalidate() ABSL_LOCKS_EXCLUDED(mu_);

  // How many times the exec plugin ran / the token file was read (for tests and metrics).
  int exec_runs() const ABSL_LOCKS_EXCLUDED(mu_);
  int token_file_reads() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status refresh_exec_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status refresh_token_file_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Config config_;
  const std::function<absl::Time()> now_;
  mutable absl::Mutex mu_;
  std::optional<ExecCredential> exec_cred_ ABSL_GUARDED_BY(mu_);
  std::string file_token_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> file_read_at_ ABSL_GUARDED_BY(mu_);
  int exec_runs_ ABSL_GUARDED_BY(mu_) = 0;
  int token_file_reads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kop::client
