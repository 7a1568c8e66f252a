// Fuzz target: the Kubernetes JSON decoder (api::Object::parse, as every watch line and response
// body is read). An object that parses must survive its own encodings: compact JSON and YAML
// both read back to an equal object.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "kop/api/object.h"
#include "kop/api/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto obj = kop::api::Object::parse(text);
  if (!obj.ok()) return 0;
  (void)obj->gvk();
  (void)obj->name();
  (void)obj->owner_references();
  const std::string json = obj->to_json();
  auto again = kop::api::Object::parse(json);
  if (!again.ok() || !(*again == *obj)) kop::fuzz::fail("JSON round trip", json);
  // YAML text is Unicode: strings that are not UTF-8 (raw bytes or lone surrogate escapes, which
  // Object::parse keeps as they come) are written with U+FFFD in place of each bad byte, which
  // can make two keys equal (a duplicate the reader refuses), so only objects whose compact JSON
  // is valid UTF-8 are held to the YAML round trip.
  rapidjson::Document utf8;
  utf8.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (utf8.HasParseError()) return 0;
  const std::string yaml = kop::api::to_yaml(*obj);
  auto from_yaml = kop::api::yaml_to_json(yaml);
  if (!from_yaml.ok() || from_yaml->size() != 1) {
    kop::fuzz::fail("YAML does not read back", yaml,
                    from_yaml.ok() ? "" : from_yaml.status().ToString());
  }
  auto yaml_obj = kop::api::Object::from_document(std::move((*from_yaml)[0]));
  if (!yaml_obj.ok() || !(*yaml_obj == *obj)) {
    kop::fuzz::fail("YAML round trip", yaml, yaml_obj.ok() ? yaml_obj->to_json() : json);
  }
  return 0;
}
