// Proxy: publishes configs to the workers, owns the listening sockets, the admin listener and
// the access-log writer.
#include "kop/proxy/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <iterator>
#include <map>

#include <absl/base/thread_annotations.h>
#include <absl/strings/str_cat.h>
#include <absl/synchronization/mutex.h>
#include <fmt/format.h>
#include "client_conn.h"
#include "health_check.h"
#include "tls.h"
#include "up_tls.h"
#include "worker.h"

namespace kop::proxy::server {
namespace {

bool resolve(const SocketAddress& a, tcp::endpoint* out) {
  error_code ec;
  auto ip = asio::ip::make_address(a.host, ec);
  if (!ec) {
    *out = tcp::endpoint(ip, a.port);
    return true;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(a.host.c_str(), nullptr, &hints, &res) != 0 || !res) return false;
  bool ok = false;
  for (addrinfo* r = res; r && !ok; r = r->ai_next) {
    if (r->ai_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(r->ai_addr);
      *out = tcp::endpoint(asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)), a.port);
      ok = true;
    } else if (r->ai_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(r->ai_addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      *out = tcp::endpoint(asio::ip::address_v6(b), a.port);
      ok = true;
    }
  }
  ::freeaddrinfo(res);
  return ok;
}

// OK unless another socket already listens on `ep` (a port of 0 is always free). SO_REUSEPORT
// lets every socket of one user join a port's group, so a second kop-proxy or kop-ingress on
// the same address would silently take part of the connections: a plain bind (no
// SO_REUSEPORT) fails on a port anyone listens on, and is released before the workers bind.
absl::Status port_free(const tcp::endpoint& ep) {
  if (ep.port() == 0) return absl::OkStatus();
  int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::OkStatus();  // the real bind reports it
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT does not count
  if (ep.protocol().family() == AF_INET6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  bool taken = ::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0 && errno == EADDRINUSE;
  ::close(fd);
  if (!taken) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("bind ", ep.address().to_string(), ":", ep.port(),
                                             ": address already in use by another process"));
}

// A listening socket with SO_REUSEPORT (one per worker share the port).
absl::StatusOr<int> listen_socket(const tcp::endpoint& ep) {
  int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (ep.protocol().family() == AF_INET6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
    int e = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("bind ", ep.address().to_string(), ":", ep.port(), ": ", std::strerror(e)));
  }
  if (::listen(fd, 4096) != 0) {
    int e = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("listen: ", std::strerror(e)));
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

std::string prom_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '\\' || c == '"') o.push_back('\\');
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o.push_back(c);
  }
  return o;
}

// Reads a file at every build (a changed certificate or CA file is taken at the next apply).
bool reads_files(const UpstreamTlsConfig& tls) {
  return !tls.ca_file.empty() ||
         (tls.client_certificate && (!tls.client_certificate->cert_file.empty() ||
                                     !tls.client_certificate->key_file.empty()));
}

}  // namespace

class ProxyImpl {
 public:
  explicit ProxyImpl(ProxyOptions o) : opts_(std::move(o)) {}
  ~ProxyImpl() { shutdown(std::chrono::milliseconds(0)); }

  absl::Status apply(const std::shared_ptr<const Config>& shared);
  void shutdown(std::optional<std::chrono::milliseconds> grace);
  std::optional<uint16_t> listener_port(std::string_view name) const {
    absl::MutexLock l(&mu_);
    auto it = listeners_.find(std::string(name));
    if (it == listeners_.end()) return std::nullopt;
    return it->second.port;
  }
  std::optional<uint16_t> admin_port() const {
    absl::MutexLock l(&mu_);
    if (admin_fd_ < 0) return std::nullopt;
    return admin_port_;
  }
  uint64_t version() const {
    absl::MutexLock l(&mu_);
    return current_ ? current_->version : 0;
  }
  std::string metrics_text() const;
  std::string config_dump() const;
  void count_failure(const absl::Status& s) {
    ++reloads_failed_;
    event(absl::StrCat("config refused: ", s.ToString()));
  }

 private:
  struct ListenerSock {
    SocketAddress address;
    uint16_t port = 0;
  };
  void event(std::string_view line) const {
    if (opts_.on_event) opts_.on_event(line);
  }
  void admin_loop(int fd);
  void log_loop();
  void flush_logs();
  // The workers' addresses, stable until shutdown() joins the helper threads and clears them.
  std::vector<Worker*> workers() const;
  std::string admin_response(std::string_view method, std::string_view path) const;

  ProxyOptions opts_;
  // Written by the control thread (apply, shutdown); read by the accessors, the admin thread
  // (metrics, /config_dump) and the access-log thread.
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ListenerSock> listeners_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int admin_fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint16_t admin_port_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> reloads_ok_{0}, reloads_failed_{0};
  std::atomic<bool> stopping_{false};
  // The control thread's own state.
  bool started_ = false;
  bool stopped_ = false;
  std::unique_ptr<HealthChecker> health_;
  std::thread admin_thread_;
  std::thread log_thread_;
  // The access-log destination: the control thread changes it, the log thread writes to it.
  absl::Mutex log_mu_;
  absl::CondVar log_cv_;
  FILE* log_file_ ABSL_GUARDED_BY(log_mu_) = nullptr;
  std::string log_path_ ABSL_GUARDED_BY(log_mu_);
  // The last /config_dump body and the snapshot version it serialises: repeated dumps of the
  // same version cost nothing, and no apply pays for a dump nobody asked for.
  mutable absl::Mutex dump_mu_;
  mutable uint64_t dump_version_ ABSL_GUARDED_BY(dump_mu_) = 0;
  mutable std::string dump_ ABSL_GUARDED_BY(dump_mu_);
};

absl::Status ProxyImpl::apply(const std::shared_ptr<const Config>& shared) {
  if (stopped_ || stopping_) return absl::FailedPreconditionError("proxy is shut down");
  const Config& config = *shared;
  std::shared_ptr<const Snapshot> prev;
  std::map<std::string, ListenerSock> bound;  // the listeners as they are now
  size_t nworkers = 0;
  {
    absl::MutexLock l(&mu_);
    prev = current_;
    bound = listeners_;
    nworkers = workers_.size();
  }
  auto refuse = [&](const absl::Status& s) {
    ++reloads_failed_;
    event(absl::StrCat("config refused: ", s.ToString()));
    return s;
  };
  auto table = RouteTable::compile(shared, prev ? prev->table.get() : nullptr);
  if (!table.ok()) return refuse(table.status());
  auto snap = std::make_shared<Snapshot>();
  snap->table = *table;
  const RouteTable& t = **table;
  snap->settings = config.server;
  snap->limits.max_head_bytes = config.server.max_request_header_bytes;
  snap->limits.max_uri_bytes = config.server.max_uri_bytes;
  snap->tls.resize(t.listeners().size());
  for (const Listener& l : t.listeners()) {
    if (!l.tls) continue;
    const TlsContexts* previous = nullptr;
    if (prev) {
      if (const Listener* pl = prev->table->find_listener(l.name)) {
        if (pl->id < prev->tls.size()) previous = prev->tls[pl->id].get();
      }
    }
    auto ctxs = TlsContexts::build(l, previous);
    if (!ctxs.ok())
      return refuse(absl::InvalidArgumentError(
          absl::StrCat("listeners[", l.name, "].tls: ", ctxs.status().message())));
    snap->tls[l.id] = *ctxs;
  }
  // Per cluster: the client TLS context and the resolved addresses. A cluster the previous
  // table had (the same compiled object at the same index) keeps both, so an apply costs in
  // proportion to the clusters that changed and dropping the previous snapshot frees only
  // theirs; names are resolved again and TLS files read again at every apply. The snapshot
  // starts as a copy of the previous one's chunks: those holding the clusters of chunks the
  // tables share are not walked (RouteTable::clusters()), but for the `refreshed` indexes.
  const size_t nclusters = t.clusters().size();
  static const ChunkedVector<std::shared_ptr<const UpstreamTls>> kNoContexts;
  const auto& previous_tls = prev ? prev->upstream_tls : kNoContexts;
  if (prev) {
    snap->upstream_tls = prev->upstream_tls;
    snap->resolved = prev->resolved;
  }
  snap->upstream_tls.resize(nclusters);
  snap->resolved.resize(nclusters);
  // One object for every cluster whose endpoints are all IP literals (ResolvedEndpoints).
  static const auto kLiterals =
      std::make_shared<const ResolvedEndpoints>(ResolvedEndpoints{{}, false, true});
  auto resolve_endpoints = [&](const Cluster& c) -> std::shared_ptr<const ResolvedEndpoints> {
    error_code literal;
    for (const Endpoint& ep : c.endpoints) {
      asio::ip::make_address(ep.address().host, literal);
      if (literal) break;
    }
    if (!literal) return kLiterals;
    auto r = std::make_shared<ResolvedEndpoints>();
    r->addresses.resize(c.endpoints.size());
    error_code ec;
    for (size_t e = 0; e < c.endpoints.size(); ++e) {
      const Endpoint& ep = c.endpoints[e];
      asio::ip::make_address(ep.address().host, ec);
      r->names = r->names || ec;
      if (tcp::endpoint a; resolve(ep.address(), &a))
        r->addresses[e] = a;
      else
        event(absl::StrCat("cannot resolve endpoint ", std::string(ep.address_text())));
    }
    return std::shared_ptr<const ResolvedEndpoints>(std::move(r));
  };
  // Writes only what differs: a chunk the previous snapshot holds too is copied at its first
  // change.
  auto put = [](auto& v, size_t i, const auto& value) {
    if (v[i] != value) v.set(i, value);
  };
  static const ChunkedVector<std::shared_ptr<const Cluster>> kNoClusters;
  const auto& before = prev ? prev->table->clusters() : kNoClusters;
  absl::Status failed;
  auto update = [&](size_t i) {
    const std::shared_ptr<const Cluster>& c = t.clusters()[i];
    if (!c) {  // a removed cluster's index
      put(snap->upstream_tls, i, nullptr);
      put(snap->resolved, i, nullptr);
      return;
    }
    const bool kept = i < before.size() && before[i] == c;
    // A kept cluster's config is not read unless it has a TLS context (the previous snapshot
    // built one exactly for the clusters with `tls`): at 10k clusters reading each was a cache
    // miss per cluster.
    const bool build_tls =
        kept ? previous_tls[i] && reads_files(*c->config.tls) : c->config.tls.has_value();
    if (kept && !build_tls) {
      put(snap->upstream_tls, i, previous_tls[i]);
    } else if (build_tls) {
      const ClusterConfig& cc = c->config;
      auto ctx = UpstreamTls::build(cc, previous_tls);
      if (!ctx.ok()) {
        failed = absl::InvalidArgumentError(
            absl::StrCat("clusters[", cc.name, "].tls.", ctx.status().message()));
        return;
      }
      put(snap->upstream_tls, i, *ctx);
      if (reads_files(*cc.tls)) snap->refreshed.push_back(static_cast<uint32_t>(i));
    } else {
      put(snap->upstream_tls, i, nullptr);
    }
    if (kept && prev->resolved[i] && !prev->resolved[i]->names) {
      put(snap->resolved, i, prev->resolved[i]);
    } else {
      put(snap->resolved, i, resolve_endpoints(*c));
      if (snap->resolved[i]->names &&
          (snap->refreshed.empty() || snap->refreshed.back() != static_cast<uint32_t>(i)))
        snap->refreshed.push_back(static_cast<uint32_t>(i));
    }
  };
  t.clusters().for_each_unshared_index(before, [&](size_t i) {
    update(i);
    return failed.ok();
  });
  const size_t chunk = ChunkedVector<int>::kChunkSize;
  if (prev)
    for (uint32_t i : prev->refreshed)
      if (failed.ok() && i < nclusters && t.clusters().shares_chunk(before, i / chunk)) update(i);
  if (!failed.ok()) return refuse(failed);
  // /config_dump is serialised when asked (config_dump()), not here: at 1k virtual hosts the
  // pretty-printed Config is megabytes, and most applies are never dumped.

  // Workers: fixed at the first apply.
  if (!started_) {
    nworkers = opts_.workers ? opts_.workers : config.server.workers;
    if (nworkers == 0) nworkers = std::max(1u, std::thread::hardware_concurrency());
  }

  // Listening sockets for new or moved listeners.
  struct NewListener {
    std::string name;
    SocketAddress address;
    std::vector<int> fds;
    uint16_t port = 0;
  };
  std::vector<NewListener> added;
  std::vector<std::string> removed;
  auto close_added = [&] {
    for (auto& n : added)
      for (int fd : n.fds) ::close(fd);
  };
  for (const ListenerConfig& lc : config.listeners) {
    auto it = bound.find(lc.name);
    if (it != bound.end() && it->second.address == lc.address) continue;
    if (it != bound.end()) removed.push_back(lc.name);
    NewListener n;
    n.name = lc.name;
    n.address = lc.address;
    tcp::endpoint ep;
    if (!resolve(lc.address, &ep)) {
      close_added();
      return refuse(absl::InvalidArgumentError(
          absl::StrCat("listeners[", lc.name, "].address: cannot resolve ", lc.address.host)));
    }
    // A listener whose address equals a listener being removed would conflict: the old
    // socket of the same name is closed first by remove/add ordering below; different names on
    // the same address are rejected by validate(). Our own listeners on the port (one renamed
    // or moved in this reload) are no other process.
    bool ours = false;
    for (const auto& [name, sock] : bound) ours = ours || sock.port == ep.port();
    if (absl::Status free = ours ? absl::OkStatus() : port_free(ep); !free.ok()) {
      close_added();
      return refuse(
          absl::UnavailableError(absl::StrCat("listeners[", lc.name, "]: ", free.message())));
    }
    for (size_t w = 0; w < nworkers; ++w) {
      if (w > 0) ep.port(n.port);
      auto fd = listen_socket(ep);
      if (!fd.ok()) {
        for (int f : n.fds) ::close(f);
        close_added();
        return refuse(absl::UnavailableError(
            absl::StrCat("listeners[", lc.name, "]: ", fd.status().message())));
      }
      if (w == 0) n.port = bound_port(*fd);
      n.fds.push_back(*fd);
    }
    added.push_back(std::move(n));
  }
  for (const auto& [name, ls] : bound) {
    bool keep = false;
    for (const ListenerConfig& lc : config.listeners)
      if (lc.name == name) keep = true;
    if (!keep) removed.push_back(name);
  }

  {
    absl::MutexLock l(&mu_);
    snap->version = ++version_;
    current_ = snap;
    for (const auto& name : removed) listeners_.erase(name);
    for (const auto& n : added) listeners_[n.name] = ListenerSock{n.address, n.port};
    if (!started_) {
      for (size_t i = 0; i < nworkers; ++i)
        workers_.push_back(std::make_unique<Worker>(uint32_t(i)));
    }
  }
  const std::vector<Worker*> workers = this->workers();
  for (Worker* w : workers) w->publish(snap);
  // The health checker starts with the first cluster that has checks: while there is none,
  // only the clusters in chunks the previous table does not share can have some.
  bool any_hc = false;
  if (!health_)
    t.clusters().for_each_unshared_index(before, [&](size_t i) {
      const std::shared_ptr<const Cluster>& c = t.clusters()[i];
      any_hc = c && c->config.health_check;
      return !any_hc;
    });
  if (any_hc) health_ = std::make_unique<HealthChecker>();
  if (health_) health_->update(snap);
  for (const auto& name : removed)
    for (Worker* w : workers) w->remove_listener(name);
  for (auto& n : added) {
    for (size_t i = 0; i < workers.size(); ++i) workers[i]->add_listener(n.name, n.fds[i]);
    event(absl::StrCat("listener ", n.name, " bound to ", n.address.host, ":", n.port));
  }
  for (const auto& name : removed) event(absl::StrCat("listener ", name, " closed"));
  if (!started_) {
    started_ = true;
    for (Worker* w : workers) w->start();
    if (config.admin.enabled) {
      tcp::endpoint ep;
      if (resolve(config.admin.address, &ep)) {
        absl::Status free = port_free(ep);
        auto fd = free.ok() ? listen_socket(ep) : absl::StatusOr<int>(free);
        if (fd.ok()) {
          int flags = ::fcntl(*fd, F_GETFL);
          ::fcntl(*fd, F_SETFL, flags | O_NONBLOCK);
          uint16_t port = bound_port(*fd);
          {
            absl::MutexLock l(&mu_);
            admin_fd_ = *fd;
            admin_port_ = port;
          }
          admin_thread_ = std::thread([this, fd = *fd] { admin_loop(fd); });
          event(absl::StrCat("admin listener bound to ", config.admin.address.host, ":", port));
        } else {
          event(absl::StrCat("admin listener: ", fd.status().message()));
        }
      }
    }
    log_thread_ = std::thread([this] { log_loop(); });
  } else {
    ++reloads_ok_;
  }
  {
    absl::MutexLock l(&log_mu_);
    if (config.server.access_log_path != log_path_) {
      if (log_file_) std::fclose(log_file_);
      log_file_ = nullptr;
      log_path_ = config.server.access_log_path;
      if (!log_path_.empty()) log_file_ = std::fopen(log_path_.c_str(), "a");
    }
  }
  event(absl::StrCat("config version ", snap->version, " applied (", t.route_count(), " routes, ",
                     config.clusters.size(), " clusters)"));
  return absl::OkStatus();
}

void ProxyImpl::shutdown(std::optional<std::chrono::milliseconds> grace) {
  if (stopped_) return;
  stopping_ = true;
  std::chrono::milliseconds g = std::chrono::milliseconds(0);
  if (grace) {
    g = *grace;
  } else {
    absl::MutexLock l(&mu_);
    if (current_) g = current_->settings.drain_timeout;
  }
  health_.reset();
  const std::vector<Worker*> workers = this->workers();
  for (Worker* w : workers) w->drain();
  auto deadline = std::chrono::steady_clock::now() + g;
  for (;;) {
    uint64_t active = 0;
    for (Worker* w : workers) active += w->active_connections();
    if (active == 0 || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (Worker* w : workers) w->stop();
  // The loops end once every aborted operation completed; give them a moment, then force.
  auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (Worker* w : workers) {
    while (w->io().stopped() == false && std::chrono::steady_clock::now() < hard)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!w->io().stopped()) w->force_stop();
    w->join();
  }
  if (admin_thread_.joinable()) admin_thread_.join();
  log_cv_.SignalAll();
  if (log_thread_.joinable()) log_thread_.join();
  flush_logs();
  {
    absl::MutexLock l(&mu_);
    if (admin_fd_ >= 0) ::close(admin_fd_);
    admin_fd_ = -1;
    workers_.clear();
  }
  {
    absl::MutexLock l(&log_mu_);
    if (log_file_) std::fclose(log_file_);
    log_file_ = nullptr;
  }
  stopped_ = true;
  event("shut down");
}

std::vector<Worker*> ProxyImpl::workers() const {
  absl::MutexLock l(&mu_);
  std::vector<Worker*> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) out.push_back(w.get());
  return out;
}

void ProxyImpl::log_loop() {
  while (!stopping_) {
    {
      absl::MutexLock l(&log_mu_);
      log_cv_.WaitWithTimeout(&log_mu_, absl::Milliseconds(100));
    }
    flush_logs();
  }
}

void ProxyImpl::flush_logs() {
  std::string all;
  for (Worker* w : workers()) all += w->access_log().take();
  if (all.empty()) return;
  absl::MutexLock l(&log_mu_);
  FILE* f = log_file_ ? log_file_ : stdout;
  std::fwrite(all.data(), 1, all.size(), f);
  std::fflush(f);
}

void ProxyImpl::admin_loop(int fd) {
  while (!stopping_) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string buf;
    char tmp[4096];
    size_t scan = 0, len = 0;
    while (buf.size() < 65536) {
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) break;
      buf.append(tmp, static_cast<size_t>(n));
      len = h1::find_head_end(buf.data(), buf.size(), &scan);
      if (len) break;
    }
    std::string resp;
    h1::RequestHead req;
    h1::Error err;
    if (len && h1::parse_request(buf.data(), len, h1::Limits{}, &req, &err)) {
      resp = admin_response(req.method, req.path);
    } else {
      resp =
          "HTTP/1.1 400 Bad Request\r\nserver: kop\r\ncontent-length: 12\r\nconnection: "
          "close\r\n\r\nbad request\n";
    }
    size_t off = 0;
    while (off < resp.size()) {
      ssize_t n = ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(c);
  }
}

std::string ProxyImpl::admin_response(std::string_view method, std::string_view path) const {
  int status = 200;
  std::string body;
  std::string type = "text/plain; charset=utf-8";
  if (method != "GET" && method != "HEAD") {
    status = 405;
    body = "method not allowed\n";
  } else if (path == "/healthz") {
    body = "ok\n";
  } else if (path == "/ready") {
    bool ready = started_ && !stopping_ && version() > 0;
    status = ready ? 200 : 503;
    body = ready ? "ready\n" : "not ready\n";
  } else if (path == "/config_dump") {
    body = config_dump();
    type = "application/json";
  } else if (path == "/metrics") {
    body = metrics_text();
    type = "text/plain; version=0.0.4";
  } else {
    status = 404;
    body = "not found\n";
  }
  std::string r = fmt::format(
      "HTTP/1.1 {} {}\r\nserver: kop\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: "
      "close\r\n\r\n",
      status, h1::reason_phrase(status), type, body.size());
  if (method != "HEAD") r += body;
  return r;
}

std::string ProxyImpl::config_dump() const {
  std::shared_ptr<const Snapshot> s;
  {
    absl::MutexLock l(&mu_);
    s = current_;
  }
  if (!s) return "{\"version\":0,\"config\":null}\n";
  // The table holds the applied Config as it was given (copied, or shared with the caller of
  // apply(shared_ptr), which cannot change it), so the dump serialises exactly what apply()
  // received, private keys and password hashes redacted (the admin listener is not a place
  // to read secrets from).
  absl::MutexLock l(&dump_mu_);
  if (dump_version_ != s->version || dump_.empty()) {
    const Config& config = s->table->config();
    dump_ = fmt::format("{{\"version\":{},\"generation\":\"{}\",\"config\":{}}}\n", s->version,
                        prom_escape(config.generation), to_json(config, true, Secrets::kRedact));
    dump_version_ = s->version;
  }
  return dump_;
}

std::string ProxyImpl::metrics_text() const {
  std::shared_ptr<const Snapshot> snap;
  std::vector<Worker*> workers;
  {
    absl::MutexLock l(&mu_);
    snap = current_;
    for (const auto& w : workers_) workers.push_back(w.get());
  }
  // Collect on each worker's own thread (its counters are plain integers).
  std::vector<Worker::Scrape> scrapes;
  if (!stopping_) {
    std::vector<std::future<Worker::Scrape>> futs;
    for (Worker* wp : workers) {
      auto p = std::make_shared<std::promise<Worker::Scrape>>();
      futs.push_back(p->get_future());
      asio::post(wp->io(), [wp, p] { p->set_value(wp->collect()); });
    }
    for (auto& f : futs) {
      if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) continue;
      try {
        scrapes.push_back(f.get());
      } catch (const std::future_error&) {
        // The worker went away with the scrape still queued (its promise broken): skip it.
      }
    }
  }
  WorkerStats total;
  for (const auto& s : scrapes) {
    const WorkerStats& w = s.stats;
    total.downstream_active += w.downstream_active;
    total.downstream_total += w.downstream_total;
    total.upstream_active += w.upstream_active;
    total.upstream_connects += w.upstream_connects;
    total.upstream_connect_failures += w.upstream_connect_failures;
    total.upstream_tls_failures += w.upstream_tls_failures;
    total.upstream_tls_resumed += w.upstream_tls_resumed;
    total.upstream_reused += w.upstream_reused;
    total.retries += w.retries;
    total.pending_active += w.pending_active;
    total.pending_total += w.pending_total;
    total.pending_overflow += w.pending_overflow;
    total.mirror_started += w.mirror_started;
    total.mirror_answered += w.mirror_answered;
    total.mirror_dropped += w.mirror_dropped;
    total.mirror_failed += w.mirror_failed;
    total.ext_auth_checks += w.ext_auth_checks;
    total.ext_auth_cached += w.ext_auth_cached;
    total.ext_auth_allowed += w.ext_auth_allowed;
    total.ext_auth_denied += w.ext_auth_denied;
    total.ext_auth_failed += w.ext_auth_failed;
    total.passthrough.add(w.passthrough);
    total.tcp_proxy.add(w.tcp_proxy);
    total.client_hello_rejected += w.client_hello_rejected;
    total.send_batches += w.send_batches;
    total.batched_sends += w.batched_sends;
    total.send_batching_on += w.send_batching_on;
    for (size_t i = 0; i <= kLatencyBuckets; ++i) total.latency_buckets[i] += w.latency_buckets[i];
    total.latency_sum_ms += w.latency_sum_ms;
    total.latency_count += w.latency_count;
    for (const auto& [k, v] : w.requests) total.requests[k] += v;
  }
  std::string o;
  o += "# HELP kop_proxy_requests_total Requests answered, by virtual host, route and status.\n";
  o += "# TYPE kop_proxy_requests_total counter\n";
  for (const auto& [k, v] : total.requests) {
    o += fmt::format("kop_proxy_requests_total{{vhost=\"{}\",route=\"{}\",code=\"{}\"}} {}\n",
                     prom_escape(std::get<0>(k)), prom_escape(std::get<1>(k)), std::get<2>(k), v);
  }
  o += "# HELP kop_proxy_request_duration_seconds Time from request head to response end.\n";
  o += "# TYPE kop_proxy_request_duration_seconds histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    cum += total.latency_buckets[i];
    o += fmt::format("kop_proxy_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                     kLatencyBucketsMs[i] / 1000.0, cum);
  }
  cum += total.latency_buckets[kLatencyBuckets];
  o += fmt::format("kop_proxy_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cum);
  o += fmt::format("kop_proxy_request_duration_seconds_sum {}\n", total.latency_sum_ms / 1000.0);
  o += fmt::format("kop_proxy_request_duration_seconds_count {}\n", total.latency_count);
  auto gauge = [&](std::string_view name, std::string_view help, const char* type, uint64_t v) {
    o += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
  };
  gauge("kop_proxy_downstream_connections_active", "Open client connections.", "gauge",
        total.downstream_active);
  gauge("kop_proxy_downstream_connections_total", "Accepted client connections.", "counter",
        total.downstream_total);
  gauge("kop_proxy_upstream_connections_active", "Open upstream connections (idle and busy).",
        "gauge", total.upstream_active);
  gauge("kop_proxy_upstream_connections_total", "Upstream connections opened.", "counter",
        total.upstream_connects);
  gauge("kop_proxy_upstream_connect_failures_total", "Upstream connection failures.", "counter",
        total.upstream_connect_failures);
  gauge("kop_proxy_upstream_tls_failures_total",
        "Upstream TLS handshakes that failed (certificate, name, ALPN, protocol).", "counter",
        total.upstream_tls_failures);
  gauge("kop_proxy_upstream_tls_resumed_total",
        "Upstream TLS handshakes that resumed the endpoint's last session.", "counter",
        total.upstream_tls_resumed);
  gauge("kop_proxy_upstream_reused_total", "Requests sent on a pooled upstream connection.",
        "counter", total.upstream_reused);
  gauge("kop_proxy_upstream_retries_total", "Request retries.", "counter", total.retries);
  gauge("kop_proxy_send_batching_workers",
        "Workers sending each turn's writes in one io_uring system call (0: io_uring unavailable "
        "or KOP_PROXY_IO_URING=0, writes are sent one by one).",
        "gauge", total.send_batching_on);
  gauge("kop_proxy_send_batches_total", "io_uring system calls that sent a turn's writes.",
        "counter", total.send_batches);
  gauge("kop_proxy_batched_sends_total", "Socket writes carried by those system calls.", "counter",
        total.batched_sends);
  gauge("kop_proxy_upstream_rq_pending_active",
        "Requests waiting for an upstream connection (connection limits reached).", "gauge",
        total.pending_active);
  gauge("kop_proxy_upstream_rq_pending_total", "Requests that waited for an upstream connection.",
        "counter", total.pending_total);
  gauge("kop_proxy_upstream_rq_pending_overflow_total",
        "Requests answered 503 because the cluster's pending queue was full.", "counter",
        total.pending_overflow);
  gauge("kop_proxy_mirror_requests_total", "Request copies sent to mirror clusters.", "counter",
        total.mirror_started);
  gauge("kop_proxy_mirror_answered_total", "Mirrored requests whose mirror answered.", "counter",
        total.mirror_answered);
  gauge("kop_proxy_mirror_dropped_total",
        "Mirrored requests given up because the mirror was too slow to take the request, or "
        "its cluster was at its connection limit.",
        "counter", total.mirror_dropped);
  gauge("kop_proxy_mirror_failed_total",
        "Mirrored requests that failed (no endpoint, connection or write error, timeout).",
        "counter", total.mirror_failed);
  gauge("kop_proxy_ext_auth_requests_total",
        "Requests checked by external authentication (auth request or cached answer).", "counter",
        total.ext_auth_checks);
  gauge("kop_proxy_ext_auth_cached_total",
        "External authentication answers taken from a route's cache.", "counter",
        total.ext_auth_cached);
  gauge("kop_proxy_ext_auth_allowed_total", "Requests external authentication let through.",
        "counter", total.ext_auth_allowed);
  gauge("kop_proxy_ext_auth_denied_total",
        "Requests external authentication refused (401, 403 or the sign-in redirect).", "counter",
        total.ext_auth_denied);
  gauge("kop_proxy_ext_auth_failed_total",
        "Requests answered 500 because the auth service failed (another status, a connection "
        "error, a timeout).",
        "counter", total.ext_auth_failed);
  struct Relay {
    const char* prefix;
    const char* what;
    const char* selects;
    const RelayCounters& n;
  };
  for (const Relay& r :
       {Relay{"kop_proxy_tls_passthrough", "TLS passthrough",
              "Connections whose ClientHello selected a TLS passthrough entry.", total.passthrough},
        Relay{"kop_proxy_tls_tcp_proxy", "TLS-terminated TCP proxy",
              "Connections whose SNI selected a TLS-terminated tcp_proxy entry.",
              total.tcp_proxy}}) {
    std::string p = r.prefix;
    gauge(p + "_connections_active", fmt::format("{} connections being relayed.", r.what), "gauge",
          r.n.active);
    gauge(p + "_connections_total", r.selects, "counter", r.n.total);
    gauge(p + "_connect_failures_total",
          fmt::format("Failed upstream connection attempts of {}.", r.what), "counter",
          r.n.connect_failures);
    gauge(p + "_bytes_up_total",
          fmt::format("Bytes relayed client to upstream by ended {} connections.", r.what),
          "counter", r.n.bytes_up);
    gauge(p + "_bytes_down_total",
          fmt::format("Bytes relayed upstream to client by ended {} connections.", r.what),
          "counter", r.n.bytes_down);
  }
  gauge("kop_proxy_tls_client_hello_rejected_total",
        "Connections closed on a malformed or oversized ClientHello (passthrough listeners).",
        "counter", total.client_hello_rejected);
  // Per cluster: its endpoints and how many take traffic now. Per endpoint only where it says
  // something: every endpoint of a cluster with active health checks, elsewhere the endpoints
  // ejected now or before. At 10k clusters of 10 endpoints a series for each endpoint was
  // 200k series and a 45 MB scrape; an endpoint without a series is healthy, never ejected.
  o += "# HELP kop_proxy_upstream_cluster_endpoints Endpoints of the cluster.\n"
       "# TYPE kop_proxy_upstream_cluster_endpoints gauge\n";
  std::string available =
      "# HELP kop_proxy_upstream_cluster_endpoints_healthy Endpoints of the cluster healthy "
      "and not ejected.\n# TYPE kop_proxy_upstream_cluster_endpoints_healthy gauge\n";
  std::string healthy =
      "# HELP kop_proxy_upstream_endpoint_healthy 1 when the endpoint is healthy and not "
      "ejected (every endpoint of a cluster with active health checks; elsewhere the endpoints "
      "ejected now or before).\n# TYPE kop_proxy_upstream_endpoint_healthy gauge\n";
  std::string ejections =
      "# HELP kop_proxy_upstream_endpoint_ejections_total Outlier ejections (the endpoints of "
      "kop_proxy_upstream_endpoint_healthy).\n"
      "# TYPE kop_proxy_upstream_endpoint_ejections_total counter\n";
  if (snap) {
    auto now = MonoClock::now();
    for (const auto& c : snap->table->clusters()) {
      if (!c) continue;
      std::string cluster = prom_escape(c->name);
      bool checked = c->config.health_check.has_value();
      size_t up = 0;
      for (size_t i = 0; i < c->endpoints.size(); ++i) {
        bool ok = c->health().available(i, now);
        up += ok;
        uint64_t ejected = c->health().ejections(i);
        if (!checked && ok && ejected == 0) continue;
        std::string labels = fmt::format("cluster=\"{}\",endpoint=\"{}\"", cluster,
                                         prom_escape(c->endpoints[i].address_text()));
        fmt::format_to(std::back_inserter(healthy),
                       "kop_proxy_upstream_endpoint_healthy{{{}}} {}\n", labels, ok ? 1 : 0);
        fmt::format_to(std::back_inserter(ejections),
                       "kop_proxy_upstream_endpoint_ejections_total{{{}}} {}\n", labels, ejected);
      }
      fmt::format_to(std::back_inserter(o),
                     "kop_proxy_upstream_cluster_endpoints{{cluster=\"{}\"}} {}\n", cluster,
                     c->endpoints.size());
      fmt::format_to(std::back_inserter(available),
                     "kop_proxy_upstream_cluster_endpoints_healthy{{cluster=\"{}\"}} {}\n", cluster,
                     up);
    }
  }
  o += available;
  o += healthy;
  o += ejections;
  o += "# HELP kop_proxy_config_reloads_total Config reloads by result.\n";
  o += "# TYPE kop_proxy_config_reloads_total counter\n";
  o += fmt::format("kop_proxy_config_reloads_total{{result=\"success\"}} {}\n", reloads_ok_.load());
  o += fmt::format("kop_proxy_config_reloads_total{{result=\"failure\"}} {}\n",
                   reloads_failed_.load());
  gauge("kop_proxy_config_version", "Version of the active config.", "gauge",
        snap ? snap->version : 0);
  gauge("kop_proxy_workers", "Worker threads.", "gauge", workers.size());
  return o;
}

}  // namespace kop::proxy::server

namespace kop::proxy {

Proxy::Proxy(ProxyOptions options)
    : impl_(std::make_unique<server::ProxyImpl>(std::move(options))) {}
Proxy::~Proxy() = default;
absl::Status Proxy::apply(const Config& config) {
  return impl_->apply(std::make_shared<const Config>(config));
}
absl::Status Proxy::apply(const std::shared_ptr<const Config>& config) {
  return impl_->apply(config);
}
absl::Status Proxy::apply_json(std::string_view json) {
  auto cfg = parse_config(json);
  if (!cfg.ok()) {
    impl_->count_failure(cfg.status());
    return cfg.status();
  }
  return impl_->apply(std::make_shared<const Config>(std::move(*cfg)));
}
void Proxy::shutdown(std::optional<std::chrono::milliseconds> grace) {
  impl_->shutdown(grace);
}
std::optional<uint16_t> Proxy::listener_port(std::string_view name) const {
  return impl_->listener_port(name);
}
std::optional<uint16_t> Proxy::admin_port() const {
  return impl_->admin_port();
}
uint64_t Proxy::version() const {
  return impl_->version();
}
std::string Proxy::metrics_text() const {
  return impl_->metrics_text();
}
std::string Proxy::config_dump() const {
  return impl_->config_dump();
}

}  // namespace kop::proxy
