// DirectoryWatch — wakes the manifest loader's thread when something under a directory tree may
// have changed (Linux inotify), so that an idle loader makes no system calls at all, and names
// the files the events were about, so that the loader looks at those only (whether they
// changed is decided by the loader from their bytes).
//
// Events watched on every directory added: a file closed after writing, created, deleted or
// renamed in or out, and the directory itself deleted or moved. A directory created (or moved in)
// under a watched one is watched at once, before the loader lists it.
//
// Threading: one thread calls add() and wait(); wake() may be called from any thread (it
// interrupts a wait(), e.g. to stop). Internal to kop::local.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kop::local {

class DirectoryWatch {
 public:
  // nullptr when inotify (or eventfd) is not available: the caller polls instead.
  static std::unique_ptr<DirectoryWatch> create();
  ~DirectoryWatch();
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

  // Watches `dir` (not its subdirectories: add each). Adding a watched directory again is cheap
  // and harmless. False when it cannot be watched (gone, or out of inotify watches).
  bool add(const std::string& dir);
  // What the events of one wait() were about.
  struct Changes {
    // Directories came, went or moved, or events were lost: anything may have changed.
    bool everything = false;
    std::vector<std::string> paths;  // files created, written, deleted or renamed (either name)
  };
  // Waits up to `timeout` for changes. True when something changed (all queued events are
  // consumed, including those arriving within `settle` of the previous one, for at most a
  // second, so that a burst of writes makes one wake-up), described in `out`; false on
  // timeout or wake().
  bool wait(std::chrono::milliseconds timeout, std::chrono::milliseconds settle, Changes& out);
  void wake();

 private:
  DirectoryWatch(int inotify_fd, int wake_fd);
  // Reads the queued events into `out`; true when any was a change. Watches new
  // subdirectories.
  bool drain(Changes& out);

  int inotify_fd_;
  int wake_fd_;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory path
};

}  // namespace kop::local
