#include "kop/api/json.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kop::api::json {

Value& set_member(Value& obj, std::string_view key, Value&& v, Allocator& alloc) {
  if (!obj.IsObject()) obj.SetObject();
  if (Value* existing = find(obj, key)) {
    *existing = std::move(v);
    return *existing;
  }
  obj.AddMember(make_string(key, alloc), v, alloc);
  return (obj.MemberEnd() - 1)->value;
}

Value& ensure_object(Value& obj, std::string_view key, Allocator& alloc) {
  Value* v = find(obj, key);
  if (v && v->IsObject()) return *v;
  return set_member(obj, key, Value(rapidjson::kObjectType), alloc);
}

bool remove_member(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return false;
  Value k(ref(key));
  auto it = obj.FindMember(k);
  if (it == obj.MemberEnd()) return false;
  // EraseMember keeps the order of the remaining members (RemoveMember would not).
  obj.EraseMember(it);
  return true;
}

std::string to_json(const Value& v, size_t size_hint) {
  // RapidJSON's Writer has a fast path for its own StringBuffer (reserve, then unchecked puts);
  // pre-sizing it and copying once beats writing into a std::string directly.
  rapidjson::StringBuffer sb(nullptr,
                             size_hint ? size_hint : rapidjson::StringBuffer::kDefaultCapacity);
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string to_json_pretty(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace kop::api::json
