#include "kop/metrics/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kop::metrics {
namespace {

// Adds `v` to the double stored in `bits`.
void atomic_add_double(std::atomic<uint64_t>& bits, double v) {
  uint64_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old, std::bit_cast<uint64_t>(std::bit_cast<double>(old) + v),
                                     std::memory_order_relaxed)) {
  }
}

}  // namespace

void Counter::add(double v) {
  if (!(v >= 0)) return;  // negative or NaN
  // Whole amounts up to 2^53 stay exact in the integer part, the common case (bytes, counts).
  if (v < 9007199254740992.0 && v == std::floor(v)) {
    whole_.fetch_add(static_cast<uint64_t>(v), std::memory_order_relaxed);
    return;
  }
  atomic_add_double(fraction_bits_, v);
}

double Counter::value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         std::bit_cast<double>(fraction_bits_.load(std::memory_order_relaxed));
}

void Gauge::add(double v) {
  atomic_add_double(bits_, v);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds->size() + 1)) {}

void Histogram::observe(double v) {
  const std::vector<double>& b = *bounds_;
  // The first bucket whose upper bound is >= v; NaN and values above every bound go to +Inf.
  size_t i = std::isnan(v) ? b.size() : std::lower_bound(b.begin(), b.end(), v) - b.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add_double(sum_bits_, v);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;  // so +Inf and _count always agree
  s.sum = std::bit_cast<double>(sum_bits_.load(std::memory_order_relaxed));
  return s;
}

FunctionGauge GaugeVec::set_function(std::initializer_list<std::string_view> values,
                                     std::function<double()> fn) {
  Gauge& g = with(values);
  absl::MutexLock lock(&mu_);
  g.fn_ = std::move(fn);
  g.fn_id_ = ++next_fn_id_;
  return FunctionGauge(this, std::vector<std::string>(values.begin(), values.end()), g.fn_id_);
}

void GaugeVec::clear_function(const std::vector<std::string>& values, uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it == children_.end() || it->second->fn_id_ != id) return;
  // The last value the function produced is lost; a stopped component reports 0.
  it->second->fn_ = nullptr;
  it->second->set(0);
}

FunctionGauge& FunctionGauge::operator=(FunctionGauge&& other) noexcept {
  if (this != &other) {
    reset();
    vec_ = other.vec_;
    values_ = std::move(other.values_);
    id_ = other.id_;
    other.vec_ = nullptr;
  }
  return *this;
}

void FunctionGauge::reset() {
  if (vec_ == nullptr) return;
  vec_->clear_function(values_, id_);
  vec_ = nullptr;
}

namespace detail {

void fail(std::string_view what) {
  std::fprintf(stderr, "kop::metrics: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace detail
}  // namespace kop::metrics
