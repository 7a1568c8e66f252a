// Config schema additions: TLS passthrough entries, per-certificate minimum TLS version and
// cookie affinity (parse, round trip, validation, compiled lookups, cookie encoding).
#include <gtest/gtest.h>

#include <string>

#include "kop/proxy/cluster.h"
#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

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

std::string tls_config(const std::string& tls_body,
                       const std::string& clusters = R"({"name": "db", "endpoints": []})") {
  return R"({"version": "kop.proxy/v1", "listeners": [{"name": "https", "address": "0.0.0.0:8443",
    "tls": )" +
         tls_body +
         R"(}], "virtual_hosts": [{"name": "v", "domains": ["*"], "routes": []}],
    "clusters": [)" +
         clusters + "]}";
}

class PassthroughConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = testing::make_certificate({"web.example.com"});
    cert_ = R"({"name": "web", "server_names": ["web.example.com"], "cert_pem": ")" +
            json_escape(c.cert_pem) + R"(", "key_pem": ")" + json_escape(c.key_pem) + "\"";
  }
  std::string cert(const std::string& extra = "") { return cert_ + extra + "}"; }
  std::string cert_;
};

TEST_F(PassthroughConfig, ParsesRoundTripsAndCompiles) {
  std::string j = tls_config(R"({"certificates": [)" + cert(R"(, "min_version": "1.3")") +
                             R"(], "passthrough": [
      {"server_names": ["db.example.com", "*.pg.example.com"], "cluster": "db",
       "idle_timeout_ms": 1234}]})");
  auto c = parse_config(j);
  ASSERT_TRUE(c.ok()) << c.status();
  const TlsConfig& t = *c->listeners[0].tls;
  ASSERT_EQ(t.passthrough.size(), 1u);
  EXPECT_EQ(t.passthrough[0].cluster, "db");
  EXPECT_EQ(t.passthrough[0].idle_timeout, Millis(1234));
  EXPECT_EQ(t.certificates[0].min_version, TlsVersion::kTls13);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  // Defaults: 1 hour idle timeout, no per-certificate version; nothing written when absent.
  auto d = parse_config(
      tls_config(R"({"passthrough": [{"server_names": ["db.example.com"], "cluster": "db"}]})"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->listeners[0].tls->passthrough[0].idle_timeout, Millis(3600000));
  auto plain = parse_config(tls_config(R"({"certificates": [)" + cert() + "]}"));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->listeners[0].tls->certificates[0].min_version.has_value());
  EXPECT_EQ(to_json(*plain).find("passthrough"), std::string::npos);

  auto table = RouteTable::compile(*c);
  ASSERT_TRUE(table.ok()) << table.status();
  const Listener& l = (*table)->listeners()[0];
  const ListenerPassthrough* exact = (*table)->passthrough_for_sni(l, "db.example.com");
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ((*table)->cluster(exact->cluster).name, "db");
  EXPECT_NE((*table)->passthrough_for_sni(l, "a.pg.example.com."), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, "a.b.pg.example.com"), nullptr);  // one label
  EXPECT_EQ((*table)->passthrough_for_sni(l, "pg.example.com"), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, "web.example.com"), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, ""), nullptr);
  EXPECT_EQ(l.certificates[0].min_version, TlsVersion::kTls13);
}

TEST_F(PassthroughConfig, MinimumVersionIsTheStricterOfListenerAndCertificate) {
  auto t = testing::compile_or_die(tls_config(R"({"min_version": "1.3", "certificates": [)" +
                                              cert(R"(, "min_version": "1.2")") + "]}"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->listeners()[0].certificates[0].min_version, TlsVersion::kTls13);
  auto u = testing::compile_or_die(tls_config(R"({"certificates": [)" + cert() + "]}"));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->listeners()[0].certificates[0].min_version, TlsVersion::kTls12);
}

TEST_F(PassthroughConfig, ErrorsNameTheJsonPath) {
  auto parse_error = [](const std::string& j) {
    auto c = parse_config(j);
    EXPECT_FALSE(c.ok()) << j;
    return c.ok() ? std::string() : std::string(c.status().message());
  };
  auto validate_error = [](const std::string& j) {
    auto c = parse_config(j);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return std::string();
    absl::Status s = validate(*c);
    EXPECT_FALSE(s.ok()) << j;
    return std::string(s.message());
  };
  EXPECT_EQ(parse_error(tls_config(R"({"passthrough": [{"cluster": "db"}]})")),
            "listeners[0].tls.passthrough[0].server_names: at least one name is required");
  EXPECT_EQ(parse_error(tls_config(R"({"passthrough": [{"server_names": ["a.b"]}]})")),
            "listeners[0].tls.passthrough[0].cluster: required field missing");
  EXPECT_EQ(parse_error(tls_config(
                R"({"passthrough": [{"server_names": ["a.b"], "cluster": "db", "x": 1}]})")),
            "listeners[0].tls.passthrough[0].x: unknown field");
  EXPECT_EQ(
      parse_error(tls_config(R"({"certificates": [)" + cert(R"(, "min_version": "1.1")") + "]}")),
      "listeners[0].tls.certificates[0].min_version: must be \"1.2\" or \"1.3\", got "
      "\"1.1\"");
  EXPECT_EQ(parse_error(tls_config(R"({"certificates": []})")),
            "listeners[0].tls.certificates: at least one certificate is required (or a "
            "passthrough entry)");
  EXPECT_EQ(validate_error(tls_config(
                R"({"passthrough": [{"server_names": ["a.example.com"], "cluster": "nope"}]})")),
            "listeners[0].tls.passthrough[0].cluster: unknown cluster \"nope\"");
  EXPECT_EQ(validate_error(tls_config(R"({"certificates": [)" + cert() + R"(], "passthrough": [
                {"server_names": ["WEB.example.com"], "cluster": "db"}]})")),
            "listeners[0].tls.passthrough[0].server_names[0]: server name \"WEB.example.com\" is "
            "used twice (by certificates or passthrough entries)");
  EXPECT_EQ(validate_error(tls_config(
                R"({"passthrough": [{"server_names": ["bad name"], "cluster": "db"}]})")),
            "listeners[0].tls.passthrough[0].server_names[0]: invalid server name \"bad name\"");
}

std::string cookie_cluster(const std::string& hash_on) {
  return R"({"version": "kop.proxy/v1", "clusters": [{"name": "c", "endpoints": [
    {"address": "10.0.0.1:80"}, {"address": "10.0.0.2:80"}, {"address": "10.0.0.3:80"}],
    "lb_policy": "ring_hash", "hash_on": )" +
         hash_on + "}]}";
}

TEST(CookieAffinity, ParsesRoundTripsAndValidates) {
  auto c = parse_config(cookie_cluster(
      R"({"cookie": "X-Trouble", "set_cookie": true, "cookie_ttl_ms": 60000, "cookie_path": "/app"})"));
  ASSERT_TRUE(c.ok()) << c.status();
  const HashPolicy& h = c->clusters[0].hash_on;
  EXPECT_TRUE(h.set_cookie);
  EXPECT_EQ(h.cookie_ttl, Millis(60000));
  EXPECT_EQ(h.cookie_path, "/app");
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  // Cookie options only with a cookie.
  EXPECT_FALSE(parse_config(cookie_cluster(R"({"header": "x", "set_cookie": true})")).ok());
  auto bad = parse_config(cookie_cluster(R"({"cookie": "s", "cookie_path": "/a; Secure"})"));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(validate(*bad).message(),
            "clusters[0].hash_on.cookie_path: invalid cookie path \"/a; Secure\"");
}

TEST(CookieAffinity, ValueNamesTheEndpointAndTheBalancerPrefersIt) {
  auto parsed = parse_config(cookie_cluster(R"({"cookie": "s", "set_cookie": true})"));
  ASSERT_TRUE(parsed.ok());
  auto cl = compile_cluster(parsed->clusters[0]);
  ASSERT_TRUE(cl.ok()) << cl.status();
  const Cluster& c = **cl;
  for (uint32_t i = 0; i < 3; ++i) {
    std::string v = c.affinity_value(i);
    EXPECT_EQ(v.size(), 16u);
    EXPECT_EQ(c.affinity_endpoint(v), i);
  }
  EXPECT_NE(c.affinity_value(0), c.affinity_value(1));
  EXPECT_EQ(c.affinity_endpoint("nothex-nothex-00"), kNoEndpoint);
  EXPECT_EQ(c.affinity_endpoint("00"), kNoEndpoint);
  EXPECT_EQ(c.affinity_endpoint(""), kNoEndpoint);
  // The same address gives the same value in another compile (another process, a reload).
  auto again = compile_cluster(parsed->clusters[0]);
  EXPECT_EQ((*again)->affinity_value(2), c.affinity_value(2));

  std::string out;
  c.append_set_cookie(1, "/shop", out);
  EXPECT_EQ(out, "set-cookie: s=" + c.affinity_value(1) + "; Path=/shop; HttpOnly\r\n");
  out.clear();
  c.append_set_cookie(1, "", out);
  EXPECT_EQ(out, "set-cookie: s=" + c.affinity_value(1) + "; Path=/; HttpOnly\r\n");

  auto lb = make_load_balancer(c, 7);
  LbContext ctx;
  ctx.now = MonoClock::now();
  for (uint32_t want = 0; want < 3; ++want) {
    ctx.preferred = want;
    for (int k = 0; k < 5; ++k) EXPECT_EQ(lb->choose(ctx), want);
  }
  // An excluded (already tried) preferred endpoint is not returned.
  uint32_t tried[] = {1};
  ctx.preferred = 1;
  ctx.exclude = tried;
  for (int k = 0; k < 5; ++k) EXPECT_NE(lb->choose(ctx), 1u);
}

}  // namespace
}  // namespace kop::proxy
