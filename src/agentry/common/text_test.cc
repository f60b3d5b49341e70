#include "agentry/common/text.h"

#include <gtest/gtest.h>

namespace agentry {
namespace {

TEST(FoldCaseTest, FoldsAsciiAndBeyond) {
  EXPECT_EQ(FoldCase("Customer SUPPORT"), "customer support");
  EXPECT_EQ(FoldCase("\xc3\x84rger"), "\xc3\xa4rger");          // Ärger
  EXPECT_EQ(FoldCase("\xce\xa9MEGA"), "\xcf\x89mega");          // ΩMEGA
  EXPECT_EQ(FoldCase("\xd0\x96\xd0\x96"), "\xd0\xb6\xd0\xb6");  // ЖЖ
  EXPECT_EQ(FoldCase("\xf0\x9f\xa4\x96 Bot"), "\xf0\x9f\xa4\x96 bot");
}

TEST(FoldCaseTest, KeepsInvalidBytes) {
  EXPECT_EQ(FoldCase("A\xffZ"), "a\xffz");
  EXPECT_EQ(FoldCase(""), "");
}

}  // namespace
}  // namespace agentry
