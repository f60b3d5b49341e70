#include "agentry/templating/velocity.h"

#include <gtest/gtest.h>

namespace agentry::templating {
namespace {
TEST(VelocityTest, Smoke) {
  auto t = Template::Parse("Hello $x");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
}
}  // namespace
}  // namespace agentry::templating
