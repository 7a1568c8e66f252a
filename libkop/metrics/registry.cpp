#include "kop/metrics/registry.h"

#include <cmath>
#include <limits>
#include <new>

namespace kop::metrics {
namespace {

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void validate(detail::FamilyInfo& info) {
  if (!valid_metric_name(info.name))
    detail::fail(fmt::format("invalid metric name {:?}", info.name));
  for (size_t i = 0; i < info.label_names.size(); ++i) {
    const std::string& l = info.label_names[i];
    if (!valid_label_name(l)) {
      detail::fail(fmt::format("metric {}: invalid label name {:?}", info.name, l));
    }
    if (info.type == Type::kHistogram && l == "le") {
      detail::fail(fmt::format("histogram {}: label name \"le\" is reserved", info.name));
    }
    for (size_t j = 0; j < i; ++j) {
      if (info.label_names[j] == l) {
        detail::fail(fmt::format("metric {}: duplicate label name {}", info.name, l));
      }
    }
  }
  if (info.type == Type::kHistogram) {
    std::vector<double>& b = info.bounds;
    if (!b.empty() && std::isinf(b.back()) && b.back() > 0) b.pop_back();
    for (size_t i = 0; i < b.size(); ++i) {
      if (std::isnan(b[i]) || (i > 0 && !(b[i] > b[i - 1]))) {
        detail::fail(fmt::format("histogram {}: buckets must be strictly increasing", info.name));
      }
    }
  }
}

bool same_definition(const detail::FamilyInfo& a, const detail::FamilyInfo& b) {
  return a.type == b.type && a.help == b.help && a.label_names == b.label_names &&
         a.bounds == b.bounds;
}

}  // namespace

std::vector<double> default_buckets() {
  return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (count < 1 || start <= 0 || factor <= 1) {
    detail::fail("exponential_buckets needs count >= 1, start > 0 and factor > 1");
  }
  std::vector<double> b;
  b.reserve(count);
  for (int i = 0; i < count; ++i, start *= factor) b.push_back(start);
  return b;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  if (count < 1 || width <= 0) detail::fail("linear_buckets needs count >= 1 and width > 0");
  std::vector<double> b;
  b.reserve(count);
  for (int i = 0; i < count; ++i) b.push_back(start + width * i);
  return b;
}

FamilyBase& Registry::get_or_create(detail::FamilyInfo info) {
  validate(info);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(info.name);
  if (it != families_.end()) {
    if (!same_definition(it->second->info(), info)) {
      detail::fail(fmt::format("metric {} registered twice with different definitions", info.name));
    }
    return *it->second;
  }
  std::unique_ptr<FamilyBase> f;
  switch (info.type) {
    case Type::kCounter:
      f = std::make_unique<CounterVec>(info);
      break;
    case Type::kGauge:
      f = std::make_unique<GaugeVec>(info);
      break;
    case Type::kHistogram:
      f = std::make_unique<HistogramVec>(info);
      break;
  }
  std::string name = info.name;
  return *families_.emplace(std::move(name), std::move(f)).first->second;
}

CounterVec& Registry::counter_vec(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names) {
  return static_cast<CounterVec&>(get_or_create(detail::FamilyInfo{
      std::string(name), std::string(help), Type::kCounter, std::move(label_names), {}}));
}

GaugeVec& Registry::gauge_vec(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names) {
  return static_cast<GaugeVec&>(get_or_create(detail::FamilyInfo{
      std::string(name), std::string(help), Type::kGauge, std::move(label_names), {}}));
}

HistogramVec& Registry::histogram_vec(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> buckets) {
  return static_cast<HistogramVec&>(
      get_or_create(detail::FamilyInfo{std::string(name), std::string(help), Type::kHistogram,
                                       std::move(label_names), std::move(buckets)}));
}

Counter& Registry::counter(std::string_view name, std::string_view help) {
  return counter_vec(name, help, {}).with({});
}

Gauge& Registry::gauge(std::string_view name, std::string_view help) {
  return gauge_vec(name, help, {}).with({});
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> buckets) {
  return histogram_vec(name, help, {}, std::move(buckets)).with({});
}

FunctionGauge Registry::gauge_func(std::string_view name, std::string_view help,
                                   std::function<double()> fn) {
  return gauge_vec(name, help, {}).set_function({}, std::move(fn));
}

std::string Registry::expose() const {
  fmt::memory_buffer out;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, family] : families_) family->write(out);
  }
  return std::string(out.data(), out.size());
}

Registry& default_registry() {
  // Built in place and never destroyed: components may still update it while the process exits.
  alignas(Registry) static unsigned char storage[sizeof(Registry)];
  static Registry* registry = ::new (storage) Registry();
  return *registry;
}

}  // namespace kop::metrics
