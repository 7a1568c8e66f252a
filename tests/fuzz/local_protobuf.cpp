// Fuzz target: kop::local's protobuf body decoder (application/vnd.kubernetes.protobuf, the
// k8s\0 envelope around runtime.Unknown) over the field tables of every served kind. Besides
// crashes, leaks and UB it checks that what decodes encodes again and decodes back to the same
// JSON (Go's normal form is a fixed point).
//
// Input: the request body as a client sends it; seeds are kubectl's own bodies and kop-local's
// protobuf answers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "kop/local/names.h"
#include "proto_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  namespace proto = kop::local::proto;
  namespace json = kop::api::json;
  std::string_view in(reinterpret_cast<const char*>(bytes), size);
  auto decoded = proto::decode(in);
  if (!decoded.ok()) return 0;
  std::string first = json::to_json(*decoded);
  auto encoded = proto::encode(*decoded);
  if (!encoded.ok())
    kop::fuzz::fail("a decoded body does not encode", first, encoded.status().ToString());
  auto again = proto::decode(*encoded);
  if (!again.ok())
    kop::fuzz::fail("an encoded body does not decode", first, again.status().ToString());
  std::string second = json::to_json(*again);
  if (first != second) kop::fuzz::fail("decode(encode(x)) != x", first, second);
  return 0;
}
