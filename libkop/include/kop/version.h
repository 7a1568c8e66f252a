// kop/version.h: the libkop version, for programs that report what they were built against.
#pragma once

#include <string_view>

namespace kop {

// The version of the linked libkop, "MAJOR.MINOR.PATCH" (from meson's project version).
std::string_view version();

}  // namespace kop
