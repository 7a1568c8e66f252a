// kop/log/log.h: structured logging for libkop and the programs built on it.
//
// A Logger carries a dotted name ("controller.ingress") and key/value pairs bound with
// with_values(); each call (error, warn, info, debug, trace) writes one record, one line,
// either logfmt-style text
//     ts=2026-11-26T19:20:00.123456Z level=info logger=controller msg="synced" kind=Ingress n=3
// or JSON
//     {"ts":"2026-11-26T19:20:00.123456Z","level":"info","logger":"controller","msg":"synced",...}
// Values are escaped so a record is always exactly one line.
//
// Cheap when disabled: every call compares its level with the global level (one relaxed atomic
// load) before anything is formatted. Arguments are still evaluated by the caller; when computing
// a value is itself costly, use KOP_LOG(logger, kDebug, "msg", ...), which evaluates nothing when
// the level is off, or test logger.enabled(Level::kDebug) first.
//
// Secrets: values are logged verbatim EXCEPT (a) values wrapped in kop::log::redacted(v), printed
// as "[redacted]", and (b) values whose key names a credential (password, token, authorization,
// private_key, api_key, credentials, ... see is_sensitive_key()), redacted automatically. Never
// pass a Secret's data or a bearer token under any other key without redacted().
//
// Threads: everything here may be called from any thread. Logger is an immutable value (copying
// it copies one shared_ptr). configure() may run while other threads log; a record goes wholly
// to the old or wholly to the new sink. Sinks receive whole lines; the stderr sink writes each
// with one write(2) under a lock, so concurrent records never interleave.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <absl/status/status.h>
#include "kop/log/sink.h"

namespace kop::log {

// Severity, most severe first. A record is written when its level <= the configured level.
enum class Level : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

enum class Format { kText, kJson };

std::string_view level_name(Level level);  // "error", "warn", "info", "debug", "trace"
// Parses a level name ("error" .. "trace", also "warning"), case-insensitive, or a klog-style
// verbosity: "0" = info, "1" = debug, "2" and above = trace.
bool parse_level(std::string_view text, Level* out);

struct Options {
  // Most verbose level written. Defaults to info.
  Level level = Level::kInfo;
  // Line format. Defaults to text (logfmt-style key=value).
  Format format = Format::kText;
  // Where lines go. Defaults to (nullptr means) standard error.
  std::shared_ptr<Sink> sink{};
  // Whether records start with ts=<RFC 3339 UTC, microseconds>. Defaults to true; tests turn it
  // off to compare whole lines.
  bool timestamps = true;
};

// Replaces the global configuration. Safe while other threads log.
void configure(Options options);
void set_level(Level level);
Level level();

// How an absl::Status reads in a log line or a message: "Reason: message" when it carries a
// Kubernetes API Status (a payload whose JSON has kind "Status" and a reason, as kop::client's
// errors do), e.g. `NotFound: namespaces "later" not found`; absl's "CODE: message" otherwise
// ("NOT_FOUND: no such secret"); "OK" for OK. Payloads themselves are never printed (the API
// Status body would appear a second time, escaped).
std::string status_text(const absl::Status& status);

namespace detail {
inline std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
}  // namespace detail

// True when records at `level` are written. One relaxed atomic load.
inline bool enabled(Level level) {
  return static_cast<int>(level) <= detail::g_level.load(std::memory_order_relaxed);
}

// Wraps a value so it is logged as "[redacted]": for anything derived from a Secret.
template <typename T>
struct Redacted {
  const T& value;
};
template <typename T>
Redacted<T> redacted(const T& value) {
  return Redacted<T>{value};
}

// True for keys that name credentials; their values are always written as "[redacted]".
// Case-insensitive: password, passwd, token, bearer, authorization, private_key, client_key,
// api_key, apikey, credential(s), client_secret, tls.key, and keys ending in _token,
// _password, _secret or _credentials.
bool is_sensitive_key(std::string_view key);

// One rendered key/value pair. `quoted` values are strings (quoted in JSON, quoted in text when
// needed); the others (numbers, booleans) are written bare.
struct Field {
  std::string key;
  std::string value;
  bool quoted = true;
};

namespace detail {

using Buffer = fmt::memory_buffer;

template <typename T>
struct IsRedacted : std::false_type {};
template <typename T>
struct IsRedacted<Redacted<T>> : std::true_type {};
template <typename T>
struct IsDuration : std::false_type {};
template <typename Rep, typename Period>
struct IsDuration<std::chrono::duration<Rep, Period>> : std::true_type {};

void render_status(Buffer& out, const absl::Status& status);
// Returns true (a string value) for NaN and infinities, which JSON has no number for.
bool render_double(Buffer& out, double v);

// Appends the rendering of `v` to `out`; returns whether it is a string (quoted) value.
template <typename T>
bool render(Buffer& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    std::string_view s = v ? "true" : "false";
    out.append(s.data(), s.data() + s.size());
    return false;
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    std::string_view s(v);
    out.append(s.data(), s.data() + s.size());
    return true;
  } else if constexpr (std::is_same_v<T, char>) {
    out.push_back(v);
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    return render_double(out, static_cast<double>(v));
  } else if constexpr (std::is_integral_v<T>) {
    fmt::format_to(std::back_inserter(out), "{}", v);
    return false;
  } else if constexpr (std::is_same_v<T, absl::Status>) {
    render_status(out, v);
    return true;
  } else if constexpr (IsRedacted<T>::value) {
    return render(out, std::string_view("[redacted]"));
  } else if constexpr (IsDuration<T>::value) {
    // Durations as seconds (a number): the unit Prometheus and log processors expect.
    return render_double(out, std::chrono::duration<double>(v).count());
  } else {
    // Anything else fmt can format becomes a string.
    fmt::format_to(std::back_inserter(out), "{}", v);
    return true;
  }
}

// The record being built: the fixed part is written by begin(), fields by add().
class Record {
 public:
  Record(Level level, std::string_view logger_name, std::string_view msg);
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  void add_field(const Field& field);
  // Adds a key whose value has just been rendered into value_buffer().
  void add_rendered(std::string_view key, bool quoted);
  Buffer& value_buffer() { return value_; }
  // Finishes the line and hands it to the sink.
  void emit();

 private:
  Format format_;
  std::shared_ptr<Sink> sink_;
  Buffer line_;
  Buffer value_;
};

template <typename K, typename V>
void add_pair(Record& record, const K& key, const V& value) {
  std::string_view k(key);
  Buffer& vb = record.value_buffer();
  vb.clear();
  bool quoted =
      is_sensitive_key(k) ? render(vb, std::string_view("[redacted]")) : render(vb, value);
  record.add_rendered(k, quoted);
}

inline void add_pairs(Record&) {}
template <typename K, typename V, typename... Rest>
void add_pairs(Record& record, const K& key, const V& value, const Rest&... rest) {
  add_pair(record, key, value);
  add_pairs(record, rest...);
}

template <typename K, typename V>
Field make_field(const K& key, const V& value) {
  std::string_view k(key);
  Buffer vb;
  bool quoted =
      is_sensitive_key(k) ? render(vb, std::string_view("[redacted]")) : render(vb, value);
  return Field{std::string(k), std::string(vb.data(), vb.size()), quoted};
}

}  // namespace detail

// A named logger with bound values. Cheap to copy; immutable.
class Logger {
 public:
  Logger();  // the root logger: no name, no values

  // A child whose name is this name + "." + name (or just name at the root).
  Logger with_name(std::string_view name) const;
  // A child that adds key/value pairs (an even number of arguments) to every record. The values
  // are rendered now, once, not at each record.
  template <typename... KV>
  Logger with_values(const KV&... kv) const {
    static_assert(sizeof...(KV) % 2 == 0, "with_values takes key, value pairs");
    std::vector<Field> fields;
    fields.reserve(sizeof...(KV) / 2);
    collect(fields, kv...);
    return with_fields(std::move(fields));
  }

  std::string_view name() const;
  const std::vector<Field>& values() const;

  bool enabled(Level level) const { return kop::log::enabled(level); }

  // Writes a record when `level` is enabled; nothing is formatted otherwise.
  template <typename... KV>
  void log(Level level, std::string_view msg, const KV&... kv) const {
    static_assert(sizeof...(KV) % 2 == 0, "log records take key, value pairs after the message");
    if (!kop::log::enabled(level)) return;
    detail::Record record(level, name(), msg);
    for (const Field& f : values()) record.add_field(f);
    detail::add_pairs(record, kv...);
    record.emit();
  }

  template <typename... KV>
  void error(std::string_view msg, const KV&... kv) const {
    log(Level::kError, msg, kv...);
  }
  // logr's Error(err, msg, ...): the status goes under the key "error".
  template <typename... KV>
  void error(const absl::Status& status, std::string_view msg, const KV&... kv) const {
    log(Level::kError, msg, "error", status, kv...);
  }
  template <typename... KV>
  void warn(std::string_view msg, const KV&... kv) const {
    log(Level::kWarn, msg, kv...);
  }
  template <typename... KV>
  void info(std::string_view msg, const KV&... kv) const {
    log(Level::kInfo, msg, kv...);
  }
  template <typename... KV>
  void debug(std::string_view msg, const KV&... kv) const {
    log(Level::kDebug, msg, kv...);
  }
  template <typename... KV>
  void trace(std::string_view msg, const KV&... kv) const {
    log(Level::kTrace, msg, kv...);
  }

 private:
  struct Data;
  explicit Logger(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  Logger with_fields(std::vector<Field> fields) const;

  static void collect(std::vector<Field>&) {}
  template <typename K, typename V, typename... Rest>
  static void collect(std::vector<Field>& out, const K& k, const V& v, const Rest&... rest) {
    out.push_back(detail::make_field(k, v));
    collect(out, rest...);
  }

  std::shared_ptr<const Data> data_;
};

// The root logger, and a shorthand for root().with_name(name).
Logger root();
Logger named(std::string_view name);

}  // namespace kop::log

// Logs without evaluating the arguments when the level is off:
//   KOP_LOG(log, kDebug, "object diff", "diff", compute_diff(a, b));
#define KOP_LOG(logger, level, ...)                        \
  do {                                                     \
    if (::kop::log::enabled(::kop::log::Level::level)) {   \
      (logger).log(::kop::log::Level::level, __VA_ARGS__); \
    }                                                      \
  } while (false)
