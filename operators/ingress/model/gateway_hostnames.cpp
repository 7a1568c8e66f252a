// Gateway API hostname intersection between a listener and a route. A wildcard `*.example.com`
// stands for one or more labels in front of example.com (not example.com itself), so
// `*.example.com` and `a.b.example.com` meet in `a.b.example.com`.
#include "gateway_internal.h"

namespace kop::ingress::gateway {
namespace {

bool is_wildcard(std::string_view h) {
  return h.size() > 2 && h[0] == '*' && h[1] == '.';
}

// Whether the wildcard `*.suffix` covers `host` (exact name or a narrower wildcard).
bool covers(std::string_view wildcard, std::string_view host) {
  std::string_view dot_suffix = wildcard.substr(1);  // ".example.com"
  if (is_wildcard(host)) host = host.substr(1);      // compare ".a.example.com" too
  return host.size() > dot_suffix.size() &&
         host.substr(host.size() - dot_suffix.size()) == dot_suffix;
}

}  // namespace

std::optional<std::string> intersect_hostnames(std::string_view listener, std::string_view route) {
  if (listener.empty()) return std::string(route.empty() ? "*" : route);
  if (route.empty() || listener == route) return std::string(listener);
  if (is_wildcard(listener) && covers(listener, route)) return std::string(route);
  if (is_wildcard(route) && covers(route, listener)) return std::string(listener);
  return std::nullopt;
}

}  // namespace kop::ingress::gateway
