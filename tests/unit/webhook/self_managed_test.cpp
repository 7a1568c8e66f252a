// Self-managed webhook certificates against kop::local: the Secret created or adopted (also by
// two replicas racing), renewal before expiry, CA rotation without a moment where the served
// certificate is outside the caBundle, caBundle injection, and a server serving what it holds.
#include "kop/webhook/self_managed.h"

#include <absl/strings/escaping.h>
#include <absl/time/clock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kop/certs/cert_authority.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"
#include "kop/webhook/server.h"

namespace kop::webhook {
namespace {

const api::GroupVersionKind kSecret{"", "v1", "Secret"};

std::string decoded(const Object& obj, std::string_view pointer) {
  std::string out;
  auto b64 = obj.get_string(pointer);
  if (b64) absl::Base64Unescape(std::string(*b64), &out);
  return out;
}

class SelfManaged : public ::testing::Test {
 protected:
  void SetUp() override {
    for (
        std::string_view yaml : {
            R"({"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration",
                 "metadata":{"name":"site-validation"},"webhooks":[
                 {"name":"a.example.com","admissionReviewVersions":["v1"],"sideEffects":"None",
                  "clientConfig":{"url":"https://127.0.0.1:9443/validate"}},
                 {"name":"b.example.com","admissionReviewVersions":["v1"],"sideEffects":"None",
                  "clientConfig":{"service":{"name":"site","namespace":"sys","path":"/v"}}}]})",
            R"({"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration",
                 "metadata":{"name":"site-defaults"},"webhooks":[
                 {"name":"m.example.com","admissionReviewVersions":["v1"],"sideEffects":"None",
                  "clientConfig":{"url":"https://127.0.0.1:9443/mutate"}}]})",
            R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
                 "metadata":{"name":"sites.example.com"},"spec":{"group":"example.com",
                 "names":{"plural":"sites","singular":"site","kind":"Site","listKind":"SiteList"},
                 "scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,
                 "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}],
                 "conversion":{"strategy":"Webhook","webhook":{"conversionReviewVersions":["v1"],
                 "clientConfig":{"url":"https://127.0.0.1:9443/convert"}}}}})"}) {
      auto obj = Object::parse(yaml);
      ASSERT_TRUE(obj.ok()) << obj.status();
      auto created = client_.create(client::ResourceRef::of(*obj), *obj);
      ASSERT_TRUE(created.ok()) << created.status();
    }
  }

  SelfManagedOptions options() {
    return {.secret_namespace = "default",
            .secret_name = "site-webhook-certs",
            .dns_names = service_dns_names("site", "sys"),
            .ip_addresses = {"127.0.0.1"},
            .validating_webhook_configurations = {"site-validation"},
            .mutating_webhook_configurations = {"site-defaults"},
            .conversion_crds = {"sites.example.com"},
            .clock = [this] { return absl::Now() + offset_.load(); }};
  }

  ObjectPtr secret() {
    auto s = client_.get(client::ResourceRef::of(kSecret, "default", "site-webhook-certs"));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }
  ObjectPtr get(std::string_view api_version, std::string_view kind, std::string_view name) {
    auto gv = api::GroupVersion::parse(api_version);
    auto s = client_.get(client::ResourceRef::of(
        api::GroupVersionKind{gv->group, gv->version, std::string(kind)}, "", name));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }
  // Every caBundle the operator manages, decoded.
  std::vector<std::string> bundles() {
    auto v =
        get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "site-validation");
    auto m =
        get("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "site-defaults");
    auto c = get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "sites.example.com");
    return {decoded(*v, "/webhooks/0/clientConfig/caBundle"),
            decoded(*v, "/webhooks/1/clientConfig/caBundle"),
            decoded(*m, "/webhooks/0/clientConfig/caBundle"),
            decoded(*c, "/spec/conversion/webhook/clientConfig/caBundle")};
  }

  std::shared_ptr<local::Store> store_ = std::make_shared<local::Store>();
  local::LocalClient client_{store_};
  std::atomic<absl::Duration> offset_{absl::ZeroDuration()};
};

TEST_F(SelfManaged, CreatesTheSecretAndWritesEveryCaBundle) {
  SelfManagedCertificates certs(client_, options());
  EXPECT_FALSE(certs.current().ok());
  ASSERT_TRUE(certs.sync().ok()) << certs.status();
  auto s = secret();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->get_string("/type"), "kubernetes.io/tls");
  std::string ca = decoded(*s, "/data/ca.crt");
  auto cur = certs.current();
  ASSERT_TRUE(cur.ok());
  EXPECT_EQ((*cur)->cert_pem, decoded(*s, "/data/tls.crt"));
  EXPECT_EQ((*cur)->key_pem, decoded(*s, "/data/tls.key"));
  EXPECT_EQ((*cur)->ca_pem, ca);
  EXPECT_TRUE(certs::check_serving_certificate((*cur)->cert_pem, ca,
                                               service_dns_names("site", "sys"), {"127.0.0.1"})
                  .ok());
  EXPECT_TRUE(check_key_pair(ca, decoded(*s, "/data/ca.key")).ok());
  for (const auto& bundle : bundles()) EXPECT_EQ(bundle, ca);

  // Nothing changes on the next pass: no write.
  std::string rv(s->resource_version());
  ASSERT_TRUE(certs.sync().ok());
  EXPECT_EQ(secret()->resource_version(), rv);
}

TEST_F(SelfManaged, ReplicasRacingShareOneCertificate) {
  SelfManagedCertificates a(client_, options());
  SelfManagedCertificates b(client_, options());
  absl::Status sa, sb;
  std::thread ta([&] { sa = a.sync(); });
  std::thread tb([&] { sb = b.sync(); });
  ta.join();
  tb.join();
  ASSERT_TRUE(sa.ok()) << sa;
  ASSERT_TRUE(sb.ok()) << sb;
  // Whoever lost read the winner's Secret; a second pass makes both agree in any case.
  ASSERT_TRUE(a.sync().ok());
  ASSERT_TRUE(b.sync().ok());
  EXPECT_EQ((*a.current())->cert_pem, (*b.current())->cert_pem);
  EXPECT_EQ((*a.current())->cert_pem, decoded(*secret(), "/data/tls.crt"));
}

TEST_F(SelfManaged, RenewsTheServingCertificateBeforeItExpires) {
  auto opts = options();
  opts.validity = absl::Hours(1);
  opts.renew_before = absl::Minutes(10);
  SelfManagedCertificates certs(client_, opts);
  ASSERT_TRUE(certs.sync().ok());
  auto first = *certs.current();
  offset_ = absl::Minutes(45);  // 15 minutes left: kept
  ASSERT_TRUE(certs.sync().ok());
  EXPECT_EQ((*certs.current())->generation, first->generation);
  offset_ = absl::Minutes(55);  // 5 minutes left: renewed under the same CA
  ASSERT_TRUE(certs.sync().ok());
  auto renewed = *certs.current();
  EXPECT_GT(renewed->generation, first->generation);
  EXPECT_NE(renewed->cert_pem, first->cert_pem);
  EXPECT_EQ(renewed->ca_pem, first->ca_pem);
  EXPECT_EQ(decoded(*secret(), "/data/tls.crt"), renewed->cert_pem);
}

TEST_F(SelfManaged, RotatesTheCaKeepingTheServedCertificateTrusted) {
  auto opts = options();
  opts.ca_validity = absl::Hours(2);
  opts.ca_renew_before = absl::Minutes(30);
  opts.validity = absl::Hours(10);  // cut to the CA's 2 hours
  opts.renew_before = absl::Minutes(10);
  SelfManagedCertificates certs(client_, opts);
  ASSERT_TRUE(certs.sync().ok());
  auto first = *certs.current();

  offset_ = absl::Minutes(100);  // the CA has 20 minutes left: a new CA joins the bundle
  ASSERT_TRUE(certs.sync().ok());
  auto rotating = *certs.current();
  EXPECT_EQ(rotating->cert_pem, first->cert_pem) << "the old certificate stays for one pass";
  EXPECT_NE(rotating->ca_pem, first->ca_pem);
  EXPECT_NE(rotating->ca_pem.find(first->ca_pem), std::string::npos) << "the old CA stays";
  for (const auto& bundle : bundles()) EXPECT_EQ(bundle, rotating->ca_pem);

  ASSERT_TRUE(certs.sync().ok());  // the next pass: a certificate from the new CA
  auto rotated = *certs.current();
  EXPECT_NE(rotated->cert_pem, first->cert_pem);
  std::string new_ca = rotated->ca_pem.substr(0, rotated->ca_pem.find("-----END CERTIFICATE-----"));
  new_ca += "-----END CERTIFICATE-----\n";
  EXPECT_TRUE(certs::check_serving_certificate(rotated->cert_pem, new_ca, {}, {"127.0.0.1"}).ok());
  EXPECT_FALSE(certs::check_serving_certificate(rotated->cert_pem, first->ca_pem, {}, {}).ok());
}

TEST_F(SelfManaged, ReissuesWhenANameIsMissingAndReportsBadTargets) {
  SelfManagedCertificates certs(client_, options());
  ASSERT_TRUE(certs.sync().ok());
  auto first = *certs.current();
  auto opts = options();
  opts.dns_names.emplace_back("site.example.com");
  opts.conversion_crds.emplace_back("missing.example.com");  // not there yet: no error
  SelfManagedCertificates wider(client_, opts);
  ASSERT_TRUE(wider.sync().ok()) << wider.status();
  EXPECT_NE((*wider.current())->cert_pem, first->cert_pem);
  EXPECT_EQ((*wider.current())->ca_pem, first->ca_pem);

  auto cm =
      Object::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"plain.example.com"},"spec":{"group":"example.com",
      "names":{"plural":"plain","singular":"plain","kind":"Plain","listKind":"PlainList"},
      "scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,
      "schema":{"openAPIV3Schema":{"type":"object"}}}]}})");
  ASSERT_TRUE(cm.ok());
  ASSERT_TRUE(client_.create(client::ResourceRef::of(*cm), *cm).ok());
  opts.conversion_crds = {"plain.example.com"};
  SelfManagedCertificates bad(client_, opts);
  absl::Status st = bad.sync();
  EXPECT_NE(st.message().find("spec.conversion.strategy is not Webhook"), absl::string_view::npos)
      << st;
  EXPECT_EQ(bad.status(), st);
}

// True once `done` holds, polling for up to 10 s (generous: CI runs this under ASan, loaded).
template <typename F>
bool eventually(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// A configuration or CRD created after the loop started, or written back without its caBundle,
// gets it from the watch on its name, not at the next refresh (an hour here).
TEST_F(SelfManaged, ATargetCreatedOrRewrittenAfterTheStartGetsTheCaBundle) {
  auto opts = options();
  opts.refresh_interval = absl::Hours(1);
  opts.retry_interval = absl::Hours(1);
  opts.validating_webhook_configurations.emplace_back("late-validation");
  opts.conversion_crds.emplace_back("gadgets.example.com");
  SelfManagedCertificates certs(client_, opts);
  certs.start();
  ASSERT_TRUE(eventually([&] { return certs.status().ok(); })) << certs.status();
  const std::string ca = (*certs.current())->ca_pem;
  for (const auto& bundle : bundles()) EXPECT_EQ(bundle, ca);

  auto late = Object::parse(
      R"({"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration",
          "metadata":{"name":"late-validation"},"webhooks":[
          {"name":"late.example.com","admissionReviewVersions":["v1"],"sideEffects":"None",
           "clientConfig":{"url":"https://127.0.0.1:9443/late"}}]})");
  ASSERT_TRUE(late.ok());
  const auto late_ref = client::ResourceRef::of(*late);
  ASSERT_TRUE(client_.create(late_ref, *late).ok());
  auto late_bundle = [&] {
    auto got = client_.get(late_ref.named("late-validation"));
    return got.ok() ? decoded(**got, "/webhooks/0/clientConfig/caBundle") : std::string();
  };
  EXPECT_TRUE(eventually([&] { return late_bundle() == ca; }));

  auto crd = Object::parse(
      R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
          "metadata":{"name":"gadgets.example.com"},"spec":{"group":"example.com",
          "names":{"plural":"gadgets","singular":"gadget","kind":"Gadget","listKind":"GadgetList"},
          "scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,
          "schema":{"openAPIV3Schema":{"type":"object"}}}],
          "conversion":{"strategy":"Webhook","webhook":{"conversionReviewVersions":["v1"],
          "clientConfig":{"url":"https://127.0.0.1:9443/convert"}}}}})");
  ASSERT_TRUE(crd.ok());
  const auto crd_ref = client::ResourceRef::of(*crd);
  ASSERT_TRUE(client_.create(crd_ref, *crd).ok());
  EXPECT_TRUE(eventually([&] {
    auto got = client_.get(crd_ref.named("gadgets.example.com"));
    return got.ok() && decoded(**got, "/spec/conversion/webhook/clientConfig/caBundle") == ca;
  }));

  // Written back without it, as `kubectl replace` or a Helm upgrade does: set again.
  auto stored = client_.get(late_ref.named("late-validation"));
  ASSERT_TRUE(stored.ok());
  Object replaced(**stored);
  (void)replaced.remove("/webhooks/0/clientConfig/caBundle");
  ASSERT_TRUE(client_.update(late_ref.named("late-validation"), replaced).ok());
  EXPECT_TRUE(eventually([&] { return late_bundle() == ca; }));
  certs.stop();
}

TEST_F(SelfManaged, TheServerServesTheSecretsCertificate) {
  auto certs = std::make_shared<SelfManagedCertificates>(client_, options());
  ASSERT_TRUE(certs->sync().ok());
  Server server({.address = "127.0.0.1:0", .certificates = certs});
  ASSERT_TRUE(server.start().ok());
  ASSERT_TRUE(server.ready().ok());
  char path[] = "/tmp/kop-webhook-ca-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string ca = decoded(*secret(), "/data/ca.crt");
  ASSERT_EQ(write(fd, ca.data(), ca.size()), static_cast<ssize_t>(ca.size()));
  close(fd);
  std::string cmd = std::string("curl -s -o /dev/null -w '%{http_code}' --cacert ") + path +
                    " https://127.0.0.1:" + std::to_string(server.port()) + "/x";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[16] = {};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  unlink(path);
  EXPECT_EQ(std::string(buf, n), "404");
}

}  // namespace
}  // namespace kop::webhook
