// Fuzz target: kop::local's request bodies, as its HTTP front hands them to the store: create
// and update bodies (through validation and the kind's strategy), JSON patch, merge patch,
// strategic merge patch and server-side apply configurations, on built-in kinds and on a custom
// resource with a schema (tests/testdata/local/widgets-crd.yaml).
//
// Input: a first line "<verb> <resource>" (verbs: create, update, status, merge, json,
// strategic, apply, apply-force; resources: deployments, services, configmaps, ingresses,
// widgets, customresourcedefinitions), then the body. Each input gets a fresh store holding one
// object of each resource named "seed", so a crash replays from its input alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "kop/api/json.h"
#include "kop/api/yaml.h"
#include "kop/local/names.h"
#include "kop/local/store.h"

namespace {

using kop::local::JsonDoc;

struct Kind {
  std::string_view group, version, resource, seed;
};

const Kind kKinds[] = {
    {"apps", "v1", "deployments",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"seed","labels":{"app":"web"}},
     "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":
     {"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25","ports":[{"containerPort":
     80,"protocol":"TCP"}],"env":[{"name":"A","value":"1"}]}]}}}})"},
    {"", "v1", "services",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"seed"},"spec":{"selector":{"app":
     "web"},"ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]}})"},
    {"", "v1", "configmaps",
     R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"seed"},"data":{"a":"1","b":"2"}})"},
    {"networking.k8s.io", "v1", "ingresses",
     R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"seed"},"spec":{
     "rules":[{"host":"example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{
     "service":{"name":"seed","port":{"number":80}}}}]}}]}})"},
    {"example.com", "v1", "widgets",
     R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"seed"},"spec":{"size":3,
     "routes":[{"name":"a","weight":2}]}})"},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", ""},  // the widgets CRD itself
};

const std::string& widgets_crd_json() {
  static const std::string json = [] {
    std::ifstream in(KOP_FUZZ_TESTDATA "/local/widgets-crd.yaml");
    std::stringstream text;
    text << in.rdbuf();
    auto docs = kop::api::yaml_to_json(text.str());
    if (!docs.ok() || docs->size() != 1) abort();
    return kop::api::json::to_json((*docs)[0]);
  }();
  return json;
}

JsonDoc must_parse(std::string_view text) {
  auto doc = kop::api::json::parse(text);
  if (!doc) abort();
  return std::move(*doc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  std::string_view head = input.substr(0, eol), body = input.substr(eol + 1);
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos) return 0;
  std::string_view verb = head.substr(0, sp), resource = head.substr(sp + 1);

  kop::local::StoreOptions options;
  options.history_size = 16;
  kop::local::Store store(options);
  auto crd_type =
      store.registry().by_resource("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!store.create(*crd_type, "", must_parse(widgets_crd_json())).ok()) abort();
  const Kind* kind = nullptr;
  for (const Kind& k : kKinds) {
    if (!k.seed.empty()) {
      auto t = store.registry().by_resource(k.group, k.version, k.resource);
      if (!t || !store.create(*t, "default", must_parse(k.seed)).ok()) abort();
    }
    if (k.resource == resource) kind = &k;
  }
  if (kind == nullptr) return 0;
  auto type = store.registry().by_resource(kind->group, kind->version, kind->resource);
  const bool cluster = !type->namespaced;
  std::string_view ns = cluster ? "" : "default";
  std::string_view name = cluster ? "widgets.example.com" : "seed";
  kop::local::PatchOptions po;
  po.field_manager = "fuzz";

  if (verb == "create" || verb == "update" || verb == "status") {
    auto doc = kop::api::json::parse(body);
    if (!doc) return 0;
    if (verb == "create") {
      (void)store.create(*type, ns, std::move(*doc), {po.field_manager, po.dry_run});
    } else if (verb == "update") {
      (void)store.update(*type, ns, name, std::move(*doc), {po.field_manager, po.dry_run});
    } else {
      (void)store.update_status(*type, ns, name, std::move(*doc), {po.field_manager, po.dry_run});
    }
  } else if (verb == "merge") {
    (void)store.patch(*type, ns, name, kop::local::PatchType::kJsonMerge, body, po);
  } else if (verb == "json") {
    (void)store.patch(*type, ns, name, kop::local::PatchType::kJsonPatch, body, po);
  } else if (verb == "strategic") {
    (void)store.patch(*type, ns, name, kop::local::PatchType::kStrategicMerge, body, po);
  } else if (verb == "apply" || verb == "apply-force") {
    po.force = verb == "apply-force";
    (void)store.patch(*type, ns, name, kop::local::PatchType::kApply, body, po);
    // Apply also creates: the same configuration under a name that does not exist yet.
    (void)store.patch(*type, ns, "fresh", kop::local::PatchType::kApply, body, po);
  }
  // Whatever was stored must list back.
  if (!store.list(*type, ns).ok()) abort();
  return 0;
}
