#include "kop/client/rest_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <mutex>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include "internal/files.h"
#include "internal/watch_decoder.h"
#include "kop/api/json.h"
#include "kop/client/credentials.h"
#include "kop/client/errors.h"
#include "kop/client/rate_limiter.h"

#ifndef KOP_VERSION
#define KOP_VERSION "0.0.0"
#endif

namespace kop::client {
namespace {

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

constexpr std::string_view kUserAgent = "kop/" KOP_VERSION;

// ---- query strings ----------------------------------------------------------------------------

// Go's url.QueryEscape: unreserved bytes stay, space becomes '+', the rest %XX.
std::string query_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// Parameters sorted by name, as Go's url.Values.Encode writes them.
using Query = std::map<std::string, std::string>;

std::string with_query(const std::string& path, const Query& q) {
  if (q.empty()) return path;
  std::string out = path;
  char sep = '?';
  for (const auto& [k, v] : q) {
    out += sep;
    out += query_escape(k);
    out += '=';
    out += query_escape(v);
    sep = '&';
  }
  return out;
}

std::string_view rv_match(ResourceVersionMatch m) {
  switch (m) {
    case ResourceVersionMatch::kExact:
      return "Exact";
    case ResourceVersionMatch::kNotOlderThan:
      return "NotOlderThan";
    case ResourceVersionMatch::kUnset:
      break;
  }
  return "";
}

// ---- TLS material -----------------------------------------------------------------------------

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data found";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

absl::Status check_certificates(const std::string& pem, const std::string& what) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int n = 0;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(x);
    ++n;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (n == 0) return absl::InvalidArgumentError(fmt::format("{}: no PEM certificate found", what));
  return absl::OkStatus();
}

absl::Status check_key_pair(const std::string& cert_pem, const std::string& key_pem) {
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  if (!cert)
    return absl::InvalidArgumentError(
        fmt::format("client certificate: cannot be read: {}", openssl_error()));
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  if (!key) {
    X509_free(cert);
    return absl::InvalidArgumentError(
        fmt::format("client key: cannot be read: {}", openssl_error()));
  }
  bool match = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  EVP_PKEY_free(key);
  X509_free(cert);
  if (!match) return absl::InvalidArgumentError("client key does not match the client certificate");
  return absl::OkStatus();
}

// Trust exactly the certificates of `pem` (client-go trusts only the configured CA).
void install_ca(SSL_CTX* ctx, const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, x);
    X509_free(x);
  }
  ERR_clear_error();
  BIO_free(bio);
  SSL_CTX_set_cert_store(ctx, store);  // takes ownership
}

void install_client_cert(SSL_CTX* ctx, const std::string& cert_pem, const std::string& key_pem) {
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  if (X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr)) {
    SSL_CTX_use_certificate(ctx, cert);
    X509_free(cert);
    // The rest of the PEM is the chain.
    while (X509* extra = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr))
      SSL_CTX_add_extra_chain_cert(ctx, extra);  // takes ownership
  }
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  if (EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr)) {
    SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
  }
  BIO_free(kb);
  ERR_clear_error();
}

// ---- bodies -----------------------------------------------------------------------------------

std::string delete_options_json(const DeleteOptions& o) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, std::string_view v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  str("kind", "DeleteOptions");
  str("apiVersion", "v1");
  if (o.grace_period_seconds) {
    w.Key("gracePeriodSeconds");
    w.Int64(*o.grace_period_seconds);
  }
  if (o.precondition_uid || o.precondition_resource_version) {
    w.Key("preconditions");
    w.StartObject();
    if (o.precondition_uid) str("uid", *o.precondition_uid);
    if (o.precondition_resource_version) str("resourceVersion", *o.precondition_resource_version);
    w.EndObject();
  }
  switch (o.propagation_policy) {
    case PropagationPolicy::kOrphan:
      str("propagationPolicy", "Orphan");
      break;
    case PropagationPolicy::kBackground:
      str("propagationPolicy", "Background");
      break;
    case PropagationPolicy::kForeground:
      str("propagationPolicy", "Foreground");
      break;
    case PropagationPolicy::kUnset:
      break;
  }
  if (o.dry_run) {
    w.Key("dryRun");
    w.StartArray();
    w.String("All");
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

absl::StatusOr<api::ObjectPtr> decode_object(const std::string& body) {
  auto obj = api::Object::parse(body);
  if (!obj.ok())
    return absl::DataLossError(fmt::format("the server answered with an undecodable object: {}",
                                           internal::msg(obj.status())));
  return api::share(*std::move(obj));
}

struct Response {
  int code = 0;
  std::string body;
  int32_t retry_after_seconds = 0;
};

int32_t parse_retry_after(const http::http_headers& h) {
  auto it = h.find("Retry-After");
  if (it == h.end()) return 0;
  // Seconds only (the API server never sends an HTTP date).
  int32_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
    if (v > 86400) return 86400;
  }
  return v;
}

std::string host_of(const std::string& server) {
  try {
    web::uri u(server);
    return u.port() > 0 ? fmt::format("{}:{}", u.host(), u.port()) : u.host();
  } catch (...) {
    return server;
  }
}

std::once_flag g_threadpool_once;

// ---- the watch stream -------------------------------------------------------------------------

class RestWatchStream final : public WatchStream {
 public:
  RestWatchStream(http::http_response response, pplx::cancellation_token_source cts)
      : response_(std::move(response)), body_(response_.body().streambuf()), cts_(std::move(cts)) {}
  ~RestWatchStream() override { cancel(); }

  absl::StatusOr<std::optional<WatchEvent>> next() override {
    if (done_) return std::optional<WatchEvent>();
    for (;;) {
      // A complete line waiting?
      size_t nl = pending_.find('\n', scan_);
      if (nl != std::string::npos) {
        size_t start = start_;
        start_ = scan_ = nl + 1;
        if (is_blank(start, nl)) continue;
        auto ev = internal::decode_watch_event(pending_.data() + start, nl - start);
        if (!ev.ok()) return finish(ev.status());
        return std::optional<WatchEvent>(*std::move(ev));
      }
      scan_ = pending_.size();
      if (cancelled_.load()) return finish(absl::OkStatus());
      // Compact, then read straight into the tail of the buffer.
      if (start_ > 0 && start_ * 2 >= pending_.size()) {
        pending_.erase(0, start_);
        scan_ -= start_;
        start_ = 0;
      }
      size_t old = pending_.size();
      size_t n = 0;
      try {
        // getn(k) waits for k bytes; a watch must hand out each event as it arrives. So: wait
        // for one byte, then take what else has arrived, straight into the buffer's tail.
        size_t avail = body_.in_avail();
        if (avail == 0) {
          auto c = body_.bumpc().get();
          if (c == concurrency::streams::streambuf<uint8_t>::traits::eof()) {
            n = 0;
          } else {
            pending_.push_back(static_cast<char>(c));
            n = 1;
            avail = body_.in_avail();
          }
        }
        if (avail > 0) {
          size_t want = std::min(avail, kRead);
          size_t base = pending_.size();
          pending_.resize(base + want);
          size_t got = body_.getn(reinterpret_cast<uint8_t*>(pending_.data() + base), want).get();
          pending_.resize(base + got);
          n += got;
        }
      } catch (const std::exception& e) {
        pending_.resize(old);
        if (cancelled_.load()) return finish(absl::OkStatus());
        return finish(
            absl::UnavailableError(fmt::format("watch: connection failed: {}", e.what())));
      }
      if (n == 0) {
        // End of the body: a last line without '\n' still counts.
        if (!is_blank(start_, pending_.size())) {
          auto ev =
              internal::decode_watch_event(pending_.data() + start_, pending_.size() - start_);
          start_ = scan_ = pending_.size();
          if (!ev.ok()) return finish(ev.status());
          return std::optional<WatchEvent>(*std::move(ev));
        }
        return finish(absl::OkStatus());
      }
    }
  }

  void cancel() override {
    if (cancelled_.exchange(true)) return;
    try {
      // Aborts the request (cpprest closes the connection) ...
      cts_.cancel();
      // ... and ends the body for a reader blocked in getn(): cpprest does not always wake it
      // once the headers are in.
      body_.close(std::ios_base::out);
    } catch (...) {
    }
  }

 private:
  static constexpr size_t kRead = size_t{64} * 1024;

  bool is_blank(size_t from, size_t to) const {
    for (size_t i = from; i < to; ++i)
      if (pending_[i] != ' ' && pending_[i] != '\r' && pending_[i] != '\t') return false;
    return true;
  }
  absl::StatusOr<std::optional<WatchEvent>> finish(absl::Status st) {
    done_ = true;
    pending_.clear();
    if (!st.ok()) return st;
    return std::optional<WatchEvent>();
  }

  http::http_response response_;
  concurrency::streams::streambuf<uint8_t> body_;
  pplx::cancellation_token_source cts_;
  std::atomic<bool> cancelled_{false};
  bool done_ = false;
  std::string pending_;
  size_t start_ = 0;  // first unconsumed byte
  size_t scan_ = 0;   // where to look for the next '\n'
};

}  // namespace

// ---- Impl -------------------------------------------------------------------------------------

class RestClient::Impl {
 public:
  Impl(Config config, RestClientOptions options)
      : config_(std::move(config)),
        options_(std::move(options)),
        credentials_(config_),
        limiter_(config_.qps, config_.burst),
        host_(host_of(config_.server)),
        user_agent_(config_.user_agent.empty() ? std::string(kUserAgent) : config_.user_agent) {}

  absl::Status init() {
    std::call_once(g_threadpool_once, [n = options_.cpprest_threads] {
      try {
        crossplat::threadpool::initialize_with_threads(std::max<size_t>(n, 1));
      } catch (...) {
        // Already started by someone else: keep theirs.
      }
    });
    if (config_.server.rfind("https://", 0) != 0 && config_.server.rfind("http://", 0) != 0)
      return absl::InvalidArgumentError(
          fmt::format("server {:?}: not an http:// or https:// URL", config_.server));
    if (!config_.ca_pem.empty()) {
      std::string what = config_.ca_file.empty() ? "certificate-authority-data"
                                                 : "certificate-authority " + config_.ca_file;
      if (auto s = check_certificates(config_.ca_pem, what); !s.ok()) return s;
    }
    auto cert = credentials_.client_certificate();
    if (!cert.ok()) return cert.status();
    if (cert->has_value()) {
      if (auto s = check_key_pair((*cert)->first, (*cert)->second); !s.ok()) return s;
      client_cert_ = (*cert)->first;
      client_key_ = (*cert)->second;
    }
    try {
      client_ = std::make_unique<http_client>(web::uri(config_.server),
                                              http_config(config_.request_timeout));
      watch_client_ =
          std::make_unique<http_client>(web::uri(config_.server), http_config(absl::Hours(2)));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("server {:?}: {}", config_.server, e.what()));
    }
    metrics::Registry& reg = options_.registry ? *options_.registry : metrics::default_registry();
    requests_total_ =
        &reg.counter_vec("rest_client_requests_total",
                         "Number of HTTP requests, partitioned by status code, method, and host.",
                         {"code", "method", "host"});
    request_duration_ = &reg.histogram_vec(
        "rest_client_request_duration_seconds",
        "Request latency in seconds. Broken down by verb, and host.", {"verb", "host"},
        {0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0});
    if (!options_.mapper) {
      options_.mapper = std::make_shared<DiscoveryRestMapper>(
          [this](std::string_view path) { return get_raw(path); });
    }
    return absl::OkStatus();
  }

  http_client_config http_config(absl::Duration timeout) const {
    http_client_config cfg;
    cfg.set_timeout(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
    cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
    std::string ca = config_.ca_pem, cert = client_cert_, key = client_key_;
    cfg.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
      if (!ca.empty()) install_ca(ctx.native_handle(), ca);
      if (!cert.empty()) install_client_cert(ctx.native_handle(), cert, key);
    });
    return cfg;
  }

  // ---- requests ----

  absl::StatusOr<http::http_request> make_request(const http::method& method,
                                                  const std::string& path_query,
                                                  std::string_view body,
                                                  std::string_view content_type) {
    http::http_request req(method);
    req.set_request_uri(path_query);
    auto& h = req.headers();
    h.add("Accept", "application/json");
    h.add("User-Agent", user_agent_);
    // cpprest takes the TLS name (SNI and verification) from the Host header.
    if (!config_.tls_server_name.empty()) h.add("Host", config_.tls_server_name);
    auto auth = credentials_.authorization();
    if (!auth.ok()) return auth.status();
    if (!auth->empty()) h.add("Authorization", *auth);
    if (!content_type.empty()) {
      // A byte stream, not set_body(std::string): cpprest's string overload reads a
      // streambuf<char> through a streambuf<unsigned char> (UBSan reports it).
      std::vector<uint8_t> bytes(body.begin(), body.end());
      size_t size = bytes.size();
      req.set_body(concurrency::streams::bytestream::open_istream(std::move(bytes)), size,
                   std::string(content_type));
    }
    return req;
  }

  // `verb` is the method, except for watches: method GET, verb WATCH (client-go's labels).
  void record(const std::string& method, const std::string& code, absl::Duration took,
              const std::string& verb = {}) {
    const std::string& v = verb.empty() ? method : verb;
    requests_total_->with({code, method, host_}).inc();
    request_duration_->with({v, host_}).observe(absl::ToDoubleSeconds(took));
    absl::MutexLock lock(&metrics_mu_);
    ++metrics_.requests_total[{code, method, host_}];
    auto& d = metrics_.request_duration[{v, host_}];
    ++d.first;
    d.second += absl::ToDoubleSeconds(took);
  }

  // One attempt. A transport failure is Unavailable without an API payload.
  absl::StatusOr<Response> send_once(const http::method& method, const std::string& path_query,
                                     std::string_view body, std::string_view content_type) {
    limiter_.take();
    auto req = make_request(method, path_query, body, content_type);
    if (!req.ok()) return req.status();
    absl::Time start = absl::Now();
    try {
      http::http_response resp = client_->request(*req).get();
      Response r;
      r.code = resp.status_code();
      r.body = resp.extract_utf8string(true).get();
      r.retry_after_seconds = parse_retry_after(resp.headers());
      record(method, std::to_string(r.code), absl::Now() - start);
      return r;
    } catch (const std::exception& e) {
      record(method, "<error>", absl::Now() - start);
      return absl::UnavailableError(
          fmt::format("{} {}{}: {}", method, config_.server, path_query, e.what()));
    }
  }

  // The request, with retries for idempotent ones and a credential refresh after a 401.
  absl::StatusOr<std::string> call(const http::method& method, const std::string& path_query,
                                   std::string_view body = {}, std::string_view content_type = {},
                                   bool idempotent = false) {
    bool reauthenticated = false;
    int retries = idempotent ? std::max(options_.max_retries, 0) : 0;
    for (int attempt = 0;; ++attempt) {
      auto r = send_once(method, path_query, body, content_type);
      absl::Duration delay = backoff(attempt);
      absl::Status error;
      if (!r.ok()) {
        if (is_api_error(r.status()) || r.status().code() != absl::StatusCode::kUnavailable)
          return r.status();
        error = r.status();
      } else if (r->code >= 200 && r->code < 300) {
        return std::move(r->body);
      } else {
        error = status_from_response(r->code, method, r->body, r->retry_after_seconds);
        if (r->code == 401 && !reauthenticated &&
            (config_.exec || !config_.bearer_token_file.empty())) {
          reauthenticated = true;
          credentials_.invalidate();
          --attempt;
          continue;
        }
        bool retriable = r->code == 429 || (r->code >= 500 && r->code != 501);
        if (!retriable) return error;
        if (r->retry_after_seconds > 0)
          delay = std::min(absl::Seconds(r->retry_after_seconds), options_.max_retry_after);
      }
      if (attempt >= retries) return error;
      absl::SleepFor(delay);
    }
  }

  absl::Duration backoff(int attempt) const {
    absl::Duration d = options_.initial_backoff;
    for (int i = 0; i < attempt && d < options_.max_backoff; ++i) d *= 2;
    return std::min(d, options_.max_backoff);
  }

  absl::StatusOr<std::string> get_raw(std::string_view path) {
    return call(http::methods::GET, std::string(path), {}, {}, true);
  }

  // ---- paths ----

  struct Target {
    std::string collection;  // .../RESOURCE
    std::string group, version, resource, kind;
    bool namespaced = true;
  };

  absl::StatusOr<Target> resolve(const ResourceRef& ref) {
    Target t;
    t.group = ref.group;
    t.version = ref.version;
    if (ref.resource.empty()) {
      if (ref.kind.empty())
        return absl::InvalidArgumentError(
            fmt::format("{}: neither resource nor kind is set", ref.to_string()));
      auto m = options_.mapper->mapping({ref.group, ref.version, ref.kind});
      if (!m.ok()) return m.status();
      t.version = m->resource.version;
      t.resource = m->resource.resource;
      t.kind = m->kind.kind;
      t.namespaced = m->namespaced;
    } else {
      t.resource = ref.resource;
      t.kind = ref.kind;
      if (const api::ResourceInfo* info = api::builtin_resource(ref.group, ref.resource);
          info && info->resource == ref.resource) {
        t.namespaced = info->namespaced;
        if (t.kind.empty()) t.kind = std::string(info->kind);
      } else {
        t.namespaced = !ref.namespace_.empty();
      }
    }
    if (t.version.empty())
      return absl::InvalidArgumentError(fmt::format("{}: no version", ref.to_string()));
    std::string p = t.group.empty() ? fmt::format("/api/{}", t.version)
                                    : fmt::format("/apis/{}/{}", t.group, t.version);
    if (t.namespaced && !ref.namespace_.empty()) p += fmt::format("/namespaces/{}", ref.namespace_);
    p += "/" + t.resource;
    t.collection = std::move(p);
    return t;
  }

  absl::StatusOr<std::string> object_path(const ResourceRef& ref, std::string_view name,
                                          bool status) {
    if (name.empty())
      return absl::InvalidArgumentError(fmt::format("{}: no name", ref.to_string()));
    if (name.find('/') != std::string_view::npos || name == "." || name == "..")
      return absl::InvalidArgumentError(fmt::format("{:?} cannot be a name", name));
    auto t = resolve(ref);
    if (!t.ok()) return t.status();
    return fmt::format("{}/{}{}", t->collection, name, status ? "/status" : "");
  }

  // ---- verbs ----

  absl::StatusOr<api::ObjectPtr> get(const ResourceRef& ref, const GetOptions& o, bool status) {
    auto path = object_path(ref, ref.name, status);
    if (!path.ok()) return path.status();
    Query q;
    if (!o.resource_version.empty()) q["resourceVersion"] = o.resource_version;
    auto body = call(http::methods::GET, with_query(*path, q), {}, {}, true);
    if (!body.ok()) return body.status();
    return decode_object(*body);
  }

  absl::StatusOr<ObjectList> list(const ResourceRef& ref, const ListOptions& o) {
    if (!ref.name.empty())
      return absl::InvalidArgumentError(fmt::format("{}: list takes no name", ref.to_string()));
    auto t = resolve(ref);
    if (!t.ok()) return t.status();
    Query q;
    if (!o.label_selector.empty()) q["labelSelector"] = o.label_selector;
    if (!o.field_selector.empty()) q["fieldSelector"] = o.field_selector;
    if (o.limit > 0) q["limit"] = std::to_string(o.limit);
    if (!o.continue_token.empty()) q["continue"] = o.continue_token;
    if (!o.resource_version.empty()) q["resourceVersion"] = o.resource_version;
    if (o.resource_version_match != ResourceVersionMatch::kUnset)
      q["resourceVersionMatch"] = std::string(rv_match(o.resource_version_match));
    if (o.timeout_seconds) q["timeoutSeconds"] = std::to_string(*o.timeout_seconds);
    auto body = call(http::methods::GET, with_query(t->collection, q), {}, {}, true);
    if (!body.ok()) return body.status();
    return decode_list(*body, *t);
  }

  absl::StatusOr<ObjectList> decode_list(const std::string& body, const Target& t) {
    rapidjson::Document doc;
    if (api::json::parse_into(doc, body).IsError() || !doc.IsObject())
      return absl::DataLossError("the server answered a list with undecodable JSON");
    ObjectList out;
    auto s = [](const rapidjson::Value& o, const char* k) -> std::string {
      if (!o.IsObject()) return {};
      auto it = o.FindMember(k);
      if (it == o.MemberEnd() || !it->value.IsString()) return {};
      return std::string(it->value.GetString(), it->value.GetStringLength());
    };
    out.api_version = s(doc, "apiVersion");
    out.kind = s(doc, "kind");
    if (auto m = doc.FindMember("metadata"); m != doc.MemberEnd() && m->value.IsObject()) {
      out.resource_version = s(m->value, "resourceVersion");
      out.continue_token = s(m->value, "continue");
      if (auto r = m->value.FindMember("remainingItemCount");
          r != m->value.MemberEnd() && r->value.IsInt64())
        out.remaining_item_count = r->value.GetInt64();
    }
    if (out.api_version.empty())
      out.api_version = api::GroupVersion{t.group, t.version}.to_string();
    // Items of built-in lists come without apiVersion/kind: the list's kind minus "List".
    std::string item_kind = t.kind;
    if (out.kind.size() > 4 && out.kind.compare(out.kind.size() - 4, 4, "List") == 0)
      item_kind = out.kind.substr(0, out.kind.size() - 4);
    if (auto items = doc.FindMember("items"); items != doc.MemberEnd() && items->value.IsArray()) {
      out.items.reserve(items->value.Size());
      for (auto& item : items->value.GetArray()) {
        auto obj = api::Object::from_value(item);
        if (!obj.ok())
          return absl::DataLossError("the server answered a list with a non-object item");
        if (obj->api_version().empty()) obj->set_api_version(out.api_version);
        if (obj->kind().empty() && !item_kind.empty()) obj->set_kind(item_kind);
        out.items.push_back(api::share(*std::move(obj)));
      }
    }
    return out;
  }

  absl::StatusOr<WatchStreamPtr> watch(const ResourceRef& ref, const WatchOptions& o) {
    ResourceRef collection = ref;
    collection.name.clear();
    auto t = resolve(collection);
    if (!t.ok()) return t.status();
    Query q;
    q["watch"] = "true";
    std::string fields = o.field_selector;
    if (!ref.name.empty())
      fields =
          fields.empty() ? "metadata.name=" + ref.name : "metadata.name=" + ref.name + "," + fields;
    if (!o.label_selector.empty()) q["labelSelector"] = o.label_selector;
    if (!fields.empty()) q["fieldSelector"] = fields;
    if (!o.resource_version.empty()) q["resourceVersion"] = o.resource_version;
    if (o.allow_watch_bookmarks) q["allowWatchBookmarks"] = "true";
    if (o.timeout_seconds) q["timeoutSeconds"] = std::to_string(*o.timeout_seconds);
    std::string path_query = with_query(t->collection, q);

    limiter_.take();
    auto req = make_request(http::methods::GET, path_query, {}, {});
    if (!req.ok()) return req.status();
    pplx::cancellation_token_source cts;
    absl::Time start = absl::Now();
    try {
      http::http_response resp = watch_client_->request(*req, cts.get_token()).get();
      record("GET", std::to_string(resp.status_code()), absl::Now() - start, "WATCH");
      if (resp.status_code() != 200) {
        std::string body = resp.extract_utf8string(true).get();
        return status_from_response(resp.status_code(), "GET", body,
                                    parse_retry_after(resp.headers()));
      }
      return WatchStreamPtr(std::make_unique<RestWatchStream>(std::move(resp), std::move(cts)));
    } catch (const std::exception& e) {
      record("GET", "<error>", absl::Now() - start, "WATCH");
      return absl::UnavailableError(
          fmt::format("GET {}{}: {}", config_.server, path_query, e.what()));
    }
  }

  Query write_query(std::string_view field_manager, bool dry_run) {
    Query q;
    if (!field_manager.empty()) q["fieldManager"] = std::string(field_manager);
    if (dry_run) q["dryRun"] = "All";
    return q;
  }

  absl::StatusOr<api::ObjectPtr> create(const ResourceRef& ref, const api::Object& obj,
                                        const CreateOptions& o) {
    auto t = resolve(ref);
    if (!t.ok()) return t.status();
    auto body = call(http::methods::POST,
                     with_query(t->collection, write_query(o.field_manager, o.dry_run)),
                     obj.to_json(), "application/json");
    if (!body.ok()) return body.status();
    return decode_object(*body);
  }

  absl::StatusOr<api::ObjectPtr> update(const ResourceRef& ref, const api::Object& obj,
                                        const UpdateOptions& o, bool status) {
    std::string name = ref.name.empty() ? std::string(obj.name()) : ref.name;
    auto path = object_path(ref, name, status);
    if (!path.ok()) return path.status();
    auto body = call(http::methods::PUT, with_query(*path, write_query(o.field_manager, o.dry_run)),
                     obj.to_json(), "application/json");
    if (!body.ok()) return body.status();
    return decode_object(*body);
  }

  absl::StatusOr<api::ObjectPtr> patch(const ResourceRef& ref, PatchType type,
                                       std::string_view patch_body, const PatchOptions& o,
                                       bool status) {
    auto path = object_path(ref, ref.name, status);
    if (!path.ok()) return path.status();
    Query q = write_query(o.field_manager, o.dry_run);
    if (o.force) {
      if (type != PatchType::kApply)
        return absl::InvalidArgumentError("force is only allowed for server-side apply");
      q["force"] = *o.force ? "true" : "false";
    }
    if (type == PatchType::kApply && o.field_manager.empty())
      return absl::InvalidArgumentError(
          "server-side apply needs a field manager (PatchOptions::field_manager)");
    auto body = call(http::methods::PATCH, with_query(*path, q), patch_body, content_type(type));
    if (!body.ok()) return body.status();
    return decode_object(*body);
  }

  absl::StatusOr<api::ObjectPtr> remove(const ResourceRef& ref, const DeleteOptions& o) {
    auto path = object_path(ref, ref.name, false);
    if (!path.ok()) return path.status();
    auto body = call(http::methods::DEL, *path, delete_options_json(o), "application/json");
    if (!body.ok()) return body.status();
    auto obj = decode_object(*body);
    if (!obj.ok()) return obj.status();
    // A Status (Success) means the object is gone; an object means deletion is pending.
    if ((*obj)->kind() == "Status" && (*obj)->get_string("/status").value_or("") == "Success")
      return api::ObjectPtr();
    return obj;
  }

  RestMetrics metrics() const {
    absl::MutexLock lock(&metrics_mu_);
    return metrics_;
  }

  Config config_;
  RestClientOptions options_;
  Credentials credentials_;
  TokenBucket limiter_;
  std::string host_;
  std::string user_agent_;
  std::string client_cert_, client_key_;
  std::unique_ptr<http_client> client_;
  std::unique_ptr<http_client> watch_client_;
  metrics::CounterVec* requests_total_ = nullptr;
  metrics::HistogramVec* request_duration_ = nullptr;
  mutable absl::Mutex metrics_mu_;
  RestMetrics metrics_ ABSL_GUARDED_BY(metrics_mu_);
};

// ---- RestClient -------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<RestClient>> RestClient::create(Config config,
                                                               RestClientOptions options) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(options));
  if (auto s = impl->init(); !s.ok()) return s;
  return std::shared_ptr<RestClient>(new RestClient(std::move(impl)));
}

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

absl::StatusOr<api::ObjectPtr> RestClient::get(const ResourceRef& ref, const GetOptions& options) {
  return impl_->get(ref, options, false);
}
absl::StatusOr<ObjectList> RestClient::list(const ResourceRef& ref, const ListOptions& options) {
  return impl_->list(ref, options);
}
absl::StatusOr<WatchStreamPtr> RestClient::watch(const ResourceRef& ref,
                                                 const WatchOptions& options) {
  return impl_->watch(ref, options);
}
absl::StatusOr<api::ObjectPtr> RestClient::create(const ResourceRef& ref, const api::Object& object,
                                                  const CreateOptions& options) {
  return impl_->create(ref, object, options);
}
absl::StatusOr<api::ObjectPtr> RestClient::update(const ResourceRef& ref, const api::Object& object,
                                                  const UpdateOptions& options) {
  return impl_->update(ref, object, options, false);
}
absl::StatusOr<api::ObjectPtr> RestClient::patch(const ResourceRef& ref, PatchType type,
                                                 std::string_view body,
                                                 const PatchOptions& options) {
  return impl_->patch(ref, type, body, options, false);
}
absl::StatusOr<api::ObjectPtr> RestClient::remove(const ResourceRef& ref,
                                                  const DeleteOptions& options) {
  return impl_->remove(ref, options);
}
absl::StatusOr<api::ObjectPtr> RestClient::get_status(const ResourceRef& ref,
                                                      const GetOptions& options) {
  return impl_->get(ref, options, true);
}
absl::StatusOr<api::ObjectPtr> RestClient::update_status(const ResourceRef& ref,
                                                         const api::Object& object,
                                                         const UpdateOptions& options) {
  return impl_->update(ref, object, options, true);
}
absl::StatusOr<api::ObjectPtr> RestClient::patch_status(const ResourceRef& ref, PatchType type,
                                                        std::string_view body,
                                                        const PatchOptions& options) {
  return impl_->patch(ref, type, body, options, true);
}
absl::StatusOr<std::string> RestClient::get_raw(std::string_view path) {
  return impl_->get_raw(path);
}
absl::StatusOr<std::string> RestClient::path_of(const ResourceRef& ref, bool status) {
  if (ref.name.empty()) {
    auto t = impl_->resolve(ref);
    if (!t.ok()) return t.status();
    return t->collection;
  }
  return impl_->object_path(ref, ref.name, status);
}
RestMapper& RestClient::mapper() {
  return *impl_->options_.mapper;
}
const Config& RestClient::config() const {
  return impl_->config_;
}
RestMetrics RestClient::metrics() const {
  return impl_->metrics();
}

}  // namespace kop::client
