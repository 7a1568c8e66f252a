// nginx-style hash key expressions (hash_expression.h).
#include "kop/proxy/hash_expression.h"

#include <array>
#include <utility>

#include "core/text.h"
#include "kop/proxy/cluster.h"

namespace kop::proxy {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// $host: the Host without its port, lowercased ("[v6]" literals keep their brackets).
void append_host(std::string_view host, std::string& out) {
  size_t end = host.size();
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) end = close + 1;
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    end = colon;
  }
  for (char c : host.substr(0, end)) out.push_back(c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c);
}

// nginx's set_escape_uri: every byte but the unreserved ones as %XX.
void append_escaped(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
}

}  // namespace

absl::StatusOr<HashExpression> HashExpression::parse(std::string_view text) {
  using internal::cat;
  using internal::quote;
  static constexpr std::array<std::pair<std::string_view, Kind>, 12> kPlain = {{
      {"request_uri", Kind::kRequestUri},
      {"escaped_request_uri", Kind::kEscapedRequestUri},
      {"http_host", Kind::kHttpHost},
      {"scheme", Kind::kScheme},
      {"pass_access_scheme", Kind::kScheme},
      {"uri", Kind::kUri},
      {"args", Kind::kArgs},
      {"query_string", Kind::kArgs},
      {"host", Kind::kHost},
      {"remote_addr", Kind::kRemoteAddr},
      {"binary_remote_addr", Kind::kRemoteAddr},
      {"request_method", Kind::kMethod},
  }};
  static constexpr std::array<std::pair<std::string_view, Kind>, 3> kPrefixed = {{
      {"http_", Kind::kHeader},
      {"cookie_", Kind::kCookie},
      {"arg_", Kind::kArg},
  }};
  HashExpression e;
  if (text.empty()) return absl::InvalidArgumentError("empty hash expression");
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar != i) {
      size_t end = dollar == std::string_view::npos ? text.size() : dollar;
      e.parts_.push_back(Part{Kind::kText, std::string(text.substr(i, end - i))});
      i = end;
      continue;
    }
    std::string_view name;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos)
        return absl::InvalidArgumentError(cat("unclosed \"${\" in ", quote(text)));
      name = text.substr(i + 2, close - i - 2);
      i = close + 1;
    } else {
      size_t end = i + 1;
      while (end < text.size() && name_char(text[end])) ++end;
      name = text.substr(i + 1, end - i - 1);
      i = end;
    }
    if (name.empty() || !std::all_of(name.begin(), name.end(), name_char))
      return absl::InvalidArgumentError(cat("a '$' without a variable name in ", quote(text)));
    std::string lower = internal::to_lower(name);
    bool found = false;
    for (const auto& [n, kind] : kPlain) {
      if (lower == n) {
        e.parts_.push_back(Part{kind, {}});
        found = true;
        break;
      }
    }
    for (const auto& [prefix, kind] : kPrefixed) {
      if (found || lower.size() <= prefix.size() || lower.compare(0, prefix.size(), prefix) != 0)
        continue;
      // nginx: $http_x_user is the header X-User; cookie and argument names are kept as written.
      std::string rest = kind == Kind::kHeader ? lower.substr(prefix.size())
                                               : std::string(name.substr(prefix.size()));
      if (kind == Kind::kHeader)
        for (char& c : rest)
          if (c == '_') c = '-';
      e.parts_.push_back(Part{kind, std::move(rest)});
      found = true;
    }
    if (!found)
      return absl::InvalidArgumentError(
          cat("unsupported variable ", quote(cat("$", name)),
              " (request_uri, escaped_request_uri, uri, args, query_string, host, http_host, "
              "scheme, pass_access_scheme, remote_addr, request_method, http_*, cookie_*, "
              "arg_*)"));
  }
  return e;
}

void HashExpression::evaluate(const RequestView& request, std::string& out) const {
  std::string_view v;
  for (const Part& p : parts_) {
    switch (p.kind) {
      case Kind::kText:
        out.append(p.text);
        break;
      case Kind::kRequestUri:
        out.append(request.path);
        if (!request.query.empty()) out.append("?").append(request.query);
        break;
      case Kind::kEscapedRequestUri:
        append_escaped(request.path, out);
        if (!request.query.empty()) {
          out.append("%3F");
          append_escaped(request.query, out);
        }
        break;
      case Kind::kUri:
        out.append(request.path);
        break;
      case Kind::kArgs:
        out.append(request.query);
        break;
      case Kind::kHost:
        append_host(request.host, out);
        break;
      case Kind::kHttpHost:
        out.append(request.host);
        break;
      case Kind::kScheme:
        out.append(request.scheme);
        break;
      case Kind::kRemoteAddr:
        out.append(request.client_address);
        break;
      case Kind::kMethod:
        out.append(request.method);
        break;
      case Kind::kHeader:
        if (request.header(p.text, &v)) out.append(v);
        break;
      case Kind::kCookie:
        if (find_cookie(request, p.text, &v)) out.append(v);
        break;
      case Kind::kArg:
        if (request.query_param(p.text, &v)) out.append(v);
        break;
    }
  }
}

}  // namespace kop::proxy
