#include "kop/cache/transform.h"

#include <rapidjson/allocators.h>
#include <rapidjson/document.h>

#include <string_view>
#include <vector>

namespace kop::cache {
namespace {

using Pool = rapidjson::MemoryPoolAllocator<>;
using SizeType = rapidjson::SizeType;

// Replays a document's SAX events into `Out`, copying every string (RapidJSON's own copies keep
// "const" strings by reference) and, when asked, leaving out metadata.managedFields. EndObject's
// member count is corrected for the member left out.
template <typename Out>
class CopyFilter {
 public:
  CopyFilter(Out& out, bool drop_managed_fields) : out_(out), drop_(drop_managed_fields) {}

  bool Null() { return skip_scalar() || out_.Null(); }
  bool Bool(bool b) { return skip_scalar() || out_.Bool(b); }
  bool Int(int i) { return skip_scalar() || out_.Int(i); }
  bool Uint(unsigned u) { return skip_scalar() || out_.Uint(u); }
  bool Int64(int64_t i) { return skip_scalar() || out_.Int64(i); }
  bool Uint64(uint64_t u) { return skip_scalar() || out_.Uint64(u); }
  bool Double(double d) { return skip_scalar() || out_.Double(d); }
  bool RawNumber(const char* s, SizeType n, bool) {
    return skip_scalar() || out_.RawNumber(s, n, true);
  }
  bool String(const char* s, SizeType n, bool) { return skip_scalar() || out_.String(s, n, true); }

  bool StartObject() {
    if (skip_start()) return true;
    const bool is_metadata = frames_.size() == 1 && next_is_metadata_;
    next_is_metadata_ = false;
    frames_.push_back({is_metadata, 0});
    return out_.StartObject();
  }
  bool Key(const char* s, SizeType n, bool) {
    if (skip_depth_ > 0) return true;
    const std::string_view key(s, n);
    Frame& f = frames_.back();
    if (drop_ && f.is_metadata && key == "managedFields") {
      skip_next_ = true;
      ++f.skipped;
      return true;
    }
    next_is_metadata_ = frames_.size() == 1 && key == "metadata";
    return out_.Key(s, n, true);
  }
  bool EndObject(SizeType members) {
    if (skip_end()) return true;
    const SizeType kept = members - frames_.back().skipped;
    frames_.pop_back();
    return out_.EndObject(kept);
  }
  bool StartArray() {
    if (skip_start()) return true;
    next_is_metadata_ = false;
    frames_.push_back({false, 0});
    return out_.StartArray();
  }
  bool EndArray(SizeType elements) {
    if (skip_end()) return true;
    frames_.pop_back();
    return out_.EndArray(elements);
  }

 private:
  struct Frame {
    bool is_metadata;
    SizeType skipped;
  };
  // True when the event belongs to a value being left out.
  bool skip_scalar() {
    if (skip_depth_ > 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    next_is_metadata_ = false;
    return false;
  }
  bool skip_start() {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    if (skip_next_) {
      skip_next_ = false;
      skip_depth_ = 1;
      return true;
    }
    return false;
  }
  bool skip_end() {
    if (skip_depth_ == 0) return false;
    --skip_depth_;
    return true;
  }

  Out& out_;
  const bool drop_;
  std::vector<Frame> frames_;
  bool next_is_metadata_ = false;
  bool skip_next_ = false;
  int skip_depth_ = 0;
};

// Adds up what a RapidJSON document built from the events allocates from its pool, so the copy
// gets one chunk of the right size.
class SizeCounter {
 public:
  size_t bytes = 0;
  bool Null() { return true; }
  bool Bool(bool) { return true; }
  bool Int(int) { return true; }
  bool Uint(unsigned) { return true; }
  bool Int64(int64_t) { return true; }
  bool Uint64(uint64_t) { return true; }
  bool Double(double) { return true; }
  bool RawNumber(const char*, SizeType n, bool) { return str(n); }
  bool String(const char*, SizeType n, bool) { return str(n); }
  bool Key(const char*, SizeType n, bool) { return str(n); }
  bool StartObject() { return true; }
  bool EndObject(SizeType members) { return add(members * sizeof(rapidjson::Value::Member)); }
  bool StartArray() { return true; }
  bool EndArray(SizeType elements) { return add(elements * sizeof(rapidjson::Value)); }

 private:
  bool str(SizeType n) {
    // Short strings live inside the value; longer ones take length + 1, 8-byte aligned.
    return n < 14 ? true : add(n + 1);
  }
  bool add(size_t n) {
    bytes += (n + 7) & ~size_t{7};
    return true;
  }
};

}  // namespace

api::ObjectPtr compact_copy(const api::ObjectPtr& obj, bool drop_managed_fields) {
  if (!obj) return obj;
  const rapidjson::Document& src = obj->doc();
  SizeCounter counter;
  CopyFilter<SizeCounter> count(counter, drop_managed_fields);
  src.Accept(count);
  // The filtered document in a scratch pool of one chunk, then copied into an Object sized to
  // it (Object::from_value: its storage and one buffer). Keeping the filtered document in a
  // pool of its own held more per object (the pool's holder and base allocator, the adopted
  // document's storage and stack allocator): 1.5 MB more for kop-ingress' 20k Ingresses and
  // Services at 10k apps (heaptrack).
  Pool scratch(counter.bytes + 64);
  rapidjson::Document doc(&scratch);
  auto generate = [&](rapidjson::Document& out) {
    CopyFilter<rapidjson::Document> copy(out, drop_managed_fields);
    return src.Accept(copy);
  };
  doc.Populate(generate);
  if (doc.HasParseError() || !doc.IsObject()) return obj;
  absl::StatusOr<api::Object> copy = api::Object::from_value(doc);
  if (!copy.ok()) return obj;
  return api::share(*std::move(copy));
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): a TransformFunc, whose shape takes a value.
api::ObjectPtr strip_managed_fields(api::ObjectPtr obj) {
  return compact_copy(obj, true);
}

TransformFunc make_sharing_transform(TransformFunc user) {
  if (user) return user;
  return [](api::ObjectPtr obj) { return obj; };
}

TransformFunc make_transform(bool keep_managed_fields, TransformFunc user) {
  TransformFunc base = [keep_managed_fields](const api::ObjectPtr& obj) {
    return compact_copy(obj, !keep_managed_fields);
  };
  if (!user) return base;
  return [base = std::move(base), user = std::move(user)](api::ObjectPtr obj) {
    return user(base(std::move(obj)));
  };
}

}  // namespace kop::cache
