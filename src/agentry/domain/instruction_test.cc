#include "agentry/domain/instruction.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace agentry {
namespace {

namespace bj = boost::json;

bj::object Obj(const char* text) { return bj::parse(text).as_object(); }

TEST(InstructionIdTest, Pattern) {
  EXPECT_TRUE(ValidateInstructionId("ins_support_init").ok());
  for (const char* bad : {"ins_", "ins", "tol_x", "ins_a/b", "ins_é", ""}) {
    const Status st = ValidateInstructionId(bad);
    EXPECT_EQ(st.code(), ErrorCode::kInvalidRequest) << bad;
    EXPECT_EQ(st.field(), "id") << bad;
  }
  EXPECT_TRUE(ValidateInstructionId("ins_" + std::string(60, 'x')).ok());
  EXPECT_FALSE(ValidateInstructionId("ins_" + std::string(61, 'x')).ok());
}

TEST(InstructionConfigTest, DefaultsAndCanonicalOrder) {
  auto c = NormalizeInstructionConfig(
      Obj(R"({"template":"Hi $session.name","name":"Greeting"})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(bj::serialize(*c),
            R"({"name":"Greeting","description":"","template_type":"velocity",)"
            R"("template":"Hi $session.name"})");
  EXPECT_TRUE(IsVelocity(*c));
  EXPECT_EQ(TemplateText(*c), "Hi $session.name");

  auto plain = NormalizeInstructionConfig(Obj(
      R"({"name":"P","template_type":"plain","template":"","description":"d\nx"})"));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(IsVelocity(*plain));
  EXPECT_EQ(TemplateText(*plain), "");
}

TEST(InstructionConfigTest, RefusesWithTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"template":"x"})", "name"},
      {R"({"name":"","template":"x"})", "name"},
      {R"({"name":"a\nb","template":"x"})", "name"},
      {R"({"name":"n"})", "template"},
      {R"({"name":"n","template":7})", "template"},
      {R"({"name":"n","template":"x","template_type":"jinja"})",
       "template_type"},
      {R"({"name":"n","template":"x","description":5})", "description"},
      {R"({"name":"n","template":"x","extra":1})", "extra"},
      {R"({"name":"n","template":"x","version":2})", "version"},
      {R"({"name":"n","template":"x","created_at":"2026"})", "created_at"},
      {R"({"name":"n","template":"x","id":"ins_a"})", "id"},
  };
  for (const Case& c : cases) {
    auto r = NormalizeInstructionConfig(Obj(c.body));
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest) << c.body;
    EXPECT_EQ(r.status().field(), c.field) << c.body;
  }
}

TEST(InstructionConfigTest, TemplateSizeBound) {
  bj::object o = Obj(R"({"name":"n"})");
  o["template"] = std::string(kMaxInstructionTemplateBytes, 'a');
  EXPECT_TRUE(NormalizeInstructionConfig(o).ok());
  o["template"] = std::string(kMaxInstructionTemplateBytes + 1, 'a');
  auto r = NormalizeInstructionConfig(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "template");
  // Multi-byte text counts bytes, not characters.
  std::string wide;
  for (size_t i = 0; i < kMaxInstructionTemplateBytes / 2 + 1; ++i) {
    wide += "é";
  }
  o["template"] = wide;
  EXPECT_FALSE(NormalizeInstructionConfig(o).ok());
}

}  // namespace
}  // namespace agentry
