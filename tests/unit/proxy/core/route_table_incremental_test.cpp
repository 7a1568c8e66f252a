// RouteTable::compile(config, previous) against compile(config): random sequences of changes
// to virtual hosts (domains in any case, with trailing dots, wildcards, the catch-all; renamed,
// also to another host's name; now and then a rate-limited route),
// clusters (endpoints, invalid settings, renamed in place, also with a name another cluster
// has, dropped and added back), a host changed with a cluster it references, the listeners'
// host lists or a name prefix instead, a listener selecting hosts by name prefix and a TLS
// passthrough listener, each Config
// holding the unchanged parts of the previous one as the same Shared objects (as the ingress
// controller's render does). After every step both compiles must agree: the same error, or tables
// that route every probed Host and path alike, with consistent cluster indexes and route ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "kop/proxy/route_table.h"

namespace kop::proxy {
namespace {

constexpr int kBusy = 12;      // host slots that change most often
constexpr int kDomains = 100;  // the names they draw domains from

// The hosts requests are probed with: every domain of the config as written, in other cases,
// with a port, with a trailing dot, and names under its wildcards; and a few nothing serves.
std::vector<std::string> probes(const Config& config) {
  std::set<std::string> out = {"other.org", "", "h1.example.com"};
  for (const VirtualHostConfig& vh : config.virtual_hosts)
    for (const std::string& d : vh.domains) {
      std::string name = d.starts_with("*.") ? "x" + d.substr(1) : d;
      std::string upper = name;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (const std::string& p : {name, upper + ":8080", name + ".", "a.b." + name}) out.insert(p);
    }
  return {out.begin(), out.end()};
}

class World {
 public:
  // `hosts` host slots. The first 12 change most often and draw their domains from 100 names
  // (few enough to collide now and then); the others, with domains of their own, change now
  // and then.
  World(uint32_t seed, int hosts, int clusters = 6)
      : rng_(seed), hosts_n_(hosts), clusters_n_(clusters) {
    for (int c = 0; c < clusters_n_; ++c) clusters_[c] = cluster(c);
    for (int h = 0; h < hosts_n_; ++h)
      if (pick(2) == 0) hosts_[h] = host(h);
  }

  // One random change; says what it was.
  std::string change() {
    if (broken_ >= 0) {  // the cluster broken by the previous change is made good again
      clusters_[broken_] = cluster(broken_);
      broken_ = -1;
    }
    int what = pick(115);
    if (what >= 100) return cluster_change(what - 100);
    if (what < 40) {
      int h = pick_host();
      hosts_[h] = host(h);
      return "host " + std::to_string(h);
    }
    if (what < 45) {  // renamed in place: a new name, or another host's (refused)
      int h = pick_host();
      if (hosts_.count(h) == 0) hosts_[h] = host(h);
      VirtualHostConfig vh = *hosts_[h];
      vh.name = pick(2) == 0 ? "n" + std::to_string(pick(hosts_n_))
                             : "vh" + std::to_string(pick(hosts_n_));
      hosts_[h] = vh;
      return "host " + std::to_string(h) + " renamed " + vh.name;
    }
    if (what < 55) {
      int h = pick_host();
      hosts_.erase(h);
      return "drop host " + std::to_string(h);
    }
    if (what < 75) {
      int c = pick(clusters_n_);
      clusters_[c] = cluster(c);
      for (int gone = 0; gone < clusters_n_; ++gone)  // and one dropped cluster comes back
        if (clusters_.count(gone) == 0) {
          clusters_[gone] = cluster(gone);
          break;
        }
      return "endpoints of c" + std::to_string(c);
    }
    if (what < 78) {
      int c = pick(clusters_n_);
      clusters_.erase(c);
      return "drop cluster c" + std::to_string(c);
    }
    if (what < 90) {
      listed_.clear();
      http_prefix_.clear();
      if (pick(4) == 0) {  // the hosts by name prefix: renamed ones ("n...") or the others
        http_prefix_ = pick(2) == 0 ? "vh" : "n";
        return "http serves prefix " + http_prefix_;
      }
      for (const auto& [h, vh] : hosts_)
        if (pick(3) != 0) listed_.push_back(vh->name);
      return "http lists " + std::to_string(listed_.size()) + " hosts";
    }
    passthrough_.clear();
    for (int p = pick(3); p > 0; --p) {
      TcpProxyConfig relay;
      relay.server_names = {"tls" + std::to_string(p + pick(2)) + ".example.com"};
      relay.clusters = {WeightedCluster{"c" + std::to_string(pick(clusters_n_)), 1}};
      passthrough_.push_back(std::move(relay));
    }
    return "passthrough entries";
  }

  // The config of the world now; unchanged parts are the Shared objects of the previous one.
  Config config() const {
    Config c;
    c.admin.enabled = false;
    for (const auto& [h, vh] : hosts_) c.virtual_hosts.push_back(vh);
    for (const auto& [n, cl] : clusters_) c.clusters.push_back(cl);
    ListenerConfig http;
    http.name = "http";
    http.address = SocketAddress{"127.0.0.1", 8080};
    http.virtual_host_prefix = http_prefix_;
    for (const std::string& name : listed_)
      if (std::any_of(hosts_.begin(), hosts_.end(),
                      [&](const auto& e) { return e.second->name == name; }))
        http.virtual_hosts.push_back(name);
    c.listeners.push_back(std::move(http));
    ListenerConfig deep;
    deep.name = "deep";
    deep.address = SocketAddress{"127.0.0.1", 8081};
    deep.domain_wildcards = DomainWildcards::kOneOrMoreLabels;
    c.listeners.push_back(std::move(deep));
    ListenerConfig some;  // the hosts named vh1, vh10..vh19, vh100.. (renames come and go)
    some.name = "some";
    some.address = SocketAddress{"127.0.0.1", 8082};
    some.virtual_host_prefix = "vh1";
    c.listeners.push_back(std::move(some));
    if (!passthrough_.empty()) {
      ListenerConfig tls;
      tls.name = "tls";
      tls.address = SocketAddress{"127.0.0.1", 8443};
      tls.tls = TlsConfig{};
      tls.tls->passthrough = passthrough_;
      c.listeners.push_back(std::move(tls));
    }
    return c;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  // The changes that keep the clusters' names in place (compile's shared name index) or rename
  // one in place.
  std::string cluster_change(int what) {
    int c = pick(clusters_n_);
    if (clusters_.count(c) == 0) clusters_[c] = cluster(c);
    ClusterConfig cc = *clusters_[c];
    if (what < 5) {  // invalid settings: refused, as by a full compile
      cc.endpoints.push_back(EndpointConfig{SocketAddress{"10.0.1.1", 80}, pick(2) == 0 ? 0u : 1u});
      if (pick(2) == 0) cc.endpoints.push_back(cc.endpoints.back());
      clusters_[c] = cc;
      broken_ = c;
      return "bad settings of c" + std::to_string(c);
    }
    if (what < 10) {  // renamed in place: its references break, or it takes another's name
      cc.name = pick(2) == 0 ? "r" + std::to_string(c) : "c" + std::to_string(pick(clusters_n_));
      clusters_[c] = cc;
      broken_ = c;
      return "c" + std::to_string(c) + " renamed " + cc.name;
    }
    int h = pick_host();  // a host changed with the cluster its first route forwards to
    hosts_[h] = host(h);
    const std::string& target = hosts_[h]->routes[0].forward.clusters[0].cluster;
    int t = std::stoi(target.substr(1));
    clusters_[t] = cluster(t);
    return "host " + std::to_string(h) + " and its " + target;
  }

  int pick_host() { return pick(10) == 0 ? pick(hosts_n_) : pick(std::min(hosts_n_, kBusy)); }

  // A domain of host slot h: from the busy slots' shared names, or of its own (in any form).
  std::string domain(int h) {
    int i = h < kBusy ? pick(kDomains) : kDomains + h;
    switch (pick(6)) {
      case 0:
        return "H" + std::to_string(i) + ".Example.COM";
      case 1:
        return "h" + std::to_string(i) + ".example.com.";
      case 2:
        return "*.w" + std::to_string(i) + ".example.com";
      case 3:
        return pick(8) == 0 && h < kBusy ? "*" : "h" + std::to_string(i) + ".example.com";
      default:
        return "h" + std::to_string(i) + ".example.com";
    }
  }

  Shared<VirtualHostConfig> host(int h) {
    VirtualHostConfig vh;
    vh.name = "vh" + std::to_string(h);
    vh.domains = {domain(h)};
    if (pick(8) == 0 && h < kBusy) vh.domains.push_back(domain(h));
    if (pick(5) == 0) vh.route_order = RouteOrder::kConfig;
    for (int r = pick(3) + 1; r > 0; --r) {
      RouteConfig rc;
      rc.match.path = PathMatch{pick(3) == 0 ? PathMatchType::kExact : PathMatchType::kPrefix,
                                pick(2) == 0 ? "/" : "/p" + std::to_string(pick(3))};
      rc.forward.clusters = {WeightedCluster{"c" + std::to_string(pick(clusters_n_)), 1}};
      if (pick(3) == 0)
        rc.forward.clusters.push_back(WeightedCluster{"c" + std::to_string(pick(clusters_n_)),
                                                      static_cast<uint32_t>(pick(3) + 1)});
      // Zones shared by name across hosts; two policies of one are refused.
      if (h < kBusy && pick(25) == 0)
        rc.rate_limit = RateLimitPolicy{.zone = "z" + std::to_string(pick(2)),
                                        .requests_per_second = static_cast<uint32_t>(pick(2) + 1)};
      vh.routes.push_back(std::move(rc));
    }
    return vh;
  }

  Shared<ClusterConfig> cluster(int c) {
    ClusterConfig cc;
    cc.name = "c" + std::to_string(c);
    for (int e = pick(3); e > 0; --e)
      cc.endpoints.push_back(EndpointConfig{
          SocketAddress{"10.0.0." + std::to_string(e), static_cast<uint16_t>(8000 + pick(3))}, 1});
    return cc;
  }

  std::mt19937 rng_;
  int hosts_n_;
  int clusters_n_;
  std::map<int, Shared<VirtualHostConfig>> hosts_;
  std::map<int, Shared<ClusterConfig>> clusters_;
  std::vector<std::string> listed_;
  std::string http_prefix_;  // with listed_ empty: http serves the hosts named so
  std::vector<TcpProxyConfig> passthrough_;
  int broken_ = -1;  // a cluster the last change made invalid or renamed
};

// What a table does, by name: per listener and probed Host the virtual host it selects, per
// virtual host and path the route and the clusters its entries name; the relays; and what must
// hold of cluster indexes and route ids.
std::string describe(const RouteTable& t) {
  std::ostringstream out;
  std::set<uint32_t> ids;
  out << "routes " << t.route_count() << "\n";
  for (const VirtualHost& vh : t.virtual_hosts()) {
    out << "vhost " << vh.name << "\n";
    for (const Route& r : vh.routes) {
      if (r.id >= t.route_id_limit() || !ids.insert(r.id).second) out << "  bad id " << r.name;
      if (r.virtual_host != &vh) out << "  not its host " << r.name;
    }
    for (std::string_view path : {"/", "/p0", "/p1/x", "/p2"}) {
      const Route* r = t.match(vh, RequestView{.path = path});
      out << "  " << path << " -> " << (r == nullptr ? "none" : r->name);
      if (r != nullptr)
        for (const RouteClusterRef& c : r->clusters) out << " " << t.cluster(c.cluster).name;
      out << "\n";
    }
  }
  for (const Listener& l : t.listeners()) {
    out << "listener " << l.name << "\n";
    for (const std::string& host : probes(t.config())) {
      const VirtualHost* vh = t.find_virtual_host(l, host);
      out << "  " << host << " -> " << (vh == nullptr ? "none" : vh->name) << "\n";
    }
    for (int i = 0; i < 4; ++i) {
      const ListenerTcpProxy* relay =
          t.passthrough_for_sni(l, "tls" + std::to_string(i) + ".example.com");
      if (relay != nullptr)
        out << "  relay " << relay->name << " -> " << t.cluster(relay->pick_cluster(0)).name
            << "\n";
    }
  }
  std::vector<std::string> clusters;
  for (std::size_t i = 0; i < t.clusters().size(); ++i) {
    if (!t.clusters()[i]) continue;
    const std::string& name = t.clusters()[i]->name;
    clusters.push_back(name + (t.cluster_index(name) == i ? "" : " (bad index)") + " endpoints " +
                       std::to_string(t.clusters()[i]->endpoints.size()));
  }
  std::sort(clusters.begin(), clusters.end());
  for (const std::string& c : clusters) out << "cluster " << c << "\n";
  return out.str();
}

// Runs `seeds` random sequences of `steps` changes over `hosts` host slots; counts outcomes.
struct Outcomes {
  size_t steps = 0, failed = 0, hosts_kept = 0, clusters_kept = 0, patched = 0;
  // Chunks of clusters a table shared with the previous one, or held of its own.
  size_t chunks_shared = 0, chunks_own = 0;
};
void run(uint32_t seeds, int hosts, int steps, Outcomes& o, int clusters = 6) {
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    World world(seed, hosts, clusters);
    std::shared_ptr<const RouteTable> table;
    std::string history;
    for (int step = 0; step < steps; ++step) {
      history += "--- step " + std::to_string(step) + ": " + world.change() + "\n";
      Config config = world.config();
      auto next = RouteTable::compile(config, table.get());
      auto fresh = RouteTable::compile(config);
      ASSERT_EQ(next.status(), fresh.status()) << "seed " << seed << "\n" << history;
      ++o.steps;
      if (!next.ok()) {
        ++o.failed;
        continue;
      }
      ASSERT_EQ(describe(**next), describe(**fresh)) << "seed " << seed << "\n" << history;
      o.patched += (*next)->routing_patched() ? 1 : 0;
      if (table) {
        std::set<const VirtualHost*> before;
        for (const auto& vh : table->virtual_hosts()) before.insert(vh.ptr().get());
        for (const auto& vh : (*next)->virtual_hosts())
          o.hosts_kept += before.count(vh.ptr().get());
        for (const auto& c : (*next)->clusters())
          for (const auto& b : table->clusters()) o.clusters_kept += c && b == c ? 1 : 0;
        for (size_t k = 0; k < (*next)->clusters().chunk_count(); ++k)
          ++((*next)->clusters().shares_chunk(table->clusters(), k) ? o.chunks_shared
                                                                    : o.chunks_own);
      }
      table = *next;
    }
  }
}

TEST(RouteTableIncremental, CompileAgainstThePreviousTableEqualsAFreshCompile) {
  Outcomes o;
  run(60, 12, 80, o);
  // Both outcomes and the reuse paths must be common, or the test proves little.
  EXPECT_GT(o.failed, o.steps / 50) << o.failed << " of " << o.steps;
  EXPECT_LT(o.failed, o.steps * 2 / 3) << o.failed << " of " << o.steps;
  EXPECT_GT(o.hosts_kept, o.steps) << o.hosts_kept;
  EXPECT_GT(o.clusters_kept, o.steps) << o.clusters_kept;
  EXPECT_GT(o.patched, o.steps / 10) << o.patched << " of " << o.steps;
}

// The same with hundreds of hosts: the name index and the listeners' host maps are patched
// shard by shard (several hosts per shard), and collisions land among many kept hosts.
TEST(RouteTableIncremental, ManyHostsPatchedShardByShard) {
  Outcomes o;
  run(6, 600, 40, o);
  EXPECT_GT(o.failed, 0u) << o.steps;
  EXPECT_LT(o.failed, o.steps * 2 / 3) << o.failed << " of " << o.steps;
  EXPECT_GT(o.hosts_kept, o.steps * 100) << o.hosts_kept << " kept, " << o.failed << " failed";
  EXPECT_GT(o.patched, o.steps / 8) << o.patched << " of " << o.steps;
}

// The same with hundreds of clusters (several chunks of ChunkedVector): a table compiled with
// the previous names shares the chunks no changed cluster is in and copies the others.
TEST(RouteTableIncremental, ManyClustersSharedChunkByChunk) {
  Outcomes o;
  run(10, 40, 60, o, 300);
  EXPECT_GT(o.failed, 0u) << o.steps;
  EXPECT_LT(o.failed, o.steps * 2 / 3) << o.failed << " of " << o.steps;
  EXPECT_GT(o.clusters_kept, o.steps * 100) << o.clusters_kept;
  EXPECT_GT(o.chunks_shared, o.steps) << o.chunks_shared << " shared, " << o.chunks_own << " own";
  EXPECT_GT(o.chunks_own, o.steps / 10) << o.chunks_shared << " shared, " << o.chunks_own << " own";
}

}  // namespace
}  // namespace kop::proxy
