// kop::local calls the admission webhooks registered in it, as the API server does: a webhook
// written with kop::webhook is tested without a cluster. The webhook server runs in the test on
// 127.0.0.1 with its own CA; the configurations name it by url (and by a Service backed by an
// EndpointSlice). Writes go through kop::testing's Env, in-process and over kop::local's HTTPS
// front. With KOP_TEST_KUBECONFIG the same tests run against a real API server (docs/webhooks.md):
// every configuration then selects only objects labelled with the test's namespace, and is
// deleted at the end, so a shared server's other users never meet these webhooks.
#include <absl/strings/escaping.h>
#include <absl/synchronization/notification.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "kop/certs/cert_authority.h"
#include "kop/client/errors.h"
#include "kop/testing/env.h"
#include "kop/testing/gtest.h"
#include "kop/testing/wait.h"
#include "kop/webhook/self_managed.h"
#include "kop/webhook/server.h"
#include "static_certificates.h"

namespace kop::webhook {
namespace {

const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};

// Refuses ConfigMaps labelled bad=true, and changes to data.locked.
class NoBad : public Validator {
 public:
  absl::Status validate_create(Context& /*ctx*/, const Object& obj) override {
    calls_++;
    if (obj.label("bad") == "true") return absl::InvalidArgumentError("metadata.labels.bad: no");
    return absl::OkStatus();
  }
  absl::Status validate_update(Context& ctx, const Object& old_obj, const Object& obj) override {
    if (old_obj.get_string("/data/locked") != obj.get_string("/data/locked")) {
      return absl::InvalidArgumentError("data.locked: immutable");
    }
    return validate_create(ctx, obj);
  }
  absl::Status validate_delete(Context& /*ctx*/, const Object& obj) override {
    if (obj.has_label("keep")) return absl::InvalidArgumentError("labelled keep");
    return absl::OkStatus();
  }
  std::atomic<int> calls_{0};
};

class Defaulted : public Defaulter {
 public:
  absl::Status default_object(Context& /*ctx*/, Object& obj) override {
    obj.set_label("defaulted", "true");
    return absl::OkStatus();
  }
};

// Refuses what the defaulter has not seen: proves mutating webhooks run first.
class RequiresDefaulted : public Validator {
 public:
  absl::Status validate_create(Context& /*ctx*/, const Object& obj) override {
    return obj.has_label("defaulted") ? absl::OkStatus()
                                      : absl::InvalidArgumentError("not defaulted");
  }
  absl::Status validate_update(Context& ctx, const Object& /*old_obj*/,
                               const Object& obj) override {
    return validate_create(ctx, obj);
  }
};

// Answers only once released (or after 30 s): a call that ends before was cut by its timeout,
// whatever the machine's load.
class Slow : public Validator {
 public:
  absl::Status validate_create(Context& /*ctx*/, const Object& /*obj*/) override {
    release_.WaitForNotificationWithTimeout(absl::Seconds(30));
    answered_.store(true);
    return absl::OkStatus();
  }
  absl::Status validate_update(Context& ctx, const Object& /*old_obj*/,
                               const Object& obj) override {
    return validate_create(ctx, obj);
  }
  void release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }
  bool answered() const { return answered_.load(); }

 private:
  absl::Notification release_;
  std::atomic<bool> answered_{false};
};

class LocalAdmission : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto ca = certs::create_ca("test-ca", absl::Hours(1));
    ASSERT_TRUE(ca.ok());
    auto cert = certs::create_serving_certificate(*ca, {"hooks.webhook-system.svc"}, {"127.0.0.1"},
                                                  absl::Hours(1));
    ASSERT_TRUE(cert.ok());
    ca_b64_ = absl::Base64Escape(ca->cert_pem);
    Certificate c{.cert_pem = cert->cert_pem, .key_pem = cert->key_pem, .generation = 1};
    server_ = std::make_unique<Server>(
        ServerOptions{.address = "127.0.0.1:0",
                      .certificates = std::make_shared<StaticCertificates>(c),
                      .registry = &registry_});
    server_->register_validator("/no-bad", no_bad_);
    server_->register_defaulter("/default", std::make_shared<Defaulted>());
    server_->register_validator("/requires-defaulted", std::make_shared<RequiresDefaulted>());
    server_->register_validator("/slow", slow_);
    ASSERT_TRUE(server_->start().ok());
    auto env = testing::Env::start({.http = GetParam()});
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = std::move(*env);
  }
  void TearDown() override {
    slow_->release();  // the server's stop waits for its handlers
    if (env_) {
      for (const auto& [kind, name] : registered_) {
        (void)env_->client().remove(client::ResourceRef::of(
            api::GroupVersionKind{"admissionregistration.k8s.io", "v1", kind}, "", name));
      }
    }
    env_.reset();
    server_.reset();
  }
  bool real_server() { return env_->store() == nullptr; }

  // A webhook configuration, remembered for deletion; `hook` is the webhook's YAML after
  // "- name: ...", its object selector added here.
  absl::Status configure(std::string_view kind, const std::string& name, std::string_view hook) {
    registered_.emplace_back(std::string(kind), name);
    std::string yaml =
        "apiVersion: admissionregistration.k8s.io/v1\nkind: " + std::string(kind) +
        "\nmetadata: {name: " + name + "}\nwebhooks:\n- name: " + name +
        ".example.com\n  objectSelector: " +
        (selector_.empty() ? "{matchLabels: {kop-test: " + env_->namespace_() + "}}" : selector_) +
        "\n" + std::string(hook);
    return env_->apply(yaml).status();
  }

  std::string url(std::string_view path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  // One ValidatingWebhookConfiguration (or Mutating) with one webhook on ConfigMaps.
  absl::Status register_hook(std::string_view kind, std::string_view name, std::string_view path,
                             std::string_view extra = "",
                             std::string_view operations = "[CREATE, UPDATE, DELETE]") {
    return configure(
        kind, std::string(name),
        "  admissionReviewVersions: [v1]\n  sideEffects: None\n  clientConfig: {url: \"" +
            url(path) + "\", caBundle: " + ca_b64_ +
            "}\n  rules:\n  - operations: " + std::string(operations) +
            "\n    apiGroups: [\"\"]\n    apiVersions: [v1]\n    resources: "
            "[configmaps]\n" +
            std::string(extra));
  }
  // Creates a ConfigMap carrying the test's label (and `more` labels, JSON members).
  absl::Status create_cm(std::string_view name, std::string_view more = "") {
    auto cm = Object::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" +
                            std::string(name) + R"(","namespace":")" + env_->namespace_() +
                            R"(","labels":{"kop-test":")" + env_->namespace_() + "\"" +
                            (more.empty() ? "" : ",") + std::string(more) +
                            R"(}},"data":{"locked":"a"}})");
    if (!cm.ok()) return cm.status();
    return env_->client().create(client::ResourceRef::of(*cm), *cm).status();
  }

  metrics::Registry registry_;
  std::shared_ptr<NoBad> no_bad_ = std::make_shared<NoBad>();
  std::shared_ptr<Slow> slow_ = std::make_shared<Slow>();
  std::unique_ptr<Server> server_;
  std::unique_ptr<testing::Env> env_;
  std::string ca_b64_;
  std::vector<std::pair<std::string, std::string>> registered_;
  std::string selector_;  // the object selector of the next configure(), when not the default
  // Run by the Env's manager: they outlive it (TearDown stops the Env first).
  std::shared_ptr<SelfManagedCertificates> managed_certs_;
  std::unique_ptr<Server> managed_server_;
};

TEST_P(LocalAdmission, AValidatingWebhookRefusesWithItsReason) {
  KOP_ASSERT_OK(register_hook("ValidatingWebhookConfiguration", "no-bad", "/no-bad"));
  absl::Status st = create_cm("bad", R"("bad":"true")");
  EXPECT_TRUE(client::is_forbidden(st)) << st;
  EXPECT_NE(
      st.message().find(
          "admission webhook \"no-bad.example.com\" denied the request: metadata.labels.bad: no"),
      absl::string_view::npos)
      << st;
  EXPECT_TRUE(client::is_not_found(env_->get(kConfigMap, "bad").status()));
  KOP_EXPECT_OK(create_cm("good"));
  EXPECT_GE(no_bad_->calls_.load(), 2);

  // Updates see the old object; patches are judged on their result; deletes on what is deleted.
  auto cm = env_->get(kConfigMap, "good");
  KOP_ASSERT_OK(cm.status());
  Object changed(**cm);
  (void)changed.set_string("/data/locked", "b");
  auto updated = env_->client().update(client::ResourceRef::of(changed), changed);
  EXPECT_NE(updated.status().message().find("data.locked: immutable"), absl::string_view::npos)
      << updated.status();
  auto patched = env_->client().patch(client::ResourceRef::of(changed),
                                      client::PatchType::kJsonMerge, R"({"data":{"locked":"c"}})");
  EXPECT_NE(patched.status().message().find("data.locked: immutable"), absl::string_view::npos)
      << patched.status();
  auto labelled =
      env_->client().patch(client::ResourceRef::of(changed), client::PatchType::kJsonMerge,
                           R"({"metadata":{"labels":{"keep":"yes"}}})");
  KOP_ASSERT_OK(labelled.status());
  absl::Status removed = env_->remove(kConfigMap, "good");
  EXPECT_NE(removed.message().find("labelled keep"), absl::string_view::npos) << removed;
}

TEST_P(LocalAdmission, MutatingWebhooksRunFirstAndTheirPatchIsStored) {
  KOP_ASSERT_OK(register_hook("MutatingWebhookConfiguration", "default", "/default"));
  KOP_ASSERT_OK(
      register_hook("ValidatingWebhookConfiguration", "requires-defaulted", "/requires-defaulted"));
  KOP_ASSERT_OK(create_cm("plain"));
  auto cm = env_->get(kConfigMap, "plain");
  KOP_ASSERT_OK(cm.status());
  EXPECT_EQ((*cm)->label("defaulted"), "true");
  // A plain update (no resourceVersion) is mutated too.
  Object copy(**cm);
  copy.remove_label("defaulted");
  copy.set_resource_version("");
  auto updated = env_->client().update(client::ResourceRef::of(copy), copy);
  KOP_ASSERT_OK(updated.status());
  EXPECT_EQ((*updated)->label("defaulted"), "true");
}

TEST_P(LocalAdmission, FailurePolicyDecidesWhatAFailedCallMeans) {
  auto down = [&](std::string_view policy) {
    return configure("ValidatingWebhookConfiguration", "down",
                     "  admissionReviewVersions: [v1]\n  sideEffects: None\n  failurePolicy: " +
                         std::string(policy) +
                         "\n  clientConfig: {url: \"https://127.0.0.1:1/nowhere\"}\n"
                         "  rules: [{operations: [\"*\"], apiGroups: [\"\"], apiVersions: "
                         "[\"*\"], resources: [\"*\"]}]\n");
  };
  KOP_ASSERT_OK(down("Ignore"));
  KOP_EXPECT_OK(create_cm("ignored"));
  KOP_ASSERT_OK(down("Fail"));
  // A real API server applies a changed configuration a moment later (it watches them).
  int n = 0;
  absl::Status st;
  KOP_EXPECT_OK(testing::wait_for("the Fail policy applies", [&] {
    st = create_cm("refused-" + std::to_string(n++));
    return !st.ok();
  }));
  EXPECT_TRUE(client::is_internal(st)) << st;
  EXPECT_NE(st.message().find("failed calling webhook \"down.example.com\""),
            absl::string_view::npos)
      << st;
}

TEST_P(LocalAdmission, TimeoutSecondsBoundsTheCall) {
  KOP_ASSERT_OK(
      register_hook("ValidatingWebhookConfiguration", "slow", "/slow", "  timeoutSeconds: 1\n"));
  auto start = std::chrono::steady_clock::now();
  absl::Status st = create_cm("late");
  // The handler has not answered yet (it waits to be released): the call ended at its timeout,
  // not at the handler's answer; and not before the timeout's 1 s either.
  EXPECT_FALSE(slow_->answered());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  slow_->release();
  EXPECT_TRUE(client::is_internal(st)) << st;
  EXPECT_NE(st.message().find("failed calling webhook \"slow.example.com\""),
            absl::string_view::npos)
      << st;
}

TEST_P(LocalAdmission, SelectorsAndRulesChooseTheRequests) {
  selector_ = "{matchLabels: {checked: \"yes\", kop-test: " + env_->namespace_() + "}}";
  KOP_ASSERT_OK(register_hook("ValidatingWebhookConfiguration", "no-bad", "/no-bad"));
  selector_.clear();
  KOP_EXPECT_OK(create_cm("unchecked", R"("bad":"true")"));
  EXPECT_FALSE(create_cm("checked", R"("bad":"true","checked":"yes")").ok());

  KOP_ASSERT_OK(register_hook("ValidatingWebhookConfiguration", "no-bad", "/no-bad",
                              "  namespaceSelector: {matchLabels: {webhooks: \"on\"}}\n"));
  KOP_EXPECT_OK(create_cm("ns-off", R"("bad":"true")"));
  KOP_ASSERT_OK(env_->apply("{apiVersion: v1, kind: Namespace, metadata: {name: " +
                            env_->namespace_() + ", labels: {webhooks: \"on\"}}}")
                    .status());
  EXPECT_FALSE(create_cm("ns-on", R"("bad":"true")").ok());

  // A rule for DELETE only: creates pass.
  KOP_ASSERT_OK(
      register_hook("ValidatingWebhookConfiguration", "no-bad", "/no-bad", "", "[DELETE]"));
  KOP_EXPECT_OK(create_cm("created", R"("bad":"true")"));
}

// admissionregistration.k8s.io/v1 allows only webhooks without side effects (or none on dry
// run): kop::local refuses the others as the API server does, and calls webhooks on dry runs.
TEST_P(LocalAdmission, DryRunsAreAdmittedAndSideEffectsMustBeDeclaredNone) {
  auto effects = [&](std::string_view side_effects) {
    return configure(
        "ValidatingWebhookConfiguration", "effects",
        "  admissionReviewVersions: [v1]\n  sideEffects: " + std::string(side_effects) +
            "\n  clientConfig: {url: \"" + url("/no-bad") + "\", caBundle: " + ca_b64_ +
            "}\n  rules: [{operations: [CREATE], apiGroups: [\"\"], "
            "apiVersions: [v1], resources: [configmaps]}]\n");
  };
  absl::Status some = effects("Some");
  EXPECT_TRUE(client::is_invalid(some)) << some;
  EXPECT_NE(some.message().find("webhooks[0].sideEffects: Unsupported value: \"Some\": supported "
                                "values: \"None\", \"NoneOnDryRun\""),
            absl::string_view::npos)
      << some;
  KOP_ASSERT_OK(effects("NoneOnDryRun"));
  auto cm = Object::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry",
      "labels":{"bad":"true","kop-test":")" +
                          env_->namespace_() + R"("}}})");
  ASSERT_TRUE(cm.ok());
  cm->set_namespace(env_->namespace_());
  auto dry = env_->client().create(client::ResourceRef::of(*cm), *cm, {.dry_run = true});
  EXPECT_NE(dry.status().message().find("metadata.labels.bad: no"), absl::string_view::npos)
      << dry.status();
  cm->remove_label("bad");
  KOP_EXPECT_OK(
      env_->client().create(client::ResourceRef::of(*cm), *cm, {.dry_run = true}).status());
  EXPECT_TRUE(client::is_not_found(env_->get(kConfigMap, "dry").status()));
}

// The webhook configuration is checked when stored, with the API server's messages.
TEST_P(LocalAdmission, AnInvalidConfigurationIsRefused) {
  absl::Status st = configure("ValidatingWebhookConfiguration", "broken",
                              "  admissionReviewVersions: [v3]\n  sideEffects: None\n"
                              "  timeoutSeconds: 31\n  failurePolicy: Sometimes\n"
                              "  clientConfig: {url: \"http://127.0.0.1/x\"}\n");
  EXPECT_TRUE(client::is_invalid(st)) << st;
  for (absl::string_view want :
       {"webhooks[0].admissionReviewVersions: Invalid value: []string{\"v3\"}: must include "
        "at least one of v1, v1beta1",
        "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 "
        "and 30 seconds",
        "webhooks[0].failurePolicy: Unsupported value: \"Sometimes\": supported values: "
        "\"Fail\", \"Ignore\"",
        "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed "
        "URL scheme; desired format: https://host[/path]"}) {
    EXPECT_NE(st.message().find(want), absl::string_view::npos) << st << "\nwant: " << want;
  }
}

TEST_P(LocalAdmission, AServiceIsReachedThroughItsEndpointSlice) {
  // A real API server reaches a Service through the cluster network, which the API server tool
  // does not have.
  if (real_server()) GTEST_SKIP() << "kop::local's EndpointSlice resolution only";
  KOP_ASSERT_OK(env_->apply(R"(
apiVersion: v1
kind: Namespace
metadata: {name: webhook-system}
---
apiVersion: v1
kind: Service
metadata: {name: hooks, namespace: webhook-system}
spec: {ports: [{name: https, port: 443, targetPort: 9443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hooks-1, namespace: webhook-system, labels: {kubernetes.io/service-name: hooks}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: https, port: )" +
                            std::to_string(server_->port()) +
                            R"(}]
)")
                    .status());
  KOP_ASSERT_OK(configure(
      "ValidatingWebhookConfiguration", "by-service",
      "  admissionReviewVersions: [v1]\n  sideEffects: None\n  clientConfig: {service: "
      "{namespace: webhook-system, name: hooks, path: /no-bad}, caBundle: " +
          ca_b64_ +
          "}\n  rules: [{operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], resources: "
          "[configmaps]}]\n"));
  absl::Status st = create_cm("bad", R"("bad":"true")");
  EXPECT_NE(st.message().find("metadata.labels.bad: no"), absl::string_view::npos) << st;
  KOP_EXPECT_OK(create_cm("fine"));
}

// What an operator deploys: the manager makes the certificates, keeps the configuration's
// caBundle, and serves; nobody hands the CA to the test.
// The configuration is created after the manager started, and the certificate loop's refresh is
// an hour: the caBundle comes from its watch on the configuration's name (against a real API
// server too: fieldSelector metadata.name over REST).
TEST_P(LocalAdmission, TheManagerWritesTheCaBundleOfItsConfiguration) {
  const std::string config = "managed-" + env_->namespace_();
  managed_certs_ = std::make_shared<SelfManagedCertificates>(
      env_->client(), SelfManagedOptions{.secret_namespace = env_->namespace_(),
                                         .secret_name = "webhook-certs",
                                         .ip_addresses = {"127.0.0.1"},
                                         .validating_webhook_configurations = {config},
                                         .refresh_interval = absl::Hours(1)});
  managed_certs_->add_to(env_->manager());
  managed_server_ = std::make_unique<Server>(ServerOptions{
      .address = "127.0.0.1:0", .certificates = managed_certs_, .registry = &registry_});
  managed_server_->register_validator("/no-bad", no_bad_);
  managed_server_->add_to(env_->manager());
  KOP_ASSERT_OK(env_->run());
  KOP_ASSERT_OK(configure("ValidatingWebhookConfiguration", config,
                          "  admissionReviewVersions: [v1]\n  sideEffects: None\n"
                          "  clientConfig: {url: \"https://127.0.0.1:" +
                              std::to_string(managed_server_->port()) +
                              "/no-bad\"}\n  rules: [{operations: [CREATE], apiGroups: [\"\"], "
                              "apiVersions: [v1], resources: [configmaps]}]\n"));
  const api::GroupVersionKind kValidating{"admissionregistration.k8s.io", "v1",
                                          "ValidatingWebhookConfiguration"};
  KOP_ASSERT_OK(testing::eventually("the manager wrote the caBundle", [&]() -> absl::Status {
    auto c = env_->cluster_get(kValidating, config);
    if (!c.ok()) return c.status();
    return (*c)->get_string("/webhooks/0/clientConfig/caBundle").value_or("").empty()
               ? absl::UnavailableError("no caBundle yet")
               : absl::OkStatus();
  }));
  absl::Status st = create_cm("bad", R"("bad":"true")");
  EXPECT_NE(st.message().find("metadata.labels.bad: no"), absl::string_view::npos) << st;
  KOP_EXPECT_OK(create_cm("good"));
  auto secret = env_->get({"", "v1", "Secret"}, "webhook-certs");
  KOP_ASSERT_OK(secret.status());
  EXPECT_EQ((*secret)->get_string("/type"), "kubernetes.io/tls");
}

INSTANTIATE_TEST_SUITE_P(InProcessAndHttps, LocalAdmission, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Https" : "InProcess"; });

}  // namespace
}  // namespace kop::webhook
