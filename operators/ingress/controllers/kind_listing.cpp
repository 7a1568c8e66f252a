// KindListing::refresh(): kept, patched from the written keys, or listed in full (kind_listing.h
// states when each).
#include "kind_listing.h"

#include <optional>

namespace kop::ingress {

absl::Status KindListing::refresh(cache::Cache& cache, const api::GroupVersionKind& gvk,
                                  std::vector<api::ObjectPtr>& listing) {
  std::shared_ptr<cache::Informer> informer = cache.find_informer(gvk);
  if (informer == nullptr || informer != informer_) return list_in_full(cache, gvk, listing);
  if (informer->generation() == generation_) {
    ++kept_;
    return absl::OkStatus();
  }
  std::optional<cache::WrittenKeys> written = informer->keys_written_since(generation_);
  if (!written) return list_in_full(cache, gvk, listing);
  // A key written twice is read twice: the second read finds the object already in place.
  for (const std::string& key : written->keys) patch(key, listing);
  generation_ = written->generation;
  ++patched_;
  return absl::OkStatus();
}

absl::Status KindListing::list_in_full(cache::Cache& cache, const api::GroupVersionKind& gvk,
                                       std::vector<api::ObjectPtr>& listing) {
  ++full_;
  // The stamp before the listing: a write in between is in the listing and read again by the
  // next patch, which finds it in place.
  informer_ = cache.find_informer(gvk);
  generation_ = informer_ ? informer_->generation() : 0;
  positions_.clear();
  absl::StatusOr<std::vector<api::ObjectPtr>> objects = cache.list(gvk);
  if (!objects.ok()) {
    informer_ = nullptr;
    listing.clear();
    return objects.status();
  }
  listing = std::move(*objects);
  // Several namespaces' stores cannot say which keys were written: such a listing is never
  // patched, so it needs no positions.
  if (informer_ == nullptr || informer_->parts().size() != 1) return absl::OkStatus();
  positions_.reserve(listing.size());
  for (size_t i = 0; i < listing.size(); ++i)
    positions_.emplace(Name{listing[i]->ns(), listing[i]->name()}, i);
  return absl::OkStatus();
}

void KindListing::patch(std::string_view key, std::vector<api::ObjectPtr>& listing) {
  // Names hold no '/': the store's key is "namespace/name", or "name" for a cluster-scoped one.
  const size_t slash = key.find('/');
  const Name name = slash == std::string_view::npos
                        ? Name{std::string_view(), key}
                        : Name{key.substr(0, slash), key.substr(slash + 1)};
  api::ObjectPtr now = informer_->get(name.first, name.second);
  auto at = positions_.find(name);
  if (at == positions_.end()) {
    if (now == nullptr) return;  // added and removed since the last refresh
    positions_.emplace(Name{now->ns(), now->name()}, listing.size());
    listing.push_back(std::move(now));
    return;
  }
  const size_t i = at->second;
  if (listing[i] == now) return;
  // The entry views the listed object's strings: it goes before that object does.
  positions_.erase(at);
  if (now != nullptr) {
    positions_.emplace(Name{now->ns(), now->name()}, i);
    listing[i] = std::move(now);
    return;
  }
  if (i + 1 != listing.size()) {
    positions_[Name{listing.back()->ns(), listing.back()->name()}] = i;
    listing[i] = std::move(listing.back());
  }
  listing.pop_back();
}

}  // namespace kop::ingress
