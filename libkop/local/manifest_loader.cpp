#include "kop/local/manifest_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "yaml.h"

namespace kop::local {

namespace fs = std::filesystem;

std::string ManifestProblem::to_string() const {
  std::string s = file;
  if (document >= 0) s += ": document " + std::to_string(document);
  if (!field.empty()) s += ": " + field;
  s += ": " + message;
  return s;
}

ManifestLoader::ManifestLoader(std::shared_ptr<Store> store, ManifestLoaderOptions options)
    : store_(std::move(store)), opts_(std::move(options)) {}

ManifestLoader::~ManifestLoader() {
  stop();
}

namespace {

struct Doc {
  std::string file;
  int index;
  JsonDoc obj;
  int rank;  // 0 namespaces, 1 CRDs, 2 the rest
};

}  // namespace

SyncReport ManifestLoader::sync() {
  std::lock_guard<std::mutex> l(mu_);
  SyncReport rep;
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(opts_.dir, ec)) {
    rep.problems.push_back({opts_.dir, -1, "", "not a directory"});
    problems_ = rep.problems;
    return rep;
  }
  for (auto it = fs::recursive_directory_iterator(opts_.dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    auto ext = it->path().extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json")
      files.push_back(fs::relative(it->path(), opts_.dir).string());
  }
  std::sort(files.begin(), files.end());
  std::vector<Doc> docs;
  std::set<std::string> broken_files;
  for (auto& f : files) {
    std::ifstream in(fs::path(opts_.dir) / f);
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<yaml::Document> parsed;
    std::string err;
    if (!yaml::parse_all(ss.str(), parsed, err)) {
      rep.problems.push_back({f, -1, "", err});
      broken_files.insert(f);
      continue;
    }
    for (auto& d : parsed) {
      if (d.doc.IsNull()) continue;  // empty document (e.g. a trailing ---)
      if (!d.doc.IsObject()) {
        rep.problems.push_back({f, d.index, "", "not an object"});
        continue;
      }
      std::string_view kind = json::get_string(d.doc, "kind");
      if (kind == "List") {
        if (const JsonValue* items = json::get(d.doc, "items"); items && items->IsArray()) {
          for (auto& item : items->GetArray()) {
            docs.push_back({f, d.index, json::clone(item), 2});
          }
        }
        continue;
      }
      int rank = kind == "Namespace" ? 0 : kind == "CustomResourceDefinition" ? 1 : 2;
      docs.push_back({f, d.index, std::move(d.doc), rank});
    }
  }
  std::stable_sort(docs.begin(), docs.end(),
                   [](const Doc& a, const Doc& b) { return a.rank < b.rank; });
  std::map<Key, std::string> desired;
  for (auto& d : docs) {
    auto t = store_->type_of(d.obj);
    std::string_view av = json::get_string(d.obj, "apiVersion");
    std::string_view kind = json::get_string(d.obj, "kind");
    if (!t.ok() || !*t) {
      std::string msg = !t.ok() && t.status().reason == "BadRequest"
                            ? t.status().message
                            : "no matches for kind \"" + std::string(kind) + "\" in version \"" +
                                  std::string(av) + "\"";
      rep.problems.push_back({d.file, d.index, "", msg});
      continue;
    }
    const ResourceType& type = **t;
    std::string name(json::path_string(d.obj, {"metadata", "name"}));
    if (name.empty()) {
      rep.problems.push_back(
          {d.file, d.index, "metadata.name", "Required value: name is required in a manifest"});
      continue;
    }
    std::string ns;
    if (type.namespaced) {
      ns = std::string(json::path_string(d.obj, {"metadata", "namespace"}));
      if (ns.empty()) {
        ns = opts_.default_namespace;
        json::set_string(json::ensure_object(d.obj, "metadata", d.obj.GetAllocator()), "namespace",
                         ns, d.obj.GetAllocator());
      }
    }
    Key key{type.group, type.resource, ns, name};
    if (auto it = desired.find(key); it != desired.end()) {
      rep.problems.push_back(
          {d.file, d.index, "", "duplicate of an object defined in " + it->second});
      continue;
    }
    auto before = store_->get(type, ns, name);
    PatchOptions po;
    po.field_manager = opts_.field_manager;
    po.force = true;
    auto r = store_->patch(type, ns, name, PatchType::Apply, json::dump(d.obj), po);
    if (!r) {
      const ApiStatus& s = r.status();
      if (s.causes.empty()) {
        rep.problems.push_back({d.file, d.index, "", s.message});
      } else {
        for (auto& c : s.causes) rep.problems.push_back({d.file, d.index, c.field, c.message});
      }
      // A rejected object keeps whatever the store had (and stays owned if it was).
      if (owned_.count(key)) desired[key] = d.file;
      continue;
    }
    desired[key] = d.file;
    if (before.ok() && json::path_string((*before)->doc(), {"metadata", "resourceVersion"}) ==
                           json::path_string((*r)->doc(), {"metadata", "resourceVersion"})) {
      rep.unchanged++;
    } else {
      rep.applied++;
    }
  }
  // Objects from files that are gone or no longer hold them; a broken file keeps its objects.
  for (auto& [key, file] : owned_) {
    if (desired.count(key)) continue;
    if (broken_files.count(file)) {
      desired[key] = file;
      continue;
    }
    auto t = store_->registry().any_version(key.group, key.resource);
    if (!t) continue;
    auto r = store_->remove(*t, key.ns, key.name);
    if (r.ok()) rep.deleted++;
  }
  owned_ = std::move(desired);
  problems_ = rep.problems;
  return rep;
}

void ManifestLoader::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    for (;;) {
      sync();
      std::unique_lock<std::mutex> l(stop_mu_);
      if (stop_cv_.wait_for(l, opts_.poll, [this] { return stopping_; })) return;
    }
  });
}

void ManifestLoader::stop() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<ManifestProblem> ManifestLoader::problems() const {
  std::lock_guard<std::mutex> l(mu_);
  return problems_;
}

}  // namespace kop::local
