// KindListing: one kind's listing from the cache, kept between builds and patched with the
// objects written since the last one, so a build lists in proportion to the changes, not to the
// objects.
//
// A full listing copies every object's shared pointer (at 10k Ingresses, 30k of them per build,
// each a cache miss on its control block, and as many releases when the listing is dropped).
// The informer's store counts its writes (Indexer::generation) and remembers the keys of its
// last writes (Indexer::keys_written_since): while the informer is the same one and its
// generation has not moved, the listing is the same; when it moved, only the written keys are
// read again (each object replaced in place, added at the end, or removed by moving the last one
// into its place). The listing is then the cache's as a set, not in its order (kop/ingress's
// ListTracker matches moved objects by pointer, and a build does not depend on order).
// Everything else lists in full, as Cache::list: the first time, another informer (an optional
// kind whose CRD came or went), an informer of several namespaces, a relist (the store replaced
// its content), more writes than the store remembers.
// Threading: one thread at a time (the IngressController's reconciling thread).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/status/status.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "kop/api/object.h"
#include "kop/cache/cache.h"

namespace kop::ingress {

class KindListing {
 public:
  // Brings `listing` to the objects of `gvk` in `cache` now (the same objects as
  // cache.list(gvk), in any order). `listing` is this KindListing's: the caller keeps it between
  // calls and changes it in no other way. Errors are Cache::list's (the listing is then empty
  // and the next call lists in full).
  absl::Status refresh(cache::Cache& cache, const api::GroupVersionKind& gvk,
                       std::vector<api::ObjectPtr>& listing);

  // How the calls so far went, for tests and the debug log.
  uint64_t full_listings() const { return full_; }
  uint64_t patched() const { return patched_; }
  uint64_t kept() const { return kept_; }

 private:
  // (namespace, name), viewing the listed object's own strings.
  using Name = std::pair<std::string_view, std::string_view>;

  absl::Status list_in_full(cache::Cache& cache, const api::GroupVersionKind& gvk,
                            std::vector<api::ObjectPtr>& listing);
  // `key` ("namespace/name" or "name") read again from the informer into `listing`.
  void patch(std::string_view key, std::vector<api::ObjectPtr>& listing);

  // The informer and generation the listing was taken at; null when it lists in full next.
  std::shared_ptr<cache::Informer> informer_;
  uint64_t generation_ = 0;
  // Where each listed object is in the listing; kept only while the listing can be patched.
  absl::flat_hash_map<Name, size_t> positions_;
  uint64_t full_ = 0;
  uint64_t patched_ = 0;
  uint64_t kept_ = 0;
};

}  // namespace kop::ingress
