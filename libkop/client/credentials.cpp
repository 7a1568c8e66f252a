#include "kop/client/credentials.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include <absl/strings/escaping.h>
#include <absl/strings/str_cat.h>
#include "internal/files.h"

extern char** environ;

namespace kop::client {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string exec_info(const ExecConfig& exec, const Config& config) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  str("kind", "ExecCredential");
  str("apiVersion", exec.api_version);
  w.Key("spec");
  w.StartObject();
  if (exec.provide_cluster_info) {
    w.Key("cluster");
    w.StartObject();
    str("server", config.server);
    if (!config.tls_server_name.empty()) str("tls-server-name", config.tls_server_name);
    if (config.insecure_skip_tls_verify) {
      w.Key("insecure-skip-tls-verify");
      w.Bool(true);
    }
    if (!config.ca_pem.empty())
      str("certificate-authority-data", absl::Base64Escape(config.ca_pem));
    if (!config.proxy_url.empty()) str("proxy-url", config.proxy_url);
    w.EndObject();
  }
  w.Key("interactive");
  w.Bool(false);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// Runs argv with extra environment, stdin from /dev/null, stdout captured. Returns the exit
// status (as waitpid) and the output.
absl::StatusOr<std::pair<int, std::string>> run(const std::string& command,
                                                const std::vector<std::string>& args,
                                                const std::vector<std::string>& extra_env) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    return absl::InternalError(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);

  std::vector<std::string> argv_s;
  argv_s.push_back(command);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The process environment, with the plugin's variables replacing same-named ones.
  std::vector<std::string> env_s;
  auto overridden = [&](std::string_view entry) {
    auto eq = entry.find('=');
    std::string_view name = entry.substr(0, eq);
    for (const auto& e : extra_env)
      if (std::string_view(e).substr(0, e.find('=')) == name) return true;
    return false;
  };
  for (char** e = environ; e && *e; ++e)
    if (!overridden(*e)) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  envp.reserve(env_s.size() + 1);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawnp(&pid, command.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return absl::Status(
        rc == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
        std::strerror(rc));
  }
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::make_pair(status, std::move(output));
}

std::string str(const rapidjson::Value& o, const char* k) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace

absl::StatusOr<ExecCredential> run_exec_plugin(const ExecConfig& exec, const Config& config) {
  std::vector<std::string> env;
  env.reserve(exec.env.size() + 1);
  for (const auto& [k, v] : exec.env) env.push_back(absl::StrCat(k, "=", v));
  env.push_back("KUBERNETES_EXEC_INFO=" + exec_info(exec, config));
  auto ran = run(exec.command, exec.args, env);
  std::string who = fmt::format("exec plugin {:?}", exec.command);
  if (!ran.ok()) {
    std::string hint = exec.install_hint.empty() ? "" : "\n" + exec.install_hint;
    return absl::Status(ran.status().code(), fmt::format("{} could not be run: {}{}", who,
                                                         internal::msg(ran.status()), hint));
  }
  auto& [status, output] = *ran;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return absl::UnauthenticatedError(
        WIFEXITED(status) ? fmt::format("{} exited with status {}", who, WEXITSTATUS(status))
                          : fmt::format("{} was killed by signal {}", who, WTERMSIG(status)));
  rapidjson::Document doc;
  doc.Parse(output.data(), output.size());
  if (doc.HasParseError() || !doc.IsObject())
    return absl::UnauthenticatedError(fmt::format("{} did not print an ExecCredential JSON", who));
  if (str(doc, "kind") != "ExecCredential")
    return absl::UnauthenticatedError(
        fmt::format("{} printed kind {:?}, want ExecCredential", who, str(doc, "kind")));
  if (str(doc, "apiVersion") != exec.api_version)
    return absl::UnauthenticatedError(
        fmt::format("{} is configured to use API version {}, plugin returned version {}", who,
                    exec.api_version, str(doc, "apiVersion")));
  auto st = doc.FindMember("status");
  if (st == doc.MemberEnd() || !st->value.IsObject())
    return absl::UnauthenticatedError(
        fmt::format("{} printed an ExecCredential without status", who));
  ExecCredential cred;
  cred.token = str(st->value, "token");
  cred.client_cert_pem = str(st->value, "clientCertificateData");
  cred.client_key_pem = str(st->value, "clientKeyData");
  std::string exp = str(st->value, "expirationTimestamp");
  if (!exp.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, exp, &t, &err))
      return absl::UnauthenticatedError(
          fmt::format("{}: expirationTimestamp {:?} is not RFC 3339", who, exp));
    cred.expiration = t;
  }
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty())
    return absl::UnauthenticatedError(fmt::format(
        "{}: clientCertificateData and clientKeyData must both be set or both be empty", who));
  if (cred.token.empty() && cred.client_cert_pem.empty())
    return absl::UnauthenticatedError(
        fmt::format("{}: the ExecCredential has neither a token nor a client certificate", who));
  return cred;
}

Credentials::Credentials(Config config, std::function<absl::Time()> now)
    : config_(std::move(config)), now_(std::move(now)) {}

absl::Status Credentials::refresh_exec_locked() {
  if (exec_cred_ && (!exec_cred_->expiration || now_() < *exec_cred_->expiration))
    return absl::OkStatus();
  ++exec_runs_;
  auto cred = run_exec_plugin(*config_.exec, config_);
  if (!cred.ok()) return cred.status();
  exec_cred_ = *std::move(cred);
  return absl::OkStatus();
}

absl::Status Credentials::refresh_token_file_locked() {
  if (file_read_at_ && now_() - *file_read_at_ < config_.token_file_refresh)
    return absl::OkStatus();
  ++token_file_reads_;
  auto t = internal::read_file(config_.bearer_token_file);
  if (!t.ok()) {
    // Keep the last good token: a rotation writes the file by rename, and a read that races it
    // must not fail requests.
    if (!file_token_.empty()) return absl::OkStatus();
    return absl::UnauthenticatedError(
        fmt::format("bearer token file: {}", internal::msg(t.status())));
  }
  file_token_ = trim(*std::move(t));
  file_read_at_ = now_();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Credentials::authorization() {
  absl::MutexLock lock(&mu_);
  if (config_.exec) {
    if (auto s = refresh_exec_locked(); !s.ok()) return s;
    if (!exec_cred_->token.empty()) return "Bearer " + exec_cred_->token;
    return std::string();
  }
  if (!config_.bearer_token_file.empty()) {
    if (auto s = refresh_token_file_locked(); !s.ok()) return s;
    if (!file_token_.empty()) return "Bearer " + file_token_;
  }
  if (!config_.bearer_token.empty()) return "Bearer " + config_.bearer_token;
  if (!config_.username.empty() || !config_.password.empty())
    return "Basic " + absl::Base64Escape(config_.username + ":" + config_.password);
  return std::string();
}

absl::StatusOr<std::optional<std::pair<std::string, std::string>>>
Credentials::client_certificate() {
  absl::MutexLock lock(&mu_);
  if (!config_.client_cert_pem.empty())
    return std::make_optional(std::make_pair(config_.client_cert_pem, config_.client_key_pem));
  if (config_.exec) {
    if (auto s = refresh_exec_locked(); !s.ok()) return s;
    if (!exec_cred_->client_cert_pem.empty())
      return std::make_optional(
          std::make_pair(exec_cred_->client_cert_pem, exec_cred_->client_key_pem));
  }
  return std::optional<std::pair<std::string, std::string>>();
}

void Credentials::invalidate() {
  absl::MutexLock lock(&mu_);
  exec_cred_.reset();
  file_read_at_.reset();
}

int Credentials::exec_runs() const {
  absl::MutexLock lock(&mu_);
  return exec_runs_;
}

int Credentials::token_file_reads() const {
  absl::MutexLock lock(&mu_);
  return token_file_reads_;
}

}  // namespace kop::client
