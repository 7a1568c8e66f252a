// kop/log/sink.h: where log lines go.
//
// A Sink receives finished records, one line each, newline included. Implementations must be
// safe to call from many threads at once and must keep each line whole.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

namespace kop::log {

class Sink {
 public:
  virtual ~Sink() = default;
  // `line` ends with '\n'. Called from any thread.
  virtual void write(std::string_view line) = 0;
};

// Writes to a file descriptor (standard error by default) with one write(2) per line, under a
// lock so lines from different threads never interleave.
class FdSink : public Sink {
 public:
  explicit FdSink(int fd = 2) : fd_(fd) {}
  void write(std::string_view line) override;

 private:
  const int fd_;
  absl::Mutex mu_;
};

// Keeps lines in memory: for tests.
class MemorySink : public Sink {
 public:
  void write(std::string_view line) override;
  // The lines so far, without their trailing newlines.
  std::vector<std::string> lines() const;
  void clear();

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kop::log
