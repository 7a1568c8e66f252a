#include "kop/local/manifest_loader.h"

#include <absl/time/time.h>
#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "directory_watch.h"
#include "file_read.h"
#include "file_stamp.h"
#include "manifest_state.h"

namespace kop::local {

namespace fs = std::filesystem;

std::string ManifestProblem::to_string() const {
  std::string s = file;
  if (document >= 0) s += ": document " + std::to_string(document);
  if (!object.empty()) s += " (" + object + ")";
  if (!field.empty()) s += ": " + field;
  s += ": " + message;
  return s;
}

ManifestLoader::Key::Key(std::string_view group, std::string_view resource, std::string_view ns,
                         std::string_view name) {
  id_.reserve(group.size() + resource.size() + ns.size() + name.size() + 3);
  id_.append(group).append("/").append(resource).append("/").append(ns).append("/").append(name);
}

std::string_view ManifestLoader::Key::part(int index) const {
  std::string_view rest = id_;
  for (int i = 0; i < index; ++i) rest.remove_prefix(std::min(rest.size(), rest.find('/') + 1));
  return rest.substr(0, index == 3 ? rest.size() : rest.find('/'));
}

namespace {

bool is_manifest(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

ManifestLoader::ManifestLoader(std::shared_ptr<Store> store, ManifestLoaderOptions options)
    : store_(std::move(store)), opts_(std::move(options)) {}

ManifestLoader::~ManifestLoader() {
  stop();
}

void ManifestLoader::remove_file(std::map<std::string, std::unique_ptr<FileState>>::iterator it,
                                 Sync& s) {
  for (auto& d : it->second->docs) {
    for (Entry& e : d->entries) unlink(e);
  }
  problem_files_.erase(it->first);
  s.problems_changed.erase(
      std::remove(s.problems_changed.begin(), s.problems_changed.end(), it->second.get()),
      s.problems_changed.end());
  files_.erase(it);
}

void ManifestLoader::look_at(const std::string& file, bool named, Sync& s) {
  fs::path path = fs::path(opts_.dir) / file;
  if (named && !is_manifest(path)) return;
  auto it = files_.find(file);
  int stat_error = 0;
  auto stamp = stamp_of(path.string(), &stat_error);
  if (stamp && it != files_.end() && !named && it->second->stamp == *stamp &&
      it->second->stamp_settled)
    return;
  FileRead read = stamp ? read_file(path) : read_error(stat_error);
  if (read.gone()) {  // its objects go
    if (it != files_.end()) {
      remove_file(it, s);
      s.changed = true;
    }
    return;
  }
  if (!read.text) {
    // A directory that was never a file here is walked for its files, not reported.
    if (it == files_.end() && read.error == EISDIR) return;
    unreadable(it != files_.end() ? *it->second : add_file(file), read.why, s);
    return;
  }
  const std::string& text = *read.text;
  s.rep.files_read++;
  uint64_t hash = content_hash(text);
  bool now_settled = settled(*stamp, realtime_now_ns());
  if (it != files_.end() && !it->second->unreadable && it->second->content_hash == hash) {
    it->second->stamp = *stamp;
    it->second->stamp_settled = now_settled;
    return;
  }
  s.rep.files_parsed++;
  s.changed = true;
  FileState& state = it != files_.end() ? *it->second : add_file(file);
  state.stamp = *stamp;
  state.stamp_settled = now_settled;
  state.content_hash = hash;
  state.unreadable = false;
  update_documents(state, text, s);
}

ManifestLoader::FileState& ManifestLoader::add_file(const std::string& file) {
  auto it = files_.emplace(file, std::make_unique<FileState>()).first;
  it->second->path = &it->first;
  return *it->second;
}

// A file that is there but cannot be read (EACCES, EIO, a directory or a FIFO in its place) is
// reported, not taken for removed: its objects stay as they were until it is read or removed.
void ManifestLoader::unreadable(FileState& state, const std::string& why, Sync& s) {
  state.unreadable = true;
  state.stamp_settled = false;  // read again at every look: an EIO may pass
  state.problems = {{*state.path, -1, "", "cannot read the file: " + why}};
  s.touch(&state);
}

SyncReport ManifestLoader::sync() {
  absl::MutexLock l(&mu_);
  return sync_locked(nullptr);
}

SyncReport ManifestLoader::sync(const std::vector<std::string>& changed_files) {
  absl::MutexLock l(&mu_);
  return sync_locked(&changed_files);
}

SyncReport ManifestLoader::sync_locked(const std::vector<std::string>* only) {
  Sync s;
  std::error_code ec;
  if (!fs::is_directory(opts_.dir, ec)) {
    s.rep.problems.push_back({opts_.dir, -1, "", "not a directory"});
    problems_ = s.rep.problems;
    return std::move(s.rep);
  }
  if (only) {
    for (const std::string& f : *only) look_at(f, true, s);
  } else {
    std::vector<std::string> files;
    dirs_ = {opts_.dir};
    for (auto it = fs::recursive_directory_iterator(opts_.dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;  // a type that cannot be read lists the entry: look_at() says why
      const bool directory = it->is_directory(type_ec);
      if (directory) dirs_.push_back(it->path().string());
      // Not only regular files: a FIFO named like a manifest is reported, not skipped.
      if (!directory && is_manifest(it->path()))
        files.push_back(fs::relative(it->path(), opts_.dir).string());
    }
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) look_at(f, false, s);
    // A file no longer listed is gone, or something the walk does not list is in its place (a
    // directory), or the walk stopped early (a directory it cannot read): look_at() tells.
    for (auto it = files_.begin(); it != files_.end();) {
      auto next = std::next(it);
      if (!std::binary_search(files.begin(), files.end(), it->first)) look_at(it->first, false, s);
      it = next;
    }
  }

  if (s.changed) evaluate_changed(s);
  s.rep.unchanged = std::max(0, held_ - s.rep.applied);
  // Parsing a large file frees hundreds of MB in small blocks that glibc would otherwise keep;
  // after a few documents, trimming would cost more than it returns.
  if (s.parsed_bytes >= (size_t{1} << 20)) ::malloc_trim(0);

  for (FileState* f : s.problems_changed) {
    f->problems_changed = false;
    f->reported = f->problems;
    for (auto& d : f->docs) {
      f->reported.insert(f->reported.end(), d->problems.begin(), d->problems.end());
      for (const Entry& e : d->entries)
        f->reported.insert(f->reported.end(), e.problems.begin(), e.problems.end());
    }
    std::stable_sort(
        f->reported.begin(), f->reported.end(),
        [](const ManifestProblem& a, const ManifestProblem& b) { return a.document < b.document; });
    if (f->reported.empty()) {
      problem_files_.erase(*f->path);
    } else {
      problem_files_.insert(*f->path);
    }
  }
  for (const std::string& f : problem_files_) {
    const auto& reported = files_.at(f)->reported;
    s.rep.problems.insert(s.rep.problems.end(), reported.begin(), reported.end());
  }
  if (opts_.on_problem) {
    std::set<std::string> was;
    for (const auto& p : problems_) was.insert(p.to_string());
    for (const auto& p : s.rep.problems) {
      if (!was.count(p.to_string())) opts_.on_problem(p);
    }
  }
  problems_ = s.rep.problems;
  return std::move(s.rep);
}

void ManifestLoader::run_thread() {
  std::unique_ptr<DirectoryWatch> watch =
      opts_.watch_files ? DirectoryWatch::create() : std::unique_ptr<DirectoryWatch>();
  if (watch) {
    absl::MutexLock l(&stop_mu_);
    wake_ = [w = watch.get()] { w->wake(); };
  }
  std::optional<std::vector<std::string>> named;  // unset: look at every file
  for (;;) {
    // Watch before looking, so that a change made while sync() reads is not missed.
    if (watch) watch->add(opts_.dir);
    {
      absl::MutexLock l(&mu_);
      sync_locked(named ? &*named : nullptr);
    }
    bool watching = false;
    if (watch) {
      std::vector<std::string> dirs;
      {
        absl::MutexLock l(&mu_);
        dirs = dirs_;
      }
      watching = watch->add(opts_.dir);
      for (auto& d : dirs) watch->add(d);
    }
    {
      absl::MutexLock l(&stop_mu_);
      if (stopping_) break;
      if (!watching) {
        named.reset();
        if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), opts_.poll)) break;
        continue;
      }
    }
    // A burst of events (an editor's write and rename) settles for 2 ms: one sync, and the
    // latency of a change stays far below the build's.
    DirectoryWatch::Changes changes;
    bool changed = watch->wait(absl::ToChronoMilliseconds(opts_.recheck),
                               std::chrono::milliseconds(2), changes);
    named.reset();
    if (changed && !changes.everything) {
      named.emplace();
      std::error_code ec;
      for (const std::string& p : changes.paths) {
        fs::path path(p);
        if (!is_manifest(path)) {
          // A link swapped (a mounted ConfigMap's "..data") changes files named otherwise.
          if (fs::is_symlink(path, ec)) {
            named.reset();
            break;
          }
          continue;
        }
        named->push_back(fs::relative(path, opts_.dir, ec).string());
      }
      if (named) {
        std::sort(named->begin(), named->end());
        named->erase(std::unique(named->begin(), named->end()), named->end());
      }
    }
    absl::MutexLock l(&stop_mu_);
    if (stopping_) break;
  }
  absl::MutexLock l(&stop_mu_);
  wake_ = nullptr;
}

void ManifestLoader::start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock l(&stop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run_thread(); });
}

void ManifestLoader::stop() {
  {
    absl::MutexLock l(&stop_mu_);
    stopping_ = true;
    if (wake_) wake_();
  }  // unlocking wakes AwaitWithTimeout in run_thread()
  if (thread_.joinable()) thread_.join();
}

std::vector<ManifestProblem> ManifestLoader::problems() const {
  absl::MutexLock l(&mu_);
  return problems_;
}

}  // namespace kop::local
