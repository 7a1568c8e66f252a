// StatusWriter: the Services of Gateways (gateway_services.h), made, updated and deleted by the
// leader on the writer thread, with the same "write what differs, retry with backoff" rules as
// the statuses.
#include <absl/strings/str_cat.h>
#include "kop/client/errors.h"
#include "kop/log/log.h"
#include "status_writer.h"

namespace kop::ingress {
namespace {

const kop::log::Logger& logger() {
  static const kop::log::Logger l = kop::log::Logger().with_name("ingress-status");
  return l;
}

}  // namespace

StatusWriter::Outcome StatusWriter::gateway_service(const DesiredGatewayService& want) {
  const GatewayServiceOptions& o = options_.gateway_services;
  const std::string wkey = "Service|" + o.ns + "/" + want.name;
  absl::Time now = absl::Now();
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(options_.service);
  api::ObjectPtr current = informer ? informer->get(o.ns, want.name) : nullptr;
  if (current && gateway_service_matches(*current, want, o)) {
    retries_.erase(wkey);
    written_.erase(wkey);
    return Outcome::kDone;
  }
  // The value compared: the wanted ports (all else comes from the options, fixed for the run).
  std::string value;
  for (const auto& [port, target] : want.ports)
    absl::StrAppend(&value, value.empty() ? "" : ",", port, ":", target);
  std::string base(current ? current->resource_version() : "");
  if (auto w = written_.find(wkey); w != written_.end()) {
    if (w->second.base_resource_version == base && w->second.value == value)
      return Outcome::kDone;  // our write has not come back through the watch yet
    written_.erase(w);
  }
  if (backing_off(wkey, now) || paused(now)) return Outcome::kBackoff;
  auto ref = client::ResourceRef::of(options_.service, o.ns, want.name);
  absl::Status s = current ? client_.update(ref, gateway_service_update(*current, want, o)).status()
                           : client_
                                 .create(client::ResourceRef::of(options_.service, o.ns),
                                         gateway_service_object(want, o))
                                 .status();
  if (!s.ok()) {
    failed(wkey, s, now);
    return Outcome::kBackoff;
  }
  logger().info(current ? "gateway Service updated" : "gateway Service created", "service",
                o.ns + "/" + want.name, "gateway", want.gateway.key(), "ports", value);
  retries_.erase(wkey);
  written_[wkey] = Written{base, value};
  writes_.fetch_add(1);
  return Outcome::kWritten;
}

StatusWriter::Outcome StatusWriter::delete_gateway_service(const std::string& name) {
  const GatewayServiceOptions& o = options_.gateway_services;
  const std::string wkey = "Service|" + o.ns + "/" + name;
  absl::Time now = absl::Now();
  std::shared_ptr<cache::Informer> informer = cache_.find_informer(options_.service);
  api::ObjectPtr current = informer ? informer->get(o.ns, name) : nullptr;
  if (!current) {
    retries_.erase(wkey);
    written_.erase(wkey);
    return Outcome::kDone;
  }
  if (auto w = written_.find(wkey); w != written_.end()) {
    if (w->second.base_resource_version == current->resource_version() &&
        w->second.value == "deleted")
      return Outcome::kDone;
    written_.erase(w);
  }
  if (backing_off(wkey, now) || paused(now)) return Outcome::kBackoff;
  absl::Status s = client_.remove(client::ResourceRef::of(options_.service, o.ns, name)).status();
  if (!s.ok() && !client::is_not_found(s)) {
    failed(wkey, s, now);
    return Outcome::kBackoff;
  }
  logger().info("gateway Service deleted", "service", o.ns + "/" + name);
  retries_.erase(wkey);
  written_[wkey] = Written{std::string(current->resource_version()), "deleted"};
  writes_.fetch_add(1);
  return Outcome::kWritten;
}

}  // namespace kop::ingress
