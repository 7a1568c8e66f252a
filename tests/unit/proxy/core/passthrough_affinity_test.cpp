// Config schema additions: TLS passthrough and TLS-terminated tcp_proxy entries (one cluster
// or several by weight), per-certificate minimum TLS version and cookie affinity (parse, round
// trip, validation, compiled lookups and weighted picks, cookie encoding).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "kop/proxy/cluster.h"
#include "kop/proxy/config.h"
#include "kop/proxy/load_balancer.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

using testing::json_escape;

std::string tls_config(const std::string& tls_body,
                       const std::string& clusters = R"({"name": "db", "endpoints": []})") {
  return R"({"version": "kop.proxy/v1", "listeners": [{"name": "https", "address": "0.0.0.0:8443",
    "tls": )" +
         tls_body +
         R"(}], "virtual_hosts": [{"name": "v", "domains": ["*"], "routes": []}],
    "clusters": [)" +
         clusters + "]}";
}

// to_json, parsed again, gives back the same Config.
void expect_round_trip(const Config& c) {
  auto again = parse_config(to_json(c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, c);
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
  EXPECT_EQ(t.passthrough[0].clusters, (std::vector<WeightedCluster>{{"db", 1}}));
  EXPECT_EQ(t.passthrough[0].idle_timeout, Millis(1234));
  EXPECT_EQ(t.certificates[0].min_version, TlsVersion::kTls13);
  expect_round_trip(*c);
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
  const ListenerTcpProxy* exact = (*table)->passthrough_for_sni(l, "db.example.com");
  ASSERT_NE(exact, nullptr);
  ASSERT_EQ(exact->clusters.size(), 1u);
  EXPECT_EQ((*table)->cluster(exact->pick_cluster(12345)).name, "db");
  EXPECT_NE((*table)->passthrough_for_sni(l, "a.pg.example.com."), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, "a.b.pg.example.com"), nullptr);  // one label
  EXPECT_EQ((*table)->passthrough_for_sni(l, "pg.example.com"), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, "web.example.com"), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, ""), nullptr);
  EXPECT_EQ(l.certificates[0]->min_version, TlsVersion::kTls13);
}

TEST_F(PassthroughConfig, MinimumVersionIsTheStricterOfListenerAndCertificate) {
  auto t = testing::compile_or_die(tls_config(R"({"min_version": "1.3", "certificates": [)" +
                                              cert(R"(, "min_version": "1.2")") + "]}"));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->listeners()[0].certificates[0]->min_version, TlsVersion::kTls13);
  auto u = testing::compile_or_die(tls_config(R"({"certificates": [)" + cert() + "]}"));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->listeners()[0].certificates[0]->min_version, TlsVersion::kTls12);
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
            "listeners[0].tls.passthrough[0]: one of cluster, clusters is required");
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

// ---------------------------------------------------------------------------------------------
// Weighted clusters and TLS-terminated tcp_proxy entries.

const char* kTwoClusters = R"({"name": "db", "endpoints": []}, {"name": "db2", "endpoints": []})";

TEST_F(PassthroughConfig, TcpProxyAndWeightedClustersParseRoundTripAndCompile) {
  std::string j = tls_config(R"({"certificates": [)" + cert() + R"(], "passthrough": [
      {"server_names": ["pt.example.com"], "clusters": [{"cluster": "db", "weight": 1},
                                                        {"cluster": "db2", "weight": 3}]}],
      "tcp_proxy": [{"server_names": ["WEB.example.com"], "clusters": [
          {"cluster": "db", "weight": 0}, {"cluster": "db2", "weight": 2}],
        "idle_timeout_ms": 500}]})",
                             kTwoClusters);
  auto c = parse_config(j);
  ASSERT_TRUE(c.ok()) << c.status();
  const TlsConfig& t = *c->listeners[0].tls;
  ASSERT_EQ(t.tcp_proxy.size(), 1u);
  EXPECT_EQ(t.tcp_proxy[0].clusters, (std::vector<WeightedCluster>{{"db", 0}, {"db2", 2}}));
  EXPECT_EQ(t.tcp_proxy[0].idle_timeout, Millis(500));
  EXPECT_EQ(t.passthrough[0].clusters, (std::vector<WeightedCluster>{{"db", 1}, {"db2", 3}}));
  EXPECT_TRUE(validate(*c).ok()) << validate(*c);
  std::string dumped = to_json(*c);
  EXPECT_NE(dumped.find("\"tcp_proxy\""), std::string::npos) << dumped;
  expect_round_trip(*c);
  // A single cluster of weight 1 is dumped in the short form, as before.
  auto single = parse_config(
      tls_config(R"({"passthrough": [{"server_names": ["db.example.com"], "cluster": "db"}]})"));
  ASSERT_TRUE(single.ok());
  EXPECT_NE(to_json(*single).find(R"("cluster": "db")"), std::string::npos) << to_json(*single);
  EXPECT_EQ(to_json(*single).find("tcp_proxy"), std::string::npos);

  auto table = RouteTable::compile(*c);
  ASSERT_TRUE(table.ok()) << table.status();
  const Listener& l = (*table)->listeners()[0];
  const ListenerTcpProxy* tp = (*table)->tcp_proxy_for_sni(l, "web.example.com");
  ASSERT_NE(tp, nullptr);
  EXPECT_EQ(tp->name, "tcp_proxy/WEB.example.com");
  EXPECT_EQ(tp->config->idle_timeout, Millis(500));
  EXPECT_EQ((*table)->tcp_proxy_for_sni(l, "pt.example.com"), nullptr);
  EXPECT_EQ((*table)->passthrough_for_sni(l, "web.example.com"), nullptr);
  EXPECT_EQ((*table)->tcp_proxy_for_sni(l, ""), nullptr);
  // Weight 0 never picked; 1:3 over evenly spread random numbers is exactly 1:3.
  ASSERT_EQ(tp->clusters.size(), 1u);
  const ListenerTcpProxy* pt = (*table)->passthrough_for_sni(l, "pt.example.com");
  ASSERT_NE(pt, nullptr);
  std::map<std::string, int> picks;
  for (uint64_t i = 0; i < 400; ++i) {
    uint64_t random = i * (UINT64_MAX / 400) + UINT64_MAX / 800;  // mid-points of 400 slices
    ++picks[(*table)->cluster(pt->pick_cluster(random)).name];
    EXPECT_EQ((*table)->cluster(tp->pick_cluster(random)).name, "db2");
  }
  EXPECT_EQ(picks["db"], 100);
  EXPECT_EQ(picks["db2"], 300);
}

TEST_F(PassthroughConfig, TcpProxyErrorsNameTheField) {
  auto validate_error = [](const std::string& j) {
    auto c = parse_config(j);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return std::string();
    absl::Status s = validate(*c);
    EXPECT_FALSE(s.ok()) << j;
    return std::string(s.message());
  };
  auto with_cert = [&](const std::string& rest) {
    return tls_config(R"({"certificates": [)" + cert() + "], " + rest + "}", kTwoClusters);
  };
  EXPECT_EQ(validate_error(with_cert(
                R"("tcp_proxy": [{"server_names": ["other.example.com"], "cluster": "db"}])")),
            "listeners[0].tls.tcp_proxy[0].server_names[0]: no certificate serves "
            "\"other.example.com\"");
  EXPECT_EQ(validate_error(with_cert(
                R"("tcp_proxy": [{"server_names": ["web.example.com"], "cluster": "nope"}])")),
            "listeners[0].tls.tcp_proxy[0].cluster: unknown cluster \"nope\"");
  EXPECT_EQ(validate_error(with_cert(R"("tcp_proxy": [{"server_names": ["web.example.com"],
                "clusters": [{"cluster": "db", "weight": 0}, {"cluster": "db2", "weight": 0}]}])")),
            "listeners[0].tls.tcp_proxy[0].clusters: weights sum to zero");
  EXPECT_EQ(validate_error(with_cert(R"("tcp_proxy": [{"server_names": ["web.example.com"],
                "clusters": [{"cluster": "db", "weight": 2}, {"cluster": "x", "weight": 1}]}])")),
            "listeners[0].tls.tcp_proxy[0].clusters[1].cluster: unknown cluster \"x\"");
  EXPECT_EQ(validate_error(with_cert(
                R"("tcp_proxy": [{"server_names": ["web.example.com"], "cluster": "db"},
                                 {"server_names": ["web.example.com"], "cluster": "db2"}])")),
            "listeners[0].tls.tcp_proxy[1].server_names[0]: server name \"web.example.com\" is "
            "used twice (by tcp_proxy entries)");
  EXPECT_EQ(validate_error(with_cert(
                R"("passthrough": [{"server_names": ["pt.example.com"], "cluster": "db"}],
                   "tcp_proxy": [{"server_names": ["pt.example.com"], "cluster": "db"}])")),
            "listeners[0].tls.tcp_proxy[0].server_names[0]: no certificate serves "
            "\"pt.example.com\"");
  // A wildcard certificate serves a name one label below it; a passthrough name still wins.
  auto wc = testing::make_certificate({"*.example.org"});
  std::string wild = R"({"name": "wild", "server_names": ["*.example.org"], "cert_pem": ")" +
                     json_escape(wc.cert_pem) + R"(", "key_pem": ")" + json_escape(wc.key_pem) +
                     "\"}";
  auto ok = parse_config(tls_config(R"({"certificates": [)" + wild + R"(], "tcp_proxy": [
      {"server_names": ["tcp.example.org"], "cluster": "db"}]})"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(validate(*ok).ok()) << validate(*ok);
  EXPECT_EQ(validate_error(tls_config(R"({"certificates": [)" + wild + R"(],
      "passthrough": [{"server_names": ["tcp.example.org"], "cluster": "db"}],
      "tcp_proxy": [{"server_names": ["tcp.example.org"], "cluster": "db"}]})")),
            "listeners[0].tls.tcp_proxy[0].server_names[0]: server name \"tcp.example.org\" is "
            "a passthrough name");
  EXPECT_EQ(validate_error(tls_config(R"({"certificates": [)" + wild + R"(], "tcp_proxy": [
      {"server_names": ["a.b.example.org"], "cluster": "db"}]})")),
            "listeners[0].tls.tcp_proxy[0].server_names[0]: no certificate serves "
            "\"a.b.example.org\"");
  auto parse_error = parse_config(with_cert(R"("tcp_proxy": [{"server_names": ["web.example.com"],
                "cluster": "db", "clusters": []}])"));
  ASSERT_FALSE(parse_error.ok());
  EXPECT_EQ(parse_error.status().message(),
            "listeners[0].tls.tcp_proxy[0].clusters: only one of cluster and clusters may be set");
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
  const HashPolicy& h = c->clusters[0]->hash_on;
  EXPECT_TRUE(h.set_cookie);
  EXPECT_EQ(h.cookie_ttl, Millis(60000));
  EXPECT_EQ(h.cookie_path, "/app");
  expect_round_trip(*c);
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
