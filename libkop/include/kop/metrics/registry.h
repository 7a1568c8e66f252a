// kop/metrics/registry.h: a set of metric families and their Prometheus text exposition.
//
// Registering is get-or-create: asking twice for the same name with the same type, help, label
// names (and buckets) returns the same family, so several components (two workqueues) can share
// one family, as with controller-runtime's global registry. Asking for a name with a different
// definition, or an invalid metric or label name, is a programming error and aborts with a
// message, as Prometheus' MustRegister panics: such code cannot have run its tests.
//
// expose() writes the text format 0.0.4 (Content-Type: text/plain; version=0.0.4): families
// sorted by name, children by label values, floats as Go's strconv 'g' does (+Inf, -Inf, NaN),
// histograms as cumulative _bucket{le=...} lines ending with +Inf, then _sum and _count.
//
// Threads: all methods may be called from any thread. Returned references stay valid for the
// registry's lifetime. default_registry() lives for the whole process (it is never destroyed,
// so threads still running at exit may keep updating it).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include "kop/metrics/metrics.h"

namespace kop::metrics {

// Prometheus' default buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 (seconds).
std::vector<double> default_buckets();
// `count` buckets: start, start*factor, start*factor^2, ...
std::vector<double> exponential_buckets(double start, double factor, int count);
// `count` buckets: start, start+width, start+2*width, ...
std::vector<double> linear_buckets(double start, double width, int count);

// The Content-Type of expose()'s output.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help);
  Gauge& gauge(std::string_view name, std::string_view help);
  // `buckets`: strictly increasing upper bounds; a trailing +Inf is implied (and dropped if
  // given). Defaults to default_buckets().
  Histogram& histogram(std::string_view name, std::string_view help,
                       std::vector<double> buckets = default_buckets());

  CounterVec& counter_vec(std::string_view name, std::string_view help,
                          std::vector<std::string> label_names);
  GaugeVec& gauge_vec(std::string_view name, std::string_view help,
                      std::vector<std::string> label_names);
  HistogramVec& histogram_vec(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names,
                              std::vector<double> buckets = default_buckets());

  // An unlabelled gauge whose value is `fn()` at each scrape, until the handle is destroyed.
  [[nodiscard]] FunctionGauge gauge_func(std::string_view name, std::string_view help,
                                         std::function<double()> fn);

  // The whole registry in the text exposition format 0.0.4.
  std::string expose() const;

 private:
  FamilyBase& get_or_create(detail::FamilyInfo info);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

// The process-wide registry that libkop components use unless given another.
Registry& default_registry();

// Formats `v` as Prometheus does, i.e. Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest
// digits that round-trip, in exponent form when the decimal exponent is < -4 or >= 6
// (0.0001, 1e-05, 123456, 1.234567e+06); and "+Inf", "-Inf", "NaN".
void append_float(fmt::memory_buffer& out, double v);
std::string format_float(double v);

}  // namespace kop::metrics
