// kop::local::ManifestLoader — keeps a kop::local::Store in step with a directory of YAML/JSON
// manifests (multi-document files, searched recursively: *.yaml, *.yml, *.json).
//
// Each sync() makes the store match the directory: documents are applied with server-side apply
// (field manager "kop-local-manifests", forced, so the files win), objects that came from a file
// and are no longer in any file are deleted. Namespaces and CustomResourceDefinitions go first so
// what depends on them can follow in the same pass. A bad file (YAML error) or a bad object
// (unknown kind, missing name, rejected by validation) is reported with file, document index and
// field, and touches nothing: the objects of good files are applied, and a broken file keeps the
// documents of its last good read (its objects stay; it still defines them). So does a file that
// is there but cannot be read (EACCES, EIO; a directory or a FIFO in its place), reported with
// the errno's text until it is read again; a file removed (ENOENT, which a symbolic link to a
// removed file gives too) takes its objects with it. An object defined twice is taken from the
// first file in path order (then document order); the later definition is reported. A broken
// file that comes first for an object another file held takes it over when its document can be
// read from the broken text alone (a YAML error elsewhere in the file), else the store keeps
// what it had until the file parses.
//
// Work is proportional to what changed, so an unchanged directory costs nothing:
//  - a file whose stat() identity (inode, size, mtime, ctime) is unchanged is not read; one whose
//    identity changed is read and hashed, and parsed only when its bytes changed; with inotify,
//    only the files named by its events are looked at (the whole directory at start, every
//    `recheck`, and when a directory comes or goes);
//  - of a changed file, only the documents whose text changed are parsed (a document's text is
//    compared by hash with the last read), only the objects whose content changed are applied,
//    and the objects it no longer holds are deleted; objects of other files are not visited;
//  - a rejected object (unknown kind, validation error) is tried again at every sync (its CRD or
//    Namespace may have arrived).
// The loader remembers what it applied, not what the store holds: an object changed or deleted
// through the API keeps that state until its file changes (as with kubectl apply).
//
// Threading: sync() may be called from any thread (calls are serialised). start() follows the
// directory on a background thread until stop() or destruction: woken by inotify where
// available (each change is loaded within milliseconds, and nothing runs while nothing
// changes), else by polling every `poll`.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kop/local/store.h"

namespace kop::local {

struct ManifestProblem {
  std::string file;   // path relative to the directory
  int document = -1;  // 0-based document index in the file; -1 for the whole file
  std::string field;  // e.g. "spec.rules[0].http.paths[0].pathType"; empty when not about a field
  std::string message;
  std::string object{};  // "Ingress default/web" once the document's kind is known; else empty
  // "file.yaml: document 2 (Ingress default/web): spec.x: message"
  std::string to_string() const;
};

struct ManifestLoaderOptions {
  std::string dir{};  // the directory to mirror (required)
  // start() without inotify (or with watch_files false): how often to look at the files.
  // Defaults to 500 ms.
  absl::Duration poll = absl::Milliseconds(500);
  // start() with inotify: how often to look at the files' stat() anyway, for file systems whose
  // changes inotify does not see (NFS, FUSE). Defaults to 60 s.
  absl::Duration recheck = absl::Seconds(60);
  // start(): use inotify when the kernel offers it. Defaults to true.
  bool watch_files = true;
  std::string field_manager = "kop-local-manifests";  // Defaults to "kop-local-manifests".
  std::string default_namespace =
      "default";  // for namespaced objects without one. Defaults to "default".
  // Called, on the thread running sync(), once for each problem a sync finds that the sync
  // before did not have (a refused apply keeps the store's old object, so the refusal must be
  // seen: kop-ingress logs it). A problem that stays is not reported again. Defaults to none.
  std::function<void(const ManifestProblem&)> on_problem{};
};

struct SyncReport {
  int applied = 0;           // objects created or changed
  int deleted = 0;           // objects deleted
  int unchanged = 0;         // objects the store holds from the files that this sync did not change
  int files_read = 0;        // files whose bytes were read (their stat() identity changed)
  int files_parsed = 0;      // files parsed (their bytes changed)
  int documents_parsed = 0;  // of those files, the documents parsed (their text changed)
  // Every current problem, in path and document order (those of unchanged files included).
  std::vector<ManifestProblem> problems;
};

class ManifestLoader {
 public:
  ManifestLoader(std::shared_ptr<Store> store, ManifestLoaderOptions options);
  ~ManifestLoader();

  SyncReport sync();
  // Looks at these files only (paths relative to dir, each created, changed, renamed or
  // removed), as the inotify thread does with the names its events carry.
  SyncReport sync(const std::vector<std::string>& changed_files);
  void start();
  void stop();
  // Problems of the last sync.
  std::vector<ManifestProblem> problems() const;

  // An object's identity, kept as one string "group/resource/namespace/name" (none of the four
  // holds a '/'; the group and the namespace may be empty): the loader keeps one per object (its
  // files' entries point at it), and four strings each made most of its 14 MB of bookkeeping
  // at 10k apps (30,000 objects).
  class Key {
   public:
    Key(std::string_view group, std::string_view resource, std::string_view ns,
        std::string_view name);
    std::string_view group() const { return part(0); }
    std::string_view resource() const { return part(1); }
    std::string_view ns() const { return part(2); }
    std::string_view name() const { return part(3); }
    // The whole key: what the loader's maps compare.
    const std::string& id() const { return id_; }
    auto operator<=>(const Key&) const = default;

   private:
    std::string_view part(int index) const;
    std::string id_;
  };
  struct FileState;  // one file's identity and documents (defined in manifest_state.h)
  struct Doc;        // one document of a file: its text's hash and its objects
  struct Entry;      // one object of a document

 private:
  struct Applied {
    std::string file;    // the file the store's object came from
    uint64_t body_hash;  // of the JSON applied
  };
  // An object some file defines or the store holds from the files.
  struct Object {
    std::optional<Applied> applied;  // what the store holds from the files
    // The entries defining it, in path and document order once evaluated: the first wins.
    std::vector<Entry*> definers;
    bool queued = false;  // in queue_
  };
  using Objects = std::map<Key, Object>;
  struct Sync;  // one sync's report and the files whose problems changed

  void run_thread();
  // only: paths relative to dir that may have changed (from inotify); null: every file.
  SyncReport sync_locked(const std::vector<std::string>* only) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void look_at(const std::string& file, bool named, Sync& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FileState& add_file(const std::string& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void unreadable(FileState& state, const std::string& why, Sync& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void update_documents(FileState& state, std::string_view text, Sync& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void remove_file(std::map<std::string, std::unique_ptr<FileState>>::iterator it, Sync& s)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void link(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void unlink(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void queue(Objects::value_type& o) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void evaluate_changed(Sync& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void evaluate(Objects::value_type& o, Sync& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void remove_undefined(Sync& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ensure_body(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Store> store_;
  ManifestLoaderOptions opts_;
  mutable absl::Mutex mu_;
  // By path relative to dir, in path order.
  std::map<std::string, std::unique_ptr<FileState>> files_ ABSL_GUARDED_BY(mu_);
  Objects objects_ ABSL_GUARDED_BY(mu_);
  int held_ ABSL_GUARDED_BY(mu_) = 0;  // objects_ with `applied`
  // Objects to evaluate at this sync (each once: Object::queued).
  std::vector<Objects::value_type*> queue_ ABSL_GUARDED_BY(mu_);
  // Entries whose kind was unknown or whose apply was refused: tried again at each sync.
  std::set<Entry*> pending_ ABSL_GUARDED_BY(mu_);
  // Objects no file defines whose delete failed: tried again at each sync.
  std::set<Objects::value_type*> undeleted_ ABSL_GUARDED_BY(mu_);
  // Files with problems (their FileState keeps them), so a sync reports without a walk.
  std::set<std::string> problem_files_ ABSL_GUARDED_BY(mu_);
  // Directories seen by the last sync of the whole directory (to watch).
  std::vector<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  std::vector<ManifestProblem> problems_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  // Interrupts the thread's wait (set while it runs).
  std::function<void()> wake_ ABSL_GUARDED_BY(stop_mu_);
};

}  // namespace kop::local
