// kop-proxy over TLS: SNI certificate choice (openssl s_client), ALPN on every context, curl
// over https, 421 for a Host of another virtual host, minimum version, session resumption.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

class ProxyTls : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = make_cert(dir_, "a.example.com");
    b_ = make_cert(dir_, "b.example.com");
  }
  std::string config(const std::string& tls_extra = "") {
    auto cert = [](const std::string& name, const Cert& c) {
      return "{\"name\":\"" + name + "\",\"server_names\":[\"" + name +
             ".example.com\"],\"cert_file\":\"" + c.cert_file + "\",\"key_file\":\"" + c.key_file +
             "\"}";
    };
    auto vhost = [](const std::string& name) {
      return "{\"name\":\"" + name + "\",\"domains\":[\"" + name +
             ".example.com\"],\"routes\":[{\"match\":{\"prefix\":\"/\"},\"direct_response\":{"
             "\"status\":200,\"body\":\"vhost " +
             name + "\"}}]}";
    };
    return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"https\",\"address\":\"127."
           "0.0.1:0\",\"tls\":{\"certificates\":[" +
           cert("a", a_) + "," + cert("b", b_) + "],\"default_certificate\":\"a\"" + tls_extra +
           "}}],\"virtual_hosts\":[" + vhost("a") + "," + vhost("b") +
           "],\"clusters\":[],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":"
           "2}}";
  }
  // config() with vhost b forwarded to `be` (cluster "be") instead of its direct response.
  std::string config_to_backend(const Backend& be) {
    std::string cfg = config();
    std::string from =
        "{\"match\":{\"prefix\":\"/\"},\"direct_response\":{\"status\":200,\"body\":\"vhost "
        "b\"}}";
    cfg.replace(cfg.find(from), from.size(),
                "{\"match\":{\"prefix\":\"/\"},\"forward\":{\"cluster\":\"be\"}}");
    cfg.replace(
        cfg.find("\"clusters\":[]"), 13,
        "\"clusters\":[{\"name\":\"be\",\"endpoints\":[{\"address\":\"" + be.address() + "\"}]}]");
    return cfg;
  }
  CmdResult s_client(uint16_t port, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"openssl", "s_client", "-connect",
                                     "127.0.0.1:" + std::to_string(port)};
    for (const auto& e : extra) argv.push_back(e);
    return run(argv, 10000, "");
  }
  CmdResult curl(uint16_t port, const std::string& sni_host,
                 const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"curl",
                                     "-sS",
                                     "-k",
                                     "--resolve",
                                     sni_host + ":" + std::to_string(port) + ":127.0.0.1",
                                     "-w",
                                     "\\n%{http_code} %{http_version}"};
    for (const auto& e : extra) argv.push_back(e);
    argv.push_back("https://" + sni_host + ":" + std::to_string(port) + "/");
    return run(argv, 10000);
  }
  TempDir dir_;
  Cert a_, b_;
};

TEST_F(ProxyTls, SniSelectsTheCertificate) {
  ProxyProcess p(dir_, config());
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t port = p.port("https");
  auto b = s_client(port, {"-servername", "b.example.com"});
  EXPECT_NE(b.out.find("CN = b.example.com"), std::string::npos) << b.out;
  auto a = s_client(port, {"-servername", "a.example.com"});
  EXPECT_NE(a.out.find("CN = a.example.com"), std::string::npos) << a.out;
  auto none = s_client(port, {"-noservername"});
  EXPECT_NE(none.out.find("CN = a.example.com"), std::string::npos) << none.out;
  auto unknown = s_client(port, {"-servername", "zzz.example.org"});
  EXPECT_NE(unknown.out.find("CN = a.example.com"), std::string::npos) << unknown.out;
}

TEST_F(ProxyTls, AlpnAnsweredOnEveryCertificateContext) {
  ProxyProcess p(dir_, config());
  ASSERT_TRUE(p.started()) << p.output();
  for (const char* name : {"a.example.com", "b.example.com"}) {
    auto h2 = s_client(p.port("https"), {"-servername", name, "-alpn", "h2,http/1.1"});
    EXPECT_NE(h2.out.find("ALPN protocol: h2"), std::string::npos) << name << h2.out;
    auto h1 = s_client(p.port("https"), {"-servername", name, "-alpn", "http/1.1"});
    EXPECT_NE(h1.out.find("ALPN protocol: http/1.1"), std::string::npos) << name << h1.out;
  }
  // A listener configured for HTTP/1.1 only does not offer h2.
  TempDir d2;
  ProxyProcess h1only(d2, config(",\"alpn\":[\"http/1.1\"]"));
  ASSERT_TRUE(h1only.started()) << h1only.output();
  auto r = s_client(h1only.port("https"), {"-servername", "b.example.com", "-alpn", "h2,http/1.1"});
  EXPECT_NE(r.out.find("ALPN protocol: http/1.1"), std::string::npos) << r.out;
}

TEST_F(ProxyTls, CurlOverTlsReachesTheSniVirtualHost) {
  ProxyProcess p(dir_, config());
  ASSERT_TRUE(p.started()) << p.output();
  auto a = curl(p.port("https"), "a.example.com", {});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, "vhost a\n200 2");
  auto b = curl(p.port("https"), "b.example.com", {"--http2"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, "vhost b\n200 2");
}

TEST_F(ProxyTls, MisdirectedRequestWhenHostDiffersFromSni) {
  ProxyProcess p(dir_, config());
  ASSERT_TRUE(p.started()) << p.output();
  auto r = curl(p.port("https"), "a.example.com", {"-H", "Host: b.example.com"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("421"), std::string::npos) << r.out;
  auto same = curl(p.port("https"), "a.example.com", {"-H", "Host: A.example.com:443"});
  EXPECT_NE(same.out.find("vhost a"), std::string::npos) << same.out;
}

TEST_F(ProxyTls, OneOrMoreLabelWildcardsServeDeepNamesOverTls) {
  // A Gateway front door's listener: "*.w.example.com" covers a.b.w.example.com for the
  // certificate (SNI) and the virtual host (Host); the longest wildcard wins; a listener left at
  // one label does not reach deep names.
  Cert wild = make_cert(dir_, "*.w.example.com");
  auto vhost = [](const std::string& name, const std::string& domain) {
    return "{\"name\":\"" + name + "\",\"domains\":[\"" + domain +
           "\"],\"routes\":[{\"match\":{\"prefix\":\"/\"},\"direct_response\":{\"status\":200,"
           "\"body\":\"vhost " +
           name + "\"}}]}";
  };
  auto listener = [&](const std::string& name, const std::string& wildcards) {
    return "{\"name\":\"" + name +
           "\",\"address\":\"127.0.0.1:0\",\"tls\":{\"certificates\":[{\"name\":\"a\","
           "\"server_names\":[\"a.example.com\"],\"cert_file\":\"" +
           a_.cert_file + "\",\"key_file\":\"" + a_.key_file +
           "\"},{\"name\":\"w\",\"server_names\":[\"*.w.example.com\"],\"cert_file\":\"" +
           wild.cert_file + "\",\"key_file\":\"" + wild.key_file +
           "\"}],\"default_certificate\":\"a\"},\"domain_wildcards\":\"" + wildcards + "\"}";
  };
  std::string cfg = "{\"version\":\"kop.proxy/v1\",\"listeners\":[" +
                    listener("gateway", "one_or_more_labels") + "," +
                    listener("ingress", "one_label") + "],\"virtual_hosts\":[" +
                    vhost("wild", "*.w.example.com") + "," + vhost("deep", "*.x.w.example.com") +
                    "],\"clusters\":[],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{"
                    "\"workers\":2}}";
  ProxyProcess p(dir_, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  uint16_t gw = p.port("gateway");
  auto cert = s_client(gw, {"-servername", "a.b.w.example.com"});
  EXPECT_NE(cert.out.find("CN = *.w.example.com"), std::string::npos) << cert.out;
  auto one = curl(gw, "b.w.example.com", {});
  EXPECT_EQ(one.out, "vhost wild\n200 2") << one.err;
  auto two = curl(gw, "a.b.w.example.com", {"--http1.1"});
  EXPECT_EQ(two.out, "vhost wild\n200 1.1") << two.err;
  auto deep = curl(gw, "a.b.x.w.example.com", {});
  EXPECT_EQ(deep.out, "vhost deep\n200 2") << deep.err;
  auto bare = curl(gw, "w.example.com", {});
  EXPECT_NE(bare.out.find("404 2"), std::string::npos) << bare.out;

  uint16_t ingress = p.port("ingress");
  auto ingress_cert = s_client(ingress, {"-servername", "a.b.w.example.com"});
  EXPECT_NE(ingress_cert.out.find("CN = a.example.com"), std::string::npos) << ingress_cert.out;
  auto ingress_deep = curl(ingress, "a.b.w.example.com", {"-H", "Host: a.b.w.example.com"});
  EXPECT_NE(ingress_deep.out.find("404"), std::string::npos) << ingress_deep.out;
}

TEST_F(ProxyTls, MinimumVersionIsEnforced) {
  ProxyProcess p(dir_, config(",\"min_version\":\"1.3\""));
  ASSERT_TRUE(p.started()) << p.output();
  auto old = s_client(p.port("https"), {"-servername", "a.example.com", "-tls1_2"});
  EXPECT_EQ(old.out.find("CN = a.example.com"), std::string::npos);
  auto ok = s_client(p.port("https"), {"-servername", "a.example.com", "-tls1_3"});
  EXPECT_NE(ok.out.find("TLSv1.3"), std::string::npos) << ok.out;
  TempDir d2;
  ProxyProcess p12(d2, config());
  ASSERT_TRUE(p12.started());
  auto v12 = s_client(p12.port("https"), {"-servername", "a.example.com", "-tls1_1"});
  EXPECT_EQ(v12.out.find("Cipher is ECDHE"), std::string::npos) << v12.out;
}

TEST_F(ProxyTls, SessionsAreResumed) {
  ProxyProcess p(dir_, config());
  ASSERT_TRUE(p.started()) << p.output();
  std::string sess = dir_.file("sess.pem");
  auto first =
      s_client(p.port("https"), {"-servername", "b.example.com", "-tls1_2", "-sess_out", sess});
  EXPECT_NE(first.out.find("New, TLSv1.2"), std::string::npos) << first.out;
  auto again =
      s_client(p.port("https"), {"-servername", "b.example.com", "-tls1_2", "-sess_in", sess});
  EXPECT_NE(again.out.find("Reused, TLSv1.2"), std::string::npos) << again.out;
}

TEST_F(ProxyTls, Http2StreamsToHttp1Upstream) {
  Backend be([](const BackendRequest& q) {
    BackendResponse r;
    r.body = q.method + " " + q.target + " " + std::to_string(q.body.size());
    if (q.target == "/chunked") r.chunked = true;
    return r;
  });
  std::string cfg = config_to_backend(be);
  ProxyProcess p(dir_, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  dir_.write("body.bin", std::string(200000, 'q'));
  auto post = curl(p.port("https"), "b.example.com",
                   {"--http2", "--data-binary", "@" + dir_.file("body.bin")});
  ASSERT_EQ(post.exit_code, 0) << post.err;
  EXPECT_EQ(post.out, "POST / 200000\n200 2");
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("host"), "b.example.com:" + std::to_string(p.port("https")));
  EXPECT_EQ(reqs[0].header("x-forwarded-proto"), "https");
  // Many concurrent streams on few connections (h2load), every one answered.
  auto load = run({"h2load", "-n", "2000", "-c", "4", "-m", "20", "-H", ":authority: b.example.com",
                   "https://127.0.0.1:" + std::to_string(p.port("https")) + "/chunked"},
                  60000);
  EXPECT_NE(load.out.find("2000 succeeded, 0 failed"), std::string::npos) << load.out;
  EXPECT_NE(load.out.find("2000 2xx"), std::string::npos) << load.out;
  EXPECT_NE(load.out.find("Application protocol: h2"), std::string::npos);
}

// h2load -D stops at a deadline with streams still in flight, so client connections close
// while upstream answers for their streams arrive in the same loop turn: the proxy must not
// touch a closed connection (a flush posted after its deletion was posted crashed it).
TEST_F(ProxyTls, Http2ClientsLeavingWithStreamsInFlight) {
  Backend be;
  std::string cfg = config_to_backend(be);
  ProxyProcess p(dir_, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  std::string url = "https://127.0.0.1:" + std::to_string(p.port("https")) + "/";
  for (int i = 0; i < 4; ++i) {
    auto load =
        run({"h2load", "-c", "20", "-m", "10", "-D", "1", "-H", ":authority: b.example.com", url},
            30000);
    EXPECT_NE(load.out.find("Application protocol: h2"), std::string::npos) << load.out;
  }
  // Still serving (a crash would refuse this).
  auto after = curl(p.port("https"), "b.example.com", {"--http2"});
  EXPECT_EQ(after.exit_code, 0) << after.err << p.output();
}

TEST_F(ProxyTls, ProxiesToUpstreamWithForwardedProto) {
  Backend be;
  std::string cfg = config_to_backend(be);
  ProxyProcess p(dir_, cfg);
  ASSERT_TRUE(p.started()) << p.output();
  auto r = curl(p.port("https"), "b.example.com", {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("backend " + std::to_string(be.port())), std::string::npos) << r.out;
  auto reqs = be.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("x-forwarded-proto"), "https");
}

}  // namespace
}  // namespace kop::proxy::e2e
