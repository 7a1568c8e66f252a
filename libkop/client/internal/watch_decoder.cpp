#include "internal/watch_decoder.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "kop/api/json.h"
#include "kop/client/errors.h"

namespace kop::client::internal {

absl::StatusOr<WatchEvent> decode_watch_event(const char* data, size_t size) {
  rapidjson::Document doc;
  if (rapidjson::ParseResult parsed = api::json::parse_into(doc, std::string_view(data, size));
      parsed.IsError())
    return absl::DataLossError(fmt::format("watch: undecodable event (offset {}: {})",
                                           parsed.Offset(),
                                           rapidjson::GetParseError_En(parsed.Code())));
  if (!doc.IsObject()) return absl::DataLossError("watch: event is not a JSON object");
  auto type_it = doc.FindMember("type");
  auto obj_it = doc.FindMember("object");
  if (type_it == doc.MemberEnd() || !type_it->value.IsString() || obj_it == doc.MemberEnd() ||
      !obj_it->value.IsObject())
    return absl::DataLossError("watch: event without type or object");
  std::string_view type(type_it->value.GetString(), type_it->value.GetStringLength());
  WatchEvent ev;
  if (type == "ADDED") {
    ev.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    ev.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    ev.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    ev.type = WatchEvent::Type::kBookmark;
  } else if (type == "ERROR") {
    ev.type = WatchEvent::Type::kError;
  } else {
    return absl::DataLossError(fmt::format("watch: unknown event type \"{}\"", type));
  }
  if (ev.type == WatchEvent::Type::kError) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    obj_it->value.Accept(w);
    std::string_view json(buf.GetString(), buf.GetSize());
    auto parsed = parse_status_json(json);
    ev.error = parsed.ok() ? to_status(*parsed)
                           : internal_error(fmt::format("watch ERROR event without a Status: {}",
                                                        json.substr(0, 512)));
  }
  // Make the object the document's root: both values live in doc's pool, so this moves
  // pointers only; the old root (the wrapper) is dropped with no copy.
  rapidjson::Value object;
  object.Swap(obj_it->value);
  static_cast<rapidjson::Value&>(doc).Swap(object);
  auto obj = api::Object::from_document(std::move(doc));
  if (!obj.ok()) return obj.status();
  ev.object = api::share(*std::move(obj));
  return ev;
}

}  // namespace kop::client::internal
