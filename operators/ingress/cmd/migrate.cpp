// `kop-ingress migrate` (migrate.h).
#include "migrate.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/yaml.h"
#include "kop/client/config.h"
#include "kop/client/rest_client.h"
#include "kop/flags/flags.h"
#include "kop/ingress/gateway_migration.h"
#include "kop/ingress/nginx_annotations.h"

namespace kop::ingress {
namespace {

// Ingresses, and Services (a backend may name its port; --to-gateway needs the number).
bool wanted(const api::Object& o) {
  return o.kind() == "Ingress" || o.kind() == "Service";
}

absl::Status read_path(const std::string& path, std::vector<api::Object>& out) {
  std::error_code ec;
  std::vector<std::string> files;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
      std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    auto objects = api::load_manifest_file(f);
    if (!objects.ok()) return objects.status();
    for (auto& o : *objects)
      if (wanted(o)) out.push_back(std::move(o));
  }
  return absl::OkStatus();
}

// The Ingresses of the cluster, and its Services when `services` (--to-gateway).
absl::Status read_cluster(const std::string& kubeconfig, const std::string& ns, bool services,
                          std::vector<api::Object>& out) {
  absl::StatusOr<client::Config> config =
      kubeconfig.empty() ? client::load_default_config()
                         : client::load_kubeconfig(client::KubeconfigOptions{{kubeconfig}});
  if (!config.ok()) return config.status();
  auto rest = client::RestClient::create(*config);
  if (!rest.ok()) return rest.status();
  std::vector<client::ResourceRef> refs = {{"networking.k8s.io", "v1", "ingresses", "", ns, ""},
                                           {"", "v1", "services", "", ns, ""}};
  if (!services) refs.pop_back();
  for (const client::ResourceRef& ref : refs) {
    client::ListOptions options;
    options.limit = 500;
    do {
      auto list = (*rest)->list(ref, options);
      if (!list.ok()) return list.status();
      for (const auto& item : list->items) {
        out.push_back(*item);
        out.back().set_kind(ref.resource == "services" ? "Service" : "Ingress");
      }
      options.continue_token = list->continue_token;
    } while (!options.continue_token.empty());
  }
  return absl::OkStatus();
}

std::string key_of(const api::Object& o) {
  std::string ns(o.ns().empty() ? "default" : o.ns());
  return ns + "/" + std::string(o.name());
}

}  // namespace

int run_migrate(int argc, char** argv) {
  std::vector<std::string> files;
  std::string kubeconfig;
  std::string ns;
  bool to_gateway = false;
  GatewayMigrationOptions gateway;
  kop::flags::FlagSet flags(
      "kop-ingress migrate",
      "kop-ingress migrate [-f FILE|DIR]... [--kubeconfig PATH] [-n NS] [--to-gateway "
      "[--gateway-class NAME] [--gateway NAME/NAMESPACE]]",
      "Reports, per Ingress, how kop-ingress reads its nginx.ingress.kubernetes.io/* "
      "annotations: supported, supported with a difference (named), or not supported (ignored, "
      "never executed). With --to-gateway, prints instead the Gateway API objects (a Gateway, "
      "ReferenceGrants, HTTPRoutes) serving the same requests, each annotation without a Gateway "
      "API equivalent named in a comment. The tables behind both: "
      "docs/migrating-from-ingress-nginx.md.");
  flags.add("filename", "FILE|DIR",
            "read Ingresses from YAML/JSON files (a folder: its *.yaml, *.yml, *.json); "
            "repeatable. Without -f: from the cluster.",
            [&files](std::string_view v) {
              files.emplace_back(v);
              return absl::OkStatus();
            });
  flags.alias("-f", "filename");
  flags.add_string("kubeconfig", "PATH",
                   "kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)", &kubeconfig);
  flags.add_string("namespace", "NS", "only this namespace (cluster; default all namespaces)", &ns);
  flags.alias("-n", "namespace");
  flags.add_bool("to-gateway",
                 "print a Gateway, ReferenceGrants and HTTPRoutes for the Ingresses (YAML for "
                 "kubectl apply) instead of the report",
                 &to_gateway);
  flags.add_string("gateway-class", "NAME",
                   "with --to-gateway: the Gateway's gatewayClassName (default kop)",
                   &gateway.gateway_class);
  flags.add("gateway", "NAME/NAMESPACE",
            "with --to-gateway: the Gateway's name and namespace (default ingress-nginx/default)",
            [&gateway](std::string_view v) {
              size_t slash = v.find('/');
              if (slash == std::string_view::npos || slash == 0 || slash + 1 == v.size() ||
                  v.find('/', slash + 1) != std::string_view::npos)
                return absl::InvalidArgumentError(
                    "--gateway: want NAME/NAMESPACE, e.g. ingress-nginx/default");
              gateway.gateway_name = std::string(v.substr(0, slash));
              gateway.gateway_namespace = std::string(v.substr(slash + 1));
              return absl::OkStatus();
            });
  if (std::optional<int> exit = flags.run(argc, argv)) return *exit;

  std::vector<api::Object> ingresses;
  for (const auto& f : files) {
    if (auto s = read_path(f, ingresses); !s.ok()) {
      std::cerr << "kop-ingress migrate: " << f << ": " << s.message() << "\n";
      return 1;
    }
  }
  if (files.empty()) {
    if (auto s = read_cluster(kubeconfig, ns, to_gateway, ingresses); !s.ok()) {
      std::cerr << "kop-ingress migrate: cannot list Ingresses: " << s.message() << "\n";
      return 1;
    }
  }
  if (to_gateway) {
    std::cout << migration_yaml(migrate_to_gateway(ingresses, gateway));
    return 0;
  }
  std::erase_if(ingresses, [](const api::Object& o) { return o.kind() != "Ingress"; });
  std::sort(ingresses.begin(), ingresses.end(),
            [](const api::Object& a, const api::Object& b) { return key_of(a) < key_of(b); });

  std::map<NginxSupport, size_t> totals;
  size_t with_annotations = 0;
  for (const auto& ing : ingresses) {
    NginxAnnotations a = read_nginx_annotations(ing);
    std::cout << "Ingress " << key_of(ing);
    if (a.verdicts.empty()) {
      std::cout << ": no nginx.ingress.kubernetes.io annotations\n";
      continue;
    }
    ++with_annotations;
    std::cout << "\n";
    size_t width = 0;
    for (const auto& v : a.verdicts) width = std::max(width, v.annotation.size());
    for (const auto& v : a.verdicts) {
      ++totals[v.support];
      std::string label = v.support == NginxSupport::kSupported   ? "supported"
                          : v.support == NginxSupport::kDifferent ? "supported, different"
                                                                  : "not supported";
      std::cout << "  " << v.annotation << std::string(width - v.annotation.size() + 2, ' ')
                << label;
      if (!v.note.empty()) std::cout << ": " << v.note;
      std::cout << "\n";
    }
  }
  size_t all = totals[NginxSupport::kSupported] + totals[NginxSupport::kDifferent] +
               totals[NginxSupport::kIgnored];
  std::cout << "\nTotal: " << ingresses.size() << " Ingresses (" << with_annotations
            << " with nginx annotations), " << all
            << " annotations: " << totals[NginxSupport::kSupported] << " supported, "
            << totals[NginxSupport::kDifferent] << " supported with a difference, "
            << totals[NginxSupport::kIgnored] << " not supported\n";
  return 0;
}

}  // namespace kop::ingress
