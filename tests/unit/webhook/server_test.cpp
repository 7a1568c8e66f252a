// The webhook server over real TLS on 127.0.0.1, driven with curl as the API server's requests
// would arrive: admission (validating, mutating), conversion, malformed bodies, TLS versions,
// certificate reload, metrics, and the manager running it.
#include "kop/webhook/server.h"

#include <absl/base/thread_annotations.h>
#include <absl/strings/escaping.h>
#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <cstdlib>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "kop/certs/cert_authority.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"
#include "kop/manager/manager.h"

namespace kop::webhook {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

struct Curl {
  int exit = -1;
  std::string body;
  int code = 0;
};

// Runs curl with `args` (trusted test strings), returning its body and HTTP code.
Curl curl(const std::string& args) {
  std::string cmd = "curl -sS --max-time 10 -w '\\n%{http_code}' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  Curl out;
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.body.append(buf, n);
  int st = pclose(p);
  out.exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  auto nl = out.body.rfind('\n');
  if (nl != std::string::npos) {
    out.code = std::atoi(out.body.c_str() + nl + 1);
    out.body.resize(nl);
  }
  return out;
}

std::string admission(std::string_view op, std::string_view object, std::string_view old = "null") {
  return std::string(
             R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{)"
             R"("uid":"uid-1","kind":{"group":"example.com","version":"v1","kind":"Website"},)"
             R"("resource":{"group":"example.com","version":"v1","resource":"websites"},)"
             R"("namespace":"ns","operation":")") +
         std::string(op) + R"(","object":)" + std::string(object) + R"(,"oldObject":)" +
         std::string(old) + "}}";
}

class AtMostTen : public Validator {
 public:
  absl::Status validate_create(Context& ctx, const Object& obj) override {
    if (obj.has_label("legacy")) ctx.warn("the legacy label is ignored");
    if (obj.get_int("/spec/replicas").value_or(1) > 10) {
      return absl::InvalidArgumentError("spec.replicas: must be at most 10");
    }
    return absl::OkStatus();
  }
  absl::Status validate_update(Context& ctx, const Object& old_obj, const Object& obj) override {
    if (old_obj.get_string("/spec/domain") != obj.get_string("/spec/domain")) {
      return absl::InvalidArgumentError("spec.domain: immutable");
    }
    return validate_create(ctx, obj);
  }
};

class OneReplica : public Defaulter {
 public:
  absl::Status default_object(Context& /*ctx*/, Object& obj) override {
    if (!obj.get_int("/spec/replicas")) (void)obj.set_int("/spec/replicas", 1);
    obj.set_label("example.com/defaulted", "true");
    return absl::OkStatus();
  }
};

class Throws : public Defaulter {
 public:
  absl::Status default_object(Context& /*ctx*/, Object& /*obj*/) override {
    throw std::runtime_error("boom");
  }
};

// v1 spec.size <-> v2 spec.replicas.
class SizeToReplicas : public Converter {
 public:
  absl::StatusOr<Object> convert(const Object& obj, std::string_view to) override {
    Object out(obj);
    out.set_api_version(to);
    if (to == "example.com/v2") {
      if (auto size = obj.get_int("/spec/size")) {
        out.remove("/spec/size");
        (void)out.set_int("/spec/replicas", *size);
      }
    } else if (to != "example.com/v1") {
      return absl::InvalidArgumentError("unknown version");
    }
    return out;
  }
};

class WebhookServer : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kop-webhook-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ca_path_ = (dir_ / "ca.crt").string();
    write_certificate(dir_, ca_path_);
    ServerOptions options{.address = "127.0.0.1:0",
                          .certificates = std::make_shared<FileCertificates>(dir_.string()),
                          .registry = &registry_};
    server_ = std::make_unique<Server>(options);
    server_->register_validator("/validate", std::make_shared<AtMostTen>());
    server_->register_defaulter("/mutate", std::make_shared<OneReplica>());
    server_->register_defaulter("/throws", std::make_shared<Throws>());
    server_->register_converter("/convert", std::make_shared<SizeToReplicas>());
    ASSERT_TRUE(server_->start().ok());
    ASSERT_TRUE(server_->ready().ok());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  static void write_certificate(const fs::path& dir, const std::string& ca_path) {
    auto ca = certs::create_ca("test-ca", absl::Hours(24));
    ASSERT_TRUE(ca.ok());
    auto cert =
        certs::create_serving_certificate(*ca, {"localhost"}, {"127.0.0.1"}, absl::Hours(1));
    ASSERT_TRUE(cert.ok()) << cert.status();
    write_file(ca_path, ca->cert_pem);
    write_file(dir / "tls.key", cert->key_pem);
    write_file(dir / "tls.crt", cert->cert_pem);
  }

  Curl post(const std::string& path, std::string_view body, const std::string& extra = "") {
    write_file(dir_ / "body.json", body);
    return curl("--cacert " + ca_path_ + " -H 'Content-Type: application/json' --data-binary @" +
                (dir_ / "body.json").string() + " " + extra + " " + url(path));
  }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  fs::path dir_;
  std::string ca_path_;
  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
};

TEST_F(WebhookServer, ValidatorDeniesWithItsReasonAndWarns) {
  auto r = post("/validate", admission("CREATE", R"({"apiVersion":"example.com/v1","kind":"Website",
      "metadata":{"name":"w","labels":{"legacy":"1"}},"spec":{"replicas":11}})"));
  ASSERT_EQ(r.exit, 0) << r.body;
  EXPECT_EQ(r.code, 200);
  auto answer = Object::parse(r.body);
  ASSERT_TRUE(answer.ok()) << r.body;
  EXPECT_EQ(answer->get_string("/response/uid"), "uid-1");
  EXPECT_EQ(answer->get_bool("/response/allowed"), false);
  EXPECT_EQ(answer->get_int("/response/status/code"), 403);
  EXPECT_EQ(answer->get_string("/response/status/message"), "spec.replicas: must be at most 10");
  EXPECT_EQ(answer->get_string("/response/warnings/0"), "the legacy label is ignored");

  auto allowed = post("/validate", admission("CREATE", R"({"spec":{"replicas":3}})"));
  EXPECT_NE(allowed.body.find(R"("allowed":true)"), std::string::npos) << allowed.body;

  auto immutable = post(
      "/validate", admission("UPDATE", R"({"spec":{"domain":"b"}})", R"({"spec":{"domain":"a"}})"));
  EXPECT_NE(immutable.body.find("spec.domain: immutable"), std::string::npos) << immutable.body;
}

TEST_F(WebhookServer, DefaulterAnswersWithTheJsonPatchOfItsChanges) {
  auto r = post("/mutate", admission("CREATE", R"({"apiVersion":"example.com/v1",
      "kind":"Website","metadata":{"name":"w"},"spec":{}})"));
  ASSERT_EQ(r.code, 200) << r.body;
  auto answer = Object::parse(r.body);
  ASSERT_TRUE(answer.ok()) << r.body;
  EXPECT_EQ(answer->get_bool("/response/allowed"), true);
  EXPECT_EQ(answer->get_string("/response/patchType"), "JSONPatch");
  std::string patch;
  ASSERT_TRUE(absl::Base64Unescape(std::string(answer->get_string("/response/patch").value_or("")),
                                   &patch));
  EXPECT_EQ(patch,
            R"([{"op":"add","path":"/metadata/labels","value":{"example.com/defaulted":"true"}},)"
            R"({"op":"add","path":"/spec/replicas","value":1}])");
  // DELETE carries nothing to default: allowed, no patch.
  auto del = post("/mutate", admission("DELETE", "null", R"({"spec":{}})"));
  EXPECT_EQ(del.body.find("patch"), std::string::npos) << del.body;
}

TEST_F(WebhookServer, ConverterConvertsEveryObject) {
  auto r = post("/convert", R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview",
      "request":{"uid":"c1","desiredAPIVersion":"example.com/v2","objects":[
      {"apiVersion":"example.com/v1","kind":"Website","metadata":{"name":"a"},"spec":{"size":3}},
      {"apiVersion":"example.com/v2","kind":"Website","metadata":{"name":"b"},"spec":{"replicas":2}}]}})");
  ASSERT_EQ(r.code, 200) << r.body;
  auto answer = Object::parse(r.body);
  ASSERT_TRUE(answer.ok()) << r.body;
  EXPECT_EQ(answer->get_string("/response/uid"), "c1");
  EXPECT_EQ(answer->get_string("/response/result/status"), "Success");
  EXPECT_EQ(answer->get_int("/response/convertedObjects/0/spec/replicas"), 3);
  EXPECT_EQ(answer->get_string("/response/convertedObjects/0/apiVersion"), "example.com/v2");
  EXPECT_EQ(answer->get_int("/response/convertedObjects/1/spec/replicas"), 2);

  auto failed = post("/convert", R"({"apiVersion":"apiextensions.k8s.io/v1",
      "kind":"ConversionReview","request":{"uid":"c2","desiredAPIVersion":"example.com/v9",
      "objects":[{"apiVersion":"example.com/v1","kind":"Website","metadata":{"name":"a"}}]}})");
  EXPECT_NE(failed.body.find(R"("status":"Failure")"), std::string::npos) << failed.body;
  EXPECT_NE(failed.body.find("converting Website a from example.com/v1 to example.com/v9: "
                             "unknown version"),
            std::string::npos)
      << failed.body;
}

TEST_F(WebhookServer, MalformedRequestsAreRefusedWithAReason) {
  auto truncated = post("/validate", R"({"apiVersion":"admission.k8s.io/v1","kind":"Adm)");
  EXPECT_EQ(truncated.code, 400) << truncated.body;
  EXPECT_NE(truncated.body.find(R"("allowed":false)"), std::string::npos) << truncated.body;
  EXPECT_NE(truncated.body.find("AdmissionReview: "), std::string::npos) << truncated.body;

  auto wrong_kind = post("/convert", admission("CREATE", "{}"));
  EXPECT_EQ(wrong_kind.code, 400);
  EXPECT_NE(wrong_kind.body.find("apiVersion \\\"admission.k8s.io/v1\\\" is not"),
            std::string::npos)
      << wrong_kind.body;

  write_file(dir_ / "body.json", "{}");
  auto text = curl("--cacert " + ca_path_ + " -H 'Content-Type: text/plain' --data-binary @" +
                   (dir_ / "body.json").string() + " " + url("/validate"));
  EXPECT_EQ(text.code, 400);
  EXPECT_NE(text.body.find("expected application/json"), std::string::npos) << text.body;
  EXPECT_EQ(curl("--cacert " + ca_path_ + " " + url("/validate")).code, 405);
  EXPECT_EQ(post("/nowhere", "{}").code, 404);
  EXPECT_EQ(post("/validate", "").code, 400);

  // A handler that throws gets 500; the server keeps serving.
  auto thrown = post("/throws", admission("CREATE", "{}"));
  EXPECT_EQ(thrown.code, 500);
  EXPECT_NE(thrown.body.find("boom"), std::string::npos);
  EXPECT_EQ(post("/validate", admission("CREATE", "{}")).code, 200);
}

TEST_F(WebhookServer, RefusesTlsBelow12) {
  auto old = curl("--cacert " + ca_path_ + " --tlsv1.0 --tls-max 1.1 " + url("/validate"));
  EXPECT_NE(old.exit, 0) << old.body;
  auto tls12 = curl("--cacert " + ca_path_ + " --tlsv1.2 --tls-max 1.2 " + url("/validate"));
  EXPECT_EQ(tls12.exit, 0) << tls12.body;
  EXPECT_EQ(tls12.code, 405);
}

TEST_F(WebhookServer, ServesANewCertificateWrittenToItsFiles) {
  std::string old_ca = ca_path_;
  std::string new_ca = (dir_ / "new-ca.crt").string();
  write_certificate(dir_, new_ca);
  // The files are looked at at most once a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto with_new = curl("--cacert " + new_ca + " " + url("/validate"));
  EXPECT_EQ(with_new.code, 405) << with_new.body;
  auto with_old = curl("--cacert " + old_ca + " " + url("/validate"));
  EXPECT_NE(with_old.exit, 0) << "the old CA still verifies: " << with_old.body;
}

TEST_F(WebhookServer, CountsRequestsWithControllerRuntimesMetricNames) {
  post("/validate", admission("CREATE", "{}"));
  post("/validate", "{");
  std::string text = registry_.expose();
  EXPECT_NE(
      text.find(R"(controller_runtime_webhook_requests_total{webhook="/validate",code="200"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(controller_runtime_webhook_requests_total{webhook="/validate",code="400"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(controller_runtime_webhook_latency_seconds_count{webhook="/validate"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(controller_runtime_webhook_requests_in_flight{webhook="/validate"} 0)"),
            std::string::npos);
}

// A source whose certificate comes after the server started, as a self-managed one does.
class LateCertificates : public CertificateSource {
 public:
  absl::StatusOr<std::shared_ptr<const Certificate>> current() override {
    absl::MutexLock lock(&mu_);
    if (c_ == nullptr) return absl::UnavailableError("not yet");
    return c_;
  }
  void arrive(Certificate c) {
    absl::MutexLock lock(&mu_);
    c_ = std::make_shared<Certificate>(std::move(c));
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<const Certificate> c_ ABSL_GUARDED_BY(mu_);
};

// A certificate that arrives after the start makes the server ready without any connection
// (before, ready() only looked at the last connection's certificate: a self-managed one, made
// as the manager starts, left /readyz failing until a first review arrived, which the API server
// sends only to a ready pod).
TEST(WebhookServerReady, ReadyOnceItsCertificateArrivesWithoutAConnection) {
  metrics::Registry registry;
  auto late = std::make_shared<LateCertificates>();
  Server server({.address = "127.0.0.1:0", .certificates = late, .registry = &registry});
  ASSERT_TRUE(server.start().ok());
  EXPECT_FALSE(server.ready().ok());
  auto ca = certs::create_ca("test-ca", absl::Hours(24));
  ASSERT_TRUE(ca.ok());
  auto cert = certs::create_serving_certificate(*ca, {"localhost"}, {"127.0.0.1"}, absl::Hours(1));
  ASSERT_TRUE(cert.ok()) << cert.status();
  late->arrive({.cert_pem = cert->cert_pem, .key_pem = cert->key_pem, .generation = 1});
  EXPECT_TRUE(server.ready().ok()) << server.ready();
  server.stop();
}

// Without a certificate it could ever serve, the server does not start, and says what to set.
TEST(WebhookServerStart, NoCertificateIsAClearErrorNamingTheOption) {
  Server none({.address = "127.0.0.1:0"});
  absl::Status st = none.start();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("set ServerOptions::certificates to a SelfManagedCertificates"),
            absl::string_view::npos)
      << st;
  EXPECT_NE(st.message().find("FileCertificates(DIR)"), absl::string_view::npos) << st;

  char tmpl[] = "/tmp/kop-webhook-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  metrics::Registry registry;
  Server empty({.address = "127.0.0.1:0",
                .certificates = std::make_shared<FileCertificates>(dir.string()),
                .registry = &registry});
  st = empty.start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("cannot read " + (dir / "tls.crt").string()), absl::string_view::npos)
      << st;
  EXPECT_NE(st.message().find("cert-manager's Secret mounted as a volume"), absl::string_view::npos)
      << st;
  EXPECT_FALSE(empty.ready().ok());

  // A key that is not the certificate's is refused as well.
  auto ca = certs::create_ca("test-ca", absl::Hours(1));
  ASSERT_TRUE(ca.ok());
  auto cert = certs::create_serving_certificate(*ca, {}, {"127.0.0.1"}, absl::Hours(1));
  ASSERT_TRUE(cert.ok());
  write_file(dir / "tls.crt", cert->cert_pem);
  write_file(dir / "tls.key", ca->key_pem);
  st = Server({.address = "127.0.0.1:0",
               .certificates = std::make_shared<FileCertificates>(dir.string()),
               .registry = &registry})
           .start();
  EXPECT_NE(st.message().find("the key does not belong to the certificate"),
            absl::string_view::npos)
      << st;
  fs::remove_all(dir);
}

TEST(WebhookServerManager, RunsOnEveryReplicaWithTheManagersRegistry) {
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  metrics::Registry registry;
  char tmpl[] = "/tmp/kop-webhook-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  auto ca = certs::create_ca("ca", absl::Hours(1));
  ASSERT_TRUE(ca.ok());
  auto cert = certs::create_serving_certificate(*ca, {}, {"127.0.0.1"}, absl::Hours(1));
  ASSERT_TRUE(cert.ok());
  write_file(dir / "tls.crt", cert->cert_pem);
  write_file(dir / "tls.key", cert->key_pem);
  write_file(dir / "ca.crt", ca->cert_pem);
  {
    // Leader election on and the Lease held by someone else: the webhook still serves.
    manager::Manager mgr(client, {.leader_election = true,
                                  .leader_election_id = "webhook-test",
                                  .metrics_address = "127.0.0.1:0",
                                  .registry = &registry});
    auto lease = Object::parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
        "metadata":{"name":"webhook-test","namespace":"default"},
        "spec":{"holderIdentity":"other","leaseDurationSeconds":3600,
                "renewTime":"2099-01-01T00:00:00.000000Z"}})");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(client.create(client::ResourceRef::of(*lease), *lease).ok());
    Server server({.address = "127.0.0.1:0",
                   .certificates = std::make_shared<FileCertificates>(dir.string())});
    server.register_validator("/validate", std::make_shared<AtMostTen>());
    server.add_to(mgr);
    ASSERT_TRUE(mgr.start().ok());
    EXPECT_FALSE(mgr.is_leader());
    write_file(dir / "body.json", admission("CREATE", R"({"spec":{"replicas":99}})"));
    auto r =
        curl("--cacert " + (dir / "ca.crt").string() +
             " -H 'Content-Type: application/json' --data-binary @" + (dir / "body.json").string() +
             " https://127.0.0.1:" + std::to_string(server.port()) + "/validate");
    EXPECT_NE(r.body.find("must be at most 10"), std::string::npos) << r.body;
    EXPECT_NE(mgr.readyz("/readyz?verbose").body.find("[+]webhook-server ok"), std::string::npos)
        << mgr.readyz("/readyz?verbose").body;
    EXPECT_NE(registry.expose().find("controller_runtime_webhook_requests_total"),
              std::string::npos);
    EXPECT_TRUE(mgr.stop().ok());
    EXPECT_NE(curl("--cacert " + (dir / "ca.crt").string() +
                   " https://127.0.0.1:" + std::to_string(server.port()) + "/validate")
                  .exit,
              0);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kop::webhook
