// kop/metrics/metrics.h: the metric types of kop::metrics — Counter, Gauge, Histogram and their
// labelled families (CounterVec, GaugeVec, HistogramVec). They are created by a Registry
// (kop/metrics/registry.h), which writes them in the Prometheus text exposition format.
//
// Update path: inc()/add()/set()/observe() are a few relaxed atomic operations; they never lock
// and never allocate. A labelled child is found with vec.with({"GET", "200"}), which takes a
// reader lock and allocates only the first time a label set is seen; it returns a reference
// that stays valid as long as the registry lives, so hot code looks it up once and keeps it:
//     Counter& ok = requests.with({"GET", "200"});   // once
//     ok.inc();                                       // per request
// Children are never removed (keep label sets bounded), except function gauges, which are
// unregistered when their FunctionGauge handle is destroyed.
//
// Threads: every method may be called from any thread.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

namespace kop::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// A value that only goes up. inc() is one atomic add on an integer; add() with a non-integral
// amount uses a compare-and-swap loop on a double.
class Counter {
 public:
  void inc() { whole_.fetch_add(1, std::memory_order_relaxed); }
  // Adds `v`; negative and NaN amounts are ignored (a counter never goes down).
  void add(double v);
  double value() const;

 private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<uint64_t> fraction_bits_{0};  // a double
};

// A value that goes up and down, or is set.
class Gauge {
 public:
  void set(double v) { bits_.store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed); }
  void inc() { add(1); }
  void dec() { add(-1); }
  void add(double v);
  void sub(double v) { add(-v); }
  // The stored value (a function gauge's function is called only at scrape).
  double value() const { return std::bit_cast<double>(bits_.load(std::memory_order_relaxed)); }

 private:
  template <typename M>
  friend class MetricVec;
  friend class GaugeVec;
  std::atomic<uint64_t> bits_{0};
  // Set for function gauges: the value is computed at scrape time. Guarded by the vec's lock.
  std::function<double()> fn_;
  uint64_t fn_id_ = 0;
};

// Counts observations into buckets with upper bounds (le). Buckets are kept per bucket and
// made cumulative when written, so one observe() is one atomic add plus a CAS on the sum.
class Histogram {
 public:
  // `bounds`: sorted upper bounds, +Inf not included; must outlive the histogram.
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds.size() + 1
  std::atomic<uint64_t> sum_bits_{0};
};

class GaugeVec;
class FunctionGauge;

namespace detail {

// Orders label-value lists; transparent so a lookup by string_views allocates nothing.
struct LabelsLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }
};

struct FamilyInfo {
  std::string name;
  std::string help;
  Type type;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms only
};

// Writers for one child (exposition.cpp).
void write_sample(fmt::memory_buffer& out, const FamilyInfo& info,
                  const std::vector<std::string>& values, const Counter& m);
void write_sample(fmt::memory_buffer& out, const FamilyInfo& info,
                  const std::vector<std::string>& values, const Gauge& m);
void write_sample(fmt::memory_buffer& out, const FamilyInfo& info,
                  const std::vector<std::string>& values, const Histogram& m);
void write_header(fmt::memory_buffer& out, const FamilyInfo& info);

[[noreturn]] void fail(std::string_view what);

}  // namespace detail

// A metric family: one name, one help, a fixed list of label names, a child per label values.
class FamilyBase {
 public:
  explicit FamilyBase(detail::FamilyInfo info) : info_(std::move(info)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const detail::FamilyInfo& info() const { return info_; }
  // Appends HELP, TYPE and every child in label-value order; nothing when there is no child.
  virtual void write(fmt::memory_buffer& out) const = 0;

 protected:
  detail::FamilyInfo info_;
};

template <typename M>
class MetricVec : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The child for these label values (as many as label names, in their order). Creates it on
  // first use. Aborts on a wrong number of values: that is a programming error.
  M& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }
  M& with(std::span<const std::string_view> values) {
    if (values.size() != info_.label_names.size()) {
      detail::fail(fmt::format("metric {}: {} label values for {} label names", info_.name,
                               values.size(), info_.label_names.size()));
    }
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = children_.find(values);
      if (it != children_.end()) return *it->second;
    }
    absl::MutexLock lock(&mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::vector<std::string> key(values.begin(), values.end());
    return *children_.emplace(std::move(key), make()).first->second;
  }
  M& with(const std::vector<std::string>& values) {
    std::vector<std::string_view> views(values.begin(), values.end());
    return with(std::span<const std::string_view>(views));
  }

  void write(fmt::memory_buffer& out) const override {
    absl::ReaderMutexLock lock(&mu_);
    if (children_.empty()) return;
    detail::write_header(out, info_);
    for (const auto& [values, child] : children_) write_child(out, values, *child);
  }

 protected:
  std::unique_ptr<M> make() {
    if constexpr (std::is_same_v<M, Histogram>) {
      return std::make_unique<M>(&info_.bounds);
    } else {
      return std::make_unique<M>();
    }
  }
  void write_child(fmt::memory_buffer& out, const std::vector<std::string>& values,
                   const M& child) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if constexpr (std::is_same_v<M, Gauge>) {
      if (child.fn_) {
        Gauge computed;
        computed.set(child.fn_());
        detail::write_sample(out, info_, values, computed);
        return;
      }
    }
    detail::write_sample(out, info_, values, child);
  }

  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>, detail::LabelsLess> children_
      ABSL_GUARDED_BY(mu_);
};

using CounterVec = MetricVec<Counter>;
using HistogramVec = MetricVec<Histogram>;

class GaugeVec : public MetricVec<Gauge> {
 public:
  using MetricVec<Gauge>::MetricVec;

  // Makes the child for `values` a function gauge: `fn` is called at every scrape (under this
  // family's lock: it must not touch the registry) until the returned handle is destroyed.
  // A later set_function for the same labels replaces the function; destroying the earlier
  // handle then leaves the later one in place.
  [[nodiscard]] FunctionGauge set_function(std::initializer_list<std::string_view> values,
                                           std::function<double()> fn);

 private:
  friend class FunctionGauge;
  void clear_function(const std::vector<std::string>& values, uint64_t id);
  uint64_t next_fn_id_ ABSL_GUARDED_BY(mu_) = 0;
};

// Keeps a function gauge registered; unregisters it when destroyed or reset. Move-only.
class FunctionGauge {
 public:
  FunctionGauge() = default;
  FunctionGauge(GaugeVec* vec, std::vector<std::string> values, uint64_t id)
      : vec_(vec), values_(std::move(values)), id_(id) {}
  FunctionGauge(FunctionGauge&& other) noexcept { *this = std::move(other); }
  FunctionGauge& operator=(FunctionGauge&& other) noexcept;
  FunctionGauge(const FunctionGauge&) = delete;
  FunctionGauge& operator=(const FunctionGauge&) = delete;
  ~FunctionGauge() { reset(); }

  // Unregisters now; after this returns the function is never called again.
  void reset();

 private:
  GaugeVec* vec_ = nullptr;
  std::vector<std::string> values_;
  uint64_t id_ = 0;
};

}  // namespace kop::metrics
