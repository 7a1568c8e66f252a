// The incremental build (BuildCache::build) against the reference (build_model without a
// cache): random sequences of changes to Ingresses, Services, EndpointSlices, Secrets,
// IngressRoutes, ConfigMaps (custom-headers) and the Options, and after every step the same
// Model (virtual hosts, clusters, owned Ingresses, IngressRoute statuses, Events), the same
// rendered Config (rendered with a RenderCache, which keeps the unchanged hosts' rendering), and
// a RouteTable compiled against the previous step's (keeping unchanged virtual hosts) that routes
// as one compiled from scratch; the same with the ingress-nginx reading on. Status writes are
// interleaved with the changes, most recorded as the controller's event filter records them
// (Snapshot::status_only: taken by pointer), some not (compared). Plus what a change
// re-assembles or translates again: one Ingress changed among many assembles its host only, a
// ConfigMap translates the Ingresses that read it only, a status round translates nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include <absl/strings/escaping.h>

#include "kop/ingress/render.h"
#include "kop/ingress/status_only_replacements.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::ingress {
namespace {

using testing::parse_objects;
using testing::service_yaml;
using testing::tls_secret_yaml;

std::string replace_once(std::string s, std::string_view from, std::string_view to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

api::ObjectPtr one(const std::string& yaml) {
  auto objects = parse_objects(yaml);
  EXPECT_EQ(objects.size(), 1u);
  return objects.at(0);
}

void put(std::vector<api::ObjectPtr>& list, api::ObjectPtr o) {
  for (auto& p : list)
    if (p->ns() == o->ns() && p->name() == o->name()) {
      p = std::move(o);
      return;
    }
  list.push_back(std::move(o));
}

void drop(std::vector<api::ObjectPtr>& list, std::string_view name) {
  std::erase_if(list, [&](const api::ObjectPtr& p) { return p->name() == name; });
}

// A copy of `o` with its status.loadBalancer written and a new resourceVersion, as a status
// write comes back through the watch.
api::ObjectPtr status_written(const api::ObjectPtr& o, std::string_view ip) {
  api::Object w(*o);
  EXPECT_TRUE(w.set_json("/status", std::string(R"({"loadBalancer":{"ingress":[{"ip":")") +
                                        std::string(ip) + R"("}]}})")
                  .ok());
  w.set_resource_version(std::string(o->resource_version()) + "s");
  return api::share(std::move(w));
}

// Status writes on some of the snapshot's Ingresses (none, one, or all of them: a status round),
// each recorded in `writes` as the controller's event filter records it, or now and then not (a
// record the build missed: the Ingress is compared). Says what it did.
std::string write_statuses(Snapshot& snap, std::mt19937& rng, StatusOnlyReplacements& writes) {
  if (snap.ingresses.empty()) return "";
  const bool round = rng() % 4 == 0;
  size_t n = round ? snap.ingresses.size() : 1 + rng() % 2, unrecorded = 0;
  for (size_t i = 0; i < n; ++i) {
    api::ObjectPtr& o = snap.ingresses[round ? i : rng() % snap.ingresses.size()];
    api::ObjectPtr w = status_written(o, "192.0.2." + std::to_string(rng() % 3));
    const bool recorded = rng() % 5 != 0;
    writes.record(o, w, recorded);
    unrecorded += recorded ? 0 : 1;
    o = std::move(w);
  }
  return " + " + std::to_string(n) + " status writes (" + std::to_string(unrecorded) +
         " unrecorded)";
}

// Random objects over a small world, so that hosts, paths, Services and Secrets collide.
class World {
 public:
  explicit World(uint32_t seed) : rng_(seed) {}

  // Applies one random change to `snap` (or `options`) and says what it was.
  std::string change(Snapshot& snap, Options& options) {
    int what = pick(100);
    if (what < 40) return put_ingress(snap);
    if (what < 50) {
      std::string name = "i" + std::to_string(pick(8));
      drop(snap.ingresses, name);
      return "delete Ingress " + name;
    }
    if (what < 65) {
      int s = pick(3);
      std::string name = "s" + std::to_string(s);
      std::string yaml = service_yaml("default", name, pick(4), s);
      // Now and then the port is renumbered or renamed: the backends naming it by name or by
      // number resolve to another cluster, or to none.
      int ports = pick(6);
      if (ports == 0) yaml = replace_once(yaml, "name: http, port: 80,", "name: http, port: 81,");
      if (ports == 1) yaml = replace_once(yaml, "name: http, port: 80,", "name: web, port: 80,");
      for (const auto& o : parse_objects(yaml)) {
        if (o->kind() == "Service") put(snap.services, o);
        if (o->kind() == "EndpointSlice") put(snap.endpoint_slices, o);
      }
      return "endpoints of " + name;
    }
    if (what < 70) {
      std::string name = "s" + std::to_string(pick(3));
      drop(snap.services, name);
      return "delete Service " + name;
    }
    if (what < 80) {
      std::string name = "sec" + std::to_string(pick(2));
      if (pick(3) == 0) {
        drop(snap.secrets, name);
        return "delete Secret " + name;
      }
      if (pick(3) == 0) return put_ca_secret(snap);
      put(snap.secrets, one(tls_secret_yaml("default", name, pick(2) ? "example" : "other")));
      return "Secret " + name;
    }
    if (what < 92) return put_ingress_route(snap);
    if (what < 95) {
      options.watch_ingress_without_class = !options.watch_ingress_without_class;
      return "watch_ingress_without_class flipped";
    }
    if (what < 99) return put_config_map(snap);
    return "nothing";
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[static_cast<size_t>(pick(static_cast<int>(v.size())))];
  }

  std::string backend() {
    std::ostringstream y;
    int port = pick(10);
    y << "{service: {name: s" << pick(4) << ", port: "
      << (port < 6   ? "{number: 80}"
          : port < 9 ? "{name: http}"
                     : "{number: 81}")
      << "}}";
    return y.str();
  }

  std::string put_ingress(Snapshot& snap) {
    std::string name = "i" + std::to_string(pick(8));
    static const std::vector<std::string> kHosts = {"a.example.com", "b.example.com",
                                                    "c.example.com", "*.example.com", ""};
    static const std::vector<std::string> kPaths = {"/", "/x", "/x/y"};
    std::ostringstream y;
    y << "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " << name
      << "\n  namespace: default\n  uid: u-" << name << "-" << pick(2) << "\n  resourceVersion: \""
      << ++version_ << "\"\n  creationTimestamp: \"2026-01-0" << 1 + pick(3) << "T00:00:00Z\"\n";
    int annotation = pick(10);
    if (annotation == 0) y << "  annotations: {kubernetes.io/ingress.class: other}\n";
    if (annotation == 1)
      y << "  annotations: {ingress.kubernetes.io/force-ssl-redirect: \"true\"}\n";
    // Read with the ingress-nginx annotations on: a ConfigMap of response headers.
    if (annotation >= 2 && annotation <= 4)
      y << "  annotations: {nginx.ingress.kubernetes.io/custom-headers: default/h" << pick(2)
        << "}\n";
    // Client certificates (ingress-nginx auth-tls-*): a CA Secret that may be missing, and
    // settings that differ, so that bindings of one host disagree.
    if (annotation == 5)
      y << "  annotations: {nginx.ingress.kubernetes.io/auth-tls-secret: default/ca" << pick(2)
        << ", nginx.ingress.kubernetes.io/auth-tls-verify-client: "
        << (pick(2) ? "\"on\"" : "optional") << "}\n";
    y << "spec:\n";
    if (pick(12) == 0) y << "  defaultBackend: " << backend() << "\n";
    std::vector<std::string> hosts;
    y << "  rules:\n";
    for (int r = 0, rules = 1 + pick(2); r < rules; ++r) {
      // Rules without host are rarer: they reach every host.
      std::string host = pick(6) == 0 ? "" : kHosts[static_cast<size_t>(pick(4))];
      hosts.push_back(host);
      y << "  - " << (host.empty() ? "" : "host: \"" + host + "\"\n    ") << "http:\n"
        << "      paths:\n";
      for (int p = 0, paths = 1 + pick(2); p < paths; ++p)
        y << "      - {path: " << any(kPaths) << ", pathType: " << (pick(3) ? "Prefix" : "Exact")
          << ", backend: " << backend() << "}\n";
    }
    if (pick(3) == 0) {
      std::string host = any(hosts);
      if (host.empty()) host = "a.example.com";
      y << "  tls:\n  - {hosts: [\"" << host << "\"], secretName: sec" << pick(3) << "}\n";
    }
    put(snap.ingresses, one(y.str()));
    return "Ingress " + name + ":\n" + y.str();
  }

  // An Opaque Secret "ca0" or "ca1" whose ca.crt is one of the test certificates.
  std::string put_ca_secret(Snapshot& snap) {
    std::string name = "ca" + std::to_string(pick(2));
    std::string cert = pick(2) ? "example" : "other";
    std::ostringstream y;
    y << "apiVersion: v1\nkind: Secret\nmetadata: {name: " << name
      << ", namespace: default, resourceVersion: \"" << ++version_ << "\"}\ntype: Opaque\ndata:\n"
      << "  ca.crt: "
      << absl::Base64Escape(
             testing::read_file(std::string(KOP_INGRESS_TESTDATA) + "/certs/" + cert + ".crt"))
      << "\n";
    put(snap.secrets, one(y.str()));
    return "CA Secret " + name + " (" + cert + ")";
  }

  std::string put_config_map(Snapshot& snap) {
    std::string name = "h" + std::to_string(pick(2));
    if (pick(4) == 0) {
      drop(snap.config_maps, name);
      return "delete ConfigMap " + name;
    }
    int version = ++version_;
    std::ostringstream y;
    y << "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " << name
      << ", namespace: default, uid: u-" << name << ", resourceVersion: \"" << version
      << "\"}\ndata: {X-Version: \"v" << version << "\"" << (pick(5) == 0 ? ", \"X Bad\": x" : "")
      << "}\n";
    put(snap.config_maps, one(y.str()));
    return "ConfigMap " + name + ":\n" + y.str();
  }

  std::string put_ingress_route(Snapshot& snap) {
    std::string name = "r" + std::to_string(pick(3));
    if (pick(4) == 0) {
      drop(snap.ingress_routes, name);
      return "delete IngressRoute " + name;
    }
    static const std::vector<std::string> kFqdns = {"a.example.com", "b.example.com",
                                                    "d.example.com"};
    std::ostringstream y;
    y << "apiVersion: ingress.kop.dev/v1beta1\nkind: IngressRoute\nmetadata:\n  name: " << name
      << "\n  namespace: default\n  generation: " << ++version_
      << "\n  creationTimestamp: \"2026-01-0" << 1 + pick(3) << "T00:00:00Z\"\nspec:\n"
      << "  virtualhost:\n    fqdn: " << any(kFqdns) << "\n";
    int shape = pick(6);
    if (shape == 0) {
      y << "    tls: {passthrough: true}\n  tcpproxy:\n    services: [{name: s" << pick(3)
        << ", port: 80}]\n";
    } else {
      if (shape == 1) y << "    tls: {secretName: sec" << pick(2) << "}\n";
      y << "  routes:\n  - match: " << (pick(2) ? "/" : "/x") << "\n    services: [{name: s"
        << pick(4) << ", port: 80}]\n";
    }
    put(snap.ingress_routes, one(y.str()));
    return "IngressRoute " + name + ":\n" + y.str();
  }

  std::mt19937 rng_;
  int version_ = 0;
};

RenderOptions render_options() {
  RenderOptions ro;
  ro.admin.enabled = false;
  return ro;
}

// What a compiled table routes, by name: each virtual host's routes in order with the clusters
// they pick, each listener's hosts, the clusters; plus what must hold of indexes and ids.
std::string describe_table(const proxy::RouteTable& t) {
  std::ostringstream out;
  std::set<uint32_t> ids;
  for (const proxy::VirtualHost& vh : t.virtual_hosts()) {
    out << "vhost " << vh.name << "\n";
    for (const proxy::Route& r : vh.routes) {
      out << "  " << r.name << " " << proxy::to_string(r.path_type) << " " << r.path << " ->";
      for (const proxy::RouteClusterRef& c : r.clusters)
        out << " "
            << (c.direct_status != 0 ? std::to_string(c.direct_status) : t.cluster(c.cluster).name)
            << "*" << c.weight;
      for (const auto& [cluster, per_million] : r.mirrors)
        out << " mirror " << t.cluster(cluster).name;
      if (r.virtual_host != &vh) out << " (not its host)";
      if (r.id >= t.route_id_limit() || !ids.insert(r.id).second) out << " (bad id)";
      out << "\n";
    }
  }
  for (const proxy::Listener& l : t.listeners()) {
    std::vector<std::string> hosts;
    l.host_exact.for_each([&](std::string_view domain, const proxy::VirtualHost* vh) {
      hosts.push_back(std::string(domain) + "=" + vh->name);
    });
    l.host_wildcard.for_each([&](std::string_view domain, const proxy::VirtualHost* vh) {
      hosts.push_back("*." + std::string(domain) + "=" + vh->name);
    });
    if (l.host_catch_all != nullptr) hosts.push_back("*=" + l.host_catch_all->name);
    std::sort(hosts.begin(), hosts.end());
    out << "listener " << l.name;
    for (const std::string& h : hosts) out << " " << h;
    out << "\n";
  }
  std::vector<std::string> clusters;
  for (std::size_t i = 0; i < t.clusters().size(); ++i) {
    if (!t.clusters()[i]) continue;
    const std::string& name = t.clusters()[i]->name;
    clusters.push_back(name + (t.cluster_index(name) == i ? "" : " (bad index)"));
  }
  std::sort(clusters.begin(), clusters.end());
  for (const std::string& c : clusters) out << "cluster " << c << "\n";
  return out.str();
}

TEST(IncrementalBuild, EqualsTheFullBuildAfterEveryRandomChange) {
  size_t steps = 0, partial = 0, hosts_kept = 0, render_reused = 0, clusters_patched = 0,
         status_only_taken = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    World world(seed);
    std::mt19937 reorder(seed);
    std::mt19937 statuses(seed + 1000);
    Snapshot snap;
    Options options;
    BuildCache cache;
    RenderCache rendered;
    std::shared_ptr<const proxy::Config> last;  // the last rendered
    std::shared_ptr<const proxy::RouteTable> table;
    std::string history;
    for (int step = 0; step < 60; ++step) {
      // Status writes before and after the change (the change may replace a written Ingress:
      // its run of writes ends there), recorded until the build takes them.
      StatusOnlyReplacements writes;
      std::string what;
      if (statuses() % 3 == 0) what += write_statuses(snap, statuses, writes);
      const std::vector<api::ObjectPtr> written = snap.ingresses;
      what.insert(0, world.change(snap, options));
      for (const api::ObjectPtr& before : written)  // what the change replaced, as the watch says
        for (const api::ObjectPtr& after : snap.ingresses)
          if (after != before && after->name() == before->name())
            writes.record(before, after, false);
      if (statuses() % 3 == 0) what += write_statuses(snap, statuses, writes);
      // Sometimes a listing comes in another order (a cache's map grew): the objects that only
      // moved are no change.
      if (reorder() % 4 == 0) {
        for (auto* list : {&snap.ingresses, &snap.services, &snap.endpoint_slices, &snap.secrets,
                           &snap.config_maps})
          std::shuffle(list->begin(), list->end(), reorder);
        what += " (listings reordered)";
      }
      history += "--- step " + std::to_string(step) + ": " + what + "\n";
      snap.status_only = &writes;
      const Model& incremental = cache.build(snap, options);
      snap.status_only = nullptr;
      status_only_taken += cache.status_only_taken();
      Model full = build_model(snap, options);
      ASSERT_EQ(describe(incremental), describe(full)) << "seed " << seed << "\n" << history;
      ASSERT_TRUE(incremental == full) << "seed " << seed << "\n" << history;
      // A build that replaced clusters only patches the last Config, as the controller does.
      std::optional<PatchedConfig> patched;
      if (last && cache.clusters_only()) {
        patched =
            render_replaced_clusters(*last, cache.replaced_clusters(), render_options(), rendered);
        ASSERT_TRUE(patched.has_value()) << "seed " << seed << "\n" << history;
        ++clusters_patched;
      }
      proxy::Config config = patched ? std::move(patched->config)
                                     : render(incremental, render_options(), {}, {}, &rendered);
      if (patched) {
        ASSERT_EQ(patched->same, config == *last) << "seed " << seed << "\n" << history;
      }
      // A patch keeps every rendered host.
      render_reused += patched ? config.virtual_hosts.size() : rendered.reused();
      ASSERT_TRUE(config == render(full, render_options())) << "seed " << seed << "\n" << history;
      last = std::make_shared<const proxy::Config>(config);
      // The compile against the last table keeps what did not change; it routes as a fresh one.
      auto next = proxy::RouteTable::compile(config, table.get());
      auto fresh = proxy::RouteTable::compile(config);
      ASSERT_EQ(next.status(), fresh.status()) << "seed " << seed << "\n" << history;
      if (next.ok()) {
        ASSERT_EQ(describe_table(**next), describe_table(**fresh)) << "seed " << seed << "\n"
                                                                   << history;
        if (table)
          for (const auto& vh : (*next)->virtual_hosts())
            hosts_kept +=
                std::count_if(table->virtual_hosts().begin(), table->virtual_hosts().end(),
                              [&](const auto& before) { return before.ptr() == vh.ptr(); });
        table = *next;
      }
      ++steps;
      if (!cache.full_assembly()) ++partial;
    }
  }
  // Most steps must have taken the incremental path, or the test proves little.
  EXPECT_GT(partial, steps / 3) << partial << " of " << steps;
  EXPECT_GT(hosts_kept, steps) << "compiled virtual hosts kept: " << hosts_kept;
  EXPECT_GT(render_reused, steps) << "rendered hosts reused: " << render_reused;
  EXPECT_GT(clusters_patched, steps / 20) << "Configs patched: " << clusters_patched;
  EXPECT_GT(status_only_taken, steps / 2)
      << "status writes taken by pointer: " << status_only_taken;
  RecordProperty("configs_patched", std::to_string(clusters_patched));
}

// With the ingress-nginx reading (custom-headers reads ConfigMaps; its host rules assemble every
// host each build), the kept translations must still give the full build's Model.
TEST(IncrementalBuild, NginxReadingEqualsTheFullBuildAfterEveryRandomChange) {
  size_t steps = 0, reused = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    World world(seed);
    Snapshot snap;
    Options options;
    options.nginx_annotations = true;
    BuildCache cache;
    std::string history;
    std::mt19937 statuses(seed);
    for (int step = 0; step < 60; ++step) {
      std::string what = world.change(snap, options);
      StatusOnlyReplacements writes;
      if (statuses() % 3 == 0) what += write_statuses(snap, statuses, writes);
      history += "--- step " + std::to_string(step) + ": " + what + "\n";
      snap.status_only = &writes;
      const Model& incremental = cache.build(snap, options);
      snap.status_only = nullptr;
      Model full = build_model(snap, options);
      ASSERT_EQ(describe(incremental), describe(full)) << "seed " << seed << "\n" << history;
      ASSERT_TRUE(incremental == full) << "seed " << seed << "\n" << history;
      reused += cache.reused();
      ++steps;
    }
  }
  EXPECT_GT(reused, steps) << "translations kept: " << reused;
}

std::string app_yaml(int i, std::string_view host_suffix = "") {
  std::ostringstream y;
  y << service_yaml("default", "app" + std::to_string(i), 2, i % 200)
    << "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app" << i
    << ", namespace: default}\nspec:\n  rules:\n  - host: app" << i << host_suffix
    << ".example.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: "
    << "{service: {name: app" << i << ", port: {number: 80}}}}\n";
  return y.str();
}

TEST(IncrementalBuild, OneChangedIngressAssemblesItsHostsOnly) {
  std::string y;
  for (int i = 0; i < 50; ++i) y += app_yaml(i);
  Snapshot snap = testing::snapshot_of(y);
  BuildCache cache;
  cache.build(snap, {});
  EXPECT_TRUE(cache.full_assembly());
  EXPECT_EQ(cache.hosts_assembled(), 50u);

  // app7 moves to another host: its old and new hosts are assembled, nothing else.
  for (const auto& o : parse_objects(app_yaml(7, "-moved")))
    if (o->kind() == "Ingress") put(snap.ingresses, o);
  const Model& m = cache.build(snap, {});
  EXPECT_FALSE(cache.full_assembly());
  EXPECT_EQ(cache.hosts_assembled(), 2u);
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(cache.reused(), 49u);
  EXPECT_EQ(describe(m), describe(build_model(snap, {})));

  // Only app3's endpoints: no host is assembled again, its cluster is replaced.
  for (const auto& o : parse_objects(service_yaml("default", "app3", 1, 250)))
    if (o->kind() == "EndpointSlice") put(snap.endpoint_slices, o);
  const Model& e = cache.build(snap, {});
  EXPECT_FALSE(cache.full_assembly());
  EXPECT_EQ(cache.hosts_assembled(), 0u);
  ASSERT_EQ(e.clusters.count("default/app3/80"), 1u);
  ASSERT_EQ(e.clusters.at("default/app3/80")->endpoints.size(), 1u);
  EXPECT_EQ(e.clusters.at("default/app3/80")->endpoints[0].address, "10.0.250.1");
  EXPECT_TRUE(e == build_model(snap, {}));

  // A rule without host reaches every host: everything is assembled.
  put(snap.ingresses, one(R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: all, namespace: default}
spec:
  rules:
  - http:
      paths:
      - {path: /all, pathType: Prefix, backend: {service: {name: app1, port: {number: 80}}}}
)"));
  EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
  EXPECT_TRUE(cache.full_assembly());
}

// A route is one object wherever it is served: the rule without host and the default backend
// join every host as the candidate's own object (not a copy per host), in the incremental build
// and in the reference alike, and stay so when another Ingress is translated again.
TEST(IncrementalBuild, ARouteIsOneObjectInEveryHostThatServesIt) {
  std::string y;
  for (int i = 0; i < 5; ++i) y += app_yaml(i);
  y += R"(---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: all, namespace: default}
spec:
  defaultBackend: {service: {name: app0, port: {number: 80}}}
  rules:
  - http:
      paths:
      - {path: /all, pathType: Prefix, backend: {service: {name: app1, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: side, namespace: default}
spec:
  rules:
  - host: side.example.com
    http:
      paths:
      - {path: /x, pathType: Prefix, backend: {service: {name: app3, port: {number: 80}}}}
)";
  Snapshot snap = testing::snapshot_of(y);
  // Per host: its route objects by path.
  auto routes_of = [](const Model& m) {
    std::map<std::string, std::map<std::string, const Route*>> out;
    for (const VirtualHost& vh : m.virtual_hosts)
      for (const proxy::Shared<Route>& r : vh.routes) out[vh.host][r->path.value] = r.ptr().get();
    return out;
  };
  // The route of `path` in each of `hosts` (all when empty) is one object.
  auto expect_one_object = [](const std::map<std::string, std::map<std::string, const Route*>>& by,
                              std::string_view path, const std::set<std::string>& hosts = {}) {
    std::set<const Route*> objects;
    for (const auto& [host, routes] : by) {
      if (!hosts.empty() && !hosts.count(host)) continue;
      auto it = routes.find(std::string(path));
      ASSERT_NE(it, routes.end()) << host << " " << path;
      objects.insert(it->second);
    }
    EXPECT_EQ(objects.size(), 1u) << path;
  };
  BuildCache cache;
  const auto first = routes_of(cache.build(snap, {}));
  ASSERT_EQ(first.size(), 7u);  // app0 .. app4, side (.example.com) and "*"
  expect_one_object(first, "/all");
  // The default backend, where no path "/" of the host's own covers it.
  expect_one_object(first, "/", {"side.example.com", "*"});
  expect_one_object(routes_of(build_model(snap, {})), "/all");

  // app2 moves to another host: the other hosts keep their route objects.
  for (const auto& o : parse_objects(app_yaml(2, "-moved")))
    if (o->kind() == "Ingress") put(snap.ingresses, o);
  const auto now = routes_of(cache.build(snap, {}));
  EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
  expect_one_object(now, "/all");
  for (const auto& [host, routes] : first) {
    if (host == "app2.example.com") continue;
    EXPECT_EQ(now.at(host), routes) << host;
  }
}

// Model clusters are kept as the same objects while their Service and EndpointSlices do not
// change, even when the Ingress that uses them is translated again; render() with a RenderCache
// then renders only the new ones, and compile() keeps the compiled clusters of the others.
TEST(IncrementalBuild, UnchangedClustersStayTheSameObjectsDownToTheCompiledTable) {
  std::string y;
  for (int i = 0; i < 20; ++i) y += app_yaml(i);
  Snapshot snap = testing::snapshot_of(y);
  BuildCache cache;
  RenderCache rendered;
  auto pointers = [](const Model& m) {
    std::map<std::string, const Cluster*> out;
    for (const auto& [name, c] : m.clusters) out[name] = &*c;
    return out;
  };
  auto compiled = [](const proxy::RouteTable& t) {
    std::map<std::string, const proxy::Cluster*> out;
    for (const auto& c : t.clusters())
      if (c) out[c->name] = c.get();
    return out;
  };
  auto table = *proxy::RouteTable::compile(
      render(cache.build(snap, {}), render_options(), {}, {}, &rendered));
  EXPECT_EQ(rendered.clusters_rendered(), 20u);
  const auto first = pointers(cache.build(snap, {}));
  const auto first_compiled = compiled(*table);

  // app7 moves to another host: translated again, same cluster.
  for (const auto& o : parse_objects(app_yaml(7, "-moved")))
    if (o->kind() == "Ingress") put(snap.ingresses, o);
  table = *proxy::RouteTable::compile(
      render(cache.build(snap, {}), render_options(), {}, {}, &rendered), table.get());
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(pointers(cache.build(snap, {})), first);
  EXPECT_EQ(rendered.clusters_rendered(), 0u);
  EXPECT_EQ(compiled(*table), first_compiled);

  // app3's endpoints change: that cluster alone is new, rendered and compiled.
  for (const auto& o : parse_objects(service_yaml("default", "app3", 1, 250)))
    if (o->kind() == "EndpointSlice") put(snap.endpoint_slices, o);
  table = *proxy::RouteTable::compile(
      render(cache.build(snap, {}), render_options(), {}, {}, &rendered), table.get());
  EXPECT_EQ(rendered.clusters_rendered(), 1u);
  auto now = pointers(cache.build(snap, {}));
  auto now_compiled = compiled(*table);
  for (const auto& [name, c] : first) {
    EXPECT_EQ(now.at(name) == c, name != "default/app3/80") << name;
    EXPECT_EQ(now_compiled.at(name) == first_compiled.at(name), name != "default/app3/80") << name;
  }
}

// An EndpointSlice change replaces one cluster and assembles no host: the last Config patched
// with that cluster is the full render, and the RenderCache it updated still renders the next
// build (a host change) as the full render does.
TEST(IncrementalBuild, AnEndpointChangePatchesTheLastConfigWithItsClusterOnly) {
  std::string y;
  for (int i = 0; i < 20; ++i) y += app_yaml(i);
  Snapshot snap = testing::snapshot_of(y);
  BuildCache cache;
  RenderCache rendered;
  proxy::Config last = render(cache.build(snap, {}), render_options(), {}, {}, &rendered);
  EXPECT_FALSE(cache.clusters_only());

  for (const auto& o : parse_objects(service_yaml("default", "app3", 1, 250)))
    if (o->kind() == "EndpointSlice") put(snap.endpoint_slices, o);
  cache.build(snap, {});
  ASSERT_TRUE(cache.clusters_only());
  ASSERT_EQ(cache.replaced_clusters().size(), 1u);
  EXPECT_EQ(cache.replaced_clusters()[0].after->name, "default/app3/80");
  auto patched =
      render_replaced_clusters(last, cache.replaced_clusters(), render_options(), rendered);
  ASSERT_TRUE(patched.has_value());
  EXPECT_FALSE(patched->same);
  EXPECT_EQ(rendered.clusters_rendered(), 1u);
  EXPECT_TRUE(patched->config == render(build_model(snap, {}), render_options()));
  for (size_t i = 0; i < last.clusters.size(); ++i)
    EXPECT_EQ(patched->config.clusters[i].ptr() == last.clusters[i].ptr(),
              last.clusters[i]->name != "default/app3/80")
        << last.clusters[i]->name;
  for (size_t i = 0; i < last.virtual_hosts.size(); ++i)
    EXPECT_EQ(patched->config.virtual_hosts[i].ptr(), last.virtual_hosts[i].ptr());

  // A Config the cache did not render from the build before is not patched.
  proxy::Config other = render(build_model(snap, {}), render_options());
  for (const auto& o : parse_objects(service_yaml("default", "app3", 2, 250)))
    if (o->kind() == "EndpointSlice") put(snap.endpoint_slices, o);
  cache.build(snap, {});
  ASSERT_TRUE(cache.clusters_only());
  EXPECT_FALSE(
      render_replaced_clusters(other, cache.replaced_clusters(), render_options(), rendered));
  auto again = render_replaced_clusters(patched->config, cache.replaced_clusters(),
                                        render_options(), rendered);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->config == render(build_model(snap, {}), render_options()));

  // app7 moves to another host: a full render with the cache the patches updated.
  for (const auto& o : parse_objects(app_yaml(7, "-moved")))
    if (o->kind() == "Ingress") put(snap.ingresses, o);
  const Model& moved = cache.build(snap, {});
  EXPECT_FALSE(cache.clusters_only());
  EXPECT_TRUE(render(moved, render_options(), {}, {}, &rendered) ==
              render(build_model(snap, {}), render_options()));
  EXPECT_EQ(rendered.clusters_rendered(), 0u);
}

// A ConfigMap is a dependency of the Ingresses that name it in custom-headers, and of no other.
TEST(IncrementalBuild, AConfigMapChangeTranslatesOnlyTheIngressesReadingIt) {
  std::string y;
  for (int i = 0; i < 10; ++i) y += app_yaml(i);
  y += R"(---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: hdr
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/custom-headers: default/h}
spec:
  rules:
  - host: hdr.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app1, port: {number: 80}}}}
)";
  auto config_map = [](std::string_view name, std::string_view value) {
    return one(std::string("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ") +
               std::string(name) +
               ", namespace: default}\ndata: {X-Version: " + std::string(value) + "}\n");
  };
  Snapshot snap = testing::snapshot_of(y);
  snap.config_maps = {config_map("h", "one"), config_map("other", "one")};
  Options options;
  options.nginx_annotations = true;
  BuildCache cache;
  cache.build(snap, options);
  EXPECT_EQ(cache.translated(), 11u);
  auto header = [](const Model& m) -> std::string {
    for (const auto& vh : m.virtual_hosts)
      if (vh->host == "hdr.example.com") {
        const Route& r = vh->routes.at(0);
        if (r.action != RouteAction::kForward) return "not forwarded";
        for (const Header& h : r.response_headers->set)
          if (h.name == "X-Version") return h.value;
        return "none";
      }
    return "no host";
  };

  put(snap.config_maps, config_map("other", "two"));  // read by nobody
  EXPECT_EQ(header(cache.build(snap, options)), "one");
  EXPECT_EQ(cache.translated(), 0u);
  EXPECT_EQ(cache.reused(), 11u);

  put(snap.config_maps, config_map("h", "two"));
  EXPECT_EQ(header(cache.build(snap, options)), "two");
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_TRUE(cache.build(snap, options) == build_model(snap, options));

  drop(snap.config_maps, "h");  // ingress-nginx denies the location: 503
  EXPECT_EQ(header(cache.build(snap, options)), "not forwarded");
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_TRUE(cache.build(snap, options) == build_model(snap, options));
}

// The caches' listings come in any order: objects that only moved are not translated again, and
// an object changed translates only the Ingresses that read it (found without visiting the
// others: a Service no Ingress reads translates none, one an Ingress waited for translates it).
TEST(IncrementalBuild, AChangeTranslatesOnlyTheIngressesReadingWhatChanged) {
  std::string y;
  for (int i = 0; i < 50; ++i) y += app_yaml(i);
  y += R"(---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: waits, namespace: default}
spec:
  rules:
  - host: waits.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: later, port: {number: 80}}}}
)";
  Snapshot snap = testing::snapshot_of(y);
  BuildCache cache;
  cache.build(snap, {});
  EXPECT_EQ(cache.translated(), 51u);

  std::mt19937 rng(7);
  for (auto* list : {&snap.ingresses, &snap.services, &snap.endpoint_slices})
    std::shuffle(list->begin(), list->end(), rng);
  EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
  EXPECT_EQ(cache.translated(), 0u);
  EXPECT_EQ(cache.hosts_assembled(), 0u);

  // app3's EndpointSlice: the Ingress of app3 only.
  for (const auto& o : parse_objects(service_yaml("default", "app3", 3, 250)))
    if (o->kind() == "EndpointSlice") put(snap.endpoint_slices, o);
  EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(cache.reused(), 50u);

  // A Service and its EndpointSlice nobody reads.
  for (const auto& o : parse_objects(service_yaml("default", "unused", 2, 251)))
    (o->kind() == "Service" ? snap.services : snap.endpoint_slices).push_back(o);
  EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
  EXPECT_EQ(cache.translated(), 0u);

  // The Service an Ingress named before it existed.
  for (const auto& o : parse_objects(service_yaml("default", "later", 2, 252)))
    (o->kind() == "Service" ? snap.services : snap.endpoint_slices).push_back(o);
  const Model& m = cache.build(snap, {});
  EXPECT_TRUE(m == build_model(snap, {}));
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(m.clusters.count("default/later/80"), 1u);

  // The status writer's writes: new objects, new resourceVersions, the same spec: nothing is
  // translated again.
  for (api::ObjectPtr& ing : snap.ingresses) {
    api::Object written(*ing);
    ASSERT_TRUE(written.set_string("/status/loadBalancer/ingress/-/ip", "192.0.2.1").ok() ||
                written.set_string("/status/written", "192.0.2.1").ok());
    written.set_resource_version("written");
    ing = api::share(std::move(written));
  }
  EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
  EXPECT_EQ(cache.translated(), 0u);
  EXPECT_EQ(cache.hosts_assembled(), 0u);

  // app5's Service goes: its Ingress only, now with an Event.
  drop(snap.services, "app5");
  const Model& gone = cache.build(snap, {});
  EXPECT_TRUE(gone == build_model(snap, {}));
  EXPECT_EQ(cache.translated(), 1u);
  EXPECT_EQ(std::count_if(gone.events.begin(), gone.events.end(),
                          [](const Event& e) { return e.reason == "ServiceNotFound"; }),
            1);
}

// What kop-ingress sees after a round of status writes (--publish-address): its event filter
// asks for no build on a status-only update, so the next build, for one spec change, finds
// every Ingress replaced (new objects, new resourceVersions). Only the changed one is
// translated and only its hosts assembled, and the Model equals a fresh build. With the writes
// recorded as the filter records them (Snapshot::status_only) the others are taken by pointer;
// without (the record missed), each is compared and found the same.
TEST(IncrementalBuild, AStatusRoundThenOneChangeTranslatesThatIngressOnly) {
  constexpr int kApps = 200;
  std::string y;
  for (int i = 0; i < kApps; ++i) y += app_yaml(i);
  for (bool recorded : {true, false}) {
    SCOPED_TRACE(recorded ? "recorded" : "not recorded");
    Snapshot snap = testing::snapshot_of(y);
    BuildCache cache;
    cache.build(snap, {});
    EXPECT_EQ(cache.translated(), size_t{kApps});

    StatusOnlyReplacements writes;
    for (api::ObjectPtr& ing : snap.ingresses) {
      api::ObjectPtr w = status_written(ing, "192.0.2.10");
      if (recorded) writes.record(ing, w, true);
      ing = std::move(w);
    }
    for (const auto& o : parse_objects(app_yaml(42, "-moved")))
      if (o->kind() == "Ingress") {
        for (const api::ObjectPtr& before : snap.ingresses)
          if (before->name() == o->name()) writes.record(before, o, false);
        put(snap.ingresses, o);
      }
    snap.status_only = &writes;
    const Model& m = cache.build(snap, {});
    snap.status_only = nullptr;
    EXPECT_TRUE(m == build_model(snap, {}));
    EXPECT_EQ(cache.translated(), 1u);
    EXPECT_EQ(cache.reused(), size_t{kApps - 1});
    EXPECT_EQ(cache.status_only_taken(), recorded ? size_t{kApps - 1} : 0u);
    EXPECT_FALSE(cache.full_assembly());
    EXPECT_EQ(cache.hosts_assembled(), 2u);  // app42's old host and its new one

    // The next build after it changes nothing.
    EXPECT_TRUE(cache.build(snap, {}) == build_model(snap, {}));
    EXPECT_EQ(cache.translated(), 0u);

    // A Service changed after another round: its reader is translated again, from its
    // written object, the others are taken by pointer.
    StatusOnlyReplacements more;
    for (api::ObjectPtr& ing : snap.ingresses) {
      api::ObjectPtr w = status_written(ing, "192.0.2.11");
      if (recorded) more.record(ing, w, true);
      ing = std::move(w);
    }
    for (const auto& o : parse_objects(service_yaml("default", "app7", 3, 7)))
      put(o->kind() == "Service" ? snap.services : snap.endpoint_slices, o);
    snap.status_only = &more;
    const Model& after = cache.build(snap, {});
    snap.status_only = nullptr;
    EXPECT_TRUE(after == build_model(snap, {}));
    EXPECT_EQ(cache.translated(), 1u);
    EXPECT_EQ(cache.status_only_taken(), recorded ? size_t{kApps} : 0u);
  }
}

}  // namespace
}  // namespace kop::ingress
