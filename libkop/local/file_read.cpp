#include "file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <system_error>
#include <utility>

namespace kop::local {

FileRead read_error(int error) {
  return {std::nullopt, error, std::error_code(error, std::generic_category()).message()};
}

FileRead read_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return read_error(errno);
  struct stat st {};
  FileRead refused;
  if (::fstat(fd, &st) != 0)
    refused = read_error(errno);
  else if (S_ISDIR(st.st_mode))
    refused = read_error(EISDIR);
  else if (!S_ISREG(st.st_mode))
    refused.why = "not a regular file";
  if (!refused.why.empty()) {
    ::close(fd);
    return refused;
  }
  size_t size = st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0;
  std::string out(size + 1, '\0');  // one more: a file that grew is read to its end
  size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() * 2 + 4096);
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      FileRead r = read_error(errno);
      ::close(fd);
      return r;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return {std::move(out)};
}

}  // namespace kop::local
