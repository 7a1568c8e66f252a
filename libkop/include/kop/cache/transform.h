// kop/cache/transform.h: what an informer does to each object before storing it.
//
// Objects from lists and watches pass through a transform before they enter a store, so a cache
// only holds what its users read. By default the cache drops metadata.managedFields (server-side
// apply bookkeeping, often the largest part of small objects and never read by controllers), as
// controller-runtime does; InformerOptions::keep_managed_fields turns that off. Every stored
// object is also compacted (one right-sized allocation pool instead of RapidJSON's 64 KiB
// default), which is what makes a cache of 100k small objects fit in tens of MB. An in-process
// client (kop::local) hands out its store's own immutable, already compact objects: with
// InformerOptions::share_objects the cache keeps those (managedFields included) instead of a copy
// of each.
//
// Threading: transforms run on the reflector's thread; they must not block and must not keep the
// object they are given beyond returning it or a replacement.
#pragma once

#include <functional>

#include "kop/api/object.h"

namespace kop::cache {

// Returns the object to store: `obj` itself, or a new one. Never nullptr.
using TransformFunc = std::function<api::ObjectPtr(api::ObjectPtr obj)>;

// A compact deep copy of `obj` (without metadata.managedFields when `drop_managed_fields`): its
// document allocates from one pool chunk sized to the object, instead of RapidJSON's default
// 64 KiB chunk per document, which would otherwise cost ~64 KiB per cached object (measured in
// docs/benchmarks.md). Every string is copied. The result owns its memory like any ObjectPtr.
api::ObjectPtr compact_copy(const api::ObjectPtr& obj, bool drop_managed_fields);

// compact_copy(obj, true).
api::ObjectPtr strip_managed_fields(api::ObjectPtr obj);

// The transform an informer applies: a compact copy (managedFields dropped unless
// `keep_managed_fields`), then `user` (if set).
TransformFunc make_transform(bool keep_managed_fields, TransformFunc user);
// The transform of an informer that shares the client's objects: `user` (if set), else the
// object itself, never copied.
TransformFunc make_sharing_transform(TransformFunc user);

}  // namespace kop::cache
