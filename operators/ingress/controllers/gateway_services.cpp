// Gateway Services: the port mapping, the addresses and the desired Service objects.
#include "gateway_services.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_split.h>
#include "json_text.h"

namespace kop::ingress {
namespace {

using gateway::Condition;

constexpr std::string_view kTrue = "True";
constexpr std::string_view kFalse = "False";

std::string key_of(const api::Object& o) {
  return std::string(o.ns()) + "/" + std::string(o.name());
}

std::string port_name(uint16_t port) {
  return "p" + std::to_string(port);
}

// The (port, int targetPort) pairs of a Service's spec.ports named p<port>.
std::map<uint16_t, uint16_t> mapped_ports(const api::Object& svc) {
  std::map<uint16_t, uint16_t> out;
  const rapidjson::Value* ports = svc.at("/spec/ports");
  if (ports == nullptr || !ports->IsArray()) return out;
  for (const auto& p : ports->GetArray()) {
    if (!p.IsObject() || !p.HasMember("port") || !p["port"].IsInt() || !p.HasMember("targetPort") ||
        !p["targetPort"].IsInt() || !p.HasMember("name") || !p["name"].IsString())
      continue;
    int port = p["port"].GetInt();
    int target = p["targetPort"].GetInt();
    if (port < 1 || port > 65535 || target < 1 || target > 65535) continue;
    if (p["name"].GetString() != port_name(static_cast<uint16_t>(port))) continue;
    out[static_cast<uint16_t>(port)] = static_cast<uint16_t>(target);
  }
  return out;
}

// Condition `type` of `conditions`, or nullptr.
Condition* find(std::vector<Condition>& conditions, std::string_view type) {
  for (Condition& c : conditions)
    if (c.type == type) return &c;
  return nullptr;
}

void set(std::vector<Condition>& conditions, std::string_view type, std::string_view status,
         std::string_view reason, std::string message, int64_t generation) {
  Condition* c = find(conditions, type);
  if (c == nullptr) {
    conditions.push_back(Condition{.type = std::string(type)});
    c = &conditions.back();
  }
  c->status = std::string(status);
  c->reason = std::string(reason);
  c->message = std::move(message);
  c->observed_generation = generation;
}

std::string ports_json(const DesiredGatewayService& want, const api::Object* current,
                       bool keep_node_ports) {
  std::string out = "[";
  for (const auto& [port, target] : want.ports) {
    if (out.size() > 1) out += ",";
    out += "{\"name\":\"" + port_name(port) +
           "\",\"protocol\":\"TCP\",\"port\":" + std::to_string(port) +
           ",\"targetPort\":" + std::to_string(target);
    // A nodePort the server gave a port that stays is kept (else it would hand out another).
    const rapidjson::Value* ports = current ? current->at("/spec/ports") : nullptr;
    if (keep_node_ports && ports != nullptr && ports->IsArray())
      for (const auto& p : ports->GetArray())
        if (p.IsObject() && p.HasMember("port") && p["port"].IsInt() &&
            p["port"].GetInt() == port && p.HasMember("nodePort") && p["nodePort"].IsInt())
          out += ",\"nodePort\":" + std::to_string(p["nodePort"].GetInt());
    out += "}";
  }
  return out + "]";
}

std::string map_json(const api::StringMap& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) {
    if (out.size() > 1) out += ",";
    out += json_text::quote(k) + ":" + json_text::quote(v);
  }
  return out + "}";
}

api::StringMap our_labels(const ObjectRef& gateway) {
  api::StringMap labels{{std::string(kManagedByLabel), std::string(kManagedBy)},
                        {std::string(kGatewayNamespaceLabel), gateway.ns}};
  // A label value holds at most 63 characters; longer names are found by the Service name.
  if (gateway.name.size() <= 63) labels[std::string(kGatewayNameLabel)] = gateway.name;
  return labels;
}

// A route attached under a Gateway only to listeners whose port is unavailable is not served
// anywhere there: like a route whose listeners are not accepted, it gets Accepted=False/
// NoMatchingParent (and an Event), and the listeners no longer count it in attachedRoutes
// (which counts Accepted routes only).
void refuse_routes_on_unavailable_ports(
    const GatewayBindings& bindings,
    const std::map<std::string, std::map<std::string, uint16_t>>& port_of_listener,
    gateway::Result& result) {
  if (bindings.unavailable.empty()) return;
  std::map<std::string, gateway::GatewayStatus*> gateway_status;
  for (gateway::GatewayStatus& gs : result.gateway_statuses) gateway_status[gs.gateway.key()] = &gs;
  for (gateway::RouteStatus& rs : result.route_statuses) {
    for (gateway::RouteParentStatus& ps : rs.parents) {
      Condition* accepted = find(ps.conditions, "Accepted");
      if (accepted == nullptr || accepted->status != kTrue || ps.listeners.empty()) continue;
      std::string gw = ps.parent.ns + "/" + ps.parent.name;
      auto ports = port_of_listener.find(gw);
      if (ports == port_of_listener.end()) continue;
      std::string why;
      bool all_unavailable = true;
      for (const std::string& l : ps.listeners) {
        auto port = ports->second.find(l);
        auto u = port == ports->second.end()
                     ? bindings.unavailable.end()
                     : bindings.unavailable.find(FrontDoorKey{gw, port->second});
        if (u == bindings.unavailable.end()) {
          all_unavailable = false;
          break;
        }
        if (why.empty()) why = "listener \"" + l + "\": PortUnavailable (" + u->second + ")";
      }
      if (!all_unavailable) continue;
      std::string message = "no listener the route attaches to is accepted: " + why;
      set(ps.conditions, "Accepted", kFalse, "NoMatchingParent", message,
          accepted->observed_generation);
      result.events.push_back(Event{.object = rs.route,
                                    .reason = "NoMatchingParent",
                                    .field = "spec.parentRefs",
                                    .message = std::string(gw).append(": ").append(message)});
      if (auto g = gateway_status.find(gw); g != gateway_status.end())
        for (gateway::ListenerStatus& ls : g->second->listeners)
          if (std::find(ps.listeners.begin(), ps.listeners.end(), ls.name) != ps.listeners.end() &&
              ls.attached_routes > 0)
            --ls.attached_routes;
      ps.listeners.clear();
    }
  }
}

}  // namespace

absl::StatusOr<GatewayServiceType> parse_gateway_service_type(std::string_view text) {
  for (auto t : {GatewayServiceType::kLoadBalancer, GatewayServiceType::kNodePort,
                 GatewayServiceType::kClusterIP, GatewayServiceType::kNone})
    if (text == to_string(t)) return t;
  return absl::InvalidArgumentError("not one of LoadBalancer, NodePort, ClusterIP, None: " +
                                    std::string(text));
}

std::string_view to_string(GatewayServiceType type) {
  switch (type) {
    case GatewayServiceType::kLoadBalancer:
      return "LoadBalancer";
    case GatewayServiceType::kNodePort:
      return "NodePort";
    case GatewayServiceType::kClusterIP:
      return "ClusterIP";
    case GatewayServiceType::kNone:
      break;
  }
  return "None";
}

absl::Status parse_gateway_port_range(std::string_view text, uint16_t& min, uint16_t& max) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(text.data(), text.size()), '-');
  uint32_t lo = 0, hi = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &lo) || !absl::SimpleAtoi(parts[1], &hi) ||
      lo < 1 || hi > 65535 || lo > hi)
    return absl::InvalidArgumentError("want MIN-MAX with 1 <= MIN <= MAX <= 65535, got \"" +
                                      std::string(text) + "\"");
  min = static_cast<uint16_t>(lo);
  max = static_cast<uint16_t>(hi);
  return absl::OkStatus();
}

absl::StatusOr<api::StringMap> parse_pod_selector(std::string_view text) {
  api::StringMap out;
  for (absl::string_view pair :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',', absl::SkipEmpty())) {
    auto eq = pair.find('=');
    absl::string_view k = absl::StripAsciiWhitespace(pair.substr(0, eq));
    absl::string_view v =
        eq == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(pair.substr(eq + 1));
    auto label_text = [](absl::string_view t, absl::string_view extra) {
      return std::all_of(t.begin(), t.end(), [&](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
               extra.find(c) != absl::string_view::npos;
      });
    };
    if (eq == absl::string_view::npos || k.empty() || !label_text(k, "/") || !label_text(v, ""))
      return absl::InvalidArgumentError("want key=value[,key=value...], got \"" +
                                        std::string(text) + "\"");
    out[std::string(k)] = std::string(v);
  }
  if (out.empty()) return absl::InvalidArgumentError("the pod selector must not be empty");
  return out;
}

std::string gateway_service_name(std::string_view ns, std::string_view name) {
  // FNV-1a: stable across builds and machines, unlike std::hash.
  uint32_t h = 2166136261U;
  auto mix = [&h](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 16777619U;
    }
  };
  mix(ns);
  mix("/");
  mix(name);
  std::string base(name.substr(0, 63 - 3 - 1 - 8));
  for (char& c : base)
    if (c == '.') c = '-';
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return "gw-" + base + "-" + hex;
}

std::vector<api::ObjectPtr> owned_gateway_services(const std::vector<api::ObjectPtr>& services,
                                                   const GatewayServiceOptions& options) {
  std::vector<api::ObjectPtr> out;
  for (const auto& s : services) {
    if (s->ns() != options.ns) continue;
    api::StringMap labels = s->labels();
    auto managed = labels.find(kManagedByLabel);
    if (managed == labels.end() || managed->second != kManagedBy ||
        labels.count(kGatewayNamespaceLabel) == 0)
      continue;
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> addresses_of_json(std::string_view load_balancer_ingress) {
  std::vector<std::string> out;
  rapidjson::Document d;
  d.Parse(load_balancer_ingress.data(), load_balancer_ingress.size());
  if (d.HasParseError() || !d.IsArray()) return out;
  for (const auto& e : d.GetArray()) {
    if (!e.IsObject()) continue;
    for (const char* field : {"ip", "hostname"})
      if (e.HasMember(field) && e[field].IsString() && e[field].GetStringLength() > 0) {
        out.emplace_back(e[field].GetString());
        break;
      }
  }
  return out;
}

std::map<std::string, std::vector<std::string>> gateway_service_addresses(
    const std::vector<api::ObjectPtr>& services, const GatewayServiceOptions& options) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& s : owned_gateway_services(services, options)) {
    // The annotation names the Gateway in full (a label value holds only 63 characters).
    api::StringMap annotations = s->annotations();
    auto gw = annotations.find(kGatewayAnnotation);
    if (gw == annotations.end()) continue;
    auto slash = gw->second.find('/');
    if (slash == std::string::npos ||
        s->name() != gateway_service_name(std::string_view(gw->second).substr(0, slash),
                                          std::string_view(gw->second).substr(slash + 1)))
      continue;
    std::vector<std::string> addrs;
    if (s->get_string("/spec/type").value_or("ClusterIP") == "LoadBalancer") {
      addrs = addresses_of_json(json_text::of(s->at("/status/loadBalancer/ingress")));
    } else if (auto ip = s->get_string("/spec/clusterIP"); ip && !ip->empty() && *ip != "None") {
      addrs.emplace_back(*ip);
    }
    if (!addrs.empty()) out[gw->second] = std::move(addrs);
  }
  return out;
}

GatewayBindings plan_gateway_services(const std::vector<gateway::FrontDoor>& doors,
                                      const std::vector<api::ObjectPtr>& services,
                                      const GatewayServiceOptions& options) {
  GatewayBindings out;
  // The mapping of each owned Service, by name. A targetPort two Services name (a plan made
  // while another Service's creation was on its way) stays with the older one; the other's port
  // is mapped again, so no two front doors ever bind one port.
  std::vector<api::ObjectPtr> by_age = owned_gateway_services(services, options);
  std::stable_sort(by_age.begin(), by_age.end(), [](const auto& a, const auto& b) {
    if (a->creation_timestamp() != b->creation_timestamp())
      return a->creation_timestamp() < b->creation_timestamp();
    return a->name() < b->name();
  });
  std::map<std::string, std::map<uint16_t, uint16_t>> owned;
  std::set<uint16_t> used;  // targetPorts of every owned Service
  for (const auto& s : by_age) {
    std::map<uint16_t, uint16_t>& mine = owned[std::string(s->name())];
    for (const auto& [port, target] : mapped_ports(*s))
      if (used.insert(target).second) mine[port] = target;
  }
  // doors are sorted by Gateway, then port: one Service per run of one Gateway's doors.
  std::map<std::string, DesiredGatewayService> wanted;  // by Service name
  for (const gateway::FrontDoor& d : doors) {
    std::string name = gateway_service_name(d.gateway.ns, d.gateway.name);
    DesiredGatewayService& w = wanted[name];
    w.gateway = d.gateway;
    w.name = name;
    std::optional<uint16_t> target;
    if (auto it = owned.find(name); it != owned.end())
      if (auto m = it->second.find(d.port); m != it->second.end()) target = m->second;
    if (target) {
      out.bound[{d.gateway.key(), d.port}] = *target;
    } else {
      uint32_t p = options.port_min;
      while (p <= options.port_max && used.count(static_cast<uint16_t>(p)) != 0) ++p;
      if (p > options.port_max) continue;  // the range is full: not served, stays Pending
      target = static_cast<uint16_t>(p);
      used.insert(*target);
    }
    w.ports.emplace_back(d.port, *target);
  }
  for (const auto& [name, mapping] : owned) {
    auto w = wanted.find(name);
    if (w == wanted.end() || w->second.ports.empty()) out.stale.push_back(name);
  }
  for (auto& [name, w] : wanted) {
    if (w.ports.empty()) continue;
    std::sort(w.ports.begin(), w.ports.end());
    out.services.push_back(std::move(w));
  }
  return out;
}

GatewayBindings plan_direct_ports(const std::vector<gateway::FrontDoor>& doors,
                                  const std::vector<api::ObjectPtr>& gateways,
                                  const std::set<uint16_t>& taken) {
  std::map<std::string, const api::Object*> by_key;
  for (const auto& g : gateways) by_key[key_of(*g)] = g.get();
  std::vector<const gateway::FrontDoor*> order;
  order.reserve(doors.size());
  for (const auto& d : doors) order.push_back(&d);
  auto created = [&](const gateway::FrontDoor* d) {
    auto it = by_key.find(d->gateway.key());
    return it == by_key.end() ? std::string_view() : it->second->creation_timestamp();
  };
  std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    if (created(a) != created(b)) return created(a) < created(b);
    return a->gateway < b->gateway;
  });
  GatewayBindings out;
  std::map<uint16_t, std::string> owner;  // port -> Gateway that has it
  for (const gateway::FrontDoor* d : order) {
    FrontDoorKey key{d->gateway.key(), d->port};
    if (taken.count(d->port) != 0) {
      out.unavailable[key] =
          "port " + std::to_string(d->port) + " is taken by kop-ingress' own listeners";
    } else if (auto o = owner.find(d->port); o != owner.end()) {
      out.unavailable[key] =
          "port " + std::to_string(d->port) + " is already served for Gateway " + o->second;
    } else {
      owner[d->port] = d->gateway.key();
      out.bound[key] = d->port;
    }
  }
  return out;
}

void apply_bindings(const GatewayBindings& bindings, const std::vector<api::ObjectPtr>& gateways,
                    gateway::Result& result) {
  // Gateway key -> listener name -> port.
  std::map<std::string, std::map<std::string, uint16_t>> port_of_listener;
  std::map<std::string, const api::Object*> by_key;
  for (const auto& g : gateways) by_key[key_of(*g)] = g.get();
  for (gateway::GatewayStatus& gs : result.gateway_statuses) {
    auto obj = by_key.find(gs.gateway.key());
    if (obj == by_key.end()) continue;
    int64_t gen = obj->second->generation();
    std::map<std::string, uint16_t>& port_of = port_of_listener[gs.gateway.key()];
    if (const rapidjson::Value* ls = obj->second->at("/spec/listeners"); ls && ls->IsArray())
      for (const auto& l : ls->GetArray())
        if (l.IsObject() && l.HasMember("name") && l["name"].IsString() && l.HasMember("port") &&
            l["port"].IsInt() && l["port"].GetInt() > 0 && l["port"].GetInt() <= 65535)
          port_of[l["name"].GetString()] = static_cast<uint16_t>(l["port"].GetInt());
    bool any_bound = false, any_pending = false;
    for (gateway::ListenerStatus& ls : gs.listeners) {
      Condition* programmed = find(ls.conditions, "Programmed");
      if (programmed == nullptr || programmed->status != kTrue) continue;
      auto port = port_of.find(ls.name);
      if (port == port_of.end()) continue;
      FrontDoorKey key{gs.gateway.key(), port->second};
      if (auto u = bindings.unavailable.find(key); u != bindings.unavailable.end()) {
        set(ls.conditions, "Accepted", kFalse, "PortUnavailable", u->second, gen);
        set(ls.conditions, "Programmed", kFalse, "Invalid", "the listener is not served", gen);
        result.events.push_back(Event{.object = gs.gateway,
                                      .reason = "PortUnavailable",
                                      .field = "spec.listeners[" + ls.name + "].port",
                                      .message = u->second});
      } else if (bindings.bound.count(key) == 0) {
        set(ls.conditions, "Programmed", kFalse, "Pending",
            "waiting for the Gateway's Service to map port " + std::to_string(port->second), gen);
        any_pending = true;
      } else {
        any_bound = true;
      }
    }
    Condition* programmed = find(gs.conditions, "Programmed");
    if (!any_bound && programmed != nullptr && programmed->status == kTrue)
      set(gs.conditions, "Programmed", kFalse, any_pending ? "Pending" : "Invalid",
          any_pending ? "no listener is bound yet" : "no listener can be served", gen);
  }
  refuse_routes_on_unavailable_ports(bindings, port_of_listener, result);
  std::sort(result.events.begin(), result.events.end());
  result.events.erase(std::unique(result.events.begin(), result.events.end()), result.events.end());
}

api::Object gateway_service_object(const DesiredGatewayService& want,
                                   const GatewayServiceOptions& options) {
  std::string json =
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":" +
      json_text::quote(want.name) + ",\"namespace\":" + json_text::quote(options.ns) +
      ",\"labels\":" + map_json(our_labels(want.gateway)) + ",\"annotations\":{" +
      json_text::quote(kGatewayAnnotation) + ":" + json_text::quote(want.gateway.key()) +
      "}},\"spec\":{\"type\":\"" + std::string(to_string(options.type)) +
      "\",\"selector\":" + map_json(options.pod_selector) +
      ",\"ports\":" + ports_json(want, nullptr, false) + "}}";
  return *api::Object::parse(json);
}

bool gateway_service_matches(const api::Object& current, const DesiredGatewayService& want,
                             const GatewayServiceOptions& options) {
  if (current.get_string("/spec/type").value_or("ClusterIP") != to_string(options.type))
    return false;
  api::StringMap selector;
  if (const rapidjson::Value* s = current.at("/spec/selector"); s && s->IsObject())
    for (const auto& m : s->GetObject())
      if (m.value.IsString()) selector[m.name.GetString()] = m.value.GetString();
  if (selector != options.pod_selector) return false;
  api::StringMap labels = current.labels();
  for (const auto& [k, v] : our_labels(want.gateway)) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  api::StringMap annotations = current.annotations();
  if (auto a = annotations.find(kGatewayAnnotation);
      a == annotations.end() || a->second != want.gateway.key())
    return false;
  const rapidjson::Value* ports = current.at("/spec/ports");
  size_t count = ports != nullptr && ports->IsArray() ? ports->Size() : 0;
  auto mapped = mapped_ports(current);
  if (count != want.ports.size() || mapped.size() != want.ports.size()) return false;
  return std::equal(
      want.ports.begin(), want.ports.end(), mapped.begin(),
      [](const auto& a, const auto& b) { return a.first == b.first && a.second == b.second; });
}

api::Object gateway_service_update(const api::Object& current, const DesiredGatewayService& want,
                                   const GatewayServiceOptions& options) {
  api::Object next(current);
  for (const auto& [k, v] : our_labels(want.gateway)) next.set_label(k, v);
  next.set_annotation(kGatewayAnnotation, want.gateway.key());
  bool external = options.type == GatewayServiceType::kLoadBalancer ||
                  options.type == GatewayServiceType::kNodePort;
  next.set_string("/spec/type", to_string(options.type)).IgnoreError();
  next.set_json("/spec/selector", map_json(options.pod_selector)).IgnoreError();
  next.set_json("/spec/ports", ports_json(want, &current, external)).IgnoreError();
  if (!external) {
    // The API server refuses these on a ClusterIP Service.
    for (const char* f : {"/spec/externalTrafficPolicy", "/spec/healthCheckNodePort",
                          "/spec/allocateLoadBalancerNodePorts", "/spec/loadBalancerClass"})
      next.remove(f);
  }
  return next;
}

}  // namespace kop::ingress
