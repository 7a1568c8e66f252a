// Golden files: for each tests/testdata/ingress/golden/<case>/input.yaml, the rendered
// proxy Config must equal expected.json byte for byte, and the model's description (routes,
// clusters, statuses, events) expected.txt. The input may write "@cert:NAME" / "@key:NAME" for
// the base64 of tests/testdata/ingress/certs/NAME.{crt,key}.
// Regenerate after an intended change with KOP_UPDATE_GOLDEN=1 and review the diff.
#include <absl/strings/escaping.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_util.h"

namespace kop::ingress {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(KOP_INGRESS_TESTDATA) + "/golden";

std::string expand(std::string text) {
  for (const char* kind : {"cert", "key"}) {
    std::string marker = std::string("@") + kind + ":";
    size_t pos;
    while ((pos = text.find(marker)) != std::string::npos) {
      size_t end = text.find_first_of(" \n\"", pos);
      std::string name = text.substr(pos + marker.size(), end - pos - marker.size());
      std::string file = std::string(KOP_INGRESS_TESTDATA) + "/certs/" + name +
                         (std::string(kind) == "cert" ? ".crt" : ".key");
      text.replace(pos, end - pos, absl::Base64Escape(testing::read_file(file)));
    }
  }
  return text;
}

RenderOptions golden_options() {
  RenderOptions o;
  o.http_address = {"0.0.0.0", 8080};
  o.https_address = proxy::SocketAddress{"0.0.0.0", 8443};
  o.admin.address = {"127.0.0.1", 9001};
  return o;
}

void check_or_update(const std::string& path, const std::string& got) {
  if (std::getenv("KOP_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << got;
    return;
  }
  EXPECT_EQ(testing::read_file(path), got)
      << "golden file " << path << " differs (KOP_UPDATE_GOLDEN=1 regenerates)";
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kDir))
    if (e.is_directory()) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RenderGolden, EveryCaseMatches) {
  auto names = cases();
  ASSERT_GE(names.size(), 3u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    std::string input = expand(testing::read_file(kDir + "/" + name + "/input.yaml"));
    Model model = build_model(testing::snapshot_of(input), Options{.ingress_class = "contour"});
    proxy::Config config = render(model, golden_options());
    EXPECT_TRUE(proxy::validate(config).ok()) << proxy::validate(config);
    check_or_update(kDir + "/" + name + "/expected.json", proxy::to_json(config));
    check_or_update(kDir + "/" + name + "/expected.txt", describe(model));
  }
}

TEST(RenderGolden, OutputDoesNotDependOnInputOrder) {
  for (const auto& name : cases()) {
    SCOPED_TRACE(name);
    std::string input = expand(testing::read_file(kDir + "/" + name + "/input.yaml"));
    Snapshot s = testing::snapshot_of(input);
    Options options{.ingress_class = "contour"};
    std::string want = proxy::to_json(render(build_model(s, options), golden_options()));
    std::mt19937 rng(42);
    for (int i = 0; i < 5; ++i) {
      for (auto* v : {&s.ingresses, &s.services, &s.endpoint_slices, &s.secrets, &s.ingress_routes})
        std::shuffle(v->begin(), v->end(), rng);
      EXPECT_EQ(proxy::to_json(render(build_model(s, options), golden_options())), want);
    }
  }
}

}  // namespace
}  // namespace kop::ingress
