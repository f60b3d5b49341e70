#include "agentry/domain/tool.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "agentry/common/json.h"

namespace agentry {
namespace {

namespace bj = boost::json;

bj::object Obj(const char* text) { return bj::parse(text).as_object(); }

TEST(ToolIdTest, Pattern) {
  EXPECT_TRUE(ValidateToolId("tol_knowledge_search").ok());
  EXPECT_TRUE(ValidateToolId("tol_A-1").ok());
  for (const char* bad : {"tol_", "tool_x", "tol_a b", "tol_ä", "", "TOL_x"}) {
    Status st = ValidateToolId(bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.field(), "id") << bad;
  }
  EXPECT_FALSE(ValidateToolId("tol_" + std::string(61, 'a')).ok());
  EXPECT_TRUE(ValidateToolId("tol_" + std::string(60, 'a')).ok());
}

TEST(ToolConfigTest, DefaultsAndCanonicalOrder) {
  auto c = NormalizeToolConfig(Obj(R"({"enabled":false,"name":"Search"})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(
      json::Serialize(*c),
      R"({"name":"Search","description":"","parameters":{"type":"object","properties":{}},"enabled":false})");
  auto again = NormalizeToolConfig(*c);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *c);
}

TEST(ToolConfigTest, KeepsSchemaAsGiven) {
  const char* schema =
      R"({"type":"object","properties":{"max_results":{"type":"integer","minimum":1,"description":"how many"},"mode":{"enum":["a","b"]},"tags":{"type":"array","items":{"type":"string"}}},"required":["max_results"]})";
  bj::object in = Obj(R"({"name":"S"})");
  in["parameters"] = bj::parse(schema);
  auto c = NormalizeToolConfig(in);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(json::Serialize(c->at("parameters")), schema);
}

TEST(ToolConfigTest, RefusesEachRuleWithItsField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({})", "name"},
      {R"({"name":""})", "name"},
      {R"({"name":"x","extra":1})", "extra"},
      {R"({"name":"x","id":"tol_a"})", "id"},
      {R"({"name":"x","created_at":"2024-01-01T00:00:00Z"})", "created_at"},
      {R"({"name":"x","enabled":"yes"})", "enabled"},
      {R"({"name":"x","parameters":[]})", "parameters"},
      {R"({"name":"x","parameters":{"type":"string"}})", "parameters.type"},
      {R"({"name":"x","parameters":{"properties":{}}})", "parameters.type"},
      {R"({"name":"x","parameters":{"type":"object","properties":[]}})",
       "parameters.properties"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"a":{"type":"float"}}}})",
       "parameters.properties.a.type"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"a":{"type":[]}}}})",
       "parameters.properties.a.type"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"a":{}},"required":["a","b"]}})",
       "parameters.required[1]"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"a":{}},"required":["a","a"]}})",
       "parameters.required[1]"},
      {R"({"name":"x","parameters":{"type":"object","required":"a"}})",
       "parameters.required"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"t":{"type":"array","items":5}}}})",
       "parameters.properties.t.items"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"m":{"enum":[]}}}})",
       "parameters.properties.m.enum"},
      {R"({"name":"x","parameters":{"type":"object","properties":{"a":7}}})",
       "parameters.properties.a"},
  };
  for (const Case& c : cases) {
    auto r = NormalizeToolConfig(Obj(c.body));
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest) << c.body;
    EXPECT_EQ(r.status().field(), c.field)
        << c.body << " → " << r.status().ToString();
  }
}

TEST(ToolConfigTest, RefusesSchemasNestedTooDeep) {
  std::string schema = R"({"type":"string"})";
  for (int i = 0; i < 20; ++i) {
    schema = R"({"type":"array","items":)" + schema + "}";
  }
  bj::object in = Obj(R"({"name":"x"})");
  in["parameters"] =
      bj::parse(R"({"type":"object","properties":{"deep":)" + schema + "}}");
  auto r = NormalizeToolConfig(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deeper"), std::string::npos);
}

TEST(ArgumentBindingsTest, NamesAndTypesMustFitTheSchema) {
  bj::object schema = Obj(
      R"({"type":"object","properties":{"max_results":{"type":"integer"},"ratio":{"type":"number"},"filter":{"type":"string"},"mode":{"enum":["fast","slow"]},"opt":{"type":["string","null"]},"any":{}}})");
  EXPECT_TRUE(
      CheckArgumentBindings(
          Obj(R"({"max_results":10,"ratio":0.5,"filter":"docs","mode":"fast","opt":null,"any":[1]})"),
          schema, "tools.available[0].argument_bindings")
          .ok());
  EXPECT_TRUE(CheckArgumentBindings(Obj(R"({"max_results":10.0,"ratio":2})"),
                                    schema, "b")
                  .ok());
  struct Case {
    const char* bindings;
    const char* field;
  } cases[] = {
      {R"({"timeout":30})", "b.timeout"},
      {R"({"max_results":"10"})", "b.max_results"},
      {R"({"max_results":1.5})", "b.max_results"},
      {R"({"ratio":"x"})", "b.ratio"},
      {R"({"filter":3})", "b.filter"},
      {R"({"mode":"medium"})", "b.mode"},
      {R"({"opt":5})", "b.opt"},
  };
  for (const Case& c : cases) {
    Status st = CheckArgumentBindings(Obj(c.bindings), schema, "b");
    ASSERT_FALSE(st.ok()) << c.bindings;
    EXPECT_EQ(st.field(), c.field) << c.bindings;
  }
}

}  // namespace
}  // namespace agentry
