// List: selectors, pagination with continue tokens over a consistent snapshot, expired tokens,
// resourceVersion / resourceVersionMatch rules.
#include <gtest/gtest.h>

#include "test_util.h"

namespace kop::local {
namespace {

using namespace testing;

std::vector<std::string> names(const ObjectList& r) {
  std::vector<std::string> out;
  out.reserve(r.items.size());
  for (auto& i : r.items) out.emplace_back(meta(i, "name"));
  return out;
}

TEST(List, SelectorsAndNamespaces) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(
      s.create(*cm, "default", configmap("a", "default", R"({"app":"web","tier":"fe"})")).ok());
  ASSERT_TRUE(s.create(*cm, "default", configmap("b", "default", R"({"app":"db"})")).ok());
  ASSERT_TRUE(s.create(*cm, "kube-system", configmap("c", "kube-system", R"({"app":"web"})")).ok());
  ListOptions o;
  EXPECT_EQ(names(*s.list(*cm, "")), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(names(*s.list(*cm, "default")), (std::vector<std::string>{"a", "b"}));
  o.label_selector = "app=web";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"a", "c"}));
  o.label_selector = "app in (db, web),!tier";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"b", "c"}));
  o.label_selector = "app!=web";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"b"}));
  o.label_selector = "tier";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"a"}));
  o.label_selector = "app notin (web)";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"b"}));
  o.label_selector = "";
  o.field_selector = "metadata.namespace=kube-system";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"c"}));
  o.field_selector = "metadata.name!=a,metadata.namespace=default";
  EXPECT_EQ(names(*s.list(*cm, "", o)), (std::vector<std::string>{"b"}));
  o.field_selector = "data.k=v";
  EXPECT_EQ(
      api(s.list(*cm, "", o).status()).message,
      R"("data.k" is not a known field selector: only "metadata.name", "metadata.namespace")");
  auto sec = type(s, "", "v1", "secrets");
  ASSERT_TRUE(
      s.create(
           *sec, "default",
           J(R"({"metadata":{"name":"t"},"type":"kubernetes.io/dockercfg","data":{".dockercfg":"e30="}})"))
          .ok());
  ASSERT_TRUE(s.create(*sec, "default", J(R"({"metadata":{"name":"o"}})")).ok());
  ListOptions so;
  so.field_selector = "type=Opaque";
  EXPECT_EQ(names(*s.list(*sec, "", so)), (std::vector<std::string>{"o"}));
}

// Where kop::local's own selector parser (before it used kop/api's) differed from the API server:
// each case was answered so by kube-apiserver v1.20 (the real API server tool, docs/local.md).
TEST(List, SelectorsAreReadAsTheApiServerReadsThem) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ASSERT_TRUE(s.create(*cm, "default", configmap("x", "default", R"({"a":"b"})")).ok());
  auto list = [&](std::string labels, std::string fields) {
    ListOptions o;
    o.label_selector = std::move(labels);
    o.field_selector = std::move(fields);
    return s.list(*cm, "default", o);
  };
  auto refused = [&](const std::string& labels, const std::string& fields) {
    auto r = list(labels, fields);
    if (r.ok()) return std::string("accepted");
    EXPECT_EQ(api(r.status()).code, 400) << labels << " " << fields;
    EXPECT_EQ(api(r.status()).reason, "BadRequest") << labels << " " << fields;
    return api(r.status()).message;
  };
  // Blanks around label tokens are fine; inside a value they end it.
  EXPECT_EQ(names(*list(" a = b ", "")), (std::vector<std::string>{"x"}));
  EXPECT_NE(refused("a=b c", ""), "accepted");
  // Keys and values are validated; > and < want integers.
  EXPECT_NE(refused("-bad=x", ""), "accepted");
  EXPECT_NE(refused("a>1x", ""), "accepted");
  EXPECT_NE(refused("a in (x y)", ""), "accepted");
  // Field selectors are not trimmed: " x" is not "x", " metadata.name" is no field.
  EXPECT_EQ(names(*list("", "metadata.name= x")), (std::vector<std::string>{}));
  EXPECT_EQ(names(*list("", "metadata.name=x")), (std::vector<std::string>{"x"}));
  EXPECT_EQ(
      refused("", " metadata.name=x"),
      R"(" metadata.name" is not a known field selector: only "metadata.name", "metadata.namespace")");
  // The only escapes are \\ \, \= (a backslash before anything else is an error).
  EXPECT_NE(refused("", R"(metadata.name=a\b)"), "accepted");
  // Kinds with field labels of their own answer with the conversion function's message.
  auto sec = type(s, "", "v1", "secrets");
  ListOptions so;
  so.field_selector = "spec.x=1";
  EXPECT_EQ(api(s.list(*sec, "", so).status()).message, "field label not supported: spec.x");
}

TEST(List, PaginationIsAConsistentSnapshot) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(s.create(*cm, "default", configmap("c" + std::to_string(i))).ok());
  ListOptions o;
  o.limit = 3;
  auto p1 = s.list(*cm, "default", o);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(names(*p1), (std::vector<std::string>{"c0", "c1", "c2"}));
  EXPECT_FALSE(p1->continue_token.empty());
  ASSERT_TRUE(p1->remaining_item_count);
  EXPECT_EQ(*p1->remaining_item_count, 4);
  // Changes after the first page do not show in later pages.
  ASSERT_TRUE(s.remove(*cm, "default", "c4").ok());
  ASSERT_TRUE(s.create(*cm, "default", configmap("c35")).ok());
  ASSERT_TRUE(
      s.patch(*cm, "default", "c5", PatchType::kJsonMerge, R"({"data":{"k":"changed"}})").ok());
  o.continue_token = p1->continue_token;
  auto p2 = s.list(*cm, "default", o);
  ASSERT_TRUE(p2.ok()) << api(p2.status()).message;
  EXPECT_EQ(names(*p2), (std::vector<std::string>{"c3", "c4", "c5"}));
  EXPECT_EQ(json::path_string(p2->items[2]->doc(), {"data", "k"}), "v");
  EXPECT_EQ(p2->resource_version, p1->resource_version);
  o.continue_token = p2->continue_token;
  auto p3 = s.list(*cm, "default", o);
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(names(*p3), (std::vector<std::string>{"c6"}));
  EXPECT_TRUE(p3->continue_token.empty());
  EXPECT_FALSE(p3->remaining_item_count);
  // A fresh list sees the changes.
  EXPECT_EQ(names(*s.list(*cm, "default")),
            (std::vector<std::string>{"c0", "c1", "c2", "c3", "c35", "c5", "c6"}));
}

// Later pages read the first page's resourceVersion over the live table: objects created and
// deleted since, changed twice, or changed in another table (which moves the global version
// only) each read as they were then; the remaining count follows the same snapshot.
TEST(List, LaterPagesReadTheFirstPagesVersionWhateverChangedSince) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto sec = type(s, "", "v1", "secrets");
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(s.create(*cm, "default", configmap("c" + std::to_string(i))).ok());
  ListOptions o;
  o.limit = 2;
  auto p1 = s.list(*cm, "", o);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(names(*p1), (std::vector<std::string>{"c0", "c1"}));
  EXPECT_EQ(*p1->remaining_item_count, 4);
  ASSERT_TRUE(s.create(*sec, "default", J(R"({"metadata":{"name":"elsewhere"}})")).ok());
  ASSERT_TRUE(s.create(*cm, "default", configmap("c25")).ok());  // created and deleted again
  ASSERT_TRUE(s.remove(*cm, "default", "c25").ok());
  ASSERT_TRUE(s.create(*cm, "default", configmap("c9")).ok());  // created after the cursor
  for (const char* v : {"one", "two"}) {
    std::string patch = std::string(R"({"data":{"k":")") + v + R"("}})";
    ASSERT_TRUE(s.patch(*cm, "default", "c3", PatchType::kJsonMerge, patch).ok());
  }
  ASSERT_TRUE(s.remove(*cm, "default", "c2").ok());
  o.continue_token = p1->continue_token;
  auto p2 = s.list(*cm, "", o);
  ASSERT_TRUE(p2.ok()) << api(p2.status()).message;
  EXPECT_EQ(names(*p2), (std::vector<std::string>{"c2", "c3"}));
  EXPECT_EQ(json::path_string(p2->items[1]->doc(), {"data", "k"}), "v");
  EXPECT_EQ(*p2->remaining_item_count, 2);
  o.continue_token = p2->continue_token;
  auto p3 = s.list(*cm, "", o);
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(names(*p3), (std::vector<std::string>{"c4", "c5"}));
  EXPECT_TRUE(p3->continue_token.empty());
  EXPECT_EQ(names(*s.list(*cm, "")),
            (std::vector<std::string>{"c0", "c1", "c3", "c4", "c5", "c9"}));
}

TEST(List, ContinueWithSelectorsHasNoRemainingCount) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(
        s.create(*cm, "default", configmap("c" + std::to_string(i), "default", R"({"a":"b"})"))
            .ok());
  ListOptions o;
  o.limit = 2;
  o.label_selector = "a=b";
  auto p = s.list(*cm, "", o);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->items.size(), 2u);
  EXPECT_FALSE(p->remaining_item_count);
  EXPECT_FALSE(p->continue_token.empty());
}

TEST(List, ExpiredContinueTokenIs410) {
  StoreOptions so;
  so.history_size = 2;
  Store s(so);
  auto cm = type(s, "", "v1", "configmaps");
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(s.create(*cm, "default", configmap("c" + std::to_string(i))).ok());
  ListOptions o;
  o.limit = 2;
  auto p1 = s.list(*cm, "default", o);
  ASSERT_TRUE(p1.ok());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s.patch(*cm, "default", "c0", PatchType::kJsonMerge,
                        "{\"data\":{\"n\":\"" + std::to_string(i) + "\"}}")
                    .ok());
  o.continue_token = p1->continue_token;
  auto p2 = s.list(*cm, "default", o);
  ASSERT_FALSE(p2.ok());
  EXPECT_EQ(api(p2.status()).code, 410);
  EXPECT_EQ(api(p2.status()).reason, "Expired");
  EXPECT_EQ(api(p2.status()).message.substr(0, 70),
            "The provided continue parameter is too old to display a consistent lis");
  // The inconsistent-continue token lists the rest at the latest version.
  ASSERT_FALSE(api(p2.status()).continue_token.empty());
  o.continue_token = api(p2.status()).continue_token;
  auto rest = s.list(*cm, "default", o);
  ASSERT_TRUE(rest.ok()) << api(rest.status()).message;
  EXPECT_EQ(names(*rest), (std::vector<std::string>{"c2", "c3"}));
}

TEST(List, BadContinueToken) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  ListOptions o;
  o.continue_token = "!!!";
  auto r = s.list(*cm, "", o);
  EXPECT_EQ(api(r.status()).code, 400);
  o.continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJhIn0";  // valid token
  o.resource_version = "5";
  r = s.list(*cm, "", o);
  EXPECT_EQ(api(r.status()).code, 400);
  EXPECT_EQ(api(r.status()).message,
            "specifying resource version is not allowed when using continue");
}

TEST(List, ResourceVersionSemantics) {
  Store s;
  auto cm = type(s, "", "v1", "configmaps");
  auto a = s.create(*cm, "default", configmap("a"));
  std::string at_a(rv(*a));
  ASSERT_TRUE(s.create(*cm, "default", configmap("b")).ok());
  ASSERT_TRUE(s.patch(*cm, "default", "a", PatchType::kJsonMerge, R"({"data":{"k":"new"}})").ok());
  ListOptions o;
  o.resource_version = at_a;
  o.resource_version_match = client::ResourceVersionMatch::kExact;
  auto ex = s.list(*cm, "default", o);
  ASSERT_TRUE(ex.ok()) << api(ex.status()).message;
  EXPECT_EQ(names(*ex), (std::vector<std::string>{"a"}));
  EXPECT_EQ(json::path_string(ex->items[0]->doc(), {"data", "k"}), "v");
  EXPECT_EQ(ex->resource_version, at_a);
  o.resource_version_match = client::ResourceVersionMatch::kNotOlderThan;
  auto no = s.list(*cm, "default", o);
  ASSERT_TRUE(no.ok());
  EXPECT_EQ(names(*no), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(no->resource_version, std::to_string(s.current_resource_version()));
  o.resource_version = std::to_string(s.current_resource_version() + 10);
  auto big = s.list(*cm, "default", o);
  EXPECT_EQ(api(big.status()).code, 504);
  EXPECT_EQ(api(big.status()).message,
            "Timeout: Too large resource version: " + o.resource_version +
                ", current: " + std::to_string(s.current_resource_version()));
  // Validation of the options, as ValidateListOptions.
  ListOptions v;
  v.resource_version_match = client::ResourceVersionMatch::kExact;
  auto inv = s.list(*cm, "", v);
  EXPECT_EQ(api(inv.status()).code, 422);
  EXPECT_EQ(
      api(inv.status()).message,
      R"(ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided)");
  v.resource_version = "0";
  inv = s.list(*cm, "", v);
  EXPECT_EQ(api(inv.status()).details->causes[0].message,
            R"(Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0")");
  // rv=0 with limit is served whole (the watch cache ignores limit).
  ListOptions z;
  z.resource_version = "0";
  z.limit = 1;
  auto all = s.list(*cm, "default", z);
  EXPECT_EQ(all->items.size(), 2u);
  EXPECT_TRUE(all->continue_token.empty());
}

TEST(List, ListObjectShape) {
  Store s;
  auto ing = type(s, "networking.k8s.io", "v1", "ingresses");
  auto r = s.list(*ing, "");
  ASSERT_TRUE(r.ok());
  JsonDoc d = make_list(*ing, *r);
  EXPECT_EQ(
      json::to_json(d),
      R"({"kind":"IngressList","apiVersion":"networking.k8s.io/v1","metadata":{"resourceVersion":")" +
          r->resource_version + R"("},"items":[]})");
}

}  // namespace
}  // namespace kop::local
