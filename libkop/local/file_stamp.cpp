#include "file_stamp.h"

#include <sys/stat.h>
#include <cerrno>
#include <ctime>

#include <functional>

namespace kop::local {

std::optional<FileStamp> stamp_of(const std::string& path, int* error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (error != nullptr) *error = errno;
    return std::nullopt;
  }
  FileStamp s;
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

bool settled(const FileStamp& s, int64_t now_ns) {
  constexpr int64_t kSecond = 1'000'000'000;
  return s.mtime_ns + kSecond <= now_ns && s.ctime_ns + kSecond <= now_ns;
}

int64_t realtime_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

uint64_t content_hash(std::string_view bytes) {
  return std::hash<std::string_view>{}(bytes);
}

}  // namespace kop::local
