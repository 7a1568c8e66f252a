// ingress-nginx's auth-tls-* (client certificates) applied to one Ingress (nginx_ingress.h):
// the CA Secret read and checked, the settings put on the certificates of the Ingress' TLS
// hosts, and its paths on hosts without one closed.
#include <algorithm>

#include "kop/api/views.h"
#include "kop/proxy/client_auth.h"
#include "nginx_ingress.h"
#include "text_cat.h"

namespace kop::ingress::internal {
namespace {

std::string secret_field() {
  return cat("metadata.annotations[", kNginxAnnotationPrefix, "auth-tls-secret]");
}

}  // namespace

void load_client_auth(Builder& b, const ObjectRef& src, NginxAnnotations& a) {
  NginxClientAuth& auth = *a.client_auth;
  std::string key = cat(auth.secret_namespace, "/", auth.secret_name);
  auto fail_closed = [&](std::string reason, const std::string& why) {
    b.event(
        src, std::move(reason), secret_field(),
        cat(why, ": the Ingress' paths answer 403 rather than serve without client certificates"));
    if (a.unenforced_access.empty()) a.unenforced_access = "auth-tls-secret";
    a.client_auth.reset();
  };
  // Read through the Builder so that a change of this Secret translates the Ingress again.
  const api::Object* secret = b.read_secret(auth.secret_namespace, auth.secret_name);
  if (secret == nullptr)
    return fail_closed("SecretNotFound", cat("Secret \"", key, "\" not found"));
  const api::SecretView view(*secret);
  auto ca = view.ca_cert();
  if (!ca || ca->empty())
    return fail_closed("SecretInvalid", cat("Secret \"", key, "\" has no key \"ca.crt\""));
  auth.config.ca_pem = std::move(*ca);
  auth.config.crl_pem = view.value("ca.crl").value_or("");
  if (auto compiled = proxy::ClientAuth::compile(auth.config); !compiled.ok()) {
    const auto& message = compiled.status().message();
    return fail_closed("SecretInvalid", cat("Secret \"", key,
                                            "\" (ca.crt, ca.crl) or the "
                                            "auth-tls-* settings: ",
                                            std::string_view(message.data(), message.size())));
  }
}

void close_hosts_without_tls(Builder& b, const ObjectRef& src, size_t first_route,
                             size_t first_default, const std::set<std::string>& tls_hosts) {
  std::set<std::string> closed;
  auto close = [&](RouteCandidate& c) {
    if (tls_hosts.count(c.host) != 0 || c.route->action != RouteAction::kForward) return;
    Route closed_route = *c.route;
    closed_route.action = RouteAction::kForbidden;
    closed_route.clusters.clear();
    c.route = std::move(closed_route);
    if (!closed.insert(c.host).second) return;
    b.event(src, "ClientAuthWithoutTLS", secret_field(),
            c.host == "*"
                ? std::string("the Ingress' rules without a host (and its default backend) have "
                              "no TLS entry, so no client certificate can be asked there: they "
                              "answer 403")
                : cat("host \"", c.host,
                      "\" has no TLS entry in this Ingress whose Secret loads, so no client "
                      "certificate can be asked there: its paths answer 403"));
  };
  for (size_t i = first_route; i < b.routes.size(); ++i) close(b.routes[i]);
  for (size_t i = first_default; i < b.default_backends.size(); ++i) close(b.default_backends[i]);
}

}  // namespace kop::ingress::internal
