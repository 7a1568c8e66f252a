#include "kop/api/json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <climits>
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
