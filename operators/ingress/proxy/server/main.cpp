// kop-proxy --config FILE [--workers N]
//
// Runs the embedded proxy alone from a JSON config file (schema: docs/proxy-config.md).
// Reloads the file on SIGHUP and when it changes (checked every 500 ms by modification time,
// size and inode, so editors and atomic renames are both seen); an invalid file is refused and
// the running config keeps serving. SIGTERM/SIGINT: graceful shutdown (drain_timeout).
// Prints one line per event on stdout ("listener NAME bound to HOST:PORT", ...), flushed, which
// is how tests learn ephemeral ports.
#include <sys/stat.h>
#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <absl/synchronization/mutex.h>
#include "kop/flags/flags.h"
#include "kop/proxy/config.h"
#include "kop/proxy/proxy.h"

namespace {

void say(std::string_view line) {
  std::printf("kop-proxy: %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stdout);
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

struct FileId {
  time_t mtime_s = 0;
  long mtime_ns = 0;
  off_t size = -1;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

FileId file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileId{st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size, st.st_ino};
}

absl::Status load(kop::proxy::Proxy& proxy, const std::string& path) {
  std::string text;
  if (!read_file(path, &text))
    return absl::NotFoundError("cannot read " + path + ": " + std::strerror(errno));
  return proxy.apply_json(text);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  uint32_t workers = 0;
  kop::flags::FlagSet flags("kop-proxy", "kop-proxy --config FILE [--workers N]",
                            "Runs kop's L7 proxy alone from a JSON config file, reloaded on "
                            "SIGHUP and whenever the file changes.");
  flags.add_string("config", "FILE", "the proxy's config (kop.proxy/v1 JSON, docs/proxy-config.md)",
                   &path);
  flags.alias("-c", "config");
  flags.add_uint32("workers", "N", "worker threads (default: the config's server.workers)",
                   &workers);
  if (std::optional<int> exit = flags.run(argc, argv)) return *exit;
  if (path.empty()) return flags.usage_error("--config is required");
  // Debian's abseil is built without NDEBUG, so every absl::Mutex::Lock would run the lock-order
  // checker (a process-wide spin lock and graph update: ~300 instructions, shared by all
  // workers). The tests keep it; the program does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken synchronously by this thread; workers never see them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  kop::proxy::ProxyOptions opts;
  opts.on_event = say;
  opts.workers = workers;
  kop::proxy::Proxy proxy(opts);
  FileId seen = file_id(path);
  if (auto s = load(proxy, path); !s.ok()) {
    std::fprintf(stderr, "kop-proxy: %s\n", s.ToString().c_str());
    return 1;
  }
  if (auto p = proxy.admin_port()) say("admin port " + std::to_string(*p));
  say("ready");

  for (;;) {
    timespec ts{0, 500'000'000};  // 500 ms
    int sig = sigtimedwait(&set, nullptr, &ts);
    bool reload = false;
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) reload = true;
    FileId now = file_id(path);
    if (!(now == seen) && now.size >= 0) reload = true;
    if (!reload) continue;
    seen = now;
    if (auto s = load(proxy, path); !s.ok()) {
      say("reload failed, keeping version " + std::to_string(proxy.version()) + ": " +
          s.ToString());
    } else {
      say("reloaded version " + std::to_string(proxy.version()));
    }
  }
  say("shutting down");
  proxy.shutdown();
  return 0;
}
