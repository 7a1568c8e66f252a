// Fuzz target: the proxy's config JSON (kop.proxy/v1, as kop-proxy --config and the admin API
// read it) through parse, validate and compile. A Config that parses must survive its own
// JSON (to_json then parse gives an equal Config); a table that compiles answers a few lookups.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "kop/proxy/config.h"
#include "kop/proxy/request_view.h"
#include "kop/proxy/route_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto config = kop::proxy::parse_config(text);
  if (!config.ok()) return 0;
  const std::string json = kop::proxy::to_json(*config, false);
  auto again = kop::proxy::parse_config(json);
  if (!again.ok() || !(*again == *config)) {
    kop::fuzz::fail("config JSON round trip", json,
                    again.ok() ? kop::proxy::to_json(*again, false) : again.status().ToString());
  }
  auto table = kop::proxy::RouteTable::compile(*config);
  if (!table.ok()) return 0;
  const kop::proxy::HeaderField headers[] = {{"user-agent", "fuzz"}, {"x-env", "canary"}};
  for (const auto& listener : (*table)->listeners()) {
    for (std::string_view host : {"example.com", "www.example.com:8080", "[::1]:80", ""}) {
      const kop::proxy::VirtualHost* vhost = (*table)->find_virtual_host(listener, host);
      if (vhost == nullptr) continue;
      kop::proxy::RequestView request;
      request.method = "GET";
      request.path = "/api/v1/items";
      request.host = host;
      request.headers = headers;
      (void)(*table)->match(*vhost, request);
    }
    (void)(*table)->certificate_for_sni(listener, "www.example.com");
    (void)(*table)->passthrough_for_sni(listener, "db.example.com");
  }
  return 0;
}
