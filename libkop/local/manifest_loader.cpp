#include "kop/local/manifest_loader.h"

#include <absl/time/time.h>
#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "directory_watch.h"
#include "file_stamp.h"
#include "kop/api/yaml.h"
#include "kop/client/errors.h"

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

// One object of a file.
struct Entry {
  int document = 0;
  int rank = 2;                            // 0 Namespace, 1 CRD, 2 the rest: the order of applying
  std::optional<ManifestLoader::Key> key;  // unset while the store does not know its kind
  uint64_t body_hash = 0;                  // of `body` once the key is set
  // The JSON to apply. Emptied once the store holds it (the file is read again if it is needed
  // later, e.g. when it takes over an object another file defined too).
  std::string body;
  std::vector<ManifestProblem> problems;  // of the last attempt to apply it
};

struct ManifestLoader::FileState {
  FileStamp stamp;
  bool stamp_settled = false;  // see settled(): else the bytes are hashed again at the next look
  uint64_t content_hash = 0;
  bool broken = false;  // the last read did not parse: `entries` are those of the read before
  std::vector<ManifestProblem> problems;  // of the file and of documents that are not objects
  std::vector<Entry> entries;
};

namespace {

int rank_of(std::string_view kind) {
  return kind == "Namespace" ? 0 : kind == "CustomResourceDefinition" ? 1 : 2;
}

// Sets the entry's key and final body when the store knows its kind; else records why not.
void resolve(Entry& e, JsonDoc& obj, const std::string& file, const Store& store,
             const std::string& default_namespace) {
  e.problems.clear();
  auto t = store.type_of(obj);
  if (!t.ok() || !*t) {
    std::string av(json::string_or_empty(&obj, "apiVersion")),
        kind(json::string_or_empty(&obj, "kind"));
    e.problems.push_back({file, e.document, "",
                          !t.ok() && client::is_bad_request(t.status())
                              ? std::string(t.status().message())
                              : "no matches for kind \"" + kind + "\" in version \"" + av + "\""});
    return;
  }
  const ResourceType& type = **t;
  std::string name(json::path_string(obj, {"metadata", "name"}));
  if (name.empty()) {
    e.problems.push_back(
        {file, e.document, "metadata.name", "Required value: name is required in a manifest"});
    return;
  }
  std::string ns;
  if (type.namespaced) {
    ns = std::string(json::path_string(obj, {"metadata", "namespace"}));
    if (ns.empty()) {
      ns = default_namespace;
      json::set_string(json::ensure_object(obj, "metadata", obj.GetAllocator()), "namespace", ns,
                       obj.GetAllocator());
    }
  }
  e.key = ManifestLoader::Key{type.group, type.resource, ns, name};
  e.body = json::to_json(obj);
  e.body_hash = content_hash(e.body);
}

// Parses `text` into state's entries (keys resolved where the store knows the kind). False on
// a YAML error, reported in state.problems.
bool parse_file(std::string_view text, const std::string& file, const Store& store,
                const std::string& default_namespace, ManifestLoader::FileState& state) {
  state.problems.clear();
  state.entries.clear();
  auto add = [&](int document, JsonDoc obj) {
    Entry e;
    e.document = document;
    e.rank = rank_of(json::string_or_empty(&obj, "kind"));
    resolve(e, obj, file, store, default_namespace);
    if (!e.key) e.body = json::to_json(obj);  // resolved again once the kind is known
    state.entries.push_back(std::move(e));
  };
  // Each document becomes its entry (a JSON string) as soon as it is read: a 15 MB file never
  // exists as 30,000 parsed documents at once.
  auto read = api::for_each_yaml_document(text, "", [&](JsonDoc&& doc, size_t index) {
    int d_index = static_cast<int>(index);
    if (!doc.IsObject()) {
      state.problems.push_back({file, d_index, "", "not an object"});
      return;
    }
    if (json::string_or_empty(&doc, "kind") == "List") {
      if (const JsonValue* items = json::find(doc, "items"); items && items->IsArray()) {
        for (auto& item : items->GetArray()) add(d_index, json::clone(item));
      }
      return;
    }
    add(d_index, std::move(doc));
  });
  if (!read.ok()) {
    state.entries.clear();
    state.problems = {{file, -1, "", std::string(read.message())}};
    return false;
  }
  return true;
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

}  // namespace

ManifestLoader::ManifestLoader(std::shared_ptr<Store> store, ManifestLoaderOptions options)
    : store_(std::move(store)), opts_(std::move(options)) {}

ManifestLoader::~ManifestLoader() {
  stop();
}

bool ManifestLoader::ensure_bodies(const std::string& file, FileState& state) {
  auto text = read_file(fs::path(opts_.dir) / file);
  // Changed since it was parsed: the next sync parses it again.
  if (!text || content_hash(*text) != state.content_hash) return false;
  FileState again;
  if (!parse_file(*text, file, *store_, opts_.default_namespace, again) ||
      again.entries.size() != state.entries.size())
    return false;
  for (size_t i = 0; i < state.entries.size(); ++i) {
    Entry& e = state.entries[i];
    if (e.key && e.body.empty() && again.entries[i].body_hash == e.body_hash)
      e.body = std::move(again.entries[i].body);
  }
  return true;
}

SyncReport ManifestLoader::sync() {
  absl::MutexLock l(&mu_);
  SyncReport rep;
  std::error_code ec;
  if (!fs::is_directory(opts_.dir, ec)) {
    rep.problems.push_back({opts_.dir, -1, "", "not a directory"});
    problems_ = rep.problems;
    return rep;
  }
  std::vector<std::string> files;
  dirs_ = {opts_.dir};
  for (auto it = fs::recursive_directory_iterator(opts_.dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory()) dirs_.push_back(it->path().string());
    if (!it->is_regular_file()) continue;
    auto ext = it->path().extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json")
      files.push_back(fs::relative(it->path(), opts_.dir).string());
  }
  std::sort(files.begin(), files.end());

  // Which files changed: stat() first, the bytes' hash second, parsing last.
  bool changed = false;
  int64_t now_ns = realtime_now_ns();
  std::map<std::string, std::unique_ptr<FileState>> now;
  for (auto& f : files) {
    fs::path path = fs::path(opts_.dir) / f;
    std::unique_ptr<FileState> before;
    if (auto it = files_.find(f); it != files_.end()) before = std::move(it->second);
    auto stamp = stamp_of(path.string());
    if (!stamp) {  // removed since listed
      changed |= before != nullptr;
      continue;
    }
    if (before && before->stamp == *stamp && before->stamp_settled) {
      now[f] = std::move(before);
      continue;
    }
    auto text = read_file(path);
    if (!text) {
      changed |= before != nullptr;
      continue;
    }
    rep.files_read++;
    uint64_t hash = content_hash(*text);
    if (before && before->content_hash == hash) {
      before->stamp = *stamp;
      before->stamp_settled = settled(*stamp, now_ns);
      now[f] = std::move(before);
      continue;
    }
    rep.files_parsed++;
    changed = true;
    auto state = std::make_unique<FileState>();
    state->stamp = *stamp;
    state->stamp_settled = settled(*stamp, now_ns);
    state->content_hash = hash;
    if (!parse_file(*text, f, *store_, opts_.default_namespace, *state)) {
      state->broken = true;
      if (before) state->entries = std::move(before->entries);  // its objects stay as they were
    }
    now[f] = std::move(state);
  }
  for (auto& [f, state] : files_) changed |= state != nullptr;  // a file that is gone
  files_ = std::move(now);

  if (changed) {
    // Namespaces, then CRDs, then the rest: each rank may make the next one's kinds known.
    // Both keyed by views of the entries' keys, which stay in place until the sync ends.
    std::set<std::string_view> defined;
    for (int rank = 0; rank <= 2; ++rank) {
      std::map<std::string_view, const std::string*> owner;  // the first file (in path order) wins
      for (auto& [f, state] : files_) {
        for (Entry& e : state->entries) {
          if (e.rank != rank) continue;
          if (!e.key && !state->broken) {
            auto obj = json::parse(e.body);
            if (obj) resolve(e, *obj, f, *store_, opts_.default_namespace);
          }
          if (!e.key) continue;
          auto [it, first] = owner.emplace(e.key->id(), &f);
          defined.insert(e.key->id());
          if (first || state->broken) continue;
          e.problems = {{f, e.document, "", "duplicate of an object defined in " + *it->second}};
        }
      }
      for (auto& [f, state] : files_) {
        if (state->broken) continue;
        for (Entry& e : state->entries) {
          if (e.rank != rank || !e.key || owner[e.key->id()] != &f) continue;
          auto a = applied_.find(*e.key);
          if (a != applied_.end() && a->second.file == f && a->second.body_hash == e.body_hash) {
            e.problems.clear();
            rep.unchanged++;
            continue;
          }
          if (e.body.empty() && !ensure_bodies(f, *state)) continue;
          auto t = store_->registry().any_version(e.key->group(), e.key->resource());
          if (!t) continue;
          auto before = store_->get(*t, e.key->ns(), e.key->name());
          PatchOptions po;
          po.field_manager = opts_.field_manager;
          po.force = true;
          auto r = store_->patch(*t, e.key->ns(), e.key->name(), PatchType::kApply, e.body, po);
          e.problems.clear();
          if (!r.ok()) {
            std::string object = t->kind + " ";
            if (!e.key->ns().empty()) object.append(e.key->ns()).append("/");
            object.append(e.key->name());
            auto causes = client::causes_of(r.status());
            if (causes.empty())
              e.problems.push_back({f, e.document, "", std::string(r.status().message()), object});
            for (auto& c : causes)
              e.problems.push_back({f, e.document, c.field, c.message, object});
            continue;  // the store keeps what it had
          }
          applied_[*e.key] = {f, e.body_hash};
          bool same =
              before.ok() && json::path_string((*before)->doc(), {"metadata", "resourceVersion"}) ==
                                 json::path_string((*r)->doc(), {"metadata", "resourceVersion"});
          (same ? rep.unchanged : rep.applied)++;
        }
      }
    }
    // Objects no file defines any more (a broken file still defines what it held).
    for (auto it = applied_.begin(); it != applied_.end();) {
      if (defined.count(it->first.id())) {
        ++it;
        continue;
      }
      auto t = store_->registry().any_version(it->first.group(), it->first.resource());
      if (!t) {  // its kind is gone (CRD deleted), and its objects with it
        it = applied_.erase(it);
        continue;
      }
      auto r = store_->remove(*t, it->first.ns(), it->first.name());
      if (r.ok()) rep.deleted++;
      if (r.ok() || client::is_not_found(r.status())) {
        it = applied_.erase(it);
      } else {
        ++it;  // tried again at the next change
      }
    }
    // What the store holds needs no copy here.
    for (auto& [f, state] : files_) {
      for (Entry& e : state->entries) {
        if (!e.key || e.body.empty()) continue;
        auto a = applied_.find(*e.key);
        if (a != applied_.end() && a->second.file == f && a->second.body_hash == e.body_hash)
          std::string().swap(e.body);
      }
    }
  } else {
    rep.unchanged = static_cast<int>(applied_.size());
  }
  // Parsing a large file frees hundreds of MB in small blocks that glibc would otherwise keep.
  if (rep.files_parsed > 0) ::malloc_trim(0);

  for (auto& [f, state] : files_) {
    size_t from = rep.problems.size();
    rep.problems.insert(rep.problems.end(), state->problems.begin(), state->problems.end());
    for (const Entry& e : state->entries)
      rep.problems.insert(rep.problems.end(), e.problems.begin(), e.problems.end());
    std::stable_sort(
        rep.problems.begin() + static_cast<std::ptrdiff_t>(from), rep.problems.end(),
        [](const ManifestProblem& a, const ManifestProblem& b) { return a.document < b.document; });
  }
  if (opts_.on_problem) {
    std::set<std::string> before;
    for (const auto& p : problems_) before.insert(p.to_string());
    for (const auto& p : rep.problems) {
      if (!before.count(p.to_string())) opts_.on_problem(p);
    }
  }
  problems_ = rep.problems;
  return rep;
}

void ManifestLoader::run_thread() {
  std::unique_ptr<DirectoryWatch> watch =
      opts_.watch_files ? DirectoryWatch::create() : std::unique_ptr<DirectoryWatch>();
  if (watch) {
    absl::MutexLock l(&stop_mu_);
    wake_ = [w = watch.get()] { w->wake(); };
  }
  for (;;) {
    // Watch before looking, so that a change made while sync() reads is not missed.
    if (watch) watch->add(opts_.dir);
    sync();
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
        if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), opts_.poll)) break;
        continue;
      }
    }
    watch->wait(absl::ToChronoMilliseconds(opts_.recheck), std::chrono::milliseconds(20));
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
