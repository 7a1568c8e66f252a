// kop-proxy TCP relays end to end: TLS-terminated tcp_proxy (the proxy's own certificate, no
// ALPN protocol, the plaintext relayed both ways with half-close, backpressure and an idle
// timeout) and connections split over two clusters by weight (tcp_proxy and passthrough).
// The real program, TCP upstreams in threads, an OpenSSL client in the test and openssl
// s_client; everything on 127.0.0.1 with ephemeral ports.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "../../common/tls_hello.h"
#include "harness.h"

namespace kop::proxy::e2e {
namespace {

// A blocking TLS client over a real socket (5 s receive timeout).
class TlsClient {
 public:
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ERR_clear_error();
  }
  bool connect(uint16_t port, const std::string& sni) {
    fd_ = connect_to(port);
    if (fd_ < 0) return false;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set_fd(ssl_, fd_);
    return SSL_connect(ssl_) == 1;
  }
  std::string peer_cn() const {
    std::string out;
    if (X509* peer = SSL_get1_peer_certificate(ssl_)) {
      char cn[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      out = cn;
      X509_free(peer);
    }
    return out;
  }
  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  bool write(const std::string& data) {
    for (size_t off = 0; off < data.size();) {
      int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until `want` bytes arrived (0: until the peer's close_notify or EOF).
  std::string read(size_t want = 0) {
    std::string out;
    char buf[16384];
    while (want == 0 || out.size() < want) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        closed_cleanly_ = SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void send_close_notify() { SSL_shutdown(ssl_); }  // our half-close; reading goes on
  bool closed_cleanly() const { return closed_cleanly_; }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool closed_cleanly_ = false;
};

// Upstreams.
void echo_lines(int fd) {  // echoes every byte until EOF
  std::string in;
  while (recv_some(fd, in, 5000)) {
    if (!send_all(fd, in)) return;
    in.clear();
  }
}
void count_then_answer(int fd) {  // reads to EOF, answers the count and 1 MiB, closes
  std::string in;
  while (recv_some(fd, in, 5000)) {
  }
  send_all(fd, "got " + std::to_string(in.size()) + "\n" + std::string(1 << 20, 'z'));
}
void silent(int fd) {
  std::string in;
  while (recv_some(fd, in, 5000)) {
  }
}

std::string cert_json(const std::string& name, const Cert& c) {
  return "{\"name\":\"" + name + "\",\"server_names\":[\"" + name + "\"],\"cert_file\":\"" +
         c.cert_file + "\",\"key_file\":\"" + c.key_file + "\"}";
}
std::string cluster_json(const std::string& name, const std::string& address) {
  return "{\"name\":\"" + name + "\",\"endpoints\":[{\"address\":\"" + address + "\"}]}";
}

class ProxyTcpProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    web_ = make_cert(dir_, "web.example.com");
    tcp_ = make_cert(dir_, "tcp.example.com");
  }
  // An https listener: web.example.com terminated for HTTP, tcp.example.com (and others the
  // caller adds in `tcp_proxy`) terminated and relayed as TCP.
  std::string config(const std::string& tcp_proxy, const std::string& clusters,
                     const std::string& extra_tls = "") {
    return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"https\",\"address\":"
           "\"127.0.0.1:0\",\"tls\":{\"certificates\":[" +
           cert_json("web.example.com", web_) + "," + cert_json("tcp.example.com", tcp_) +
           "],\"tcp_proxy\":[" + tcp_proxy + "]" + extra_tls +
           "}}],\"virtual_hosts\":[{\"name\":\"web\",\"domains\":[\"web.example.com\"],"
           "\"routes\":[{\"match\":{\"prefix\":\"/\"},\"direct_response\":{\"status\":200,"
           "\"body\":\"http here\"}}]}],\"clusters\":[" +
           clusters +
           "],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":2,\"access_log\":"
           "\"json\"}}";
  }
  TempDir dir_;
  Cert web_, tcp_;
};

TEST_F(ProxyTcpProxy, TerminatesTlsWithoutAlpnAndRelaysThePlaintextBothWays) {
  ThreadServer echo(echo_lines);
  ProxyProcess p(dir_, config(R"({"server_names":["tcp.example.com"],"cluster":"echo"})",
                              cluster_json("echo", echo.address())));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("https");

  TlsClient c;
  ASSERT_TRUE(c.connect(port, "tcp.example.com"));
  EXPECT_EQ(c.peer_cn(), "tcp.example.com");
  EXPECT_EQ(c.alpn(), "");  // h2 and http/1.1 offered, nothing agreed: the bytes are opaque
  // Several exchanges on one connection: the relay is interactive, not store-and-forward.
  for (std::string line : {"ping\n", "GET / HTTP/1.1\r\nHost: web.example.com\r\n\r\n", "x"}) {
    ASSERT_TRUE(c.write(line));
    EXPECT_EQ(c.read(line.size()), line);
  }
  c.send_close_notify();
  EXPECT_EQ(c.read(), "");  // the echo sees EOF and closes: its FIN comes back as close_notify
  EXPECT_TRUE(c.closed_cleanly());
  EXPECT_EQ(echo.accepted(), 1);

  // The other name on the listener is still HTTP, with h2 offered.
  auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                "-servername", "web.example.com", "-alpn", "h2,http/1.1"},
               10000, "");
  EXPECT_NE(r.out.find("ALPN protocol: h2"), std::string::npos) << r.out;
  auto t = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                "-servername", "tcp.example.com", "-alpn", "h2,http/1.1"},
               10000, "");
  EXPECT_NE(t.out.find("No ALPN negotiated"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("CN = tcp.example.com"), std::string::npos) << t.out;
  auto h = run({"curl", "-sS", "-k", "--http2", "--resolve",
                "web.example.com:" + std::to_string(port) + ":127.0.0.1",
                "https://web.example.com:" + std::to_string(port) + "/"});
  EXPECT_EQ(h.out, "http here") << h.err;

  EXPECT_TRUE(p.wait_for("\"sni\":\"tcp.example.com\",\"passthrough\":false", 5000)) << p.output();
  auto m = http(p.admin_port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(m.body.find("kop_proxy_tls_tcp_proxy_connections_total 2"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("kop_proxy_tls_passthrough_connections_total 0"), std::string::npos);
}

// The client half-closes (close_notify) after 3 MiB: the upstream sees EOF, still answers
// 1 MiB, and its FIN reaches the client as close_notify. Buffers are 16 KiB: the transfer only
// completes if both directions are pumped with backpressure.
TEST_F(ProxyTcpProxy, HalfCloseBackpressureAndIdleTimeout) {
  ThreadServer counter(count_then_answer);
  ThreadServer quiet(silent);
  ProxyProcess p(dir_, config(R"({"server_names":["tcp.example.com"],"cluster":"count"})",
                              cluster_json("count", counter.address()) + "," +
                                  cluster_json("quiet", quiet.address())));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("https");
  TlsClient c;
  ASSERT_TRUE(c.connect(port, "tcp.example.com"));
  std::string payload(3 << 20, 'y');
  ASSERT_TRUE(c.write(payload));
  c.send_close_notify();
  std::string got = c.read();
  std::string head = "got " + std::to_string(payload.size()) + "\n";
  EXPECT_EQ(got.substr(0, head.size()), head);
  EXPECT_EQ(got.size(), head.size() + (1u << 20));
  EXPECT_TRUE(c.closed_cleanly());

  // Idle: a second name whose entry has a 300 ms idle timeout.
  std::string idle_cfg = config(
      R"({"server_names":["tcp.example.com"],"cluster":"quiet","idle_timeout_ms":300})",
      cluster_json("count", counter.address()) + "," + cluster_json("quiet", quiet.address()));
  ASSERT_TRUE(p.reload(idle_cfg)) << p.output();
  TlsClient idle;
  ASSERT_TRUE(idle.connect(port, "tcp.example.com"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(idle.read(), "");
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 3000);
  EXPECT_EQ(quiet.accepted(), 1);
}

// Each connection picks a cluster by weight (1:3), for tcp_proxy and for passthrough.
TEST_F(ProxyTcpProxy, ConnectionsAreSplitByWeight) {
  auto answer = [](const std::string& who) {
    return [who](int fd) {
      send_all(fd, who);
      ::shutdown(fd, SHUT_WR);
      std::string in;
      while (recv_some(fd, in, 2000)) {
      }
    };
  };
  ThreadServer a(answer("A")), b(answer("B"));
  std::string clusters = cluster_json("a", a.address()) + "," + cluster_json("b", b.address());
  std::string split = R"("clusters":[{"cluster":"a","weight":1},{"cluster":"b","weight":3}])";
  ProxyProcess p(dir_,
                 config(R"({"server_names":["tcp.example.com"],)" + split + "}", clusters,
                        R"(,"passthrough":[{"server_names":["pt.example.com"],)" + split + "}]"));
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("https");
  constexpr int kConnections = 400;
  std::map<std::string, int> tls_picks, pt_picks;
  for (int i = 0; i < kConnections; ++i) {
    TlsClient c;
    ASSERT_TRUE(c.connect(port, "tcp.example.com")) << i;
    ++tls_picks[c.read()];
  }
  std::string hello = kop::testing::openssl_client_hello("pt.example.com");
  for (int i = 0; i < kConnections; ++i) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    send_all(fd, hello);
    ++pt_picks[read_until_close(fd, 5000)];
    ::close(fd);
  }
  // Expected 100 : 300; the tolerance is more than 4 standard deviations (8.7).
  for (auto* picks : {&tls_picks, &pt_picks}) {
    EXPECT_EQ((*picks)["A"] + (*picks)["B"], kConnections);
    EXPECT_NEAR((*picks)["A"], 100, 40);
    EXPECT_NEAR((*picks)["B"], 300, 40);
  }
  EXPECT_EQ(a.accepted() + b.accepted(), 2 * kConnections);
}

TEST_F(ProxyTcpProxy, ConfigErrorsNameTheField) {
  ThreadServer echo(echo_lines);
  // A tcp_proxy name no certificate serves is refused at start, with the field.
  ProxyProcess p(dir_, config(R"({"server_names":["nocert.example.com"],"cluster":"echo"})",
                              cluster_json("echo", echo.address())));
  EXPECT_FALSE(p.started());
  EXPECT_NE(p.output().find("listeners[0].tls.tcp_proxy[0].server_names[0]: no certificate "
                            "serves \"nocert.example.com\""),
            std::string::npos)
      << p.output();
}

}  // namespace
}  // namespace kop::proxy::e2e
