// kop::proxy::Proxy: the embedded L7 proxy's data plane (workers, listeners, HTTP/1.1, TLS,
// upstream pools, admin listener, access log), driven by a proxy::Config.
//
// apply() validates and compiles a Config (RouteTable::compile) and publishes it to every
// worker: each worker adopts the new immutable table for new requests while requests already
// running finish on the table they started with. Listeners are opened, kept or closed to
// match the new Config (one SO_REUSEPORT socket per worker per listener) and TLS contexts are
// rebuilt only for changed certificates. An invalid Config is refused with the validation error
// and the previous one keeps serving. The first apply() starts the workers
// (ServerSettings::workers, default one per core) and the admin listener; worker count and the
// admin address are fixed from then on (a later change is reported in the returned status
// message of reloads as ignored, and logged).
//
// shutdown() stops accepting, lets in-flight requests finish within the drain timeout, then
// closes everything and joins the threads.
// Threading: apply(), shutdown() and the accessors may be called from any one control thread
// at a time; the workers run on their own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include "kop/proxy/config.h"

namespace kop::proxy {

namespace server {
class ProxyImpl;
}

struct ProxyOptions {
  // Receives one human-readable line per notable event (listener bound, reload applied or
  // refused, shutdown). Default: none. Called from the control thread.
  std::function<void(std::string_view)> on_event;
  // Overrides Config::server.workers when non-zero. Default 0: use the Config.
  uint32_t workers = 0;
};

class Proxy {
 public:
  explicit Proxy(ProxyOptions options = {});
  ~Proxy();  // shutdown(0) when still running
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Validates, compiles and publishes `config`. On error nothing changes.
  absl::Status apply(const Config& config);
  // The same without copying the Config: the compiled table keeps `config` (for /config_dump),
  // so a caller that also keeps it (to compare the next one) holds the one copy. Not null.
  absl::Status apply(const std::shared_ptr<const Config>& config);
  // parse_config(json) then apply(); a parse error also counts as a failed reload.
  absl::Status apply_json(std::string_view json);

  // Graceful shutdown: stop accepting, wait up to `grace` (default: the Config's
  // drain_timeout) for in-flight requests, then close. Idempotent.
  void shutdown(std::optional<std::chrono::milliseconds> grace = std::nullopt);

  // The bound port of a listener (useful with port 0), or nullopt when unknown.
  std::optional<uint16_t> listener_port(std::string_view name) const;
  std::optional<uint16_t> admin_port() const;
  // Version of the active config: 1 for the first successful apply(), +1 per reload.
  uint64_t version() const;
  // The same texts the admin listener serves.
  std::string metrics_text() const;
  std::string config_dump() const;

 private:
  std::unique_ptr<server::ProxyImpl> impl_;
};

}  // namespace kop::proxy
