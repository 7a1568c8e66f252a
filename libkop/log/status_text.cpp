// status_text: an absl::Status as one readable line. The API Status is found by its JSON shape,
// not by kop::client's payload URL: log is below client in the module order.
#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "kop/log/log.h"

namespace kop::log {
namespace {

// The "reason" of a payload that is a Kubernetes Status object, if any payload is one.
std::optional<std::string> api_reason(const absl::Status& status) {
  std::optional<std::string> reason;
  status.ForEachPayload([&](absl::string_view, const absl::Cord& payload) {
    if (reason) return;
    std::string text(payload);
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) return;
    auto kind = doc.FindMember("kind");
    auto r = doc.FindMember("reason");
    if (kind == doc.MemberEnd() || !kind->value.IsString() ||
        std::string_view(kind->value.GetString()) != "Status" || r == doc.MemberEnd() ||
        !r->value.IsString() || r->value.GetStringLength() == 0) {
      return;
    }
    reason = std::string(r->value.GetString(), r->value.GetStringLength());
  });
  return reason;
}

}  // namespace

std::string status_text(const absl::Status& status) {
  if (status.ok()) return "OK";
  std::string head = api_reason(status).value_or(absl::StatusCodeToString(status.code()));
  return head + ": " + std::string(status.message());
}

}  // namespace kop::log
