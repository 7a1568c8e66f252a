// Helpers shared by the kop::local tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "kop/client/errors.h"
#include "kop/local/names.h"
#include "kop/local/store.h"

namespace kop::local::testing {

inline JsonDoc J(std::string_view text) {
  std::string err;
  auto d = json::parse(text, &err);
  EXPECT_TRUE(d.has_value()) << err << " in " << text;
  return d ? std::move(*d) : JsonDoc();
}

// The API Status an error carries (kop/client/errors.h), to compare its fields.
inline client::ApiStatus api(const absl::Status& s) {
  return client::api_status_of(s);
}

inline std::string S(const ObjectPtr& p) {
  return p ? json::to_json(p->doc()) : "null";
}
inline std::string_view meta(const ObjectPtr& p, std::string_view k) {
  return json::path_string(p->doc(), {"metadata", k});
}
inline std::string_view rv(const ObjectPtr& p) {
  return meta(p, "resourceVersion");
}

inline ResourceTypePtr type(Store& s, std::string_view group, std::string_view version,
                            std::string_view resource) {
  auto t = s.registry().by_resource(group, version, resource);
  EXPECT_TRUE(t) << resource;
  return t;
}

inline JsonDoc configmap(std::string_view name, std::string_view ns = "default",
                         std::string_view labels = "{}") {
  return J(std::string(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")") +
           std::string(name) + R"(","namespace":")" + std::string(ns) + R"(","labels":)" +
           std::string(labels) + R"(},"data":{"k":"v"}})");
}

// Waits up to `ms` for the next event.
inline std::optional<WatchEvent> next(const WatchPtr& w, int ms = 2000) {
  return w->next(absl::Milliseconds(ms));
}

}  // namespace kop::local::testing
