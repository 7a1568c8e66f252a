// StatusWriter at scale: a 429 from the server (API Priority and Fairness shedding load) pauses
// every write for its Retry-After, not only the one object's; a round of writes is reported
// (count, duration, gauges) once every status is as desired.
#include "../../../operators/ingress/controllers/status_writer.h"
#include "eventually.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../../operators/ingress/controllers/ingress_controller.h"
#include "kop/client/errors.h"
#include "kop/local/local_client.h"
#include "kop/metrics/registry.h"

namespace kop::ingress {
namespace {

using Clock = std::chrono::steady_clock;

// The first status write is answered 429 with Retry-After: 1, as kube-apiserver's APF does when
// the priority level's queues are full; the call times are kept.
class ThrottlingClient : public local::LocalClient {
 public:
  using local::LocalClient::LocalClient;
  absl::StatusOr<api::ObjectPtr> update_status(const client::ResourceRef& ref,
                                               const api::Object& object,
                                               const client::UpdateOptions& options) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back(Clock::now());
      if (calls_.size() == 1)
        return client::too_many_requests("the server has received too many requests", 1);
    }
    return local::LocalClient::update_status(ref, object, options);
  }
  std::vector<Clock::time_point> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<Clock::time_point> calls_;
};

std::string ingress_json(int i) {
  return R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"ing-)" +
         std::to_string(i) +
         R"(","namespace":"default"},"spec":{"rules":[{"host":"h.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"s","port":{"number":80}}}}]}}]}})";
}

// Ingresses ing-0 .. ing-(n-1) in default, created through `client`.
void create_ingresses(client::Client& client, int n) {
  client::ResourceRef ingresses{"networking.k8s.io", "v1", "ingresses", "Ingress", "default", ""};
  for (int i = 0; i < n; ++i) {
    auto obj = api::Object::parse(ingress_json(i));
    ASSERT_TRUE(obj.ok());
    ASSERT_TRUE(client.create(ingresses, *obj).ok());
  }
}

TEST(StatusWriterAtScale, A429PausesEveryWriteForRetryAfterAndTheRoundIsReported) {
  constexpr int kIngresses = 20;
  auto store = std::make_shared<local::Store>();
  ThrottlingClient client(store);
  ASSERT_NO_FATAL_FAILURE(create_ingresses(client, kIngresses));
  cache::CacheOptions co;
  configure_cache(co);
  cache::Cache cache(client, co);
  api::GroupVersionKind gvk{"networking.k8s.io", "v1", "Ingress"};
  ASSERT_TRUE(cache.get_informer(gvk).ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(10)).ok());

  StatusWriter writer(client, cache, StatusWriterOptions{.retry_base = absl::Milliseconds(10)});
  auto desired = std::make_shared<DesiredStatus>();
  for (int i = 0; i < kIngresses; ++i)
    desired->ingresses.set("default/ing-" + std::to_string(i), {R"([{"ip":"192.0.2.1"}])", ""});
  writer.publish(desired);
  writer.set_writing(true);
  writer.start();
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (writer.last_round_writes() == 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  writer.stop();
  cache.stop();

  EXPECT_EQ(writer.throttled(), 1u);
  EXPECT_EQ(writer.last_round_writes(), static_cast<uint64_t>(kIngresses));
  auto calls = client.calls();
  ASSERT_EQ(calls.size(), static_cast<size_t>(kIngresses + 1));
  // Nothing was written during the second the server asked for (with a per-object backoff
  // alone, the 19 other objects would have been written at once).
  EXPECT_GE(calls[1] - calls[0], std::chrono::milliseconds(950));
  EXPECT_GE(writer.last_round_duration(), absl::Milliseconds(950));
  EXPECT_LT(writer.last_round_duration(), absl::Seconds(5));
  std::string text = metrics::default_registry().expose();
  EXPECT_NE(text.find("kop_ingress_status_round_writes 20"), std::string::npos) << text;
  EXPECT_NE(text.find("kop_ingress_status_throttled_total 1"), std::string::npos) << text;
  for (int i = 0; i < kIngresses; ++i) {
    auto got = client.get(client::ResourceRef::of(gvk, "default", "ing-" + std::to_string(i)));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ((*got)->get_string("/status/loadBalancer/ingress/0/ip").value_or(""), "192.0.2.1");
  }
}

using testing::eventually;

// A build that changed no Ingress (an endpoint change, say) hands the writer the same status
// shards: once they were found as desired and no Ingress was written since, the pass compares
// none of them with the cache. A status another writer changes is still put back at the next
// pass.
TEST(StatusWriterAtScale, UnchangedShardsAreNotComparedAgainUntilAnIngressIsWritten) {
  constexpr int kIngresses = 20;
  auto store = std::make_shared<local::Store>();
  local::LocalClient client(store);
  ASSERT_NO_FATAL_FAILURE(create_ingresses(client, kIngresses));
  cache::CacheOptions co;
  configure_cache(co);
  cache::Cache cache(client, co);
  api::GroupVersionKind gvk{"networking.k8s.io", "v1", "Ingress"};
  auto informer = cache.get_informer(gvk);
  ASSERT_TRUE(informer.ok());
  cache.start();
  ASSERT_TRUE(cache.wait_for_cache_sync(absl::Seconds(10)).ok());
  auto cached_ip = [&](int i) {
    api::ObjectPtr o = (*informer)->get("default", "ing-" + std::to_string(i));
    return o ? o->get_string("/status/loadBalancer/ingress/0/ip").value_or("") : "";
  };

  StatusWriter writer(client, cache, StatusWriterOptions{.retry_base = absl::Milliseconds(10)});
  IngressStatuses statuses;
  for (int i = 0; i < kIngresses; ++i)
    statuses.set("default/ing-" + std::to_string(i), {R"([{"ip":"192.0.2.1"}])", ""});
  // Each build hands over a new DesiredStatus sharing the unchanged shards.
  auto publish = [&] {
    auto d = std::make_shared<DesiredStatus>();
    d->ingresses = statuses;
    writer.publish(d);
  };
  // Publishes and waits until that pass has ended (the next one started: one writer thread).
  auto pass = [&] {
    const uint64_t before = writer.passes();
    publish();
    ASSERT_TRUE(eventually([&] { return writer.passes() > before; }));
    publish();
    ASSERT_TRUE(eventually([&] { return writer.passes() > before + 1; }));
  };
  publish();
  writer.set_writing(true);
  writer.start();
  ASSERT_TRUE(eventually([&] { return writer.last_round_writes() == kIngresses; }));
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < kIngresses; ++i)
      if (cached_ip(i) != "192.0.2.1") return false;
    return true;
  }));
  pass();  // the writes came back through the watch: every Ingress is compared once more
  const uint64_t compared = writer.ingresses_compared();
  pass();
  pass();
  EXPECT_EQ(writer.ingresses_compared(), compared);  // nothing written: nothing compared

  // Someone else changes one status; the next pass compares that Ingress' shard again (not
  // the others: the store tells which Ingresses were written) and puts ours back.
  auto other = client.get(client::ResourceRef::of(gvk, "default", "ing-3"));
  ASSERT_TRUE(other.ok());
  api::Object changed(**other);
  ASSERT_TRUE(
      changed.set_json("/status/loadBalancer", R"({"ingress":[{"ip":"198.51.100.9"}]})").ok());
  ASSERT_TRUE(client.update_status(client::ResourceRef::of(gvk, "default", "ing-3"), changed).ok());
  ASSERT_TRUE(eventually([&] { return cached_ip(3) == "198.51.100.9"; }));
  publish();
  EXPECT_TRUE(eventually([&] { return cached_ip(3) == "192.0.2.1"; }));
  pass();  // our write came back: its shard is compared once more, then found as desired
  const uint64_t again = writer.ingresses_compared() - compared;
  size_t shard_size = 0;
  for (int i = 0; i < kIngresses; ++i)
    if (IngressStatuses::shard_of("default/ing-" + std::to_string(i)) ==
        IngressStatuses::shard_of("default/ing-3"))
      ++shard_size;
  EXPECT_GE(again, 1U);
  EXPECT_LE(again, 3 * shard_size);  // a pass or three over one shard, not 20 Ingresses each
  const uint64_t settled = writer.ingresses_compared();
  pass();
  EXPECT_EQ(writer.ingresses_compared(), settled);
  writer.stop();
  cache.stop();
}

}  // namespace
}  // namespace kop::ingress
