#include "apply.h"

#include "patch.h"
#include "yaml.h"

namespace kop::local::apply {

Result<JsonDoc> apply(const ResourceType& t, const JsonValue* live, std::string_view body, std::string_view manager,
                      bool force, bool status) {
  (void)t;
  (void)manager;
  (void)force;
  (void)status;
  JsonDoc cfg;
  std::string err;
  if (!yaml::parse_one(body, cfg, err)) return errors::bad_request(err);
  if (!live) return cfg;
  JsonDoc out = json::clone(*live);
  patch::merge_into(out, cfg, out.GetAllocator());
  return out;
}

void track_update(const ResourceType& t, const JsonValue* old, JsonDoc& obj, std::string_view manager,
                  std::string_view operation) {
  (void)t;
  (void)old;
  (void)obj;
  (void)manager;
  (void)operation;
}

}  // namespace kop::local::apply
