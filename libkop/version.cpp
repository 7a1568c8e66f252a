#include "kop/version.h"

namespace kop {

std::string_view version() {
  return KOP_VERSION;
}

}  // namespace kop
