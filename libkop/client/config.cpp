#include "kop/client/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <absl/strings/escaping.h>
#include "internal/files.h"

namespace kop::client {
namespace {

namespace fs = std::filesystem;
using internal::read_file;

std::string env_or(const char* name, const std::string& fallback = {}) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

// One file's clusters, users and contexts, with relative paths already resolved.
// NOLINTNEXTLINE(bugprone-exception-escape): yaml-cpp's Node assignment is not noexcept.
struct Entry {
  YAML::Node node;  // the "cluster" / "user" / "context" map
  std::string file;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;  // those read, in order
};

std::string resolve(const std::string& p, const std::string& dir) {
  if (p.empty() || fs::path(p).is_absolute() || dir.empty()) return p;
  return (fs::path(dir) / p).lexically_normal().string();
}

// yaml-cpp throws when a scalar or a list is indexed by key: what should be a map but is not
// reads as empty, and the caller's "missing" error names the field.
std::string scalar(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) return {};
  YAML::Node v = n[key];
  if (!v || !v.IsScalar()) return {};
  return v.as<std::string>();
}

absl::StatusOr<bool> boolean(const YAML::Node& n, const char* key, const std::string& where) {
  if (!n.IsMap()) return false;
  YAML::Node v = n[key];
  if (!v || v.IsNull()) return false;
  bool b = false;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
    return absl::InvalidArgumentError(fmt::format("{}: {} is not a boolean", where, key));
  return b;
}

// Reads a named list ("clusters": [{name, cluster}]) of one file into `into`; names already
// present (from an earlier file) are kept: the first file wins.
absl::Status merge_list(const YAML::Node& root, const char* list, const char* item,
                        const std::string& file, std::map<std::string, Entry>& into) {
  YAML::Node seq = root[list];
  if (!seq || seq.IsNull()) return absl::OkStatus();
  if (!seq.IsSequence())
    return absl::InvalidArgumentError(fmt::format("kubeconfig {}: {} is not a list", file, list));
  for (const YAML::Node& e : seq) {
    std::string name = e.IsMap() ? scalar(e, "name") : std::string();
    if (name.empty())
      return absl::InvalidArgumentError(
          fmt::format("kubeconfig {}: an entry of {} has no name", file, list));
    YAML::Node body = e[item];
    if (body && !body.IsNull() && !body.IsMap())
      return absl::InvalidArgumentError(
          fmt::format("kubeconfig {}: {} {:?}: {} is not a map", file, list, name, item));
    if (into.count(name)) continue;
    into[name] = Entry{body ? body : YAML::Node(YAML::NodeType::Map), file};
  }
  return absl::OkStatus();
}

absl::Status merge_text(std::string_view text, const std::string& file, Merged& m) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("kubeconfig {}: not valid YAML: {}", file, e.what()));
  }
  m.files.push_back(file);
  if (!root || root.IsNull()) return absl::OkStatus();  // an empty file is an empty config
  if (!root.IsMap())
    return absl::InvalidArgumentError(fmt::format("kubeconfig {}: not a YAML map", file));
  if (auto s = merge_list(root, "clusters", "cluster", file, m.clusters); !s.ok()) return s;
  if (auto s = merge_list(root, "users", "user", file, m.users); !s.ok()) return s;
  if (auto s = merge_list(root, "contexts", "context", file, m.contexts); !s.ok()) return s;
  if (m.current_context.empty()) m.current_context = scalar(root, "current-context");
  return absl::OkStatus();
}

// Inline base64 data or a file (relative to the kubeconfig's folder).
absl::StatusOr<std::string> data_or_file(const YAML::Node& n, const char* data_key,
                                         const char* file_key, const Entry& e,
                                         const std::string& what, std::string* file_out) {
  std::string data = scalar(n, data_key);
  if (!data.empty()) {
    std::string out;
    if (!absl::Base64Unescape(data, &out))
      return absl::InvalidArgumentError(
          fmt::format("kubeconfig {}: {} of {} is not valid base64", e.file, data_key, what));
    return out;
  }
  std::string path = scalar(n, file_key);
  if (path.empty()) return std::string();
  path = resolve(path, fs::path(e.file).parent_path().string());
  if (file_out) *file_out = path;
  auto content = read_file(path);
  if (!content.ok())
    return absl::Status(content.status().code(),
                        fmt::format("kubeconfig {}: {} of {}: {}", e.file, file_key, what,
                                    internal::msg(content.status())));
  return content;
}

absl::Status apply_cluster(const Entry& e, const std::string& name, Config& c) {
  const YAML::Node& n = e.node;
  std::string what = fmt::format("cluster {:?}", name);
  c.server = scalar(n, "server");
  if (c.server.empty())
    return absl::InvalidArgumentError(fmt::format("kubeconfig {}: {} has no server", e.file, what));
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.server.rfind("https://", 0) != 0 && c.server.rfind("http://", 0) != 0) {
    // kubectl accepts a bare host:port and means https.
    c.server = "https://" + c.server;
  }
  auto ca =
      data_or_file(n, "certificate-authority-data", "certificate-authority", e, what, &c.ca_file);
  if (!ca.ok()) return ca.status();
  c.ca_pem = *std::move(ca);
  auto insecure = boolean(n, "insecure-skip-tls-verify", fmt::format("kubeconfig {}", e.file));
  if (!insecure.ok()) return insecure.status();
  c.insecure_skip_tls_verify = *insecure;
  if (c.insecure_skip_tls_verify && !c.ca_pem.empty())
    return absl::InvalidArgumentError(fmt::format(
        "kubeconfig {}: {}: specifying a root certificates file with the insecure flag is not "
        "allowed",
        e.file, what));
  c.tls_server_name = scalar(n, "tls-server-name");
  c.proxy_url = scalar(n, "proxy-url");
  return absl::OkStatus();
}

absl::StatusOr<ExecConfig> parse_exec(const YAML::Node& n, const Entry& e,
                                      const std::string& what) {
  ExecConfig x;
  x.api_version = scalar(n, "apiVersion");
  if (x.api_version != "client.authentication.k8s.io/v1" &&
      x.api_version != "client.authentication.k8s.io/v1beta1")
    return absl::InvalidArgumentError(
        fmt::format("kubeconfig {}: {}: exec apiVersion {:?} is not supported (use "
                    "client.authentication.k8s.io/v1 or v1beta1)",
                    e.file, what, x.api_version));
  x.command = scalar(n, "command");
  if (x.command.empty())
    return absl::InvalidArgumentError(
        fmt::format("kubeconfig {}: {}: exec has no command", e.file, what));
  if (x.command.find('/') != std::string::npos)
    x.command = resolve(x.command, fs::path(e.file).parent_path().string());
  if (YAML::Node args = n["args"]; args && args.IsSequence())
    for (const auto& a : args) x.args.push_back(a.IsScalar() ? a.as<std::string>() : "");
  if (YAML::Node env = n["env"]; env && env.IsSequence())
    for (const auto& v : env) x.env.emplace_back(scalar(v, "name"), scalar(v, "value"));
  x.interactive_mode = scalar(n, "interactiveMode");
  if (x.interactive_mode.empty()) {
    // v1 requires the field; v1beta1 defaults to IfAvailable.
    if (x.api_version == "client.authentication.k8s.io/v1")
      return absl::InvalidArgumentError(
          fmt::format("kubeconfig {}: {}: exec interactiveMode must be set for {}", e.file, what,
                      x.api_version));
    x.interactive_mode = "IfAvailable";
  }
  if (x.interactive_mode != "Never" && x.interactive_mode != "IfAvailable" &&
      x.interactive_mode != "Always")
    return absl::InvalidArgumentError(fmt::format(
        "kubeconfig {}: {}: exec interactiveMode {:?} is not Never, IfAvailable or Always", e.file,
        what, x.interactive_mode));
  if (x.interactive_mode == "Always")
    return absl::FailedPreconditionError(fmt::format(
        "kubeconfig {}: {}: exec plugin {} needs an interactive terminal (interactiveMode "
        "Always), which kop never provides",
        e.file, what, x.command));
  auto pci = boolean(n, "provideClusterInfo", fmt::format("kubeconfig {}", e.file));
  if (!pci.ok()) return pci.status();
  x.provide_cluster_info = *pci;
  x.install_hint = scalar(n, "installHint");
  return x;
}

absl::Status apply_user(const Entry& e, const std::string& name, Config& c) {
  const YAML::Node& n = e.node;
  std::string what = fmt::format("user {:?}", name);
  std::string dir = fs::path(e.file).parent_path().string();
  if (n["auth-provider"] && !n["auth-provider"].IsNull())
    return absl::UnimplementedError(fmt::format(
        "kubeconfig {}: {} uses an auth-provider ({}), which kop does not support; use an exec "
        "plugin",
        e.file, what, scalar(n["auth-provider"], "name")));
  c.bearer_token = scalar(n, "token");
  c.bearer_token_file = resolve(scalar(n, "tokenFile"), dir);
  if (!c.bearer_token_file.empty()) {
    // As kubectl: the file is read now (a missing file is an error now, not at the first request).
    auto t = read_file(c.bearer_token_file);
    if (!t.ok())
      return absl::Status(t.status().code(), fmt::format("kubeconfig {}: tokenFile of {}: {}",
                                                         e.file, what, internal::msg(t.status())));
  }
  std::string cert_file, key_file;
  auto cert = data_or_file(n, "client-certificate-data", "client-certificate", e, what, &cert_file);
  if (!cert.ok()) return cert.status();
  auto key = data_or_file(n, "client-key-data", "client-key", e, what, &key_file);
  if (!key.ok()) return key.status();
  c.client_cert_pem = *std::move(cert);
  c.client_key_pem = *std::move(key);
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    return absl::InvalidArgumentError(fmt::format(
        "kubeconfig {}: {}: client-certificate(-data) and client-key(-data) must be given "
        "together",
        e.file, what));
  c.username = scalar(n, "username");
  c.password = scalar(n, "password");
  if (YAML::Node x = n["exec"]; x && !x.IsNull()) {
    if (!x.IsMap())
      return absl::InvalidArgumentError(
          fmt::format("kubeconfig {}: {}: exec is not a map", e.file, what));
    auto exec = parse_exec(x, e, what);
    if (!exec.ok()) return exec.status();
    c.exec = *std::move(exec);
  }
  // One way to get a bearer token, as clientcmd validates.
  std::vector<std::string> methods;
  if (!c.bearer_token.empty() || !c.bearer_token_file.empty()) methods.emplace_back("token");
  if (!c.username.empty() || !c.password.empty()) methods.emplace_back("basicAuth");
  if (c.exec) methods.emplace_back("exec");
  if (methods.size() > 1)
    return absl::InvalidArgumentError(fmt::format(
        "kubeconfig {}: more than one authentication method found for {}: [{}], only one is "
        "allowed",
        e.file, what, fmt::join(methods, " ")));
  return absl::OkStatus();
}

absl::StatusOr<Config> resolve_merged(const Merged& m, const KubeconfigOptions& options) {
  std::string files = fmt::format("{}", fmt::join(m.files, ":"));
  std::string context = options.context.empty() ? m.current_context : options.context;
  if (context.empty())
    return absl::InvalidArgumentError(
        fmt::format("kubeconfig {}: no current-context is set and no context was named", files));
  auto ctx = m.contexts.find(context);
  if (ctx == m.contexts.end())
    return absl::NotFoundError(
        fmt::format("kubeconfig {}: context {:?} does not exist", files, context));
  Config c;
  c.context = context;
  const YAML::Node& cn = ctx->second.node;
  c.cluster_name = scalar(cn, "cluster");
  c.user_name = scalar(cn, "user");
  auto cl = m.clusters.find(c.cluster_name);
  if (c.cluster_name.empty() || cl == m.clusters.end())
    return absl::NotFoundError(
        fmt::format("kubeconfig {}: cluster {:?} of context {:?} does not exist", files,
                    c.cluster_name, context));
  if (auto s = apply_cluster(cl->second, c.cluster_name, c); !s.ok()) return s;
  if (!c.user_name.empty()) {
    auto us = m.users.find(c.user_name);
    if (us == m.users.end())
      return absl::NotFoundError(fmt::format(
          "kubeconfig {}: user {:?} of context {:?} does not exist", files, c.user_name, context));
    if (auto s = apply_user(us->second, c.user_name, c); !s.ok()) return s;
  }
  std::string ns = scalar(cn, "namespace");
  if (!options.namespace_.empty()) ns = options.namespace_;
  c.namespace_ = ns.empty() ? "default" : ns;
  return c;
}

// The files in precedence order, and whether each must exist.
std::vector<std::pair<std::string, bool>> kubeconfig_files(const KubeconfigOptions& options) {
  std::vector<std::pair<std::string, bool>> out;
  if (!options.paths.empty()) {
    for (const auto& p : options.paths) out.emplace_back(p, true);
    return out;
  }
  std::string env = env_or("KUBECONFIG");
  if (!env.empty()) {
    std::set<std::string> seen;
    std::stringstream ss(env);
    std::string p;
    while (std::getline(ss, p, ':')) {
      if (p.empty() || !seen.insert(p).second) continue;  // kubectl skips blanks and duplicates
      out.emplace_back(p, false);
    }
    return out;
  }
  std::string home = env_or("HOME");
  out.emplace_back((fs::path(home) / ".kube" / "config").string(), true);
  return out;
}

}  // namespace

absl::StatusOr<Config> parse_kubeconfig(std::string_view text, std::string_view path,
                                        const KubeconfigOptions& options) {
  Merged m;
  if (auto s = merge_text(text, std::string(path), m); !s.ok()) return s;
  return resolve_merged(m, options);
}

absl::StatusOr<Config> load_kubeconfig(const KubeconfigOptions& options) {
  Merged m;
  std::vector<std::string> missing;
  for (const auto& [path, required] : kubeconfig_files(options)) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (required) return absl::NotFoundError(fmt::format("kubeconfig {} does not exist", path));
      missing.push_back(path);
      continue;
    }
    auto text = read_file(path);
    if (!text.ok())
      return absl::Status(text.status().code(),
                          fmt::format("kubeconfig: {}", internal::msg(text.status())));
    if (auto s = merge_text(*text, path, m); !s.ok()) return s;
  }
  if (m.files.empty())
    return absl::NotFoundError(
        fmt::format("no kubeconfig: none of the files named by KUBECONFIG exists ({})",
                    fmt::join(missing, ":")));
  return resolve_merged(m, options);
}

absl::StatusOr<Config> in_cluster_config(const InClusterOptions& options) {
  auto get = [&](const char* name) {
    if (!options.env.empty()) {
      auto it = options.env.find(name);
      return it == options.env.end() ? std::string() : it->second;
    }
    return env_or(name);
  };
  std::string host = get("KUBERNETES_SERVICE_HOST");
  std::string port = get("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty())
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  Config c;
  // An IPv6 service address needs brackets in a URL.
  bool v6 = host.find(':') != std::string::npos;
  c.server = fmt::format("https://{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
  fs::path root(options.root);
  c.bearer_token_file = (root / "token").string();
  auto token = read_file(c.bearer_token_file);
  if (!token.ok())
    return absl::Status(
        token.status().code(),
        fmt::format("in-cluster config: service account token: {}", internal::msg(token.status())));
  c.ca_file = (root / "ca.crt").string();
  auto ca = read_file(c.ca_file);
  if (!ca.ok())
    return absl::Status(ca.status().code(),
                        fmt::format("in-cluster config: CA: {}", internal::msg(ca.status())));
  c.ca_pem = *std::move(ca);
  // The namespace file is optional (client-go falls back to "default").
  auto ns = read_file((root / "namespace").string());
  if (ns.ok()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    if (!n.empty()) c.namespace_ = n;
  }
  return c;
}

absl::StatusOr<Config> load_default_config() {
  if (!env_or("KUBECONFIG").empty()) return load_kubeconfig();
  if (!env_or("KUBERNETES_SERVICE_HOST").empty()) return in_cluster_config();
  return load_kubeconfig();
}

}  // namespace kop::client
