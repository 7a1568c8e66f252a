#include "kop/api/object.h"

#include <absl/status/status.h>
#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "kop/api/json.h"
#include "kop/api/time.h"

namespace kop::api {

namespace {

using Value = rapidjson::Value;
using Allocator = Object::Allocator;

const Value& empty_object_value() {
  static const Value* v = new Value(rapidjson::kObjectType);
  return *v;
}

const rapidjson::Document& empty_document() {
  static const rapidjson::Document* d = [] {
    auto* doc = new rapidjson::Document();
    doc->SetObject();
    return doc;
  }();
  return *d;
}

// The first member name that appears twice in one object, anywhere in `v`. RapidJSON keeps
// both members, and lookups, equality and YAML would each see a different one; the API server
// takes the last one. Objects are small, so a quadratic scan costs less than a hash set.
const Value* duplicate_key(const Value& v) {
  if (v.IsArray()) {
    for (const Value& e : v.GetArray()) {
      if (const Value* d = duplicate_key(e)) return d;
    }
  } else if (v.IsObject()) {
    for (auto a = v.MemberBegin(); a != v.MemberEnd(); ++a) {
      for (auto b = v.MemberBegin(); b != a; ++b) {
        if (a->name == b->name) return &a->name;
      }
      if (const Value* d = duplicate_key(a->value)) return d;
    }
  }
  return nullptr;
}

// Copies every string (RapidJSON's allocator copy keeps "const" strings by reference, which
// would dangle when a caller built the source from a temporary).
Value deep_copy(const Value& src, Allocator& alloc) {
  switch (src.GetType()) {
    case rapidjson::kStringType:
      return json::make_string(json::as_string_view(src), alloc);
    case rapidjson::kObjectType: {
      Value out(rapidjson::kObjectType);
      for (auto it = src.MemberBegin(); it != src.MemberEnd(); ++it) {
        Value name = json::make_string(json::as_string_view(it->name), alloc);
        Value v = deep_copy(it->value, alloc);
        out.AddMember(name, v, alloc);
      }
      return out;
    }
    case rapidjson::kArrayType: {
      Value out(rapidjson::kArrayType);
      out.Reserve(src.Size(), alloc);
      for (const Value& e : src.GetArray()) {
        Value v = deep_copy(e, alloc);
        out.PushBack(v, alloc);
      }
      return out;
    }
    default: {
      Value out;
      out.CopyFrom(src, alloc);  // scalars: no strings involved
      return out;
    }
  }
}

// ---- JSON pointer (RFC 6901) ----

// Splits a pointer into unescaped tokens. Tokens without escapes are views into `pointer`;
// escaped ones are materialised into `storage`.
bool split_pointer(std::string_view pointer, std::vector<std::string_view>& tokens,
                   std::vector<std::string>& storage) {
  tokens.clear();
  if (pointer.empty()) return true;
  if (pointer.front() != '/') return false;
  size_t pos = 1;
  // Reserve so that views into storage stay valid while it grows.
  storage.reserve(static_cast<size_t>(std::count(pointer.begin(), pointer.end(), '~')));
  while (true) {
    size_t end = pointer.find('/', pos);
    std::string_view raw =
        pointer.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (raw.find('~') == std::string_view::npos) {
      tokens.push_back(raw);
    } else {
      std::string tok;
      tok.reserve(raw.size());
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '~') {
          tok.push_back(raw[i]);
          continue;
        }
        if (i + 1 >= raw.size()) return false;
        char c = raw[++i];
        if (c == '0') {
          tok.push_back('~');
        } else if (c == '1') {
          tok.push_back('/');
        } else {
          return false;
        }
      }
      storage.push_back(std::move(tok));
      tokens.push_back(storage.back());
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return true;
}

// A decimal array index without leading zeros (RFC 6901), or nullopt.
std::optional<size_t> parse_index(std::string_view tok) {
  if (tok.empty() || tok.size() > 18) return std::nullopt;
  if (tok.size() > 1 && tok[0] == '0') return std::nullopt;
  size_t n = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

const Value* step(const Value& cur, std::string_view tok) {
  if (cur.IsObject()) return json::find(cur, tok);
  if (cur.IsArray()) {
    auto idx = parse_index(tok);
    if (!idx || *idx >= cur.Size()) return nullptr;
    return &cur[static_cast<rapidjson::SizeType>(*idx)];
  }
  return nullptr;
}

const Value* resolve(const Value& root, std::string_view pointer) {
  if (pointer.empty()) return &root;
  if (pointer.front() != '/') return nullptr;
  // Fast path without escapes: walk views directly, no allocation.
  if (pointer.find('~') == std::string_view::npos) {
    const Value* cur = &root;
    size_t pos = 1;
    while (cur) {
      size_t end = pointer.find('/', pos);
      std::string_view tok =
          pointer.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      cur = step(*cur, tok);
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
    return cur;
  }
  std::vector<std::string_view> tokens;
  std::vector<std::string> storage;
  if (!split_pointer(pointer, tokens, storage)) return nullptr;
  const Value* cur = &root;
  for (std::string_view tok : tokens) {
    cur = step(*cur, tok);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string_view meta_string(const Value& root, std::string_view key) {
  return json::string_or_empty(json::find(root, "metadata"), key);
}

StringMap meta_map(const Value& root, std::string_view key) {
  StringMap out;
  const Value* m = json::find_object(json::find(root, "metadata"), key);
  if (!m) return out;
  for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
    if (!it->value.IsString()) continue;
    out.insert_or_assign(std::string(json::as_string_view(it->name)),
                         std::string(json::as_string_view(it->value)));
  }
  return out;
}

std::optional<std::string_view> meta_map_entry(const Value& root, std::string_view map,
                                               std::string_view key) {
  return json::get_string(json::find_object(json::find(root, "metadata"), map), key);
}

// Bytes a CopyFrom() of `v` takes from a MemoryPoolAllocator (RapidJSON 1.1's layout: member
// and element arrays sized exactly, strings longer than the 13-character inline form copied with
// their terminator, every block 8-byte aligned). Strings held by reference are counted as if
// copied, so this is an upper bound.
size_t copy_bytes(const Value& v) {
  constexpr size_t kInlineChars = 13;
  auto align = [](size_t n) { return (n + 7) & ~size_t{7}; };
  switch (v.GetType()) {
    case rapidjson::kStringType:
      return v.GetStringLength() > kInlineChars ? align(v.GetStringLength() + 1) : 0;
    case rapidjson::kObjectType: {
      size_t n = align(v.MemberCount() * sizeof(Value::Member));
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        n += copy_bytes(it->name) + copy_bytes(it->value);
      }
      return n;
    }
    case rapidjson::kArrayType: {
      size_t n = align(v.Size() * sizeof(Value));
      for (const Value& e : v.GetArray()) n += copy_bytes(e);
      return n;
    }
    default:
      return 0;
  }
}

}  // namespace

// The storage and the pool's first chunk, sized for the expected content, are one allocation
// (the chunk follows the storage); later chunks are small, so a few edits do not double the
// footprint. One block instead of two, and a chunk header of RapidJSON's size instead of 64
// bytes with room to spare: about 60 bytes less per object, which counts for caches holding
// hundreds of thousands of them.
struct Object::Storage {
  static constexpr size_t kGrowthChunk = 1024;
  // RapidJSON's chunk header (capacity, size, next). Were it larger, the pool would only start
  // a growth chunk sooner.
  static constexpr size_t kChunkHeader = 2 * sizeof(size_t) + sizeof(void*);

  // A storage whose pool starts with room for `expected_bytes` of content.
  static std::unique_ptr<Storage> sized(size_t expected_bytes) {
    static_assert(sizeof(Storage) % 8 == 0, "the chunk after the storage must be 8-byte aligned");
    // At least one aligned block, so that the chunk is larger than its header.
    const size_t chunk = kChunkHeader + std::max<size_t>(align(expected_bytes), 8);
    return std::unique_ptr<Storage>(new (Trailing{chunk}) Storage(chunk));
  }
  // A storage adopting `d` with the allocator it has.
  static std::unique_ptr<Storage> adopting(Document&& d) {
    return std::unique_ptr<Storage>(new (Trailing{0}) Storage(std::move(d)));
  }
  static std::unique_ptr<Storage> empty_object() {
    auto st = sized(256);
    st->doc.SetObject();
    return st;
  }

  // What a copy of this document needs: the bytes used so far when all of them sit in the first
  // chunk (a parsed or copied object, lightly edited at most), else a walk of the tree.
  size_t copy_size() const {
    if (first_chunk != 0 && pool.Capacity() == first_chunk) return pool.Size();
    return copy_bytes(doc);
  }

  rapidjson::MemoryPoolAllocator<> pool;
  Document doc;
  size_t first_chunk = 0;  // capacity of the sized first chunk; 0 for an adopted document

  // The bytes after the storage that hold the first chunk. A storage is made by sized() or
  // adopting() only, and freed by `delete` (std::unique_ptr's), which these pair with.
  struct Trailing {
    size_t bytes;
  };
  static void* operator new(size_t size, Trailing trailing) {
    return ::operator new(size + trailing.bytes);
  }
  static void operator delete(void* p, Trailing) { ::operator delete(p); }  // a throwing ctor
  static void operator delete(void* p) { ::operator delete(p); }

 private:
  static size_t align(size_t n) { return (n + 7) & ~size_t{7}; }
  char* chunk_start() { return reinterpret_cast<char*>(this) + sizeof(Storage); }

  explicit Storage(size_t chunk_bytes)
      : pool(chunk_start(), chunk_bytes, kGrowthChunk), doc(&pool), first_chunk(pool.Capacity()) {}
  explicit Storage(Document&& d) : pool(kGrowthChunk), doc(std::move(d)) {}
};

// ---- construction ----

Object::Object() : storage_(Storage::empty_object()) {}

Object::Object(std::string_view api_version, std::string_view kind) : Object() {
  set_api_version(api_version);
  set_kind(kind);
}

Object::Object(const GroupVersionKind& gvk) : Object() {
  set_gvk(gvk);
}

Object::Object(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}

absl::StatusOr<Object> Object::parse(std::string_view json) {
  // The DOM of compact JSON takes about twice the text (measured on Pods and Ingresses).
  auto st = Storage::sized(json.size() * 9 / 4 + 64);
  Document& doc = st->doc;
  // Numbers read exactly, so an object written back is the object read (json::parse_into).
  if (rapidjson::ParseResult parsed = json::parse_into(doc, json); parsed.IsError()) {
    return absl::InvalidArgumentError(fmt::format("invalid JSON at offset {}: {}", parsed.Offset(),
                                                  rapidjson::GetParseError_En(parsed.Code())));
  }
  if (!doc.IsObject()) return absl::InvalidArgumentError("JSON root is not an object");
  if (const Value* key = duplicate_key(doc)) {
    return absl::InvalidArgumentError(
        fmt::format("invalid JSON: duplicate key {:?} in an object", json::as_string_view(*key)));
  }
  return Object(std::move(st));
}

absl::StatusOr<Object> Object::from_value(const Value& value) {
  if (!value.IsObject()) return absl::InvalidArgumentError("value is not a JSON object");
  auto st = Storage::sized(copy_bytes(value));
  st->doc.CopyFrom(value, st->doc.GetAllocator());
  return Object(std::move(st));
}

absl::StatusOr<Object> Object::from_document(Document&& doc) {
  if (!doc.IsObject()) return absl::InvalidArgumentError("document root is not a JSON object");
  return Object(Storage::adopting(std::move(doc)));
}

Object::Object(const Object& other)
    : storage_(Storage::sized(other.storage_ ? other.storage_->copy_size() : 0)) {
  storage_->doc.CopyFrom(other.root(), storage_->doc.GetAllocator());
}

Object& Object::operator=(const Object& other) {
  if (this != &other) {
    auto st = Storage::sized(other.storage_ ? other.storage_->copy_size() : 0);
    st->doc.CopyFrom(other.root(), st->doc.GetAllocator());
    storage_ = std::move(st);
  }
  return *this;
}

Object::Object(Object&& other) noexcept = default;
Object& Object::operator=(Object&& other) noexcept = default;
Object::~Object() = default;

const Object::Value& Object::root() const {
  return storage_ ? static_cast<const Value&>(storage_->doc) : empty_object_value();
}

const Object::Document& Object::doc() const {
  return storage_ ? storage_->doc : empty_document();
}

Object::Document& Object::doc() {
  if (!storage_) storage_ = Storage::empty_object();
  return storage_->doc;
}

std::string Object::to_json() const {
  // Compact text is about half the DOM; one reservation covers it.
  size_t hint = storage_ && storage_->first_chunk ? storage_->pool.Size() / 2 + 256 : 0;
  return json::to_json(root(), hint);
}
std::string Object::to_json_pretty() const {
  return json::to_json_pretty(root());
}

bool Object::operator==(const Object& other) const {
  return root() == other.root();
}

// ---- type ----

std::string_view Object::api_version() const {
  return json::string_or_empty(&root(), "apiVersion");
}
std::string_view Object::kind() const {
  return json::string_or_empty(&root(), "kind");
}

GroupVersionKind Object::gvk() const {
  GroupVersionKind out;
  auto gv = GroupVersion::parse(api_version());
  if (gv.ok()) {
    out.group = std::move(gv->group);
    out.version = std::move(gv->version);
  }
  out.kind = std::string(kind());
  return out;
}

void Object::set_api_version(std::string_view api_version) {
  Document& d = doc();
  json::set_member(d, "apiVersion", json::make_string(api_version, d.GetAllocator()),
                   d.GetAllocator());
}

void Object::set_kind(std::string_view kind) {
  Document& d = doc();
  json::set_member(d, "kind", json::make_string(kind, d.GetAllocator()), d.GetAllocator());
}

void Object::set_gvk(const GroupVersionKind& gvk) {
  set_api_version(gvk.api_version());
  set_kind(gvk.kind);
}

// ---- metadata reads ----

std::string_view Object::name() const {
  return meta_string(root(), "name");
}
std::string_view Object::generate_name() const {
  return meta_string(root(), "generateName");
}
std::string_view Object::namespace_() const {
  return meta_string(root(), "namespace");
}
std::string_view Object::uid() const {
  return meta_string(root(), "uid");
}
std::string_view Object::resource_version() const {
  return meta_string(root(), "resourceVersion");
}
int64_t Object::generation() const {
  return json::get_int(json::find(root(), "metadata"), "generation").value_or(0);
}
std::string_view Object::creation_timestamp() const {
  return meta_string(root(), "creationTimestamp");
}
std::optional<absl::Time> Object::creation_time() const {
  return parse_time(creation_timestamp());
}
std::string_view Object::deletion_timestamp() const {
  return meta_string(root(), "deletionTimestamp");
}
std::optional<absl::Time> Object::deletion_time() const {
  return parse_time(deletion_timestamp());
}
std::optional<int64_t> Object::deletion_grace_period_seconds() const {
  return json::get_int(json::find(root(), "metadata"), "deletionGracePeriodSeconds");
}

StringMap Object::labels() const {
  return meta_map(root(), "labels");
}
std::optional<std::string_view> Object::label(std::string_view key) const {
  return meta_map_entry(root(), "labels", key);
}
StringMap Object::annotations() const {
  return meta_map(root(), "annotations");
}
std::optional<std::string_view> Object::annotation(std::string_view key) const {
  return meta_map_entry(root(), "annotations", key);
}

std::vector<OwnerReference> Object::owner_references() const {
  std::vector<OwnerReference> out;
  const Value* refs = json::find_array(json::find(root(), "metadata"), "ownerReferences");
  if (!refs) return out;
  out.reserve(refs->Size());
  for (const Value& r : refs->GetArray()) {
    if (!r.IsObject()) continue;
    OwnerReference o;
    o.api_version = std::string(json::string_or_empty(&r, "apiVersion"));
    o.kind = std::string(json::string_or_empty(&r, "kind"));
    o.name = std::string(json::string_or_empty(&r, "name"));
    o.uid = std::string(json::string_or_empty(&r, "uid"));
    o.controller = json::get_bool(&r, "controller");
    o.block_owner_deletion = json::get_bool(&r, "blockOwnerDeletion");
    out.push_back(std::move(o));
  }
  return out;
}

std::optional<OwnerReference> Object::controller_reference() const {
  for (auto& r : owner_references()) {
    if (r.is_controller()) return r;
  }
  return std::nullopt;
}

std::vector<std::string_view> Object::finalizers() const {
  std::vector<std::string_view> out;
  const Value* f = json::find_array(json::find(root(), "metadata"), "finalizers");
  if (!f) return out;
  out.reserve(f->Size());
  for (const Value& v : f->GetArray()) {
    if (v.IsString()) out.push_back(json::as_string_view(v));
  }
  return out;
}

bool Object::has_finalizer(std::string_view finalizer) const {
  const Value* f = json::find_array(json::find(root(), "metadata"), "finalizers");
  if (!f) return false;
  for (const Value& v : f->GetArray()) {
    if (v.IsString() && json::as_string_view(v) == finalizer) return true;
  }
  return false;
}

bool Object::has_managed_fields() const {
  return json::find(json::find(root(), "metadata"), "managedFields") != nullptr;
}

std::string Object::key() const {
  std::string_view ns = namespace_();
  if (ns.empty()) return std::string(name());
  std::string out;
  out.reserve(ns.size() + 1 + name().size());
  out.append(ns).append("/").append(name());
  return out;
}

// ---- metadata writes ----

Object::Value& Object::mutable_metadata() {
  Document& d = doc();
  if (!d.IsObject()) d.SetObject();
  return json::ensure_object(d, "metadata", d.GetAllocator());
}

Object::Value& Object::mutable_spec() {
  Document& d = doc();
  if (!d.IsObject()) d.SetObject();
  return json::ensure_object(d, "spec", d.GetAllocator());
}

Object::Value& Object::mutable_status() {
  Document& d = doc();
  if (!d.IsObject()) d.SetObject();
  return json::ensure_object(d, "status", d.GetAllocator());
}

const Object::Value* Object::metadata() const {
  return json::find_object(&root(), "metadata");
}
const Object::Value* Object::spec() const {
  return json::find(root(), "spec");
}
const Object::Value* Object::status() const {
  return json::find(root(), "status");
}

void Object::set_meta_string(std::string_view key, std::string_view value) {
  Value& meta = mutable_metadata();
  json::set_member(meta, key, json::make_string(value, allocator()), allocator());
}

Object::Value& Object::mutable_meta_map(std::string_view key) {
  Value& meta = mutable_metadata();
  return json::ensure_object(meta, key, allocator());
}

void Object::set_name(std::string_view name) {
  set_meta_string("name", name);
}
void Object::set_generate_name(std::string_view generate_name) {
  set_meta_string("generateName", generate_name);
}
void Object::set_namespace(std::string_view ns) {
  if (ns.empty()) {
    if (Value* meta = json::find(doc(), "metadata")) json::remove_member(*meta, "namespace");
    return;
  }
  set_meta_string("namespace", ns);
}
void Object::set_uid(std::string_view uid) {
  set_meta_string("uid", uid);
}
void Object::set_resource_version(std::string_view rv) {
  set_meta_string("resourceVersion", rv);
}
void Object::set_generation(int64_t generation) {
  Value& meta = mutable_metadata();
  json::set_member(meta, "generation", Value(static_cast<int64_t>(generation)), allocator());
}
void Object::set_creation_timestamp(std::string_view rfc3339) {
  set_meta_string("creationTimestamp", rfc3339);
}
void Object::set_creation_timestamp(absl::Time t) {
  set_creation_timestamp(format_time(t));
}
void Object::set_deletion_timestamp(std::string_view rfc3339) {
  set_meta_string("deletionTimestamp", rfc3339);
}
void Object::set_deletion_timestamp(absl::Time t) {
  set_deletion_timestamp(format_time(t));
}
void Object::clear_deletion_timestamp() {
  if (Value* meta = json::find(doc(), "metadata")) {
    json::remove_member(*meta, "deletionTimestamp");
    json::remove_member(*meta, "deletionGracePeriodSeconds");
  }
}
void Object::set_deletion_grace_period_seconds(int64_t seconds) {
  Value& meta = mutable_metadata();
  json::set_member(meta, "deletionGracePeriodSeconds", Value(static_cast<int64_t>(seconds)),
                   allocator());
}

void Object::set_label(std::string_view key, std::string_view value) {
  Value& m = mutable_meta_map("labels");
  json::set_member(m, key, json::make_string(value, allocator()), allocator());
}

bool Object::remove_label(std::string_view key) {
  Value* meta = json::find(doc(), "metadata");
  if (!meta) return false;
  Value* labels = json::find(*meta, "labels");
  return labels && json::remove_member(*labels, key);
}

void Object::set_labels(const StringMap& labels) {
  if (labels.empty()) {
    if (Value* meta = json::find(doc(), "metadata")) json::remove_member(*meta, "labels");
    return;
  }
  Value m(rapidjson::kObjectType);
  for (const auto& [k, v] : labels) {
    m.AddMember(json::make_string(k, allocator()), json::make_string(v, allocator()), allocator());
  }
  json::set_member(mutable_metadata(), "labels", std::move(m), allocator());
}

void Object::set_annotation(std::string_view key, std::string_view value) {
  Value& m = mutable_meta_map("annotations");
  json::set_member(m, key, json::make_string(value, allocator()), allocator());
}

bool Object::remove_annotation(std::string_view key) {
  Value* meta = json::find(doc(), "metadata");
  if (!meta) return false;
  Value* ann = json::find(*meta, "annotations");
  return ann && json::remove_member(*ann, key);
}

void Object::set_annotations(const StringMap& annotations) {
  if (annotations.empty()) {
    if (Value* meta = json::find(doc(), "metadata")) json::remove_member(*meta, "annotations");
    return;
  }
  Value m(rapidjson::kObjectType);
  for (const auto& [k, v] : annotations) {
    m.AddMember(json::make_string(k, allocator()), json::make_string(v, allocator()), allocator());
  }
  json::set_member(mutable_metadata(), "annotations", std::move(m), allocator());
}

bool Object::add_finalizer(std::string_view finalizer) {
  if (has_finalizer(finalizer)) return false;
  Value& meta = mutable_metadata();
  Value* f = json::find(meta, "finalizers");
  if (!f || !f->IsArray()) {
    f = &json::set_member(meta, "finalizers", Value(rapidjson::kArrayType), allocator());
  }
  f->PushBack(json::make_string(finalizer, allocator()), allocator());
  return true;
}

bool Object::remove_finalizer(std::string_view finalizer) {
  Value* meta = json::find(doc(), "metadata");
  if (!meta) return false;
  Value* f = json::find(*meta, "finalizers");
  if (!f || !f->IsArray()) return false;
  bool removed = false;
  for (auto it = f->Begin(); it != f->End();) {
    if (it->IsString() && json::as_string_view(*it) == finalizer) {
      it = f->Erase(it);
      removed = true;
    } else {
      ++it;
    }
  }
  // An empty list is dropped, as the API server does when finalizers are all removed.
  if (f->Empty()) json::remove_member(*meta, "finalizers");
  return removed;
}

void Object::set_finalizers(const std::vector<std::string>& finalizers) {
  if (finalizers.empty()) {
    if (Value* meta = json::find(doc(), "metadata")) json::remove_member(*meta, "finalizers");
    return;
  }
  Value arr(rapidjson::kArrayType);
  for (const auto& f : finalizers) arr.PushBack(json::make_string(f, allocator()), allocator());
  json::set_member(mutable_metadata(), "finalizers", std::move(arr), allocator());
}

void Object::set_owner_references(const std::vector<OwnerReference>& refs) {
  if (refs.empty()) {
    if (Value* meta = json::find(doc(), "metadata")) json::remove_member(*meta, "ownerReferences");
    return;
  }
  Allocator& a = allocator();
  Value arr(rapidjson::kArrayType);
  for (const auto& r : refs) {
    Value o(rapidjson::kObjectType);
    o.AddMember("apiVersion", json::make_string(r.api_version, a), a);
    o.AddMember("kind", json::make_string(r.kind, a), a);
    o.AddMember("name", json::make_string(r.name, a), a);
    o.AddMember("uid", json::make_string(r.uid, a), a);
    if (r.controller) o.AddMember("controller", Value(*r.controller), a);
    if (r.block_owner_deletion) {
      o.AddMember("blockOwnerDeletion", Value(*r.block_owner_deletion), a);
    }
    arr.PushBack(o, a);
  }
  json::set_member(mutable_metadata(), "ownerReferences", std::move(arr), a);
}

void Object::clear_managed_fields() {
  if (Value* meta = json::find(doc(), "metadata")) json::remove_member(*meta, "managedFields");
}

// ---- JSON pointer ----

const Object::Value* Object::at(std::string_view pointer) const {
  return resolve(root(), pointer);
}

Object::Value* Object::mutable_at(std::string_view pointer) {
  return const_cast<Value*>(resolve(doc(), pointer));
}

std::optional<std::string_view> Object::get_string(std::string_view pointer) const {
  const Value* v = at(pointer);
  if (!v || !v->IsString()) return std::nullopt;
  return json::as_string_view(*v);
}

std::optional<int64_t> Object::get_int(std::string_view pointer) const {
  const Value* v = at(pointer);
  if (!v || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

std::optional<bool> Object::get_bool(std::string_view pointer) const {
  const Value* v = at(pointer);
  if (!v || !v->IsBool()) return std::nullopt;
  return v->GetBool();
}

std::optional<double> Object::get_double(std::string_view pointer) const {
  const Value* v = at(pointer);
  if (!v || !v->IsNumber()) return std::nullopt;
  return v->GetDouble();
}

absl::Status Object::set(std::string_view pointer, const Value& value) {
  std::vector<std::string_view> tokens;
  std::vector<std::string> storage;
  if (!split_pointer(pointer, tokens, storage)) {
    return absl::InvalidArgumentError(fmt::format("malformed JSON pointer \"{}\"", pointer));
  }
  Document& d = doc();
  Allocator& a = d.GetAllocator();
  if (tokens.empty()) {
    if (!value.IsObject()) {
      return absl::InvalidArgumentError("the root of an object must be a JSON object");
    }
    Value copy = deep_copy(value, a);
    static_cast<Value&>(d) = std::move(copy);
    return absl::OkStatus();
  }
  Value* cur = &d;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string_view tok = tokens[i];
    bool last = i + 1 == tokens.size();
    if (cur->IsNull()) cur->SetObject();
    if (cur->IsObject()) {
      if (last) {
        json::set_member(*cur, tok, deep_copy(value, a), a);
        return absl::OkStatus();
      }
      Value* next = json::find(*cur, tok);
      if (!next) next = &json::set_member(*cur, tok, Value(rapidjson::kObjectType), a);
      cur = next;
    } else if (cur->IsArray()) {
      size_t idx;
      if (tok == "-") {
        idx = cur->Size();
      } else {
        auto parsed = parse_index(tok);
        if (!parsed || *parsed > cur->Size()) {
          return absl::InvalidArgumentError(
              fmt::format("JSON pointer \"{}\": array index \"{}\" is out of range", pointer, tok));
        }
        idx = *parsed;
      }
      if (idx == cur->Size()) {
        cur->PushBack(last ? deep_copy(value, a) : Value(rapidjson::kObjectType), a);
      } else if (last) {
        (*cur)[static_cast<rapidjson::SizeType>(idx)] = deep_copy(value, a);
      }
      if (last) return absl::OkStatus();
      cur = &(*cur)[static_cast<rapidjson::SizeType>(idx)];
    } else {
      return absl::FailedPreconditionError(
          fmt::format("JSON pointer \"{}\": token \"{}\" steps into a scalar", pointer, tok));
    }
  }
  return absl::OkStatus();
}

absl::Status Object::set_string(std::string_view pointer, std::string_view value) {
  Value v(json::ref(value));  // deep-copied by set()
  return set(pointer, v);
}

absl::Status Object::set_int(std::string_view pointer, int64_t value) {
  return set(pointer, Value(static_cast<int64_t>(value)));
}

absl::Status Object::set_bool(std::string_view pointer, bool value) {
  return set(pointer, Value(value));
}

absl::Status Object::set_double(std::string_view pointer, double value) {
  return set(pointer, Value(value));
}

absl::Status Object::set_null(std::string_view pointer) {
  return set(pointer, Value());
}

absl::Status Object::set_json(std::string_view pointer, std::string_view json) {
  rapidjson::Document parsed;
  if (rapidjson::ParseResult result = json::parse_into(parsed, json); result.IsError()) {
    return absl::InvalidArgumentError(fmt::format("invalid JSON at offset {}: {}", result.Offset(),
                                                  rapidjson::GetParseError_En(result.Code())));
  }
  return set(pointer, parsed);
}

bool Object::remove(std::string_view pointer) {
  std::vector<std::string_view> tokens;
  std::vector<std::string> storage;
  if (!split_pointer(pointer, tokens, storage) || tokens.empty()) return false;
  Value* cur = &doc();
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    cur = const_cast<Value*>(step(*cur, tokens[i]));
    if (!cur) return false;
  }
  std::string_view last = tokens.back();
  if (cur->IsObject()) return json::remove_member(*cur, last);
  if (cur->IsArray()) {
    auto idx = parse_index(last);
    if (!idx || *idx >= cur->Size()) return false;
    cur->Erase(cur->Begin() + *idx);
    return true;
  }
  return false;
}

ObjectPtr share(rapidjson::Document&& doc) {
  if (!doc.IsObject()) doc.SetObject();
  return share(Object::from_value(doc).value());
}

}  // namespace kop::api
