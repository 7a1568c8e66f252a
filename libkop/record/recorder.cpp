#include "kop/record/recorder.h"

#include <absl/strings/str_cat.h>
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "kop/api/time.h"
#include "kop/client/errors.h"

namespace kop::record {
namespace {

const client::ResourceRef kEvents{"", "v1", "events", {}, {}, {}};

constexpr std::string_view kCombinedPrefix = "(combined from similar events): ";

// The merge patch of a repeated Event: what changes between two observations of it.
std::string repeat_patch(int64_t count, absl::Time t, std::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("count");
  w.Int64(count);
  w.Key("lastTimestamp");
  std::string ts = api::format_time(t);
  w.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

Recorder::Recorder(client::Client& client, RecorderOptions options)
    : client_(client), options_(std::move(options)) {}

bool Recorder::take_token(const std::string& key, absl::Time now) {
  if (buckets_.size() >= options_.max_remembered && !buckets_.contains(key)) buckets_.clear();
  auto [it, fresh] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = options_.spam_burst;
  } else if (options_.spam_refill > absl::ZeroDuration()) {
    b.tokens = std::min<double>(options_.spam_burst,
                                b.tokens + absl::FDivDuration(now - b.last, options_.spam_refill));
  }
  b.last = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

bool Recorder::combine(const std::string& similar_key, std::string_view message, absl::Time now) {
  if (options_.similar_max == 0) return false;
  if (similar_.size() >= options_.max_remembered && !similar_.contains(similar_key)) {
    similar_.clear();
  }
  Similar& s = similar_[similar_key];
  // A gap longer than the interval (or no record yet) starts the tracking afresh.
  if (s.messages.empty() || now - s.last > options_.similar_interval) s = Similar{};
  s.messages.insert(std::string(message));
  s.last = now;
  if (s.messages.size() < options_.similar_max) return false;
  // Keep the set below the limit (any one goes), so every further message is combined too.
  s.messages.erase(s.messages.begin());
  return true;
}

absl::Status Recorder::event(const api::Object& regarding, std::string_view type,
                             std::string_view reason, std::string_view message) {
  if (type != kEventTypeNormal && type != kEventTypeWarning) {
    return absl::InvalidArgumentError(absl::StrCat("event type must be Normal or Warning, not ",
                                                   absl::string_view(type.data(), type.size())));
  }
  std::string ns = regarding.namespace_().empty() ? "default" : std::string(regarding.namespace_());
  std::string spam_key = fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", options_.component,
                                     options_.host, regarding.kind(), regarding.namespace_(),
                                     regarding.name(), regarding.uid(), regarding.api_version());
  std::string similar_key = fmt::format("{}\x1f{}\x1f{}", spam_key, type, reason);
  absl::Time t = now();
  // One event at a time: aggregation must see the previous write of the same event.
  absl::MutexLock lock(&mu_);
  std::string combined_message;
  std::string key;
  if (combine(similar_key, message, t)) {
    // Every combined message shares one Event (keyed without the message), updated in place.
    combined_message =
        absl::StrCat(absl::string_view(kCombinedPrefix.data(), kCombinedPrefix.size()),
                     absl::string_view(message.data(), message.size()));
    message = combined_message;
    key = similar_key + "\x1f(combined)";
  } else {
    key = fmt::format("{}\x1f{}", similar_key, message);
  }
  if (!take_token(spam_key, t)) {
    return absl::ResourceExhaustedError(
        fmt::format("event {} on {}/{} dropped by the spam filter (burst {})", reason, ns,
                    regarding.name(), options_.spam_burst));
  }
  if (auto it = remembered_.find(key); it != remembered_.end()) {
    Remembered& r = it->second;
    auto patched =
        client_.patch(kEvents.in(r.namespace_).named(r.name), client::PatchType::kJsonMerge,
                      repeat_patch(r.count + 1, t, message));
    if (patched.ok()) {
      ++r.count;
      return absl::OkStatus();
    }
    if (!client::is_not_found(patched.status())) return patched.status();
    remembered_.erase(it);  // the Event expired or was deleted: write a new one
  }
  api::Object e("v1", "Event");
  e.set_namespace(ns);
  // client-go's name; the nanoseconds are kept strictly increasing so that two events in the
  // same clock tick (a coarse or injected clock) do not collide.
  last_name_nanos_ = std::max(absl::ToUnixNanos(t), last_name_nanos_ + 1);
  e.set_name(fmt::format("{}.{:x}", regarding.name(), last_name_nanos_));
  auto set = [&e](std::string_view p, std::string_view v) {
    if (!v.empty()) e.set_string(p, v).IgnoreError();
  };
  set("/involvedObject/kind", regarding.kind());
  set("/involvedObject/namespace", regarding.namespace_());
  set("/involvedObject/name", regarding.name());
  set("/involvedObject/uid", regarding.uid());
  set("/involvedObject/apiVersion", regarding.api_version());
  set("/involvedObject/resourceVersion", regarding.resource_version());
  set("/reason", reason);
  set("/message", message);
  set("/type", type);
  set("/source/component", options_.component);
  set("/source/host", options_.host);
  set("/reportingComponent", options_.component);
  set("/reportingInstance", options_.host);
  set("/firstTimestamp", api::format_time(t));
  set("/lastTimestamp", api::format_time(t));
  e.set_int("/count", 1).IgnoreError();
  auto created = client_.create(kEvents.in(ns), e);
  if (!created.ok()) return created.status();
  if (remembered_.size() >= options_.max_remembered) remembered_.clear();
  remembered_[key] = Remembered{ns, std::string((*created)->name()), 1};
  return absl::OkStatus();
}

}  // namespace kop::record
