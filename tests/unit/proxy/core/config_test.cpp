// Config: JSON schema parsing (errors carry the JSON path), round trip, semantic validation.
#include "kop/proxy/config.h"

#include <gtest/gtest.h>

#include <string>

#include "kop/proxy/cluster.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

std::string error_of(std::string_view json) {
  auto c = parse_config(json);
  EXPECT_FALSE(c.ok()) << json;
  return c.ok() ? "" : std::string(c.status().message());
}

std::string validate_error(std::string_view json) {
  auto c = parse_config(json);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return "";
  absl::Status s = validate(*c);
  EXPECT_FALSE(s.ok()) << json;
  return std::string(s.message());
}

// A config exercising every field with non-default values.
constexpr std::string_view kFull = R"({
  "version": "kop.proxy/v1",
  "generation": "rev-42",
  "listeners": [
    {"name": "http", "address": "0.0.0.0:8080", "virtual_hosts": ["shop", "all"]},
    {"name": "v6", "address": "[::1]:0", "domain_wildcards": "one_or_more_labels"}
  ],
  "virtual_hosts": [
    {"name": "shop", "domains": ["shop.example.com", "*.shop.example.com"],
     "route_order": "specificity",
     "request_headers": {"add": [{"name": "x-vh", "value": "1"}], "set": [], "remove": ["x-drop"]},
     "routes": [
       {"name": "exact", "match": {"exact": "/cart", "headers": [
          {"name": "X-Canary", "exact": "yes"}, {"name": "x-p", "present": true, "invert": true},
          {"name": "x-r", "regex": "a+b"}, {"name": "x-pre", "prefix": "ab"},
          {"name": "x-suf", "suffix": "yz"}, {"name": "x-c", "contains": "mm"}]},
        "forward": {"clusters": [{"cluster": "a", "weight": 3}, {"cluster": "b", "weight": 1}],
                    "prefix_rewrite": "/v2/cart", "timeout_ms": 2500, "idle_timeout_ms": 100,
                    "retry": {"retry_on": ["5xx", "reset", "retriable-status-codes"],
                              "num_retries": 3, "per_try_timeout_ms": 500,
                              "retry_non_idempotent": true, "retriable_status_codes": [409]},
                    "websocket": true, "response_bytes_per_second": 51200,
                    "response_rate_after_bytes": 1024},
        "response_headers": {"set": [{"name": "x-served-by", "value": "kop"}]}},
       {"match": {"regex": "/item/[0-9]+"}, "forward": {"cluster": "a"}},
       {"match": {"string_prefix": "/st"}, "redirect": {"scheme": "https", "host": "b.example.com",
        "port": 8443, "prefix_rewrite": "/new", "strip_query": true, "code": 308}},
       {"match": {"prefix": "/old"}, "redirect": {"path": "/", "code": 302}},
       {"direct_response": {"status": 503, "body": "down", "content_type": "text/html"}}
     ]},
    {"name": "all", "domains": ["*"], "route_order": "config",
     "routes": [{"forward": {"cluster": "b"}}]}
  ],
  "clusters": [
    {"name": "a", "endpoints": [{"address": "10.0.0.1:80", "weight": 2}, "[fd00::1]:8080"],
     "lb_policy": "ring_hash", "hash_on": {"cookie": "session"}, "ring_size": 1024,
     "ring_subset_size": 3,
     "connect_timeout_ms": 250, "idle_timeout_ms": 1000, "max_connections_per_endpoint": 10,
     "max_connections": 100, "max_pending_requests": 7,
     "outlier_detection": {"enabled": true, "consecutive_5xx": 2, "consecutive_connect_failures": 1,
        "base_ejection_time_ms": 1000, "max_ejection_time_ms": 8000, "max_ejection_percent": 50},
     "health_check": {"path": "/ready", "host": "a.internal", "interval_ms": 2000, "timeout_ms": 300,
        "healthy_threshold": 1, "unhealthy_threshold": 2, "expected_statuses": [200, "300-302"]}},
    {"name": "b", "endpoints": ["backend.local:9000"], "lb_policy": "maglev",
     "hash_on": {"header": "X-User"}, "maglev_table_size": 251, "protocol": "h2c"},
    {"name": "c", "lb_policy": "least_request", "hash_on": {"source_ip": true}}
  ],
  "admin": {"enabled": false, "address": "127.0.0.1:19901"},
  "server": {"workers": 3, "request_header_timeout_ms": 5000, "idle_timeout_ms": 30000,
             "drain_timeout_ms": 2000, "max_request_header_bytes": 32768, "max_uri_bytes": 4096,
             "http2_max_concurrent_streams": 64, "access_log": "json", "access_log_path": "/tmp/a",
             "server_header": "append_if_absent"}
})";

TEST(ConfigParse, Minimal) {
  auto c = parse_config(R"({"version": "kop.proxy/v1"})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->listeners.empty());
  EXPECT_EQ(c->admin.address.to_string(), "127.0.0.1:9901");
  EXPECT_TRUE(c->admin.enabled);
  EXPECT_EQ(c->server.workers, 0u);
  EXPECT_EQ(c->server.server_header, ServerHeader::kOverwrite);
  EXPECT_TRUE(validate(*c).ok());
}

TEST(ConfigParse, FullConfigFields) {
  auto c = parse_config(kFull);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(validate(*c).ok()) << validate(*c);
  EXPECT_EQ(c->generation, "rev-42");
  EXPECT_EQ(c->listeners[1].address.host, "::1");
  EXPECT_EQ(c->listeners[1].address.port, 0);
  const RouteConfig& r0 = c->virtual_hosts[0]->routes[0];
  EXPECT_EQ(r0.match.path.type, PathMatchType::kExact);
  EXPECT_EQ(r0.match.headers.size(), 6u);
  EXPECT_EQ(r0.match.headers[1].type, HeaderMatchType::kPresent);
  EXPECT_TRUE(r0.match.headers[1].invert);
  EXPECT_EQ(r0.forward.clusters.size(), 2u);
  EXPECT_EQ(r0.forward.clusters[0].weight, 3u);
  EXPECT_EQ(r0.forward.timeout, Millis(2500));
  EXPECT_EQ(r0.forward.retry.num_retries, 3u);
  EXPECT_EQ(r0.forward.retry.retry_on, static_cast<uint32_t>(RetryOn::k5xx) |
                                           static_cast<uint32_t>(RetryOn::kReset) |
                                           static_cast<uint32_t>(RetryOn::kRetriableStatusCodes));
  EXPECT_TRUE(r0.forward.websocket);
  EXPECT_EQ(r0.forward.response_bytes_per_second, 51200u);
  EXPECT_EQ(r0.forward.response_rate_after_bytes, 1024u);
  const RouteConfig& r2 = c->virtual_hosts[0]->routes[2];
  EXPECT_EQ(r2.action, ActionType::kRedirect);
  EXPECT_EQ(r2.redirect->code, 308u);
  EXPECT_EQ(*r2.redirect->port, 8443);
  const RouteConfig& r4 = c->virtual_hosts[0]->routes[4];
  EXPECT_EQ(r4.action, ActionType::kDirectResponse);
  EXPECT_EQ(r4.match.path.type, PathMatchType::kPrefix);  // default match: Prefix "/"
  EXPECT_EQ(r4.match.path.value, "/");
  EXPECT_EQ(c->virtual_hosts[1]->route_order, RouteOrder::kConfig);
  const ClusterConfig& a = c->clusters[0];
  EXPECT_EQ(a.endpoints[1].address.host, "fd00::1");
  EXPECT_EQ(a.endpoints[1].weight, 1u);
  EXPECT_EQ(a.hash_on->on, HashOn::kCookie);
  EXPECT_EQ(a.ring_subset_size, 3u);
  ASSERT_TRUE(a.health_check.has_value());
  EXPECT_EQ(a.health_check->expected_statuses.size(), 2u);
  EXPECT_EQ(a.health_check->expected_statuses[1].end, 302u);
  EXPECT_EQ(c->clusters[2]->hash_on->on, HashOn::kSourceIp);
  EXPECT_EQ(c->clusters[1]->protocol, UpstreamProtocol::kH2c);
  EXPECT_EQ(c->server.access_log, AccessLogFormat::kJson);
  EXPECT_EQ(c->server.server_header, ServerHeader::kAppendIfAbsent);
  EXPECT_EQ(c->listeners[0].domain_wildcards, DomainWildcards::kOneLabel);
  EXPECT_EQ(c->listeners[1].domain_wildcards, DomainWildcards::kOneOrMoreLabels);
}

TEST(ConfigParse, DefaultsAreDocumentedValues) {
  auto c = parse_config(R"({"version": "kop.proxy/v1",
    "listeners": [{"name": "l", "address": "127.0.0.1:443", "tls": {"certificates": [
      {"cert_file": "/c.pem", "key_file": "/k.pem"}]}}],
    "virtual_hosts": [{"name": "v", "routes": [{"forward": {"cluster": "c"}}]}],
    "clusters": [{"name": "c"}]})");
  ASSERT_TRUE(c.ok()) << c.status();
  const TlsConfig& tls = *c->listeners[0].tls;
  EXPECT_EQ(tls.min_version, TlsVersion::kTls12);
  EXPECT_EQ(tls.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  const ForwardAction& f = c->virtual_hosts[0]->routes[0].forward;
  EXPECT_EQ(f.timeout, Millis(15000));
  EXPECT_EQ(f.retry.num_retries, 1u);
  EXPECT_EQ(f.retry.retry_on, static_cast<uint32_t>(RetryOn::kConnectFailure));
  EXPECT_FALSE(f.websocket);
  const ClusterConfig& cl = c->clusters[0];
  EXPECT_EQ(cl.lb_policy, LbPolicy::kRoundRobin);
  EXPECT_EQ(cl.protocol, UpstreamProtocol::kHttp1);
  EXPECT_EQ(cl.connect_timeout, Millis(5000));
  EXPECT_EQ(cl.outlier_detection.consecutive_5xx, 5u);
  EXPECT_EQ(cl.outlier_detection.base_ejection_time, Millis(30000));
  EXPECT_EQ(cl.outlier_detection.max_ejection_percent, 10u);
  EXPECT_FALSE(cl.health_check.has_value());
}

TEST(ConfigParse, RoundTrip) {
  auto c = parse_config(kFull);
  ASSERT_TRUE(c.ok()) << c.status();
  for (bool pretty : {true, false}) {
    std::string json = to_json(*c, pretty);
    auto again = parse_config(json);
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << json;
    EXPECT_EQ(*again, *c) << json;
    EXPECT_EQ(to_json(*again, pretty), json);
  }
}

TEST(ConfigParse, RoundTripOfDefaults) {
  Config c;
  auto again = parse_config(to_json(c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, c);
}

struct ErrorCase {
  std::string_view json;
  std::string_view message;
};

TEST(ConfigParse, ErrorsNameTheJsonPath) {
  const ErrorCase cases[] = {
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a"},{"name":"b"},
          {"name":"c","endpoints":[{"address":"10.0.0.1:99999"}]}]})",
       "clusters[2].endpoints[0].address: invalid port \"99999\""},
      {R"({"version":"kop.proxy/v2"})",
       "version: unsupported schema \"kop.proxy/v2\" (expected \"kop.proxy/v1\")"},
      {R"({})", "version: required field missing"},
      {R"({"version":"kop.proxy/v1","bogus":1})", "bogus: unknown field"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"1.2.3.4:80","tls2":{}}]})",
       "listeners[0].tls2: unknown field"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l"}]})",
       "listeners[0].address: required field missing"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"1.2.3.4:80","domain_wildcards":"two"}]})",
       "listeners[0].domain_wildcards: unknown value \"two\" (one_label, one_or_more_labels)"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"::1:80"}]})",
       "listeners[0].address: invalid address \"::1:80\" (IPv6 addresses need brackets: "
       "[v6]:port)"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"localhost"}]})",
       "listeners[0].address: invalid address \"localhost\" (expected host:port)"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":7,"address":"a:1"}]})",
       "listeners[0].name: expected a string, got a number"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"a:1",
          "tls":{"certificates":[{"cert_pem":"x","key_pem":"y"}],"min_version":"1.1"}}]})",
       "listeners[0].tls.min_version: must be \"1.2\" or \"1.3\", got \"1.1\""},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"a:1",
          "tls":{"certificates":[{"cert_pem":"x","cert_file":"y","key_pem":"z"}]}}]})",
       "listeners[0].tls.certificates[0].cert_file: only one of cert_pem and cert_file may be set"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"a:1",
          "tls":{"certificates":[{"cert_pem":"x"}]}}]})",
       "listeners[0].tls.certificates[0]: one of key_pem, key_file is required"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"l","address":"a:1",
          "tls":{"certificates":[{"cert_pem":"x","key_pem":"y"}],"alpn":["spdy/3"]}}]})",
       "listeners[0].tls.alpn[0]: unsupported protocol \"spdy/3\" (h2, http/1.1)"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[{"match":{}}]}]})",
       "virtual_hosts[0].routes[0]: one of forward, redirect, direct_response is required"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"match":{"exact":"/a","prefix":"/b"},"forward":{"cluster":"c"}}]}]})",
       "virtual_hosts[0].routes[0].match.prefix: only one of exact and prefix may be set"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"match":{"prefix":"foo"},"forward":{"cluster":"c"}}]}]})",
       "virtual_hosts[0].routes[0].match.prefix: path must start with '/': \"foo\""},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"match":{"headers":[{"name":"x"}]},"forward":{"cluster":"c"}}]}]})",
       "virtual_hosts[0].routes[0].match.headers[0]: one of exact, present, regex, prefix, suffix, "
       "contains is required"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"forward":{"cluster":"c"},"redirect":{}}]}]})",
       "virtual_hosts[0].routes[0].redirect: only one of forward and redirect may be set"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"redirect":{"code":300}}]}]})",
       "virtual_hosts[0].routes[0].redirect.code: must be 301, 302, 303, 307 or 308, got 300"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"direct_response":{"status":600}}]}]})",
       "virtual_hosts[0].routes[0].direct_response.status: value 600 out of range [100, 599]"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"forward":{"cluster":"c","retry":{"retry_on":["always"]}}}]}]})",
       "virtual_hosts[0].routes[0].forward.retry.retry_on[0]: unknown retry condition \"always\" "
       "(connect-failure, 5xx, gateway-error, reset, retriable-status-codes)"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"forward":{"cluster":"c","timeout_ms":-1}}]}]})",
       "virtual_hosts[0].routes[0].forward.timeout_ms: expected a non-negative integer"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","route_order":"random"}]})",
       "virtual_hosts[0].route_order: must be specificity or config, got \"random\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","lb_policy":"fastest"}]})",
       "clusters[0].lb_policy: unknown policy \"fastest\" (round_robin, weighted_round_robin, "
       "least_request, random, ring_hash, maglev)"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","protocol":"spdy"}]})",
       "clusters[0].protocol: unknown protocol \"spdy\" (http1, h2c, h2)"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","protocol":"h2"}]})",
       "clusters[0].protocol: \"h2\" is HTTP/2 over TLS: set tls (or use \"h2c\" for plain text)"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","protocol":"h2c","tls":{}}]})",
       "clusters[0].protocol: \"h2c\" is HTTP/2 over plain TCP: use \"h2\" with tls"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"sni":"a"}}]})",
       "clusters[0].tls.sni: unknown field"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"ca_pem":"x","ca_file":"y"}}]})",
       "clusters[0].tls.ca_file: only one of ca_pem and ca_file may be set"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"min_version":"1.3",
          "max_version":"1.2"}}]})",
       "clusters[0].tls.max_version: is below min_version"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"client_certificate":{
          "cert_pem":"x"}}}]})",
       "clusters[0].tls.client_certificate: one of key_pem, key_file is required"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","endpoints":[{"address":"a:1","weight":0}]}]})",
       "clusters[0].endpoints[0].weight: value 0 out of range [1, 128]"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","endpoints":["a:0"]}]})",
       "clusters[0].endpoints[0]: invalid port \"0\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","maglev_table_size":100}]})",
       "clusters[0].maglev_table_size: must be prime, got 100"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","health_check":{"expected_statuses":["2xx"]}}]})",
       "clusters[0].health_check.expected_statuses[0]: invalid status range \"2xx\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","outlier_detection":{"max_ejection_percent":101}}]})",
       "clusters[0].outlier_detection.max_ejection_percent: value 101 out of range [0, 100]"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","name":"d"}]})",
       "clusters[0].name: duplicate field"},
      {R"({"version":"kop.proxy/v1","server":{"access_log":"xml"}})",
       "server.access_log: must be off, json or text, got \"xml\""},
      {R"({"version":"kop.proxy/v1","server":{"server_header":"Overwrite"}})",
       "server.server_header: must be overwrite, append_if_absent or pass_through, got "
       "\"Overwrite\""},
      {R"({"version":"kop.proxy/v1","server":{"server_header":true}})",
       "server.server_header: expected a string, got a boolean"},
      {R"({"version":"kop.proxy/v1","admin":{"address":"127.0.0.1:70000"}})",
       "admin.address: invalid port \"70000\""},
      {R"({"version":"kop.proxy/v1","clusters":{}})", "clusters: expected an array, got an object"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(error_of(c.json), c.message) << c.json;
}

TEST(ConfigParse, SyntaxErrors) {
  EXPECT_EQ(error_of("{"), "invalid JSON at offset 1: Missing a name for object member.");
  EXPECT_EQ(error_of(R"({"version":"kop.proxy/v1"} x)"),
            "invalid JSON at offset 27: The document root must not be followed by other values.");
  EXPECT_EQ(error_of("[]"), "expected an object, got an array");
}

TEST(ConfigValidate, SemanticErrorsNameTheJsonPath) {
  const ErrorCase cases[] = {
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a","ring_subset_size":2}]})",
       "clusters[0].ring_subset_size: only ring_hash picks a subset"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"forward":{"cluster":"nope"}}]}]})",
       "virtual_hosts[0].routes[0].forward.cluster: unknown cluster \"nope\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a"}],"virtual_hosts":[{"name":"v","routes":[
          {"forward":{"clusters":[{"cluster":"a","weight":0},{"cluster":"zz","weight":1}]}}]}]})",
       "virtual_hosts[0].routes[0].forward.clusters[1].cluster: unknown cluster \"zz\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a"}],"virtual_hosts":[{"name":"v","routes":[
          {"forward":{"clusters":[{"cluster":"a","weight":0}]}}]}]})",
       "virtual_hosts[0].routes[0].forward.clusters: weights sum to zero"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a"},{"name":"a"}]})",
       "clusters[1].name: duplicate cluster name \"a\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a","endpoints":["1.1.1.1:80","1.1.1.1:80"]}]})",
       "clusters[0].endpoints[1].address: duplicate endpoint \"1.1.1.1:80\""},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v"},{"name":"v"}]})",
       "virtual_hosts[1].name: duplicate virtual host name \"v\""},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","domains":["a.*.com"]}]})",
       "virtual_hosts[0].domains[0]: invalid domain \"a.*.com\" (exact name, *.suffix for one "
       "label, or *)"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","domains":["*example.com"]}]})",
       "virtual_hosts[0].domains[0]: invalid domain \"*example.com\" (exact name, *.suffix for one "
       "label, or *)"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","domains":["A.com","a.COM"]}]})",
       "virtual_hosts[0].domains[1]: duplicate domain \"a.COM\""},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"match":{"regex":"(unclosed"},"direct_response":{}}]}]})",
       "virtual_hosts[0].routes[0].match.regex: invalid regex \"(unclosed\": missing ): (unclosed"},
      {R"j({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"match":{"headers":[{"name":"x","regex":"a)"}]},"direct_response":{}}]}]})j",
       "virtual_hosts[0].routes[0].match.headers[0].regex: invalid regex \"a)\": unexpected ): a)"},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"match":{"headers":[{"name":"bad name","present":true}]},"direct_response":{}}]}]})",
       "virtual_hosts[0].routes[0].match.headers[0].name: invalid header name \"bad name\""},
      {R"({"version":"kop.proxy/v1","virtual_hosts":[{"name":"v","routes":[
          {"direct_response":{},"response_headers":{"add":[{"name":"x","value":"a\r\nb"}]}}]}]})",
       "virtual_hosts[0].routes[0].response_headers.add[0].value: invalid characters in header "
       "value"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"a"}],"virtual_hosts":[{"name":"v","routes":[
          {"match":{"regex":"/x"},"forward":{"cluster":"a","prefix_rewrite":"/y"}}]}]})",
       "virtual_hosts[0].routes[0].forward.prefix_rewrite: not allowed with a regex path match"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"0.0.0.0:80"},
          {"name":"a","address":"0.0.0.0:81"}]})",
       "listeners[1].name: duplicate listener name \"a\""},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"0.0.0.0:80"},
          {"name":"b","address":"10.1.1.1:80"}]})",
       "listeners[1].address: conflicts with listeners[0] (0.0.0.0:80)"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"127.0.0.1:9901"}]})",
       "listeners[0].address: conflicts with admin.address"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"0.0.0.0:80",
          "virtual_hosts":["ghost"]}]})",
       "listeners[0].virtual_hosts[0]: unknown virtual host \"ghost\""},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"0.0.0.0:80"}],
          "virtual_hosts":[{"name":"v","domains":["a.com"]},{"name":"w","domains":["A.com"]}]})",
       "listeners[0]: domain \"A.com\" is served by virtual hosts \"v\" and \"w\""},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"0.0.0.0:443",
          "tls":{"certificates":[{"cert_pem":"garbage","key_pem":"garbage"}]}}]})",
       "listeners[0].tls.certificates[0]: certificate does not parse: no PEM data found"},
      {R"({"version":"kop.proxy/v1","listeners":[{"name":"a","address":"0.0.0.0:443",
          "tls":{"certificates":[{"cert_file":"/nonexistent/c.pem","key_pem":"x"}]}}]})",
       "listeners[0].tls.certificates[0]: cannot read \"/nonexistent/c.pem\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","endpoints":["a:1","b:1","c:1"],
          "lb_policy":"maglev","maglev_table_size":3}]})",
       "clusters[0].maglev_table_size: must exceed the number of endpoints"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","outlier_detection":{
          "base_ejection_time_ms":5000,"max_ejection_time_ms":1000}}]})",
       "clusters[0].outlier_detection.max_ejection_time_ms: is below base_ejection_time_ms"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"ca_pem":"garbage"}}]})",
       "clusters[0].tls.ca_pem: CA certificates do not parse: no PEM data found"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"ca_file":"/nonexistent/ca"}}]})",
       "clusters[0].tls.ca_file: cannot read \"/nonexistent/ca\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"ciphers":"NO-SUCH-CIPHER"}}]})",
       "clusters[0].tls.ciphers: no cipher in \"NO-SUCH-CIPHER\" is known to OpenSSL"},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"server_name":"a b"}}]})",
       "clusters[0].tls.server_name: invalid name \"a b\""},
      {R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{"client_certificate":{
          "cert_pem":"garbage","key_pem":"garbage"}}}]})",
       "clusters[0].tls.client_certificate: certificate does not parse: no PEM data found"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(validate_error(c.json), c.message) << c.json;
}

// Active health checks probe over TLS with the cluster's settings (server/health_check.cpp),
// in HTTP/2 for h2 clusters.
TEST(ConfigValidate, HealthChecksOnTlsClustersAreAccepted) {
  for (const char* protocol : {"http1", "h2"}) {
    auto c = parse_config(std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"c",)") +
                          R"("protocol":")" + protocol + R"(","tls":{},"health_check":{}}]})");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(validate(*c).ok()) << protocol << ": " << validate(*c);
  }
}

TEST(ConfigValidate, UpstreamTlsRoundTripsAndLoads) {
  auto ca = testing::make_certificate({"ca.example.com"});
  auto client = testing::make_certificate({"client.example.com"});
  auto esc = [](const std::string& pem) {
    std::string out;
    for (char ch : pem) out += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    return out;
  };
  std::string json = R"({"version":"kop.proxy/v1","clusters":[{"name":"c","protocol":"h2",
    "endpoints":["10.0.0.1:443"],"tls":{"server_name":"backend.example.com","ca_pem":")" +
                     esc(ca.cert_pem) + R"(","subject_alt_names":["spiffe://a/b","b.example.com"],
    "verify_depth":3,"client_certificate":{"cert_pem":")" +
                     esc(client.cert_pem) + R"(","key_pem":")" + esc(client.key_pem) +
                     R"("},"min_version":"1.3","ciphers":"ECDHE+AESGCM"}}]})";
  auto c = parse_config(json);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(validate(*c).ok()) << validate(*c);
  const ClusterConfig& cl = c->clusters[0];
  EXPECT_EQ(cl.protocol, UpstreamProtocol::kH2);
  ASSERT_TRUE(cl.tls);
  EXPECT_EQ(cl.tls->server_name, "backend.example.com");
  EXPECT_TRUE(cl.tls->verify);
  EXPECT_EQ(cl.tls->verify_depth, 3u);
  EXPECT_EQ(cl.tls->min_version, TlsVersion::kTls13);
  EXPECT_EQ(cl.tls->max_version, TlsVersion::kTls13);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  auto m = load_upstream_tls(*cl.tls);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ca_pem, ca.cert_pem);
  ASSERT_TRUE(m->client);
  EXPECT_EQ(m->client->dns_names, std::vector<std::string>{"client.example.com"});
  // Defaults: verify on, TLS 1.2 to 1.3, the system trust store.
  auto d = parse_config(R"({"version":"kop.proxy/v1","clusters":[{"name":"c","tls":{}}]})");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(validate(*d).ok()) << validate(*d);
  EXPECT_EQ(d->clusters[0]->tls.optional(), UpstreamTlsConfig{});
  EXPECT_EQ(d->clusters[0]->tls->min_version, TlsVersion::kTls12);
}

TEST(ConfigValidate, SameDomainOnDifferentListenersIsFine) {
  auto c = parse_config(R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"http","address":"0.0.0.0:80","virtual_hosts":["redirect"]},
                 {"name":"https","address":"0.0.0.0:443","virtual_hosts":["app"]}],
    "virtual_hosts":[{"name":"redirect","domains":["a.com"]},{"name":"app","domains":["a.com"]}]})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(validate(*c).ok()) << validate(*c);
}

// A listener may select its virtual hosts by name prefix instead of listing them; the prefix
// round-trips, is exclusive with a list, and domains are unique among the hosts it selects.
TEST(ConfigValidate, ListenersSelectHostsByNamePrefix) {
  auto c = parse_config(R"({"version":"kop.proxy/v1",
    "listeners":[{"name":"http","address":"0.0.0.0:80","virtual_host_prefix":"http/"},
                 {"name":"https","address":"0.0.0.0:443","virtual_host_prefix":"https/"}],
    "virtual_hosts":[{"name":"http/a","domains":["a.com"]},{"name":"https/a","domains":["a.com"]}]})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(validate(*c).ok()) << validate(*c);
  EXPECT_EQ(c->listeners[0].virtual_host_prefix, "http/");
  auto again = parse_config(to_json(*c, false));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  auto table = RouteTable::compile(*c);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->find_virtual_host("http", "a.com")->name, "http/a");
  EXPECT_EQ((*table)->find_virtual_host("https", "a.com")->name, "https/a");

  Config both = *c;
  both.listeners[0].virtual_hosts = {"http/a"};
  EXPECT_EQ(validate(both).message(),
            "listeners[0].virtual_host_prefix: exclusive with virtual_hosts");
  Config twice = *c;
  twice.listeners[1].virtual_host_prefix = "http";  // now both hosts, one domain
  EXPECT_EQ(validate(twice).message(),
            "listeners[1]: domain \"a.com\" is served by virtual hosts \"http/a\" and \"https/a\"");
}

TEST(ConfigValidate, CertificatePairIsLoadedAndChecked) {
  auto cert = testing::make_certificate({"a.example.com", "*.b.example.com"});
  auto other = testing::make_certificate({"other.example.com"});
  CertificateConfig cc;
  cc.cert_pem = cert.cert_pem;
  cc.key_pem = cert.key_pem;
  auto loaded = load_certificate(cc);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->dns_names, (std::vector<std::string>{"a.example.com", "*.b.example.com"}));
  EXPECT_GT(loaded->not_after, std::chrono::system_clock::now());
  cc.key_pem = other.key_pem;
  EXPECT_EQ(load_certificate(cc).status().message(), "private key does not match the certificate");
  // From files.
  std::string dir = ::testing::TempDir();
  CertificateConfig files;
  files.cert_file = testing::write_file(dir + "/kop-proxy-cert.pem", cert.cert_pem);
  files.key_file = testing::write_file(dir + "/kop-proxy-key.pem", cert.key_pem);
  auto from_files = load_certificate(files);
  ASSERT_TRUE(from_files.ok()) << from_files.status();
  EXPECT_EQ(from_files->cert_pem, cert.cert_pem);
}

TEST(ConfigParse, AddressForms) {
  auto a = parse_socket_address("[2001:db8::1]:443", false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "2001:db8::1");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->to_string(), "[2001:db8::1]:443");
  EXPECT_FALSE(parse_socket_address("[zz::1]:443", false).ok());
  EXPECT_FALSE(parse_socket_address("host:", false).ok());
  EXPECT_FALSE(parse_socket_address(":80", false).ok());
  EXPECT_FALSE(parse_socket_address("a b:80", false).ok());
  EXPECT_FALSE(parse_socket_address("a:0", false).ok());
  EXPECT_TRUE(parse_socket_address("a:0", true).ok());
  EXPECT_FALSE(parse_socket_address("a:+80", false).ok());
}

TEST(ClusterDiff, ReportsAddedRemovedAndEndpointChanges) {
  auto prev = testing::parse_or_die(R"({"version":"kop.proxy/v1","clusters":[
    {"name":"keep","endpoints":["1.1.1.1:80"]},
    {"name":"gone"},
    {"name":"eps","endpoints":["1.1.1.1:80",{"address":"1.1.1.2:80","weight":2},"1.1.1.3:80"]},
    {"name":"settings","connect_timeout_ms":100}]})");
  auto next = testing::parse_or_die(R"({"version":"kop.proxy/v1","clusters":[
    {"name":"keep","endpoints":["1.1.1.1:80"]},
    {"name":"eps","endpoints":["1.1.1.1:80",{"address":"1.1.1.2:80","weight":3},"1.1.1.4:80"]},
    {"name":"settings","connect_timeout_ms":200},
    {"name":"new"}]})");
  ClusterDiff d = diff_clusters(prev, next);
  EXPECT_EQ(d.added, std::vector<std::string>{"new"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"gone"});
  EXPECT_EQ(d.settings_changed, std::vector<std::string>{"settings"});
  ASSERT_EQ(d.endpoints_changed.size(), 1u);
  EXPECT_EQ(d.endpoints_changed[0].first, "eps");
  const EndpointChange& ch = d.endpoints_changed[0].second;
  ASSERT_EQ(ch.added.size(), 1u);
  EXPECT_EQ(ch.added[0].to_string(), "1.1.1.4:80");
  ASSERT_EQ(ch.removed.size(), 1u);
  EXPECT_EQ(ch.removed[0].to_string(), "1.1.1.3:80");
  ASSERT_EQ(ch.reweighted.size(), 1u);
  EXPECT_EQ(ch.reweighted[0].to_string(), "1.1.1.2:80");
  EXPECT_TRUE(diff_clusters(prev, prev).empty());
}

}  // namespace
}  // namespace kop::proxy
