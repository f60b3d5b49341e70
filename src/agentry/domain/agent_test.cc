#include "agentry/domain/agent.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/json.h"
#include "agentry/domain/test_util.h"

namespace agentry {
namespace {

namespace bj = boost::json;

using testing_util::ArrayOf;
using testing_util::Keys;
using testing_util::Parse;
using testing_util::Repeat;

// Normalizes `text`, which must be valid; returns the canonical document.
bj::object Normalize(std::string_view text) {
  return testing_util::NormalizeWith(NormalizeAgentConfig, text);
}

std::string Canonical(std::string_view text) {
  return json::Serialize(Normalize(text));
}

// `n` members "k0":…, "k1":… inside braces.
std::string ObjectOf(size_t n, std::string_view value) {
  std::string out = "{";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += "\"k" + std::to_string(i) + "\":" + std::string(value);
  }
  return out + "}";
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A configuration holding `name` and the given members.
std::string With(std::string_view members) {
  return "{\"name\":\"x\"," + std::string(members) + "}";
}

// The example of DESIGN §5 with the values of the Vectara seed: every member
// given, already in canonical order and form.
constexpr std::string_view kFullExample = R"({
  "name": "Customer Support Agent",
  "description": "AI agent specialized in handling customer support inquiries",
  "instructions": "You are a support agent.\nBe concise.\tAlways polite.",
  "emoji_icon": "🤖",
  "model": {"name": "gpt-4",
            "parameters": {"temperature": 0.1, "max_tokens": 1500, "top_p": 0.9}},
  "capabilities": {"web_search": true, "image_generation": false,
                   "code_interpreter": false, "canvas": true,
                   "extended_thinking": false, "data_analyst": false},
  "conversation_starters": ["How do I reset my password?", "Where is my order?"],
  "input_type": "STRUCTURED",
  "input_fields": [
    {"slug": "topic", "type": "text", "label": "Topic", "description": "",
     "required": true, "order": 0, "options": [], "file_types": null},
    {"slug": "priority", "type": "select", "label": "Priority",
     "description": "How urgent\nthe request is", "required": false,
     "order": 5, "options": ["low", "high"], "file_types": null},
    {"slug": "screenshot", "type": "file", "label": "", "description": "",
     "required": false, "order": 2, "options": [],
     "file_types": ["png", "jpg"]}],
  "actions": [{"action_id": "act_refund", "requires_confirmation": true},
              {"action_id": "act_lookup", "requires_confirmation": false}],
  "attachments": ["att_terms"],
  "knowledge_folder_ids": ["kf_support", "kf_billing"],
  "tools": {"mode": "native", "available": [
    {"id": "tol_knowledge_search",
     "argument_bindings": {"max_results": 10, "corpus_filter": "support_docs"}},
    {"id": "tol_ticket_creator"},
    {"id": "tol_crm_lookup", "argument_bindings": {"timeout": 30}}]},
  "first_step": {"type": "conversational", "instructions": [
    {"type": "reference", "id": "ins_customer_support_init", "version": 2},
    {"type": "reference", "id": "ins_latest"},
    {"type": "inline", "name": "Session Context", "template_type": "velocity",
     "template": "Current session priority: ${session.priority}. Handle accordingly."}],
    "output_parser": {"type": "default"}},
  "metadata": {"department": "customer_service", "version": "1.0.0",
               "owner": "support-team", "cost_center": "customer_operations",
               "tier": 2, "beta": true, "weight": -0.5},
  "enabled": false
})";

constexpr std::string_view kMinimalCanonical =
    R"({"name":"x","description":"","instructions":"","emoji_icon":"",)"
    R"("model":{"name":"default","parameters":{}},)"
    R"("capabilities":{"web_search":false,"image_generation":false,)"
    R"("code_interpreter":false,"canvas":false,"extended_thinking":false,)"
    R"("data_analyst":false},"conversation_starters":[],"input_type":"PROMPT",)"
    R"("input_fields":[],"actions":[],"attachments":[],)"
    R"("knowledge_folder_ids":[],"tools":{"mode":"native","available":[]},)"
    R"("first_step":{"type":"conversational","instructions":[],)"
    R"("output_parser":{"type":"default"}},"metadata":{},"enabled":true})";

TEST(AgentConfigTest, FullExampleIsAlreadyCanonical) {
  const bj::object input = Parse(kFullExample);
  Result<bj::object> out = NormalizeAgentConfig(input);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // Same members, same values, same order at every depth.
  EXPECT_EQ(json::Serialize(*out), json::Serialize(input));
  EXPECT_EQ(*out, input);
}

TEST(AgentConfigTest, MinimalGetsEveryDefault) {
  EXPECT_EQ(Canonical(R"({"name":"x"})"), kMinimalCanonical);
}

TEST(AgentConfigTest, NullMembersTakeTheirDefaults) {
  EXPECT_EQ(Canonical(R"({"name":"x","description":null,"instructions":null,
      "emoji_icon":null,"model":null,"capabilities":null,
      "conversation_starters":null,"input_type":null,"input_fields":null,
      "actions":null,"attachments":null,"knowledge_folder_ids":null,
      "tools":null,"first_step":null,"metadata":null,"enabled":null})"),
            kMinimalCanonical);
  // Empty objects are filled in the same way.
  EXPECT_EQ(Canonical(R"({"name":"x","capabilities":{},"tools":{},
      "first_step":{"output_parser":{}},"metadata":{}})"),
            kMinimalCanonical);
}

TEST(AgentConfigTest, TopLevelMembersFollowTheCanonicalList) {
  const bj::object out = Normalize(R"({"name":"x"})");
  std::vector<std::string> expected(std::begin(kAgentConfigFields),
                                    std::end(kAgentConfigFields));
  EXPECT_EQ(Keys(out), expected);
}

TEST(AgentConfigTest, MemberOrderIsCanonicalWhateverTheInputOrder) {
  // kFullExample with the members of every object in reverse order.
  const std::string shuffled = R"({
    "enabled": false,
    "metadata": {"department": "customer_service", "version": "1.0.0",
                 "owner": "support-team", "cost_center": "customer_operations",
                 "tier": 2, "beta": true, "weight": -0.5},
    "first_step": {"output_parser": {"type": "default"}, "instructions": [
      {"version": 2, "id": "ins_customer_support_init", "type": "reference"},
      {"id": "ins_latest", "type": "reference"},
      {"template": "Current session priority: ${session.priority}. Handle accordingly.",
       "template_type": "velocity", "name": "Session Context", "type": "inline"}],
      "type": "conversational"},
    "tools": {"available": [
      {"argument_bindings": {"max_results": 10, "corpus_filter": "support_docs"},
       "id": "tol_knowledge_search"},
      {"id": "tol_ticket_creator"},
      {"argument_bindings": {"timeout": 30}, "id": "tol_crm_lookup"}],
      "mode": "native"},
    "knowledge_folder_ids": ["kf_support", "kf_billing"],
    "attachments": ["att_terms"],
    "actions": [{"requires_confirmation": true, "action_id": "act_refund"},
                {"requires_confirmation": false, "action_id": "act_lookup"}],
    "input_fields": [
      {"file_types": null, "options": [], "order": 0, "required": true,
       "description": "", "label": "Topic", "type": "text", "slug": "topic"},
      {"file_types": null, "options": ["low", "high"], "order": 5,
       "required": false, "description": "How urgent\nthe request is",
       "label": "Priority", "type": "select", "slug": "priority"},
      {"file_types": ["png", "jpg"], "options": [], "order": 2,
       "required": false, "description": "", "label": "", "type": "file",
       "slug": "screenshot"}],
    "input_type": "STRUCTURED",
    "conversation_starters": ["How do I reset my password?", "Where is my order?"],
    "capabilities": {"data_analyst": false, "extended_thinking": false,
                     "canvas": true, "code_interpreter": false,
                     "image_generation": false, "web_search": true},
    "model": {"parameters": {"top_p": 0.9, "max_tokens": 1500, "temperature": 0.1},
              "name": "gpt-4"},
    "emoji_icon": "🤖",
    "instructions": "You are a support agent.\nBe concise.\tAlways polite.",
    "description": "AI agent specialized in handling customer support inquiries",
    "name": "Customer Support Agent"
  })";
  EXPECT_EQ(Canonical(shuffled), json::Serialize(Parse(kFullExample)));

  const bj::object out = Normalize(shuffled);
  EXPECT_EQ(Keys(out.at("model").as_object()),
            (std::vector<std::string>{"name", "parameters"}));
  EXPECT_EQ(Keys(out.at("model").at("parameters").as_object()),
            (std::vector<std::string>{"temperature", "max_tokens", "top_p"}));
  EXPECT_EQ(Keys(out.at("capabilities").as_object()),
            (std::vector<std::string>{"web_search", "image_generation",
                                      "code_interpreter", "canvas",
                                      "extended_thinking", "data_analyst"}));
  EXPECT_EQ(
      Keys(out.at("input_fields").at(0).as_object()),
      (std::vector<std::string>{"slug", "type", "label", "description",
                                "required", "order", "options", "file_types"}));
  EXPECT_EQ(
      Keys(out.at("first_step").as_object()),
      (std::vector<std::string>{"type", "instructions", "output_parser"}));
  EXPECT_EQ(
      Keys(out.at("first_step").at("instructions").at(2).as_object()),
      (std::vector<std::string>{"type", "name", "template_type", "template"}));
  // Metadata and bindings are user data: their order is the input's.
  EXPECT_EQ(
      Keys(out.at("metadata").as_object()),
      (std::vector<std::string>{"department", "version", "owner", "cost_center",
                                "tier", "beta", "weight"}));
}

TEST(AgentConfigTest, NormalizeIsIdempotent) {
  const std::vector<std::string> inputs = {
      R"({"name":"x"})",
      std::string(kFullExample),
      R"({"enabled":false,"name":"y","model":{"parameters":{"top_p":1,
          "temperature":0},"name":"m"},"capabilities":{"canvas":true}})",
      R"({"name":"z","input_fields":[{"type":"t","slug":"b"},
          {"slug":"a","type":"t","order":7,"file_types":[]}],
          "first_step":{"instructions":[{"type":"inline","name":"n",
          "template":""},{"id":"ins_1","type":"reference","version":3.0}]},
          "tools":{"available":[{"id":"tol_a","argument_bindings":{}},
          {"id":"tol_b","argument_bindings":null}]},
          "model":{"name":"m","parameters":{"max_tokens":1e3}}})",
      R"({"name":"w","metadata":{"a":1,"b":1.5,"c":"s","d":false,
          "e":18446744073709551615}})",
  };
  for (const std::string& text : inputs) {
    SCOPED_TRACE(text);
    const bj::object once = Normalize(text);
    Result<bj::object> twice = NormalizeAgentConfig(once);
    ASSERT_TRUE(twice.ok()) << twice.status().ToString();
    EXPECT_EQ(json::Serialize(*twice), json::Serialize(once));
    EXPECT_EQ(*twice, once);
  }
}

TEST(AgentConfigTest, NestedDefaultsAreFilled) {
  const bj::object out = Normalize(R"({"name":"x",
      "model":{"name":"gpt-4"},
      "capabilities":{"code_interpreter":true},
      "input_fields":[{"slug":"a","type":"text"},{"slug":"b","type":"file"},
                      {"slug":"c","type":"text","order":0}],
      "actions":[{"action_id":"act_1"}],
      "tools":{"available":[{"id":"tol_1"},{"id":"tol_2",
               "argument_bindings":{"q":{"nested":[1,2]}}}]},
      "first_step":{"instructions":[{"type":"reference","id":"ins_a"},
          {"type":"inline","name":"N","template":"T"}]}})");
  EXPECT_EQ(json::Serialize(out.at("model")),
            R"({"name":"gpt-4","parameters":{}})");
  EXPECT_EQ(json::Serialize(out.at("capabilities")),
            R"({"web_search":false,"image_generation":false,)"
            R"("code_interpreter":true,"canvas":false,)"
            R"("extended_thinking":false,"data_analyst":false})");
  EXPECT_EQ(json::Serialize(out.at("input_fields")),
            R"([{"slug":"a","type":"text","label":"","description":"",)"
            R"("required":false,"order":0,"options":[],"file_types":null},)"
            R"({"slug":"b","type":"file","label":"","description":"",)"
            R"("required":false,"order":1,"options":[],"file_types":null},)"
            R"({"slug":"c","type":"text","label":"","description":"",)"
            R"("required":false,"order":0,"options":[],"file_types":null}])");
  EXPECT_EQ(json::Serialize(out.at("actions")),
            R"([{"action_id":"act_1","requires_confirmation":false}])");
  EXPECT_EQ(json::Serialize(out.at("tools")),
            R"({"mode":"native","available":[{"id":"tol_1"},)"
            R"({"id":"tol_2","argument_bindings":{"q":{"nested":[1,2]}}}]})");
  EXPECT_EQ(json::Serialize(out.at("first_step")),
            R"({"type":"conversational","instructions":[)"
            R"({"type":"reference","id":"ins_a"},)"
            R"({"type":"inline","name":"N","template_type":"velocity",)"
            R"("template":"T"}],"output_parser":{"type":"default"}})");
}

TEST(AgentConfigTest, NestedNullsAreAbsent) {
  const bj::object out = Normalize(R"({"name":"x",
      "model":{"name":"m","parameters":{"temperature":null,"max_tokens":5,
                                        "top_p":null}},
      "capabilities":{"canvas":null,"web_search":true},
      "input_fields":[{"slug":"a","type":"t","label":null,"description":null,
                       "required":null,"order":null,"options":null,
                       "file_types":null}],
      "actions":[{"action_id":"a","requires_confirmation":null}],
      "tools":{"mode":null,"available":[{"id":"tol_1",
               "argument_bindings":null}]},
      "first_step":{"type":null,"instructions":[
          {"type":"reference","id":"ins_a","version":null},
          {"type":"inline","name":"N","template_type":null,"template":""}],
          "output_parser":null}})");
  EXPECT_EQ(json::Serialize(out.at("model")),
            R"({"name":"m","parameters":{"max_tokens":5}})");
  EXPECT_FALSE(out.at("capabilities").at("canvas").as_bool());
  EXPECT_TRUE(out.at("capabilities").at("web_search").as_bool());
  EXPECT_EQ(json::Serialize(out.at("input_fields")),
            R"([{"slug":"a","type":"t","label":"","description":"",)"
            R"("required":false,"order":0,"options":[],"file_types":null}])");
  EXPECT_FALSE(out.at("actions").at(0).at("requires_confirmation").as_bool());
  EXPECT_EQ(json::Serialize(out.at("tools")),
            R"({"mode":"native","available":[{"id":"tol_1"}]})");
  EXPECT_EQ(json::Serialize(out.at("first_step")),
            R"({"type":"conversational","instructions":[)"
            R"({"type":"reference","id":"ins_a"},)"
            R"({"type":"inline","name":"N","template_type":"velocity",)"
            R"("template":""}],"output_parser":{"type":"default"}})");
}

TEST(AgentConfigTest, ParametersKeepOnlyGivenMembersInCanonicalOrder) {
  EXPECT_EQ(json::Serialize(Normalize(With(R"("model":{"name":"m","parameters":{
                    "top_p":0.5}})"))
                                .at("model")),
            R"({"name":"m","parameters":{"top_p":0.5}})");
  EXPECT_EQ(json::Serialize(Normalize(With(R"("model":{"name":"m","parameters":{
                    "top_p":0.5,"temperature":0.25}})"))
                                .at("model")
                                .at("parameters")),
            R"({"temperature":0.25,"top_p":0.5})");
}

TEST(AgentConfigTest, NumbersHaveOneCanonicalKind) {
  const bj::object out = Normalize(With(R"(
      "model":{"name":"m","parameters":{"temperature":1,"max_tokens":1500.0,
                                        "top_p":0}},
      "input_fields":[{"slug":"a","type":"t","order":3.0}],
      "first_step":{"instructions":[{"type":"reference","id":"ins_a",
                                     "version":2.0}]})"));
  const bj::object& params = out.at("model").at("parameters").as_object();
  // Fractions are doubles, integers are int64, however they were written.
  ASSERT_TRUE(params.at("temperature").is_double());
  EXPECT_EQ(params.at("temperature").get_double(), 1.0);
  ASSERT_TRUE(params.at("top_p").is_double());
  EXPECT_EQ(params.at("top_p").get_double(), 0.0);
  ASSERT_TRUE(params.at("max_tokens").is_int64());
  EXPECT_EQ(params.at("max_tokens").get_int64(), 1500);
  ASSERT_TRUE(out.at("input_fields").at(0).at("order").is_int64());
  EXPECT_EQ(out.at("input_fields").at(0).at("order").get_int64(), 3);
  const bj::value& version =
      out.at("first_step").at("instructions").at(0).at("version");
  ASSERT_TRUE(version.is_int64());
  EXPECT_EQ(version.get_int64(), 2);
  // 1 and 1.0 normalize to the same document.
  EXPECT_EQ(Canonical(With(R"("model":{"name":"m","parameters":
                                {"temperature":1,"max_tokens":7}})")),
            Canonical(With(R"("model":{"name":"m","parameters":
                                {"temperature":1.0,"max_tokens":7.0}})")));
}

TEST(AgentConfigTest, BoundariesAreAccepted) {
  const std::vector<std::string> ok = {
      R"({"name":")" + Repeat("a", 64) + "\"}",
      // Lengths count code points, not bytes.
      R"({"name":")" + Repeat("é", 64) + "\"}",
      With(R"("emoji_icon":")" + Repeat("🤖", 16) + "\""),
      With(R"("description":")" + Repeat("d", 256) + "\""),
      With(R"("instructions":")" + Repeat("i", 16384) + "\""),
      With(R"("model":{"name":")" + Repeat("m", 64) +
           R"(","parameters":{"temperature":0,"max_tokens":1,"top_p":1}})"),
      With(R"("model":{"name":"m","parameters":{"temperature":1,)"
           R"("max_tokens":1000000,"top_p":0}})"),
      With(R"("conversation_starters":)" +
           ArrayOf(20, [](size_t) { return Quote(Repeat("s", 256)); })),
      With(R"("input_fields":)" + ArrayOf(64,
                                          [](size_t i) {
                                            return R"({"slug":"s)" +
                                                   std::to_string(i) +
                                                   R"(","type":"t"})";
                                          })),
      With(R"("input_fields":[{"slug":")" + Repeat("S-_9", 16) +
           R"(","type":")" + Repeat("t", 32) + R"(","label":")" +
           Repeat("l", 128) + R"(","description":")" + Repeat("d", 512) +
           R"(","order":2147483647,"options":)" +
           ArrayOf(100, [](size_t) { return Quote(Repeat("o", 256)); }) +
           R"(,"file_types":)" +
           ArrayOf(50, [](size_t) { return Quote(Repeat("f", 64)); }) + "}]"),
      With(R"("actions":)" + ArrayOf(64,
                                     [](size_t) {
                                       return R"({"action_id":")" +
                                              Repeat("a", 128) + "\"}";
                                     })),
      With(R"("attachments":)" +
           ArrayOf(100, [](size_t) { return Quote(Repeat("a", 128)); })),
      With(R"("knowledge_folder_ids":)" +
           ArrayOf(100, [](size_t) { return Quote(Repeat("k", 128)); })),
      With(R"("tools":{"available":)" +
           ArrayOf(128,
                   [](size_t) {
                     return R"({"id":"tol_)" + Repeat("x", 60) +
                            R"(","argument_bindings":)" + ObjectOf(64, "1") +
                            "}";
                   }) +
           "}"),
      With(R"("first_step":{"instructions":)" +
           ArrayOf(32,
                   [](size_t) {
                     return R"({"type":"inline","name":")" + Repeat("n", 128) +
                            R"(","template_type":"plain","template":")" +
                            Repeat("t", 16384) + "\"}";
                   }) +
           "}"),
      With(R"("first_step":{"instructions":[{"type":"reference","id":"ins_)" +
           Repeat("x", 60) + R"(","version":2147483647}]})"),
      With(R"("metadata":)" + ObjectOf(64, "\"v\"")),
      With(R"("metadata":{")" + Repeat("k", 64) + R"(":")" + Repeat("v", 1024) +
           "\"}"),
  };
  for (const std::string& text : ok) {
    SCOPED_TRACE(text.substr(0, 200));
    Result<bj::object> r = NormalizeAgentConfig(Parse(text));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
}

TEST(AgentConfigTest, FreeTextAllowsTabsAndNewlines) {
  const bj::object out = Normalize(With(R"(
      "description":"a\tb\nc\rd",
      "instructions":"line 1\nline 2",
      "input_fields":[{"slug":"s","type":"t","description":"x\ny"}],
      "first_step":{"instructions":[{"type":"inline","name":"n",
                                     "template":"#if($x)\n\t$x\r\n#end"}]})"));
  EXPECT_EQ(out.at("description").as_string(), "a\tb\nc\rd");
  EXPECT_EQ(out.at("instructions").as_string(), "line 1\nline 2");
  EXPECT_EQ(out.at("input_fields").at(0).at("description").as_string(), "x\ny");
  EXPECT_EQ(
      out.at("first_step").at("instructions").at(0).at("template").as_string(),
      "#if($x)\n\t$x\r\n#end");
}

TEST(AgentConfigTest, MetadataValuesAreKeptAsGiven) {
  const bj::object out = Normalize(With(
      R"("metadata":{"s":"v","i":-3,"d":0.25,"t":true,"f":false,"e":""})"));
  EXPECT_EQ(json::Serialize(out.at("metadata")),
            R"({"s":"v","i":-3,"d":0.25,"t":true,"f":false,"e":""})");
}

TEST(AgentConfigTest, ReturnsANewObjectAndLeavesTheInputAlone) {
  const bj::object input = Parse(R"({"enabled":false,"name":"x"})");
  const bj::object copy = input;
  Result<bj::object> out = NormalizeAgentConfig(input);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(json::Serialize(input), json::Serialize(copy));
  EXPECT_EQ(out->size(), std::size(kAgentConfigFields));
  EXPECT_FALSE(out->at("enabled").as_bool());
}

struct ErrorCase {
  std::string json;
  std::string field;
  std::string message;
};

void ExpectRefused(const ErrorCase& c) {
  SCOPED_TRACE(c.json.substr(0, 300));
  Result<bj::object> r = NormalizeAgentConfig(Parse(c.json));
  ASSERT_FALSE(r.ok()) << "accepted";
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.status().field(), c.field);
  EXPECT_EQ(r.status().message(), c.message);
}

std::string MustBeString(std::string_view f) {
  return Quote(f) + " must be a string";
}
std::string AtMost(std::string_view f, int n) {
  return Quote(f) + " must be at most " + std::to_string(n) + " characters";
}
std::string AtMostItems(std::string_view f, int n) {
  return Quote(f) + " must have at most " + std::to_string(n) + " items";
}
std::string NotEmpty(std::string_view f) {
  return Quote(f) + " must not be empty";
}
std::string Required(std::string_view f) { return Quote(f) + " is required"; }
std::string Control(std::string_view f) {
  return Quote(f) + " must not contain control characters";
}
std::string MustBe(std::string_view f, std::string_view what) {
  return Quote(f) + " must be " + std::string(what);
}
std::string Unknown(std::string_view f) { return "unknown field " + Quote(f); }

TEST(AgentConfigTest, TopLevelRulesNameTheField) {
  const std::vector<ErrorCase> cases = {
      {R"({})", "name", Required("name")},
      {R"({"name":null})", "name", Required("name")},
      {R"({"name":""})", "name", NotEmpty("name")},
      {R"({"name":")" + Repeat("a", 65) + "\"}", "name", AtMost("name", 64)},
      {R"({"name":")" + Repeat("é", 65) + "\"}", "name", AtMost("name", 64)},
      {R"({"name":"a\nb"})", "name", Control("name")},
      {R"({"name":"a\tb"})", "name", Control("name")},
      {R"({"name":7})", "name", MustBeString("name")},
      {With(R"("description":")" + Repeat("d", 257) + "\""), "description",
       AtMost("description", 256)},
      {With(R"("description":"a\u0001")"), "description",
       Control("description")},
      {With(R"("description":false)"), "description",
       MustBeString("description")},
      {With(R"("instructions":")" + Repeat("i", 16385) + "\""), "instructions",
       AtMost("instructions", 16384)},
      {With(R"("instructions":"a\u007f")"), "instructions",
       Control("instructions")},
      {With(R"("emoji_icon":")" + Repeat("🤖", 17) + "\""), "emoji_icon",
       AtMost("emoji_icon", 16)},
      {With(R"("emoji_icon":"\n")"), "emoji_icon", Control("emoji_icon")},
      {With(R"("conversation_starters":"hi")"), "conversation_starters",
       MustBe("conversation_starters", "an array of strings")},
      {With(R"("conversation_starters":)" +
            ArrayOf(21, [](size_t) { return std::string("\"s\""); })),
       "conversation_starters", AtMostItems("conversation_starters", 20)},
      {With(R"("conversation_starters":["ok",1])"), "conversation_starters[1]",
       MustBeString("conversation_starters[1]")},
      {With(R"("conversation_starters":["ok",")" + Repeat("s", 257) + "\"]"),
       "conversation_starters[1]", AtMost("conversation_starters[1]", 256)},
      {With(R"("input_type":"prompt")"), "input_type",
       MustBe("input_type", R"("PROMPT" or "STRUCTURED")")},
      {With(R"("input_type":1)"), "input_type",
       MustBe("input_type", R"("PROMPT" or "STRUCTURED")")},
      {With(R"("attachments":[""])"), "attachments[0]",
       NotEmpty("attachments[0]")},
      {With(R"("attachments":)" +
            ArrayOf(101, [](size_t) { return std::string("\"a\""); })),
       "attachments", AtMostItems("attachments", 100)},
      {With(R"("attachments":["a\u0002"])"), "attachments[0]",
       Control("attachments[0]")},
      {With(R"("knowledge_folder_ids":["a",")" + Repeat("k", 129) + "\"]"),
       "knowledge_folder_ids[1]", AtMost("knowledge_folder_ids[1]", 128)},
      {With(R"("knowledge_folder_ids":{})"), "knowledge_folder_ids",
       MustBe("knowledge_folder_ids", "an array of strings")},
      {With(R"("enabled":"yes")"), "enabled", MustBe("enabled", "a boolean")},
      {With(R"("enabled":1)"), "enabled", MustBe("enabled", "a boolean")},
  };
  for (const ErrorCase& c : cases) ExpectRefused(c);
}

TEST(AgentConfigTest, ModelAndCapabilityRulesNameTheField) {
  const std::string temperature = "model.parameters.temperature";
  const std::string max_tokens = "model.parameters.max_tokens";
  const std::string top_p = "model.parameters.top_p";
  const std::string unit = "a number between 0 and 1";
  const std::string tokens = "an integer between 1 and 1000000";
  auto params = [](std::string_view p) {
    return With(R"("model":{"name":"m","parameters":{)" + std::string(p) +
                "}}");
  };
  const std::vector<ErrorCase> cases = {
      {With(R"("model":"gpt-4")"), "model", MustBe("model", "an object")},
      {With(R"("model":{})"), "model.name", Required("model.name")},
      {With(R"("model":{"name":null})"), "model.name", Required("model.name")},
      {With(R"("model":{"name":""})"), "model.name", NotEmpty("model.name")},
      {With(R"("model":{"name":")" + Repeat("m", 65) + "\"}"), "model.name",
       AtMost("model.name", 64)},
      {With(R"("model":{"name":"m\u0000"})"), "model.name",
       Control("model.name")},
      {With(R"("model":{"name":"m","parameters":[]})"), "model.parameters",
       MustBe("model.parameters", "an object")},
      {params(R"("temperature":1.5)"), temperature, MustBe(temperature, unit)},
      {params(R"("temperature":-0.1)"), temperature, MustBe(temperature, unit)},
      {params(R"("temperature":"0.5")"), temperature,
       MustBe(temperature, unit)},
      {params(R"("top_p":2)"), top_p, MustBe(top_p, unit)},
      {params(R"("top_p":true)"), top_p, MustBe(top_p, unit)},
      {params(R"("max_tokens":0)"), max_tokens, MustBe(max_tokens, tokens)},
      {params(R"("max_tokens":1.5)"), max_tokens, MustBe(max_tokens, tokens)},
      {params(R"("max_tokens":1000001)"), max_tokens,
       MustBe(max_tokens, tokens)},
      {params(R"("max_tokens":"100")"), max_tokens, MustBe(max_tokens, tokens)},
      {With(R"("capabilities":[])"), "capabilities",
       MustBe("capabilities", "an object")},
      {With(R"("capabilities":{"canvas":"yes"})"), "capabilities.canvas",
       MustBe("capabilities.canvas", "a boolean")},
      {With(R"("capabilities":{"web_search":true,"data_analyst":0})"),
       "capabilities.data_analyst",
       MustBe("capabilities.data_analyst", "a boolean")},
  };
  for (const ErrorCase& c : cases) ExpectRefused(c);
}

TEST(AgentConfigTest, InputFieldAndActionRulesNameTheField) {
  auto field = [](std::string_view members) {
    return With(R"("input_fields":[{"slug":"ok","type":"t"},{)" +
                std::string(members) + "}]");
  };
  const std::string order = "an integer between 0 and 2147483647";
  const std::vector<ErrorCase> cases = {
      {With(R"("input_fields":{})"), "input_fields",
       MustBe("input_fields", "an array")},
      {With(R"("input_fields":)" + ArrayOf(65,
                                           [](size_t i) {
                                             return R"({"slug":"s)" +
                                                    std::to_string(i) +
                                                    R"(","type":"t"})";
                                           })),
       "input_fields", AtMostItems("input_fields", 64)},
      {With(R"("input_fields":[1])"), "input_fields[0]",
       MustBe("input_fields[0]", "an object")},
      {field(R"("type":"text")"), "input_fields[1].slug",
       Required("input_fields[1].slug")},
      {field(R"("slug":"a b","type":"t")"), "input_fields[1].slug",
       Quote("input_fields[1].slug") + " must match ^[A-Za-z0-9_-]{1,64}$"},
      {field(R"("slug":"é","type":"t")"), "input_fields[1].slug",
       Quote("input_fields[1].slug") + " must match ^[A-Za-z0-9_-]{1,64}$"},
      {field(R"("slug":"","type":"t")"), "input_fields[1].slug",
       NotEmpty("input_fields[1].slug")},
      {field(R"("slug":")" + Repeat("s", 65) + R"(","type":"t")"),
       "input_fields[1].slug", AtMost("input_fields[1].slug", 64)},
      {With(R"("input_fields":[{"slug":"a","type":"t"},)"
            R"({"slug":"b","type":"t"},{"slug":"a","type":"t"}])"),
       "input_fields[2].slug",
       "input_fields[2].slug duplicates input_fields[0].slug"},
      {field(R"("slug":"s")"), "input_fields[1].type",
       Required("input_fields[1].type")},
      {field(R"("slug":"s","type":")" + Repeat("t", 33) + "\""),
       "input_fields[1].type", AtMost("input_fields[1].type", 32)},
      {field(R"("slug":"s","type":"t","label":")" + Repeat("l", 129) + "\""),
       "input_fields[1].label", AtMost("input_fields[1].label", 128)},
      {field(R"("slug":"s","type":"t","label":"a\tb")"),
       "input_fields[1].label", Control("input_fields[1].label")},
      {field(R"("slug":"s","type":"t","description":")" + Repeat("d", 513) +
             "\""),
       "input_fields[1].description",
       AtMost("input_fields[1].description", 512)},
      {field(R"("slug":"s","type":"t","required":"true")"),
       "input_fields[1].required",
       MustBe("input_fields[1].required", "a boolean")},
      {field(R"("slug":"s","type":"t","order":-1)"), "input_fields[1].order",
       MustBe("input_fields[1].order", order)},
      {field(R"("slug":"s","type":"t","order":1.5)"), "input_fields[1].order",
       MustBe("input_fields[1].order", order)},
      {field(R"("slug":"s","type":"t","order":2147483648)"),
       "input_fields[1].order", MustBe("input_fields[1].order", order)},
      {field(R"("slug":"s","type":"t","options":)" +
             ArrayOf(101, [](size_t) { return std::string("\"o\""); })),
       "input_fields[1].options", AtMostItems("input_fields[1].options", 100)},
      {field(R"("slug":"s","type":"t","options":[true])"),
       "input_fields[1].options[0]",
       MustBeString("input_fields[1].options[0]")},
      {field(R"("slug":"s","type":"t","file_types":"pdf")"),
       "input_fields[1].file_types",
       MustBe("input_fields[1].file_types", "an array of strings")},
      {field(R"("slug":"s","type":"t","file_types":)" +
             ArrayOf(51, [](size_t) { return std::string("\"f\""); })),
       "input_fields[1].file_types",
       AtMostItems("input_fields[1].file_types", 50)},
      {field(R"("slug":"s","type":"t","file_types":[")" + Repeat("f", 65) +
             "\"]"),
       "input_fields[1].file_types[0]",
       AtMost("input_fields[1].file_types[0]", 64)},
      {With(R"("actions":[{}])"), "actions[0].action_id",
       Required("actions[0].action_id")},
      {With(R"("actions":[{"action_id":""}])"), "actions[0].action_id",
       NotEmpty("actions[0].action_id")},
      {With(R"("actions":[{"action_id":")" + Repeat("a", 129) + "\"}]"),
       "actions[0].action_id", AtMost("actions[0].action_id", 128)},
      {With(R"("actions":[{"action_id":"a","requires_confirmation":1}])"),
       "actions[0].requires_confirmation",
       MustBe("actions[0].requires_confirmation", "a boolean")},
      {With(R"("actions":)" + ArrayOf(65,
                                      [](size_t) {
                                        return std::string(
                                            R"({"action_id":"a"})");
                                      })),
       "actions", AtMostItems("actions", 64)},
      {With(R"("actions":["act_1"])"), "actions[0]",
       MustBe("actions[0]", "an object")},
  };
  for (const ErrorCase& c : cases) ExpectRefused(c);
}

TEST(AgentConfigTest, ToolAndFirstStepRulesNameTheField) {
  auto tool = [](std::string_view t) {
    return With(R"("tools":{"available":[{"id":"tol_ok"},)" + std::string(t) +
                "]}");
  };
  auto step = [](std::string_view i) {
    return With(R"("first_step":{"instructions":[{"type":"reference",)"
                R"("id":"ins_ok"},)" +
                std::string(i) + "]}");
  };
  const std::string tool_id = "tools.available[1].id";
  const std::string ins = "first_step.instructions[1]";
  const std::string tol_pattern = " must match ^tol_[0-9a-zA-Z_-]+$";
  const std::string ins_pattern = " must match ^ins_[0-9a-zA-Z_-]+$";
  const std::vector<ErrorCase> cases = {
      {With(R"("tools":[])"), "tools", MustBe("tools", "an object")},
      {With(R"("tools":{"mode":"mcp"})"), "tools.mode",
       MustBe("tools.mode", R"("native")")},
      {With(R"("tools":{"available":{}})"), "tools.available",
       MustBe("tools.available", "an array")},
      {With(R"("tools":{"available":)" +
            ArrayOf(129,
                    [](size_t) { return std::string(R"({"id":"tol_a"})"); }) +
            "}"),
       "tools.available", AtMostItems("tools.available", 128)},
      {tool(R"("tol_b")"), "tools.available[1]",
       MustBe("tools.available[1]", "an object")},
      {tool("{}"), tool_id, Required(tool_id)},
      {tool(R"({"id":"knowledge"})"), tool_id, Quote(tool_id) + tol_pattern},
      {tool(R"({"id":"tol_"})"), tool_id, Quote(tool_id) + tol_pattern},
      {tool(R"({"id":"tol_a.b"})"), tool_id, Quote(tool_id) + tol_pattern},
      {tool(R"({"id":"tol_)" + Repeat("x", 61) + "\"}"), tool_id,
       AtMost(tool_id, 64)},
      {tool(R"({"id":"tol_a","argument_bindings":[]})"),
       "tools.available[1].argument_bindings",
       MustBe("tools.available[1].argument_bindings", "an object")},
      {tool(R"({"id":"tol_a","argument_bindings":)" + ObjectOf(65, "1") + "}"),
       "tools.available[1].argument_bindings",
       Quote("tools.available[1].argument_bindings") +
           " must have at most 64 members"},
      {With(R"("first_step":"conversational")"), "first_step",
       MustBe("first_step", "an object")},
      {With(R"("first_step":{"type":"agentic"})"), "first_step.type",
       MustBe("first_step.type", R"("conversational")")},
      {With(R"("first_step":{"instructions":)" +
            ArrayOf(33,
                    [](size_t) {
                      return std::string(
                          R"({"type":"reference","id":"ins_a"})");
                    }) +
            "}"),
       "first_step.instructions", AtMostItems("first_step.instructions", 32)},
      {step(R"("ins_x")"), ins, MustBe(ins, "an object")},
      {step("{}"), ins + ".type", Required(ins + ".type")},
      {step(R"({"type":"file"})"), ins + ".type",
       MustBe(ins + ".type", R"("reference" or "inline")")},
      {step(R"({"type":3})"), ins + ".type",
       MustBe(ins + ".type", R"("reference" or "inline")")},
      {step(R"({"type":"reference"})"), ins + ".id", Required(ins + ".id")},
      {step(R"({"type":"reference","id":"support"})"), ins + ".id",
       Quote(ins + ".id") + ins_pattern},
      {step(R"({"type":"reference","id":"ins_)" + Repeat("x", 61) + "\"}"),
       ins + ".id", AtMost(ins + ".id", 64)},
      {step(R"({"type":"reference","id":"ins_a","version":0})"),
       ins + ".version",
       MustBe(ins + ".version", "an integer between 1 and 2147483647")},
      {step(R"({"type":"reference","id":"ins_a","version":"2"})"),
       ins + ".version",
       MustBe(ins + ".version", "an integer between 1 and 2147483647")},
      {step(R"({"type":"inline","template":"t"})"), ins + ".name",
       Required(ins + ".name")},
      {step(R"({"type":"inline","name":")" + Repeat("n", 129) +
            R"(","template":"t"})"),
       ins + ".name", AtMost(ins + ".name", 128)},
      {step(R"({"type":"inline","name":"a\nb","template":"t"})"), ins + ".name",
       Control(ins + ".name")},
      {step(R"({"type":"inline","name":"n","template_type":"jinja",)"
            R"("template":"t"})"),
       ins + ".template_type",
       MustBe(ins + ".template_type", R"("velocity" or "plain")")},
      {step(R"({"type":"inline","name":"n"})"), ins + ".template",
       Required(ins + ".template")},
      {step(R"({"type":"inline","name":"n","template":")" + Repeat("t", 16385) +
            "\"}"),
       ins + ".template", AtMost(ins + ".template", 16384)},
      {step(R"({"type":"inline","name":"n","template":"a\u0000"})"),
       ins + ".template", Control(ins + ".template")},
      {With(R"("first_step":{"output_parser":"default"})"),
       "first_step.output_parser",
       MustBe("first_step.output_parser", "an object")},
      {With(R"("first_step":{"output_parser":{"type":"json"}})"),
       "first_step.output_parser.type",
       MustBe("first_step.output_parser.type", R"("default")")},
  };
  for (const ErrorCase& c : cases) ExpectRefused(c);
}

TEST(AgentConfigTest, MetadataRulesNameTheField) {
  const std::string values =
      "metadata values must be strings, numbers or booleans";
  const std::vector<ErrorCase> cases = {
      {With(R"("metadata":[])"), "metadata", MustBe("metadata", "an object")},
      {With(R"("metadata":"x")"), "metadata", MustBe("metadata", "an object")},
      {With(R"("metadata":)" + ObjectOf(65, "1")), "metadata",
       Quote("metadata") + " must have at most 64 members"},
      {With(R"("metadata":{"":"x"})"), "metadata",
       "metadata keys must be between 1 and 64 characters"},
      {With(R"("metadata":{")" + Repeat("k", 65) + R"(":"x"})"), "metadata",
       "metadata keys must be between 1 and 64 characters"},
      {With(R"("metadata":{"a\u0001":"x"})"), "metadata",
       "metadata keys must not contain control characters"},
      {With(R"("metadata":{"team":"a","owner":null})"), "metadata.owner",
       values},
      {With(R"("metadata":{"owner":["a"]})"), "metadata.owner", values},
      {With(R"("metadata":{"owner":{"name":"a"}})"), "metadata.owner", values},
      {With(R"("metadata":{"owner":")" + Repeat("v", 1025) + "\"}"),
       "metadata.owner", AtMost("metadata.owner", 1024)},
      {With(R"("metadata":{"owner":"a\u0000"})"), "metadata.owner",
       Control("metadata.owner")},
  };
  for (const ErrorCase& c : cases) ExpectRefused(c);
}

TEST(AgentConfigTest, NonFiniteMetadataNumbersAreRefused) {
  // The strict parser never yields one; a document built in code might.
  bj::object input = Parse(R"({"name":"x"})");
  input["metadata"] =
      bj::object{{"ratio", std::numeric_limits<double>::infinity()}};
  Result<bj::object> r = NormalizeAgentConfig(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "metadata.ratio");
  EXPECT_EQ(r.status().message(), "\"metadata.ratio\" must be a finite number");
}

TEST(AgentConfigTest, UnknownMembersAreRefusedAtEveryDepth) {
  const std::vector<ErrorCase> cases = {
      {With(R"("foo":1)"), "foo", Unknown("foo")},
      {With(R"("Name":"y")"), "Name", Unknown("Name")},
      {With(R"("model":{"name":"m","provider":"x"})"), "model.provider",
       Unknown("model.provider")},
      {With(R"("model":{"name":"m","parameters":{"seed":1}})"),
       "model.parameters.seed", Unknown("model.parameters.seed")},
      {With(R"("capabilities":{"voice":true})"), "capabilities.voice",
       Unknown("capabilities.voice")},
      {With(R"("input_fields":[{"slug":"a","type":"t"},)"
            R"({"slug":"b","type":"t","extra":1}])"),
       "input_fields[1].extra", Unknown("input_fields[1].extra")},
      {With(R"("actions":[{"action_id":"a","label":"x"}])"), "actions[0].label",
       Unknown("actions[0].label")},
      {With(R"("tools":{"strategy":"x"})"), "tools.strategy",
       Unknown("tools.strategy")},
      {With(R"("tools":{"available":[{"id":"tol_a","name":"A"}]})"),
       "tools.available[0].name", Unknown("tools.available[0].name")},
      {With(R"("first_step":{"steps":[]})"), "first_step.steps",
       Unknown("first_step.steps")},
      {With(R"("first_step":{"instructions":[{"type":"reference",)"
            R"("id":"ins_a","template":"t"}]})"),
       "first_step.instructions[0].template",
       Unknown("first_step.instructions[0].template")},
      {With(R"("first_step":{"instructions":[{"type":"inline","name":"n",)"
            R"("template":"t","version":1}]})"),
       "first_step.instructions[0].version",
       Unknown("first_step.instructions[0].version")},
      {With(R"("first_step":{"output_parser":{"type":"default","schema":{}}})"),
       "first_step.output_parser.schema",
       Unknown("first_step.output_parser.schema")},
      // Read-only names below the top level are merely unknown.
      {With(R"("model":{"name":"m","status":"x"})"), "model.status",
       Unknown("model.status")},
  };
  for (const ErrorCase& c : cases) ExpectRefused(c);
}

TEST(AgentConfigTest, UnknownMembersAreRefusedEvenWhenNull) {
  ExpectRefused({With(R"("foo":null)"), "foo", Unknown("foo")});
  ExpectRefused({With(R"("model":{"name":"m","x":null})"), "model.x",
                 Unknown("model.x")});
}

TEST(AgentConfigTest, ReadOnlyMembersAreRefused) {
  for (const std::string_view name : kAgentReadOnlyFields) {
    const std::string field(name);
    ExpectRefused(
        {With(Quote(field) + ":null"), field, Quote(field) + " is read-only"});
    ExpectRefused(
        {With(Quote(field) + ":\"v\""), field, Quote(field) + " is read-only"});
  }
  // Read-only wins over an unknown member given before it.
  ExpectRefused({With(R"("foo":1,"status":"draft")"), "status",
                 "\"status\" is read-only"});
}

TEST(AgentConfigTest, KeyIsNotPartOfTheConfiguration) {
  ExpectRefused({With(R"("key":"agt_x")"), "key",
                 "key is not part of the configuration"});
  ExpectRefused(
      {With(R"("key":null)"), "key", "key is not part of the configuration"});
}

TEST(AgentConfigTest, FirstErrorIsReported) {
  // Unknown members are refused before values are checked.
  ExpectRefused({R"({"name":"","zzz":1})", "zzz", Unknown("zzz")});
  // Then members in canonical order.
  ExpectRefused({R"({"enabled":"x","name":""})", "name", NotEmpty("name")});
}

TEST(AgentKeyTest, AcceptsValidKeys) {
  for (const std::string& key :
       {std::string("agt_customer_support_001"), std::string("agt_a"),
        std::string("agt_A-b_9"), std::string("agt__"),
        "agt_" + Repeat("x", 60)}) {
    EXPECT_TRUE(ValidateAgentKey(key).ok()) << key;
  }
}

TEST(AgentKeyTest, RefusesInvalidKeys) {
  const std::string pattern = "\"key\" must match ^agt_[0-9a-zA-Z_-]+$";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", pattern},
      {"agt_", pattern},
      {"agt", pattern},
      {"agt-x", pattern},
      {"AGT_x", pattern},
      {"xagt_a", pattern},
      {"agt_a b", pattern},
      {"agt_a.b", pattern},
      {"agt_é", pattern},
      {"agt_a\n", pattern},
      {"agt_a/../b", pattern},
      {"agt_" + Repeat("x", 61), "\"key\" must be at most 64 characters"},
  };
  for (const auto& [key, message] : cases) {
    SCOPED_TRACE(key);
    const Status s = ValidateAgentKey(key);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), ErrorCode::kInvalidRequest);
    EXPECT_EQ(s.field(), "key");
    EXPECT_EQ(s.message(), message);
  }
}

}  // namespace
}  // namespace agentry
