#include "kop/proxy/request_view.h"

#include "core/text.h"

namespace kop::proxy {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (internal::lower(a[i]) != internal::lower(b[i])) return false;
  return true;
}

bool RequestView::header(std::string_view lower_name, std::size_t nth,
                         std::string_view* value) const {
  if (lookup != nullptr) return lookup(lookup_ctx, lower_name, nth, value);
  for (const HeaderField& h : headers) {
    if (!iequals(h.name, lower_name)) continue;
    if (nth == 0) {
      *value = h.value;
      return true;
    }
    --nth;
  }
  return false;
}

}  // namespace kop::proxy
