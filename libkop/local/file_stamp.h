// Whether a manifest file may have changed since it was last read, without reading it: the
// stat() identity (device, inode, size, mtime and ctime, in nanoseconds). A rename over the file,
// an in-place write or a `touch` all change it; when it changes, the loader reads the bytes and
// compares their hash before parsing. Internal to kop::local. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kop::local {

struct FileStamp {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// stat() of `path` (symbolic links followed, as a mounted ConfigMap's files are links);
// nullopt when it cannot be read, with its errno in `*error` when given.
std::optional<FileStamp> stamp_of(const std::string& path, int* error = nullptr);

// False while the file was modified less than a second before `now_ns` (CLOCK_REALTIME): file
// times have the kernel tick's granularity, so a second write of the same size within the same
// tick leaves the identity unchanged. Such a file's identity is not trusted: it is read (and
// hashed) again at the next look.
bool settled(const FileStamp& s, int64_t now_ns);
int64_t realtime_now_ns();

// A 64-bit hash of file bytes, compared only within one process.
uint64_t content_hash(std::string_view bytes);

}  // namespace kop::local
