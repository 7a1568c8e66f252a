// Shared set-up of the controller tests: a kop::local store, its LocalClient, a Cache with real
// informers on it, and helpers to write ConfigMaps and wait for conditions.
#pragma once

#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "kop/cache/cache.h"
#include "kop/local/local_client.h"
#include "kop/local/store.h"
#include "kop/metrics/registry.h"

namespace kop::controller::testing {

inline const api::GroupVersionKind kConfigMap{"", "v1", "ConfigMap"};
inline const api::GroupVersionKind kSecret{"", "v1", "Secret"};

// Polls `pred` until true or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

struct Env {
  std::shared_ptr<local::Store> store = std::make_shared<local::Store>();
  local::LocalClient client{store};
  metrics::Registry registry;
  cache::Cache cache{client};

  client::ResourceRef ref(const api::GroupVersionKind& gvk, std::string_view ns = "default",
                          std::string_view name = {}) {
    return client::ResourceRef::of(gvk, ns, name);
  }
  api::ObjectPtr create(const api::GroupVersionKind& gvk, std::string_view name,
                        const std::function<void(api::Object&)>& edit = nullptr) {
    api::Object o(gvk);
    o.set_name(name);
    o.set_namespace("default");
    if (edit) edit(o);
    auto r = client.create(ref(gvk), o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : nullptr;
  }
  // Gets, edits and updates (no conflict possible: tests write each object from one thread).
  api::ObjectPtr edit(const api::GroupVersionKind& gvk, std::string_view name,
                      const std::function<void(api::Object&)>& fn) {
    auto got = client.get(ref(gvk, "default", name));
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return nullptr;
    api::Object o(**got);
    fn(o);
    auto r = client.update(ref(gvk, "default", name), o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : nullptr;
  }
};

// Counts reconciles per key and remembers the most concurrent ones seen.
class Recorder {
 public:
  void enter(const std::string& key) {
    absl::MutexLock lock(&mu_);
    ++calls_[key];
    ++total_;
    if (++in_flight_[key] > 1) overlapped_ = true;
    ++running_;
    max_running_ = std::max(max_running_, running_);
  }
  void leave(const std::string& key) {
    absl::MutexLock lock(&mu_);
    --in_flight_[key];
    --running_;
  }
  int calls(const std::string& key) const {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second;
  }
  int total() const {
    absl::MutexLock lock(&mu_);
    return total_;
  }
  int max_running() const {
    absl::MutexLock lock(&mu_);
    return max_running_;
  }
  bool overlapped() const {
    absl::MutexLock lock(&mu_);
    return overlapped_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> calls_;
  std::map<std::string, int> in_flight_;
  int total_ = 0, running_ = 0, max_running_ = 0;
  bool overlapped_ = false;
};

}  // namespace kop::controller::testing
