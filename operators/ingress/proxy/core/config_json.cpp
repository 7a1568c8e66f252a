// to_json(): Config -> the kop.proxy/v1 JSON schema, every field written (defaults included).
#include <string>
#include <string_view>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "kop/proxy/config.h"

namespace kop::proxy {
namespace {

template <typename W>
class Out {
 public:
  Out(W& w, Secrets secrets) : w_(w), redact_(secrets == Secrets::kRedact) {}

  void key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void kv(std::string_view k, std::string_view v) { key(k), str(v); }
  void kv(std::string_view k, const char* v) { key(k), str(v); }
  void kv(std::string_view k, const std::string& v) { key(k), str(v); }
  void kv(std::string_view k, bool v) { key(k), w_.Bool(v); }
  void kv(std::string_view k, uint32_t v) { key(k), w_.Uint(v); }
  void kv(std::string_view k, Millis v) { key(k), w_.Uint64(static_cast<uint64_t>(v.count())); }
  void strings(std::string_view k, const std::vector<std::string>& v) {
    key(k);
    w_.StartArray();
    for (const auto& s : v) str(s);
    w_.EndArray();
  }
  void begin_object(std::string_view k) { key(k), w_.StartObject(); }
  void begin_array(std::string_view k) { key(k), w_.StartArray(); }

  void mirrors(const std::vector<MirrorPolicy>& list) {
    if (list.empty()) return;
    begin_array("mirrors");
    for (const MirrorPolicy& m : list) {
      w_.StartObject();
      kv("cluster", m.cluster);
      kv("per_million", m.per_million);
      w_.EndObject();
    }
    w_.EndArray();
  }

  // The short form for one cluster of weight 1, as it is usually written.
  void cluster_choice(const std::vector<WeightedCluster>& clusters) {
    if (clusters.size() == 1 && clusters[0].weight == 1 && clusters[0].direct_status == 0 &&
        clusters[0].request_headers->empty() && clusters[0].response_headers->empty() &&
        clusters[0].mirrors.empty()) {
      kv("cluster", clusters[0].cluster);
      return;
    }
    begin_array("clusters");
    for (const auto& wc : clusters) {
      w_.StartObject();
      if (wc.direct_status != 0) {
        kv("direct_status", wc.direct_status);
      } else {
        kv("cluster", wc.cluster);
      }
      kv("weight", wc.weight);
      if (!wc.request_headers->empty()) headers("request_headers", wc.request_headers);
      if (!wc.response_headers->empty()) headers("response_headers", wc.response_headers);
      mirrors(wc.mirrors);
      w_.EndObject();
    }
    w_.EndArray();
  }

  void relays(std::string_view k, const std::vector<TcpProxyConfig>& list) {
    if (list.empty()) return;
    begin_array(k);
    for (const auto& pt : list) {
      w_.StartObject();
      strings("server_names", pt.server_names);
      cluster_choice(pt.clusters);
      kv("idle_timeout_ms", pt.idle_timeout);
      w_.EndObject();
    }
    w_.EndArray();
  }

  void headers(std::string_view k, const HeaderMutation& m) {
    begin_object(k);
    auto values = [&](std::string_view name, const std::vector<HeaderValue>& vs) {
      begin_array(name);
      for (const auto& hv : vs) {
        w_.StartObject();
        kv("name", hv.name);
        kv("value", hv.value);
        w_.EndObject();
      }
      w_.EndArray();
    };
    values("add", m.add);
    values("set", m.set);
    strings("remove", m.remove);
    w_.EndObject();
  }

  void route(const RouteConfig& r) {
    w_.StartObject();
    if (!r.name.empty()) kv("name", r.name);
    begin_object("match");
    switch (r.match.path.type) {
      case PathMatchType::kExact:
        kv("exact", r.match.path.value);
        break;
      case PathMatchType::kPrefix:
        kv("prefix", r.match.path.value);
        break;
      case PathMatchType::kStringPrefix:
        kv("string_prefix", r.match.path.value);
        break;
      case PathMatchType::kRegex:
        kv("regex", r.match.path.value);
        break;
    }
    begin_array("headers");
    for (const auto& h : r.match.headers) {
      w_.StartObject();
      kv("name", h.name);
      switch (h.type) {
        case HeaderMatchType::kExact:
          kv("exact", h.value);
          break;
        case HeaderMatchType::kPresent:
          kv("present", true);
          break;
        case HeaderMatchType::kRegex:
          kv("regex", h.value);
          break;
        case HeaderMatchType::kPrefix:
          kv("prefix", h.value);
          break;
        case HeaderMatchType::kSuffix:
          kv("suffix", h.value);
          break;
        case HeaderMatchType::kContains:
          kv("contains", h.value);
          break;
      }
      kv("invert", h.invert);
      w_.EndObject();
    }
    w_.EndArray();
    if (!r.match.method.empty()) kv("method", r.match.method);
    if (!r.match.query_params.empty()) {
      begin_array("query_params");
      for (const auto& q : r.match.query_params) {
        w_.StartObject();
        kv("name", q.name);
        switch (q.type) {
          case QueryParamMatchType::kExact:
            kv("exact", q.value);
            break;
          case QueryParamMatchType::kPresent:
            kv("present", true);
            break;
          case QueryParamMatchType::kRegex:
            kv("regex", q.value);
            break;
        }
        w_.EndObject();
      }
      w_.EndArray();
    }
    w_.EndObject();  // match
    switch (r.action) {
      case ActionType::kForward: {
        const ForwardAction& f = r.forward;
        begin_object("forward");
        cluster_choice(f.clusters);
        if (f.prefix_rewrite) kv("prefix_rewrite", *f.prefix_rewrite);
        if (f.path_rewrite) kv("path_rewrite", *f.path_rewrite);
        if (f.regex_rewrite) {
          begin_object("regex_rewrite");
          kv("regex", f.regex_rewrite->regex);
          kv("substitution", f.regex_rewrite->substitution);
          w_.EndObject();
        }
        if (f.host_rewrite) kv("host_rewrite", *f.host_rewrite);
        kv("timeout_ms", f.timeout);
        kv("idle_timeout_ms", f.idle_timeout);
        if (f.connect_timeout.count() > 0) kv("connect_timeout_ms", f.connect_timeout);
        begin_object("retry");
        begin_array("retry_on");
        static constexpr std::pair<RetryOn, const char*> kNames[] = {
            {RetryOn::kConnectFailure, "connect-failure"},
            {RetryOn::k5xx, "5xx"},
            {RetryOn::kGatewayError, "gateway-error"},
            {RetryOn::kReset, "reset"},
            {RetryOn::kRetriableStatusCodes, "retriable-status-codes"}};
        for (const auto& [bit, name] : kNames)
          if (f.retry.retry_on & static_cast<uint32_t>(bit)) str(name);
        w_.EndArray();
        kv("num_retries", f.retry.num_retries);
        kv("per_try_timeout_ms", f.retry.per_try_timeout);
        if (f.retry.retry_window.count() > 0) kv("retry_window_ms", f.retry.retry_window);
        if (f.retry.backoff.count() > 0) kv("backoff_ms", f.retry.backoff);
        kv("retry_non_idempotent", f.retry.retry_non_idempotent);
        begin_array("retriable_status_codes");
        for (uint32_t s : f.retry.retriable_status_codes) w_.Uint(s);
        w_.EndArray();
        w_.EndObject();  // retry
        kv("websocket", f.websocket);
        mirrors(f.mirrors);
        if (f.error_pages) {
          begin_object("error_pages");
          begin_array("statuses");
          for (uint32_t s : f.error_pages->statuses) w_.Uint(s);
          w_.EndArray();
          kv("cluster", f.error_pages->cluster);
          begin_array("request_headers");
          for (const auto& hv : f.error_pages->request_headers) {
            w_.StartObject();
            kv("name", hv.name);
            kv("value", hv.value);
            w_.EndObject();
          }
          w_.EndArray();
          w_.EndObject();
        }
        if (f.response_bytes_per_second > 0)
          key("response_bytes_per_second"), w_.Uint64(f.response_bytes_per_second);
        if (f.response_rate_after_bytes > 0)
          key("response_rate_after_bytes"), w_.Uint64(f.response_rate_after_bytes);
        w_.EndObject();
        break;
      }
      case ActionType::kRedirect: {
        const RedirectAction& d = r.redirect;
        begin_object("redirect");
        if (d.scheme) kv("scheme", *d.scheme);
        if (d.host) kv("host", *d.host);
        if (d.port) kv("port", static_cast<uint32_t>(*d.port));
        if (d.path) kv("path", *d.path);
        if (d.prefix_rewrite) kv("prefix_rewrite", *d.prefix_rewrite);
        kv("strip_query", d.strip_query);
        kv("code", d.code);
        w_.EndObject();
        break;
      }
      case ActionType::kDirectResponse:
        begin_object("direct_response");
        kv("status", r.direct_response->status);
        kv("body", r.direct_response->body);
        kv("content_type", r.direct_response->content_type);
        w_.EndObject();
        break;
    }
    headers("request_headers", r.request_headers);
    headers("response_headers", r.response_headers);
    if (r.cors) {
      begin_object("cors");
      strings("allow_origins", r.cors->allow_origins);
      strings("allow_methods", r.cors->allow_methods);
      strings("allow_headers", r.cors->allow_headers);
      strings("expose_headers", r.cors->expose_headers);
      kv("allow_credentials", r.cors->allow_credentials);
      kv("max_age", r.cors->max_age);
      w_.EndObject();
    }
    if (r.source_ranges) {
      begin_object("source_ranges");
      strings("allow", r.source_ranges->allow);
      strings("deny", r.source_ranges->deny);
      w_.EndObject();
    }
    if (r.basic_auth) {
      begin_object("basic_auth");
      kv("realm", r.basic_auth->realm);
      begin_array("users");
      for (const auto& u : r.basic_auth->users) {
        w_.StartObject();
        kv("name", u.name);
        kv("hash", secret(u.hash));
        w_.EndObject();
      }
      w_.EndArray();
      w_.EndObject();
    }
    if (r.ext_auth) {
      const ExtAuthConfig& a = *r.ext_auth;
      begin_object("ext_auth");
      kv("cluster", a.cluster);
      kv("path", a.path);
      kv("host", a.host);
      kv("method", a.method);
      strings("response_headers", a.response_headers);
      kv("request_redirect", a.request_redirect);
      kv("signin", a.signin);
      kv("signin_redirect_param", a.signin_redirect_param);
      kv("always_set_cookie", a.always_set_cookie);
      kv("timeout_ms", a.timeout);
      kv("cache_key", a.cache_key);
      begin_array("cache_valid");
      for (const ExtAuthCacheRule& c : a.cache_valid) {
        w_.StartObject();
        begin_array("statuses");
        for (uint32_t st : c.statuses) w_.Uint(st);
        w_.EndArray();
        kv("any", c.any);
        kv("ttl_ms", c.ttl);
        w_.EndObject();
      }
      w_.EndArray();
      w_.EndObject();
    }
    if (r.max_request_body_bytes)
      key("max_request_body_bytes"), w_.Uint64(r.max_request_body_bytes);
    if (r.rate_limit) {
      const RateLimitPolicy& l = *r.rate_limit;
      begin_object("rate_limit");
      kv("zone", l.zone);
      kv("requests_per_second", l.requests_per_second);
      kv("requests_per_minute", l.requests_per_minute);
      kv("burst_multiplier", l.burst_multiplier);
      kv("max_connections", l.max_connections);
      strings("exempt", l.exempt);
      kv("status", l.status);
      w_.EndObject();
    }
    w_.EndObject();
  }

  // Written only when present, so clusters without it dump as before.
  void upstream_tls(const UpstreamTlsConfig& t) {
    begin_object("tls");
    kv("server_name", t.server_name);
    kv("verify", t.verify);
    if (!t.ca_file.empty()) kv("ca_file", t.ca_file);
    if (t.ca_file.empty()) kv("ca_pem", t.ca_pem);
    strings("subject_alt_names", t.subject_alt_names);
    kv("verify_depth", t.verify_depth);
    if (t.client_certificate) {
      const CertificateConfig& cert = *t.client_certificate;
      begin_object("client_certificate");
      if (!cert.cert_file.empty()) kv("cert_file", cert.cert_file);
      if (cert.cert_file.empty()) kv("cert_pem", cert.cert_pem);
      if (!cert.key_file.empty()) kv("key_file", cert.key_file);
      if (cert.key_file.empty()) kv("key_pem", secret(cert.key_pem));
      w_.EndObject();
    }
    kv("min_version", t.min_version == TlsVersion::kTls13 ? "1.3" : "1.2");
    kv("max_version", t.max_version == TlsVersion::kTls13 ? "1.3" : "1.2");
    kv("ciphers", t.ciphers);
    w_.EndObject();
  }

  void cluster(const ClusterConfig& c) {
    w_.StartObject();
    kv("name", c.name);
    begin_array("endpoints");
    for (const auto& e : c.endpoints) {
      w_.StartObject();
      kv("address", e.address.to_string());
      kv("weight", e.weight);
      w_.EndObject();
    }
    w_.EndArray();
    kv("lb_policy", to_string(c.lb_policy));
    kv("protocol", to_string(c.protocol));
    if (c.tls) upstream_tls(*c.tls);
    if (c.hash_on->on != HashOn::kNone) {
      begin_object("hash_on");
      if (c.hash_on->on == HashOn::kHeader) kv("header", c.hash_on->name);
      if (c.hash_on->on == HashOn::kCookie) {
        kv("cookie", c.hash_on->name);
        kv("set_cookie", c.hash_on->set_cookie);
        kv("cookie_ttl_ms", c.hash_on->cookie_ttl);
        kv("cookie_path", c.hash_on->cookie_path);
        if (!c.hash_on->cookie_samesite.empty()) kv("cookie_samesite", c.hash_on->cookie_samesite);
        if (c.hash_on->cookie_secure) kv("cookie_secure", true);
        if (c.hash_on->cookie_balanced) kv("cookie_balanced", true);
        if (!c.hash_on->cookie_change_on_failure) kv("cookie_change_on_failure", false);
        if (c.hash_on->cookie_samesite_none_conditional)
          kv("cookie_samesite_none_conditional", true);
      }
      if (c.hash_on->on == HashOn::kSourceIp) kv("source_ip", true);
      if (c.hash_on->on == HashOn::kExpression) kv("expression", c.hash_on->name);
      w_.EndObject();
    }
    kv("ring_size", c.ring_size);
    if (c.ring_subset_size > 0) kv("ring_subset_size", c.ring_subset_size);
    kv("maglev_table_size", c.maglev_table_size);
    kv("connect_timeout_ms", c.connect_timeout);
    kv("idle_timeout_ms", c.idle_timeout);
    kv("max_connections_per_endpoint", c.max_connections_per_endpoint);
    kv("max_connections", c.max_connections);
    kv("max_pending_requests", c.max_pending_requests);
    const auto& d = c.outlier_detection;
    begin_object("outlier_detection");
    kv("enabled", d.enabled);
    kv("consecutive_5xx", d.consecutive_5xx);
    kv("consecutive_connect_failures", d.consecutive_connect_failures);
    kv("base_ejection_time_ms", d.base_ejection_time);
    kv("max_ejection_time_ms", d.max_ejection_time);
    kv("max_ejection_percent", d.max_ejection_percent);
    w_.EndObject();
    if (c.health_check) {
      const auto& h = *c.health_check;
      begin_object("health_check");
      kv("path", h.path);
      kv("host", h.host);
      kv("interval_ms", h.interval);
      kv("timeout_ms", h.timeout);
      kv("healthy_threshold", h.healthy_threshold);
      kv("unhealthy_threshold", h.unhealthy_threshold);
      begin_array("expected_statuses");
      for (const auto& r : h.expected_statuses) {
        if (r.start == r.end) {
          w_.Uint(r.start);
        } else {
          str(std::to_string(r.start) + "-" + std::to_string(r.end));
        }
      }
      w_.EndArray();
      w_.EndObject();
    }
    w_.EndObject();
  }

  void config(const Config& c) {
    w_.StartObject();
    kv("version", c.version);
    kv("generation", c.generation);
    begin_array("listeners");
    for (const auto& l : c.listeners) {
      w_.StartObject();
      kv("name", l.name);
      kv("address", l.address.to_string());
      if (l.tls) {
        begin_object("tls");
        begin_array("certificates");
        for (const auto& cert : l.tls->certificates) {
          w_.StartObject();
          if (!cert.name.empty()) kv("name", cert.name);
          strings("server_names", cert.server_names);
          if (!cert.cert_file.empty()) kv("cert_file", cert.cert_file);
          if (cert.cert_file.empty()) kv("cert_pem", cert.cert_pem);
          if (!cert.key_file.empty()) kv("key_file", cert.key_file);
          if (cert.key_file.empty()) kv("key_pem", secret(cert.key_pem));
          if (cert.min_version)
            kv("min_version", *cert.min_version == TlsVersion::kTls13 ? "1.3" : "1.2");
          if (cert.client_auth) {
            const ClientAuthConfig& a = *cert.client_auth;
            begin_object("client_auth");
            kv("ca_pem", a.ca_pem);
            if (!a.crl_pem.empty()) kv("crl_pem", a.crl_pem);
            kv("verify", to_string(a.verify));
            kv("depth", a.depth);
            kv("error_page", a.error_page);
            kv("pass_certificate", a.pass_certificate);
            kv("match_subject", a.match_subject);
            w_.EndObject();
          }
          w_.EndObject();
        }
        w_.EndArray();
        if (!l.tls->default_certificate.empty())
          kv("default_certificate", l.tls->default_certificate);
        kv("min_version", l.tls->min_version == TlsVersion::kTls13 ? "1.3" : "1.2");
        strings("alpn", l.tls->alpn);
        // Written only when present, so configs without them dump as before.
        relays("passthrough", l.tls->passthrough);
        relays("tcp_proxy", l.tls->tcp_proxy);
        w_.EndObject();
      }
      strings("virtual_hosts", l.virtual_hosts);
      // Written only when set, so configs without it dump as before.
      if (!l.virtual_host_prefix.empty()) kv("virtual_host_prefix", l.virtual_host_prefix);
      // Written only when not the default, so configs without it dump as before.
      if (l.domain_wildcards != DomainWildcards::kOneLabel)
        kv("domain_wildcards", to_string(l.domain_wildcards));
      w_.EndObject();
    }
    w_.EndArray();
    begin_array("virtual_hosts");
    for (const VirtualHostConfig& vh : c.virtual_hosts) {
      w_.StartObject();
      kv("name", vh.name);
      strings("domains", vh.domains);
      kv("route_order", vh.route_order == RouteOrder::kConfig ? "config" : "specificity");
      begin_array("routes");
      for (const auto& r : vh.routes) route(r);
      w_.EndArray();
      headers("request_headers", vh.request_headers);
      headers("response_headers", vh.response_headers);
      w_.EndObject();
    }
    w_.EndArray();
    begin_array("clusters");
    for (const ClusterConfig& cl : c.clusters) cluster(cl);
    w_.EndArray();
    begin_object("admin");
    kv("enabled", c.admin.enabled);
    kv("address", c.admin.address.to_string());
    w_.EndObject();
    const ServerSettings& s = c.server;
    begin_object("server");
    kv("workers", s.workers);
    kv("request_header_timeout_ms", s.request_header_timeout);
    kv("idle_timeout_ms", s.idle_timeout);
    kv("drain_timeout_ms", s.drain_timeout);
    kv("max_request_header_bytes", s.max_request_header_bytes);
    kv("max_uri_bytes", s.max_uri_bytes);
    kv("http2_max_concurrent_streams", s.http2_max_concurrent_streams);
    kv("access_log", s.access_log == AccessLogFormat::kJson   ? "json"
                     : s.access_log == AccessLogFormat::kText ? "text"
                                                              : "off");
    kv("access_log_path", s.access_log_path);
    kv("server_header", to_string(s.server_header));
    w_.EndObject();
    w_.EndObject();
  }

 private:
  // A secret's value, or the placeholder when redacting.
  std::string_view secret(const std::string& value) const {
    return redact_ ? std::string_view("<redacted>") : std::string_view(value);
  }

  W& w_;
  bool redact_;
};

}  // namespace

std::string to_json(const Config& config, bool pretty, Secrets secrets) {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    Out<rapidjson::PrettyWriter<rapidjson::StringBuffer>>(w, secrets).config(config);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    Out<rapidjson::Writer<rapidjson::StringBuffer>>(w, secrets).config(config);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace kop::proxy
