// What the fuzz targets share: a failed property prints both sides before aborting, so the
// crash report says what differed without a debugger.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace kop::fuzz {

[[noreturn]] inline void fail(std::string_view what, std::string_view first = {},
                              std::string_view second = {}) {
  std::fprintf(stderr, "property failed: %.*s\n--- first:\n%.*s\n--- second:\n%.*s\n",
               static_cast<int>(what.size()), what.data(), static_cast<int>(first.size()),
               first.data(), static_cast<int>(second.size()), second.data());
  std::abort();
}

}  // namespace kop::fuzz
