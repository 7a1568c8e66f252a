#include "kop/api/json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <limits>
#include <system_error>

namespace kop::api::json {

namespace {

using rapidjson::SizeType;

// Whether a number whose text from_chars found out of range is too big (rather than too small):
// the decimal order of magnitude of its first significant digit, after the exponent.
bool above_range(std::string_view number) {
  const size_t e = number.find_first_of("eE");
  const std::string_view mantissa = number.substr(0, e);
  long exponent = 0;
  if (e != std::string_view::npos) {
    std::string_view x = number.substr(e + 1);
    if (!x.empty() && x.front() == '+') x.remove_prefix(1);
    long long parsed = 0;
    auto [end, ec] = std::from_chars(x.data(), x.data() + x.size(), parsed);
    if (ec == std::errc::result_out_of_range) return x.front() != '-';
    exponent = static_cast<long>(std::clamp<long long>(parsed, -100000, 100000));
  }
  long order = 0;  // 10^order <= |mantissa| < 10^(order+1)
  const size_t first = mantissa.find_first_of("123456789");
  if (first == std::string_view::npos) return false;  // a zero is never out of range
  const size_t point = mantissa.find('.');
  const size_t int_end = point == std::string_view::npos ? mantissa.size() : point;
  order = first < int_end ? static_cast<long>(int_end - first) - 1
                          : -static_cast<long>(first - int_end);
  return order + exponent > 0;
}

// Forwards each SAX event to a Document; numbers arrive as text (kParseNumbersAsStringsFlag)
// and are converted here.
class ExactNumbers {
 public:
  explicit ExactNumbers(rapidjson::Document& doc) : doc_(doc) {}
  bool too_big() const { return too_big_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool String(const char* s, SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool StartObject() { return doc_.StartObject(); }
  bool Key(const char* s, SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool EndObject(SizeType members) { return doc_.EndObject(members); }
  bool StartArray() { return doc_.StartArray(); }
  bool EndArray(SizeType elements) { return doc_.EndArray(elements); }

  bool RawNumber(const char* s, SizeType n, bool /*copy*/) {
    const char* end = s + n;
    const std::string_view text(s, n);
    if (text.find_first_of(".eE") == std::string_view::npos) {
      if (text.front() == '-') {
        int64_t i = 0;
        auto r = std::from_chars(s, end, i);
        if (r.ec == std::errc() && r.ptr == end) {
          return i >= INT_MIN ? doc_.Int(static_cast<int>(i)) : doc_.Int64(i);
        }
      } else {
        uint64_t u = 0;
        auto r = std::from_chars(s, end, u);
        if (r.ec == std::errc() && r.ptr == end) {
          return u <= UINT_MAX ? doc_.Uint(static_cast<unsigned>(u)) : doc_.Uint64(u);
        }
      }
      // Beyond 64 bits: a double, as RapidJSON does.
    }
    double d = 0;
    auto r = std::from_chars(s, end, d);
    if (r.ec == std::errc::result_out_of_range) {
      if (above_range(text)) {
        too_big_ = true;
        return false;
      }
      d = text.front() == '-' ? -0.0 : 0.0;
    } else if (r.ec != std::errc() || r.ptr != end) {
      return false;  // not reached: the reader has checked the JSON number grammar
    }
    return doc_.Double(d);
  }

 private:
  rapidjson::Document& doc_;
  bool too_big_ = false;
};

}  // namespace

rapidjson::ParseResult parse_into(rapidjson::Document& doc, std::string_view text) {
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag;
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& target) {
    ExactNumbers handler(target);
    rapidjson::MemoryStream bytes(text.data() ? text.data() : "", text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
    rapidjson::Reader reader;
    result = reader.Parse<kFlags>(in, handler);
    if (handler.too_big()) {
      result.Set(rapidjson::kParseErrorNumberTooBig, result.Offset());
    }
    return !result.IsError();
  };
  doc.Populate(generate);
  return result;
}

Value& set_member(Value& obj, std::string_view key, Value&& v, Allocator& alloc) {
  if (!obj.IsObject()) obj.SetObject();
  if (Value* existing = find(obj, key)) {
    *existing = std::move(v);
    return *existing;
  }
  obj.AddMember(make_string(key, alloc), v, alloc);
  return (obj.MemberEnd() - 1)->value;
}

std::optional<Document> parse(std::string_view text, std::string* error) {
  Document d;
  if (rapidjson::ParseResult parsed = parse_into(d, text); parsed.IsError()) {
    if (error) {
      *error = std::string(rapidjson::GetParseError_En(parsed.Code())) + " at offset " +
               std::to_string(parsed.Offset());
    }
    return std::nullopt;
  }
  return d;
}

Document clone(const Value& v) {
  Document d;
  d.CopyFrom(v, d.GetAllocator());
  return d;
}

const Value* path(const Value& obj, std::initializer_list<std::string_view> keys) {
  const Value* cur = &obj;
  for (auto k : keys) {
    cur = find(*cur, k);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string_view path_string(const Value& obj, std::initializer_list<std::string_view> keys) {
  const Value* v = path(obj, keys);
  return v ? as_string_view(*v) : std::string_view();
}

void set_string(Value& obj, std::string_view key, std::string_view value, Allocator& alloc) {
  set_member(obj, key, make_string(value, alloc), alloc);
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

namespace {

// An integer stored as int64 or uint64 equals a double only when the double is integral, in
// range, and converts back to exactly that integer (GetDouble() would round the integer).
bool integer_equals_double(const Value& i, double d) {
  constexpr double k2p63 = 9223372036854775808.0;
  if (!std::isfinite(d) || std::trunc(d) != d) return false;
  if (i.IsInt64()) return d >= -k2p63 && d < k2p63 && static_cast<int64_t>(d) == i.GetInt64();
  return d >= 0 && d < 2 * k2p63 && static_cast<uint64_t>(d) == i.GetUint64();
}

bool numbers_equal(const Value& a, const Value& b) {
  const bool a_int = a.IsInt64() || a.IsUint64();
  const bool b_int = b.IsInt64() || b.IsUint64();
  if (a_int && b_int) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return false;  // one is negative, the other at least 2^63
  }
  if (a_int) return integer_equals_double(a, b.GetDouble());
  if (b_int) return integer_equals_double(b, a.GetDouble());
  return a.GetDouble() == b.GetDouble();
}

}  // namespace

bool equal(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) return numbers_equal(a, b);
  if (a.GetType() != b.GetType()) return false;  // true and false are distinct types too
  switch (a.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kTrueType:
    case rapidjson::kFalseType:
      return true;
    case rapidjson::kStringType:
      return as_string_view(a) == as_string_view(b);
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size()) return false;
      for (SizeType i = 0; i < a.Size(); ++i) {
        if (!equal(a[i], b[i])) return false;
      }
      return true;
    }
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (const auto& m : a.GetObject()) {
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd() || !equal(m.value, it->value)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

std::string_view type_name(const Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  if (v.IsObject()) return "object";
  if (v.IsInt64() || v.IsUint64()) return "integer";
  if (v.IsDouble()) {
    double d = v.GetDouble();
    return (std::floor(d) == d && std::isfinite(d)) ? "integer" : "number";
  }
  return "unknown";
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
