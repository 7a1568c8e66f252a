#include "internal/files.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kop::client::internal {

absl::StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(fmt::format("{} does not exist", path));
    if (err == EACCES)
      return absl::PermissionDeniedError(fmt::format("cannot read {}: Permission denied", path));
    return absl::FailedPreconditionError(
        fmt::format("cannot read {}: {}", path, std::strerror(err)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(fmt::format("error while reading {}", path));
  return ss.str();
}

}  // namespace kop::client::internal
