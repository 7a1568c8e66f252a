// kop-proxy client certificates (a certificate's client_auth): real TLS 1.2 and 1.3 handshakes
// with curl and openssl s_client presenting certificates made by a test CA, over HTTP/1.1 and
// HTTP/2: the 400 answers, optional modes, the error page, the subject match, the ssl-client-*
// fields the backend sees (and never the client's own), and no CertificateRequest for hosts
// without client_auth.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace kop::proxy::e2e {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') o.push_back('\\');
    o.push_back(c);
  }
  return o;
}

std::string url_decode(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      o.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      o.push_back(s[i]);
    }
  }
  return o;
}

// A CA and the certificates it signs, made with the openssl command.
struct Ca {
  std::string name, cert_file, key_file;
};

Ca make_ca(const TempDir& dir, const std::string& name) {
  Ca ca{name, dir.file(name + "-ca.crt"), dir.file(name + "-ca.key")};
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout", ca.key_file, "-out",
       ca.cert_file},
      20000);
  return ca;
}

Cert make_client(const TempDir& dir, const Ca& ca, const std::string& file,
                 const std::string& subj) {
  Cert c{dir.file(file + ".crt"), dir.file(file + ".key")};
  std::string csr = dir.file(file + ".csr");
  run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-subj", subj, "-keyout", c.key_file, "-out", csr},
      20000);
  run({"openssl", "x509", "-req", "-in", csr, "-CA", ca.cert_file, "-CAkey", ca.key_file,
       "-CAcreateserial", "-days", "2", "-out", c.cert_file},
      20000);
  return c;
}

struct Answer {
  int exit_code = -1;
  std::string status;   // "200"
  std::string version;  // "1.1" or "2"
  std::string headers;  // the response head as curl dumped it
  std::string body;
  std::string err;
};

class ProxyClientCert : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = make_ca(dir_, "Test CA");
    other_ca_ = make_ca(dir_, "Other CA");
    client_ = make_client(dir_, ca_, "client", "/O=Example/CN=client");
    stranger_ = make_client(dir_, other_ca_, "stranger", "/O=Elsewhere/CN=stranger");
    self_signed_ = make_cert(dir_, "self.example.com");
    for (const char* name : {"a", "b", "o", "n", "e", "m", "p"})
      certs_[name] = make_cert(dir_, std::string(name) + ".example.com");
  }

  // Certificates a (client_auth on), b (none; the default), o (optional), n (optional_no_ca),
  // e (on, error page), m (on, subject must match another name), p (on, certificate passed
  // upstream); each name its own virtual host forwarding to `be`.
  std::string config(const Backend& be) {
    std::string ca = "\"ca_pem\":\"" + json_escape(read_text(ca_.cert_file)) + "\"";
    std::vector<std::pair<std::string, std::string>> auth = {
        {"a", "{" + ca + "}"},
        {"b", ""},
        {"o", "{" + ca + ",\"verify\":\"optional\"}"},
        {"n", "{" + ca + ",\"verify\":\"optional_no_ca\"}"},
        {"e", "{" + ca + ",\"error_page\":\"https://errors.example.com/cert\"}"},
        {"m", "{" + ca + ",\"match_subject\":\"CN=someone-else\"}"},
        {"p", "{" + ca + ",\"pass_certificate\":true}"},
    };
    std::string certs, vhosts;
    for (const auto& [name, client_auth] : auth) {
      const Cert& c = certs_[name];
      if (!certs.empty()) certs += ",";
      certs.append("{\"name\":\"")
          .append(name)
          .append("\",\"server_names\":[\"")
          .append(name)
          .append(".example.com\"],\"cert_file\":\"")
          .append(c.cert_file)
          .append("\",\"key_file\":\"")
          .append(c.key_file)
          .append("\"");
      if (!client_auth.empty()) certs.append(",\"client_auth\":").append(client_auth);
      certs += "}";
      if (!vhosts.empty()) vhosts += ",";
      vhosts.append("{\"name\":\"")
          .append(name)
          .append("\",\"domains\":[\"")
          .append(name)
          .append(
              ".example.com\"],\"routes\":[{\"match\":{\"prefix\":\"/\"},\"forward\":{"
              "\"cluster\":\"be\"}}]}");
    }
    return "{\"version\":\"kop.proxy/v1\",\"listeners\":[{\"name\":\"https\",\"address\":\"127."
           "0.0.1:0\",\"tls\":{\"certificates\":[" +
           certs + "],\"default_certificate\":\"b\"}}],\"virtual_hosts\":[" + vhosts +
           "],\"clusters\":[{\"name\":\"be\",\"endpoints\":[{\"address\":\"" + be.address() +
           "\"}]}],\"admin\":{\"address\":\"127.0.0.1:0\"},\"server\":{\"workers\":2}}";
  }

  // curl to https://<name>.example.com (SNI and Host the name; "" for neither: the address),
  // with `extra` options (--cert, --http2, -H...).
  Answer curl(const std::string& name, const std::vector<std::string>& extra) {
    std::string host = name + ".example.com";
    std::string port = std::to_string(proxy_->port("https"));
    std::vector<std::string> argv = {
        "curl", "-sS", "-k", "-D", "-", "-w", "\n%{http_code} %{http_version}"};
    if (!name.empty()) {
      argv.emplace_back("--resolve");
      argv.push_back(host + ":" + port + ":127.0.0.1");
    }
    for (const auto& e : extra) argv.push_back(e);
    argv.push_back(name.empty() ? "https://127.0.0.1:" + port + "/"
                                : "https://" + host + ":" + port + "/");
    CmdResult r = run(argv, 15000);
    Answer a;
    a.exit_code = r.exit_code;
    a.err = r.err;
    size_t nl = r.out.rfind('\n');
    std::string last = nl == std::string::npos ? r.out : r.out.substr(nl + 1);
    size_t sp = last.find(' ');
    a.status = last.substr(0, sp);
    if (sp != std::string::npos) a.version = last.substr(sp + 1);
    std::string rest = nl == std::string::npos ? "" : r.out.substr(0, nl);
    size_t end = rest.find("\r\n\r\n");
    a.headers = end == std::string::npos ? rest : rest.substr(0, end);
    a.body = end == std::string::npos ? "" : rest.substr(end + 4);
    return a;
  }
  std::vector<std::string> with(const Cert& c) {
    return {"--cert", c.cert_file, "--key", c.key_file};
  }
  template <typename... More>
  std::vector<std::string> with(const Cert& c, More... more) {
    std::vector<std::string> v = with(c);
    (v.push_back(more), ...);
    return v;
  }
  BackendRequest last_request() {
    auto all = be_.requests();
    return all.empty() ? BackendRequest{} : all.back();
  }
  void start() {
    proxy_ = std::make_unique<ProxyProcess>(dir_, config(be_));
    ASSERT_TRUE(proxy_->started()) << proxy_->output();
  }

  TempDir dir_;
  Ca ca_, other_ca_;
  Cert client_, stranger_, self_signed_;
  std::map<std::string, Cert> certs_;
  Backend be_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(ProxyClientCert, RequiredCertificateOverTls13AndTls12) {
  start();
  for (std::vector<std::string> version :
       {std::vector<std::string>{"--tlsv1.3"},
        std::vector<std::string>{"--tlsv1.2", "--tls-max", "1.2"}}) {
    std::string v = version[0];
    Answer none = curl("a", version);
    ASSERT_EQ(none.exit_code, 0) << v << none.err;
    EXPECT_EQ(none.status, "400") << v;
    EXPECT_EQ(none.body, "No required SSL certificate was sent\n") << v;
    std::vector<std::string> opts = with(client_);
    opts.insert(opts.end(), version.begin(), version.end());
    size_t before = be_.request_count();
    Answer ok = curl("a", opts);
    ASSERT_EQ(ok.exit_code, 0) << v << ok.err;
    EXPECT_EQ(ok.status, "200") << v << ok.body;
    ASSERT_EQ(be_.request_count(), before + 1) << v;
    BackendRequest r = last_request();
    EXPECT_EQ(r.header("ssl-client-verify"), "SUCCESS") << v;
    EXPECT_EQ(r.header("ssl-client-subject-dn"), "CN=client,O=Example") << v;
    EXPECT_EQ(r.header("ssl-client-issuer-dn"), "CN=Test CA") << v;
    EXPECT_EQ(r.count("ssl-client-cert"), 0) << v;
    opts = with(stranger_);
    opts.insert(opts.end(), version.begin(), version.end());
    Answer bad = curl("a", opts);
    ASSERT_EQ(bad.exit_code, 0) << v << bad.err;
    EXPECT_EQ(bad.status, "400") << v;
    EXPECT_EQ(bad.body, "The SSL certificate error\n") << v;
  }
  // Only the two accepted requests reached the backend.
  EXPECT_EQ(be_.request_count(), 2u);
}

TEST_F(ProxyClientCert, Http2CarriesTheSameAnswersAndFields) {
  start();
  Answer none = curl("a", {"--http2"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.status + " " + none.version, "400 2");
  EXPECT_EQ(none.body, "No required SSL certificate was sent\n");
  Answer ok = curl("a", with(client_, "--http2"));
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.status + " " + ok.version, "200 2");
  BackendRequest r = last_request();
  EXPECT_EQ(r.header("ssl-client-verify"), "SUCCESS");
  EXPECT_EQ(r.header("ssl-client-subject-dn"), "CN=client,O=Example");
  EXPECT_EQ(r.header("ssl-client-issuer-dn"), "CN=Test CA");
}

TEST_F(ProxyClientCert, ClientSentFieldsNeverReachTheBackend) {
  start();
  // With a certificate: the proxy's own values, once each, whatever the client wrote.
  for (const char* proto : {"--http1.1", "--http2"}) {
    Answer ok = curl("a", with(client_, proto, "-H", "ssl-client-verify: FORGED", "-H",
                               "SSL-Client-Subject-DN: CN=admin", "-H", "ssl-client-cert: x"));
    ASSERT_EQ(ok.status, "200") << proto << ok.err;
    BackendRequest r = last_request();
    EXPECT_EQ(r.count("ssl-client-verify"), 1) << proto;
    EXPECT_EQ(r.header("ssl-client-verify"), "SUCCESS") << proto;
    EXPECT_EQ(r.count("ssl-client-subject-dn"), 1) << proto;
    EXPECT_EQ(r.header("ssl-client-subject-dn"), "CN=client,O=Example") << proto;
    EXPECT_EQ(r.count("ssl-client-cert"), 0) << proto;
    // A host without client_auth: none of them at all.
    Answer plain = curl("b", {proto, "-H", "ssl-client-verify: SUCCESS", "-H",
                              "ssl-client-subject-dn: CN=admin", "-H", "x-other: kept"});
    ASSERT_EQ(plain.status, "200") << proto << plain.err;
    r = last_request();
    EXPECT_EQ(r.count("ssl-client-verify"), 0) << proto;
    EXPECT_EQ(r.count("ssl-client-subject-dn"), 0) << proto;
    EXPECT_EQ(r.header("x-other"), "kept") << proto;
  }
}

TEST_F(ProxyClientCert, OnlyHostsWithClientAuthRequestACertificate) {
  start();
  uint16_t port = proxy_->port("https");
  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    auto s_client = [&](const std::string& name) {
      return run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                  "-servername", name, version},
                 10000, "");
    };
    CmdResult a = s_client("a.example.com");
    EXPECT_NE(a.out.find("Acceptable client certificate CA names"), std::string::npos)
        << version << a.out;
    EXPECT_NE(a.out.find("CN = Test CA"), std::string::npos) << version << a.out;
    CmdResult b = s_client("b.example.com");
    EXPECT_NE(b.out.find("CN = b.example.com"), std::string::npos) << version << b.out;
    // kop-proxy names its CAs whenever it asks for a certificate: no names, no request.
    EXPECT_NE(b.out.find("No client certificate CA names sent"), std::string::npos)
        << version << b.out;
    EXPECT_EQ(b.out.find("Acceptable client certificate CA names"), std::string::npos)
        << version << b.out;
  }
}

TEST_F(ProxyClientCert, OptionalModes) {
  start();
  // optional: no certificate passes (NONE); a certificate of another CA does not.
  Answer none = curl("o", {});
  EXPECT_EQ(none.status, "200") << none.err;
  EXPECT_EQ(last_request().header("ssl-client-verify"), "NONE");
  EXPECT_EQ(last_request().count("ssl-client-subject-dn"), 0);
  Answer ok = curl("o", with(client_));
  EXPECT_EQ(ok.status, "200") << ok.err;
  EXPECT_EQ(last_request().header("ssl-client-verify"), "SUCCESS");
  Answer bad = curl("o", with(stranger_));
  EXPECT_EQ(bad.status, "400") << bad.err;
  // optional_no_ca: an untrusted issuer passes, its failure told to the backend.
  Answer self = curl("n", with(self_signed_));
  EXPECT_EQ(self.status, "200") << self.err;
  EXPECT_EQ(last_request().header("ssl-client-verify"), "FAILED:self-signed certificate");
  EXPECT_EQ(last_request().header("ssl-client-subject-dn"), "CN=self.example.com");
  Answer stranger = curl("n", with(stranger_));
  EXPECT_EQ(stranger.status, "200") << stranger.err;
  EXPECT_EQ(last_request().header("ssl-client-verify").rfind("FAILED:", 0), 0u);
  Answer nothing = curl("n", {});
  EXPECT_EQ(nothing.status, "200") << nothing.err;
  EXPECT_EQ(last_request().header("ssl-client-verify"), "NONE");
}

TEST_F(ProxyClientCert, ErrorPageSubjectMatchAndPassedCertificate) {
  start();
  Answer none = curl("e", {});
  EXPECT_EQ(none.status, "302") << none.err;
  EXPECT_NE(none.headers.find("location: https://errors.example.com/cert\r\n"), std::string::npos)
      << none.headers;
  Answer bad = curl("e", with(stranger_));
  EXPECT_EQ(bad.status, "302") << bad.err;
  EXPECT_EQ(curl("e", with(client_)).status, "200");
  size_t before = be_.request_count();
  Answer refused = curl("m", with(client_));
  EXPECT_EQ(refused.status, "403") << refused.err;
  EXPECT_EQ(refused.body, "client certificate unauthorized\n");
  EXPECT_EQ(be_.request_count(), before);
  Answer passed = curl("p", with(client_, "--http2"));
  ASSERT_EQ(passed.status, "200") << passed.err;
  std::string escaped = last_request().header("ssl-client-cert");
  EXPECT_EQ(escaped.rfind("-----BEGIN%20CERTIFICATE-----%0A", 0), 0u) << escaped;
  EXPECT_EQ(url_decode(escaped), read_text(client_.cert_file));
}

TEST_F(ProxyClientCert, TheConnectionsCertificatePolicyDecides) {
  start();
  // No SNI: the handshake used the default certificate (b, no certificate asked for), so a
  // request naming a.example.com in Host has presented none under a's policy.
  Answer no_sni = curl("", with(client_, "-H", "Host: a.example.com"));
  ASSERT_EQ(no_sni.exit_code, 0) << no_sni.err;
  EXPECT_EQ(no_sni.status, "400");
  EXPECT_EQ(no_sni.body, "No required SSL certificate was sent\n");
  // SNI of b with Host a: another virtual host, 421 as for any host.
  Answer other = curl("b", with(client_, "-H", "Host: a.example.com"));
  EXPECT_EQ(other.status, "421") << other.err;
  // The default certificate's own hosts are served.
  EXPECT_EQ(curl("", {"-H", "Host: b.example.com"}).status, "200");
}

}  // namespace
}  // namespace kop::proxy::e2e
