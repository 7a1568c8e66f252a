// ManifestDir: the directory follower of kop-ingress --manifests (manifest_dir.h).
#include "manifest_dir.h"

#include <rapidjson/document.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "kop/client/errors.h"
#include "kop/log/log.h"

namespace kop::ingress {
namespace {

namespace fs = std::filesystem;

const kop::log::Logger& logger() {
  static const kop::log::Logger l = kop::log::Logger().with_name("manifests");
  return l;
}

bool is_number(const std::string& s, bool& is_int) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return false;
  bool digits = false, dot = false, exp = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9')
      digits = true;
    else if (c == '.' && !dot && !exp)
      dot = true;
    else if ((c == 'e' || c == 'E') && digits && !exp) {
      exp = true;
      if (i + 1 < s.size() && (s[i + 1] == '-' || s[i + 1] == '+')) ++i;
    } else
      return false;
  }
  is_int = !dot && !exp;
  return digits;
}

rapidjson::Value to_json(const YAML::Node& n, rapidjson::Document::AllocatorType& a) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      rapidjson::Value v(rapidjson::kObjectType);
      for (const auto& kv : n)
        v.AddMember(rapidjson::Value(kv.first.Scalar().c_str(), a), to_json(kv.second, a), a);
      return v;
    }
    case YAML::NodeType::Sequence: {
      rapidjson::Value v(rapidjson::kArrayType);
      for (const auto& e : n) v.PushBack(to_json(e, a), a);
      return v;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "!") {  // plain (unquoted) scalars are typed
        if (s == "true" || s == "True" || s == "TRUE") return rapidjson::Value(true);
        if (s == "false" || s == "False" || s == "FALSE") return rapidjson::Value(false);
        if (s == "null" || s == "Null" || s == "~" || s.empty()) return rapidjson::Value();
        bool is_int = false;
        if (is_number(s, is_int)) {
          try {
            if (is_int) return rapidjson::Value(static_cast<int64_t>(std::stoll(s)));
            return rapidjson::Value(std::stod(s));
          } catch (...) {
          }
        }
      }
      return rapidjson::Value(s.c_str(), a);
    }
    default:
      return rapidjson::Value();
  }
}

bool cluster_scoped(std::string_view kind) {
  static const std::set<std::string_view> kinds = {
      "Namespace",        "IngressClass",       "CustomResourceDefinition",
      "ClusterRole",      "ClusterRoleBinding", "Node",
      "PersistentVolume", "StorageClass",       "PriorityClass"};
  return kinds.count(kind) > 0;
}

int rank(std::string_view kind) {
  if (kind == "CustomResourceDefinition") return 0;
  if (kind == "Namespace") return 1;
  return 2;
}

std::string key_of(const api::Object& o) {
  return std::string(o.api_version()) + "|" + std::string(o.kind()) + "|" + std::string(o.ns()) +
         "|" + std::string(o.name());
}

client::ResourceRef ref_of(const api::Object& o, bool with_name) {
  return client::ResourceRef::of(o.gvk(), o.ns(), with_name ? o.name() : std::string_view());
}

}  // namespace

absl::StatusOr<std::vector<api::Object>> parse_manifests(std::string_view text) {
  std::vector<api::Object> out;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  for (const YAML::Node& doc : docs) {
    if (!doc.IsMap()) continue;
    rapidjson::Document d;
    rapidjson::Value v = to_json(doc, d.GetAllocator());
    d.CopyFrom(v, d.GetAllocator());
    auto obj = api::Object::from_document(std::move(d));
    if (!obj.ok()) return obj.status();
    if (obj->kind() == "List" || (obj->kind().size() > 4 && obj->kind().ends_with("List"))) {
      if (const rapidjson::Value* items = obj->at("/items"); items && items->IsArray())
        for (const auto& item : items->GetArray()) {
          auto o = api::Object::from_value(item);
          if (o.ok()) out.push_back(std::move(*o));
        }
      continue;
    }
    out.push_back(std::move(*obj));
  }
  return out;
}

ManifestDir::ManifestDir(client::Client& client, ManifestDirOptions options)
    : client_(client), options_(std::move(options)) {}

ManifestDir::~ManifestDir() {
  stop();
}

std::string ManifestDir::signature() const {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    std::ostringstream s;
    s << e.path().filename().string() << ":" << st.st_size << ":" << st.st_mtim.tv_sec << "."
      << st.st_mtim.tv_nsec;
    parts.push_back(s.str());
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += p + "\n";
  return out;
}

absl::Status ManifestDir::apply(const api::Object& object, const std::string& file) {
  auto current = client_.get(ref_of(object, true));
  if (current.ok()) {
    api::Object next(object);
    next.set_resource_version((*current)->resource_version());
    auto updated = client_.update(ref_of(object, true), next);
    if (!updated.ok()) return updated.status();
    return absl::OkStatus();
  }
  if (!client::is_not_found(current.status())) return current.status();
  auto created = client_.create(ref_of(object, false), object);
  if (!created.ok()) return created.status();
  logger().info("created", "object", object.key(), "kind", object.kind(), "file", file);
  return absl::OkStatus();
}

absl::Status ManifestDir::sync() {
  absl::MutexLock lock(&mu_);
  std::error_code ec;
  if (!fs::is_directory(options_.dir, ec))
    return absl::NotFoundError("manifests directory " + options_.dir + " does not exist");
  last_signature_ = signature();
  std::vector<std::pair<std::string, api::Object>> objects;  // (file, object)
  absl::Status first_error;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = parse_manifests(ss.str());
    if (!parsed.ok()) {
      logger().error(parsed.status(), "cannot parse manifest file", "file", path.string());
      if (first_error.ok()) first_error = parsed.status();
      continue;
    }
    for (auto& o : *parsed) {
      if (o.namespace_().empty() && !cluster_scoped(o.kind())) o.set_namespace("default");
      objects.emplace_back(path.filename().string(), std::move(o));
    }
  }
  std::stable_sort(objects.begin(), objects.end(), [](const auto& a, const auto& b) {
    return rank(a.second.kind()) < rank(b.second.kind());
  });
  std::map<std::string, api::Object> now;
  for (auto& [file, o] : objects) {
    std::string key = key_of(o);
    auto prev = applied_.find(key);
    if (prev == applied_.end() || !(prev->second == o)) {
      absl::Status s = apply(o, file);
      if (!s.ok()) {
        logger().error(s, "cannot apply manifest", "file", file, "kind", o.kind(), "object",
                       o.key());
        if (first_error.ok()) first_error = s;
        continue;
      }
    }
    now.emplace(key, std::move(o));
  }
  // Deletions in reverse rank order (custom resources before their definitions).
  std::vector<const api::Object*> gone;
  for (const auto& [key, o] : applied_)
    if (!now.count(key)) gone.push_back(&o);
  std::stable_sort(gone.begin(), gone.end(), [](const api::Object* a, const api::Object* b) {
    return rank(a->kind()) > rank(b->kind());
  });
  for (const api::Object* o : gone) {
    auto s = client_.remove(ref_of(*o, true));
    if (!s.ok() && !client::is_not_found(s.status()))
      logger().error(s.status(), "cannot delete", "kind", o->kind(), "object", o->key());
    else
      logger().info("deleted", "kind", o->kind(), "object", o->key());
  }
  applied_ = std::move(now);
  return first_error;
}

void ManifestDir::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(
        absl::Milliseconds(static_cast<int64_t>(options_.poll.count())))) {
      {
        absl::MutexLock lock(&mu_);
        if (signature() == last_signature_) continue;
      }
      absl::Status s = sync();
      if (!s.ok()) logger().warn("manifests applied with errors", "error", s);
    }
  });
}

void ManifestDir::stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kop::ingress
