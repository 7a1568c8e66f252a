// Headers kop-gen wrote at build time from tests/testdata/kop-gen, compiled here and used to
// read and write objects: one test per kind of schema node.
#include <gtest/gtest.h>
#include <kop/api/object.h>

#include <string>
#include <type_traits>
#include <vector>

#include "hostile_gen.h"
#include "types_gen.h"

namespace {

using gen::types::v1::Widget;
using gen::types::v1::WidgetBuilder;
using kop::Object;

Object widget(std::string_view spec_json) {
  auto o = Object::parse(std::string(R"({"apiVersion":"test.kop.dev/v1","kind":"Widget",)") +
                         R"("metadata":{"name":"w","namespace":"ns"},"spec":)" +
                         std::string(spec_json) + "}");
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? std::move(*o) : Object();
}

// A view of a temporary Object would dangle: it does not compile.
static_assert(!std::is_constructible_v<Widget, Object&&>);
static_assert(std::is_constructible_v<Widget, const Object&>);

TEST(KopGenTypes, KindConstantsAndMake) {
  EXPECT_EQ(Widget::gvk().api_version(), "test.kop.dev/v1");
  EXPECT_EQ(Widget::kKind, "Widget");
  EXPECT_EQ(Widget::kPlural, "widgets");
  EXPECT_TRUE(Widget::kNamespaced);
  Object w = WidgetBuilder::make("ns", "w");
  EXPECT_EQ(w.api_version(), "test.kop.dev/v1");
  EXPECT_EQ(w.kind(), "Widget");
  EXPECT_EQ(w.key(), "ns/w");
  EXPECT_FALSE(Widget(w).spec().present());
  Object odd = gen::hostile::v1::OddityBuilder::make("cluster-wide");
  EXPECT_EQ(odd.key(), "cluster-wide");
  EXPECT_FALSE(gen::hostile::v1::Oddity::kNamespaced);
}

TEST(KopGenTypes, ScalarsReadAsOptionalOrTheirDefault) {
  Object absent = widget("{}");
  auto s = Widget(absent).spec();
  EXPECT_TRUE(s.present());
  EXPECT_EQ(s.title(), std::nullopt);
  EXPECT_EQ(s.size(), 3);  // default: 3
  EXPECT_EQ(s.ratio(), 0.5);
  EXPECT_EQ(s.weight(), std::nullopt);
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.paused(), std::nullopt);
  EXPECT_FALSE(s.has_size());

  Object set = widget(
      R"({"title":"t","size":7,"ratio":1.25,"weight":2,"enabled":false,"paused":true,"count":9})");
  s = Widget(set).spec();
  EXPECT_EQ(s.title(), "t");
  EXPECT_EQ(s.size(), 7);
  EXPECT_EQ(s.ratio(), 1.25);
  EXPECT_EQ(s.weight(), 2.0);  // an integer is a number too
  EXPECT_FALSE(s.enabled());
  EXPECT_EQ(s.paused(), true);
  EXPECT_EQ(s.count(), 9);
  EXPECT_TRUE(s.has_size());

  // A value of the wrong type reads as absent (or the default), never as garbage.
  Object wrong = widget(R"({"title":5,"size":"seven","enabled":"no"})");
  s = Widget(wrong).spec();
  EXPECT_EQ(s.title(), std::nullopt);
  EXPECT_EQ(s.size(), 3);
  EXPECT_TRUE(s.enabled());
}

TEST(KopGenTypes, ScalarsWrite) {
  Object w = WidgetBuilder::make("ns", "w");
  WidgetBuilder(w).mutable_spec().set_title("hello").set_size(4).set_ratio(0.75).set_enabled(false);
  EXPECT_EQ(w.get_string("/spec/title"), "hello");
  EXPECT_EQ(w.get_int("/spec/size"), 4);
  EXPECT_EQ(w.get_double("/spec/ratio"), 0.75);
  EXPECT_EQ(w.get_bool("/spec/enabled"), false);
  WidgetBuilder(w).mutable_spec().clear_size();
  EXPECT_EQ(w.at("/spec/size"), nullptr);
  EXPECT_EQ(Widget(w).spec().size(), 3);
  EXPECT_EQ(Widget(w).spec().title(), "hello");  // the other fields stay
}

TEST(KopGenTypes, DateTimeFieldsReadAndWriteAbslTime) {
  Object o = widget(R"({"startTime":"2026-12-06T13:30:00Z"})");
  EXPECT_EQ(Widget(o).spec().start_time(), "2026-12-06T13:30:00Z");
  EXPECT_EQ(Widget(o).spec().start_time_time(), absl::FromUnixSeconds(1796563800));
  Object bad = widget(R"({"startTime":"yesterday"})");
  EXPECT_EQ(Widget(bad).spec().start_time_time(), std::nullopt);
  EXPECT_EQ(Widget(bad).spec().start_time(), "yesterday");  // the text stays readable

  Object w = WidgetBuilder::make("ns", "w");
  WidgetBuilder(w).mutable_spec().set_start_time(absl::FromUnixSeconds(0));
  EXPECT_EQ(w.get_string("/spec/startTime"), "1970-01-01T00:00:00Z");
}

TEST(KopGenTypes, EnumsParseAndKeepUnknownTextReadable) {
  using gen::types::v1::WidgetSpecMode;
  using gen::types::v1::WidgetSpecPolicy;
  Object absent = widget("{}");
  EXPECT_EQ(Widget(absent).spec().mode(), WidgetSpecMode::kFast);  // default: Fast
  EXPECT_EQ(Widget(absent).spec().mode_text(), "Fast");
  EXPECT_EQ(Widget(absent).spec().policy(), std::nullopt);

  Object known = widget(R"({"mode":"slow-ish","policy":"Never"})");
  EXPECT_EQ(Widget(known).spec().mode(), WidgetSpecMode::kSlowIsh);
  EXPECT_EQ(Widget(known).spec().policy(), WidgetSpecPolicy::kNever);

  Object unknown = widget(R"({"mode":"Turbo","policy":"Sometimes"})");
  EXPECT_EQ(Widget(unknown).spec().mode(), WidgetSpecMode::kUnrecognized);
  EXPECT_EQ(Widget(unknown).spec().mode_text(), "Turbo");
  EXPECT_EQ(Widget(unknown).spec().policy(), WidgetSpecPolicy::kUnrecognized);
  EXPECT_EQ(Widget(unknown).spec().policy_text(), "Sometimes");

  EXPECT_EQ(gen::types::v1::to_string(WidgetSpecMode::kSlow), "Slow");
  EXPECT_EQ(gen::types::v1::to_string(WidgetSpecMode::kUnrecognized), "");
  EXPECT_EQ(gen::types::v1::parse_widget_spec_mode("slow-ish"), WidgetSpecMode::kSlowIsh);
  EXPECT_EQ(gen::types::v1::parse_widget_spec_mode("fast"), WidgetSpecMode::kUnrecognized);

  Object w = WidgetBuilder::make("ns", "w");
  WidgetBuilder(w).mutable_spec().set_mode(WidgetSpecMode::kSlow).set_policy_text("Later");
  EXPECT_EQ(w.get_string("/spec/mode"), "Slow");
  EXPECT_EQ(w.get_string("/spec/policy"), "Later");
}

TEST(KopGenTypes, IntOrString) {
  Object absent = widget("{}");
  EXPECT_TRUE(Widget(absent).spec().port().empty());
  EXPECT_EQ(Widget(absent).spec().target_port(), kop::api::IntOrString::of_string("http"));

  Object num = widget(R"({"port":8080,"targetPort":9090})");
  EXPECT_EQ(Widget(num).spec().port(), kop::api::IntOrString::of_int(8080));
  EXPECT_EQ(Widget(num).spec().target_port().to_string(), "9090");
  Object name = widget(R"({"port":"web"})");
  EXPECT_TRUE(Widget(name).spec().port().is_string());
  EXPECT_EQ(Widget(name).spec().port().str_value, "web");

  Object w = WidgetBuilder::make("ns", "w");
  WidgetBuilder(w).mutable_spec().set_port(443).set_target_port("https");
  EXPECT_EQ(w.get_int("/spec/port"), 443);
  EXPECT_EQ(w.get_string("/spec/targetPort"), "https");
}

TEST(KopGenTypes, Nullable) {
  Object null = widget(R"({"note":null,"limits":null})");
  auto s = Widget(null).spec();
  EXPECT_TRUE(s.has_note());
  EXPECT_TRUE(s.note_is_null());
  EXPECT_EQ(s.note(), std::nullopt);
  EXPECT_TRUE(s.limits_is_null());
  EXPECT_FALSE(s.limits().present());
  EXPECT_EQ(s.limits().cpu(), std::nullopt);

  Object w = WidgetBuilder::make("ns", "w");
  WidgetBuilder(w).mutable_spec().set_note_null();
  EXPECT_TRUE(w.at("/spec/note")->IsNull());
  WidgetBuilder(w).mutable_spec().set_note("n");
  EXPECT_EQ(Widget(w).spec().note(), "n");
  EXPECT_FALSE(Widget(w).spec().note_is_null());
}

TEST(KopGenTypes, NestedObjects) {
  Object o = widget(R"({"limits":{"cpu":"2"}})");
  EXPECT_TRUE(Widget(o).spec().limits().present());
  EXPECT_EQ(Widget(o).spec().limits().cpu(), "2");
  Object none = widget("{}");
  EXPECT_FALSE(Widget(none).spec().limits().present());

  Object w = WidgetBuilder::make("ns", "w");
  WidgetBuilder(w).mutable_spec().mutable_limits().set_cpu("500m");
  EXPECT_EQ(w.get_string("/spec/limits/cpu"), "500m");
  // A member of another type is replaced by an object when written through.
  ASSERT_TRUE(w.set_string("/spec/limits", "oops").ok());
  WidgetBuilder(w).mutable_spec().mutable_limits().set_cpu("1");
  EXPECT_EQ(w.get_string("/spec/limits/cpu"), "1");
}

TEST(KopGenTypes, Arrays) {
  Object o = widget(R"({"tags":["a","b",3],"policies":["Always","Maybe"],"matrix":[[1,2],[3]],)"
                    R"("backends":[{"name":"x"},{"name":"y","port":8080}]})");
  auto s = Widget(o).spec();
  std::vector<std::string_view> tags(s.tags().begin(), s.tags().end());
  EXPECT_EQ(tags, (std::vector<std::string_view>{"a", "b", ""}));  // a non-string reads as ""
  ASSERT_EQ(s.policies().size(), 2u);
  EXPECT_EQ(s.policies()[0], gen::types::v1::WidgetSpecPoliciesItem::kAlways);
  EXPECT_EQ(s.policies()[1], gen::types::v1::WidgetSpecPoliciesItem::kUnrecognized);
  ASSERT_EQ(s.matrix().size(), 2u);
  EXPECT_EQ(s.matrix()[0][1], 2);
  EXPECT_EQ(s.matrix()[1].size(), 1u);
  std::vector<std::pair<std::string_view, int64_t>> backends;
  for (auto b : s.backends()) backends.emplace_back(*b.name(), b.port());
  EXPECT_EQ(backends, (std::vector<std::pair<std::string_view, int64_t>>{{"x", 80}, {"y", 8080}}));
  Object none = widget("{}");
  EXPECT_FALSE(Widget(none).spec().tags().present());
  EXPECT_TRUE(Widget(none).spec().backends().empty());

  Object w = WidgetBuilder::make("ns", "w");
  auto spec = WidgetBuilder(w).mutable_spec();
  spec.add_tags("one").add_tags("two");
  spec.add_policies(gen::types::v1::WidgetSpecPoliciesItem::kNever);
  spec.add_backends().set_name("first");
  spec.add_backends().set_name("second").set_port(81);
  ASSERT_TRUE(spec.add_matrix_json("[4,5]").ok());
  EXPECT_FALSE(spec.add_matrix_json("[4,").ok());
  EXPECT_EQ(w.to_json(),
            R"({"apiVersion":"test.kop.dev/v1","kind":"Widget","metadata":{"namespace":"ns",)"
            R"("name":"w"},"spec":{"tags":["one","two"],"policies":["Never"],)"
            R"("backends":[{"name":"first"},{"name":"second","port":81}],"matrix":[[4,5]]}})");
  spec.clear_tags();
  EXPECT_EQ(w.at("/spec/tags"), nullptr);
}

TEST(KopGenTypes, Maps) {
  Object o = widget(
      R"({"labels":{"app":"web","n":1},"quotas":{"cpu":4},"routes":{"a":{"path":"/a"},"b":{}}})");
  auto s = Widget(o).spec();
  EXPECT_EQ(s.labels().size(), 2u);
  EXPECT_EQ(s.labels().find("app"), "web");
  EXPECT_EQ(s.labels().find("n"), "");  // a non-string value reads as ""
  EXPECT_EQ(s.labels().find("missing"), std::nullopt);
  EXPECT_EQ(s.quotas().find("cpu"), 4);
  std::vector<std::pair<std::string_view, std::string_view>> routes;
  for (auto [name, route] : s.routes()) routes.emplace_back(name, route.path());
  EXPECT_EQ(routes,
            (std::vector<std::pair<std::string_view, std::string_view>>{{"a", "/a"}, {"b", "/"}}));

  Object w = WidgetBuilder::make("ns", "w");
  auto spec = WidgetBuilder(w).mutable_spec();
  spec.set_labels("tier", "front").set_labels("app", "web").set_quotas("mem", 8);
  spec.mutable_routes("api").set_path("/api");
  spec.remove_labels("tier");
  EXPECT_EQ(w.to_json(),
            R"({"apiVersion":"test.kop.dev/v1","kind":"Widget","metadata":{"namespace":"ns",)"
            R"("name":"w"},"spec":{"labels":{"app":"web"},"quotas":{"mem":8},)"
            R"("routes":{"api":{"path":"/api"}}}})");
}

TEST(KopGenTypes, PreserveUnknownFieldsIsRawJson) {
  Object o = widget(R"({"config":{"any":{"thing":[1]}},"extra":{"k":"v"},"anything":7,)"
                    R"("template":{"image":"nginx","replicas":2}})");
  auto s = Widget(o).spec();
  ASSERT_NE(s.config(), nullptr);
  EXPECT_EQ(kop::api::json::to_json(*s.config()), R"({"any":{"thing":[1]}})");
  EXPECT_EQ(kop::api::json::to_json(*s.extra()), R"({"k":"v"})");
  EXPECT_EQ(s.anything()->GetInt(), 7);
  // Declared fields are typed; the rest stays reachable through raw().
  EXPECT_EQ(s.template_().image(), "nginx");
  EXPECT_EQ(kop::api::json::get_int(s.template_().raw(), "replicas"), 2);

  Object w = WidgetBuilder::make("ns", "w");
  auto spec = WidgetBuilder(w).mutable_spec();
  ASSERT_TRUE(spec.set_config_json(R"({"free":["form"]})").ok());
  absl::Status bad = spec.set_anything_json("{nope");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("anything"), absl::string_view::npos) << bad;
  EXPECT_EQ(w.to_json(),
            R"({"apiVersion":"test.kop.dev/v1","kind":"Widget","metadata":{"namespace":"ns",)"
            R"("name":"w"},"spec":{"config":{"free":["form"]}}})");
}

TEST(KopGenTypes, NamesThatAreKeywordsOrNotIdentifiers) {
  Object o =
      widget(R"({"class":"c","namespace":"n","errno":1,"x-request-id":"r","$ref":"#","1st":"one",)"
             R"("raw":"r2","foo":"f","hasFoo":true,"fooBar":"camel","foo_bar":"snake"})");
  auto s = Widget(o).spec();
  EXPECT_EQ(s.class_(), "c");
  EXPECT_EQ(s.namespace_(), "n");
  EXPECT_EQ(s.errno_(), 1);
  EXPECT_EQ(s.x_request_id(), "r");
  EXPECT_EQ(s.ref(), "#");
  EXPECT_EQ(s.f_1st(), "one");
  EXPECT_EQ(s.raw_(), "r2");
  EXPECT_NE(s.raw(), nullptr);  // the view's own raw() is still there
  EXPECT_EQ(s.foo(), "f");
  EXPECT_TRUE(s.has_foo());
  EXPECT_EQ(s.has_foo_(), true);  // the field "hasFoo"
  EXPECT_EQ(s.foo_bar(), "camel");
  EXPECT_EQ(s.foo_bar_(), "snake");
}

TEST(KopGenTypes, OneNamespacePerVersion) {
  Object o = widget(R"({"title":"t"})");
  EXPECT_EQ(gen::types::v2::Widget(o).spec().replicas(), 2);  // v2's default
  EXPECT_EQ(gen::types::v2::Widget::gvk().version, "v2");
  EXPECT_EQ(gen::types::v2::Widget(o).spec().title(), "t");
}

TEST(KopGenHostile, OddNamesDeepNestingAndEmptySchemas) {
  namespace h = gen::hostile::v1;
  auto o = Object::parse(
      R"({"apiVersion":"test.kop.dev/v1","kind":"Oddity","metadata":{"name":"o"},"spec":{)"
      R"("":"empty","with \"quotes\" and \\":"q","caf\u00e9":5,"a.b/c":"a b","while":true,)"
      R"("spec":"lower","Spec":"upper","x":1,"set_x":"s",)"
      R"("node":{"children":[{"node":{"children":[{"free":1}]}}]}}})");
  ASSERT_TRUE(o.ok()) << o.status();
  auto s = h::Oddity(*o).spec();
  EXPECT_EQ(s.field(), "empty");
  EXPECT_EQ(s.with_quotes_and(), "q");
  EXPECT_EQ(s.caf(), 5);
  EXPECT_EQ(s.a_b_c(), h::OdditySpecABC::kAB);
  EXPECT_EQ(s.while_(), true);
  EXPECT_EQ(s.spec(), "lower");
  EXPECT_EQ(s.spec_(), "upper");
  EXPECT_EQ(s.x_(), 1);
  EXPECT_EQ(s.set_x(), "s");
  auto inner = s.node().children()[0].node().children()[0];
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(kop::api::json::get_int(inner, "free"), 1);

  Object absent = h::OddityBuilder::make("o");
  EXPECT_EQ(h::Oddity(absent).spec().with_quotes_and(), "a \"quoted\" \\ default \?\?/");
  // 40 levels down, the default still reads through absent objects.
  auto deep = h::Oddity(absent).spec().deep();
  EXPECT_EQ(deep.level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .level()
                .leaf(),
            "bottom");

  // The empty schema and the version without one: the root's raw JSON only.
  EXPECT_EQ(gen::hostile::v1beta1::Oddity(*o).raw(), &o->doc());
  EXPECT_EQ(gen::hostile::f_2_0_alpha::Oddity::kVersion, "2.0-alpha");
}

}  // namespace
