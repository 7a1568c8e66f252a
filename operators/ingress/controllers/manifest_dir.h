// kop::ingress::ManifestDir: follows a directory of YAML/JSON manifests into a kop::Client
// (kop-ingress --manifests DIR feeds kop::local with it).
//
// Every *.yaml, *.yml and *.json file directly in the directory is read (multi-document YAML,
// or a JSON object / List); objects are created, or updated when they changed, in this order:
// CustomResourceDefinitions, Namespaces, then the rest (so custom resources and namespaced
// objects find their definition and namespace). An object that disappears from the files is
// deleted. A namespaced object without metadata.namespace goes to "default". A file or object
// that fails (parse error, validation by the store) is logged with its file and skipped; the
// others are applied. The directory is polled (names, sizes, mtimes); a change re-applies it.
// libkop/local will own a manifest loader; this file is kop-ingress' own minimal follower until
// then (docs/ingress.md).
// Threading: sync() from one thread at a time; start()/stop() from the owning thread; the poll
// loop runs on its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "kop/api/object.h"
#include "kop/client/client.h"

namespace kop::ingress {

// Parses a YAML stream (typed like sigs.k8s.io/yaml: quoted scalars stay strings; true/false,
// integers, floats and null are typed) into objects. `Kind: List` items are flattened.
absl::StatusOr<std::vector<api::Object>> parse_manifests(std::string_view text);

struct ManifestDirOptions {
  std::string dir;                      // required
  std::chrono::milliseconds poll{500};  // how often the directory is checked; default 500 ms
};

class ManifestDir {
 public:
  ManifestDir(client::Client& client, ManifestDirOptions options);
  ~ManifestDir();

  // Reads the directory and applies it now. Returns the first error (objects that could be
  // applied are applied regardless); NotFound when the directory does not exist.
  absl::Status sync();
  void start();  // polls on a thread; sync() whenever the directory's signature changes
  void stop();

 private:
  std::string signature() const;
  absl::Status apply(const api::Object& object, const std::string& file);

  client::Client& client_;
  ManifestDirOptions options_;
  absl::Mutex mu_;
  // "apiVersion|kind|namespace|name" -> object last applied from the files.
  std::map<std::string, api::Object> applied_ ABSL_GUARDED_BY(mu_);
  std::string last_signature_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kop::ingress
