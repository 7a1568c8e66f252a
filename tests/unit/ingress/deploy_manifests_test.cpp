// examples/deploy names itself consistently: every file parses; the ValidatingWebhookConfiguration
// reaches the webhook Service at the path kop-ingress serves, the Service's port leads to the
// container port that --webhook-addr listens on, the rules are exactly the kinds the admission
// decision judges, --webhook-configuration names the configuration, and the ServiceAccount may
// keep its caBundle and the certificate Secret. A renamed port, path, kind or object in one file
// fails here instead of in a cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../../../operators/ingress/admission/decision.h"
#include "../../../operators/ingress/admission/validator.h"
#include "kop/api/yaml.h"

namespace kop::ingress {
namespace {

namespace fs = std::filesystem;

// kop-ingress' defaults (docs/ingress.md's flag table; operators/ingress/cmd/webhook.cpp).
constexpr std::string_view kDefaultService = "kop-ingress-webhook";
constexpr std::string_view kDefaultSecret = "kop-ingress-webhook-certs";

class DeployManifests : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path dir = fs::path(KOP_INGRESS_SOURCE_ROOT) / "examples/deploy";
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".yaml") continue;
      auto objects = api::load_manifest_file(entry.path().string());
      ASSERT_TRUE(objects.ok()) << entry.path() << ": " << objects.status();
      for (auto& o : *objects) {
        ASSERT_FALSE(o.kind().empty()) << entry.path();
        ASSERT_FALSE(o.name().empty()) << entry.path() << " " << o.kind();
        objects_.push_back(std::move(o));
      }
    }
    deployment_ = find("Deployment", "kop-ingress");
    ASSERT_NE(deployment_, nullptr);
    const auto* args = deployment_->at("/spec/template/spec/containers/0/args");
    ASSERT_TRUE(args != nullptr && args->IsArray());
    for (const auto& a : args->GetArray()) {
      if (!a.IsString()) continue;
      std::string arg = a.GetString();
      auto eq = arg.find('=');
      if (arg.rfind("--", 0) == 0 && eq != std::string::npos)
        flags_[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
    }
  }

  const api::Object* find(std::string_view kind, std::string_view name) const {
    for (const auto& o : objects_)
      if (o.kind() == kind && o.name() == name) return &o;
    return nullptr;
  }
  std::string flag(const std::string& name, std::string_view fallback = "") const {
    auto it = flags_.find(name);
    return it == flags_.end() ? std::string(fallback) : it->second;
  }

  // Whether a rule of a (Cluster)Role bound to the kop-ingress ServiceAccount allows `verb` on
  // `resource` of `group` named `name` (in `ns` for Roles).
  bool allowed(std::string_view group, std::string_view resource, std::string_view verb,
               std::string_view name, std::string_view ns) const {
    for (const auto& binding : objects_) {
      bool cluster = binding.kind() == "ClusterRoleBinding";
      if (!cluster && binding.kind() != "RoleBinding") continue;
      if (!cluster && binding.namespace_() != ns) continue;
      if (binding.get_string("/subjects/0/name") != "kop-ingress") continue;
      const api::Object* role = nullptr;
      for (const auto& o : objects_) {
        if (o.kind() == binding.get_string("/roleRef/kind") &&
            o.name() == binding.get_string("/roleRef/name") &&
            (cluster || o.namespace_() == binding.namespace_()))
          role = &o;
      }
      if (role == nullptr) continue;
      const auto* rules = role->at("/rules");
      if (rules == nullptr || !rules->IsArray()) continue;
      for (const auto& rule : rules->GetArray()) {
        auto has = [&](const char* key, std::string_view v, bool absent_means_all) {
          auto it = rule.FindMember(key);
          if (it == rule.MemberEnd()) return absent_means_all;
          for (const auto& x : it->value.GetArray())
            if (x.IsString() && (std::string_view(x.GetString()) == v || x.GetString()[0] == '*'))
              return true;
          return false;
        };
        if (has("apiGroups", group, false) && has("resources", resource, false) &&
            has("verbs", verb, false) && has("resourceNames", name, true))
          return true;
      }
    }
    return false;
  }

  std::vector<api::Object> objects_;
  const api::Object* deployment_ = nullptr;
  std::map<std::string, std::string> flags_;
};

TEST_F(DeployManifests, TheWebhookConfigurationReachesTheFlagsPortAndPath) {
  const std::string ns(deployment_->namespace_());
  ASSERT_FALSE(flag("webhook-addr").empty()) << "the Deployment does not serve the webhook";
  const std::string config_name = flag("webhook-configuration");
  const api::Object* config = find("ValidatingWebhookConfiguration", config_name);
  ASSERT_NE(config, nullptr) << "--webhook-configuration=" << config_name << " names no manifest";
  EXPECT_EQ(config->get_string("/webhooks/0/clientConfig/service/namespace"), ns);
  EXPECT_EQ(config->get_string("/webhooks/0/clientConfig/service/path"), admission::kPath);
  EXPECT_EQ(config->get_string("/webhooks/0/sideEffects"), "None");
  EXPECT_EQ(config->get_string("/webhooks/0/admissionReviewVersions/0"), "v1");
  // No caBundle in the manifest: kop-ingress writes it.
  EXPECT_FALSE(config->get_string("/webhooks/0/clientConfig/caBundle").has_value());

  // The Service it names is the one kop-ingress puts into its certificate.
  auto service_name = config->get_string("/webhooks/0/clientConfig/service/name");
  ASSERT_TRUE(service_name.has_value());
  EXPECT_EQ(*service_name, flag("webhook-service", kDefaultService));
  const api::Object* service = find("Service", *service_name);
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->namespace_(), ns);
  // Its selector picks the Deployment's pods.
  const auto* selector = service->at("/spec/selector");
  ASSERT_TRUE(selector != nullptr && selector->IsObject());
  for (const auto& m : selector->GetObject()) {
    const auto* labels = deployment_->at("/spec/template/metadata/labels");
    ASSERT_TRUE(labels != nullptr && labels->IsObject());
    auto label = labels->FindMember(m.name.GetString());
    ASSERT_NE(label, labels->MemberEnd()) << m.name.GetString();
    EXPECT_STREQ(label->value.GetString(), m.value.GetString());
  }
  // clientConfig.service.port (443 when unset) -> the Service port -> its targetPort, by name or
  // number -> the container port -> --webhook-addr's port.
  int64_t port = config->get_int("/webhooks/0/clientConfig/service/port").value_or(443);
  std::optional<int64_t> container_port;
  const auto* ports = service->at("/spec/ports");
  ASSERT_TRUE(ports != nullptr && ports->IsArray());
  for (const auto& p : ports->GetArray()) {
    if (p["port"].GetInt64() != port) continue;
    const auto& target = p["targetPort"];
    if (target.IsInt64()) container_port = target.GetInt64();
    const auto* cports = deployment_->at("/spec/template/spec/containers/0/ports");
    ASSERT_TRUE(cports != nullptr && cports->IsArray());
    for (const auto& c : cports->GetArray()) {
      if (target.IsString() && std::string_view(c["name"].GetString()) == target.GetString())
        container_port = c["containerPort"].GetInt64();
    }
  }
  ASSERT_TRUE(container_port.has_value())
      << "Service port " << port << " reaches no container port";
  const std::string addr = flag("webhook-addr");
  EXPECT_EQ(addr.substr(addr.rfind(':') + 1), std::to_string(*container_port)) << addr;
}

TEST_F(DeployManifests, TheRulesAreTheKindsTheDecisionJudges) {
  const api::Object* config = find("ValidatingWebhookConfiguration", flag("webhook-configuration"));
  ASSERT_NE(config, nullptr);
  // Every kind kop-ingress reads, by resource: the rules must list exactly those it judges.
  const std::map<std::pair<std::string, std::string>, std::string> kinds = {
      {{"networking.k8s.io", "ingresses"}, "Ingress"},
      {{"networking.k8s.io", "ingressclasses"}, "IngressClass"},
      {{"ingress.kop.dev", "ingressroutes"}, "IngressRoute"},
      {{"ingress.kop.dev", "tlscertificatedelegations"}, "TLSCertificateDelegation"},
      {{"gateway.networking.k8s.io", "gatewayclasses"}, "GatewayClass"},
      {{"gateway.networking.k8s.io", "gateways"}, "Gateway"},
      {{"gateway.networking.k8s.io", "httproutes"}, "HTTPRoute"},
      {{"gateway.networking.k8s.io", "grpcroutes"}, "GRPCRoute"},
      {{"gateway.networking.k8s.io", "tlsroutes"}, "TLSRoute"},
      {{"gateway.networking.k8s.io", "referencegrants"}, "ReferenceGrant"},
      {{"gateway.networking.k8s.io", "backendtlspolicies"}, "BackendTLSPolicy"},
      {{"", "services"}, "Service"},
      {{"", "secrets"}, "Secret"},
  };
  std::set<std::pair<std::string, std::string>> listed;
  const auto* rules = config->at("/webhooks/0/rules");
  ASSERT_TRUE(rules != nullptr && rules->IsArray());
  for (const auto& rule : rules->GetArray()) {
    std::set<std::string> ops;
    for (const auto& op : rule["operations"].GetArray()) ops.insert(op.GetString());
    EXPECT_EQ(ops, (std::set<std::string>{"CREATE", "UPDATE"}));
    for (const auto& g : rule["apiGroups"].GetArray())
      for (const auto& r : rule["resources"].GetArray())
        listed.insert({g.GetString(), r.GetString()});
  }
  for (const auto& [resource, kind] : kinds) {
    EXPECT_EQ(listed.count(resource) == 1, admission::handles(resource.first, kind))
        << resource.first << "/" << resource.second << " (" << kind << ")";
  }
  for (const auto& resource : listed)
    EXPECT_EQ(kinds.count(resource), 1U) << "unknown resource " << resource.second;
}

TEST_F(DeployManifests, TheServiceAccountMayKeepTheCertificateAndTheCaBundle) {
  const std::string ns(deployment_->namespace_());
  EXPECT_EQ(deployment_->get_string("/spec/template/spec/serviceAccountName"), "kop-ingress");
  std::string secret = flag("webhook-secret", ns + "/" + std::string(kDefaultSecret));
  std::string secret_ns = secret.substr(0, secret.find('/'));
  std::string secret_name = secret.substr(secret.find('/') + 1);
  for (const char* verb : {"get", "create", "update"})
    EXPECT_TRUE(allowed("", "secrets", verb, secret_name, secret_ns)) << verb << " " << secret;
  const std::string config = flag("webhook-configuration");
  for (const char* verb : {"get", "update", "watch"}) {
    EXPECT_TRUE(allowed("admissionregistration.k8s.io", "validatingwebhookconfigurations", verb,
                        config, ""))
        << verb << " " << config;
  }
  // Only that configuration.
  EXPECT_FALSE(allowed("admissionregistration.k8s.io", "validatingwebhookconfigurations", "update",
                       "someone-elses", ""));
}

}  // namespace
}  // namespace kop::ingress
