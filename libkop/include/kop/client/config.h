// kop/client/config.h: where the API server is and how to authenticate to it.
//
// A Config is what a RestClient needs: the server URL, how to verify it (CA, tls-server-name,
// or not at all), and the credentials (bearer token, token file, client certificate, basic auth,
// or an exec credential plugin). It comes from one of:
//   - load_kubeconfig(): kubectl's rules. The files are those of `KubeconfigOptions::paths`, else
//     of $KUBECONFIG (a colon-separated list), else ~/.kube/config. Several files are merged the
//     way kubectl merges them: for clusters, users and contexts the first file that defines a
//     name wins (entries are never merged field by field); current-context comes from the first
//     file that sets it. Missing files in $KUBECONFIG are skipped, as kubectl skips them; an
//     explicitly given path must exist. Relative paths inside a file (certificate-authority,
//     client-certificate, client-key, tokenFile, an exec command containing '/') resolve against
//     that file's folder. A context other than current-context is chosen by name.
//   - in_cluster_config(): the pod's service account (KUBERNETES_SERVICE_HOST/PORT and
//     /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}).
//   - load_default_config(): $KUBECONFIG when set, else in-cluster when running in a pod, else
//     ~/.kube/config (controller-runtime's order, minus its command-line flag).
// Errors say what is wrong and where: the missing file, the missing context, cluster or user,
// the unreadable key or certificate, the malformed field.
//
// Not supported (a clear error when a kubeconfig asks for it): auth-provider plugins (gcp, oidc
// — removed from kubectl too); exec plugins that need an interactive terminal. proxy-url is read
// and ignored (the REST transport connects directly): Config::proxy_url keeps it for callers.
//
// Threading: loading is a pure function of the files and environment; a Config is a value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/time/time.h>

namespace kop::client {

// An exec credential plugin (users[].user.exec), client.authentication.k8s.io/v1 or v1beta1.
struct ExecConfig {
  std::string api_version{};  // "client.authentication.k8s.io/v1" or ".../v1beta1"
  std::string command{};      // resolved: absolute when it contained '/'; else looked up in PATH
  std::vector<std::string> args{};
  std::vector<std::pair<std::string, std::string>> env{};  // added to the process environment
  // interactiveMode: "Never", "IfAvailable" or "Always". kop never offers a terminal: "Always"
  // fails with a clear error, the others run with spec.interactive=false.
  std::string interactive_mode = "IfAvailable";
  bool provide_cluster_info = false;  // provideClusterInfo: spec.cluster is sent when true
  std::string install_hint{};         // installHint: shown when the command is missing
};

struct Config {
  // Cluster.
  std::string server{};   // "https://host:port" (no trailing '/'); required
  std::string ca_pem{};   // certificate-authority(-data), PEM; "" = the system's CAs
  std::string ca_file{};  // where ca_pem came from ("" when inline), for messages
  bool insecure_skip_tls_verify = false;  // default false: TLS is verified
  std::string tls_server_name{};  // SNI and the name verified; default "" = the server's host
  std::string proxy_url{};        // read from the kubeconfig and not used (see above)

  // User. At most one of token/token_file/exec gives a bearer token; a client certificate can
  // come with any of them. tokenFile wins over token (client-go: the file is the fresher).
  std::string bearer_token{};       // never logged
  std::string bearer_token_file{};  // re-read every token_file_refresh (bound tokens rotate)
  absl::Duration token_file_refresh = absl::Minutes(1);  // default 1 minute, as client-go
  std::string client_cert_pem{};                         // client-certificate(-data)
  std::string client_key_pem{};                          // client-key(-data); never logged
  std::string username{};                                // basic auth (username/password)
  std::string password{};                                // never logged
  std::optional<ExecConfig> exec{};

  // Context.
  std::string namespace_ = "default";  // the context's namespace; default "default"
  std::string context{};               // the context's name ("" for in-cluster)
  std::string cluster_name{};          // for messages and exec spec.cluster
  std::string user_name{};

  // Client behaviour (not from the kubeconfig).
  std::string user_agent{};  // default "" = "kop/<libkop version>"
  // Client-side rate limit (token bucket): qps requests per second, bursts of `burst`. Defaults
  // as client-go: 5 QPS, burst 10. qps <= 0 turns the limit off.
  double qps = 5.0;
  int burst = 10;
  // Time allowed for one request (not for a watch, which lasts); default 30 s.
  absl::Duration request_timeout = absl::Seconds(30);
};

struct KubeconfigOptions {
  // The kubeconfig files, in precedence order. Default empty = $KUBECONFIG, else ~/.kube/config.
  // Explicit paths must exist (kubectl --kubeconfig); $KUBECONFIG entries that do not are skipped.
  std::vector<std::string> paths{};
  // The context to use; default "" = current-context.
  std::string context{};
  // Overrides the context's namespace when not empty (kubectl --namespace).
  std::string namespace_{};
};

absl::StatusOr<Config> load_kubeconfig(const KubeconfigOptions& options = {});
// Parses one kubeconfig document (YAML or JSON) as if read from `path` (used for relative paths
// and messages).
absl::StatusOr<Config> parse_kubeconfig(std::string_view text, std::string_view path,
                                        const KubeconfigOptions& options = {});

struct InClusterOptions {
  // Where token, ca.crt and namespace are; default the service account mount. Tests point it
  // elsewhere.
  std::string root = "/var/run/secrets/kubernetes.io/serviceaccount";
  // The environment to read KUBERNETES_SERVICE_HOST / _PORT from; default empty = the process
  // environment. Tests set it.
  std::map<std::string, std::string> env{};
};

// The in-cluster config. The token file is kept as bearer_token_file, so it is re-read.
absl::StatusOr<Config> in_cluster_config(const InClusterOptions& options = {});

// $KUBECONFIG when set, else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
absl::StatusOr<Config> load_default_config();

}  // namespace kop::client
