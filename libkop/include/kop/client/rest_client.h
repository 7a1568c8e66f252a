// kop/client/rest_client.h: kop::Client over HTTP(S) to a kube-apiserver (cpprestsdk + OpenSSL).
//
// Speaks the API server's REST conventions exactly:
//   paths     /api/v1/namespaces/NS/RESOURCE/NAME[/status] for the core group,
//             /apis/GROUP/VERSION/... for the others, no namespaces/NS for cluster-scoped
//             resources or all-namespace lists;
//   queries   labelSelector, fieldSelector, limit, continue, resourceVersion, resourceVersionMatch,
//             watch=true, allowWatchBookmarks, timeoutSeconds, fieldManager, force, dryRun=All
//             (percent-encoded);
//   headers   Accept: application/json, User-Agent: kop/<version>, Content-Type per PatchType,
//             Authorization (bearer token, basic auth; never logged);
//   DELETE    with a DeleteOptions body (propagationPolicy, preconditions, gracePeriodSeconds).
// TLS is verified by default against the Config's CA only (not the system store, as client-go);
// tls-server-name sets the name verified and sent as SNI (by the Host header: cpprest takes both
// from it). Client certificates come from the Config or an exec plugin.
//
// Reliability: non-2xx answers become Status errors (kop/client/errors.h). GET and LIST (and
// discovery) are retried with exponential backoff on 429 (waiting Retry-After when sent), 5xx and
// connection failures, up to RestClientOptions::max_retries; writes are never retried (they may
// have been applied). A 401 drops cached exec/token-file credentials and retries once. Every
// request, watches included, first takes a token from the client-side rate limiter
// (Config::qps/burst, client-go's 5/10). No exception of cpprest or Boost leaves this class.
//
// Watches are streamed: each line of the chunked body is one event, parsed once, directly into
// the Object handed out (no copy of the object, no second parse).
//
// Metrics (client-go's names and labels), in RestClientOptions::registry (default: kop::metrics'
// default_registry()): rest_client_requests_total{code,method,host} and
// rest_client_request_duration_seconds{verb,host} (client-go's buckets, 5 ms to 60 s). Watches
// count once when the stream opens (method GET, verb WATCH). metrics() reads the same
// numbers for this client alone.
//
// Threading: all methods may be called from any thread, concurrently.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/time/time.h>
#include "kop/client/client.h"
#include "kop/client/config.h"
#include "kop/client/rest_mapper.h"
#include "kop/metrics/registry.h"

namespace kop::client {

struct RestClientOptions {
  // Retries of idempotent requests (get, list, discovery) on 429, 5xx and connection failures;
  // default 5. 0 disables retries.
  int max_retries = 5;
  // Backoff between those retries: initial_backoff, doubling, capped at max_backoff (a server's
  // Retry-After overrides it, capped at max_retry_after). Defaults 200 ms, 5 s, 60 s.
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  absl::Duration max_retry_after = absl::Seconds(60);
  // Threads of cpprest's shared pool, set before cpprest first starts it (it would start 40).
  // Only the first RestClient of a process decides; default 4.
  size_t cpprest_threads = 4;
  // Resolves kinds to resources. Default nullptr = discovery through this client, falling back
  // to the built-in table.
  std::shared_ptr<RestMapper> mapper{};
  // Where the request metrics go. Default nullptr = kop::metrics::default_registry().
  metrics::Registry* registry = nullptr;
};

// Request counters, keyed as the Prometheus series.
struct RestMetrics {
  // {code, method, host} -> count; code is the HTTP code or "<error>" for transport failures.
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> requests_total;
  // {verb, host} -> {count, sum of seconds}.
  std::map<std::tuple<std::string, std::string>, std::pair<uint64_t, double>> request_duration;
};

class RestClient final : public Client {
 public:
  // Validates the config (server URL, PEM blocks, exec plugin for client certificates) and builds
  // the HTTP clients. No request is sent.
  static absl::StatusOr<std::shared_ptr<RestClient>> create(Config config,
                                                            RestClientOptions options = {});
  ~RestClient() override;

  absl::StatusOr<api::ObjectPtr> get(const ResourceRef& ref,
                                     const GetOptions& options = {}) override;
  absl::StatusOr<ObjectList> list(const ResourceRef& ref, const ListOptions& options = {}) override;
  absl::StatusOr<WatchStreamPtr> watch(const ResourceRef& ref,
                                       const WatchOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> create(const ResourceRef& ref, const api::Object& object,
                                        const CreateOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> update(const ResourceRef& ref, const api::Object& object,
                                        const UpdateOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> patch(const ResourceRef& ref, PatchType type,
                                       std::string_view body,
                                       const PatchOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> remove(const ResourceRef& ref,
                                        const DeleteOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> get_status(const ResourceRef& ref,
                                            const GetOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> update_status(const ResourceRef& ref, const api::Object& object,
                                               const UpdateOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> patch_status(const ResourceRef& ref, PatchType type,
                                              std::string_view body,
                                              const PatchOptions& options = {}) override;

  // GET `path` (with its query) and return the body: discovery, /version, /healthz. Retried as
  // get().
  absl::StatusOr<std::string> get_raw(std::string_view path);

  // The URL path of `ref` (resolved through the mapper), "/status" appended when `status`.
  absl::StatusOr<std::string> path_of(const ResourceRef& ref, bool status = false);

  RestMapper& mapper();
  const Config& config() const;
  RestMetrics metrics() const;

  class Impl;

 private:
  explicit RestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kop::client
