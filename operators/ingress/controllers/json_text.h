// Small JSON text helpers shared by the controller and the status writer (internal header).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace kop::ingress::json_text {

// `s` as a JSON string literal (quoted, escaped).
inline std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

// `v` serialized compactly; "null" for a missing value.
inline std::string of(const rapidjson::Value* v) {
  if (v == nullptr) return "null";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v->Accept(w);
  return buf.GetString();
}

}  // namespace kop::ingress::json_text
