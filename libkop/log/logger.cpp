#include <ctime>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>

#include "encode.h"
#include "kop/log/log.h"

namespace kop::log {
namespace {

struct Config {
  Format format = Format::kText;
  std::shared_ptr<Sink> sink;
  bool timestamps = true;
};

absl::Mutex& config_mutex() {
  static absl::Mutex mu;
  return mu;
}

// Replaced whole by configure(); a record holds its own reference for the time it is built.
std::shared_ptr<const Config>& config_slot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(config_mutex()) {
  static std::shared_ptr<const Config> config = [] {
    auto c = std::make_shared<Config>();
    c->sink = std::make_shared<FdSink>(2);
    return std::shared_ptr<const Config>(std::move(c));
  }();
  return config;
}

std::shared_ptr<const Config> current_config() {
  absl::MutexLock lock(&config_mutex());
  return config_slot();
}

void append(fmt::memory_buffer& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

void append_timestamp(fmt::memory_buffer& out) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count();
  time_t t = std::chrono::system_clock::to_time_t(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 micros);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kError:
      return "error";
    case Level::kWarn:
      return "warn";
    case Level::kInfo:
      return "info";
    case Level::kDebug:
      return "debug";
    case Level::kTrace:
      return "trace";
  }
  return "unknown";
}

bool parse_level(std::string_view text, Level* out) {
  std::string t = lower(text);
  static constexpr Level kAll[] = {Level::kError, Level::kWarn, Level::kInfo, Level::kDebug,
                                   Level::kTrace};
  for (Level l : kAll) {
    if (t == level_name(l) || (t == "warning" && l == Level::kWarn)) {
      *out = l;
      return true;
    }
  }
  // klog-style verbosity: 0 = info, 1 = debug, 2 and more = trace.
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int v = t.size() > 3 ? 1000 : std::stoi(t);
    *out = v == 0 ? Level::kInfo : v == 1 ? Level::kDebug : Level::kTrace;
    return true;
  }
  return false;
}

void configure(Options options) {
  auto c = std::make_shared<Config>();
  c->format = options.format;
  c->sink = options.sink ? std::move(options.sink) : std::make_shared<FdSink>(2);
  c->timestamps = options.timestamps;
  {
    absl::MutexLock lock(&config_mutex());
    config_slot() = std::move(c);
  }
  set_level(options.level);
}

void set_level(Level level) {
  detail::g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

Level level() {
  return static_cast<Level>(detail::g_level.load(std::memory_order_relaxed));
}

bool is_sensitive_key(std::string_view key) {
  std::string k = lower(key);
  static constexpr std::string_view kExact[] = {
      "password",    "passwd",        "token",   "bearer",       "authorization",
      "private_key", "client_key",    "api_key", "apikey",       "credential",
      "credentials", "client_secret", "tls.key", "access_token", "refresh_token"};
  for (std::string_view e : kExact) {
    if (k == e) return true;
  }
  static constexpr std::string_view kSuffix[] = {"_token", "_password", "_secret", "_credentials"};
  for (std::string_view s : kSuffix) {
    if (k.size() > s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

namespace detail {

void render_status(Buffer& out, const absl::Status& status) {
  std::string s = status_text(status);
  out.append(s.data(), s.data() + s.size());
}

bool render_double(Buffer& out, double v) {
  if (std::isnan(v)) {
    append(out, "NaN");
    return true;
  }
  if (std::isinf(v)) {
    append(out, v > 0 ? "+Inf" : "-Inf");
    return true;
  }
  fmt::format_to(std::back_inserter(out), "{}", v);
  return false;
}

Record::Record(Level level, std::string_view logger_name, std::string_view msg) {
  std::shared_ptr<const Config> config = current_config();
  const Config& c = *config;
  format_ = c.format;
  sink_ = c.sink;
  if (format_ == Format::kJson) {
    line_.push_back('{');
    if (c.timestamps) {
      append(line_, "\"ts\":\"");
      append_timestamp(line_);
      append(line_, "\",");
    }
    append(line_, "\"level\":\"");
    append(line_, level_name(level));
    line_.push_back('"');
    if (!logger_name.empty()) {
      append(line_, ",\"logger\":");
      internal::append_json_string(line_, logger_name);
    }
    append(line_, ",\"msg\":");
    internal::append_json_string(line_, msg);
  } else {
    if (c.timestamps) {
      append(line_, "ts=");
      append_timestamp(line_);
      line_.push_back(' ');
    }
    append(line_, "level=");
    append(line_, level_name(level));
    if (!logger_name.empty()) {
      append(line_, " logger=");
      internal::append_text_value(line_, logger_name);
    }
    // msg is always quoted, so messages line up and are easy to grep.
    append(line_, " msg=");
    internal::append_text_value(line_, msg, /*always_quote=*/true);
  }
}

void Record::add_field(const Field& field) {
  value_.clear();
  append(value_, field.value);
  add_rendered(field.key, field.quoted);
}

void Record::add_rendered(std::string_view key, bool quoted) {
  std::string_view value(value_.data(), value_.size());
  if (format_ == Format::kJson) {
    line_.push_back(',');
    internal::append_json_string(line_, key);
    line_.push_back(':');
    if (quoted) {
      internal::append_json_string(line_, value);
    } else {
      append(line_, value);
    }
  } else {
    line_.push_back(' ');
    internal::append_text_key(line_, key);
    line_.push_back('=');
    internal::append_text_value(line_, value);
  }
}

void Record::emit() {
  if (format_ == Format::kJson) line_.push_back('}');
  line_.push_back('\n');
  sink_->write(std::string_view(line_.data(), line_.size()));
}

}  // namespace detail

struct Logger::Data {
  std::string name;
  std::vector<Field> values;
};

Logger::Logger() : data_(std::make_shared<const Data>()) {}

Logger Logger::with_name(std::string_view name) const {
  auto d = std::make_shared<Data>(*data_);
  if (d->name.empty()) {
    d->name = std::string(name);
  } else {
    d->name.append(".").append(name);
  }
  return Logger(std::move(d));
}

Logger Logger::with_fields(std::vector<Field> fields) const {
  auto d = std::make_shared<Data>(*data_);
  for (Field& f : fields) d->values.push_back(std::move(f));
  return Logger(std::move(d));
}

std::string_view Logger::name() const {
  return data_->name;
}
const std::vector<Field>& Logger::values() const {
  return data_->values;
}

Logger root() {
  static const Logger* r = [] {
    static Logger l;
    return &l;
  }();
  return *r;
}

Logger named(std::string_view name) {
  return root().with_name(name);
}

}  // namespace kop::log
