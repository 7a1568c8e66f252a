// BackendTLSPolicy (gateway.networking.k8s.io/v1, GEP-1897): TLS from the proxy to a Service's
// endpoints. Each policy is read once per translation into the cluster `tls` settings it asks
// for (or why it cannot be used); service_backend() asks which policy applies to a Service
// port and notes the route; the policies' status.ancestors are made at the end, one entry per
// Gateway a route using the target attaches to.
#include <algorithm>
#include <map>

#include <absl/strings/escaping.h>

#include "gateway_internal.h"
#include "kop/proxy/certificate.h"
#include "paths.h"

namespace kop::ingress::gateway::internal {
namespace {

// The CA bundle of ConfigMap ref (same namespace as the policy), or why not: reason
// InvalidKind or InvalidCACertificateRef and a message naming the reference.
struct CaRef {
  std::string pem;
  std::string reason;
  std::string message;
};

CaRef ca_ref(const Translation& t, const api::Object& policy, const rapidjson::Value* ref) {
  CaRef out;
  std::string_view group = str_of(ref, "group");
  std::string_view kind = str_of(ref, "kind");
  std::string_view name = str_of(ref, "name");
  if (!group.empty() || kind != "ConfigMap") {
    out.reason = "InvalidKind";
    out.message = cat(group.empty() ? "core" : group, "/", kind,
                      " is not supported: a CA certificate reference must be a ConfigMap");
    return out;
  }
  const api::Object* cm = nullptr;
  for (const auto& o : t.snapshot.config_maps)
    if (o->ns() == policy.ns() && o->name() == name) cm = o.get();
  out.reason = "InvalidCACertificateRef";
  if (cm == nullptr) {
    out.message = cat("ConfigMap \"", policy.ns(), "/", name, "\" not found");
    return out;
  }
  std::string pem(cm->get_string("/data/ca.crt").value_or(""));
  if (pem.empty()) {
    out.message = cat("ConfigMap \"", policy.ns(), "/", name, "\" has no ca.crt");
    return out;
  }
  proxy::UpstreamTlsConfig probe;
  probe.ca_pem = pem;
  if (auto loaded = proxy::load_upstream_tls(probe); !loaded.ok()) {
    out.message = cat("ConfigMap \"", policy.ns(), "/", name,
                      "\": ca.crt is not a PEM certificate bundle that loads");
    return out;
  }
  out.reason.clear();
  out.pem = std::move(pem);
  return out;
}

// The policy's validation into `p.tls`, its Accepted and ResolvedRefs conditions, and an Event
// for each problem.
void read_policy(Translation& t, BackendTlsPolicy& p) {
  const api::Object& o = *p.object;
  int64_t gen = o.generation();
  const rapidjson::Value* v = member(o.spec(), "validation");
  std::string invalid;  // "field: why" that makes the policy unusable as a whole
  auto fail = [&](const std::string& field, const std::string& why) {
    t.builder.event(p.ref, "Invalid", field, why);
    if (invalid.empty()) invalid = cat(field, ": ", why);
  };
  proxy::UpstreamTlsConfig tls;
  auto host = ingress::internal::normalize_host(str_of(v, "hostname"));
  if (!host.ok() || (*host)[0] == '*')
    fail("spec.validation.hostname", "must be a DNS name without a wildcard");
  else
    tls.server_name = *host;
  size_t i = 0;
  for (const rapidjson::Value* san : items_of(v, "subjectAltNames")) {
    std::string field = cat("spec.validation.subjectAltNames[", i++, "]");
    std::string_view type = str_of(san, "type");
    if (type == "Hostname") {
      auto name = ingress::internal::normalize_host(str_of(san, "hostname"));
      if (!name.ok())
        fail(field + ".hostname", "must be a DNS name");
      else
        tls.subject_alt_names.push_back(*name);
    } else if (type == "URI") {
      std::string_view uri = str_of(san, "uri");
      size_t colon = uri.find("://");
      if (colon == std::string_view::npos || colon == 0 || colon + 3 >= uri.size() ||
          uri.find_first_of(" \t\r\n") != std::string_view::npos)
        fail(field + ".uri", "must be an absolute URI (scheme://...)");
      else
        tls.subject_alt_names.emplace_back(uri);
    } else {
      fail(field + ".type", cat("\"", type, "\" is not Hostname or URI"));
    }
  }
  std::vector<const rapidjson::Value*> refs = items_of(v, "caCertificateRefs");
  std::string_view known = str_of(v, "wellKnownCACertificates");
  bool no_ca = false;  // every caCertificateRef is invalid
  std::string refs_reason, refs_message;
  if (!refs.empty() && !known.empty()) {
    fail("spec.validation", "caCertificateRefs and wellKnownCACertificates cannot both be set");
  } else if (refs.empty() && known.empty()) {
    fail("spec.validation", "one of caCertificateRefs and wellKnownCACertificates is required");
  } else if (!known.empty()) {
    if (known != "System")
      fail("spec.validation.wellKnownCACertificates",
           cat("\"", known, "\" is not supported (only System)"));
    // System: ca_pem stays empty, the proxy trusts the system store.
  } else {
    i = 0;
    for (const rapidjson::Value* ref : refs) {
      std::string field = cat("spec.validation.caCertificateRefs[", i++, "]");
      CaRef ca = ca_ref(t, o, ref);
      if (!ca.reason.empty()) {
        t.builder.event(p.ref, ca.reason, field, ca.message);
        if (refs_reason.empty()) {
          refs_reason = ca.reason;
          refs_message = cat(field, ": ", ca.message);
        }
        continue;
      }
      if (!tls.ca_pem.empty() && tls.ca_pem.back() != '\n') tls.ca_pem += '\n';
      tls.ca_pem += ca.pem;
    }
    no_ca = tls.ca_pem.empty();
  }
  // options: no key is defined by the v1.6.1 API; implementation-specific ones kop-ingress does
  // not have are named in an Event and otherwise left alone.
  if (const rapidjson::Value* opts = member(o.spec(), "options"); opts && opts->IsObject())
    for (auto m = opts->MemberBegin(); m != opts->MemberEnd(); ++m)
      t.builder.event(p.ref, "UnsupportedValue", cat("spec.options[", m->name.GetString(), "]"),
                      "no option is supported; ignored");
  p.resolved_refs = refs_reason.empty()
                        ? condition("ResolvedRefs", kTrue, "ResolvedRefs", "", gen)
                        : condition("ResolvedRefs", kFalse, refs_reason, refs_message, gen);
  if (!invalid.empty())
    p.accepted = condition("Accepted", kFalse, "Invalid", invalid, gen);
  else if (no_ca)
    p.accepted = condition("Accepted", kFalse, "NoValidCACertificate",
                           "no caCertificateRef can be used: " + refs_message, gen);
  else
    p.accepted = condition("Accepted", kTrue, "Accepted", "", gen);
  if (p.accepted.status == kTrue) p.tls = std::move(tls);
}

}  // namespace

void read_backend_tls_policies(Translation& t) {
  for (const auto& ptr : t.snapshot.backend_tls_policies) {
    if (ptr->is_being_deleted()) continue;
    BackendTlsPolicy p;
    p.object = ptr.get();
    p.age = age_of(*ptr, "BackendTLSPolicy");
    p.ref = p.age.ref;
    t.policies.push_back(std::move(p));
  }
  // Oldest first, then namespace/name: the order in which policies claim their targets.
  std::sort(t.policies.begin(), t.policies.end(),
            [](const BackendTlsPolicy& a, const BackendTlsPolicy& b) { return a.age < b.age; });
  for (size_t n = 0; n < t.policies.size(); ++n) {
    BackendTlsPolicy& p = t.policies[n];
    read_policy(t, p);
    size_t i = 0;
    for (const rapidjson::Value* ref : items_of(p.object->spec(), "targetRefs")) {
      std::string field = cat("spec.targetRefs[", i++, "]");
      if (!str_of(ref, "group").empty() || str_of(ref, "kind") != "Service") {
        t.builder.event(p.ref, "UnsupportedValue", field,
                        cat("only core Services are supported targets, not ",
                            str_of(ref, "group").empty() ? "core" : str_of(ref, "group"), "/",
                            str_of(ref, "kind")));
        continue;
      }
      PolicyTarget key{std::string(p.object->ns()), std::string(str_of(ref, "name")),
                       std::string(str_of(ref, "sectionName"))};
      auto [it, inserted] = t.policy_targets.try_emplace(key, PolicyTargetUse{n, {}, {}});
      PolicyTargetUse& use = it->second;
      if (std::find(use.named_by.begin(), use.named_by.end(), n) != use.named_by.end())
        continue;  // the same target twice in one policy
      use.named_by.push_back(n);
      if (use.holder != n) {
        p.conflicted = true;
        t.builder.event(p.ref, "Conflicted", field,
                        cat("BackendTLSPolicy \"", t.policies[use.holder].ref.key(),
                            "\" is older (or first by name) and targets this Service",
                            key.section.empty() ? "" : cat(" port \"", key.section, "\"")));
      }
    }
  }
  // A policy that lost one target still applies to those it won (its status says Conflicted):
  // a Service it covers alone never falls back to plain text.
}

const BackendTlsPolicy* backend_tls_policy(Translation& t, std::string_view ns,
                                           std::string_view service, std::string_view port_name,
                                           const ObjectRef& route) {
  // A policy naming the port (sectionName) is more specific than one for the whole Service.
  auto it = t.policy_targets.end();
  if (!port_name.empty())
    it = t.policy_targets.find(
        PolicyTarget{std::string(ns), std::string(service), std::string(port_name)});
  if (it == t.policy_targets.end())
    it = t.policy_targets.find(PolicyTarget{std::string(ns), std::string(service), ""});
  const BackendTlsPolicy* p = nullptr;
  if (it != t.policy_targets.end()) {
    it->second.routes.insert(route);
    p = &t.policies[it->second.holder];
  }
  if (t.queries != nullptr) {
    RouteQuery q;
    q.policy = true;
    q.ns = std::string(ns);
    q.name = std::string(service);
    q.port = std::string(port_name);
    if (p != nullptr) {
      q.holder = p->ref;
      q.tls = p->tls;
    }
    t.queries->push_back(std::move(q));
  }
  return p;
}

void backend_tls_policy_statuses(Translation& t) {
  if (t.policy_targets.empty()) return;  // no policy used: no map of every route's status
  std::map<ObjectRef, const RouteStatus*> routes;
  for (const RouteStatus* s : t.route_statuses) routes[s->route] = s;
  // Per policy, every Gateway of ours that accepts a route using one of its targets (held or
  // lost to an older policy: a Conflicted policy is reported where it would have applied).
  std::vector<std::set<ParentRef>> ancestors(t.policies.size());
  for (const auto& [target, use] : t.policy_targets) {
    for (const ObjectRef& r : use.routes) {
      auto s = routes.find(r);
      if (s == routes.end()) continue;
      for (const RouteParentStatus& ps : s->second->parents) {
        const Condition* acc = nullptr;
        for (const Condition& c : ps.conditions)
          if (c.type == "Accepted") acc = &c;
        if (acc == nullptr || acc->status != kTrue) continue;
        for (size_t n : use.named_by)
          ancestors[n].insert(ParentRef{ps.parent.group, ps.parent.kind, ps.parent.ns,
                                        ps.parent.name, "", std::nullopt});
      }
    }
  }
  for (size_t n = 0; n < t.policies.size(); ++n) {
    const BackendTlsPolicy& p = t.policies[n];
    if (ancestors[n].empty()) continue;
    int64_t gen = p.object->generation();
    Condition accepted =
        p.conflicted ? condition("Accepted", kFalse, "Conflicted",
                                 "another BackendTLSPolicy takes precedence on a target", gen)
                     : p.accepted;
    PolicyStatus st;
    st.policy = p.ref;
    for (const ParentRef& a : ancestors[n]) {
      if (st.ancestors.size() == 16) break;  // the CRD allows 16 entries
      st.ancestors.push_back(RouteParentStatus{a, {accepted, p.resolved_refs}});
    }
    t.result.policy_statuses.push_back(std::move(st));
  }
  std::sort(t.result.policy_statuses.begin(), t.result.policy_statuses.end(),
            [](const PolicyStatus& a, const PolicyStatus& b) { return a.policy < b.policy; });
}

}  // namespace kop::ingress::gateway::internal
