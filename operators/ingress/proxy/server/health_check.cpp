// Active HTTP health checks: one thread probes every endpoint of the clusters that configure a
// health_check (GET path, Connection: close, status in expected_statuses within timeout) and
// reports into the cluster's shared OutlierDetector, which load balancers consult. Probes of
// one round run concurrently (non-blocking sockets, one poll loop), so a slow endpoint costs
// its timeout once, not once per endpoint.
// A probe speaks as the cluster does: over TLS with the cluster's client context (the same
// trust, name checks, client certificate and ALPN as its requests: a probe that could not
// verify the endpoint does not count as healthy), and HTTP/2 (one stream, prior knowledge or
// ALPN h2; health_h2.h) for h2c and h2 clusters, HTTP/1.1 otherwise.
#include "health_check.h"

#include <absl/time/time.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "buffer.h"
#include "health_h2.h"
#include "up_tls.h"

namespace kop::proxy::server {
struct HealthProbe {
  std::shared_ptr<const Cluster> cluster;
  std::shared_ptr<const UpstreamTls> tls;  // null: plain TCP
  size_t endpoint = 0;
  std::optional<tcp::endpoint> address;  // as the snapshot resolved it (nullopt: did not)
  int fd = -1;
  bool connected = false;
  bool h2 = false;
  std::string request;  // plaintext
  std::unique_ptr<UpTlsSession> session;
  bool handshaken = false;
  std::unique_ptr<Buffer> out = std::make_unique<Buffer>();  // bytes to send (TLS: ciphertext)
  std::string response;                                      // plaintext received
  bool done = false;
  bool ok = false;
};

namespace {

bool status_expected(const HealthCheckConfig& hc, int status) {
  for (const StatusRange& r : hc.expected_statuses)
    if (status >= int(r.start) && status <= int(r.end)) return true;
  return false;
}

void finish(HealthProbe& p) {
  if (p.fd >= 0) ::close(p.fd);
  p.fd = -1;
  p.session.reset();
  p.done = true;
}

// The connection is up: start TLS, or queue the request.
void start(HealthProbe& p) {
  p.connected = true;
  if (!p.tls) {
    p.out->append(p.request.data(), p.request.size());
    return;
  }
  p.session = std::make_unique<UpTlsSession>(
      p.tls, nullptr, p.cluster->endpoints[p.endpoint].address().host, p.out.get());
  if (p.session->handshake() == UpTlsSession::Step::kFailed) finish(p);
}

// Whether the plaintext so far decides the probe (it then ends).
void judge(HealthProbe& p) {
  const HealthCheckConfig& hc = *p.cluster->config.health_check;
  if (p.h2) {
    int status = 0;
    H2ProbeAnswer a = h2_probe_status(p.response, &status);
    if (a == H2ProbeAnswer::kNeedMore) return;
    p.ok = a == H2ProbeAnswer::kStatus && status_expected(hc, status);
    finish(p);
    return;
  }
  // "HTTP/1.x SSS" is all we need.
  if (p.response.size() < 12) return;
  if (p.response.compare(0, 7, "HTTP/1.") == 0)
    p.ok = status_expected(hc, std::atoi(p.response.c_str() + 9));
  finish(p);
}

// Bytes that arrived: through the TLS engine (handshake, then decryption) or as they are.
void received(HealthProbe& p, const char* data, size_t n) {
  if (!p.tls) {
    p.response.append(data, n);
    judge(p);
    return;
  }
  p.session->raw().append(data, n);
  if (!p.handshaken) {
    UpTlsSession::Step s = p.session->handshake();
    if (s == UpTlsSession::Step::kWantRead) return;
    if (s == UpTlsSession::Step::kFailed || !p.session->encrypt(p.request.data(), p.request.size()))
      return finish(p);
    p.handshaken = true;
  }
  Buffer plain;
  if (p.session->decrypt(plain) == UpTlsSession::Read::kFailed) return finish(p);
  if (plain.size() > 0) p.response.append(plain.data(), plain.size());
  judge(p);
}

}  // namespace

HealthChecker::HealthChecker() {
  thread_ = std::thread([this] { loop(); });
}

HealthChecker::~HealthChecker() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void HealthChecker::update(std::shared_ptr<const Snapshot> snap) {
  {
    absl::MutexLock l(&mu_);
    snap_ = std::move(snap);
  }
  cv_.SignalAll();
}

void HealthChecker::loop() {
  mu_.Lock();
  while (!stop_) {
    std::shared_ptr<const Snapshot> snap = snap_;
    auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    std::vector<HealthProbe> probes;
    if (snap) {
      const auto& clusters = snap->table->clusters();
      for (size_t ci = 0; ci < clusters.size(); ++ci) {
        const auto& c = clusters[ci];
        if (!c || !c->config.health_check) continue;
        const HealthCheckConfig& hc = *c->config.health_check;
        for (size_t i = 0; i < c->endpoints.size(); ++i) {
          std::string key = c->name + "|";
          key += c->endpoints[i].address_text();
          auto& due = due_[key];
          if (due > now) {
            next = std::min(next, due);
            continue;
          }
          due = now + hc.interval;
          next = std::min(next, due);
          HealthProbe p;
          p.cluster = c;
          p.endpoint = i;
          if (ci < snap->resolved.size() && snap->resolved[ci])
            p.address = snap->resolved[ci]->address(*c, i);
          if (ci < snap->upstream_tls.size()) p.tls = snap->upstream_tls[ci];
          p.h2 = c->config.protocol != UpstreamProtocol::kHttp1;
          std::string host =
              hc.host.empty() ? std::string(c->endpoints[i].address_text()) : hc.host;
          p.request = p.h2 ? h2_probe_request(p.tls ? "https" : "http", host, hc.path)
                           : "GET " + hc.path + " HTTP/1.1\r\nHost: " + host +
                                 "\r\nUser-Agent: kop-health-check\r\nConnection: close\r\n\r\n";
          probes.push_back(std::move(p));
        }
      }
    }
    if (!probes.empty()) {
      mu_.Unlock();
      run(probes);
      mu_.Lock();
      for (HealthProbe& p : probes) {
        if (p.cluster->outlier) p.cluster->health().report_health_check(p.endpoint, p.ok);
      }
      continue;  // recompute the schedule
    }
    cv_.WaitWithTimeout(&mu_, absl::FromChrono(next - Clock::now()));
  }
  mu_.Unlock();
}

void HealthChecker::run(std::vector<HealthProbe>& probes) {
  // Start every connection.
  Clock::duration longest{0};
  for (HealthProbe& p : probes) {
    const auto& hc = *p.cluster->config.health_check;
    longest = std::max<Clock::duration>(longest, hc.timeout);
    if (!p.address) {
      finish(p);
      continue;
    }
    const tcp::endpoint& ep = *p.address;
    p.fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) {
      finish(p);
      continue;
    }
    if (::connect(p.fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0 && errno != EINPROGRESS)
      finish(p);
  }
  auto deadline = Clock::now() + longest;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<HealthProbe*> owners;
    for (HealthProbe& p : probes) {
      if (p.done) continue;
      short ev = !p.connected || p.out->size() > 0 ? POLLOUT : POLLIN;
      fds.push_back({p.fd, ev, 0});
      owners.push_back(&p);
    }
    if (fds.empty()) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n <= 0) continue;
    for (size_t k = 0; k < fds.size(); ++k) {
      HealthProbe& p = *owners[k];
      if (!fds[k].revents) continue;
      if (!p.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          finish(p);
          continue;
        }
        start(p);
        continue;
      }
      if (p.out->size() > 0) {
        ssize_t w = ::send(p.fd, p.out->data(), p.out->size(), MSG_NOSIGNAL);
        if (w <= 0) {
          finish(p);
          continue;
        }
        p.out->consume(static_cast<size_t>(w));
        continue;
      }
      char buf[4096];
      ssize_t r = ::recv(p.fd, buf, sizeof buf, 0);
      if (r <= 0) {
        finish(p);  // closed before the answer decided it: not ok
        continue;
      }
      received(p, buf, static_cast<size_t>(r));
    }
  }
  for (HealthProbe& p : probes)
    if (!p.done) finish(p);  // timed out: not ok
}

}  // namespace kop::proxy::server
