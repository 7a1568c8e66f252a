#include "directory_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace kop::local {

namespace {

constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                             IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;

}  // namespace

std::unique_ptr<DirectoryWatch> DirectoryWatch::create() {
  int in = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0) return nullptr;
  int ev = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev < 0) {
    ::close(in);
    return nullptr;
  }
  return std::unique_ptr<DirectoryWatch>(new DirectoryWatch(in, ev));
}

DirectoryWatch::DirectoryWatch(int inotify_fd, int wake_fd)
    : inotify_fd_(inotify_fd), wake_fd_(wake_fd) {}

DirectoryWatch::~DirectoryWatch() {
  ::close(inotify_fd_);
  ::close(wake_fd_);
}

bool DirectoryWatch::add(const std::string& dir) {
  int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kEvents | IN_ONLYDIR);
  if (wd < 0) return false;
  dirs_[wd] = dir;
  return true;
}

void DirectoryWatch::wake() {
  uint64_t one = 1;
  // A full counter (never in practice) still leaves the fd readable: the wake is not lost.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

bool DirectoryWatch::drain(Changes& out) {
  alignas(inotify_event) char buf[16384];
  bool changed = false;
  for (;;) {
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) return changed;  // EAGAIN: nothing more queued
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + e->len;
      changed = true;
      if (e->mask & IN_Q_OVERFLOW) {
        out.everything = true;  // events were lost
        continue;
      }
      if (e->mask & IN_IGNORED) {
        dirs_.erase(e->wd);  // the directory is gone; the loader adds it again if it comes back
        out.everything = true;
        continue;
      }
      auto d = dirs_.find(e->wd);
      // A directory's own change, or one of its subdirectories': the files under it are
      // not named one by one.
      if (d == dirs_.end() || e->len == 0 ||
          (e->mask & (IN_ISDIR | IN_DELETE_SELF | IN_MOVE_SELF))) {
        out.everything = true;
        if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO)) && e->len > 0 &&
            d != dirs_.end())
          add(d->second + "/" + e->name);
        continue;
      }
      out.paths.push_back(d->second + "/" + e->name);
    }
  }
}

bool DirectoryWatch::wait(std::chrono::milliseconds timeout, std::chrono::milliseconds settle,
                          Changes& out) {
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int r = ::poll(fds, 2, static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  if (fds[1].revents & POLLIN) {
    uint64_t v;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
    return false;
  }
  bool changed = drain(out);
  // A burst (an editor's write + rename, a tool writing many files) wakes the loader once; a
  // writer that never pauses still gets its changes loaded after a second.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (changed && std::chrono::steady_clock::now() < give_up &&
         ::poll(fds, 1, static_cast<int>(settle.count())) > 0)
    drain(out);
  return changed;
}

}  // namespace kop::local
