// Reading small files (kubeconfig, keys, tokens) with errors that name the file and the reason.
#pragma once

#include <string>

#include <absl/status/statusor.h>

namespace kop::client::internal {

// The whole file. NotFound "X does not exist", PermissionDenied "cannot read X: Permission
// denied", or the errno text for anything else. The content is never put in a message.
absl::StatusOr<std::string> read_file(const std::string& path);

// A Status's message as std::string (Debian's absl::string_view is not std::string_view, and fmt
// cannot print it).
inline std::string msg(const absl::Status& s) {
  return std::string(s.message().data(), s.message().size());
}

}  // namespace kop::client::internal
