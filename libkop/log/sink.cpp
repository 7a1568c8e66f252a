#include "kop/log/sink.h"

#include <errno.h>
#include <unistd.h>

namespace kop::log {

void FdSink::write(std::string_view line) {
  absl::MutexLock lock(&mu_);
  while (!line.empty()) {
    ssize_t n = ::write(fd_, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing log destination
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
}

void MemorySink::write(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  absl::MutexLock lock(&mu_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemorySink::lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

void MemorySink::clear() {
  absl::MutexLock lock(&mu_);
  lines_.clear();
}

}  // namespace kop::log
