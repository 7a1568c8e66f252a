// validate(): the semantic checks of a parsed Config, plus address parsing and enum names.
#include <arpa/inet.h>

#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <re2/re2.h>
#include "core/text.h"
#include "core/validate.h"
#include "kop/proxy/access_control.h"
#include "kop/proxy/certificate.h"
#include "kop/proxy/client_auth.h"
#include "kop/proxy/config.h"
#include "kop/proxy/cors.h"
#include "kop/proxy/ext_auth.h"
#include "kop/proxy/hash_expression.h"
#include "kop/proxy/password_hash.h"

namespace kop::proxy {

using internal::cat;
using internal::quote;

std::string SocketAddress::to_string() const {
  if (host.find(':') != std::string::npos) return cat("[", host, "]:", port);
  return cat(host, ":", port);
}

absl::StatusOr<SocketAddress> parse_socket_address(std::string_view text, bool allow_port_zero) {
  SocketAddress out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return absl::InvalidArgumentError(
          cat("invalid address ", quote(text), " (expected [v6]:port)"));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr a6;
    if (!std::string(host).empty() && inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
      return absl::InvalidArgumentError(cat("invalid IPv6 address ", quote(host)));
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return absl::InvalidArgumentError(
          cat("invalid address ", quote(text), " (expected host:port)"));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return absl::InvalidArgumentError(
          cat("invalid address ", quote(text), " (IPv6 addresses need brackets: [v6]:port)"));
    if (!internal::valid_domain(host, false))
      return absl::InvalidArgumentError(cat("invalid host ", quote(host)));
  }
  if (host.empty()) return absl::InvalidArgumentError(cat("missing host in ", quote(text)));
  uint32_t p = 0;
  bool ok = !port.empty() && port.size() <= 5;
  for (char c : port) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!ok || p > 65535 || (p == 0 && !allow_port_zero))
    return absl::InvalidArgumentError(cat("invalid port ", quote(port)));
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(p);
  return out;
}

std::string_view to_string(UpstreamProtocol protocol) {
  switch (protocol) {
    case UpstreamProtocol::kH2c:
      return "h2c";
    case UpstreamProtocol::kH2:
      return "h2";
    case UpstreamProtocol::kHttp1:
      break;
  }
  return "http1";
}

std::string_view to_string(DomainWildcards wildcards) {
  return wildcards == DomainWildcards::kOneOrMoreLabels ? "one_or_more_labels" : "one_label";
}

std::string_view to_string(LbPolicy policy) {
  switch (policy) {
    case LbPolicy::kRoundRobin:
      return "round_robin";
    case LbPolicy::kWeightedRoundRobin:
      return "weighted_round_robin";
    case LbPolicy::kLeastRequest:
      return "least_request";
    case LbPolicy::kRandom:
      return "random";
    case LbPolicy::kRingHash:
      return "ring_hash";
    case LbPolicy::kMaglev:
      return "maglev";
  }
  return "?";
}

std::string_view to_string(PathMatchType type) {
  switch (type) {
    case PathMatchType::kExact:
      return "Exact";
    case PathMatchType::kPrefix:
      return "Prefix";
    case PathMatchType::kStringPrefix:
      return "StringPrefix";
    case PathMatchType::kRegex:
      return "Regex";
  }
  return "?";
}

std::string_view to_string(ServerHeader policy) {
  switch (policy) {
    case ServerHeader::kOverwrite:
      return "overwrite";
    case ServerHeader::kAppendIfAbsent:
      return "append_if_absent";
    case ServerHeader::kPassThrough:
      return "pass_through";
  }
  return "?";
}

std::string_view to_string(ClientVerify verify) {
  switch (verify) {
    case ClientVerify::kOn:
      return "on";
    case ClientVerify::kOff:
      return "off";
    case ClientVerify::kOptional:
      return "optional";
    case ClientVerify::kOptionalNoCa:
      return "optional_no_ca";
  }
  return "?";
}

std::optional<ServerHeader> parse_server_header(std::string_view name) {
  for (ServerHeader p :
       {ServerHeader::kOverwrite, ServerHeader::kAppendIfAbsent, ServerHeader::kPassThrough})
    if (to_string(p) == name) return p;
  return std::nullopt;
}

namespace {

absl::Status error(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(cat(path, ": ", what));
}

bool valid_token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool valid_header_value(std::string_view v) {
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

absl::Status check_regex(std::string_view path, const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) return error(path, cat("invalid regex ", quote(pattern), ": ", re.error()));
  return absl::OkStatus();
}

absl::Status check_headers(std::string_view path, const HeaderMutation& m) {
  for (std::size_t i = 0; i < m.add.size(); ++i) {
    if (!valid_token(m.add[i].name))
      return error(cat(path, ".add[", i, "].name"),
                   cat("invalid header name ", quote(m.add[i].name)));
    if (!valid_header_value(m.add[i].value))
      return error(cat(path, ".add[", i, "].value"), "invalid characters in header value");
  }
  for (std::size_t i = 0; i < m.set.size(); ++i) {
    if (!valid_token(m.set[i].name))
      return error(cat(path, ".set[", i, "].name"),
                   cat("invalid header name ", quote(m.set[i].name)));
    if (!valid_header_value(m.set[i].value))
      return error(cat(path, ".set[", i, "].value"), "invalid characters in header value");
  }
  for (std::size_t i = 0; i < m.remove.size(); ++i) {
    if (!valid_token(m.remove[i]))
      return error(cat(path, ".remove[", i, "]"), cat("invalid header name ", quote(m.remove[i])));
  }
  return absl::OkStatus();
}

bool is_wildcard_host(const std::string& h) {
  return h == "0.0.0.0" || h == "::";
}
bool same_family(const std::string& a, const std::string& b) {
  return (a.find(':') != std::string::npos) == (b.find(':') != std::string::npos);
}
// Two sockets that cannot both be bound: same port, and same host or one a wildcard of the
// same family.
bool conflict(const SocketAddress& a, const SocketAddress& b) {
  if (a.port == 0 || b.port == 0 || a.port != b.port) return false;
  if (internal::to_lower(a.host) == internal::to_lower(b.host)) return true;
  return same_family(a.host, b.host) && (is_wildcard_host(a.host) || is_wildcard_host(b.host));
}

// A cluster choice (forward action or TCP relay) at `p`: known clusters, weights not all 0;
// direct answers, header mutations and mirrors only in a forward action.
absl::Status validate_cluster_choice(const std::string& p,
                                     const std::vector<WeightedCluster>& choice,
                                     const internal::ClusterNames& clusters, bool forward) {
  if (choice.empty()) return error(p, "one of cluster, clusters is required");
  uint64_t total = 0;
  for (std::size_t i = 0; i < choice.size(); ++i) {
    const WeightedCluster& wc = choice[i];
    std::string ep = cat(p, ".clusters[", i, "]");
    bool extras = wc.direct_status != 0 || !wc.request_headers->empty() ||
                  !wc.response_headers->empty() || !wc.mirrors.empty();
    if (extras && !forward)
      return error(ep, "direct_status, header mutations and mirrors are for forward actions only");
    for (std::size_t m = 0; m < wc.mirrors.size(); ++m)
      if (!clusters.contains(wc.mirrors[m].cluster))
        return error(cat(ep, ".mirrors[", m, "].cluster"),
                     cat("unknown cluster ", quote(wc.mirrors[m].cluster)));
    if (wc.direct_status != 0) {
      if (wc.direct_status < 100 || wc.direct_status > 599)
        return error(ep + ".direct_status", "must be 100..599");
      if (!wc.cluster.empty()) return error(ep, "only one of cluster and direct_status may be set");
    } else {
      std::string cp =
          choice.size() == 1 && wc.weight == 1 && !extras ? p + ".cluster" : ep + ".cluster";
      if (!clusters.contains(wc.cluster))
        return error(cp, cat("unknown cluster ", quote(wc.cluster)));
    }
    if (auto s = check_headers(ep + ".request_headers", wc.request_headers); !s.ok()) return s;
    if (auto s = check_headers(ep + ".response_headers", wc.response_headers); !s.ok()) return s;
    total += wc.weight;
  }
  if (total == 0) return error(p + ".clusters", "weights sum to zero");
  return absl::OkStatus();
}

// A CORS policy: forward routes only; origins as cors.h reads them, tokens elsewhere.
absl::Status check_cors(const std::string& p, const CorsPolicy& c, ActionType action) {
  if (action != ActionType::kForward) return error(p, "only a forward route answers CORS");
  for (std::size_t i = 0; i < c.allow_origins.size(); ++i)
    if (!valid_cors_origin(c.allow_origins[i]))
      return error(cat(p, ".allow_origins[", i, "]"),
                   cat("not \"*\" or scheme://host[:port] (host may start with \"*.\"): ",
                       quote(c.allow_origins[i])));
  auto tokens = [&](std::string_view field, const std::vector<std::string>& list) {
    for (std::size_t i = 0; i < list.size(); ++i)
      if (list[i] != "*" && !valid_token(list[i]))
        return error(cat(p, ".", field, "[", i, "]"), cat("not a token: ", quote(list[i])));
    return absl::OkStatus();
  };
  if (auto s = tokens("allow_methods", c.allow_methods); !s.ok()) return s;
  if (auto s = tokens("allow_headers", c.allow_headers); !s.ok()) return s;
  return tokens("expose_headers", c.expose_headers);
}

absl::Status validate_route(const std::string& p, const RouteConfig& r,
                            const internal::ClusterNames& clusters) {
  const PathMatch& pm = r.match.path;
  if (pm.type == PathMatchType::kRegex) {
    if (auto s = check_regex(p + ".match.regex", pm.value); !s.ok()) return s;
  } else if (pm.value.empty() || pm.value[0] != '/') {
    return error(cat(p, ".match"), cat("path must start with '/': ", quote(pm.value)));
  }
  for (std::size_t i = 0; i < r.match.headers.size(); ++i) {
    const HeaderMatch& h = r.match.headers[i];
    std::string hp = cat(p, ".match.headers[", i, "]");
    if (!valid_token(h.name))
      return error(hp + ".name", cat("invalid header name ", quote(h.name)));
    if (h.type == HeaderMatchType::kRegex) {
      if (auto s = check_regex(hp + ".regex", h.value); !s.ok()) return s;
    }
  }
  if (!r.match.method.empty() && !valid_token(r.match.method))
    return error(p + ".match.method", cat("invalid method ", quote(r.match.method)));
  for (std::size_t i = 0; i < r.match.query_params.size(); ++i) {
    const QueryParamMatch& q = r.match.query_params[i];
    std::string qp = cat(p, ".match.query_params[", i, "]");
    if (q.name.empty()) return error(qp + ".name", "must not be empty");
    if (q.type == QueryParamMatchType::kRegex) {
      if (auto s = check_regex(qp + ".regex", q.value); !s.ok()) return s;
    }
  }
  switch (r.action) {
    case ActionType::kForward: {
      const ForwardAction& f = r.forward;
      if (auto s = validate_cluster_choice(p + ".forward", f.clusters, clusters, true); !s.ok())
        return s;
      if (f.prefix_rewrite) {
        if (pm.type == PathMatchType::kRegex)
          return error(p + ".forward.prefix_rewrite", "not allowed with a regex path match");
        if (f.prefix_rewrite->empty() || (*f.prefix_rewrite)[0] != '/')
          return error(p + ".forward.prefix_rewrite",
                       cat("must start with '/': ", quote(*f.prefix_rewrite)));
      }
      if (f.prefix_rewrite && f.path_rewrite)
        return error(p + ".forward.path_rewrite", "not allowed with prefix_rewrite");
      if (f.path_rewrite && (f.path_rewrite->empty() || (*f.path_rewrite)[0] != '/' ||
                             !valid_header_value(*f.path_rewrite) ||
                             f.path_rewrite->find_first_of(" ?#") != std::string::npos))
        return error(p + ".forward.path_rewrite",
                     cat("must be a path starting with '/': ", quote(*f.path_rewrite)));
      if (f.regex_rewrite) {
        const RegexRewrite& rr = *f.regex_rewrite;
        if (f.prefix_rewrite || f.path_rewrite)
          return error(p + ".forward.regex_rewrite",
                       "not allowed with prefix_rewrite/path_rewrite");
        if (auto s = check_regex(p + ".forward.regex_rewrite.regex", rr.regex); !s.ok()) return s;
        if (rr.substitution.empty() || rr.substitution[0] != '/' ||
            !valid_header_value(rr.substitution) ||
            rr.substitution.find_first_of(" #") != std::string::npos)
          return error(p + ".forward.regex_rewrite.substitution",
                       cat("must be a path starting with '/': ", quote(rr.substitution)));
      }
      for (std::size_t i = 0; i < f.mirrors.size(); ++i)
        if (!clusters.contains(f.mirrors[i].cluster))
          return error(cat(p, ".forward.mirrors[", i, "].cluster"),
                       cat("unknown cluster ", quote(f.mirrors[i].cluster)));
      if (f.error_pages) {
        const ErrorPagePolicy& e = *f.error_pages;
        if (!clusters.contains(e.cluster))
          return error(p + ".forward.error_pages.cluster",
                       cat("unknown cluster ", quote(e.cluster)));
        for (std::size_t i = 0; i < e.request_headers.size(); ++i)
          if (!valid_token(e.request_headers[i].name) ||
              !valid_header_value(e.request_headers[i].value))
            return error(cat(p, ".forward.error_pages.request_headers[", i, "]"),
                         cat("invalid header ", quote(e.request_headers[i].name)));
      }
      if (f.host_rewrite && !internal::valid_domain(*f.host_rewrite, false))
        return error(p + ".forward.host_rewrite", cat("invalid host ", quote(*f.host_rewrite)));
      if (f.retry.per_try_timeout.count() > 0 && f.timeout.count() > 0 &&
          f.retry.per_try_timeout > f.timeout)
        return error(p + ".forward.retry.per_try_timeout_ms", "exceeds the route timeout");
      break;
    }
    case ActionType::kRedirect: {
      const RedirectAction& d = r.redirect;
      if (d.path && (d.path->empty() || (*d.path)[0] != '/'))
        return error(p + ".redirect.path", cat("must start with '/': ", quote(*d.path)));
      if (d.prefix_rewrite && pm.type == PathMatchType::kRegex)
        return error(p + ".redirect.prefix_rewrite", "not allowed with a regex path match");
      if (d.host && (!internal::valid_domain(*d.host, false)))
        return error(p + ".redirect.host", cat("invalid host ", quote(*d.host)));
      break;
    }
    case ActionType::kDirectResponse:
      if (r.direct_response->status < 100 || r.direct_response->status > 599)
        return error(p + ".direct_response.status", "must be 100..599");
      if (!valid_header_value(r.direct_response->content_type))
        return error(p + ".direct_response.content_type", "invalid characters");
      break;
  }
  if (auto s = check_headers(p + ".request_headers", r.request_headers); !s.ok()) return s;
  if (auto s = check_headers(p + ".response_headers", r.response_headers); !s.ok()) return s;
  if (r.source_ranges) {
    auto check = [&](std::string_view field, const std::vector<std::string>& list) {
      for (std::size_t i = 0; i < list.size(); ++i)
        if (auto range = parse_address_range(list[i]); !range.ok())
          return error(cat(p, ".source_ranges.", field, "[", i, "]"),
                       std::string(range.status().message()));
      return absl::OkStatus();
    };
    if (auto s = check("allow", r.source_ranges->allow); !s.ok()) return s;
    if (auto s = check("deny", r.source_ranges->deny); !s.ok()) return s;
  }
  if (r.max_request_body_bytes && r.action != ActionType::kForward)
    return error(p + ".max_request_body_bytes", "only a forward route reads a request body");
  if (r.rate_limit) {
    const RateLimitPolicy& l = *r.rate_limit;
    if (r.action != ActionType::kForward)
      return error(p + ".rate_limit", "only a forward route is limited");
    if (l.zone.empty()) return error(p + ".rate_limit.zone", "required");
    if (!l.requests_per_second && !l.requests_per_minute && !l.max_connections)
      return error(p + ".rate_limit",
                   "sets none of requests_per_second, requests_per_minute, max_connections");
    for (std::size_t i = 0; i < l.exempt.size(); ++i)
      if (auto range = parse_address_range(l.exempt[i]); !range.ok())
        return error(cat(p, ".rate_limit.exempt[", i, "]"), std::string(range.status().message()));
  }
  if (r.basic_auth) {
    if (r.action != ActionType::kForward)
      return error(p + ".basic_auth", "only a forward route is authenticated");
    if (!valid_header_value(r.basic_auth->realm))
      return error(p + ".basic_auth.realm", "invalid characters");
    const auto& users = r.basic_auth->users;
    for (std::size_t i = 0; i < users.size(); ++i) {
      std::string at = cat(p, ".basic_auth.users[", i, "]");
      if (users[i].name.empty() || users[i].name.find(':') != std::string::npos)
        return error(at + ".name", "must be non-empty, without ':'");
      // The error names the scheme problem, never the hash.
      if (auto s = hash_scheme(users[i].hash); !s.ok())
        return error(at + ".hash", std::string(s.status().message()));
      for (std::size_t j = 0; j < i; ++j)
        if (users[j].name == users[i].name)
          return error(at + ".name", cat("duplicate user ", quote(users[i].name)));
    }
  }
  if (r.ext_auth) {
    if (r.action != ActionType::kForward)
      return error(p + ".ext_auth", "only a forward route is authenticated");
    if (!clusters.contains(r.ext_auth->cluster))
      return error(p + ".ext_auth.cluster", cat("unknown cluster ", quote(r.ext_auth->cluster)));
    // Its message starts with the field (ext_auth.h).
    if (auto a = ExtAuth::compile(*r.ext_auth); !a.ok())
      return absl::InvalidArgumentError(cat(p, ".ext_auth.", a.status().message()));
  }
  if (r.cors) return check_cors(p + ".cors", *r.cors, r.action);
  return absl::OkStatus();
}

// A passthrough or tcp_proxy entry at `p`; its names must not be in `names` (added to it),
// which holds the names of `users`.
absl::Status validate_relay(const std::string& p, const TcpProxyConfig& pt,
                            const internal::ClusterNames& cluster_names,
                            absl::flat_hash_set<std::string>& names, std::string_view users) {
  if (pt.server_names.empty()) return error(p + ".server_names", "must not be empty");
  for (std::size_t k = 0; k < pt.server_names.size(); ++k) {
    const std::string& sn = pt.server_names[k];
    std::string sp = cat(p, ".server_names[", k, "]");
    if (!internal::valid_domain(sn, true) || sn == "*")
      return error(sp, cat("invalid server name ", quote(sn)));
    if (!names.insert(internal::normalize_domain(sn)).second)
      return error(sp, cat("server name ", quote(sn), " is used twice (by ", users, ")"));
  }
  return validate_cluster_choice(p, pt.clusters, cluster_names, false);
}

}  // namespace

namespace internal {

absl::Status validate_cluster(const ClusterConfig& c, std::size_t i) {
  std::string p = cat("clusters[", i, "]");
  absl::flat_hash_set<std::string> seen;
  for (std::size_t j = 0; j < c.endpoints.size(); ++j) {
    const EndpointConfig& e = c.endpoints[j];
    std::string ep = cat(p, ".endpoints[", j, "]");
    if (e.address.port == 0) return error(ep + ".address", "invalid port \"0\"");
    if (e.weight == 0 || e.weight > 128) return error(ep + ".weight", "must be 1..128");
    if (!seen.insert(e.address.to_string()).second)
      return error(ep + ".address", cat("duplicate endpoint ", quote(e.address.to_string())));
  }
  if ((c.hash_on->on == HashOn::kHeader || c.hash_on->on == HashOn::kCookie) &&
      !valid_token(c.hash_on->name))
    return error(p + ".hash_on", cat("invalid name ", quote(c.hash_on->name)));
  if (c.hash_on->on == HashOn::kExpression)
    if (auto e = HashExpression::parse(c.hash_on->name); !e.ok())
      return error(p + ".hash_on.expression", std::string(e.status().message()));
  if (const std::string& s = c.hash_on->cookie_samesite;
      !s.empty() && s != "None" && s != "Lax" && s != "Strict")
    return error(p + ".hash_on.cookie_samesite", cat(quote(s), " is not None, Lax or Strict"));
  if (c.hash_on->on == HashOn::kCookie && !c.hash_on->cookie_path.empty()) {
    const std::string& cp = c.hash_on->cookie_path;
    // Written into a Set-Cookie attribute: no separator or control byte may end it early.
    bool ok = cp[0] == '/';
    for (char ch : cp) ok = ok && ch != ';' && ch != ',' && static_cast<unsigned char>(ch) > 0x20;
    if (!ok) return error(p + ".hash_on.cookie_path", cat("invalid cookie path ", quote(cp)));
  }
  if (c.lb_policy == LbPolicy::kMaglev && c.endpoints.size() >= c.maglev_table_size)
    return error(p + ".maglev_table_size", "must exceed the number of endpoints");
  if (c.ring_subset_size > 0 && c.lb_policy != LbPolicy::kRingHash)
    return error(p + ".ring_subset_size", "only ring_hash picks a subset");
  if (c.ring_subset_size > 256)
    return error(p + ".ring_subset_size", cat("at most 256, got ", c.ring_subset_size));
  if (c.outlier_detection.base_ejection_time > c.outlier_detection.max_ejection_time)
    return error(p + ".outlier_detection.max_ejection_time_ms", "is below base_ejection_time_ms");
  if (c.tls) {
    if (auto m = load_upstream_tls(*c.tls); !m.ok()) {
      // The message starts with the field it is about ("ca_pem: ...").
      std::string msg(m.status().message());
      size_t colon = msg.find(": ");
      if (colon == std::string::npos) return error(p + ".tls", msg);
      return error(cat(p, ".tls.", msg.substr(0, colon)), msg.substr(colon + 2));
    }
  }
  if (c.health_check) {
    if (c.health_check->interval.count() == 0)
      return error(p + ".health_check.interval_ms", "must be positive");
    if (c.health_check->timeout.count() == 0)
      return error(p + ".health_check.timeout_ms", "must be positive");
    if (!valid_header_value(c.health_check->path) || c.health_check->path.empty() ||
        c.health_check->path[0] != '/')
      return error(p + ".health_check.path", "must start with '/'");
  }
  return absl::OkStatus();
}

absl::Status validate_clusters(const Config& config, StringViewSet* names,
                               const std::vector<bool>* known_valid) {
  StringViewSet& cluster_names = *names;
  cluster_names.reserve(config.clusters.size());
  for (std::size_t i = 0; i < config.clusters.size(); ++i) {
    const ClusterConfig& c = config.clusters[i];
    if (c.name.empty()) return error(cat("clusters[", i, "].name"), "must not be empty");
    if (!cluster_names.insert(c.name).second)
      return error(cat("clusters[", i, "].name"), cat("duplicate cluster name ", quote(c.name)));
    if (known_valid != nullptr && (*known_valid)[i]) continue;
    if (auto s = validate_cluster(c, i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status validate_virtual_host(const VirtualHostConfig& vh, std::size_t i,
                                   const ClusterNames& cluster_names) {
  std::string p = cat("virtual_hosts[", i, "]");
  if (vh.name.empty()) return error(p + ".name", "must not be empty");
  absl::flat_hash_set<std::string> domains;
  for (std::size_t j = 0; j < vh.domains.size(); ++j) {
    const std::string& d = vh.domains[j];
    std::string dp = cat(p, ".domains[", j, "]");
    if (d != "*" && !internal::valid_domain(d, true))
      return error(dp,
                   cat("invalid domain ", quote(d), " (exact name, *.suffix for one label, or *)"));
    if (!domains.insert(internal::normalize_domain(d)).second)
      return error(dp, cat("duplicate domain ", quote(d)));
  }
  for (std::size_t j = 0; j < vh.routes.size(); ++j) {
    if (auto s = validate_route(cat(p, ".routes[", j, "]"), vh.routes[j], cluster_names); !s.ok())
      return s;
  }
  if (auto s = check_headers(p + ".request_headers", vh.request_headers); !s.ok()) return s;
  return check_headers(p + ".response_headers", vh.response_headers);
}

absl::Status validate_routing(const Config& config, const ClusterNames& cluster_names,
                              const std::vector<bool>* known_valid,
                              const std::vector<std::vector<bool>>* known_certificates) {
  StringViewMap<std::size_t> vhost_index;
  vhost_index.reserve(config.virtual_hosts.size());
  for (std::size_t i = 0; i < config.virtual_hosts.size(); ++i) {
    const VirtualHostConfig& vh = config.virtual_hosts[i];
    if (vh.name.empty()) return error(cat("virtual_hosts[", i, "].name"), "must not be empty");
    if (!vhost_index.emplace(vh.name, i).second)
      return error(cat("virtual_hosts[", i, "].name"),
                   cat("duplicate virtual host name ", quote(vh.name)));
    if (known_valid != nullptr && (*known_valid)[i]) continue;
    if (auto s = validate_virtual_host(vh, i, cluster_names); !s.ok()) return s;
  }

  absl::flat_hash_set<std::string> listener_names;
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const ListenerConfig& l = config.listeners[i];
    std::string p = cat("listeners[", i, "]");
    if (l.name.empty()) return error(p + ".name", "must not be empty");
    if (!listener_names.insert(l.name).second)
      return error(p + ".name", cat("duplicate listener name ", quote(l.name)));
    for (std::size_t j = 0; j < i; ++j) {
      if (conflict(l.address, config.listeners[j].address))
        return error(p + ".address", cat("conflicts with listeners[", j, "] (",
                                         config.listeners[j].address.to_string(), ")"));
    }
    if (config.admin.enabled && conflict(l.address, config.admin.address))
      return error(p + ".address", "conflicts with admin.address");
    // Domains must be unique among the virtual hosts one listener serves (compared as
    // normalize_domain() would make them: the map ignores case).
    ICaseStringViewMap<std::string_view> owner;
    owner.reserve(l.virtual_hosts.empty() ? config.virtual_hosts.size() : l.virtual_hosts.size());
    auto serve = [&](const VirtualHostConfig& vh) -> absl::Status {
      for (const auto& d : vh.domains) {
        auto [it, inserted] = owner.emplace(internal::domain_key(d), vh.name);
        if (!inserted)
          return error(p, cat("domain ", quote(d), " is served by virtual hosts ",
                              quote(it->second), " and ", quote(vh.name)));
      }
      return absl::OkStatus();
    };
    if (!l.virtual_host_prefix.empty() && !l.virtual_hosts.empty())
      return error(p + ".virtual_host_prefix", "exclusive with virtual_hosts");
    if (l.virtual_hosts.empty()) {
      for (const auto& vh : config.virtual_hosts)
        if (vh->name.starts_with(l.virtual_host_prefix))
          if (auto s = serve(vh); !s.ok()) return s;
    } else {
      StringViewSet listed;
      listed.reserve(l.virtual_hosts.size());
      for (std::size_t j = 0; j < l.virtual_hosts.size(); ++j) {
        auto it = vhost_index.find(l.virtual_hosts[j]);
        std::string vp = cat(p, ".virtual_hosts[", j, "]");
        if (it == vhost_index.end())
          return error(vp, cat("unknown virtual host ", quote(l.virtual_hosts[j])));
        if (!listed.insert(l.virtual_hosts[j]).second)
          return error(vp, cat("duplicate virtual host ", quote(l.virtual_hosts[j])));
        if (auto s = serve(config.virtual_hosts[it->second]); !s.ok()) return s;
      }
    }
    if (l.tls) {
      const TlsConfig& t = *l.tls;
      if (t.certificates.empty() && t.passthrough.empty())
        return error(p + ".tls.certificates",
                     "at least one certificate is required (or a passthrough entry)");
      if (t.alpn.empty()) return error(p + ".tls.alpn", "must not be empty");
      absl::flat_hash_set<std::string> cert_names;
      absl::flat_hash_set<std::string> sni_names;
      for (std::size_t j = 0; j < t.certificates.size(); ++j) {
        const CertificateConfig& c = t.certificates[j];
        std::string cp = cat(p, ".tls.certificates[", j, "]");
        std::string name = c.name.empty() ? cat("cert", j) : c.name;
        if (!cert_names.insert(name).second)
          return error(cp + ".name", cat("duplicate certificate name ", quote(name)));
        for (std::size_t k = 0; k < c.server_names.size(); ++k) {
          const std::string& sn = c.server_names[k];
          std::string sp = cat(cp, ".server_names[", k, "]");
          if (!internal::valid_domain(sn, true))
            return error(sp, cat("invalid server name ", quote(sn)));
          if (!sni_names.insert(internal::normalize_domain(sn)).second)
            return error(sp, cat("server name ", quote(sn), " is used by two certificates"));
        }
        if (c.cert_pem.empty() == c.cert_file.empty())
          return error(cp, "exactly one of cert_pem, cert_file is required");
        if (c.key_pem.empty() == c.key_file.empty())
          return error(cp, "exactly one of key_pem, key_file is required");
        if (known_certificates != nullptr && (*known_certificates)[i][j]) continue;
        auto loaded = load_certificate(c);
        if (!loaded.ok()) return error(cp, std::string(loaded.status().message()));
        if (c.client_auth) {
          auto auth = ClientAuth::compile(*c.client_auth);
          if (!auth.ok()) return error(cp + ".client_auth", std::string(auth.status().message()));
        }
      }
      absl::flat_hash_set<std::string> cert_server_names = sni_names;
      absl::flat_hash_set<std::string> passthrough_names;
      for (std::size_t j = 0; j < t.passthrough.size(); ++j) {
        std::string pp = cat(p, ".tls.passthrough[", j, "]");
        if (auto s = validate_relay(pp, t.passthrough[j], cluster_names, sni_names,
                                    "certificates or passthrough entries");
            !s.ok())
          return s;
        for (const std::string& sn : t.passthrough[j].server_names)
          passthrough_names.insert(internal::normalize_domain(sn));
      }
      // TLS-terminated TCP proxy names: served by a certificate (the handshake needs one), and
      // not passthrough names (the hello would never reach the proxy's TLS).
      absl::flat_hash_set<std::string> relayed;
      for (std::size_t j = 0; j < t.tcp_proxy.size(); ++j) {
        std::string pp = cat(p, ".tls.tcp_proxy[", j, "]");
        const TcpProxyConfig& tp = t.tcp_proxy[j];
        if (auto s = validate_relay(pp, tp, cluster_names, relayed, "tcp_proxy entries"); !s.ok())
          return s;
        for (std::size_t k = 0; k < tp.server_names.size(); ++k) {
          std::string sn = internal::normalize_domain(tp.server_names[k]);
          std::string sp = cat(pp, ".server_names[", k, "]");
          // A wildcard certificate covers the name as the listener's wildcards match.
          bool wildcard_cert = false;
          for (std::size_t dot = sn.find('.'); sn[0] != '*' && dot != std::string::npos;
               dot = sn.find('.', dot + 1)) {
            wildcard_cert = wildcard_cert || cert_server_names.contains("*" + sn.substr(dot));
            if (l.domain_wildcards == DomainWildcards::kOneLabel) break;
          }
          if (!cert_server_names.contains(sn) && !wildcard_cert)
            return error(sp, cat("no certificate serves ", quote(tp.server_names[k])));
          if (passthrough_names.contains(sn))
            return error(sp,
                         cat("server name ", quote(tp.server_names[k]), " is a passthrough name"));
        }
      }
      if (!t.default_certificate.empty() && !cert_names.contains(t.default_certificate))
        return error(p + ".tls.default_certificate",
                     cat("unknown certificate ", quote(t.default_certificate)));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::Status validate(const Config& config) {
  if (config.version != kSchemaVersion)
    return error("version", cat("unsupported schema ", quote(config.version)));
  StringViewSet cluster_names;
  if (auto s = internal::validate_clusters(config, &cluster_names, nullptr); !s.ok()) return s;
  return internal::validate_routing(config, internal::ClusterNames(cluster_names), nullptr);
}

}  // namespace kop::proxy
