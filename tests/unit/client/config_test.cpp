// Kubeconfig and in-cluster loading, and credentials (token file, exec plugins). Fixtures are
// written to a fresh temporary folder by each test.
#include "kop/client/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <absl/strings/escaping.h>
#include "kop/client/credentials.h"

namespace kop::client {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string msg(const absl::Status& s) {
  return std::string(s.message());
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kop-config-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    saved_kubeconfig_ = std::getenv("KUBECONFIG") ? std::getenv("KUBECONFIG") : "";
    had_kubeconfig_ = std::getenv("KUBECONFIG") != nullptr;
  }
  void TearDown() override {
    if (had_kubeconfig_)
      setenv("KUBECONFIG", saved_kubeconfig_.c_str(), 1);
    else
      unsetenv("KUBECONFIG");
    fs::remove_all(dir_);
  }
  std::string write(const std::string& rel, const std::string& content, int mode = 0644) {
    fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    chmod(p.c_str(), mode);
    return p.string();
  }
  std::string dir_;
  std::string saved_kubeconfig_;
  bool had_kubeconfig_ = false;
};

const char* kBasic = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: certs/ca.pem
    tls-server-name: api.dev
    proxy-url: http://proxy:3128
users:
- name: dev-user
  user:
    token: abc
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: team}
- name: other
  context: {cluster: dev-cluster, user: dev-user}
)";

TEST_F(ConfigTest, LoadsClusterUserContextAndResolvesRelativePaths) {
  write("kube/certs/ca.pem", "CA PEM");
  std::string path = write("kube/config", kBasic);
  auto c = load_kubeconfig({.paths = {path}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->ca_file, dir_ + "/kube/certs/ca.pem");
  EXPECT_EQ(c->tls_server_name, "api.dev");
  EXPECT_EQ(c->proxy_url, "http://proxy:3128");
  EXPECT_EQ(c->bearer_token, "abc");
  EXPECT_EQ(c->namespace_, "team");
  EXPECT_EQ(c->context, "dev");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  // Defaults written where declared.
  EXPECT_EQ(c->qps, 5.0);
  EXPECT_EQ(c->burst, 10);
}

TEST_F(ConfigTest, NamedContextAndNamespaceOverride) {
  write("kube/certs/ca.pem", "CA");
  std::string path = write("kube/config", kBasic);
  auto c = load_kubeconfig({.paths = {path}, .context = "other"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->namespace_, "default");
  auto d = load_kubeconfig({.paths = {path}, .context = "dev", .namespace_ = "x"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->namespace_, "x");
}

TEST_F(ConfigTest, ClearErrors) {
  auto missing = load_kubeconfig({.paths = {dir_ + "/nope"}});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(msg(missing.status()), HasSubstr(dir_ + "/nope"));

  std::string path = write("kube/config", kBasic);
  auto no_ca = load_kubeconfig({.paths = {path}});
  EXPECT_FALSE(no_ca.ok());
  EXPECT_THAT(msg(no_ca.status()), HasSubstr(dir_ + "/kube/certs/ca.pem does not exist"));
  EXPECT_THAT(msg(no_ca.status()), HasSubstr("certificate-authority"));

  write("kube/certs/ca.pem", "CA");
  auto no_ctx = load_kubeconfig({.paths = {path}, .context = "prod"});
  EXPECT_EQ(no_ctx.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(msg(no_ctx.status()), HasSubstr("context \"prod\" does not exist"));

  std::string keyless = write("k2", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==, client-key: keys/u.key}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  auto no_key = load_kubeconfig({.paths = {keyless}});
  EXPECT_FALSE(no_key.ok());
  EXPECT_THAT(msg(no_key.status()), HasSubstr(dir_ + "/keys/u.key does not exist"));
  EXPECT_THAT(msg(no_key.status()), HasSubstr("user \"u\""));

  if (geteuid() != 0) {  // root reads anything
    write("keys/u.key", "KEY", 0);
    auto unreadable = load_kubeconfig({.paths = {keyless}});
    EXPECT_THAT(msg(unreadable.status()), HasSubstr("cannot read " + dir_ + "/keys/u.key"));
  }
  write("keys/u.key", "KEY");
  auto ok = load_kubeconfig({.paths = {keyless}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->client_cert_pem, "CERT");
  EXPECT_EQ(ok->client_key_pem, "KEY");
  EXPECT_TRUE(ok->insecure_skip_tls_verify);

  std::string no_user = write("k3", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
contexts: [{name: c, context: {cluster: k, user: ghost}}]
)");
  EXPECT_THAT(msg(load_kubeconfig({.paths = {no_user}}).status()),
              HasSubstr("user \"ghost\" of context \"c\" does not exist"));
  std::string no_cluster = write("k4", R"(
current-context: c
contexts: [{name: c, context: {cluster: far}}]
)");
  EXPECT_THAT(msg(load_kubeconfig({.paths = {no_cluster}}).status()),
              HasSubstr("cluster \"far\" of context \"c\" does not exist"));
  std::string bad_yaml = write("k5", "clusters: [unclosed");
  EXPECT_THAT(msg(load_kubeconfig({.paths = {bad_yaml}}).status()), HasSubstr("not valid YAML"));
}

// Found by fuzzing (tests/fuzz/kubeconfig): a scalar or a list where a map belongs made yaml-cpp
// throw out of parse_kubeconfig (std::terminate in a program without a handler).
TEST_F(ConfigTest, WrongShapesAreErrorsNotExceptions) {
  const std::string head = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  const std::string exec_with_bad_lists =
      "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
      "command: c, interactiveMode: Never, args: [{a: 1}], env: [x]}}}]";
  for (const std::string& users :
       {std::string("users: [{name: u, user: {exec: x}}]"),
        std::string("users: [{name: u, user: {exec: [a, b]}}]"),
        std::string("users: [{name: u, user: x}]"), std::string("users: [{name: u, user: [1]}]"),
        exec_with_bad_lists}) {
    auto c = parse_kubeconfig(head + users + "\n", dir_ + "/config");
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << users;
    }
  }
  auto scalar_user = parse_kubeconfig(head + "users: [{name: u, user: x}]\n", dir_ + "/config");
  EXPECT_THAT(msg(scalar_user.status()), HasSubstr("users \"u\": user is not a map"));
  auto scalar_exec = parse_kubeconfig(head + "users: [{name: u, user: {exec: x}}]\n", "k");
  EXPECT_THAT(msg(scalar_exec.status()), HasSubstr("exec is not a map"));
  auto scalar_cluster = parse_kubeconfig("clusters: [{name: k, cluster: 1}]\n", "k");
  EXPECT_THAT(msg(scalar_cluster.status()), HasSubstr("clusters \"k\": cluster is not a map"));
}

TEST_F(ConfigTest, InsecureWithCaIsRefusedAsClientGo) {
  std::string p = write("k", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", insecure-skip-tls-verify: true,
                               certificate-authority-data: Q0E=}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  auto c = load_kubeconfig({.paths = {p}});
  EXPECT_THAT(msg(c.status()), HasSubstr("insecure flag is not allowed"));
}

TEST_F(ConfigTest, KubeconfigListMergesAsKubectl) {
  std::string a = write("a", R"(
clusters:
- {name: shared, cluster: {server: "https://first:1"}}
users:
- {name: u, user: {token: from-a}}
contexts:
- {name: ctx-a, context: {cluster: shared, user: u, namespace: na}}
)");
  std::string b = write("b", R"(
current-context: ctx-b
clusters:
- {name: shared, cluster: {server: "https://second:2"}}
- {name: only-b, cluster: {server: "https://b:3"}}
users:
- {name: u, user: {token: from-b}}
contexts:
- {name: ctx-b, context: {cluster: only-b, user: u}}
- {name: ctx-a, context: {cluster: only-b}}
)");
  std::string c = write("c", "current-context: ctx-a\n");
  setenv("KUBECONFIG", (a + ":" + dir_ + "/missing:" + b + "::" + c + ":" + a).c_str(), 1);
  auto cfg = load_kubeconfig();
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  // current-context: the first file that sets it (b), not c.
  EXPECT_EQ(cfg->context, "ctx-b");
  EXPECT_EQ(cfg->server, "https://b:3");
  // users: the first file that defines "u" (a) wins whole.
  EXPECT_EQ(cfg->bearer_token, "from-a");
  // contexts: a's ctx-a, not b's.
  auto ctx_a = load_kubeconfig({.context = "ctx-a"});
  ASSERT_TRUE(ctx_a.ok()) << ctx_a.status();
  EXPECT_EQ(ctx_a->server, "https://first:1");
  EXPECT_EQ(ctx_a->namespace_, "na");

  setenv("KUBECONFIG", (dir_ + "/x:" + dir_ + "/y").c_str(), 1);
  auto none = load_kubeconfig();
  EXPECT_THAT(msg(none.status()), HasSubstr(dir_ + "/x:" + dir_ + "/y"));
}

TEST_F(ConfigTest, AuthMethods) {
  std::string tf = write("tok", "file-token\n");
  std::string p = write("k", R"(
current-context: t
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users:
- {name: tf, user: {tokenFile: tok}}
- {name: basic, user: {username: alice, password: s3cret}}
- {name: both, user: {token: a, username: b}}
- {name: gcp, user: {auth-provider: {name: gcp}}}
contexts:
- {name: t, context: {cluster: k, user: tf}}
- {name: b, context: {cluster: k, user: basic}}
- {name: both, context: {cluster: k, user: both}}
- {name: gcp, context: {cluster: k, user: gcp}}
)");
  auto t = load_kubeconfig({.paths = {p}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->bearer_token_file, tf);
  Credentials creds(*t);
  EXPECT_EQ(*creds.authorization(), "Bearer file-token");

  auto b = load_kubeconfig({.paths = {p}, .context = "b"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*Credentials(*b).authorization(), "Basic " + absl::Base64Escape("alice:s3cret"));

  EXPECT_THAT(msg(load_kubeconfig({.paths = {p}, .context = "both"}).status()),
              HasSubstr("more than one authentication method"));
  auto g = load_kubeconfig({.paths = {p}, .context = "gcp"});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(msg(g.status()), HasSubstr("auth-provider (gcp)"));
}

TEST_F(ConfigTest, TokenFileIsReReadAfterTheRefreshInterval) {
  std::string tf = write("tok", "one");
  Config c;
  c.server = "https://h:1";
  c.bearer_token_file = tf;
  absl::Time now = absl::FromUnixSeconds(1000);
  Credentials creds(c, [&] { return now; });
  EXPECT_EQ(*creds.authorization(), "Bearer one");
  write("tok", "two");
  now += absl::Seconds(30);
  EXPECT_EQ(*creds.authorization(), "Bearer one");  // within the minute: cached
  now += absl::Seconds(31);
  EXPECT_EQ(*creds.authorization(), "Bearer two");
  EXPECT_EQ(creds.token_file_reads(), 2);
  // A failed re-read keeps the last good token.
  fs::remove(tf);
  now += absl::Minutes(2);
  EXPECT_EQ(*creds.authorization(), "Bearer two");
}

TEST_F(ConfigTest, InCluster) {
  std::string root = dir_ + "/sa";
  write("sa/token", "sa-token");
  write("sa/ca.crt", "CLUSTER CA");
  write("sa/namespace", "kop-system\n");
  InClusterOptions o{
      .root = root,
      .env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}};
  auto c = in_cluster_config(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->ca_pem, "CLUSTER CA");
  EXPECT_EQ(c->namespace_, "kop-system");
  EXPECT_EQ(c->bearer_token_file, root + "/token");
  EXPECT_EQ(*Credentials(*c).authorization(), "Bearer sa-token");

  o.env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  EXPECT_EQ(in_cluster_config(o)->server, "https://[fd00::1]:443");

  fs::remove(root + "/ca.crt");
  auto no_ca = in_cluster_config(o);
  EXPECT_THAT(msg(no_ca.status()), HasSubstr(root + "/ca.crt does not exist"));
  auto no_env = in_cluster_config({.root = root, .env = {{"X", "y"}}});
  EXPECT_THAT(msg(no_env.status()), HasSubstr("KUBERNETES_SERVICE_HOST"));
}

class ExecTest : public ConfigTest {
 protected:
  // A plugin that records its environment and arguments, then prints `credential`.
  std::string plugin(const std::string& credential) {
    return write("bin/plugin.sh",
                 "#!/bin/sh\n"
                 "echo \"$KUBERNETES_EXEC_INFO\" > \"$(dirname \"$0\")/info.json\"\n"
                 "echo \"$MY_VAR $*\" > \"$(dirname \"$0\")/args.txt\"\n"
                 "cat <<'JSON'\n" +
                     credential + "\nJSON\n",
                 0755);
  }
  std::string read(const std::string& rel) {
    std::ifstream in(fs::path(dir_) / rel);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(ExecTest, V1PluginWithEnvArgsAndCachingUntilExpiry) {
  plugin(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
  "status":{"token":"exec-token","expirationTimestamp":"2030-01-01T00:00:00Z"}})");
  std::string p = write("kube/config", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", certificate-authority-data: Q0E=}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ../bin/plugin.sh
      args: [--cluster, prod]
      env: [{name: MY_VAR, value: hello}]
      interactiveMode: Never
      provideClusterInfo: true
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  auto c = load_kubeconfig({.paths = {p}});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->exec);
  EXPECT_EQ(c->exec->command, dir_ + "/bin/plugin.sh");
  absl::Time now = absl::FromCivil(absl::CivilSecond(2029, 12, 31, 23, 0, 0), absl::UTCTimeZone());
  Credentials creds(*c, [&] { return now; });
  EXPECT_EQ(*creds.authorization(), "Bearer exec-token");
  EXPECT_EQ(*creds.authorization(), "Bearer exec-token");
  EXPECT_EQ(creds.exec_runs(), 1);  // cached until expirationTimestamp
  EXPECT_EQ(read("bin/args.txt"), "hello --cluster prod\n");
  std::string info = read("bin/info.json");
  EXPECT_THAT(info, HasSubstr(R"("kind":"ExecCredential")"));
  EXPECT_THAT(info, HasSubstr(R"("apiVersion":"client.authentication.k8s.io/v1")"));
  EXPECT_THAT(info, HasSubstr(R"("interactive":false)"));
  EXPECT_THAT(info, HasSubstr(R"("server":"https://h:1")"));
  EXPECT_THAT(info, HasSubstr(R"("certificate-authority-data":"Q0E=")"));
  now += absl::Hours(2);  // past expiry: runs again
  EXPECT_EQ(*creds.authorization(), "Bearer exec-token");
  EXPECT_EQ(creds.exec_runs(), 2);
  creds.invalidate();  // after a 401
  EXPECT_EQ(*creds.authorization(), "Bearer exec-token");
  EXPECT_EQ(creds.exec_runs(), 3);
}

TEST_F(ExecTest, V1beta1PluginWithClientCertificate) {
  plugin(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",
  "status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}})");
  Config c;
  c.server = "https://h:1";
  c.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1beta1",
                      .command = dir_ + "/bin/plugin.sh"};
  Credentials creds(c);
  EXPECT_EQ(*creds.authorization(), "");
  auto cert = creds.client_certificate();
  ASSERT_TRUE(cert.ok());
  ASSERT_TRUE(cert->has_value());
  EXPECT_EQ((*cert)->first, "CERT");
  EXPECT_EQ((*cert)->second, "KEY");
  EXPECT_EQ(creds.exec_runs(), 1);  // no expiry: kept
  EXPECT_THAT(read("bin/info.json"), Not(HasSubstr("cluster")));
}

TEST_F(ExecTest, PluginErrorsAreClear) {
  Config c;
  c.server = "https://h:1";
  c.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1",
                      .command = dir_ + "/bin/absent",
                      .install_hint = "install it with apt"};
  auto missing = Credentials(c).authorization();
  EXPECT_THAT(msg(missing.status()), HasSubstr("bin/absent"));
  EXPECT_THAT(msg(missing.status()), HasSubstr("install it with apt"));

  plugin(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",
  "status":{"token":"secret-token"}})");
  c.exec->command = dir_ + "/bin/plugin.sh";
  auto wrong = Credentials(c).authorization();
  EXPECT_THAT(msg(wrong.status()), HasSubstr("plugin returned version"));
  EXPECT_THAT(msg(wrong.status()), Not(HasSubstr("secret-token")));

  write("bin/fail.sh", "#!/bin/sh\nexit 3\n", 0755);
  c.exec->command = dir_ + "/bin/fail.sh";
  EXPECT_THAT(msg(Credentials(c).authorization().status()), HasSubstr("exited with status 3"));

  std::string p = write("k", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: x,
                                interactiveMode: Always}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  EXPECT_THAT(msg(load_kubeconfig({.paths = {p}}).status()),
              HasSubstr("needs an interactive terminal"));
}

}  // namespace
}  // namespace kop::client
