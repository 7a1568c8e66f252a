// ManifestLoader: a directory of YAML applied into the store and kept in step; Namespaces and
// CRDs first; bad files and objects reported by file, document and field without touching the
// objects of good files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "directory_watch.h"
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
            "invalid.yaml: document 1 (Ingress default/bad): "
            "spec.rules[0].http.paths[0].pathType: Required value: "
            "pathType must be specified");
  EXPECT_EQ(
      r.problems[2].to_string(),
      "invalid.yaml: document 2: no matches for kind \"Nothing\" in version \"example.com/v9\"");
  EXPECT_TRUE(store->get(*cm, "default", "kept").ok());
  EXPECT_TRUE(store->get(*cm, "default", "good").ok());
  EXPECT_TRUE(store->get(*cm, "default", "fine").ok());
  EXPECT_EQ(l.problems().size(), 3u);
}

TEST_F(Loader, AnUnquotedBooleanAnnotationIsRefusedNamingTheObjectAndTheOldOneStays) {
  write("app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  annotations:\n"
        "    redirect: \"on\"\ndata: {k: v}\n");
  ManifestLoader l(store, {dir.string()});
  ASSERT_EQ(l.sync().applied, 1);
  // YAML reads an unquoted `on` as a boolean; kubectl refuses it, and so does the store.
  write("app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  annotations:\n"
        "    redirect: on\ndata: {k: changed}\n");
  auto r = l.sync();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].to_string(),
            "app.yaml: document 0 (ConfigMap default/app): ConfigMap in version \"v1\" cannot be "
            "handled as a ConfigMap: json: cannot unmarshal bool into Go struct field "
            "ObjectMeta.metadata.annotations of type string");
  auto kept = store->get(*cm, "default", "app");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(json::path_string((*kept)->doc(), {"metadata", "annotations", "redirect"}), "on");
  EXPECT_EQ(json::path_string((*kept)->doc(), {"data", "k"}), "v");
}

TEST_F(Loader, BackgroundPollingFollowsTheDirectory) {
  ManifestLoaderOptions o{dir.string()};
  o.poll = absl::Milliseconds(20);
  o.watch_files = false;  // the fallback where inotify is not available
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

std::string cm_yaml(const std::string& name, const std::string& value) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {k: \"" + value +
         "\"}\n---\n";
}

std::string data_of(Store& store, const ResourceType& cm, const std::string& name) {
  auto got = store.get(cm, "default", name);
  return got.ok() ? std::string(json::path_string((*got)->doc(), {"data", "k"})) : "(none)";
}

TEST_F(Loader, UnchangedFilesAreNeitherReadNorParsedAgain) {
  write("a.yaml", cm_yaml("a1", "v") + cm_yaml("a2", "v"));
  write("b.yaml", cm_yaml("b1", "v"));
  ManifestLoader l(store, {dir.string()});
  auto first = l.sync();
  EXPECT_EQ(first.files_parsed, 2);
  EXPECT_EQ(first.applied, 3);
  // File times have the kernel tick's granularity: a file younger than a second is hashed again
  // at the next look (not parsed), then trusted.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto settle = l.sync();
  EXPECT_EQ(settle.files_read, 2);
  EXPECT_EQ(settle.files_parsed, 0);
  auto w = store->watch(*cm, "default",
                        {.resource_version = std::to_string(store->current_resource_version())});
  ASSERT_TRUE(w.ok());
  auto idle = l.sync();
  EXPECT_EQ(idle.files_read, 0);
  EXPECT_EQ(idle.files_parsed, 0);
  EXPECT_EQ(idle.unchanged, 3);
  EXPECT_EQ(idle.applied, 0);
  // Touched, same bytes: read and hashed, not parsed, nothing applied.
  fs::last_write_time(dir / "a.yaml", fs::file_time_type::clock::now());
  auto touched = l.sync();
  EXPECT_EQ(touched.files_read, 1);
  EXPECT_EQ(touched.files_parsed, 0);
  EXPECT_EQ(touched.unchanged, 3);
  EXPECT_FALSE(next(*w, 50)) << "an unchanged file wrote to the store";
}

TEST_F(Loader, AChangedFileAppliesExactlyItsAddsUpdatesAndDeletes) {
  write("app.yaml", cm_yaml("same", "v") + cm_yaml("changed", "v") + cm_yaml("removed", "v"));
  write("other.yaml", cm_yaml("other", "v"));
  ManifestLoader l(store, {dir.string()});
  ASSERT_EQ(l.sync().applied, 4);
  auto w = store->watch(*cm, "default",
                        {.resource_version = std::to_string(store->current_resource_version())});
  ASSERT_TRUE(w.ok());
  write("app.yaml", cm_yaml("same", "v") + cm_yaml("changed", "v2") + cm_yaml("added", "v"));
  auto r = l.sync();
  EXPECT_EQ(r.files_parsed, 1);  // other.yaml may be read (young), never parsed
  EXPECT_EQ(r.applied, 2);
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(r.unchanged, 2);
  EXPECT_TRUE(r.problems.empty());
  std::vector<std::string> events;
  while (auto ev = next(*w, 200)) {
    events.push_back(std::string(to_string(ev->type)) + " " +
                     std::string(meta(ev->object, "name")));
  }
  EXPECT_THAT(events, ::testing::ElementsAre("MODIFIED changed", "ADDED added", "DELETED removed"));
  EXPECT_EQ(data_of(*store, *cm, "changed"), "v2");
}

TEST_F(Loader, AListItemDroppedFromAFileGoesAndARefusedChangeIsReportedOnce) {
  // A Service file loses one of its ports: the store's Service loses it too (the upstream
  // GatewayModifyListeners test drops a Gateway listener this way).
  auto svc_yaml = [](const std::string& ports) {
    return "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n" + ports;
  };
  const std::string http = "  - {name: http, port: 80}\n";
  const std::string https = "  - {name: https, port: 443}\n";
  std::vector<std::string> reported;
  ManifestLoaderOptions o{dir.string()};
  o.on_problem = [&](const ManifestProblem& p) { reported.push_back(p.to_string()); };
  ManifestLoader l(store, o);
  write("svc.yaml", svc_yaml(http + https));
  ASSERT_THAT(l.sync().problems, ::testing::IsEmpty());
  write("svc.yaml", svc_yaml(http));
  auto r = l.sync();
  EXPECT_THAT(r.problems, ::testing::IsEmpty());
  EXPECT_EQ(r.applied, 1);
  auto svc = type(*store, "", "v1", "services");
  auto got = store->get(*svc, "default", "web");
  ASSERT_TRUE(got.ok());
  const JsonValue* ports = json::path((*got)->doc(), {"spec", "ports"});
  ASSERT_TRUE(ports && ports->Size() == 1) << S(*got);
  const std::string kept = json::to_json(*ports);
  EXPECT_THAT(reported, ::testing::IsEmpty());

  // A change validation refuses keeps the old object, and says so once (not at every sync).
  write("svc.yaml", svc_yaml("  - {name: http, port: 99999}\n"));
  r = l.sync();
  ASSERT_THAT(r.problems, ::testing::Not(::testing::IsEmpty()));
  ASSERT_EQ(reported.size(), r.problems.size());
  EXPECT_THAT(reported, ::testing::Contains(::testing::HasSubstr(
                            "svc.yaml: document 0 (Service default/web): spec.ports[0].port")));
  write("other.yaml", cm_yaml("other", "v"));
  EXPECT_EQ(l.sync().problems.size(), r.problems.size());
  EXPECT_EQ(reported.size(), r.problems.size());
  got = store->get(*svc, "default", "web");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::to_json(*json::path((*got)->doc(), {"spec", "ports"})), kept);
}

TEST_F(Loader, AnObjectDefinedTwiceComesFromTheFirstFileAndFallsBackToTheOther) {
  write("b.yaml", cm_yaml("x", "from-b"));
  ManifestLoader l(store, {dir.string()});
  ASSERT_EQ(l.sync().applied, 1);
  write("a.yaml", cm_yaml("x", "from-a"));
  auto r = l.sync();
  EXPECT_EQ(data_of(*store, *cm, "x"), "from-a");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].to_string(),
            "b.yaml: document 0: duplicate of an object defined in a.yaml");
  // b.yaml's copy was dropped while the store held it; it is read again to take over.
  fs::remove(dir / "a.yaml");
  r = l.sync();
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.deleted, 0);
  EXPECT_EQ(data_of(*store, *cm, "x"), "from-b");
  fs::remove(dir / "b.yaml");
  EXPECT_EQ(l.sync().deleted, 1);
  EXPECT_EQ(data_of(*store, *cm, "x"), "(none)");
}

TEST_F(Loader, ALargeFileIsReadInBatchesWithTheSameDocumentsIndicesAndLines) {
  // About 650 KiB: three batches of the YAML reader. A block scalar holds an indented "---".
  std::string text;
  constexpr int kObjects = 6000;
  for (int i = 0; i < kObjects; ++i)
    text += "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c" + std::to_string(i) +
            "}\ndata:\n  k: |\n    line one\n    ---\n    line three\n---\n";
  ASSERT_GT(text.size(), 512u * 1024);
  write("big.yaml", text);
  ManifestLoader l(store, {dir.string()});
  auto r = l.sync();
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.applied, kObjects);
  EXPECT_EQ(data_of(*store, *cm, "c5999"), "line one\n---\nline three\n");
  // An error in the last batch names its line in the file and its document's index is right.
  int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  write("big.yaml", text + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n");
  r = l.sync();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("line " + std::to_string(lines + 4)), std::string::npos)
      << r.problems[0].message;
  write("big.yaml", text + "- not an object\n");
  r = l.sync();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].to_string(),
            "big.yaml: document " + std::to_string(kObjects) + ": not an object");
}

TEST_F(Loader, InotifyLoadsEachChangeAtOnceWithoutPolling) {
  if (!DirectoryWatch::create()) GTEST_SKIP() << "inotify is not available";
  ManifestLoaderOptions o{dir.string()};
  o.poll = absl::Hours(1);
  o.recheck = absl::Hours(1);
  ManifestLoader l(store, o);
  auto w = store->watch(*cm, "default", {});
  ASSERT_TRUE(w.ok());
  l.start();
  write("late.yaml", cm_yaml("late", "1"));
  auto ev = next(*w, 3000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(meta(ev->object, "name"), "late");
  // An editor's way: write elsewhere, rename over the file.
  std::ofstream(dir / ".late.tmp") << cm_yaml("late", "2");
  fs::rename(dir / ".late.tmp", dir / "late.yaml");
  ev = next(*w, 3000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, WatchEvent::Type::kModified);
  // A directory made after start is watched too.
  write("sub/deeper.yaml", cm_yaml("deeper", "1"));
  ev = next(*w, 3000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(meta(ev->object, "name"), "deeper");
  fs::remove(dir / "late.yaml");
  ev = next(*w, 3000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, WatchEvent::Type::kDeleted);
  l.stop();
}

}  // namespace
}  // namespace kop::local
