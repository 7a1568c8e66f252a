#include "kop/manager/helpers.h"

#include <optional>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "kop/client/errors.h"

namespace kop::manager {
namespace {

using Value = rapidjson::Value;

std::string to_json(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string quote(std::string_view s) {
  Value v(rapidjson::StringRef(s.data(), s.size()));
  return to_json(v);
}

// Appends the merge patch of from -> to (both objects) as members to `out` ("" when equal).
std::string diff_members(const Value& from, const Value& to) {
  std::string out;
  auto add = [&out](std::string_view key, const std::string& value) {
    if (!out.empty()) out += ',';
    out += quote(key) + ":" + value;
  };
  for (auto it = to.MemberBegin(); it != to.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    auto old = from.FindMember(it->name);
    if (old == from.MemberEnd()) {
      add(key, to_json(it->value));
    } else if (old->value.IsObject() && it->value.IsObject()) {
      std::string inner = diff_members(old->value, it->value);
      if (!inner.empty()) add(key, "{" + inner + "}");
    } else if (old->value != it->value) {
      add(key, to_json(it->value));
    }
  }
  for (auto it = from.MemberBegin(); it != from.MemberEnd(); ++it) {
    if (!to.HasMember(it->name)) add({it->name.GetString(), it->name.GetStringLength()}, "null");
  }
  return out;
}

client::ResourceRef ref_of(const api::Object& obj) {
  return client::ResourceRef::of(obj);
}

absl::StatusOr<api::ObjectPtr> write_finalizers(client::Client& client, const api::Object& obj,
                                                std::string_view finalizer, bool add) {
  api::Object copy(obj);
  bool changed = add ? copy.add_finalizer(finalizer) : copy.remove_finalizer(finalizer);
  if (!changed) return api::share(std::move(copy));
  return client.update(ref_of(copy), copy);
}

}  // namespace

std::string_view to_string(OperationResult r) {
  switch (r) {
    case OperationResult::kUnchanged:
      return "unchanged";
    case OperationResult::kCreated:
      return "created";
    case OperationResult::kUpdated:
      return "updated";
    case OperationResult::kUpdatedStatus:
      return "updatedStatus";
  }
  return "unknown";
}

absl::StatusOr<api::ObjectPtr> add_finalizer(client::Client& client, const api::Object& obj,
                                             std::string_view finalizer) {
  return write_finalizers(client, obj, finalizer, true);
}

absl::StatusOr<api::ObjectPtr> remove_finalizer(client::Client& client, const api::Object& obj,
                                                std::string_view finalizer) {
  return write_finalizers(client, obj, finalizer, false);
}

absl::Status set_controller_reference(const api::Object& owner, api::Object& obj) {
  if (owner.uid().empty()) {
    return absl::InvalidArgumentError("owner " + owner.key() + " has no uid (not yet created?)");
  }
  if (!owner.namespace_().empty() && owner.namespace_() != obj.namespace_()) {
    return absl::InvalidArgumentError("cross-namespace owner references are not allowed: " +
                                      owner.key() + " cannot own " + obj.key());
  }
  auto gk_of = [](std::string_view api_version, std::string_view kind) {
    auto slash = api_version.find('/');
    return std::string(slash == std::string_view::npos ? "" : api_version.substr(0, slash)) + "/" +
           std::string(kind);
  };
  std::string owner_gk = gk_of(owner.api_version(), owner.kind());
  auto refs = obj.owner_references();
  for (const auto& r : refs) {
    if (r.is_controller() && (gk_of(r.api_version, r.kind) != owner_gk || r.name != owner.name())) {
      return absl::AlreadyExistsError(obj.key() + " is already controlled by " + r.kind + " " +
                                      r.name);
    }
  }
  api::OwnerReference ref{std::string(owner.api_version()),
                          std::string(owner.kind()),
                          std::string(owner.name()),
                          std::string(owner.uid()),
                          true,
                          true};
  bool replaced = false;
  for (auto& r : refs) {
    if (gk_of(r.api_version, r.kind) == owner_gk && r.name == owner.name()) {
      r = ref;
      replaced = true;
    }
  }
  if (!replaced) refs.push_back(ref);
  obj.set_owner_references(refs);
  return absl::OkStatus();
}

std::string merge_patch(const Value& from, const Value& to) {
  return "{" + diff_members(from, to) + "}";
}

namespace {

// The first half of create_or_update and create_or_patch: an object that does not exist is
// mutated and created (kCreated); else `obj` becomes the mutated current state, `current` the
// state before, and the result is kUnchanged when mutate changed nothing, nullopt when the
// caller has a change to write.
absl::StatusOr<std::optional<OperationResult>> fetch_and_mutate(
    client::Client& client, api::Object& obj, api::Object& current,
    const std::function<absl::Status(api::Object&)>& mutate) {
  auto got = client.get(ref_of(obj));
  if (!got.ok()) {
    if (!client::is_not_found(got.status())) return got.status();
    if (auto s = mutate(obj); !s.ok()) return s;
    auto created = client.create(ref_of(obj), obj);
    if (!created.ok()) return created.status();
    obj = **created;
    return OperationResult::kCreated;
  }
  current = **got;
  obj = current;
  if (auto s = mutate(obj); !s.ok()) return s;
  if (obj == current) return OperationResult::kUnchanged;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<OperationResult> create_or_update(
    client::Client& client, api::Object& obj,
    const std::function<absl::Status(api::Object&)>& mutate) {
  api::Object current;
  auto early = fetch_and_mutate(client, obj, current, mutate);
  if (!early.ok()) return early.status();
  if (early->has_value()) return **early;
  auto updated = client.update(ref_of(obj), obj);
  if (!updated.ok()) return updated.status();
  obj = **updated;
  return OperationResult::kUpdated;
}

absl::StatusOr<OperationResult> create_or_patch(
    client::Client& client, api::Object& obj,
    const std::function<absl::Status(api::Object&)>& mutate) {
  api::Object current;
  auto early = fetch_and_mutate(client, obj, current, mutate);
  if (!early.ok()) return early.status();
  if (early->has_value()) return **early;
  // Status goes through its subresource; everything else through the main resource.
  api::Object before_main(current), after_main(obj);
  before_main.remove("/status");
  after_main.remove("/status");
  OperationResult result = OperationResult::kUnchanged;
  std::string patch = merge_patch(before_main.doc(), after_main.doc());
  if (patch != "{}") {
    auto patched = client.patch(ref_of(obj), client::PatchType::kJsonMerge, patch);
    if (!patched.ok()) return patched.status();
    result = OperationResult::kUpdated;
  }
  const Value* old_status = current.status();
  const Value* new_status = obj.status();
  static const Value kEmpty(rapidjson::kObjectType);
  if (new_status != nullptr && new_status->IsObject()) {
    std::string sp = merge_patch(
        old_status != nullptr && old_status->IsObject() ? *old_status : kEmpty, *new_status);
    if (sp != "{}") {
      auto patched = client.patch_status(ref_of(obj), client::PatchType::kJsonMerge,
                                         "{\"status\":" + sp + "}");
      if (!patched.ok()) return patched.status();
      if (result == OperationResult::kUnchanged) result = OperationResult::kUpdatedStatus;
    }
  }
  auto now = client.get(ref_of(obj));
  if (now.ok()) obj = **now;
  return result;
}

absl::StatusOr<api::ObjectPtr> set_status_condition(client::Client& client, const api::Object& obj,
                                                    const api::Condition& condition) {
  api::Object copy(obj);
  auto changed = api::set_condition(copy, condition);
  if (!changed.ok()) return changed.status();
  if (!*changed) return api::share(std::move(copy));
  return client.update_status(ref_of(copy), copy);
}

}  // namespace kop::manager
