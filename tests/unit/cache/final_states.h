// What the informer fault tests compare: each handler's last view of every object, the
// server's state and the cache's state, all as key -> resourceVersion.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include <absl/synchronization/mutex.h>
#include "kop/cache/event_handler.h"
#include "kop/cache/store.h"
#include "kop/client/client.h"

namespace kop::cache::testing {

// Last state per key as a handler saw it: resourceVersion, or "" after a delete.
class FinalStates : public EventHandler {
 public:
  void on_add(const api::ObjectPtr& obj, bool) override {
    set(obj->key(), obj->resource_version());
  }
  void on_update(const api::ObjectPtr&, const api::ObjectPtr& obj) override {
    set(obj->key(), obj->resource_version());
  }
  void on_delete(const api::ObjectPtr& obj, bool) override { set(obj->key(), ""); }
  std::map<std::string, std::string> live() const {
    absl::MutexLock lock(&mu_);
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : last_) {
      if (!v.empty()) out[k] = v;
    }
    return out;
  }

 private:
  void set(std::string key, std::string_view rv) {
    absl::MutexLock lock(&mu_);
    last_[std::move(key)] = std::string(rv);
  }
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> last_;
};

std::map<std::string, std::string> server_state(client::Client& c, const client::ResourceRef& ref) {
  auto list = c.list(ref);
  EXPECT_TRUE(list.ok()) << list.status();
  std::map<std::string, std::string> out;
  if (!list.ok()) return out;
  for (const auto& o : list->items) out[o->key()] = std::string(o->resource_version());
  return out;
}

std::map<std::string, std::string> cache_state(const Indexer& idx) {
  std::map<std::string, std::string> out;
  for (const auto& o : idx.list()) out[o->key()] = std::string(o->resource_version());
  return out;
}

}  // namespace kop::cache::testing
