// Cookie affinity: the cookie value names an endpoint by a stable hash of its address, so a
// client sticks to one endpoint across workers, replicas and reloads while it is available.
// Encoding the endpoint (rather than hashing an opaque value onto the ring) makes stickiness
// exact: adding endpoints never moves an existing session.
#include <algorithm>

#include <absl/strings/str_cat.h>
#include <re2/re2.h>
#include "kop/proxy/cluster.h"
#include "kop/proxy/load_balancer.h"

namespace kop::proxy {

uint64_t affinity_id(std::string_view address_text) {
  return stable_hash(address_text, 0x6b6f702d61666631ULL);
}

bool find_cookie(const RequestView& request, std::string_view name, std::string_view* value) {
  std::string_view v;
  for (std::size_t nth = 0; request.header("cookie", nth, &v); ++nth) {
    // "a=1; b=2": name=value pairs separated by ';'.
    while (!v.empty()) {
      std::size_t semi = v.find(';');
      std::string_view pair = v.substr(0, semi);
      v = semi == std::string_view::npos ? std::string_view() : v.substr(semi + 1);
      while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
      std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view n = pair.substr(0, eq);
      while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.remove_suffix(1);
      if (n != name) continue;
      std::string_view val = pair.substr(eq + 1);
      while (!val.empty() && (val.back() == ' ' || val.back() == '\t')) val.remove_suffix(1);
      if (val.size() >= 2 && val.front() == '"' && val.back() == '"')
        val = val.substr(1, val.size() - 2);
      *value = val;
      return true;
    }
  }
  return false;
}

uint32_t Cluster::affinity_endpoint(std::string_view cookie_value) const {
  if (cookie_value.size() != 16 || affinity_ids.empty()) return kNoEndpoint;
  uint64_t id = 0;
  for (char ch : cookie_value) {
    int d;
    if (ch >= '0' && ch <= '9')
      d = ch - '0';
    else if (ch >= 'a' && ch <= 'f')
      d = ch - 'a' + 10;
    else
      return kNoEndpoint;
    id = (id << 4) | static_cast<uint64_t>(d);
  }
  auto it = std::lower_bound(affinity_ids.begin(), affinity_ids.end(),
                             std::pair<uint64_t, uint32_t>{id, 0});
  if (it == affinity_ids.end() || it->first != id) return kNoEndpoint;
  return it->second;
}

std::string Cluster::affinity_value(uint32_t endpoint) const {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t id = affinity_id(endpoints[endpoint].address_text());
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, id >>= 4) out[static_cast<std::size_t>(i)] = kHex[id & 15];
  return out;
}

void Cluster::append_set_cookie(uint32_t endpoint, std::string_view route_path,
                                std::string& out) const {
  append_set_cookie(affinity_value(endpoint), route_path, "", out);
}

void Cluster::append_set_cookie(std::string_view value, std::string_view route_path,
                                std::string_view user_agent, std::string& out) const {
  std::string_view path = hash_on.cookie_path;
  if (path.empty()) path = route_path;
  if (path.empty() || path.front() != '/') path = "/";
  absl::StrAppend(&out, "set-cookie: ", hash_on.name, "=",
                  absl::string_view(value.data(), value.size()),
                  "; Path=", absl::string_view(path.data(), path.size()));
  if (hash_on.cookie_ttl.count() > 0)
    absl::StrAppend(&out, "; Max-Age=", (hash_on.cookie_ttl.count() + 999) / 1000);
  if (hash_on.cookie_secure) absl::StrAppend(&out, "; Secure");
  bool omit = hash_on.cookie_samesite == "None" && hash_on.cookie_samesite_none_conditional &&
              samesite_none_incompatible(user_agent);
  if (!hash_on.cookie_samesite.empty() && !omit)
    absl::StrAppend(&out, "; SameSite=", hash_on.cookie_samesite);
  absl::StrAppend(&out, "; HttpOnly\r\n");
}

uint32_t Cluster::ring_endpoint(uint64_t hash) const {
  if (ring.empty()) return kNoEndpoint;
  auto it = std::lower_bound(ring.begin(), ring.end(), std::pair<uint64_t, uint32_t>{hash, 0});
  return it == ring.end() ? ring.front().second : it->second;
}

bool samesite_none_incompatible(std::string_view user_agent) {
  // Chromium's list (www.chromium.org/updates/same-site/incompatible-clients), as patterns.
  static const re2::RE2 kChrome(R"(Chrom(?:e|ium)/(?:5[1-9]|6[0-6])\.)");
  static const re2::RE2 kIos12(R"(\(iP.+; CPU .*OS 12[_\d]*.*\) AppleWebKit/)");
  static const re2::RE2 kMac1014(R"(\(Macintosh;.*Mac OS X 10_14[_\d]*.*\) AppleWebKit/)");
  static const re2::RE2 kSafari(R"(Version/[\d.]+.*Safari/)");
  static const re2::RE2 kEmbedded(
      R"(^Mozilla/[\d.]+ \(Macintosh;.*Mac OS X [_\d]+\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\)$)");
  static const re2::RE2 kUc(R"(UCBrowser/(\d+)\.(\d+)\.(\d+))");
  re2::StringPiece ua(user_agent.data(), user_agent.size());
  if (re2::RE2::PartialMatch(ua, kChrome) || re2::RE2::PartialMatch(ua, kIos12)) return true;
  if (re2::RE2::PartialMatch(ua, kMac1014) && !re2::RE2::PartialMatch(ua, R"(Chrom(?:e|ium))") &&
      (re2::RE2::PartialMatch(ua, kSafari) || re2::RE2::PartialMatch(ua, kEmbedded)))
    return true;
  int major = 0, minor = 0, build = 0;
  if (re2::RE2::PartialMatch(ua, kUc, &major, &minor, &build))
    return major < 12 || (major == 12 && (minor < 13 || (minor == 13 && build < 2)));
  return false;
}

}  // namespace kop::proxy
