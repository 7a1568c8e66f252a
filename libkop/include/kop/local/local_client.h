// kop::local::LocalClient — the in-process transport of kop::Client, served by a kop::local::Store.
//
// Everything a kop::Client promises holds here with the API server's semantics (see store.h):
// errors are absl::Status values carrying the API's Status (kop/client/errors.h predicates work),
// list pages with continue tokens, watch ERROR events carry is_gone() errors. Objects are shared,
// never copied, between the store and the caller (except when a non-storage version is asked).
//
//   auto store = std::make_shared<kop::local::Store>();
//   kop::local::LocalClient client(store);
//   client.create(kop::client::ResourceRef{"", "v1", "configmaps", {}, "default"}, cm);
//
// Threading: as kop::Client — any thread, concurrently. A WatchStream's next() is read by one
// thread; cancel() from any.
#pragma once

#include <memory>
#include <string>

#include "kop/client/client.h"
#include "kop/client/errors.h"
#include "kop/local/store.h"

namespace kop::local {

struct LocalClientOptions {
  // The field manager recorded for create/update/patch calls that name none (the API server
  // derives one from the User-Agent). Defaults to "kop".
  std::string default_field_manager = "kop";
};

class LocalClient : public kop::client::Client {
 public:
  explicit LocalClient(std::shared_ptr<Store> store, LocalClientOptions options = {});

  absl::StatusOr<api::ObjectPtr> get(const client::ResourceRef& ref,
                                     const client::GetOptions& options = {}) override;
  absl::StatusOr<client::ObjectList> list(const client::ResourceRef& ref,
                                          const client::ListOptions& options = {}) override;
  absl::StatusOr<client::WatchStreamPtr> watch(const client::ResourceRef& ref,
                                               const client::WatchOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> create(const client::ResourceRef& ref, const api::Object& object,
                                        const client::CreateOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> update(const client::ResourceRef& ref, const api::Object& object,
                                        const client::UpdateOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> patch(const client::ResourceRef& ref, client::PatchType type,
                                       std::string_view body,
                                       const client::PatchOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> remove(const client::ResourceRef& ref,
                                        const client::DeleteOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> get_status(const client::ResourceRef& ref,
                                            const client::GetOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> update_status(const client::ResourceRef& ref,
                                               const api::Object& object,
                                               const client::UpdateOptions& options = {}) override;
  absl::StatusOr<api::ObjectPtr> patch_status(const client::ResourceRef& ref,
                                              client::PatchType type, std::string_view body,
                                              const client::PatchOptions& options = {}) override;

  Store& store() { return *store_; }

 private:
  absl::StatusOr<ResourceTypePtr> resolve(const client::ResourceRef& ref) const;

  std::shared_ptr<Store> store_;
  LocalClientOptions options_;
};

}  // namespace kop::local
