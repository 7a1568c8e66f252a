// kop/controller/reconciler.h: what a user of libkop writes — a Reconciler.
//
// A controller calls reconcile(ctx, request) whenever something about the object named by the
// request may have changed. The request carries only namespace and name (level-based, as
// controller-runtime's reconcile.Request): the reconciler reads the current state (typically
// from the cache) and drives the world towards it. The answer decides what happens next:
//   - an error (non-OK status): retried after the rate limiter's delay (exponential per key);
//   - a terminal error (terminal_error(status)): counted and logged as an error, never retried
//     (controller-runtime's reconcile.TerminalError): for failures only a change of the object
//     can fix (an invalid spec). The next event about the object reconciles it again;
//   - Result{.requeue_after = d} with d > 0: reconciled again after d, failures forgotten;
//   - Result{.requeue = true}: retried after the rate limiter's delay;
//   - Result{}: done; the key's failure history is forgotten.
// An exception escaping reconcile() is caught by the controller, counted
// (controller_runtime_reconcile_panics_total) and treated as an error.
// With ControllerOptions::reconcile_timeout, ctx.stop is also requested when the reconcile has
// run that long (ctx.timed_out() then says so): the reconciler should return early, typically
// with an error so the request is retried (nothing can interrupt a thread from outside).
//
// Threading: reconcile() is called from the controller's worker threads, up to
// max_concurrent_reconciles at once, never twice at once for the same request.
#pragma once

#include <absl/hash/hash.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <atomic>
#include <functional>
#include <stop_token>
#include <string>

namespace kop::controller {

// The object to reconcile.
struct Request {
  std::string namespace_{};  // "" for cluster-scoped objects
  std::string name{};

  // "namespace/name" (or "name"), as the cache keys objects.
  std::string key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
  bool operator==(const Request&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const Request& r) {
    return H::combine(std::move(h), r.namespace_, r.name);
  }
};

struct Result {
  // Retry through the rate limiter (as if the reconcile failed, but not counted as an error).
  // Defaults to false.
  bool requeue = false;
  // Reconcile again after this long (takes precedence over `requeue`). Defaults to 0 = not.
  absl::Duration requeue_after = absl::ZeroDuration();
};

// What a reconcile may look at besides the request.
struct Context {
  // Requested when the controller stops, or when this reconcile has run for the controller's
  // reconcile_timeout: a long reconcile should return early.
  std::stop_token stop;
  // The controller's name (logs).
  std::string_view controller;
  // Set by the controller when reconcile_timeout is on; read it through timed_out(). Defaults to
  // nullptr (no timeout).
  const std::atomic<bool>* timeout_flag = nullptr;
  bool stopping() const { return stop.stop_requested(); }
  // True once this reconcile has run past the controller's reconcile_timeout.
  bool timed_out() const { return timeout_flag != nullptr && timeout_flag->load(); }
};

// `cause` marked terminal: returned from reconcile(), it is counted
// (controller_runtime_terminal_reconcile_errors_total, besides the error counters) and not
// retried. Keeps the code and message of `cause`; an OK `cause` becomes Unknown("terminal
// error"). Any error wrapped again with its payloads kept stays terminal.
absl::Status terminal_error(absl::Status cause);
// Whether `status` was made by terminal_error().
bool is_terminal_error(const absl::Status& status);

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual absl::StatusOr<Result> reconcile(const Context& ctx, const Request& request) = 0;
};

// A Reconciler from a function.
class ReconcilerFunc : public Reconciler {
 public:
  using Fn = std::function<absl::StatusOr<Result>(const Context&, const Request&)>;
  explicit ReconcilerFunc(Fn fn) : fn_(std::move(fn)) {}
  absl::StatusOr<Result> reconcile(const Context& ctx, const Request& request) override {
    return fn_(ctx, request);
  }

 private:
  Fn fn_;
};

}  // namespace kop::controller
