// kop-proxy speaking TLS to its endpoints (a cluster's "tls"): a test CA made with openssl, a
// Python HTTP/1.1 server over TLS (tls_echo.py, which reports the SNI, ALPN, resumption and
// client certificate it saw) and nghttpd over TLS for HTTP/2 ("protocol": "h2") with trailers.
// Verification against the CA, the name checks (server_name, subjectAltName DNS/URI/IP),
// verification failures answered 502 with the reason in the proxy's log, verify off, mutual
// TLS, session resumption on a new connection, real curl and nghttp as clients.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

bool openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  if (r.exit_code != 0) ADD_FAILURE() << "openssl " << args[0] << ": " << r.err;
  return r.exit_code == 0;
}

// A CA (`name`.crt/.key) and certificates it signs, EC P-256, in `dir`.
void make_ca(const TempDir& dir, const std::string& name) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", dir.file(name + ".key"), "-out", dir.file(name + ".crt"), "-subj",
           "/CN=" + name, "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign"});
}

void make_leaf(const TempDir& dir, const std::string& ca, const std::string& name,
               const std::string& cn, const std::string& extensions) {
  dir.write(name + ".ext", extensions + "\n");
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
           dir.file(name + ".key"), "-out", dir.file(name + ".csr"), "-subj", "/CN=" + cn});
  openssl({"x509", "-req", "-in", dir.file(name + ".csr"), "-CA", dir.file(ca + ".crt"), "-CAkey",
           dir.file(ca + ".key"), "-CAcreateserial", "-out", dir.file(name + ".crt"), "-days", "2",
           "-extfile", dir.file(name + ".ext")});
}

// A PEM file as the inside of a JSON string (newlines escaped; PEM has no quotes).
std::string pem_json(const std::string& path) {
  std::ifstream in(path);
  std::string out, line;
  while (std::getline(in, line)) out += line + "\\n";
  return out;
}

std::string config(const std::string& cluster) {
  return R"({"version":"kop.proxy/v1","listeners":[{"name":"http","address":"127.0.0.1:0"}],
    "virtual_hosts":[{"name":"vh","domains":["*"],"routes":[{"match":{"prefix":"/"},
      "forward":{"cluster":"b","timeout_ms":10000}}]}],
    "clusters":[)" +
         cluster + R"(],"admin":{"address":"127.0.0.1:0"},"server":{"workers":1}})";
}

class UpstreamTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have("openssl") || !have("python3") || !have("curl"))
      GTEST_SKIP() << "openssl, python3 or curl missing";
    dir_ = std::make_unique<TempDir>();
    make_ca(*dir_, "ca");
    make_ca(*dir_, "other-ca");
    make_leaf(*dir_, "ca", "server", "backend.test",
              "subjectAltName=DNS:backend.test,URI:spiffe://kop.test/backend,IP:127.0.0.1");
    make_leaf(*dir_, "ca", "client", "kop-proxy-client", "extendedKeyUsage=clientAuth");
    const char* script = std::getenv("KOP_TLS_ECHO");
    script_ = script ? script : "tls_echo.py";
  }
  void TearDown() override {
    if (proxy_) proxy_->terminate();
  }

  // The Python TLS backend; `client_ca`: it requires a client certificate signed by it.
  void start_backend(const std::string& client_ca = "") {
    uint16_t port = free_port();
    std::vector<std::string> argv = {"python3", script_, std::to_string(port),
                                     dir_->file("server.crt"), dir_->file("server.key")};
    if (!client_ca.empty()) argv.push_back(client_ca);
    backend_ = std::make_unique<ChildServer>(argv, port);
    ASSERT_TRUE(backend_->ready()) << "tls_echo.py did not start";
  }

  // kop-proxy with one cluster "b" to the backend, its "tls" object as given; `extra`: more
  // members of the cluster (",\"health_check\":{...}").
  void start_proxy(const std::string& tls, const std::string& protocol = "http1",
                   const std::string& extra = "") {
    proxy_ = std::make_unique<ProxyProcess>(
        *dir_, config(R"({"name":"b","protocol":")" + protocol + R"(","endpoints":[")" +
                      backend_->address() + R"("],"tls":)" + tls + extra + "}"));
    ASSERT_TRUE(proxy_->started()) << (proxy_ ? proxy_->output() : "");
    base_ = "http://127.0.0.1:" + std::to_string(proxy_->port("http"));
  }

  CmdResult curl(const std::string& path) {
    return run({"curl", "-sS", "-w", "\\nstatus=%{http_code}\\n", base_ + path});
  }

  std::string metric(const std::string& name) {
    auto r = run(
        {"curl", "-sS", "http://127.0.0.1:" + std::to_string(proxy_->admin_port()) + "/metrics"});
    size_t at = r.out.find("\n" + name + " ");
    if (at == std::string::npos) return "";
    size_t from = at + name.size() + 2;
    return r.out.substr(from, r.out.find('\n', from) - from);
  }

  std::string ca_file() const { return dir_->file("ca.crt"); }

  // Waits (up to 20 s: a loaded sanitizer build) until the active health checks report the
  // endpoint at `address` healthy ("1") or not ("0").
  bool health_becomes(const std::string& address, const std::string& want) {
    std::string name =
        "kop_proxy_upstream_endpoint_healthy{cluster=\"b\",endpoint=\"" + address + "\"}";
    for (int i = 0; i < 400; ++i) {
      if (metric(name) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << name << " = " << metric(name) << ", want " << want;
    return false;
  }

  std::unique_ptr<TempDir> dir_;
  std::string script_;
  std::unique_ptr<ChildServer> backend_;
  std::unique_ptr<ProxyProcess> proxy_;
  std::string base_;
};

TEST_F(UpstreamTls, VerifiedAgainstTheCaWithSniAndAlpn) {
  start_backend();
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() + R"("})");
  auto r = curl("/hello");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sni=backend.test\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("alpn=http/1.1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("path=/hello\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("client=\n"), std::string::npos) << r.out;
}

TEST_F(UpstreamTls, NewConnectionsResumeTheSession) {
  start_backend();
  start_proxy(R"({"server_name":"backend.test","ca_pem":")" + pem_json(ca_file()) + R"("})");
  // Each answer closes its connection: every request handshakes again.
  for (int i = 0; i < 3; ++i) {
    auto r = curl("/close");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("status=200"), std::string::npos) << r.out;
    if (i > 0) {
      EXPECT_NE(r.out.find("resumed=True"), std::string::npos) << i << "\n" << r.out;
    }
  }
  EXPECT_EQ(metric("kop_proxy_upstream_tls_resumed_total"), "2");
  EXPECT_EQ(metric("kop_proxy_upstream_tls_failures_total"), "0");
}

TEST_F(UpstreamTls, UntrustedCertificateIs502WithTheReasonLogged) {
  start_backend();
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + dir_->file("other-ca.crt") +
              R"("})");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=502"), std::string::npos) << r.out;
  EXPECT_TRUE(proxy_->wait_for("upstream TLS to " + backend_->address(), 5000));
  EXPECT_NE(proxy_->output().find("certificate verify failed: unable to get local issuer"),
            std::string::npos)
      << proxy_->output();
  EXPECT_NE(metric("kop_proxy_upstream_tls_failures_total"), "0");
}

TEST_F(UpstreamTls, WrongServerNameIs502) {
  start_backend();
  start_proxy(R"({"server_name":"other.test","ca_file":")" + ca_file() + R"("})");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=502"), std::string::npos) << r.out;
  EXPECT_TRUE(proxy_->wait_for("certificate verify failed: hostname mismatch", 5000))
      << proxy_->output();
  EXPECT_NE(proxy_->output().find("(SNI other.test)"), std::string::npos) << proxy_->output();
}

TEST_F(UpstreamTls, VerifyOffAcceptsAnyCertificate) {
  start_backend();
  start_proxy(R"({"server_name":"other.test","verify":false,"ca_file":")" +
              dir_->file("other-ca.crt") + R"("})");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sni=other.test\n"), std::string::npos) << r.out;
}

TEST_F(UpstreamTls, NoServerNameChecksTheEndpointAddress) {
  // The certificate carries IP:127.0.0.1; no SNI is sent for an address.
  start_backend();
  start_proxy(R"({"ca_file":")" + ca_file() + R"("})");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sni=\n"), std::string::npos) << r.out;
}

TEST_F(UpstreamTls, SubjectAltNamesDnsAndUri) {
  start_backend();
  // A DNS name other than the SNI, and a URI (checked after the handshake).
  for (const char* sans : {R"(["backend.test"])", R"(["spiffe://kop.test/backend"])"}) {
    start_proxy(R"({"server_name":"sni.only.test","subject_alt_names":)" + std::string(sans) +
                R"(,"ca_file":")" + ca_file() + R"("})");
    auto r = curl("/x");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("status=200"), std::string::npos) << sans << "\n" << r.out;
    EXPECT_NE(r.out.find("sni=sni.only.test\n"), std::string::npos) << r.out;
    proxy_->terminate();
  }
  start_proxy(R"({"server_name":"backend.test","subject_alt_names":["spiffe://kop.test/other"],
                  "ca_file":")" +
              ca_file() + R"("})");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=502"), std::string::npos) << r.out;
  EXPECT_TRUE(proxy_->wait_for("no subjectAltName matches spiffe://kop.test/other", 5000))
      << proxy_->output();
}

TEST_F(UpstreamTls, ClientCertificateForMutualTls) {
  start_backend(ca_file());
  // Without a client certificate the backend refuses the connection.
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() + R"("})");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=502"), std::string::npos) << r.out;
  proxy_->terminate();
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() +
              R"(","client_certificate":{"cert_file":")" + dir_->file("client.crt") +
              R"(","key_file":")" + dir_->file("client.key") + R"("}})");
  r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("client=kop-proxy-client\n"), std::string::npos) << r.out;
}

TEST_F(UpstreamTls, InvalidSettingsAreRefusedNamingTheField) {
  start_backend();
  dir_->write("bad.pem", "not a certificate\n");
  auto p = std::make_unique<ProxyProcess>(
      *dir_, config(R"({"name":"b","endpoints":[")" + backend_->address() +
                    R"("],"tls":{"ca_file":")" + dir_->file("bad.pem") + R"("}})"));
  EXPECT_FALSE(p->started());
  EXPECT_NE(p->output().find("clusters[0].tls.ca_file: CA certificates do not parse"),
            std::string::npos)
      << p->output();
}

// HTTP/2 over TLS: nghttpd offers h2 by ALPN; the response trailer reaches an HTTP/2 client.
TEST_F(UpstreamTls, Http2OverTlsWithTrailers) {
  if (!have("nghttpd") || !have("nghttp")) GTEST_SKIP() << "nghttpd or nghttp missing";
  ::mkdir(dir_->file("docs").c_str(), 0755);
  dir_->write("docs/index.html", "hello over h2 and TLS\n");
  uint16_t port = free_port();
  backend_ = std::make_unique<ChildServer>(
      std::vector<std::string>{"nghttpd", "--echo-upload", "--trailer", "grpc-status: 0", "-d",
                               dir_->file("docs"), "-a", "127.0.0.1", std::to_string(port),
                               dir_->file("server.key"), dir_->file("server.crt")},
      port);
  ASSERT_TRUE(backend_->ready());
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() + R"("})", "h2");
  auto r = run({"nghttp", "-v", base_ + "/index.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t body = r.out.find("hello over h2 and TLS");
  size_t trailer = r.out.find("grpc-status: 0");
  ASSERT_NE(body, std::string::npos) << r.out;
  ASSERT_NE(trailer, std::string::npos) << r.out;
  EXPECT_LT(body, trailer) << r.out;
  // An HTTP/1.1 client too, with a body echoed back.
  auto e = run({"curl", "-sS", "--data-binary", "ping over TLS", base_ + "/echo"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, "ping over TLS");
}

constexpr const char* kHealthCheck =
    R"(,"health_check":{"path":"/healthz","interval_ms":100,"timeout_ms":2000,)"
    R"("unhealthy_threshold":2,"healthy_threshold":2})";

// Active health checks of a TLS cluster probe over TLS with its settings: the endpoint is
// healthy while it answers, out when it goes down, back when it returns; an endpoint whose
// certificate does not carry the cluster's name fails its probes too.
TEST_F(UpstreamTls, ActiveHealthChecksOverTlsFollowTheBackendDownAndUp) {
  start_backend();
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() + R"("})", "http1",
              kHealthCheck);
  std::string address = backend_->address();
  ASSERT_TRUE(health_becomes(address, "1"));
  EXPECT_NE(curl("/x").out.find("status=200"), std::string::npos);
  auto port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  backend_.reset();  // down
  ASSERT_TRUE(health_becomes(address, "0"));
  backend_ = std::make_unique<ChildServer>(
      std::vector<std::string>{"python3", script_, std::to_string(port), dir_->file("server.crt"),
                               dir_->file("server.key")},
      port);
  ASSERT_TRUE(backend_->ready());
  ASSERT_TRUE(health_becomes(address, "1"));
  EXPECT_NE(curl("/x").out.find("status=200"), std::string::npos);
}

TEST_F(UpstreamTls, ActiveHealthCheckThatCannotVerifyTheEndpointFails) {
  start_backend();
  start_proxy(R"({"server_name":"other.test","ca_file":")" + ca_file() + R"("})", "http1",
              kHealthCheck);
  ASSERT_TRUE(health_becomes(backend_->address(), "0"));
}

// An "h2" cluster's probes are HTTP/2 over TLS (ALPN h2): nghttpd answers /healthz from its
// document root, so removing the file (404) takes the endpoint out and restoring it brings it
// back.
TEST_F(UpstreamTls, ActiveHealthChecksInHttp2OverTls) {
  if (!have("nghttpd")) GTEST_SKIP() << "nghttpd missing";
  ::mkdir(dir_->file("docs").c_str(), 0755);
  dir_->write("docs/healthz", "ok\n");
  uint16_t port = free_port();
  backend_ = std::make_unique<ChildServer>(
      std::vector<std::string>{"nghttpd", "-d", dir_->file("docs"), "-a", "127.0.0.1",
                               std::to_string(port), dir_->file("server.key"),
                               dir_->file("server.crt")},
      port);
  ASSERT_TRUE(backend_->ready());
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() + R"("})", "h2",
              kHealthCheck);
  ASSERT_TRUE(health_becomes(backend_->address(), "1"));
  ASSERT_EQ(::unlink(dir_->file("docs/healthz").c_str()), 0);
  ASSERT_TRUE(health_becomes(backend_->address(), "0"));
  dir_->write("docs/healthz", "ok\n");
  ASSERT_TRUE(health_becomes(backend_->address(), "1"));
}

// "h2" against an endpoint that speaks only http/1.1: the handshake finds no h2 and says so.
TEST_F(UpstreamTls, Http2NeedsAlpnH2) {
  start_backend();
  start_proxy(R"({"server_name":"backend.test","ca_file":")" + ca_file() + R"("})", "h2");
  auto r = curl("/x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("status=502"), std::string::npos) << r.out;
  EXPECT_TRUE(proxy_->wait_for("upstream TLS to " + backend_->address(), 5000));
  EXPECT_NE(proxy_->output().find("ALPN"), std::string::npos) << proxy_->output();
}

}  // namespace
}  // namespace kop::proxy::e2e
