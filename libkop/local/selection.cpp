#include "selection.h"

#include <string>

namespace kop::local {

absl::StatusOr<Selection> Selection::parse(std::string_view label_selector,
                                           std::string_view field_selector,
                                           const ResourceType& type) {
  Selection sel;
  auto labels = api::LabelSelector::parse(label_selector);
  if (!labels.ok()) return client::bad_request(std::string(labels.status().message()));
  auto fields = api::FieldSelector::parse(field_selector);
  if (!fields.ok()) return client::bad_request(std::string(fields.status().message()));
  absl::Status supported = fields->check_supported({type.group, type.version, type.kind});
  if (!supported.ok()) return client::bad_request(std::string(supported.message()));
  sel.labels = *std::move(labels);
  sel.fields = *std::move(fields);
  return sel;
}

}  // namespace kop::local
