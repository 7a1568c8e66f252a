// Fuzz target: kubeconfig files (YAML or JSON). Relative file references resolve under a folder
// that does not exist, so nothing outside the input is read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kop/client/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  (void)kop::client::parse_kubeconfig(text, "/nonexistent/kop-fuzz/kubeconfig");
  kop::client::KubeconfigOptions options;
  options.context = "other";
  (void)kop::client::parse_kubeconfig(text, "/nonexistent/kop-fuzz/kubeconfig", options);
  return 0;
}
