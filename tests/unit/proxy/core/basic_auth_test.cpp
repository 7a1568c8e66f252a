// Basic authentication in the proxy core: the htpasswd hash schemes (known vectors from
// openssl passwd, Python's crypt and ingress-nginx's documented example), the refused ones, the
// Authorization field's parsing, the cache of verified credentials, and the route's
// basic_auth parsed, validated, rendered back and compiled.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include <absl/strings/escaping.h>

#include "kop/proxy/basic_auth.h"
#include "kop/proxy/config.h"
#include "kop/proxy/password_hash.h"
#include "kop/proxy/route_table.h"
#include "test_util.h"

namespace kop::proxy {
namespace {

// ingress-nginx's basic auth example (docs/examples/auth/basic): user foo, password bar.
constexpr std::string_view kApr1Bar = "$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0";
constexpr std::string_view kShaBar = "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=";
constexpr std::string_view kShaBaz = "{SHA}u+lgol6jEdIdQGaek98gA7qbkKI=";  // password baz
// crypt(3) vectors for "s3cret" (bcrypt cost 4 keeps the test fast).
constexpr std::string_view kBcrypt2b =
    "$2b$04$vWlX6QEH6dZbTlfzv8itw.weMJLMmqD57i4ySpLkahlMpCa2RnPw2";
constexpr std::string_view kBcrypt2y =
    "$2y$04$abcdefghijklmnopqrstuuLZYjhNQAOdpbzt4WxWlUHjv1wsyH5DG";
constexpr std::string_view kSha256Crypt =
    "$5$rounds=1000$abcdefgh$n8nZhSnM6g4q4nRlzPasS.1BNBdVFR97b0op5SkmOM9";
constexpr std::string_view kSha512Crypt =
    "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/"
    "Iny8S8uF3fVWTMuC1";

std::string basic(std::string_view user_password) {
  std::string out = "Basic ";
  std::string b64;
  absl::Base64Escape(absl::string_view(user_password.data(), user_password.size()), &b64);
  return out + b64;
}

TEST(PasswordHash, EachSchemeMatchesItsPasswordOnly) {
  for (std::string_view h : {kApr1Bar, kShaBar}) {
    EXPECT_TRUE(password_matches(h, "bar")) << h;
    EXPECT_FALSE(password_matches(h, "baz")) << h;
    EXPECT_FALSE(password_matches(h, "")) << h;
  }
  for (std::string_view h : {kBcrypt2b, kBcrypt2y, kSha256Crypt, kSha512Crypt}) {
    EXPECT_TRUE(password_matches(h, "s3cret")) << h;
    EXPECT_FALSE(password_matches(h, "s3creT")) << h;
    EXPECT_FALSE(password_matches(h, std::string_view("s3cret\0x", 8))) << h;
  }
  // {SSHA}: base64(SHA-1("bar" + "salt") + "salt").
  EXPECT_TRUE(password_matches("{SSHA}aTajYe2SJsRWrbKsIV9ZttXLp9RzYWx0", "bar"));
  EXPECT_FALSE(password_matches("{SSHA}aTajYe2SJsRWrbKsIV9ZttXLp9RzYWx0", "baz"));
  // A tampered apr1 hash (last character) does not match.
  std::string tampered(kApr1Bar);
  tampered.back() = '1';
  EXPECT_FALSE(password_matches(tampered, "bar"));
}

TEST(PasswordHash, SchemesAndRefusals) {
  EXPECT_EQ(*hash_scheme(kBcrypt2b), HashScheme::kBcrypt);
  EXPECT_EQ(*hash_scheme(kSha512Crypt), HashScheme::kShaCrypt);
  EXPECT_EQ(*hash_scheme(kApr1Bar), HashScheme::kApr1);
  EXPECT_EQ(*hash_scheme(kShaBar), HashScheme::kSha1);
  EXPECT_TRUE(slow_hash_scheme(HashScheme::kBcrypt));
  EXPECT_FALSE(slow_hash_scheme(HashScheme::kApr1));
  auto des = hash_scheme("E5BrlrQ5IXYK2");
  ASSERT_FALSE(des.ok());
  EXPECT_NE(des.status().message().find("DES"), std::string_view::npos);
  EXPECT_FALSE(password_matches("E5BrlrQ5IXYK2", "whatever"));
  auto plain = hash_scheme("{PLAIN}bar");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("plain"), std::string_view::npos);
  EXPECT_FALSE(password_matches("{PLAIN}bar", "bar"));
  auto md5crypt = hash_scheme("$1$abc$def");
  ASSERT_FALSE(md5crypt.ok());
  EXPECT_NE(md5crypt.status().message().find("\"$1$\""), std::string_view::npos);
  EXPECT_FALSE(hash_scheme("bar").ok());
  // Refusals never quote the hash.
  EXPECT_EQ(des.status().message().find("E5Brl"), std::string_view::npos);
}

std::unique_ptr<BasicAuth> auth_of(std::vector<BasicAuthUser> users, std::string realm = "R") {
  auto a = BasicAuth::compile(BasicAuthConfig{std::move(realm), std::move(users)});
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

TEST(BasicAuth, CheapHashesAreCheckedAtOnce) {
  auto auth = auth_of({{"foo", std::string(kApr1Bar)}, {"sha", std::string(kShaBar)}});
  BasicAuth::Attempt a1, a2, a3, a4, a5, a6;
  EXPECT_EQ(auth->check(basic("foo:bar"), a1), BasicAuth::Outcome::kAllow);
  EXPECT_EQ(auth->check(basic("sha:bar"), a2), BasicAuth::Outcome::kAllow);
  EXPECT_EQ(auth->check(basic("foo:baz"), a3), BasicAuth::Outcome::kDeny);
  EXPECT_EQ(auth->check(basic("nobody:bar"), a4), BasicAuth::Outcome::kDeny);
  // The scheme is case-insensitive; extra spaces are tolerated.
  EXPECT_EQ(auth->check("bAsIc  " + basic("foo:bar").substr(6) + " ", a5),
            BasicAuth::Outcome::kAllow);
  for (std::string_view bad : {"", "Basic", "Bearer abc", "Basic !!!!", "Digest username=\"foo\""})
    EXPECT_EQ(auth->check(bad, a6), BasicAuth::Outcome::kDeny) << bad;
  // No colon: a user without a password is refused.
  EXPECT_EQ(auth->check(basic("foo"), a6), BasicAuth::Outcome::kDeny);
  EXPECT_EQ(auth->challenge_field(), "www-authenticate: Basic realm=\"R\"\r\n");
}

TEST(BasicAuth, SlowHashesAreVerifiedApartThenCached) {
  auto auth = auth_of({{"ann", std::string(kBcrypt2y)}, {"bob", std::string(kSha512Crypt)}});
  BasicAuth::Attempt first;
  ASSERT_EQ(auth->check(basic("ann:s3cret"), first), BasicAuth::Outcome::kVerify);
  EXPECT_EQ(first.password, "s3cret");
  EXPECT_TRUE(auth->verify(first));
  BasicAuth::Attempt again;
  EXPECT_EQ(auth->check(basic("ann:s3cret"), again), BasicAuth::Outcome::kAllow);
  // A wrong password is never cached: each try costs a verification.
  for (int i = 0; i < 2; ++i) {
    BasicAuth::Attempt wrong;
    ASSERT_EQ(auth->check(basic("ann:guess"), wrong), BasicAuth::Outcome::kVerify);
    EXPECT_FALSE(auth->verify(wrong));
  }
  // Another user with the first user's password is not let in by the cache.
  BasicAuth::Attempt other;
  ASSERT_EQ(auth->check(basic("bob:s3cret"), other), BasicAuth::Outcome::kVerify);
  EXPECT_TRUE(auth->verify(other));
  // An unknown user costs a slow check as well (the time to a 401 does not tell which names
  // exist) and is denied, even with the password of the user whose hash is the decoy.
  for (std::string_view unknown : {"nobody:guess", "nobody:s3cret"}) {
    BasicAuth::Attempt u;
    ASSERT_EQ(auth->check(basic(unknown), u), BasicAuth::Outcome::kVerify) << unknown;
    EXPECT_FALSE(auth->verify(u)) << unknown;
    BasicAuth::Attempt retry;
    EXPECT_EQ(auth->check(basic(unknown), retry), BasicAuth::Outcome::kVerify) << unknown;
  }
  // A new compiled route (a changed Secret) starts with an empty cache.
  auto fresh = auth_of({{"ann", std::string(kBcrypt2y)}});
  BasicAuth::Attempt later;
  EXPECT_EQ(fresh->check(basic("ann:s3cret"), later), BasicAuth::Outcome::kVerify);
}

TEST(BasicAuth, AConnectionRecallsOnlyWhatThisBasicAuthAllowedLast) {
  auto auth = auth_of({{"foo", std::string(kApr1Bar)}, {"ann", std::string(kBcrypt2y)}});
  BasicAuth::Remembered conn;
  EXPECT_FALSE(auth->recalled(conn, ""));
  EXPECT_FALSE(auth->recalled(conn, basic("foo:bar")));
  BasicAuth::Attempt a1, a2, a3;
  ASSERT_EQ(auth->check(basic("foo:bar"), a1, &conn), BasicAuth::Outcome::kAllow);
  EXPECT_TRUE(auth->recalled(conn, basic("foo:bar")));
  // The very bytes only: another password, spacing or scheme case is checked in full.
  EXPECT_FALSE(auth->recalled(conn, basic("foo:baz")));
  EXPECT_FALSE(auth->recalled(conn, basic("foo:bar") + " "));
  EXPECT_FALSE(auth->recalled(conn, "basic " + basic("foo:bar").substr(6)));
  // A denial or a verification still to come changes nothing remembered.
  EXPECT_EQ(auth->check(basic("foo:baz"), a2, &conn), BasicAuth::Outcome::kDeny);
  EXPECT_EQ(auth->check(basic("ann:s3cret"), a3, &conn), BasicAuth::Outcome::kVerify);
  EXPECT_TRUE(auth->recalled(conn, basic("foo:bar")));
  EXPECT_FALSE(auth->recalled(conn, basic("ann:s3cret")));
  // The same users compiled again (any new config) recall nothing of the old route's, and a
  // changed password is refused on the connection that used the old one.
  auto same = auth_of({{"foo", std::string(kApr1Bar)}});
  EXPECT_FALSE(same->recalled(conn, basic("foo:bar")));
  auto changed = auth_of({{"foo", std::string(kShaBaz)}});
  BasicAuth::Attempt old_password, new_password;
  EXPECT_EQ(changed->check(basic("foo:bar"), old_password, &conn), BasicAuth::Outcome::kDeny);
  EXPECT_FALSE(changed->recalled(conn, basic("foo:bar")));
  EXPECT_EQ(changed->check(basic("foo:baz"), new_password, &conn), BasicAuth::Outcome::kAllow);
  EXPECT_TRUE(changed->recalled(conn, basic("foo:baz")));
  EXPECT_FALSE(auth->recalled(conn, basic("foo:bar")));  // one value per connection: the last
}

TEST(BasicAuth, RealmIsQuotedAndBadHashesAreNamedByUser) {
  auto auth = auth_of({}, R"(a "b" \c)");
  EXPECT_EQ(auth->challenge_field(), "www-authenticate: Basic realm=\"a \\\"b\\\" \\\\c\"\r\n");
  BasicAuth::Attempt a;
  EXPECT_EQ(auth->check(basic("foo:bar"), a), BasicAuth::Outcome::kDeny);
  auto bad = BasicAuth::compile(BasicAuthConfig{"", {{"jane", "E5BrlrQ5IXYK2"}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("user \"jane\""), std::string_view::npos);
}

std::string config_with_route(std::string_view route_fields) {
  return std::string(R"({"version":"kop.proxy/v1","clusters":[{"name":"c"}],)") +
         R"("virtual_hosts":[{"name":"v","domains":["*"],"routes":[{"name":"r",)" +
         std::string(route_fields) + "}]}]}";
}

TEST(RouteBasicAuth, ParsedRenderedAndCompiled) {
  std::string text = config_with_route(
      R"("forward":{"cluster":"c"},"basic_auth":{"realm":"Authentication Required - foo",)"
      R"("users":[{"name":"foo","hash":"$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0"}]})");
  auto c = parse_config(text);
  ASSERT_TRUE(c.ok()) << c.status();
  const RouteConfig& r = c->virtual_hosts[0]->routes[0];
  ASSERT_TRUE(r.basic_auth);
  EXPECT_EQ(r.basic_auth->realm, "Authentication Required - foo");
  ASSERT_EQ(r.basic_auth->users.size(), 1u);
  auto again = parse_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *c);
  // The admin dump shows the route, never the hash.
  std::string dump = to_json(*c, false, Secrets::kRedact);
  EXPECT_EQ(dump.find("$apr1$"), std::string::npos) << dump;
  EXPECT_NE(dump.find(R"({"name":"foo","hash":"<redacted>"})"), std::string::npos) << dump;
  auto table = testing::compile_or_die(text);
  ASSERT_TRUE(table);
  const Route& route = table->virtual_hosts()[0]->routes[0];
  ASSERT_TRUE(route.basic_auth);
  BasicAuth::Attempt a;
  EXPECT_EQ(route.basic_auth->check(basic("foo:bar"), a), BasicAuth::Outcome::kAllow);
  auto none = testing::compile_or_die(config_with_route(R"("forward":{"cluster":"c"})"));
  EXPECT_FALSE(none->virtual_hosts()[0]->routes[0].basic_auth);
}

TEST(RouteBasicAuth, BadValuesNameTheirPath) {
  auto validated = [](std::string_view fields) {
    auto c = parse_config(config_with_route(fields));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? validate(*c) : c.status();
  };
  auto des = validated(
      R"("forward":{"cluster":"c"},"basic_auth":{"users":[{"name":"a","hash":"E5BrlrQ5IXYK2"}]})");
  EXPECT_NE(des.message().find("routes[0].basic_auth.users[0].hash"), std::string_view::npos)
      << des;
  EXPECT_EQ(des.message().find("E5Brl"), std::string_view::npos) << des;
  auto dup =
      validated(R"("forward":{"cluster":"c"},"basic_auth":{"users":[{"name":"a","hash":"{SHA}x"},)"
                R"({"name":"a","hash":"{SHA}y"}]})");
  EXPECT_NE(dup.message().find("users[1].name"), std::string_view::npos) << dup;
  auto colon = validated(
      R"("forward":{"cluster":"c"},"basic_auth":{"users":[{"name":"a:b","hash":"{SHA}x"}]})");
  EXPECT_NE(colon.message().find("users[0].name"), std::string_view::npos) << colon;
  auto redirect = validated(R"("redirect":{"host":"a.example.com"},"basic_auth":{})");
  EXPECT_NE(redirect.message().find("routes[0].basic_auth"), std::string_view::npos) << redirect;
  auto realm = validated(R"("forward":{"cluster":"c"},"basic_auth":{"realm":"a\nb"})");
  EXPECT_NE(realm.message().find("basic_auth.realm"), std::string_view::npos) << realm;
  auto unknown =
      parse_config(config_with_route(R"("forward":{"cluster":"c"},"basic_auth":{"x":1})"));
  EXPECT_FALSE(unknown.ok());
}

}  // namespace
}  // namespace kop::proxy
