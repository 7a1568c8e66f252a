#include "kop/proxy/request_view.h"

#include "core/text.h"
#include "kop/proxy/string_map.h"

namespace kop::proxy {

bool iequals(std::string_view a, std::string_view b) {
  return iequal_fast(a, b);
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

bool RequestView::query_param(std::string_view name, std::string_view* value) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    std::size_t eq = part.find('=');
    if (part.substr(0, eq) != name) continue;
    *value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    return true;
  }
  return false;
}

}  // namespace kop::proxy
