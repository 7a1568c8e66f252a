// The Kubernetes REST API over kop::local::Store, independent of the socket layer: request in,
// response out (or a watch to stream). Paths, query parameters, status codes, Status bodies,
// discovery and Table output follow kube-apiserver. Internal to kop::local; http_front.cpp does
// the I/O.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kop/local/store.h"

namespace kop::local::rest {

struct Request {
  std::string method;                          // GET, POST, PUT, PATCH, DELETE
  std::string target;                          // path?query as received
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for ?watch=1: the I/O layer streams events from it (chunked, one JSON per line).
  WatchPtr watch;
  ResourceTypePtr watch_type;
  bool watch_table = false;
  // The client takes protobuf and not JSON: frames of encode_event_protobuf.
  bool watch_protobuf = false;
};

struct Options {
  std::string token;           // bearer token required when non-empty
  std::string server_address;  // host:port, for /api serverAddressByClientCIDRs
};

Response handle(Store& store, const Options& opts, const Request& req);

// One watch event as the API server writes it on the stream: {"type":"ADDED","object":{...}}.
std::string encode_event(const WatchEvent& ev, const ResourceType& t, bool table);
// The same event as a protobuf watch stream frame (application/vnd.kubernetes.protobuf;
// stream=watch): a 4-byte big-endian length, then metav1.WatchEvent {type, object}.
std::string encode_event_protobuf(const WatchEvent& ev);

}  // namespace kop::local::rest
