#include "kop/client/rest_mapper.h"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "internal/files.h"
#include "kop/client/errors.h"

namespace kop::client {
namespace {

std::string str(const rapidjson::Value& o, const char* k) {
  if (!o.IsObject()) return {};
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string discovery_path(const api::GroupVersion& gv) {
  return gv.group.empty() ? fmt::format("/api/{}", gv.version)
                          : fmt::format("/apis/{}/{}", gv.group, gv.version);
}

absl::Status no_kind_match(const api::GroupVersionKind& gvk) {
  // meta.NoKindMatchError's text.
  return absl::NotFoundError(fmt::format("no matches for kind \"{}\" in version \"{}\"", gvk.kind,
                                         api::GroupVersion{gvk.group, gvk.version}.to_string()));
}

absl::Status no_resource_match(const api::GroupVersionResource& gvr) {
  return absl::NotFoundError(
      fmt::format("the server doesn't have a resource type \"{}\" in version \"{}\"", gvr.resource,
                  gvr.group_version().to_string()));
}

// Discovery unreachable (as opposed to: reachable, and it says no).
bool unreachable(const absl::Status& s) {
  return !s.ok() && !is_not_found(s);
}

}  // namespace

// ---- built-in ---------------------------------------------------------------------------------

absl::StatusOr<RestMapping> BuiltinRestMapper::mapping(const api::GroupVersionKind& gvk) {
  const api::ResourceInfo* info = api::builtin_kind(gvk.group, gvk.kind);
  if (!info) return no_kind_match(gvk);
  RestMapping m;
  m.kind = info->gvk();
  m.resource = info->gvr();
  if (!gvk.version.empty()) {
    m.kind.version = gvk.version;
    m.resource.version = gvk.version;
  }
  m.namespaced = info->namespaced;
  return m;
}

absl::StatusOr<RestMapping> BuiltinRestMapper::mapping_for_resource(
    const api::GroupVersionResource& gvr) {
  const api::ResourceInfo* info = api::builtin_resource(gvr.group, gvr.resource);
  if (!info) return no_resource_match(gvr);
  RestMapping m;
  m.kind = info->gvk();
  m.resource = info->gvr();
  if (!gvr.version.empty()) {
    m.kind.version = gvr.version;
    m.resource.version = gvr.version;
  }
  m.namespaced = info->namespaced;
  return m;
}

// ---- discovery --------------------------------------------------------------------------------

DiscoveryRestMapper::DiscoveryRestMapper(Fetch fetch) : fetch_(std::move(fetch)) {}

void DiscoveryRestMapper::reset() {
  absl::MutexLock lock(&mu_);
  groups_loaded_ = false;
  preferred_.clear();
  versions_.clear();
  cache_.clear();
}

int DiscoveryRestMapper::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

absl::Status DiscoveryRestMapper::load_groups_locked() {
  std::map<std::string, std::string> preferred;
  std::map<std::string, std::vector<std::string>> versions;
  // /api: {"kind":"APIVersions","versions":["v1"]}; the first is the preferred one.
  ++fetches_;
  auto core = fetch_("/api");
  if (!core.ok()) return core.status();
  rapidjson::Document d;
  d.Parse(core->data(), core->size());
  if (d.HasParseError() || !d.IsObject())
    return absl::DataLossError("discovery /api: not a JSON object");
  if (auto it = d.FindMember("versions"); it != d.MemberEnd() && it->value.IsArray())
    for (const auto& v : it->value.GetArray())
      if (v.IsString()) versions[""].emplace_back(v.GetString(), v.GetStringLength());
  if (!versions[""].empty()) preferred[""] = versions[""].front();
  // /apis: {"kind":"APIGroupList","groups":[{"name","versions":[{"groupVersion","version"}],
  //         "preferredVersion":{...}}]}
  ++fetches_;
  auto groups = fetch_("/apis");
  if (!groups.ok()) return groups.status();
  d.Parse(groups->data(), groups->size());
  if (d.HasParseError() || !d.IsObject())
    return absl::DataLossError("discovery /apis: not a JSON object");
  if (auto it = d.FindMember("groups"); it != d.MemberEnd() && it->value.IsArray()) {
    for (const auto& g : it->value.GetArray()) {
      std::string name = str(g, "name");
      if (auto vs = g.FindMember("versions"); vs != g.MemberEnd() && vs->value.IsArray())
        for (const auto& v : vs->value.GetArray()) versions[name].push_back(str(v, "version"));
      if (auto pv = g.FindMember("preferredVersion"); pv != g.MemberEnd())
        preferred[name] = str(pv->value, "version");
      if (preferred[name].empty() && !versions[name].empty())
        preferred[name] = versions[name].front();
    }
  }
  preferred_ = std::move(preferred);
  versions_ = std::move(versions);
  groups_loaded_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> DiscoveryRestMapper::preferred_version_locked(std::string_view group,
                                                                          bool refresh) {
  if (!groups_loaded_ || refresh) {
    if (auto s = load_groups_locked(); !s.ok()) return s;
  }
  auto it = preferred_.find(std::string(group));
  if (it == preferred_.end() || it->second.empty())
    return absl::NotFoundError(fmt::format("the server has no API group \"{}\"", group));
  return it->second;
}

absl::StatusOr<const DiscoveryRestMapper::GroupVersionInfo*>
DiscoveryRestMapper::load_version_locked(const api::GroupVersion& gv, bool refresh) {
  if (!refresh) {
    auto it = cache_.find(gv);
    if (it != cache_.end()) return &it->second;
  }
  ++fetches_;
  auto body = fetch_(discovery_path(gv));
  if (!body.ok()) return body.status();
  rapidjson::Document d;
  d.Parse(body->data(), body->size());
  if (d.HasParseError() || !d.IsObject())
    return absl::DataLossError(fmt::format("discovery {}: not a JSON object", discovery_path(gv)));
  GroupVersionInfo info;
  if (auto it = d.FindMember("resources"); it != d.MemberEnd() && it->value.IsArray()) {
    for (const auto& r : it->value.GetArray()) {
      std::string name = str(r, "name");
      if (name.empty() || name.find('/') != std::string::npos) continue;  // subresources
      RestMapping m;
      m.resource = {gv.group, gv.version, name};
      // A resource may live in another group-version than the list (rare; "group"/"version").
      std::string kind_group = str(r, "group"), kind_version = str(r, "version");
      m.kind = {kind_group.empty() ? gv.group : kind_group,
                kind_version.empty() ? gv.version : kind_version, str(r, "kind")};
      if (auto ns = r.FindMember("namespaced"); ns != r.MemberEnd() && ns->value.IsBool())
        m.namespaced = ns->value.GetBool();
      info.mappings.push_back(std::move(m));
    }
  }
  auto [it, _] = cache_.insert_or_assign(gv, std::move(info));
  return &it->second;
}

absl::StatusOr<RestMapping> DiscoveryRestMapper::mapping(const api::GroupVersionKind& gvk) {
  absl::MutexLock lock(&mu_);
  for (bool refresh : {false, true}) {
    std::string version = gvk.version;
    if (version.empty()) {
      auto v = preferred_version_locked(gvk.group, refresh);
      if (unreachable(v.status())) return BuiltinRestMapper().mapping(gvk);
      if (!v.ok()) continue;
      version = *v;
    }
    auto info = load_version_locked({gvk.group, version}, refresh);
    if (unreachable(info.status())) return BuiltinRestMapper().mapping(gvk);
    if (!info.ok()) continue;
    for (const RestMapping& m : (*info)->mappings)
      if (m.kind.kind == gvk.kind) return m;
  }
  return no_kind_match(gvk);
}

absl::StatusOr<RestMapping> DiscoveryRestMapper::mapping_for_resource(
    const api::GroupVersionResource& gvr) {
  absl::MutexLock lock(&mu_);
  for (bool refresh : {false, true}) {
    std::string version = gvr.version;
    if (version.empty()) {
      auto v = preferred_version_locked(gvr.group, refresh);
      if (unreachable(v.status())) return BuiltinRestMapper().mapping_for_resource(gvr);
      if (!v.ok()) continue;
      version = *v;
    }
    auto info = load_version_locked({gvr.group, version}, refresh);
    if (unreachable(info.status())) return BuiltinRestMapper().mapping_for_resource(gvr);
    if (!info.ok()) continue;
    for (const RestMapping& m : (*info)->mappings)
      if (m.resource.resource == gvr.resource) return m;
  }
  return no_resource_match(gvr);
}

}  // namespace kop::client
