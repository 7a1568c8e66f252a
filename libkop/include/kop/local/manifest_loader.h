// kop::local::ManifestLoader — keeps a kop::local::Store in step with a directory of YAML/JSON
// manifests (multi-document files, searched recursively: *.yaml, *.yml, *.json).
//
// Each sync() reads the directory and makes the store match it: documents are applied with
// server-side apply (field manager "kop-local-manifests", forced, so the files win), objects that
// came from a file and are no longer in any file are deleted. Namespaces and
// CustomResourceDefinitions go first so what depends on them can follow in the same pass. A bad
// file (YAML error) or a bad object (unknown kind, missing name, rejected by validation) is
// reported with file, document index and field, and touches nothing: the objects of good files
// are applied, and the objects a broken file held before are kept as they were.
//
// Threading: sync() may be called from any thread (calls are serialised). start() runs sync()
// every `poll` on a background thread until stop() or destruction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kop/local/store.h"

namespace kop::local {

struct ManifestLoaderOptions {
  std::string dir;                      // the directory to mirror (required)
  std::chrono::milliseconds poll{500};  // start(): how often to re-read. Defaults to 500 ms.
  std::string field_manager = "kop-local-manifests";  // Defaults to "kop-local-manifests".
  std::string default_namespace =
      "default";  // for namespaced objects without one. Defaults to "default".
};

struct ManifestProblem {
  std::string file;   // path relative to the directory
  int document = -1;  // 0-based document index in the file; -1 for the whole file
  std::string field;  // e.g. "spec.rules[0].http.paths[0].pathType"; empty when not about a field
  std::string message;
  std::string to_string() const;  // "file.yaml: document 2: spec.x: message"
};

struct SyncReport {
  int applied = 0;  // objects created or changed
  int deleted = 0;
  int unchanged = 0;
  std::vector<ManifestProblem> problems;
};

class ManifestLoader {
 public:
  ManifestLoader(std::shared_ptr<Store> store, ManifestLoaderOptions options);
  ~ManifestLoader();

  SyncReport sync();
  void start();
  void stop();
  // Problems of the last sync.
  std::vector<ManifestProblem> problems() const;

 private:
  struct Key {
    std::string group, resource, ns, name;
    auto operator<=>(const Key&) const = default;
  };
  std::shared_ptr<Store> store_;
  ManifestLoaderOptions opts_;
  mutable std::mutex mu_;
  std::map<Key, std::string> owned_;  // objects this loader applied -> file they came from
  std::vector<ManifestProblem> problems_;
  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace kop::local
