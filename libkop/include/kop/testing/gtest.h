// kop/testing/gtest.h: the test kit in GoogleTest tests (the rest of kop/testing needs no gtest).
//
//   KOP_ASSERT_OK(kop::testing::eventually("the copy exists", [&] { ... }));
//   KOP_EXPECT_OK(env.apply(yaml));   // a Status or a StatusOr
//
// On failure they print the expression and the Status as log lines read it ("NotFound:
// configmaps \"copy\" not found", or the eventually() message: what was awaited, how long, the
// last check's error).
//
//   class MirrorTest : public kop::testing::EnvTest {
//     kop::testing::EnvOptions env_options() override { return {.crd_files = {...}}; }
//   };
//   TEST_F(MirrorTest, Copies) { ...env()... }
//
// EnvTest starts an Env in SetUp (a failure to start fails the test) and stops it in TearDown,
// after the test body's locals are gone: what a reconciler captures by reference belongs in the
// fixture (or call env().stop() at the end of the test).
// Threading: gtest's (the test's thread).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "kop/log/log.h"
#include "kop/testing/env.h"
#include "kop/testing/wait.h"

namespace kop::testing {

// The Status of a Status or of a StatusOr.
inline const absl::Status& status_of(const absl::Status& s) {
  return s;
}
template <typename T>
const absl::Status& status_of(const absl::StatusOr<T>& s) {
  return s.status();
}

class EnvTest : public ::testing::Test {
 protected:
  // The options of the Env each test gets. Defaults to EnvOptions{}.
  virtual EnvOptions env_options() { return {}; }

  void SetUp() override {
    auto e = Env::start(env_options());
    ASSERT_TRUE(e.ok()) << "starting the test Env: " << log::status_text(e.status());
    env_ = std::move(*e);
  }
  void TearDown() override {
    if (env_) {
      absl::Status s = env_->stop();
      EXPECT_TRUE(s.ok()) << "stopping the test Env: " << log::status_text(s);
    }
  }
  Env& env() { return *env_; }

 private:
  std::unique_ptr<Env> env_;
};

}  // namespace kop::testing

#define KOP_TESTING_STATUS_CHECK_(expr, fail)                                  \
  do {                                                                         \
    const absl::Status kop_testing_status_ = ::kop::testing::status_of(expr);  \
    if (!kop_testing_status_.ok())                                             \
      fail() << #expr << ": " << ::kop::log::status_text(kop_testing_status_); \
  } while (false)

#define KOP_ASSERT_OK(expr) KOP_TESTING_STATUS_CHECK_(expr, GTEST_FAIL)
#define KOP_EXPECT_OK(expr) KOP_TESTING_STATUS_CHECK_(expr, ADD_FAILURE)
