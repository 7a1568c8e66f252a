#include "kop/controller/builder.h"

#include <absl/strings/ascii.h>

namespace kop::controller {

Builder& Builder::for_(api::GroupVersionKind gvk, std::vector<Predicate> predicates) {
  for_gvk_ = std::move(gvk);
  ++for_count_;
  for_predicates_ = std::move(predicates);
  return *this;
}

Builder& Builder::owns(api::GroupVersionKind gvk, std::vector<Predicate> predicates) {
  return owns(std::move(gvk), OwnerOptions{}, std::move(predicates));
}

Builder& Builder::owns(api::GroupVersionKind gvk, OwnerOptions options,
                       std::vector<Predicate> predicates) {
  owns_.emplace_back(std::move(gvk), std::make_pair(options, std::move(predicates)));
  return *this;
}

Builder& Builder::watches(SourcePtr source, HandlerPtr handler, std::vector<Predicate> predicates) {
  watches_.push_back({std::move(source), std::move(handler), std::move(predicates)});
  return *this;
}

Builder& Builder::watches(api::GroupVersionKind gvk, HandlerPtr handler,
                          std::vector<Predicate> predicates) {
  return watches(kind(cache_, std::move(gvk)), std::move(handler), std::move(predicates));
}

Builder& Builder::with_event_filter(Predicate predicate) {
  global_predicates_.push_back(std::move(predicate));
  return *this;
}

Builder& Builder::with_options(ControllerOptions options) {
  options_ = std::move(options);
  return *this;
}

Builder& Builder::named(std::string name) {
  name_ = std::move(name);
  return *this;
}

absl::Status Builder::complete(std::shared_ptr<Reconciler> reconciler) {
  if (host_ == nullptr) {
    return absl::FailedPreconditionError(
        "complete: this Builder was made from a cache; use Builder(manager), or build() and "
        "start the controller yourself");
  }
  auto built = build(std::move(reconciler));
  if (!built.ok()) return built.status();
  host_->add_controller(std::move(*built));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Controller>> Builder::build(std::shared_ptr<Reconciler> reconciler) {
  if (reconciler == nullptr) return absl::InvalidArgumentError("build: no reconciler");
  if (for_count_ > 1) return absl::InvalidArgumentError("build: for_() called more than once");
  if (!owns_.empty() && !for_gvk_) {
    return absl::InvalidArgumentError("build: owns() needs for_() (the owner kind)");
  }
  ControllerOptions options = options_;
  if (host_ != nullptr) {
    if (options.registry == nullptr) options.registry = &host_->registry();
    if (options.clock == nullptr) options.clock = host_->controller_clock();
  }
  if (!name_.empty()) options.name = name_;
  if (options.name.empty() && for_gvk_) options.name = absl::AsciiStrToLower(for_gvk_->kind);
  if (options.name.empty()) {
    return absl::InvalidArgumentError("build: a controller without for_() must be named()");
  }
  auto with_global = [this](std::vector<Predicate> ps) {
    ps.insert(ps.begin(), global_predicates_.begin(), global_predicates_.end());
    return ps;
  };
  auto c = std::make_unique<Controller>(std::move(options), std::move(reconciler));
  if (for_gvk_) {
    if (auto s = c->watch(kind(cache_, *for_gvk_), enqueue_request_for_object(),
                          with_global(for_predicates_));
        !s.ok()) {
      return s;
    }
  }
  for (auto& [gvk, opts] : owns_) {
    if (auto s = c->watch(kind(cache_, gvk), enqueue_request_for_owner(*for_gvk_, opts.first),
                          with_global(opts.second));
        !s.ok()) {
      return s;
    }
  }
  for (auto& w : watches_) {
    if (auto s = c->watch(w.source, w.handler, with_global(w.predicates)); !s.ok()) return s;
  }
  return c;
}

}  // namespace kop::controller
