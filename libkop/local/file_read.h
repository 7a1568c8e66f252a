// A manifest file's bytes, or why they could not be read: the errno (ENOENT and ENOTDIR say
// there is no file any more; EACCES, EIO or EISDIR that one is there but cannot be read) or
// that it is not a regular file. Internal to kop::local. Pure functions, any thread.
#pragma once

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>

namespace kop::local {

// A manifest file's bytes, or why they could not be read.
struct FileRead {
  std::optional<std::string> text;
  int error = 0;    // unset `text`: the errno (ENOENT, ENOTDIR: no file there any more), or 0
  std::string why;  // unset `text`: what to report
  bool gone() const { return error == ENOENT || error == ENOTDIR; }
};

// A failure with `error`'s text.
FileRead read_error(int error);

// Read straight into the string (a 15 MB file is copied once, not through a stream's buffers).
// Opened without blocking and read only when regular: a FIFO named like a manifest has no
// writer to wait for.
FileRead read_file(const std::filesystem::path& path);

}  // namespace kop::local
