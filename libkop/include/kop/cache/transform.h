// kop/cache/transform.h: what an informer does to each object before storing it.
//
// Objects from lists and watches pass through a transform before they enter a store, so a cache
// only holds what its users read. By default the cache drops metadata.managedFields (server-side
// apply bookkeeping, often the largest part of small objects and never read by controllers), as
// controller-runtime does; InformerOptions::keep_managed_fields turns that off.
//
// Threading: transforms run on the reflector's thread; they must not block and must not keep the
// object they are given beyond returning it or a replacement.
#pragma once

#include <functional>

#include "kop/api/object.h"

namespace kop::cache {

// Returns the object to store: `obj` itself, or a new one. Never nullptr.
using TransformFunc = std::function<api::ObjectPtr(api::ObjectPtr obj)>;

// `obj` without metadata.managedFields: the same pointer when it has none, otherwise one compact
// copy (the copy is built without them, so their bytes are really released).
api::ObjectPtr strip_managed_fields(api::ObjectPtr obj);

// The transform an informer applies: managedFields stripped unless `keep_managed_fields`, then
// `user` (if set).
TransformFunc make_transform(bool keep_managed_fields, TransformFunc user);

}  // namespace kop::cache
