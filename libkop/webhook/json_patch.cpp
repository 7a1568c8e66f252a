#include "kop/webhook/json_patch.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "kop/api/json.h"

namespace kop::webhook {

namespace {

using Value = rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void append_token(std::string& path, std::string_view token) {
  path += '/';
  for (char c : token) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path += c;
    }
  }
}

void write_op(Writer& w, std::string_view op, const std::string& path, const Value* value) {
  w.StartObject();
  w.Key("op");
  w.String(op.data(), static_cast<rapidjson::SizeType>(op.size()));
  w.Key("path");
  w.String(path.data(), static_cast<rapidjson::SizeType>(path.size()));
  if (value != nullptr) {
    w.Key("value");
    value->Accept(w);
  }
  w.EndObject();
}

// Numbers compare by value (1 == 1.0), as the API server's decoding makes them equal.
bool same(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  return a == b;
}

void diff(Writer& w, std::string& path, const Value& from, const Value& to) {
  if (from.IsObject() && to.IsObject()) {
    size_t base = path.size();
    for (auto it = from.MemberBegin(); it != from.MemberEnd(); ++it) {
      std::string_view key = api::json::as_string_view(it->name);
      append_token(path, key);
      const Value* other = api::json::find(to, key);
      if (other == nullptr) {
        write_op(w, "remove", path, nullptr);
      } else {
        diff(w, path, it->value, *other);
      }
      path.resize(base);
    }
    for (auto it = to.MemberBegin(); it != to.MemberEnd(); ++it) {
      std::string_view key = api::json::as_string_view(it->name);
      if (api::json::find(from, key) != nullptr) continue;
      append_token(path, key);
      write_op(w, "add", path, &it->value);
      path.resize(base);
    }
    return;
  }
  if (from.IsArray() && to.IsArray() && from.Size() == to.Size()) {
    size_t base = path.size();
    for (rapidjson::SizeType i = 0; i < from.Size(); ++i) {
      append_token(path, std::to_string(i));
      diff(w, path, from[i], to[i]);
      path.resize(base);
    }
    return;
  }
  if (!same(from, to)) write_op(w, "replace", path, &to);
}

}  // namespace

std::string json_patch(const Value& from, const Value& to) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  std::string path;
  w.StartArray();
  diff(w, path, from, to);
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace kop::webhook
