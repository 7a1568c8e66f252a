#include "kop/testing/env.h"

#include <fmt/format.h>

#include <cstdlib>
#include <random>

#include "kop/api/conditions.h"
#include "kop/api/yaml.h"
#include "kop/client/config.h"
#include "kop/client/errors.h"
#include "kop/client/rest_client.h"
#include "kop/local/local_client.h"
#include "kop/log/log.h"
#include "kop/testing/wait.h"

namespace kop::testing {
namespace {

const api::GroupVersionKind kNamespace{"", "v1", "Namespace"};

std::string random_suffix() {
  static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::uniform_int_distribution<size_t> pick(0, kChars.size() - 1);
  std::string s;
  for (int i = 0; i < 6; ++i) s += kChars[pick(rd)];
  return s;
}

// "ConfigMap ns/name" for error messages.
std::string describe(const api::Object& o) {
  if (o.namespace_().empty()) return fmt::format("{} {}", o.kind(), o.name());
  return fmt::format("{} {}/{}", o.kind(), o.namespace_(), o.name());
}

// `st` with `context` in front of its text; the API Status payload stays, so is_not_found() and
// the other predicates still work on it.
absl::Status with_context(const absl::Status& st, std::string_view context) {
  absl::Status out(st.code(), fmt::format("{}: {}", context, log::status_text(st)));
  st.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

// The served kind of a CRD: its group, its first served version, its kind.
absl::StatusOr<api::GroupVersionKind> crd_kind(const api::Object& crd) {
  auto group = crd.get_string("/spec/group");
  auto kind = crd.get_string("/spec/names/kind");
  const auto* versions = crd.at("/spec/versions");
  if (!group || !kind || versions == nullptr || !versions->IsArray()) {
    return absl::InvalidArgumentError(
        fmt::format("CRD {}: spec.group, spec.names.kind or spec.versions missing", crd.name()));
  }
  for (const auto& v : versions->GetArray()) {
    auto served = v.FindMember("served");
    auto name = v.FindMember("name");
    if (name != v.MemberEnd() && name->value.IsString() &&
        (served == v.MemberEnd() || (served->value.IsBool() && served->value.GetBool()))) {
      return api::GroupVersionKind{std::string(*group), name->value.GetString(),
                                   std::string(*kind)};
    }
  }
  return absl::InvalidArgumentError(fmt::format("CRD {}: no served version", crd.name()));
}

}  // namespace

Env::Env(EnvOptions options) : options_(std::move(options)) {}

Env::~Env() {
  if (auto s = stop(); !s.ok()) log::named("kop-testing").error(s, "stopping the test Env");
}

absl::StatusOr<std::unique_ptr<Env>> Env::start(EnvOptions options) {
  std::unique_ptr<Env> env(new Env(std::move(options)));
  if (auto s = env->set_up(); !s.ok()) return s;
  return env;
}

absl::Status Env::set_up() {
  std::string kubeconfig = options_.kubeconfig;
  if (kubeconfig.empty()) {
    const char* v = std::getenv(kKubeconfigVariable);
    if (v != nullptr) kubeconfig = v;
  }
  if (!kubeconfig.empty()) {
    client::KubeconfigOptions ko;
    ko.paths = {kubeconfig};
    auto config = client::load_kubeconfig(ko);
    if (!config.ok()) return with_context(config.status(), "kubeconfig " + kubeconfig);
    config->qps = 0;  // tests are not throttled
    auto rest = client::RestClient::create(*config);
    if (!rest.ok()) return rest.status();
    client_ = *rest;
  } else {
    store_ = std::make_shared<local::Store>();
    if (options_.http) {
      front_ = std::make_unique<local::HttpFront>(store_);
      if (auto s = front_->start(); !s.ok()) return with_context(s, "starting kop::local's front");
      auto config = client::parse_kubeconfig(front_->kubeconfig(), "kop-testing-kubeconfig");
      if (!config.ok()) return config.status();
      config->qps = 0;
      auto rest = client::RestClient::create(*config);
      if (!rest.ok()) return rest.status();
      client_ = *rest;
    } else {
      client_ = std::make_shared<local::LocalClient>(store_);
    }
  }
  if (auto s = install_crds(); !s.ok()) return s;

  namespace_name_ = "kop-test-" + random_suffix();
  api::Object ns(kNamespace);
  ns.set_name(namespace_name_);
  if (auto r = client_->create(client::ResourceRef::of(ns), ns); !r.ok()) {
    return with_context(r.status(), "creating namespace " + namespace_name_);
  }

  if (options_.fake_clock) fake_clock_ = std::make_unique<workqueue::FakeClock>();
  manager::ManagerOptions mo = options_.manager;
  mo.registry = &registry_;
  mo.controller_clock = fake_clock_.get();  // nullptr (the real clock) without fake_clock
  if (mo.cache.default_namespaces.empty()) mo.cache.default_namespaces = {namespace_name_};
  manager_ = std::make_unique<manager::Manager>(*client_, std::move(mo));
  return absl::OkStatus();
}

absl::Status Env::install_crds() {
  std::vector<api::Object> crds;
  for (const auto& file : options_.crd_files) {
    auto objs = api::load_manifest_file(file);
    if (!objs.ok()) return with_context(objs.status(), "CRD file " + file);
    for (auto& o : *objs) crds.push_back(std::move(o));
  }
  if (!options_.crds_yaml.empty()) {
    auto objs = api::parse_yaml_objects(options_.crds_yaml);
    if (!objs.ok()) return with_context(objs.status(), "crds_yaml");
    for (auto& o : *objs) crds.push_back(std::move(o));
  }
  for (const auto& crd : crds) {
    if (auto s = install_crd(crd); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Env::install_crd(const api::Object& crd) {
  if (crd.kind() != "CustomResourceDefinition") {
    return absl::InvalidArgumentError(describe(crd) + ": not a CustomResourceDefinition");
  }
  auto gvk = crd_kind(crd);
  if (!gvk.ok()) return gvk.status();
  auto ref = client::ResourceRef::of(crd);
  auto created = client_->create(ref, crd);
  if (created.ok()) {
    if (real_server()) created_crds_.push_back(*created);
  } else if (!client::is_already_exists(created.status())) {
    return with_context(created.status(), "creating CRD " + std::string(crd.name()));
  }
  // A real server serves the kind a moment after the CRD is Established; kop::local at once.
  return eventually(fmt::format("CRD {} served", crd.name()), [&]() -> absl::Status {
    auto stored = client_->get(ref);
    if (!stored.ok()) return stored.status();
    if (!api::is_condition_true(**stored, "Established")) {
      return absl::UnavailableError("not Established yet");
    }
    return client_->list(client::ResourceRef::of(*gvk), {.limit = 1}).status();
  });
}

absl::Status Env::run() {
  return manager_->start();
}

absl::Status Env::stop() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  absl::Status result = manager_ ? manager_->stop() : absl::OkStatus();
  if (real_server() && client_ != nullptr) {
    // Best effort: the namespace's contents go with it (the server's namespace controller).
    if (!namespace_name_.empty()) {
      auto r = client_->remove(client::ResourceRef::of(kNamespace, "", namespace_name_));
      if (!r.ok() && !client::is_not_found(r.status())) result.Update(r.status());
    }
    for (const auto& crd : created_crds_) {
      auto r = client_->remove(client::ResourceRef::of(*crd));
      if (!r.ok() && !client::is_not_found(r.status())) result.Update(r.status());
    }
  }
  if (front_) front_->stop();
  return result;
}

local::Faults* Env::faults() {
  return store_ ? &store_->faults() : nullptr;
}

workqueue::Clock& Env::clock() {
  if (fake_clock_) return *fake_clock_;
  return workqueue::real_clock();
}

absl::StatusOr<std::vector<api::ObjectPtr>> Env::apply(std::string_view yaml) {
  auto objects = api::parse_yaml_objects(yaml);
  if (!objects.ok()) return with_context(objects.status(), "apply: reading the YAML");
  std::vector<api::ObjectPtr> out;
  for (auto& o : *objects) {
    auto ref = client::ResourceRef::of(o);
    // Cluster-scoped kinds ignore the namespace (the client maps the kind to its scope).
    if (ref.namespace_.empty()) ref.namespace_ = namespace_name_;
    auto applied = client_->patch(ref, client::PatchType::kApply, o.to_json(),
                                  {.field_manager = options_.field_manager, .force = true});
    if (!applied.ok()) return with_context(applied.status(), "apply " + describe(o));
    out.push_back(*applied);
  }
  return out;
}

absl::StatusOr<api::ObjectPtr> Env::get(const api::GroupVersionKind& gvk, std::string_view name) {
  return get(gvk, namespace_name_, name);
}

absl::StatusOr<api::ObjectPtr> Env::get(const api::GroupVersionKind& gvk, std::string_view ns,
                                        std::string_view name) {
  return client_->get(client::ResourceRef::of(gvk, ns, name));
}

absl::StatusOr<api::ObjectPtr> Env::cluster_get(const api::GroupVersionKind& gvk,
                                                std::string_view name) {
  return client_->get(client::ResourceRef::of(gvk, "", name));
}

absl::Status Env::remove(const api::GroupVersionKind& gvk, std::string_view name) {
  auto r = client_->remove(client::ResourceRef::of(gvk, namespace_name_, name),
                           {.propagation_policy = client::PropagationPolicy::kBackground});
  if (!r.ok() && !client::is_not_found(r.status())) return r.status();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<api::ObjectPtr>> Env::list(const api::GroupVersionKind& gvk,
                                                      std::string_view label_selector) {
  auto l = client_->list(client::ResourceRef::of(gvk, namespace_name_),
                         {.label_selector = std::string(label_selector)});
  if (!l.ok()) return l.status();
  return std::move(l->items);
}

}  // namespace kop::testing
