#include "proto_codec.h"

#include <absl/strings/escaping.h>
#include <absl/time/time.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "kop/api/time.h"
#include "proto_schema.h"

namespace kop::local::proto {

namespace {

constexpr std::string_view kMagic{"k8s\0", 4};
constexpr int kMaxDepth = 64;
// Years 0000-9999: what Go's time.MarshalJSON can write.
constexpr int64_t kMinSeconds = -62167219200;
constexpr int64_t kMaxSeconds = 253402300799;

enum Wire : uint8_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

// Debian's abseil has its own string_view.
absl::string_view av(std::string_view s) {
  return {s.data(), s.size()};
}

absl::Status bad(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("protobuf body: {}: {}", where, what));
}

// ---- wire reading -------------------------------------------------------------------------------

struct Item {  // one field occurrence on the wire
  uint32_t number = 0;
  Wire wire = kVarint;
  uint64_t varint = 0;  // kVarint, kFixed64, kFixed32
  std::string_view bytes;
};

bool read_varint(std::string_view& in, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    out |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;  // more than 10 bytes
}

uint64_t read_fixed(std::string_view in, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

// Splits a message into its field occurrences, in wire order.
absl::Status read_items(std::string_view in, std::string_view where, std::vector<Item>& out) {
  while (!in.empty()) {
    uint64_t tag = 0;
    if (!read_varint(in, tag)) return bad(where, "truncated field tag");
    Item it;
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return bad(where, "field number out of range");
    it.number = static_cast<uint32_t>(tag >> 3);
    switch (tag & 7) {
      case kVarint:
        it.wire = kVarint;
        if (!read_varint(in, it.varint))
          return bad(where, fmt::format("field {}: truncated varint", it.number));
        break;
      case kFixed64:
      case kFixed32: {
        size_t n = (tag & 7) == kFixed64 ? 8 : 4;
        it.wire = static_cast<Wire>(tag & 7);
        if (in.size() < n) return bad(where, fmt::format("field {}: truncated", it.number));
        it.varint = read_fixed(in, n);
        in.remove_prefix(n);
        break;
      }
      case kLength: {
        uint64_t len = 0;
        it.wire = kLength;
        if (!read_varint(in, len) || len > in.size())
          return bad(where, fmt::format("field {}: length past the end of the message", it.number));
        it.bytes = in.substr(0, len);
        in.remove_prefix(len);
        break;
      }
      default:
        return bad(where, fmt::format("field {}: unsupported wire type {}", it.number, tag & 7));
    }
    out.push_back(it);
  }
  return absl::OkStatus();
}

// ---- decoding -----------------------------------------------------------------------------------

bool is_varint_type(Type t) {
  return t == Type::kBool || t == Type::kInt32 || t == Type::kInt64;
}

// Go's encoding/json writes invalid UTF-8 as U+FFFD; so does this.
void append_utf8(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; ok && k < n; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    ok = ok && !(n == 2 && cp < 0x80) && !(n == 3 && cp < 0x800) && !(n == 4 && cp < 0x10000) &&
         !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
}

class Decoder {
 public:
  Decoder(JsonAlloc& a, size_t input_size) : a_(a), budget_(64 * input_size + 4096) {}

  // Decodes message `msg` from `data` into the members of `out` (an object).
  absl::Status message(int msg, std::string_view data, JsonValue& out, int depth) {
    const Message& m = messages()[static_cast<size_t>(msg)];
    if (depth > kMaxDepth) return bad(m.name, "nested too deeply");
    std::vector<Item> items;
    if (auto st = read_items(data, m.name, items); !st.ok()) return st;
    std::vector<int> field_of(items.size(), -1);
    for (size_t i = 0; i < items.size(); ++i) {
      for (size_t f = 0; f < m.fields.size(); ++f)
        if (m.fields[f].number == items[i].number) field_of[i] = static_cast<int>(f);
      if (field_of[i] < 0)
        return bad(m.name, fmt::format("unknown field number {}", items[i].number));
    }
    for (size_t f = 0; f < m.fields.size(); ++f) {
      std::vector<const Item*> occ;
      for (size_t i = 0; i < items.size(); ++i)
        if (field_of[i] == static_cast<int>(f)) occ.push_back(&items[i]);
      if (auto st = field(m, m.fields[f], occ, out, depth); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status spend(std::string_view where) {
    if (budget_ == 0) return bad(where, "the decoded object is too large");
    --budget_;
    return absl::OkStatus();
  }

  void add(JsonValue& out, std::string_view name, JsonValue v) {
    if (JsonValue* old = json::find(out, name)) {
      *old = std::move(v);  // a repeated map key: the last one wins, as in a Go map
      return;
    }
    out.AddMember(json::make_string(name, a_), v, a_);
  }

  // Protobuf merges repeated occurrences of a message field: the concatenation is the merge.
  static std::string joined(const std::vector<const Item*>& occ) {
    std::string s;
    for (const Item* it : occ) s.append(it->bytes);
    return s;
  }

  absl::Status check_wire(const Message& m, const Field& f, const Item& it) const {
    Wire want = is_varint_type(f.type) ? kVarint : f.type == Type::kDouble ? kFixed64 : kLength;
    bool packed = f.card == Card::kRepeated && want != kLength && it.wire == kLength;
    if (it.wire != want && !packed)
      return bad(m.name, fmt::format("field {} ({}): wire type {} where {} belongs", f.number,
                                     f.json, static_cast<int>(it.wire), static_cast<int>(want)));
    return absl::OkStatus();
  }

  absl::Status field(const Message& m, const Field& f, const std::vector<const Item*>& occ,
                     JsonValue& out, int depth) {
    for (const Item* it : occ)
      if (auto st = check_wire(m, f, *it); !st.ok()) return st;
    if (f.inline_field) return message(f.message, joined(occ), out, depth + 1);
    if (auto st = spend(m.name); !st.ok()) return st;
    if (f.card == Card::kRepeated) {
      if (occ.empty()) return absl::OkStatus();
      JsonValue arr(rapidjson::kArrayType);
      for (const Item* it : occ) {
        if (it->wire == kLength && (is_varint_type(f.type) || f.type == Type::kDouble)) {
          if (auto st = packed(m, f, it->bytes, arr); !st.ok()) return st;
          continue;
        }
        auto v = value(f, *it, depth);
        if (!v.ok()) return v.status();
        arr.PushBack(*std::move(v), a_);
      }
      add(out, f.json, std::move(arr));
      return absl::OkStatus();
    }
    if (f.card == Card::kMap) {
      if (occ.empty()) return absl::OkStatus();
      JsonValue obj(rapidjson::kObjectType);
      for (const Item* it : occ)
        if (auto st = map_entry(m, f, it->bytes, obj, depth); !st.ok()) return st;
      add(out, f.json, std::move(obj));
      return absl::OkStatus();
    }
    if (occ.empty()) {
      if (f.card == Card::kPointer) return absl::OkStatus();
      return absent(f, out, depth);
    }
    Item last = *occ.back();
    std::string merged;
    if (f.type == Type::kMessage && occ.size() > 1) {
      merged = joined(occ);
      last.bytes = merged;
    }
    auto v = value(f, last, depth);
    if (!v.ok()) return v.status();
    // A pointer to a zero time, or embedded JSON that is itself null: null reads back as
    // absent to every decoder, so leave it out.
    if (v->IsNull() && (f.type == Type::kRawJson || f.card == Card::kPointer))
      return absl::OkStatus();
    if (f.card == Card::kSingle && (f.omitempty || f.omitzero) && empty(f.type, *v))
      return absl::OkStatus();
    if (f.card == Card::kSingle && f.omitzero && (f.type == Type::kTime) && v->IsNull())
      return absl::OkStatus();
    add(out, f.json, *std::move(v));
    return absl::OkStatus();
  }

  // Go's omitempty: false, 0, "" and empty byte slices are left out; structs never are.
  static bool empty(Type t, const JsonValue& v) {
    switch (t) {
      case Type::kString:
      case Type::kBytes:
        return v.IsString() && v.GetStringLength() == 0;
      case Type::kBool:
        return v.IsFalse();
      case Type::kInt32:
      case Type::kInt64:
      case Type::kDouble:
        return v.IsNumber() && v.GetDouble() == 0;
      default:
        return false;
    }
  }

  // A field not on the wire: Go still writes non-pointer values that have no omitempty, and
  // every non-pointer struct (encoding/json never treats a struct as empty).
  absl::Status absent(const Field& f, JsonValue& out, int depth) {
    switch (f.type) {
      case Type::kMessage: {
        JsonValue child(rapidjson::kObjectType);
        if (auto st = message(f.message, {}, child, depth + 1); !st.ok()) return st;
        add(out, f.json, std::move(child));
        return absl::OkStatus();
      }
      case Type::kTime:
      case Type::kMicroTime:
        if (!f.omitzero) add(out, f.json, JsonValue());
        return absl::OkStatus();
      case Type::kIntOrString:
        if (!f.omitzero) add(out, f.json, JsonValue(0));
        return absl::OkStatus();
      case Type::kQuantity:
        if (!f.omitzero) add(out, f.json, JsonValue("0"));
        return absl::OkStatus();
      case Type::kRawJson:
      case Type::kBytes:
        return absl::OkStatus();  // nil: null, the same as absent to every reader
      case Type::kString:
        if (!f.omitempty && !f.omitzero) add(out, f.json, JsonValue(""));
        return absl::OkStatus();
      case Type::kBool:
        if (!f.omitempty && !f.omitzero) add(out, f.json, JsonValue(false));
        return absl::OkStatus();
      case Type::kInt32:
      case Type::kInt64:
      case Type::kDouble:
        if (!f.omitempty && !f.omitzero) add(out, f.json, JsonValue(0));
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::Status packed(const Message& m, const Field& f, std::string_view data, JsonValue& arr) {
    while (!data.empty()) {
      Item it;
      if (f.type == Type::kDouble) {
        if (data.size() < 8) return bad(m.name, fmt::format("field {}: truncated", f.number));
        it.varint = read_fixed(data, 8);
        data.remove_prefix(8);
      } else if (!read_varint(data, it.varint)) {
        return bad(m.name, fmt::format("field {}: truncated varint", f.number));
      }
      auto v = value(f, it, 0);
      if (!v.ok()) return v.status();
      if (auto st = spend(m.name); !st.ok()) return st;
      arr.PushBack(*std::move(v), a_);
    }
    return absl::OkStatus();
  }

  absl::Status map_entry(const Message& m, const Field& f, std::string_view data, JsonValue& obj,
                         int depth) {
    std::vector<Item> items;
    if (auto st = read_items(data, m.name, items); !st.ok()) return st;
    std::string key;
    std::optional<Item> val;
    for (const Item& it : items) {
      if (it.number == 1 && it.wire == kLength) {
        key.clear();
        append_utf8(it.bytes, key);
      } else if (it.number == 2) {
        if (auto st = check_wire(m, f, it); !st.ok()) return st;
        val = it;
      } else {
        return bad(m.name, fmt::format("field {} ({}): map entry with field number {}", f.number,
                                       f.json, it.number));
      }
    }
    if (!val) {  // the value's zero
      val.emplace();
      val->wire = is_varint_type(f.type) ? kVarint : f.type == Type::kDouble ? kFixed64 : kLength;
    }
    auto v = value(f, *val, depth);
    if (!v.ok()) return v.status();
    add(obj, key, *std::move(v));
    return absl::OkStatus();
  }

  absl::StatusOr<JsonValue> value(const Field& f, const Item& it, int depth) {
    switch (f.type) {
      case Type::kString: {
        std::string s;
        append_utf8(it.bytes, s);
        return json::make_string(s, a_);
      }
      case Type::kBytes:
        return json::make_string(absl::Base64Escape(av(it.bytes)), a_);
      case Type::kBool:
        return JsonValue(it.varint != 0);
      case Type::kInt32:
        return JsonValue(static_cast<int32_t>(static_cast<uint32_t>(it.varint)));
      case Type::kInt64:
        return JsonValue(static_cast<int64_t>(it.varint));
      case Type::kDouble: {
        double d = 0;
        std::memcpy(&d, &it.varint, sizeof d);
        if (!std::isfinite(d)) return bad(f.json, "a number that JSON cannot hold");
        return JsonValue(d);
      }
      case Type::kMessage: {
        JsonValue child(rapidjson::kObjectType);
        if (auto st = message(f.message, it.bytes, child, depth + 1); !st.ok()) return st;
        return child;
      }
      case Type::kTime:
      case Type::kMicroTime:
        return time(f, it.bytes);
      case Type::kIntOrString:
        return int_or_string(f, it.bytes);
      case Type::kQuantity:
        return quantity(f, it.bytes);
      case Type::kRawJson:
        return raw_json(f, it.bytes);
    }
    return bad(f.json, "unknown field type");
  }

  absl::StatusOr<JsonValue> time(const Field& f, std::string_view data) {
    if (data.empty()) return JsonValue();  // the zero time
    std::vector<Item> items;
    std::string where = fmt::format("{} (Timestamp)", f.json);
    if (auto st = read_items(data, where, items); !st.ok()) return st;
    int64_t seconds = 0;
    int64_t nanos = 0;
    for (const Item& it : items) {
      if (it.wire != kVarint || (it.number != 1 && it.number != 2))
        return bad(where, fmt::format("unknown field number {}", it.number));
      if (it.number == 1) seconds = static_cast<int64_t>(it.varint);
      if (it.number == 2) nanos = static_cast<int32_t>(static_cast<uint32_t>(it.varint));
    }
    if (seconds < kMinSeconds || seconds > kMaxSeconds || nanos < 0 || nanos > 999999999)
      return bad(where, "time out of range");
    absl::Time t = absl::FromUnixSeconds(seconds);
    // Time keeps seconds only (as its JSON does); MicroTime truncates to microseconds.
    if (f.type == Type::kTime) return json::make_string(api::format_time(t), a_);
    return json::make_string(api::format_micro_time(t + absl::Microseconds(nanos / 1000)), a_);
  }

  absl::StatusOr<JsonValue> int_or_string(const Field& f, std::string_view data) {
    std::vector<Item> items;
    std::string where = fmt::format("{} (IntOrString)", f.json);
    if (auto st = read_items(data, where, items); !st.ok()) return st;
    uint64_t type = 0;
    int32_t int_val = 0;
    std::string str_val;
    for (const Item& it : items) {
      if (it.number == 1 && it.wire == kVarint) {
        type = it.varint;
      } else if (it.number == 2 && it.wire == kVarint) {
        int_val = static_cast<int32_t>(static_cast<uint32_t>(it.varint));
      } else if (it.number == 3 && it.wire == kLength) {
        str_val.clear();
        append_utf8(it.bytes, str_val);
      } else {
        return bad(where, fmt::format("unknown field number {}", it.number));
      }
    }
    if (type == 0) return JsonValue(int_val);
    if (type == 1) return json::make_string(str_val, a_);
    return bad(where, fmt::format("type {} is neither 0 (int) nor 1 (string)", type));
  }

  absl::StatusOr<JsonValue> quantity(const Field& f, std::string_view data) {
    std::vector<Item> items;
    std::string where = fmt::format("{} (Quantity)", f.json);
    if (auto st = read_items(data, where, items); !st.ok()) return st;
    std::string s;
    for (const Item& it : items) {
      if (it.number != 1 || it.wire != kLength)
        return bad(where, fmt::format("unknown field number {}", it.number));
      s.clear();
      append_utf8(it.bytes, s);
    }
    return json::make_string(s.empty() ? "0" : s, a_);
  }

  absl::StatusOr<JsonValue> raw_json(const Field& f, std::string_view data) {
    std::vector<Item> items;
    std::string where = fmt::format("{} (raw JSON)", f.json);
    if (auto st = read_items(data, where, items); !st.ok()) return st;
    std::string_view raw;
    for (const Item& it : items) {
      if (it.number != 1 || it.wire != kLength)
        return bad(where, fmt::format("unknown field number {}", it.number));
      raw = it.bytes;
    }
    if (raw.empty()) return JsonValue();
    std::string err;
    auto doc = json::parse(raw, &err);
    if (!doc) return bad(where, err);
    return JsonValue(*doc, a_);
  }

  JsonAlloc& a_;
  size_t budget_;  // values left to emit: bounds what empty messages can expand to
};

const RootKind* root_of(std::string_view api_version, std::string_view kind) {
  std::string_view group;
  std::string_view version = api_version;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  for (const RootKind& r : root_kinds())
    if (r.group == group && r.version == version && r.kind == kind) return &r;
  return nullptr;
}

// ---- encoding -----------------------------------------------------------------------------------

void put_varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(uint32_t number, Wire w, std::string& out) {
  put_varint((static_cast<uint64_t>(number) << 3) | w, out);
}
void put_bytes(uint32_t number, std::string_view b, std::string& out) {
  put_tag(number, kLength, out);
  put_varint(b.size(), out);
  out.append(b);
}

class Encoder {
 public:
  absl::Status message(int msg, const JsonValue& obj, std::string& out, int depth) {
    const Message& m = messages()[static_cast<size_t>(msg)];
    if (depth > kMaxDepth) return bad(m.name, "nested too deeply");
    if (!obj.IsObject()) return bad(m.name, "not an object");
    for (const Field& f : m.fields) {
      if (f.inline_field) {
        std::string sub;
        if (auto st = message(f.message, obj, sub, depth + 1); !st.ok()) return st;
        put_bytes(f.number, sub, out);
        continue;
      }
      const JsonValue* v = json::find(obj, f.json);
      if (v == nullptr || v->IsNull()) continue;
      if (f.card == Card::kRepeated) {
        if (!v->IsArray()) return bad(m.name, fmt::format("{} is not a list", f.json));
        for (const JsonValue& e : v->GetArray())
          if (auto st = value(f, e, f.number, out, depth); !st.ok()) return st;
      } else if (f.card == Card::kMap) {
        if (!v->IsObject()) return bad(m.name, fmt::format("{} is not a map", f.json));
        for (const auto& kv : v->GetObject()) {
          std::string entry;
          put_bytes(1, json::as_string_view(kv.name), entry);
          if (auto st = value(f, kv.value, 2, entry, depth); !st.ok()) return st;
          put_bytes(f.number, entry, out);
        }
      } else if (auto st = value(f, *v, f.number, out, depth); !st.ok()) {
        return st;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status value(const Field& f, const JsonValue& v, uint32_t number, std::string& out,
                     int depth) {
    auto mismatch = [&](std::string_view want) {
      return bad(f.json, fmt::format("{} is not {}", json::type_name(v), want));
    };
    switch (f.type) {
      case Type::kString:
        if (!v.IsString()) return mismatch("a string");
        put_bytes(number, json::as_string_view(v), out);
        return absl::OkStatus();
      case Type::kBytes: {
        std::string raw;
        if (!v.IsString() ||
            !absl::Base64Unescape(absl::string_view(v.GetString(), v.GetStringLength()), &raw))
          return mismatch("base64 text");
        put_bytes(number, raw, out);
        return absl::OkStatus();
      }
      case Type::kBool:
        if (!v.IsBool()) return mismatch("a boolean");
        put_tag(number, kVarint, out);
        put_varint(v.GetBool() ? 1 : 0, out);
        return absl::OkStatus();
      case Type::kInt32:
      case Type::kInt64:
        if (!v.IsInt64()) return mismatch("an integer");
        put_tag(number, kVarint, out);
        put_varint(static_cast<uint64_t>(v.GetInt64()), out);
        return absl::OkStatus();
      case Type::kDouble: {
        if (!v.IsNumber()) return mismatch("a number");
        double d = v.GetDouble();
        uint64_t bits = 0;
        std::memcpy(&bits, &d, sizeof d);
        put_tag(number, kFixed64, out);
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
        return absl::OkStatus();
      }
      case Type::kMessage: {
        std::string sub;
        if (auto st = message(f.message, v, sub, depth + 1); !st.ok()) return st;
        put_bytes(number, sub, out);
        return absl::OkStatus();
      }
      case Type::kTime:
      case Type::kMicroTime: {
        std::optional<absl::Time> t =
            v.IsString() ? api::parse_time(json::as_string_view(v)) : std::nullopt;
        if (!t) return mismatch("an RFC 3339 time");
        std::string sub;
        int64_t secs = absl::ToUnixSeconds(*t);
        put_tag(1, kVarint, sub);
        put_varint(static_cast<uint64_t>(secs), sub);
        if (f.type == Type::kMicroTime) {
          int64_t nanos = absl::ToInt64Nanoseconds(*t - absl::FromUnixSeconds(secs));
          put_tag(2, kVarint, sub);
          put_varint(static_cast<uint64_t>(nanos), sub);
        }
        put_bytes(number, sub, out);
        return absl::OkStatus();
      }
      case Type::kIntOrString: {
        std::string sub;
        if (v.IsInt()) {
          put_tag(1, kVarint, sub);
          put_varint(0, sub);
          put_tag(2, kVarint, sub);
          put_varint(static_cast<uint64_t>(static_cast<int64_t>(v.GetInt())), sub);
        } else if (v.IsString()) {
          put_tag(1, kVarint, sub);
          put_varint(1, sub);
          put_bytes(3, json::as_string_view(v), sub);
        } else {
          return mismatch("an integer or a string");
        }
        put_bytes(number, sub, out);
        return absl::OkStatus();
      }
      case Type::kQuantity: {
        std::string sub;
        if (v.IsString()) {
          put_bytes(1, json::as_string_view(v), sub);
        } else if (v.IsNumber()) {
          put_bytes(1, json::to_json(v), sub);
        } else {
          return mismatch("a quantity");
        }
        put_bytes(number, sub, out);
        return absl::OkStatus();
      }
      case Type::kRawJson: {
        std::string sub;
        put_bytes(1, json::to_json(v), sub);
        put_bytes(number, sub, out);
        return absl::OkStatus();
      }
    }
    return bad(f.json, "unknown field type");
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool same_media_type(std::string_view entry, std::string_view want) {
  entry = trim(entry.substr(0, entry.find(';')));
  if (entry.size() != want.size()) return false;
  for (size_t i = 0; i < want.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(entry[i])) != want[i]) return false;
  return true;
}

}  // namespace

bool is_protobuf(std::string_view content_type) {
  return same_media_type(content_type, kMediaType);
}

bool wants_protobuf(std::string_view accept) {
  bool proto = false;
  size_t start = 0;
  while (start <= accept.size()) {
    size_t comma = accept.find(',', start);
    std::string_view e = accept.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (same_media_type(e, "application/json") || same_media_type(e, "*/*") ||
        same_media_type(e, "application/*"))
      return false;
    proto = proto || same_media_type(e, kMediaType);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return proto;
}

absl::StatusOr<JsonDoc> decode(std::string_view body) {
  if (body.substr(0, kMagic.size()) != kMagic)
    return bad("envelope", "the body does not start with the k8s\\0 magic");
  std::vector<Item> items;
  if (auto st = read_items(body.substr(kMagic.size()), "runtime.Unknown", items); !st.ok())
    return st;
  std::string api_version;
  std::string kind;
  std::string_view raw;
  for (const Item& it : items) {
    if (it.wire != kLength)
      return bad("runtime.Unknown", fmt::format("field {}: not bytes", it.number));
    switch (it.number) {
      case 1: {  // typeMeta
        std::vector<Item> tm;
        if (auto st = read_items(it.bytes, "runtime.TypeMeta", tm); !st.ok()) return st;
        for (const Item& t : tm) {
          if (t.wire != kLength || (t.number != 1 && t.number != 2))
            return bad("runtime.TypeMeta", fmt::format("unknown field number {}", t.number));
          (t.number == 1 ? api_version : kind) = std::string(t.bytes);
        }
        break;
      }
      case 2:
        raw = it.bytes;
        break;
      case 3:
        if (!it.bytes.empty())
          return bad("runtime.Unknown", fmt::format("contentEncoding \"{}\" is not supported",
                                                    absl::CHexEscape(av(it.bytes))));
        break;
      case 4:
        if (!it.bytes.empty() && !is_protobuf(it.bytes))
          return bad("runtime.Unknown", "contentType of the raw bytes is not protobuf");
        break;
      default:
        return bad("runtime.Unknown", fmt::format("unknown field number {}", it.number));
    }
  }
  const RootKind* root = root_of(api_version, kind);
  if (root == nullptr)
    return bad("envelope", fmt::format("kind \"{}\" of \"{}\" has no protobuf table here",
                                       absl::CHexEscape(kind), absl::CHexEscape(api_version)));
  JsonDoc doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("kind", json::make_string(kind, a), a);
  doc.AddMember("apiVersion", json::make_string(api_version, a), a);
  Decoder d(a, body.size());
  if (auto st = d.message(root->message, raw, doc, 0); !st.ok()) return st;
  return doc;
}

absl::StatusOr<std::string> encode(const JsonValue& object) {
  std::string_view api_version = json::string_or_empty(&object, "apiVersion");
  std::string_view kind = json::string_or_empty(&object, "kind");
  const RootKind* root = root_of(api_version, kind);
  if (root == nullptr) return bad("envelope", fmt::format("kind {} has no protobuf table", kind));
  std::string raw;
  Encoder e;
  if (auto st = e.message(root->message, object, raw, 0); !st.ok()) return st;
  std::string type_meta;
  put_bytes(1, api_version, type_meta);
  put_bytes(2, kind, type_meta);
  std::string out(kMagic);
  put_bytes(1, type_meta, out);
  put_bytes(2, raw, out);
  put_bytes(3, "", out);
  put_bytes(4, "", out);
  return out;
}

bool has_kind(std::string_view api_version, std::string_view kind) {
  return root_of(api_version, kind) != nullptr;
}

std::string encode_watch_event(std::string_view type, const JsonValue& object) {
  absl::StatusOr<std::string> obj = encode(object);
  if (!obj.ok()) {
    type = "ERROR";
    JsonDoc st(rapidjson::kObjectType);
    auto& a = st.GetAllocator();
    st.AddMember("kind", "Status", a);
    st.AddMember("apiVersion", "v1", a);
    st.AddMember("status", "Failure", a);
    st.AddMember("message", json::make_string(std::string(obj.status().message()), a), a);
    st.AddMember("reason", "InternalError", a);
    st.AddMember("code", 500, a);
    obj = encode(st);
  }
  std::string raw;
  put_bytes(1, *obj, raw);
  std::string event;
  put_bytes(1, type, event);
  put_bytes(2, raw, event);
  std::string frame;
  auto n = static_cast<uint32_t>(event.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    frame.push_back(static_cast<char>((n >> shift) & 0xff));
  frame += event;
  return frame;
}

}  // namespace kop::local::proto
