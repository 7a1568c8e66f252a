// The label and field selectors of one list or watch: kop/api's parsers (the API server's
// grammar), plus the check the API server makes that each field is one the kind can be selected
// by. Internal to kop::local.
#pragma once

#include <string_view>

#include "errors.h"
#include "kop/api/fields.h"
#include "kop/api/labels.h"
#include "kop/api/object.h"
#include "kop/local/resource.h"

namespace kop::local {

struct Selection {
  api::LabelSelector labels;
  api::FieldSelector fields;

  // Errors are 400 BadRequest: a selector that does not parse (api's message, naming the byte
  // position), or a field `type` cannot be selected by ("field label not supported: F", or for
  // kinds with only the metadata fields "\"F\" is not a known field selector: only ...").
  static absl::StatusOr<Selection> parse(std::string_view label_selector,
                                         std::string_view field_selector, const ResourceType& type);

  bool empty() const { return labels.empty() && fields.empty(); }
  bool matches(const api::Object& obj) const { return labels.matches(obj) && fields.matches(obj); }
};

}  // namespace kop::local
