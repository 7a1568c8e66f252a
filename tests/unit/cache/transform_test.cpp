#include "kop/cache/transform.h"

#include <gtest/gtest.h>

namespace kop::cache {
namespace {

api::ObjectPtr parse(std::string_view json) {
  auto obj = api::Object::parse(json);
  EXPECT_TRUE(obj.ok()) << obj.status();
  return api::share(std::move(*obj));
}

constexpr std::string_view kWithManagedFields = R"({
  "apiVersion": "v1", "kind": "ConfigMap",
  "metadata": {"name": "a", "namespace": "ns", "resourceVersion": "7",
               "labels": {"app": "a-rather-long-label-value-to-avoid-short-strings"},
               "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {"f:x": {}}}}],
               "annotations": {}},
  "data": {"x": "1", "nested": "y"},
  "spec": {"managedFields": "not metadata: kept", "list": [1, 2.5, true, null, [], {}, "s"]}
})";

TEST(Transform, StripDropsOnlyMetadataManagedFields) {
  auto src = parse(kWithManagedFields);
  auto out = strip_managed_fields(src);
  ASSERT_NE(out, nullptr);
  EXPECT_NE(out, src);
  EXPECT_FALSE(out->has_managed_fields());
  EXPECT_TRUE(src->has_managed_fields());  // the source is never modified
  EXPECT_EQ(out->get_string("/spec/managedFields"), "not metadata: kept");
  api::Object expected(*src);
  expected.clear_managed_fields();
  EXPECT_TRUE(*out == expected) << out->to_json();
  EXPECT_EQ(out->key(), "ns/a");
  EXPECT_EQ(out->label("app"), "a-rather-long-label-value-to-avoid-short-strings");
}

TEST(Transform, KeepingManagedFieldsIsAnExactCopy) {
  auto src = parse(kWithManagedFields);
  auto out = compact_copy(src, false);
  EXPECT_TRUE(out->has_managed_fields());
  EXPECT_TRUE(*out == *src);
}

TEST(Transform, CopyOutlivesTheSource) {
  api::ObjectPtr out;
  {
    auto src = parse(kWithManagedFields);
    out = strip_managed_fields(src);
  }
  EXPECT_EQ(out->get_string("/data/nested"), "y");
  EXPECT_EQ(out->to_json().find("managedFields\":["), std::string::npos);
  api::Object copy(*out);  // a deep copy of a compact object is an ordinary object
  EXPECT_TRUE(copy == *out);
}

TEST(Transform, UserTransformRunsAfterCompaction) {
  auto t = make_transform(false, [](const api::ObjectPtr& obj) {
    EXPECT_FALSE(obj->has_managed_fields());
    api::Object c(*obj);
    c.set_label("seen", "yes");
    return api::share(std::move(c));
  });
  auto out = t(parse(kWithManagedFields));
  EXPECT_EQ(out->label("seen"), "yes");
}

TEST(Transform, SharingKeepsTheObjectItselfOrTheUsersAnswer) {
  auto src = parse(kWithManagedFields);
  EXPECT_EQ(make_sharing_transform(nullptr)(src), src);  // no copy, managedFields and all
  api::ObjectPtr seen;
  auto t = make_sharing_transform([&seen](api::ObjectPtr obj) {
    seen = obj;
    return obj;
  });
  EXPECT_EQ(t(src), src);
  EXPECT_EQ(seen, src);  // the user's transform gets the client's object, not a copy
}

}  // namespace
}  // namespace kop::cache
