// Label and field selectors as the API server parses and applies them on list and watch.
// Internal to kop::local.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/local/api_status.h"
#include "kop/local/json.h"
#include "kop/local/resource.h"

namespace kop::local {

class LabelSelector {
 public:
  // Parses the query-parameter form ("app=x,tier in (a,b),!legacy"). Errors are 400 BadRequest.
  static Result<LabelSelector> parse(std::string_view s);
  bool empty() const { return reqs_.empty(); }
  // `labels` is metadata.labels (an object) or null.
  bool matches(const JsonValue* labels) const;

  struct Req {
    std::string key;
    enum class Op { Exists, NotExists, Eq, NotEq, In, NotIn, Gt, Lt } op;
    std::vector<std::string> values;
  };

 private:
  std::vector<Req> reqs_;
};

class FieldSelector {
 public:
  // Parses "metadata.name=x,status.phase!=Running"; fields not supported for `type` are
  // 400 BadRequest "field label not supported: F", as the API server answers.
  static Result<FieldSelector> parse(std::string_view s, const ResourceType& type);
  bool empty() const { return reqs_.empty(); }
  bool matches(const JsonValue& obj) const;

 private:
  struct Req {
    std::vector<std::string> path;
    bool negate;
    std::string value;
  };
  std::vector<Req> reqs_;
};

}  // namespace kop::local
