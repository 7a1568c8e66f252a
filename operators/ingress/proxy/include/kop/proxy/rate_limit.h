// Per-client-address request limits of a route (ingress-nginx's limit-rps, limit-rpm,
// limit-burst-multiplier, limit-connections and limit-whitelist, which become nginx's limit_req
// and limit_conn keyed on the client address).
//
// Rates are nginx's limit_req with `nodelay`: each client address has an "excess" that every
// admitted request raises by one and that drains at the rate; a request that would raise it past
// the burst is refused (503 by default, ingress-nginx's limit-req-status-code). A new address
// starts empty, so `1 + burst` requests pass at once and then one per 1/rate. Per second and per
// minute rates may both be set: a request must pass both. Connections are nginx's limit_conn:
// requests in progress per address (an HTTP/2 stream counts as one), refused past the limit.
//
// One RateLimiter is one zone: the routes that name the same zone (in kop-ingress, the paths of
// one Ingress, as ingress-nginx names its zones after the Ingress) share its counters, and it is
// shared by every worker thread of the process, as nginx's shared-memory zones are shared by its
// workers: the limits hold per proxy process (per replica), not per worker. The table is split in
// shards, each behind its own lock, and bounded: at most kMaxClients addresses per zone. A full
// shard first forgets the addresses whose state has drained (they would start empty anyway),
// then the least recently seen address with no request in progress; when every address of the
// shard has one in progress the new address is refused, as nginx refuses when its zone is full.
//
// RateLimitZones carries zones across configuration changes: a route table compiled from a new
// config reuses the zone of the previous table with the same name and policy, so reapplying a
// config (an endpoint change, another Ingress edited) does not reset anyone's counters.
// Threading: RateLimiter's methods may be called from any thread; RateLimitZones is used by the
// thread compiling a table.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include "kop/proxy/access_control.h"
#include "kop/proxy/config.h"

namespace kop::proxy {

using ClientAddress = std::array<uint8_t, 16>;  // parse_ip's form (IPv4 mapped)

class RateLimiter {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxClients = 16384;  // per zone; about 1 MiB of state at most

  // Compiles the policy (its exempt CIDRs); the error names the entry.
  static absl::StatusOr<std::shared_ptr<RateLimiter>> create(const RateLimitPolicy& policy);

  const RateLimitPolicy& policy() const { return policy_; }

  enum class Verdict { kAdmit, kExempt, kRefuse };
  // A request from `client_ip` (the TCP peer's address as text) at `now_ms` (a monotonic clock
  // in milliseconds). kAdmit with a connection limit takes a slot that the caller gives back
  // with release(*address) (`address` is set then); kExempt (an address of policy.exempt, or
  // one that does not parse) and kRefuse take nothing.
  Verdict admit(std::string_view client_ip, uint64_t now_ms, ClientAddress* address);
  // The same for an address parse_ip() gave (null: it did not parse, kExempt); a connection
  // slot taken is given back with release(*address).
  Verdict admit(const ClientAddress* address, uint64_t now_ms);
  // The end of a request admitted while the policy limits connections.
  void release(const ClientAddress& address);

  // Addresses tracked (for tests and the admin page).
  size_t tracked() const;

 private:
  struct Client {
    uint64_t second_excess = 0;  // micro-requests over the per-second rate
    uint64_t minute_excess = 0;  // micro-requests over the per-minute rate
    uint64_t last_ms = 0;        // the last admitted request
    uint32_t in_progress = 0;    // admitted requests not yet released
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<ClientAddress, Client> clients ABSL_GUARDED_BY(mu);
  };

  explicit RateLimiter(RateLimitPolicy policy) : policy_(std::move(policy)) {}
  Shard& shard_of(const ClientAddress& a);
  // Makes room for one more address in a full shard; false when none can be dropped.
  bool make_room(Shard& s, uint64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);
  // Whether the address' rate state has drained by `now_ms` (it would start empty).
  bool drained(const Client& c, uint64_t now_ms) const;

  RateLimitPolicy policy_;
  std::vector<AddressRange> exempt_;
  uint64_t second_drain_ = 0;  // micro-requests drained per millisecond (per-second rate)
  uint64_t minute_drain_ = 0;  // micro-requests drained per millisecond (per-minute rate)
  std::array<Shard, kShards> shards_;
};

// The zones of one route table, found again by the next table (see above).
class RateLimitZones {
 public:
  // The zones of the previous table, offered for reuse when name and policy are equal.
  void offer(const std::shared_ptr<RateLimiter>& zone);
  // The zone for `policy`: the one this table already made for its name, else the previous
  // table's when its policy is equal, else a new one. Two routes that name the same zone with
  // different policies are an error (the config validation reports it first).
  absl::StatusOr<std::shared_ptr<RateLimiter>> get(const RateLimitPolicy& policy);

 private:
  absl::flat_hash_map<std::string, std::shared_ptr<RateLimiter>> previous_;
  absl::flat_hash_map<std::string, std::shared_ptr<RateLimiter>> current_;
};

}  // namespace kop::proxy
