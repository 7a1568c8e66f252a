// ManifestLoader: a directory of YAML applied into the store and kept in step; Namespaces and
// CRDs first; bad files and objects reported by file, document and field without touching the
// objects of good files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "directory_watch.h"
#include "kop/api/yaml.h"
#include "kop/local/manifest_loader.h"
#include "manifest_split.h"
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

// A file that is there but cannot be read is not a removed file: its objects stay, and why is
// reported (through on_problem too, which kop-ingress logs) until it is read again or removed.
// The cases work as root, whom chmod 000 does not stop: a FIFO in the file's place (it has no
// writer: the loader must not wait for one) and a directory in its place. A symbolic link to a
// removed file is a removed file (ENOENT): a mounted ConfigMap's removed key is such a link
// until the kubelet deletes it.
TEST_F(Loader, AFileThatCannotBeReadKeepsItsObjectsAndIsReportedUntilReadOrRemoved) {
  write("a.yaml", cm_yaml("a", "1"));
  write("b.yaml", cm_yaml("b", "1"));
  ManifestLoaderOptions o{dir.string()};
  std::vector<std::string> reported;
  o.on_problem = [&](const ManifestProblem& p) { reported.push_back(p.to_string()); };
  ManifestLoader l(store, o);
  ASSERT_EQ(l.sync().applied, 2);
  const fs::path a = dir / "a.yaml";
  auto fifo = [&] {
    fs::remove_all(a);
    ASSERT_EQ(::mkfifo(a.c_str(), 0644), 0);
  };
  auto expect_kept = [&](const SyncReport& r, const std::string& why) {
    EXPECT_EQ(r.deleted, 0);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].to_string(), "a.yaml: cannot read the file: " + why);
    EXPECT_EQ(data_of(*store, *cm, "a"), "1");
  };
  // Looked at in a walk of the directory and by name (as inotify names it).
  fifo();
  expect_kept(l.sync(), "not a regular file");
  expect_kept(l.sync({"a.yaml"}), "not a regular file");
  fs::remove(a);
  fs::create_directory(a);
  expect_kept(l.sync(), "Is a directory");
  expect_kept(l.sync({"a.yaml"}), "Is a directory");
  EXPECT_THAT(reported, ::testing::ElementsAre("a.yaml: cannot read the file: not a regular file",
                                               "a.yaml: cannot read the file: Is a directory"));
  // Readable again with the same bytes: nothing to apply, and the problem is gone.
  fs::remove(a);
  write("a.yaml", cm_yaml("a", "1"));
  auto back = l.sync();
  EXPECT_TRUE(back.problems.empty());
  EXPECT_EQ(back.applied, 0);
  EXPECT_EQ(back.deleted, 0);
  if (::geteuid() != 0) {  // EACCES: only where chmod 000 stops the reader
    fs::permissions(a, fs::perms::none);
    expect_kept(l.sync({"a.yaml"}), "Permission denied");
    fs::permissions(a, fs::perms::owner_read | fs::perms::owner_write);
  }
  // Unreadable, then changed: read as usual.
  fifo();
  expect_kept(l.sync(), "not a regular file");
  fs::remove(a);
  write("a.yaml", cm_yaml("a", "2"));
  auto changed = l.sync();
  EXPECT_TRUE(changed.problems.empty());
  EXPECT_EQ(changed.applied, 1);
  EXPECT_EQ(data_of(*store, *cm, "a"), "2");
  // Unreadable, then removed: its objects go.
  fifo();
  EXPECT_EQ(l.sync().deleted, 0);
  fs::remove(a);
  auto removed = l.sync();
  EXPECT_EQ(removed.deleted, 1);
  EXPECT_TRUE(removed.problems.empty());
  EXPECT_EQ(data_of(*store, *cm, "a"), "(none)");
  // A link to a removed file.
  fs::remove(dir / "b.yaml");
  fs::create_symlink(dir / "removed.yaml.orig", dir / "b.yaml");
  auto dangling = l.sync();
  EXPECT_EQ(dangling.deleted, 1);
  EXPECT_TRUE(dangling.problems.empty());
  EXPECT_EQ(data_of(*store, *cm, "b"), "(none)");
}

// A FIFO named like a manifest that was never a file is reported too, and not waited on.
TEST_F(Loader, AFifoNamedLikeAManifestIsReportedWithoutBlockingTheLoader) {
  write("b.yaml", cm_yaml("b", "1"));
  ASSERT_EQ(::mkfifo((dir / "a.yaml").c_str(), 0644), 0);
  ManifestLoader l(store, {dir.string()});
  auto r = l.sync();
  EXPECT_EQ(r.applied, 1);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].to_string(), "a.yaml: cannot read the file: not a regular file");
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

namespace kop::local {
namespace {

// The documents split_documents() cuts, each parsed alone, are the whole stream's documents
// with the same indices; what it cannot cut safely it refuses.
TEST(SplitDocuments, PiecesParseAsTheWholeStreamWithTheSameIndices) {
  const std::vector<std::string> texts = {
      "",
      "# only a comment\n",
      "a: 1\n",
      "a: 1\n---\nb: 2\n",
      "---\na: 1\n---\nb: 2\n---\n",
      "# head\n\n---\na: 1\n",
      "a: 1\n---\n---\n# empty above, comment here\n---\nb: 2\n",
      "---\r\na: 1\r\n---\r\nb: 2\r\n",
      "a: |\n  x\n  ---\n  y\n---\nb: [1, 2]\n",
      "---a: 1\n",  // not a marker: a key "---a"
      "--- {a: 1}\n--- [1]\n",
      "- x\n---\nkind: List\nitems: [{a: 1}]\n",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    std::vector<std::pair<size_t, std::string>> whole, cut;
    ASSERT_TRUE(api::for_each_yaml_document(text, "", [&](JsonDoc&& d, size_t i) {
                  whole.emplace_back(i, json::to_json(d));
                }).ok());
    auto pieces = split_documents(text);
    ASSERT_TRUE(pieces);
    std::string joined;
    for (const DocumentText& p : *pieces) {
      joined += p.text;
      ASSERT_TRUE(api::for_each_yaml_document(p.text, "", [&](JsonDoc&& d, size_t i) {
                    EXPECT_EQ(i, 0u);
                    cut.emplace_back(p.index, json::to_json(d));
                  }).ok());
    }
    EXPECT_EQ(cut, whole);
    EXPECT_EQ(text.substr(text.size() - joined.size()), joined);  // nothing lost but a preamble
  }
  EXPECT_FALSE(
      split_documents("\xEF\xBB\xBF"
                      "a: 1\n"));
  EXPECT_FALSE(split_documents("%YAML 1.2\n---\na: 1\n"));
  // A head of comments is left out of the pieces: the whole stream checks its characters.
  EXPECT_FALSE(split_documents("# caf\xF9\n---\na: 1\n"));
  EXPECT_FALSE(split_documents("# a\x01b\n"));
  EXPECT_FALSE(split_documents("\xFF\xFE# UTF-16 with a byte order mark\n---\na: 1\n"));
  EXPECT_TRUE(split_documents("# plain\n\t\r\n---\na: 1\n"));
  EXPECT_FALSE(split_documents("a: 1\n...\n---\nb: 2\n"));
  EXPECT_FALSE(split_documents(std::string("\0a\0:", 4) + " 1\n"));  // UTF-16
}

TEST_F(Loader, OneDocumentEditedInALargeFileIsTheOnlyOneParsedAndApplied) {
  auto file = [](int changed, bool extra) {
    std::string text;
    for (int i = 0; i < 3000; ++i)
      text += cm_yaml("c" + std::to_string(i), i == changed ? "edited" : "v");
    if (extra) text = cm_yaml("first", "v") + text;  // every document's index moves by one
    return text;
  };
  write("all.yaml", file(-1, false));
  ManifestLoader l(store, {dir.string()});
  auto first = l.sync();
  EXPECT_EQ(first.applied, 3000);
  EXPECT_EQ(first.documents_parsed, 3001);  // the empty one after the last "---" too
  auto w = store->watch(*cm, "default",
                        {.resource_version = std::to_string(store->current_resource_version())});
  ASSERT_TRUE(w.ok());
  write("all.yaml", file(1234, false));
  auto r = l.sync();
  EXPECT_EQ(r.files_parsed, 1);
  EXPECT_EQ(r.documents_parsed, 1);
  EXPECT_EQ(r.applied, 1);
  EXPECT_EQ(r.unchanged, 2999);
  auto ev = next(*w, 2000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(meta(ev->object, "name"), "c1234");
  EXPECT_FALSE(next(*w, 50));
  // A document added at the top: one parsed, the others keep their objects with new indices.
  write("all.yaml", file(1234, true) + "- not an object\n");
  r = l.sync();
  EXPECT_EQ(r.documents_parsed, 2);  // the new first one and the last
  EXPECT_EQ(r.applied, 1);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].to_string(), "all.yaml: document 3001: not an object");
  ev = next(*w, 2000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(meta(ev->object, "name"), "first");
  EXPECT_FALSE(next(*w, 50));
}

// Random edits of several files (documents added, changed, removed and moved, Lists, objects
// defined twice, refused objects, unknown kinds, files renamed, removed and broken), each
// followed by a sync of the whole directory or of the files named: the store always equals
// what a fresh loader makes of the files (broken files as they last parsed), and so do the
// problems of the files that parse.
TEST_F(Loader, RandomEditsKeepTheStoreEqualToAFreshLoad) {
  std::mt19937 rng(18);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto random_document = [&]() -> std::string {
    std::string name = "c" + std::to_string(pick(8));
    std::string value = "v" + std::to_string(pick(4));
    switch (pick(10)) {
      case 0:
        return "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, "
               "metadata: {name: " +
               name + "}, data: {k: " + value +
               "}}\n"
               "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c" +
               std::to_string(pick(8)) + "}, data: {k: " + value + "}}\n";
      case 1:
        return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_" + std::to_string(pick(3)) +
               "}\n";
      case 2:
        return "apiVersion: example.com/v1\nkind: Nothing\nmetadata: {name: " + name + "}\n";
      case 3:
        return pick(2) ? "- not an object\n" : "# an empty document\n";
      default:
        return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name +
               "}\ndata: {k: " + value + "}\n";
    }
  };
  const std::vector<std::string> names = {"a.yaml", "b.yaml", "sub/c.yaml", "sub/d.yml"};
  std::map<std::string, std::vector<std::string>> docs;  // the files that parse
  std::map<std::string, std::vector<std::string>> good;  // broken files: as last read
  std::set<std::string> broken;
  std::map<std::string, std::vector<std::string>> seen;  // as the last sync read them
  auto render = [](const std::vector<std::string>& d) {
    std::string text;
    for (size_t i = 0; i < d.size(); ++i) text += (i ? "---\n" : "") + d[i];
    return text;
  };
  fs::path ref_dir = dir.string() + "-ref";
  ManifestLoader l(store, {dir.string()});
  for (int step = 0; step < 300; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    std::set<std::string> touched;
    for (int ops = 1 + pick(3); ops > 0; --ops) {
      const std::string& f = names[static_cast<size_t>(pick(static_cast<int>(names.size())))];
      bool exists = docs.count(f) || broken.count(f);
      int op = exists ? pick(8) : 7;
      touched.insert(f);
      if (op == 5) {  // renamed (or moved between directories)
        const std::string& to = names[static_cast<size_t>(pick(static_cast<int>(names.size())))];
        if (to == f || docs.count(to) || broken.count(to)) continue;
        touched.insert(to);
        fs::create_directories((dir / to).parent_path());
        fs::rename(dir / f, dir / to);
        if (broken.count(f)) {
          broken.erase(f);
          broken.insert(to);
        } else {
          docs[to] = std::move(docs[f]);
          docs.erase(f);
        }
        continue;
      }
      if (op == 6) {  // removed
        fs::remove(dir / f);
        docs.erase(f);
        broken.erase(f);
        continue;
      }
      if (op == 4 && docs.count(f)) {  // broken: an error added to what the loader last read
        write(f, render(seen.count(f) ? seen[f] : docs[f]) +
                     "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n");
        docs.erase(f);
        broken.insert(f);
        continue;
      }
      std::vector<std::string> d = docs.count(f) ? docs[f] : std::vector<std::string>{};
      if (op == 7) d.clear();
      int n = static_cast<int>(d.size());
      if (op == 7) {
        for (int i = pick(5); i > 0; --i) d.push_back(random_document());
      } else if (op == 0 && n > 0) {
        d[static_cast<size_t>(pick(n))] = random_document();
      } else if (op == 1 || n == 0) {
        d.insert(d.begin() + pick(n + 1), random_document());
      } else if (op == 2) {
        d.erase(d.begin() + pick(n));
      } else {
        std::swap(d[static_cast<size_t>(pick(n))], d[static_cast<size_t>(pick(n))]);
      }
      broken.erase(f);
      docs[f] = d;
      write(f, render(d));
    }
    // A broken file's objects stay as the loader last read that path.
    good.clear();
    for (auto& f : broken) {
      if (seen.count(f)) good[f] = seen[f];
    }
    SyncReport got;
    if (pick(2)) {
      got = l.sync();
    } else {
      got = l.sync(std::vector<std::string>(touched.begin(), touched.end()));
    }
    seen = docs;
    seen.insert(good.begin(), good.end());

    fs::remove_all(ref_dir);
    fs::create_directories(ref_dir / "sub");
    for (auto* files : {&docs, &good}) {
      for (auto& [f, d] : *files) std::ofstream(ref_dir / f) << render(d);
    }
    auto fresh_store = std::make_shared<Store>();
    ManifestLoader fresh(fresh_store, {ref_dir.string()});
    auto want = fresh.sync();
    auto objects = [&](Store& s) {
      std::map<std::string, std::string> out;
      auto list = s.list(*cm, "default");
      EXPECT_TRUE(list.ok());
      if (!list.ok()) return out;
      for (auto& o : list->items)
        out[std::string(json::path_string(o->doc(), {"metadata", "name"}))] =
            std::string(json::path_string(o->doc(), {"data", "k"}));
      return out;
    };
    auto dump = [&] {
      std::string out;
      for (auto& [f, d] : docs) out += "== " + f + "\n" + render(d);
      for (auto& [f, d] : good) out += "== broken " + f + "\n" + render(d);
      for (auto& f : touched) out += "touched " + f + "\n";
      return out;
    };
    ASSERT_EQ(objects(*store), objects(*fresh_store)) << dump();
    auto problems = [&](const std::vector<ManifestProblem>& ps) {
      std::vector<std::string> out;
      for (auto& p : ps) {
        if (!broken.count(p.file) || p.document >= 0) out.push_back(p.to_string());
      }
      return out;
    };
    ASSERT_EQ(problems(got.problems), problems(want.problems));
  }
  fs::remove_all(ref_dir);
}

}  // namespace
}  // namespace kop::local
