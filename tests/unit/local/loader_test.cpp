// ManifestLoader: a directory of YAML applied into the store and kept in step; Namespaces and
// CRDs first; bad files and objects reported by file, document and field without touching the
// objects of good files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kop/local/manifest_loader.h"
#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;
namespace fs = std::filesystem;

class Loader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("kop-loader-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    fs::create_directories((dir / name).parent_path());
    std::ofstream(dir / name) << text;
  }
  fs::path dir;
  std::shared_ptr<Store> store = std::make_shared<Store>();
  ResourceTypePtr cm = type(*store, "", "v1", "configmaps");
};

TEST_F(Loader, AppliesInDependencyOrderAndKeepsInStep) {
  // The custom resource and the namespaced object come before their CRD and Namespace in file
  // order; the loader applies Namespaces and CRDs first.
  write("a-objects.yaml", R"(apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: team}
spec: {size: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c1, namespace: team}
data: {k: v}
---
)");
  std::ifstream crd(std::string(KOP_LOCAL_TESTDATA) + "/widgets-crd.yaml");
  std::stringstream ss;
  ss << crd.rdbuf();
  write("z-crds/widgets.yaml", ss.str());
  write("z-ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n");
  ManifestLoader l(store, {dir.string()});
  auto r = l.sync();
  for (auto& p : r.problems) ADD_FAILURE() << p.to_string();
  EXPECT_EQ(r.applied, 4);
  auto w = store->registry().by_resource("example.com", "v1", "widgets");
  ASSERT_TRUE(w);
  auto got = store->get(*w, "team", "w");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::path_string((*got)->doc(), {"spec", "color"}), "red");  // schema default
  // Unchanged files change nothing.
  uint64_t rv = store->current_resource_version();
  auto again = l.sync();
  EXPECT_EQ(again.applied, 0);
  EXPECT_EQ(again.unchanged, 4);
  EXPECT_EQ(store->current_resource_version(), rv);
  // Change, add, remove.
  write("a-objects.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata: {name: c1, namespace: team}
data: {k: changed}
)");
  write("b.json", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2"}})");
  auto r3 = l.sync();
  EXPECT_TRUE(r3.problems.empty());
  EXPECT_EQ(r3.deleted, 1);  // the widget
  EXPECT_FALSE(store->get(*w, "team", "w").ok());
  EXPECT_EQ(json::path_string((*store->get(*cm, "team", "c1"))->doc(), {"data", "k"}), "changed");
  EXPECT_TRUE(store->get(*cm, "default", "c2").ok());  // default namespace
  fs::remove(dir / "b.json");
  EXPECT_EQ(l.sync().deleted, 1);
  EXPECT_FALSE(store->get(*cm, "default", "c2").ok());
}

TEST_F(Loader, BadFilesAndObjectsAreReportedWithoutTouchingGoodOnes) {
  write("good.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\n");
  write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n");
  ManifestLoader l(store, {dir.string()});
  ASSERT_TRUE(l.sync().problems.empty());
  ASSERT_TRUE(store->get(*cm, "default", "kept").ok());
  // broken.yaml now has a YAML error: its object stays as it was.
  write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept\n  bad: [\n");
  write("invalid.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad}
spec:
  rules:
  - http:
      paths:
      - path: /
        backend: {service: {name: s, port: {number: 80}}}
---
apiVersion: example.com/v9
kind: Nothing
metadata: {name: x}
)");
  auto r = l.sync();
  ASSERT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.problems[0].file, "broken.yaml");
  EXPECT_EQ(r.problems[0].document, -1);
  EXPECT_NE(r.problems[0].message.find("line"), std::string::npos) << r.problems[0].message;
  // Problems are in file order: invalid.yaml document 1 (validation), document 2 (unknown kind).
  EXPECT_EQ(r.problems[1].to_string(),
            "invalid.yaml: document 1: spec.rules[0].http.paths[0].pathType: Required value: "
            "pathType must be specified");
  EXPECT_EQ(
      r.problems[2].to_string(),
      "invalid.yaml: document 2: no matches for kind \"Nothing\" in version \"example.com/v9\"");
  EXPECT_TRUE(store->get(*cm, "default", "kept").ok());
  EXPECT_TRUE(store->get(*cm, "default", "good").ok());
  EXPECT_TRUE(store->get(*cm, "default", "fine").ok());
  EXPECT_EQ(l.problems().size(), 3u);
}

TEST_F(Loader, BackgroundPollingFollowsTheDirectory) {
  ManifestLoaderOptions o{dir.string()};
  o.poll = std::chrono::milliseconds(20);
  ManifestLoader l(store, o);
  auto w = store->watch(*cm, "default", {});
  ASSERT_TRUE(w.ok());
  l.start();
  write("late.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\n");
  auto ev = next(*w, 3000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(meta(ev->object, "name"), "late");
  l.stop();
}

}  // namespace
}  // namespace kop::local
