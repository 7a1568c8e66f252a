// Per annotation: converted, converted with a difference, or no Gateway API equivalent and why
// (gateway_migration_internal.h). The reasons name Gateway API v1.6.1's standard channel.
#include <algorithm>
#include <string_view>

#include "gateway_migration_internal.h"
#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_access(std::string_view name) {
  return starts_with(name, "auth-") || name == "whitelist-source-range" ||
         name == "allowlist-source-range" || name == "denylist-source-range" || name == "satisfy";
}

// Why an annotation that kop-ingress applies has no Gateway API counterpart.
std::string_view no_equivalent_reason(std::string_view name) {
  if (starts_with(name, "limit-"))
    return "rate and connection limits are not part of the Gateway API (an implementation's "
           "policy); kop-ingress applies them to the Ingress only";
  if (name == "proxy-body-size" || name == "client-body-buffer-size")
    return "the Gateway API has no request body limit";
  if (name == "proxy-read-timeout" || name == "proxy-send-timeout")
    return "nginx's timeouts are idle times between reads and writes; HTTPRoute timeouts "
           "(timeouts.request) bound the whole request, so none is set";
  if (starts_with(name, "proxy-next-upstream"))
    return "HTTPRoute retries are not in the standard channel of v1.6.1";
  if (name == "affinity" || starts_with(name, "session-cookie-"))
    return "session persistence is not in the standard channel of v1.6.1";
  if (name == "load-balance" || starts_with(name, "upstream-hash-by"))
    return "the load-balancing algorithm is the implementation's choice";
  if (name == "custom-headers")
    return "its ConfigMap's headers are a ResponseHeaderModifier `set`; migrate reads no "
           "ConfigMaps: add the filter by hand";
  if (name == "service-upstream")
    return "backendRefs name Services; how their endpoints are reached is the implementation's";
  if (name == "backend-protocol")
    return "set the Service port's appProtocol instead (kubernetes.io/h2c for GRPC and H2C); TLS "
           "to the backend is a BackendTLSPolicy";
  if (starts_with(name, "proxy-ssl-"))
    return "TLS to the backend is a BackendTLSPolicy (a CA and the name to verify), written by "
           "hand";
  return "no Gateway API equivalent";
}

}  // namespace

AnnotationConversion convert_annotation(const NginxVerdict& read, const MigrationFacts& facts) {
  const std::string& name = read.annotation;
  auto converted = [&](std::string note = "") {
    return AnnotationConversion{
        name, note.empty() ? Conversion::kConverted : Conversion::kDifferent, std::move(note)};
  };
  auto none = [&](std::string note) {
    return AnnotationConversion{name, Conversion::kNoEquivalent, std::move(note)};
  };
  if (starts_with(name, "auth-tls-") && facts.fail_closed)
    return none(
        "Gateway API v1.x has no per-route client certificate authentication (client "
        "certificate validation, where an implementation offers it, covers a whole Gateway "
        "listener, not a route): the rules it guards have no backendRefs (500) rather than "
        "serve without it; keep the Ingress on kop-ingress or validate at the listener");
  if (is_access(name)) {
    if (facts.fail_closed)
      return none(
          "access control is not part of the Gateway API: the rules it guards have no "
          "backendRefs (500) rather than serve without it; keep the Ingress on kop-ingress or use "
          "your implementation's policy");
    return none(cat("kop-ingress ignores it too: ",
                    read.note.empty() ? "it does nothing here" : read.note));
  }
  if (read.support == NginxSupport::kIgnored)
    return none(cat("kop-ingress ignores it too: ", read.note));

  if (starts_with(name, "canary")) {
    if (!facts.canary_merged)
      return none("no main Ingress serves the canary's host and path: not converted");
    if (name == "canary-by-cookie")
      return converted(
          "a RegularExpression match on the Cookie header (the regex syntax is the "
          "implementation's: RE2 in kop-ingress)");
    if (name == "canary-by-header-pattern")
      return converted(
          "a RegularExpression header match searching the pattern (the regex syntax is the "
          "implementation's: RE2 in kop-ingress)");
    return converted();
  }
  if (name == "use-regex")
    return converted(
        "RegularExpression path matches: their syntax and anchoring are the implementation's "
        "(kop-ingress: RE2, the path case-insensitive then anything: nginx's prefix semantics)");
  if (name == "rewrite-target") {
    switch (facts.rewrite) {
      case RewriteOutcome::kNone:
      case RewriteOutcome::kFullPath:
        return converted();
      case RewriteOutcome::kPrefix:
        return converted(
            "a PathPrefix match with URLRewrite ReplacePrefixMatch: case-sensitive (nginx: "
            "case-insensitive), and the bare prefix becomes the target without a trailing slash");
      case RewriteOutcome::kUnexpressed:
        return none(
            "capture groups other than \"<prefix>(/|$)(.*)\" -> \"<target>/$2\" have no URLRewrite "
            "form: these paths reach the backend unrewritten");
    }
  }
  if (name == "permanent-redirect" || name == "temporal-redirect" || name == "app-root")
    return converted("a RequestRedirect keeps the request's query string (nginx drops it)");
  if (name == "permanent-redirect-code" || name == "ssl-redirect" || name == "server-alias" ||
      name == "from-to-www-redirect" || name == "upstream-vhost" || name == "x-forwarded-prefix" ||
      name == "configuration-snippet" || starts_with(name, "cors-"))
    return converted();
  if (name == "force-ssl-redirect" || name == "enable-cors") return converted(read.note);
  return none(std::string(no_equivalent_reason(name)));
}

}  // namespace kop::ingress::internal
