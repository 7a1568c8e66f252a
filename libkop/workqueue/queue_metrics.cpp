#include "kop/workqueue/queue_metrics.h"

#include <string>

namespace kop::workqueue {
namespace {

const std::vector<std::string>& labels() {
  static const std::vector<std::string> l = {"name", "controller"};
  return l;
}

// controller-runtime's choice: 10 ns to 1000 s in 12 powers of ten, so both sub-microsecond
// queue hand-offs and stuck reconciles land in a finite bucket.
std::vector<double> duration_buckets() {
  return metrics::exponential_buckets(10e-9, 10, 12);
}

}  // namespace

QueueMetrics::QueueMetrics(metrics::Registry& registry, std::string_view name)
    : unfinished_family_(&registry.gauge_vec(
          "workqueue_unfinished_work_seconds",
          "Seconds of work in progress that work_duration_seconds has not seen yet, summed over "
          "the items being processed. Steady growth means stuck workers.",
          labels())),
      longest_family_(&registry.gauge_vec(
          "workqueue_longest_running_processor_seconds",
          "Seconds the longest-running worker has spent on its current item.", labels())),
      name_(name),
      depth_(&registry
                  .gauge_vec("workqueue_depth",
                             "Number of items waiting in the workqueue to be taken by a worker.",
                             labels())
                  .with({name, name})),
      adds_(&registry
                 .counter_vec("workqueue_adds_total",
                              "Number of items added to the workqueue that were not already "
                              "waiting in it.",
                              labels())
                 .with({name, name})),
      queue_duration_(&registry
                           .histogram_vec("workqueue_queue_duration_seconds",
                                          "Seconds an item waited in the workqueue between being "
                                          "added and being taken by a worker.",
                                          labels(), duration_buckets())
                           .with({name, name})),
      work_duration_(&registry
                          .histogram_vec("workqueue_work_duration_seconds",
                                         "Seconds a worker spent on an item, from taking it to "
                                         "marking it done.",
                                         labels(), duration_buckets())
                          .with({name, name})) {}

void QueueMetrics::watch_processing(std::function<double()> unfinished,
                                    std::function<double()> longest) {
  unfinished_ = unfinished_family_->set_function({name_, name_}, std::move(unfinished));
  longest_ = longest_family_->set_function({name_, name_}, std::move(longest));
}

metrics::Counter& retries_counter(metrics::Registry& registry, std::string_view name) {
  return registry
      .counter_vec("workqueue_retries_total",
                   "Number of items handed to the workqueue with a delay greater than zero "
                   "(add_after and add_rate_limited).",
                   labels())
      .with({name, name});
}

}  // namespace kop::workqueue
