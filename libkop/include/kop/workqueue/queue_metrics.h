// kop/workqueue/queue_metrics.h: the workqueue's Prometheus metrics, with controller-runtime's
// names and labels {name, controller} (both set to the queue's name):
//   workqueue_depth                               gauge      items waiting (added, not yet taken)
//   workqueue_adds_total                          counter    adds that were not already waiting
//   workqueue_queue_duration_seconds              histogram  wait from add to get
//   workqueue_work_duration_seconds               histogram  time from get to done
//   workqueue_unfinished_work_seconds             gauge      summed age of items being processed
//   workqueue_longest_running_processor_seconds   gauge      age of the oldest item being processed
//   workqueue_retries_total                       counter    add_after/add_rate_limited, delay > 0
// The two histograms use controller-runtime's buckets, 1e-8 s to 1e3 s by factors of 10. The
// two "unfinished" gauges are computed when scraped (client-go recomputes them every 500 ms).
//
// Used by the queue templates; not needed by queue users. Update methods are atomics only and
// are called with the queue's lock held.
#pragma once

#include <functional>
#include <string_view>

#include "kop/metrics/registry.h"

namespace kop::workqueue {

class QueueMetrics {
 public:
  QueueMetrics(metrics::Registry& registry, std::string_view name);

  void added() {
    adds_->inc();
    depth_->inc();
  }
  void taken(double waited_seconds) {
    depth_->dec();
    queue_duration_->observe(waited_seconds);
  }
  void finished(double worked_seconds) { work_duration_->observe(worked_seconds); }

  // Installs the scrape-time gauges; `unfinished` and `longest` are called under the registry
  // family's lock and may take the queue's lock. Removed when this object is destroyed.
  void watch_processing(std::function<double()> unfinished, std::function<double()> longest);

 private:
  metrics::GaugeVec* unfinished_family_;
  metrics::GaugeVec* longest_family_;
  std::string name_;
  metrics::Gauge* depth_;
  metrics::Counter* adds_;
  metrics::Histogram* queue_duration_;
  metrics::Histogram* work_duration_;
  metrics::FunctionGauge unfinished_;
  metrics::FunctionGauge longest_;
};

// The workqueue_retries_total child for a queue name.
metrics::Counter& retries_counter(metrics::Registry& registry, std::string_view name);

}  // namespace kop::workqueue
