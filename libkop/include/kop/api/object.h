// kop/api/object.h: a Kubernetes object held as a JSON document.
//
// kop keeps every object as the JSON the API server sent (a RapidJSON DOM with its own memory
// pool), not as generated structs: any kind, including custom resources and fields this code
// has never heard of, survives decode -> cache -> update unchanged. Object adds typed access to
// what every object has (apiVersion, kind, metadata), JSON-pointer access to everything else,
// deep copy, serialisation and semantic equality. Typed read-only views for specific kinds live
// in kop/api/views.h.
//
// Ownership: objects in caches and stores are immutable and shared as ObjectPtr
// (std::shared_ptr<const Object>). To change one, copy it (the copy constructor is a deep copy),
// mutate the copy, and hand the copy to the client. Moving an Object is cheap (no copy).
//
// Lifetimes: accessors returning std::string_view or `const rapidjson::Value*` point into the
// document. They stay valid while the Object lives and is not modified; any setter, set(),
// remove() or mutable doc() use may invalidate them. Holding an ObjectPtr keeps them valid,
// since a shared object is never modified.
//
// Memory: each Object owns a RapidJSON pool sized for it: parse() reserves about what the DOM of
// compact JSON needs (~2x the text), a copy or from_value() exactly what the source needs, then
// the pool grows in 1 KiB chunks. (A default rapidjson::Document would take 64 KiB per object.)
// The pool never frees: replacing a string keeps the old bytes until the Object dies. Objects
// are short-lived or immutable, so this is the right trade; an object mutated many times, or
// parsed from pretty-printed text, should be re-copied before it is kept (the copy is compact).
//
// Invariant: the root is always a JSON object. Accessors tolerate anything (a missing or
// wrong-typed field reads as absent), so raw doc() edits cannot make them crash.
//
// Threads: a const Object may be read from any number of threads; mutation needs exclusivity.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/gvk.h"

namespace kop::api {

// Labels and annotations as a sorted map (deterministic output, heterogeneous lookup).
using StringMap = std::map<std::string, std::string, std::less<>>;

// metav1.OwnerReference.
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> block_owner_deletion;

  bool is_controller() const { return controller.value_or(false); }
  bool operator==(const OwnerReference&) const = default;
};

class Object {
 public:
  using Document = rapidjson::Document;
  using Value = rapidjson::Value;
  using Allocator = Document::AllocatorType;

  // An empty object: {}.
  Object();
  // {"apiVersion": api_version, "kind": kind}.
  Object(std::string_view api_version, std::string_view kind);
  explicit Object(const GroupVersionKind& gvk);

  // Parses JSON text. Errors (InvalidArgument) name the byte offset; the root must be an object
  // and no object may hold the same key twice.
  static absl::StatusOr<Object> parse(std::string_view json);
  // Copies an existing value (it must be a JSON object) into a pool of exactly the needed size.
  // As with rapidjson's CopyFrom, strings the source holds by reference (rapidjson::StringRef)
  // stay references; every string parsed from text is copied.
  static absl::StatusOr<Object> from_value(const Value& value);
  // Takes over a document without copying; its root must be a JSON object. The document keeps
  // its own allocator (64 KiB chunks for a default rapidjson::Document; copy the Object to
  // compact it before keeping many of them).
  static absl::StatusOr<Object> from_document(Document&& doc);

  Object(const Object& other);  // deep copy, into a pool of exactly the needed size
  Object& operator=(const Object& other);
  Object(Object&& other) noexcept;  // `other` is left empty ({})
  Object& operator=(Object&& other) noexcept;
  ~Object();

  // Compact JSON (member order preserved).
  std::string to_json() const;
  // Indented JSON (two spaces), for humans.
  std::string to_json_pretty() const;

  // Semantic JSON equality: member order is ignored, array order is not; numbers compare by
  // value (1 == 1.0).
  bool operator==(const Object& other) const;

  // ---- type ----
  std::string_view api_version() const;
  std::string_view kind() const;
  // GroupVersionKind from apiVersion/kind; empty fields when absent or malformed.
  GroupVersionKind gvk() const;
  void set_api_version(std::string_view api_version);
  void set_kind(std::string_view kind);
  void set_gvk(const GroupVersionKind& gvk);

  // ---- metadata (reads: "" / 0 / empty when absent) ----
  std::string_view name() const;
  std::string_view generate_name() const;
  std::string_view namespace_() const;
  std::string_view ns() const { return namespace_(); }
  std::string_view uid() const;
  std::string_view resource_version() const;
  int64_t generation() const;
  std::string_view creation_timestamp() const;  // RFC 3339 text
  std::optional<absl::Time> creation_time() const;
  std::string_view deletion_timestamp() const;  // "" when not being deleted
  std::optional<absl::Time> deletion_time() const;
  bool is_being_deleted() const { return !deletion_timestamp().empty(); }
  std::optional<int64_t> deletion_grace_period_seconds() const;

  StringMap labels() const;
  std::optional<std::string_view> label(std::string_view key) const;
  bool has_label(std::string_view key) const { return label(key).has_value(); }
  StringMap annotations() const;
  std::optional<std::string_view> annotation(std::string_view key) const;
  bool has_annotation(std::string_view key) const { return annotation(key).has_value(); }

  std::vector<OwnerReference> owner_references() const;
  // The owner reference with controller=true, if any.
  std::optional<OwnerReference> controller_reference() const;

  std::vector<std::string_view> finalizers() const;
  bool has_finalizer(std::string_view finalizer) const;

  bool has_managed_fields() const;

  // "namespace/name", or "name" for cluster-scoped objects (client-go's cache key).
  std::string key() const;

  // ---- metadata writes (create metadata as needed) ----
  void set_name(std::string_view name);
  void set_generate_name(std::string_view generate_name);
  // An empty namespace removes the field (cluster-scoped objects have none).
  void set_namespace(std::string_view ns);
  void set_uid(std::string_view uid);
  void set_resource_version(std::string_view rv);
  void set_generation(int64_t generation);
  void set_creation_timestamp(std::string_view rfc3339);
  void set_creation_timestamp(absl::Time t);
  void set_deletion_timestamp(std::string_view rfc3339);
  void set_deletion_timestamp(absl::Time t);
  void clear_deletion_timestamp();
  void set_deletion_grace_period_seconds(int64_t seconds);

  void set_label(std::string_view key, std::string_view value);
  bool remove_label(std::string_view key);   // true when it was there
  void set_labels(const StringMap& labels);  // replaces all; empty map removes the field
  void set_annotation(std::string_view key, std::string_view value);
  bool remove_annotation(std::string_view key);
  void set_annotations(const StringMap& annotations);

  bool add_finalizer(std::string_view finalizer);                   // false when already present
  bool remove_finalizer(std::string_view finalizer);                // false when absent
  void set_finalizers(const std::vector<std::string>& finalizers);  // empty removes the field

  // Replaces ownerReferences; an empty list removes the field. Unset optionals are omitted.
  void set_owner_references(const std::vector<OwnerReference>& refs);

  void clear_managed_fields();

  // ---- JSON pointer access (RFC 6901: "/spec/rules/0/host", "~1" = '/', "~0" = '~') ----
  // "" is the root. Object members are found by name, arrays by decimal index.

  // The value at `pointer`, or nullptr when absent or the pointer is malformed.
  const Value* at(std::string_view pointer) const;
  Value* mutable_at(std::string_view pointer);

  // Typed reads: std::nullopt when absent or of another JSON type.
  std::optional<std::string_view> get_string(std::string_view pointer) const;
  std::optional<int64_t> get_int(std::string_view pointer) const;
  std::optional<bool> get_bool(std::string_view pointer) const;
  std::optional<double> get_double(std::string_view pointer) const;

  // Writes a deep copy of `value` at `pointer`, creating missing parents as objects. An array
  // token must be an existing index or "-" (append). Errors: malformed pointer, a parent that
  // is a scalar, an out-of-range index, or the root pointer with a non-object value.
  absl::Status set(std::string_view pointer, const Value& value);
  absl::Status set_string(std::string_view pointer, std::string_view value);
  absl::Status set_int(std::string_view pointer, int64_t value);
  absl::Status set_bool(std::string_view pointer, bool value);
  absl::Status set_double(std::string_view pointer, double value);
  absl::Status set_null(std::string_view pointer);
  // Parses `json` and writes it at `pointer`.
  absl::Status set_json(std::string_view pointer, std::string_view json);
  // Removes the member or array element at `pointer`; false when it was not there.
  bool remove(std::string_view pointer);

  // ---- well-known sections ----
  const Value* metadata() const;  // nullptr when absent
  const Value* spec() const;
  const Value* status() const;
  Value& mutable_metadata();  // created as {} if absent
  Value& mutable_spec();
  Value& mutable_status();

  // ---- raw access ----
  const Document& doc() const;
  // Mutable document: allocate every new value with allocator(). Keep the root an object.
  Document& doc();
  Allocator& allocator() { return doc().GetAllocator(); }

 private:
  struct Storage;  // the document and the pool it allocates from
  explicit Object(std::unique_ptr<Storage> storage);
  void set_meta_string(std::string_view key, std::string_view value);
  Value& mutable_meta_map(std::string_view key);

  const Value& root() const;

  // Held by pointer so that a move is a pointer swap and never invalidates views of the value.
  // A moved-from Object has none and reads as {}; the next write creates a fresh document.
  std::unique_ptr<Storage> storage_;
};

using ObjectPtr = std::shared_ptr<const Object>;

// Wraps an object for sharing (caches, stores, event handlers).
inline ObjectPtr share(Object obj) {
  return std::make_shared<const Object>(std::move(obj));
}
// Wraps a document for sharing (its root must be an object, else it becomes {}), copied into
// an Object sized for it: a document built by hand allocates 64 KiB chunks, while stored
// objects live long and are many.
ObjectPtr share(rapidjson::Document&& doc);

}  // namespace kop::api

namespace kop {
using api::Object;
using api::ObjectPtr;
using api::OwnerReference;
}  // namespace kop
