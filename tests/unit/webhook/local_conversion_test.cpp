// kop::local calls a CRD's conversion webhook as the API server does: a CRD served in v1
// (storage: spec.size) and v2 (spec.replicas) with spec.conversion.strategy Webhook, and a
// converter written with kop::webhook on 127.0.0.1 with its own CA. Objects written in either
// version are stored in v1 and read back, listed and watched in both, through kop::testing's Env
// (in-process and over kop::local's HTTPS front) and through kubectl against the HTTPS front. A
// webhook that is down or refuses fails the request with the API server's 500. With
// KOP_TEST_KUBECONFIG the Env tests run against a real API server (docs/webhooks.md).
#include <absl/strings/escaping.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kop/certs/cert_authority.h"
#include "kop/client/errors.h"
#include "kop/local/http_front.h"
#include "kop/local/store.h"
#include "kop/testing/env.h"
#include "kop/testing/gtest.h"
#include "kop/webhook/server.h"
#include "static_certificates.h"

namespace kop::webhook {
namespace {

namespace fs = std::filesystem;

const api::GroupVersionKind kV1{"conversion.kop.dev", "v1", "Widget"};
const api::GroupVersionKind kV2{"conversion.kop.dev", "v2", "Widget"};

// v1's spec.size is v2's spec.replicas; a negative one cannot be converted.
class SizeIsReplicas : public Converter {
 public:
  absl::StatusOr<Object> convert(const Object& obj, std::string_view to) override {
    objects_++;
    Object out(obj);
    out.set_api_version(to);
    const bool to_v2 = to == "conversion.kop.dev/v2";
    if (!to_v2 && to != "conversion.kop.dev/v1")
      return absl::InvalidArgumentError("unknown version");
    const char* from_field = to_v2 ? "/spec/size" : "/spec/replicas";
    if (auto n = obj.get_int(from_field)) {
      if (*n < 0) return absl::InvalidArgumentError("spec: a negative size cannot be converted");
      out.remove(from_field);
      (void)out.set_int(to_v2 ? "/spec/replicas" : "/spec/size", *n);
    }
    // Changes to metadata other than labels and annotations are not taken.
    out.set_generation(99);
    out.set_label("converted-to", to.substr(to.find('/') + 1));
    return out;
  }
  std::atomic<int> objects_{0};
};

struct Certs {
  std::string ca_b64;
  std::shared_ptr<CertificateSource> source;
};

Certs make_certs() {
  auto ca = certs::create_ca("conversion-test-ca", absl::Hours(1));
  EXPECT_TRUE(ca.ok());
  auto cert = certs::create_serving_certificate(*ca, {}, {"127.0.0.1"}, absl::Hours(1));
  EXPECT_TRUE(cert.ok());
  return {absl::Base64Escape(ca->cert_pem),
          std::make_shared<StaticCertificates>(
              Certificate{.cert_pem = cert->cert_pem, .key_pem = cert->key_pem, .generation = 1})};
}

// The CRD with its webhook at https://127.0.0.1:PORT/convert.
std::string crd_yaml(int port, const std::string& ca_b64) {
  auto version = [](std::string_view name, bool storage, std::string_view field) {
    return "  - name: " + std::string(name) +
           "\n    served: true\n    storage: " + (storage ? "true" : "false") +
           "\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n"
           "          spec:\n            type: object\n            properties:\n              " +
           std::string(field) + ": {type: integer}\n";
  };
  return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
         "metadata: {name: widgets.conversion.kop.dev}\nspec:\n  group: conversion.kop.dev\n"
         "  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}\n"
         "  scope: Namespaced\n  versions:\n" +
         version("v1", true, "size") + version("v2", false, "replicas") +
         "  conversion:\n    strategy: Webhook\n    webhook:\n"
         "      conversionReviewVersions: [v1]\n      clientConfig:\n"
         "        url: \"https://127.0.0.1:" +
         std::to_string(port) + "/convert\"\n        caBundle: " + ca_b64 + "\n";
}

// The count of reviews the server answered on /convert (its requests metric).
int reviews(const metrics::Registry& registry) {
  std::string text = registry.expose();
  int total = 0;
  size_t at = 0;
  while ((at = text.find("controller_runtime_webhook_requests_total{", at)) != std::string::npos) {
    size_t end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    at = end;
    if (line.find("\"/convert\"") == std::string::npos) continue;
    total += std::atoi(line.c_str() + line.rfind(' ') + 1);
  }
  return total;
}

class LocalConversion : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    Certs certs = make_certs();
    server_ = std::make_unique<Server>(ServerOptions{
        .address = "127.0.0.1:0", .certificates = certs.source, .registry = &registry_});
    server_->register_converter("/convert", converter_);
    ASSERT_TRUE(server_->start().ok());
    auto env = testing::Env::start(
        {.crds_yaml = crd_yaml(server_->port(), certs.ca_b64), .http = GetParam()});
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
  }
  void TearDown() override {
    env_.reset();
    server_.reset();
  }

  absl::StatusOr<api::ObjectPtr> apply(const api::GroupVersionKind& gvk, std::string_view name,
                                       std::string_view spec) {
    auto r = env_->apply("apiVersion: " + gvk.api_version() + "\nkind: Widget\nmetadata: {name: " +
                         std::string(name) + "}\nspec: " + std::string(spec) + "\n");
    if (!r.ok()) return r.status();
    return r->front();
  }

  metrics::Registry registry_;
  std::shared_ptr<SizeIsReplicas> converter_ = std::make_shared<SizeIsReplicas>();
  std::unique_ptr<Server> server_;
  std::unique_ptr<testing::Env> env_;
};

TEST_P(LocalConversion, ObjectsAreStoredInTheStorageVersionAndReadInBoth) {
  auto made = apply(kV2, "two", "{replicas: 3}");
  KOP_ASSERT_OK(made.status());
  EXPECT_EQ((*made)->api_version(), "conversion.kop.dev/v2");
  EXPECT_EQ((*made)->get_int("/spec/replicas"), 3);
  KOP_ASSERT_OK(apply(kV1, "one", "{size: 2}").status());

  auto as_v1 = env_->get(kV1, "two");
  KOP_ASSERT_OK(as_v1.status());
  EXPECT_EQ((*as_v1)->api_version(), "conversion.kop.dev/v1");
  EXPECT_EQ((*as_v1)->get_int("/spec/size"), 3);
  EXPECT_FALSE((*as_v1)->get_int("/spec/replicas").has_value());
  auto as_v2 = env_->get(kV2, "one");
  KOP_ASSERT_OK(as_v2.status());
  EXPECT_EQ((*as_v2)->get_int("/spec/replicas"), 2);
  EXPECT_FALSE((*as_v2)->get_int("/spec/size").has_value());
  // Labels come from the webhook's answer; the rest of metadata stays the stored object's.
  EXPECT_EQ((*as_v2)->label("converted-to"), "v2");
  EXPECT_EQ((*as_v2)->generation(), (*as_v1)->generation());
  EXPECT_NE((*as_v2)->generation(), 99);
  EXPECT_EQ((*as_v2)->uid(), env_->get(kV1, "one").value()->uid());

  if (!env_->real_server()) {
    // What the store holds: v1's shape, whatever version wrote it.
    auto type = env_->store()->registry().by_kind("conversion.kop.dev", "v1", "Widget");
    ASSERT_NE(type, nullptr);
    auto stored = env_->store()->stored(*type, env_->namespace_(), "two");
    ASSERT_NE(stored, nullptr);
    EXPECT_EQ(stored->get_int("/spec/size"), 3);
    EXPECT_FALSE(stored->get_int("/spec/replicas").has_value());
  }

  // A list in v2 is converted with one review for all of its objects.
  int before_reviews = reviews(registry_);
  auto list = env_->list(kV2);
  KOP_ASSERT_OK(list.status());
  ASSERT_EQ(list->size(), 2U);
  for (const auto& item : *list) {
    EXPECT_TRUE(item->get_int("/spec/replicas").has_value()) << item->to_json();
    EXPECT_FALSE(item->get_int("/spec/size").has_value()) << item->to_json();
  }
  if (!env_->real_server()) {
    EXPECT_EQ(reviews(registry_) - before_reviews, 1);
  }
  // Reads in the storage version need no webhook.
  before_reviews = reviews(registry_);
  KOP_ASSERT_OK(env_->list(kV1).status());
  if (!env_->real_server()) {
    EXPECT_EQ(reviews(registry_), before_reviews);
  }
}

TEST_P(LocalConversion, WritesInTheOtherVersionAreConvertedBothWays) {
  KOP_ASSERT_OK(apply(kV1, "w", "{size: 1}").status());
  auto ref = client::ResourceRef::of(kV2, env_->namespace_(), "w");
  // Update (PUT) in v2.
  auto cur = env_->client().get(ref);
  KOP_ASSERT_OK(cur.status());
  Object changed(**cur);
  KOP_ASSERT_OK(changed.set_int("/spec/replicas", 5));
  auto updated = env_->client().update(ref, changed);
  KOP_ASSERT_OK(updated.status());
  EXPECT_EQ((*updated)->get_int("/spec/replicas"), 5);
  EXPECT_EQ(env_->get(kV1, "w").value()->get_int("/spec/size"), 5);
  // A merge patch in v2 applies to the v2 shape.
  auto patched =
      env_->client().patch(ref, client::PatchType::kJsonMerge, R"({"spec":{"replicas":7}})");
  KOP_ASSERT_OK(patched.status());
  EXPECT_EQ((*patched)->get_int("/spec/replicas"), 7);
  EXPECT_EQ(env_->get(kV1, "w").value()->get_int("/spec/size"), 7);
  // A stale resourceVersion is still a Conflict.
  changed.set_resource_version((*cur)->resource_version());
  EXPECT_TRUE(client::is_conflict(env_->client().update(ref, changed).status()));
  // Delete in v2 answers with the v2 object (or a Status, as the server chooses).
  KOP_ASSERT_OK(env_->client().remove(ref).status());
  EXPECT_TRUE(client::is_not_found(env_->get(kV1, "w").status()));
}

TEST_P(LocalConversion, AWatchInTheOtherVersionGetsConvertedEvents) {
  KOP_ASSERT_OK(apply(kV1, "watched", "{size: 4}").status());
  client::WatchOptions options;
  options.timeout_seconds = 30;  // a bound: every event below is expected at once
  auto watch = env_->client().watch(client::ResourceRef::of(kV2, env_->namespace_()), options);
  KOP_ASSERT_OK(watch.status());
  auto added = (*watch)->next();
  KOP_ASSERT_OK(added.status());
  ASSERT_TRUE(added->has_value());
  EXPECT_EQ((*added)->type, client::WatchEvent::Type::kAdded);
  EXPECT_EQ((*added)->object->api_version(), "conversion.kop.dev/v2");
  EXPECT_EQ((*added)->object->get_int("/spec/replicas"), 4);
  KOP_ASSERT_OK(apply(kV1, "watched", "{size: 6}").status());
  auto modified = (*watch)->next();
  KOP_ASSERT_OK(modified.status());
  ASSERT_TRUE(modified->has_value());
  EXPECT_EQ((*modified)->type, client::WatchEvent::Type::kModified);
  EXPECT_EQ((*modified)->object->get_int("/spec/replicas"), 6);
  EXPECT_FALSE((*modified)->object->get_int("/spec/size").has_value());
}

TEST_P(LocalConversion, AFailedConversionIsTheApiServers500) {
  KOP_ASSERT_OK(apply(kV1, "fine", "{size: 1}").status());
  KOP_ASSERT_OK(apply(kV1, "negative", "{size: -1}").status());
  // The webhook refuses: its message, after the API server's words.
  auto refused = env_->get(kV2, "negative");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(client::http_code_of(refused.status()), 500) << refused.status();
  EXPECT_NE(refused.status().message().find(
                "conversion webhook for conversion.kop.dev/v1, Kind=Widget failed: "),
            absl::string_view::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("a negative size cannot be converted"),
            absl::string_view::npos)
      << refused.status();
  // One object that cannot be converted fails the whole list.
  EXPECT_EQ(client::http_code_of(env_->list(kV2).status()), 500);

  // The webhook is down: reads and writes in v2 fail, v1 needs no webhook.
  server_.reset();
  auto down = env_->get(kV2, "fine");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(client::http_code_of(down.status()), 500) << down.status();
  EXPECT_NE(down.status().message().find("conversion webhook for"), absl::string_view::npos)
      << down.status();
  EXPECT_FALSE(apply(kV2, "new", "{replicas: 1}").ok());
  KOP_EXPECT_OK(env_->get(kV1, "fine").status());
  KOP_EXPECT_OK(apply(kV1, "fine", "{size: 2}").status());
}

INSTANTIATE_TEST_SUITE_P(InProcessAndHttps, LocalConversion, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Https" : "InProcess"; });

struct Ran {
  int exit = -1;
  std::string out;
};

// Runs a shell command line made of trusted test strings; stdout and stderr together.
Ran run(const std::string& cmd) {
  Ran r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

void write_file(const fs::path& path, std::string_view text) {
  std::ofstream(path) << text;
}

// kubectl against kop-local's HTTPS front: the same object read in both versions, and the
// error a user sees when the webhook is down.
TEST(LocalConversionKubectl, ReadsBothVersionsAndSeesTheWebhooksFailure) {
  if (run("command -v kubectl").exit != 0) GTEST_SKIP() << "kubectl is not installed";
  char tmpl[] = "/tmp/kop-conversion-kubectl-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  Certs certs = make_certs();
  metrics::Registry registry;
  auto server = std::make_unique<Server>(
      ServerOptions{.address = "127.0.0.1:0", .certificates = certs.source, .registry = &registry});
  server->register_converter("/convert", std::make_shared<SizeIsReplicas>());
  ASSERT_TRUE(server->start().ok());
  auto store = std::make_shared<local::Store>();
  local::HttpFront front(store, {.token = "conversion-test"});
  KOP_ASSERT_OK(front.start());
  write_file(dir / "kubeconfig", front.kubeconfig());
  write_file(dir / "crd.yaml", crd_yaml(server->port(), certs.ca_b64));
  write_file(dir / "widget.yaml",
             "apiVersion: conversion.kop.dev/v2\nkind: Widget\nmetadata: {name: seen, namespace: "
             "default}\nspec: {replicas: 8}\n");
  const std::string kubectl = "kubectl --request-timeout=20s --cache-dir " +
                              (dir / "cache").string() + " --kubeconfig " +
                              (dir / "kubeconfig").string() + " ";

  Ran r = run(kubectl + "apply -f " + (dir / "crd.yaml").string());
  ASSERT_EQ(r.exit, 0) << r.out;
  r = run(kubectl + "create -f " + (dir / "widget.yaml").string());
  ASSERT_EQ(r.exit, 0) << r.out;
  r = run(kubectl + "get widgets.v1.conversion.kop.dev seen -o jsonpath='{.apiVersion} {.spec}'");
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_EQ(r.out, R"(conversion.kop.dev/v1 {"size":8})");
  r = run(kubectl + "get widgets.v2.conversion.kop.dev seen -o jsonpath='{.apiVersion} {.spec}'");
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_EQ(r.out, R"(conversion.kop.dev/v2 {"replicas":8})");
  r = run(kubectl + "get widgets.v2.conversion.kop.dev");  // a table of a converted list
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_NE(r.out.find("seen"), std::string::npos) << r.out;

  server.reset();
  r = run(kubectl + "get widgets.v2.conversion.kop.dev seen");
  EXPECT_NE(r.exit, 0) << r.out;
  EXPECT_NE(r.out.find("conversion webhook for conversion.kop.dev/v1, Kind=Widget failed"),
            std::string::npos)
      << r.out;
  r = run(kubectl + "get widgets.v1.conversion.kop.dev seen -o jsonpath='{.spec.size}'");
  EXPECT_EQ(r.exit, 0) << r.out;
  EXPECT_EQ(r.out, "8");
  front.stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kop::webhook
