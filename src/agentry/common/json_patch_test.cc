#include "agentry/common/json_patch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "agentry/common/json.h"

namespace agentry::json {
namespace {

namespace bj = boost::json;

bj::value J(std::string_view text) { return bj::parse(text); }
bj::array Patch(std::string_view text) { return bj::parse(text).as_array(); }

// Applies `patch` to `doc`, expecting success, and checks that `doc` is left
// alone.
bj::value Apply(std::string_view doc, std::string_view patch) {
  const bj::value original = J(doc);
  const bj::value copy = original;
  Result<bj::value> r = ApplyPatch(original, Patch(patch));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(bj::serialize(original), bj::serialize(copy));
  return r.ok() ? *r : bj::value();
}

// Expects `patch` on `doc` to be refused with InvalidRequest at `field`, with
// a message containing `message_part`, and `doc` to be left alone.
void ExpectRefused(std::string_view doc, std::string_view patch,
                   std::string_view field, std::string_view message_part) {
  SCOPED_TRACE(std::string(patch));
  const bj::value original = J(doc);
  const std::string before = bj::serialize(original);
  Result<bj::value> r = ApplyPatch(original, Patch(patch));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.status().field(), field);
  EXPECT_NE(r.status().message().find(message_part), std::string::npos)
      << r.status().message();
  EXPECT_EQ(bj::serialize(original), before);
}

// ---- EscapePointerToken ----

TEST(EscapePointerTokenTest, EscapesTildeThenSlash) {
  EXPECT_EQ(EscapePointerToken("a/b"), "a~1b");
  EXPECT_EQ(EscapePointerToken("m~n"), "m~0n");
  EXPECT_EQ(EscapePointerToken("~1"), "~01");
  EXPECT_EQ(EscapePointerToken("/~"), "~1~0");
  EXPECT_EQ(EscapePointerToken("plain"), "plain");
  EXPECT_EQ(EscapePointerToken(""), "");
}

// ---- ApplyPatch: RFC 6902 Appendix A ----

TEST(ApplyPatchRfcTest, A1AddingAnObjectMember) {
  EXPECT_EQ(Apply(R"({"foo":"bar"})",
                  R"([{"op":"add","path":"/baz","value":"qux"}])"),
            J(R"({"baz":"qux","foo":"bar"})"));
}

TEST(ApplyPatchRfcTest, A2AddingAnArrayElement) {
  bj::value r = Apply(R"({"foo":["bar","baz"]})",
                      R"([{"op":"add","path":"/foo/1","value":"qux"}])");
  EXPECT_EQ(bj::serialize(r), R"({"foo":["bar","qux","baz"]})");
}

TEST(ApplyPatchRfcTest, A3RemovingAnObjectMember) {
  EXPECT_EQ(Apply(R"({"baz":"qux","foo":"bar"})",
                  R"([{"op":"remove","path":"/baz"}])"),
            J(R"({"foo":"bar"})"));
}

TEST(ApplyPatchRfcTest, A4RemovingAnArrayElement) {
  bj::value r = Apply(R"({"foo":["bar","qux","baz"]})",
                      R"([{"op":"remove","path":"/foo/1"}])");
  EXPECT_EQ(bj::serialize(r), R"({"foo":["bar","baz"]})");
}

TEST(ApplyPatchRfcTest, A5ReplacingAValue) {
  EXPECT_EQ(Apply(R"({"baz":"qux","foo":"bar"})",
                  R"([{"op":"replace","path":"/baz","value":"boo"}])"),
            J(R"({"baz":"boo","foo":"bar"})"));
}

TEST(ApplyPatchRfcTest, A6MovingAValue) {
  EXPECT_EQ(
      Apply(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
            R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])"),
      J(R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"));
}

TEST(ApplyPatchRfcTest, A7MovingAnArrayElement) {
  bj::value r = Apply(R"({"foo":["all","grass","cows","eat"]})",
                      R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])");
  EXPECT_EQ(bj::serialize(r), R"({"foo":["all","cows","eat","grass"]})");
}

TEST(ApplyPatchRfcTest, A8TestingAValueSuccess) {
  EXPECT_EQ(Apply(R"({"baz":"qux","foo":["a",2,"c"]})",
                  R"([{"op":"test","path":"/baz","value":"qux"},)"
                  R"({"op":"test","path":"/foo/1","value":2}])"),
            J(R"({"baz":"qux","foo":["a",2,"c"]})"));
}

TEST(ApplyPatchRfcTest, A9TestingAValueError) {
  ExpectRefused(R"({"baz":"qux"})",
                R"([{"op":"test","path":"/baz","value":"bar"}])", "[0].value",
                "test failed");
}

TEST(ApplyPatchRfcTest, A10AddingANestedMemberObject) {
  EXPECT_EQ(
      Apply(R"({"foo":"bar"})",
            R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])"),
      J(R"({"foo":"bar","child":{"grandchild":{}}})"));
}

TEST(ApplyPatchRfcTest, A11IgnoringUnrecognizedElements) {
  EXPECT_EQ(Apply(R"({"foo":"bar"})",
                  R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])"),
            J(R"({"foo":"bar","baz":"qux"})"));
}

TEST(ApplyPatchRfcTest, A12AddingToANonexistentTarget) {
  ExpectRefused(R"({"foo":"bar"})",
                R"([{"op":"add","path":"/baz/bat","value":"qux"}])", "[0].path",
                "no value at \"/baz\"");
}

TEST(ApplyPatchRfcTest, A13InvalidPatchDocumentIsRefusedByTheParser) {
  // Duplicate "op" members never reach ApplyPatch: the strict parser refuses
  // the document.
  EXPECT_FALSE(
      ParseStrict(R"([{"op":"add","path":"/baz","value":"qux","op":"remove"}])")
          .ok());
}

TEST(ApplyPatchRfcTest, A14TildeEscapeOrdering) {
  EXPECT_EQ(Apply(R"({"/":9,"~1":10})",
                  R"([{"op":"test","path":"/~01","value":10}])"),
            J(R"({"/":9,"~1":10})"));
}

TEST(ApplyPatchRfcTest, A15ComparingStringsAndNumbers) {
  ExpectRefused(R"({"/":9,"~1":10})",
                R"([{"op":"test","path":"/~01","value":"10"}])", "[0].value",
                "test failed");
}

TEST(ApplyPatchRfcTest, A16AddingAnArrayValue) {
  EXPECT_EQ(Apply(R"({"foo":["bar"]})",
                  R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])"),
            J(R"({"foo":["bar",["abc","def"]]})"));
}

// ---- ApplyPatch: behaviour ----

TEST(ApplyPatchTest, EmptyPatchGivesTheDocument) {
  EXPECT_EQ(Apply(R"({"a":[1,{"b":null}]})", "[]"),
            J(R"({"a":[1,{"b":null}]})"));
}

TEST(ApplyPatchTest, AddAndReplaceAtTheRootReplaceTheDocument) {
  EXPECT_EQ(Apply(R"({"a":1})", R"([{"op":"add","path":"","value":[1]}])"),
            J("[1]"));
  EXPECT_EQ(Apply(R"([1])", R"([{"op":"replace","path":"","value":"x"}])"),
            J(R"("x")"));
  EXPECT_EQ(Apply("3", R"([{"op":"add","path":"","value":{"k":null}}])"),
            J(R"({"k":null})"));
}

TEST(ApplyPatchTest, AddToAnExistingMemberReplacesItInPlace) {
  bj::value r = Apply(R"({"a":1,"b":2,"c":3})",
                      R"([{"op":"add","path":"/b","value":[]}])");
  EXPECT_EQ(bj::serialize(r), R"({"a":1,"b":[],"c":3})");
}

TEST(ApplyPatchTest, AddInsertsIntoArraysAtAnyIndexUpToTheSize) {
  EXPECT_EQ(
      bj::serialize(Apply("[1,2]", R"([{"op":"add","path":"/0","value":0},)"
                                   R"({"op":"add","path":"/3","value":3},)"
                                   R"({"op":"add","path":"/-","value":4}])")),
      "[0,1,2,3,4]");
  EXPECT_EQ(
      bj::serialize(Apply("[]", R"([{"op":"add","path":"/0","value":7}])")),
      "[7]");
}

TEST(ApplyPatchTest, RemoveKeepsTheOrderOfTheOtherMembers) {
  bj::value r =
      Apply(R"({"a":1,"b":2,"c":3,"d":4})", R"([{"op":"remove","path":"/a"}])");
  EXPECT_EQ(bj::serialize(r), R"({"b":2,"c":3,"d":4})");
}

TEST(ApplyPatchTest, EmptyKeyAndEscapedTokens) {
  EXPECT_EQ(Apply("{}", R"([{"op":"add","path":"/","value":1}])"),
            J(R"({"":1})"));
  EXPECT_EQ(Apply(R"({"a":{}})", R"([{"op":"add","path":"/a/","value":2}])"),
            J(R"({"a":{"":2}})"));
  EXPECT_EQ(Apply(R"({"a/b":{"m~n":1}})",
                  R"([{"op":"replace","path":"/a~1b/m~0n","value":2}])"),
            J(R"({"a/b":{"m~n":2}})"));
  // "~01" is "~1", not "/".
  EXPECT_EQ(Apply(R"({"~1":1,"/":2})", R"([{"op":"remove","path":"/~01"}])"),
            J(R"({"/":2})"));
}

TEST(ApplyPatchTest, ReplaceInsideArrays) {
  EXPECT_EQ(
      bj::serialize(Apply(R"([[1,2],[3]])",
                          R"([{"op":"replace","path":"/0/1","value":9}])")),
      "[[1,9],[3]]");
}

TEST(ApplyPatchTest, MoveWithinAnArrayRemovesThenAdds) {
  EXPECT_EQ(bj::serialize(Apply("[1,2,3,4]",
                                R"([{"op":"move","from":"/0","path":"/3"}])")),
            "[2,3,4,1]");
  EXPECT_EQ(bj::serialize(Apply("[1,2,3,4]",
                                R"([{"op":"move","from":"/3","path":"/0"}])")),
            "[4,1,2,3]");
  EXPECT_EQ(bj::serialize(
                Apply("[1,2,3]", R"([{"op":"move","from":"/0","path":"/-"}])")),
            "[2,3,1]");
}

TEST(ApplyPatchTest, MoveBetweenObjectsAndToTheRoot) {
  EXPECT_EQ(Apply(R"({"a":{"b":[1]},"c":2})",
                  R"([{"op":"move","from":"/a/b","path":"/c"}])"),
            J(R"({"a":{},"c":[1]})"));
  EXPECT_EQ(
      Apply(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":""}])"),
      J(R"({"b":1})"));
}

TEST(ApplyPatchTest, MoveToItselfChangesNothingButTheSourceMustExist) {
  EXPECT_EQ(bj::serialize(Apply(R"({"a":1,"b":2})",
                                R"([{"op":"move","from":"/a","path":"/a"}])")),
            R"({"a":1,"b":2})");
  ExpectRefused(R"({"a":1})", R"([{"op":"move","from":"/x","path":"/x"}])",
                "[0].from", "no value at \"/x\"");
}

TEST(ApplyPatchTest, MoveIntoOwnChildIsRefused) {
  ExpectRefused(R"({"a":{"b":{}}})",
                R"([{"op":"move","from":"/a","path":"/a/b/c"}])", "[0].path",
                "into its own child");
  ExpectRefused(R"({"a":[]})", R"([{"op":"move","from":"/a","path":"/a/-"}])",
                "[0].path", "into its own child");
  ExpectRefused(R"({"a":{}})", R"([{"op":"move","from":"","path":"/a"}])",
                "[0].path", "into its own child");
}

TEST(ApplyPatchTest, MoveToASiblingWithACommonNamePrefixIsAllowed) {
  EXPECT_EQ(Apply(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/ab"}])"),
            J(R"({"ab":1})"));
}

TEST(ApplyPatchTest, CopyIsDeep) {
  EXPECT_EQ(
      Apply(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"},)"
                                R"({"op":"replace","path":"/c/b","value":2}])"),
      J(R"({"a":{"b":1},"c":{"b":2}})"));
}

TEST(ApplyPatchTest, CopyIntoOwnChildAndIntoArrays) {
  EXPECT_EQ(
      Apply(R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/a/c"}])"),
      J(R"({"a":{"b":1,"c":{"b":1}}})"));
  EXPECT_EQ(bj::serialize(
                Apply("[1,2]", R"([{"op":"copy","from":"/1","path":"/0"}])")),
            "[2,1,2]");
  EXPECT_EQ(Apply(R"({"a":1})", R"([{"op":"copy","from":"","path":"/b"}])"),
            J(R"({"a":1,"b":{"a":1}})"));
}

TEST(ApplyPatchTest, TestComparesDeeplyIgnoringMemberOrder) {
  Apply(R"({"o":{"x":1,"y":[true,null,"s"]}})",
        R"([{"op":"test","path":"/o","value":{"y":[true,null,"s"],"x":1}}])");
  Apply(R"({"o":{"x":1}})",
        R"([{"op":"test","path":"","value":{"o":{"x":1}}}])");
  ExpectRefused(R"({"o":{"x":1}})",
                R"([{"op":"test","path":"/o","value":{"x":1,"y":2}}])",
                "[0].value", "\"/o\"");
  ExpectRefused(R"({"a":[1,2]})",
                R"([{"op":"test","path":"/a","value":[2,1]}])", "[0].value",
                "test failed");
  ExpectRefused(R"({"a":null})", R"([{"op":"test","path":"/a","value":false}])",
                "[0].value", "test failed");
  ExpectRefused(R"({"a":0})", R"([{"op":"test","path":"/a","value":false}])",
                "[0].value", "test failed");
}

TEST(ApplyPatchTest, TestComparesNumbersByValue) {
  bj::value doc = J(R"({"i":1,"d":2.0,"z":0})");
  doc.as_object()["u"] = uint64_t{5};
  doc.as_object()["big"] = std::numeric_limits<uint64_t>::max();
  auto test = [&](std::string_view path, bj::value expected) {
    bj::array patch;
    patch.push_back(
        bj::object{{"op", "test"}, {"path", path}, {"value", expected}});
    return ApplyPatch(doc, patch).ok();
  };
  EXPECT_TRUE(test("/i", 1.0));
  EXPECT_TRUE(test("/i", uint64_t{1}));
  EXPECT_TRUE(test("/d", 2));
  EXPECT_TRUE(test("/d", uint64_t{2}));
  EXPECT_TRUE(test("/u", int64_t{5}));
  EXPECT_TRUE(test("/u", 5.0));
  EXPECT_TRUE(test("/z", -0.0));
  EXPECT_FALSE(test("/i", 1.5));
  EXPECT_FALSE(test("/i", -1));
  EXPECT_FALSE(test("/d", 2.5));
  EXPECT_FALSE(test("/u", int64_t{-5}));
  // 2^64 - 1 has no exact double; 2^64 is not equal to it.
  EXPECT_FALSE(test("/big", 18446744073709551616.0));
  EXPECT_TRUE(test("/big", std::numeric_limits<uint64_t>::max()));
}

// ---- ApplyPatch: refusals ----

TEST(ApplyPatchErrorTest, MalformedOperations) {
  ExpectRefused("{}", R"([1])", "[0]", "must be an object");
  ExpectRefused("{}", R"([{"path":"/a"}])", "[0].op", "missing \"op\"");
  ExpectRefused("{}", R"([{"op":1,"path":"/a"}])", "[0].op", "string");
  ExpectRefused(
      "{}",
      R"([{"op":"test","path":"","value":{}},{"op":"delete","path":"/a"}])",
      "[1].op", "unknown operation \"delete\"");
  ExpectRefused("{}", R"([{"op":"remove"}])", "[0].path", "missing \"path\"");
  ExpectRefused("{}", R"([{"op":"remove","path":null}])", "[0].path",
                "must be a string");
  ExpectRefused("{}", R"([{"op":"add","path":"/a"}])", "[0].value",
                "missing \"value\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"replace","path":"/a"}])", "[0].value",
                "missing \"value\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"test","path":"/a"}])", "[0].value",
                "missing \"value\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"move","path":"/b"}])", "[0].from",
                "missing \"from\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"copy","path":"/b","from":7}])",
                "[0].from", "must be a string");
}

TEST(ApplyPatchErrorTest, InvalidPointers) {
  ExpectRefused(R"({"a":1})", R"([{"op":"remove","path":"a"}])", "[0].path",
                "invalid JSON pointer \"a\"");
  ExpectRefused(R"({"a~2":1})", R"([{"op":"remove","path":"/a~2"}])",
                "[0].path", "\"~\" must be followed");
  ExpectRefused(R"({"a~":1})", R"([{"op":"remove","path":"/a~"}])", "[0].path",
                "\"~\" must be followed");
  ExpectRefused(R"({"a":1})", R"([{"op":"copy","from":"a","path":"/b"}])",
                "[0].from", "invalid JSON pointer");
}

TEST(ApplyPatchErrorTest, MissingLocations) {
  ExpectRefused(R"({"a":1})", R"([{"op":"remove","path":"/b"}])", "[0].path",
                "no value at \"/b\"");
  ExpectRefused(R"({"a":{}})", R"([{"op":"replace","path":"/a/b","value":1}])",
                "[0].path", "no value at \"/a/b\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"test","path":"/a/b","value":1}])",
                "[0].path", "no value at \"/a/b\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])",
                "[0].path", "neither an object nor an array");
  ExpectRefused(R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/b"}])",
                "[0].from", "no value at \"/x\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"move","from":"/x/y","path":"/b"}])",
                "[0].from", "no value at \"/x\"");
  ExpectRefused(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/x/y"}])",
                "[0].path", "no value at \"/x\"");
  ExpectRefused(R"({"a/b":{"c":1}})", R"([{"op":"remove","path":"/a~1b/c~0"}])",
                "[0].path", "no value at \"/a~1b/c~0\"");
  ExpectRefused("{}", R"([{"op":"remove","path":""}])", "[0].path",
                "whole document");
}

TEST(ApplyPatchErrorTest, ArrayIndices) {
  const char* doc = R"({"a":[10,20,30]})";
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/01"}])", "[0].path",
                "invalid array index \"01\"");
  ExpectRefused(doc, R"([{"op":"add","path":"/a/00","value":1}])", "[0].path",
                "invalid array index");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/+1"}])", "[0].path",
                "invalid array index");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/-1"}])", "[0].path",
                "invalid array index");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/x"}])", "[0].path",
                "invalid array index");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/"}])", "[0].path",
                "invalid array index");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/1.0"}])", "[0].path",
                "invalid array index");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/3"}])", "[0].path",
                "out of bounds");
  ExpectRefused(doc, R"([{"op":"replace","path":"/a/3","value":0}])",
                "[0].path", "out of bounds");
  ExpectRefused(doc, R"([{"op":"add","path":"/a/4","value":0}])", "[0].path",
                "out of bounds");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/99999999999999999999999"}])",
                "[0].path", "out of bounds");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/18446744073709551616"}])",
                "[0].path", "out of bounds");
  ExpectRefused(doc, R"([{"op":"remove","path":"/a/-"}])", "[0].path",
                "only allowed with \"add\"");
  ExpectRefused(doc, R"([{"op":"replace","path":"/a/-","value":1}])",
                "[0].path", "only allowed with \"add\"");
  ExpectRefused(doc, R"([{"op":"test","path":"/a/-","value":30}])", "[0].path",
                "only allowed with \"add\"");
  ExpectRefused(doc, R"([{"op":"copy","from":"/a/-","path":"/b"}])", "[0].from",
                "only allowed with \"add\"");
  ExpectRefused(doc, R"([{"op":"add","path":"/a/-/x","value":1}])", "[0].path",
                "only allowed with \"add\"");
  ExpectRefused(R"({"a":[]})", R"([{"op":"remove","path":"/a/0"}])", "[0].path",
                "out of bounds");
  // "0" is a valid index; an object member named "01" is fine.
  EXPECT_EQ(Apply(doc, R"([{"op":"remove","path":"/a/0"}])"),
            J(R"({"a":[20,30]})"));
  EXPECT_EQ(Apply(R"({"01":1})", R"([{"op":"remove","path":"/01"}])"), J("{}"));
}

TEST(ApplyPatchErrorTest, AFailureLeavesTheInputUntouched) {
  // The first operations succeed on the working copy; the third fails.
  ExpectRefused(R"({"a":[1,2],"b":{"c":1}})",
                R"([{"op":"remove","path":"/a/0"},)"
                R"({"op":"add","path":"/b/d","value":2},)"
                R"({"op":"test","path":"/b/c","value":2}])",
                "[2].value", "test failed");
}

// ---- MergePatch: RFC 7396 ----

TEST(MergePatchTest, Section3Example) {
  bj::value target = J(R"({"title":"Goodbye!",
      "author":{"givenName":"John","familyName":"Doe"},
      "tags":["example","sample"],"content":"This will be unchanged"})");
  bj::value patch = J(R"({"title":"Hello!","phoneNumber":"+01-123-456-7890",
      "author":{"familyName":null},"tags":["example"]})");
  EXPECT_EQ(bj::serialize(MergePatch(target, patch)),
            R"({"title":"Hello!","author":{"givenName":"John"},)"
            R"("tags":["example"],"content":"This will be unchanged",)"
            R"("phoneNumber":"+01-123-456-7890"})");
}

TEST(MergePatchTest, AppendixAExamples) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
       R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.target) + " + " + c.patch);
    const bj::value target = J(c.target);
    const std::string before = bj::serialize(target);
    EXPECT_EQ(bj::serialize(MergePatch(target, J(c.patch))), c.result);
    EXPECT_EQ(bj::serialize(target), before);
  }
}

TEST(MergePatchTest, NullsInsideNewMembersAndScalarTargets) {
  EXPECT_EQ(MergePatch(J("null"), J(R"({"a":null,"b":{"c":null,"d":1}})")),
            J(R"({"b":{"d":1}})"));
  EXPECT_EQ(MergePatch(J("3"), J(R"({"a":1})")), J(R"({"a":1})"));
  EXPECT_EQ(MergePatch(J(R"({"a":{"x":1}})"), J(R"({"a":{"y":{"z":null}}})")),
            J(R"({"a":{"x":1,"y":{}}})"));
  EXPECT_EQ(MergePatch(J(R"({"a":1})"), J("{}")), J(R"({"a":1})"));
  EXPECT_EQ(MergePatch(J(R"({"a":1})"), J("[]")), J("[]"));
}

TEST(MergePatchTest, KeepsTheTargetsMemberOrder) {
  EXPECT_EQ(bj::serialize(MergePatch(J(R"({"a":1,"b":2,"c":3,"d":4})"),
                                     J(R"({"a":null,"c":30,"e":5})"))),
            R"({"b":2,"c":30,"d":4,"e":5})");
}

// ---- Diff ----

TEST(DiffTest, EqualDocumentsGiveAnEmptyPatch) {
  for (const char* doc : {"null", "true", "0", "1.5", R"("s")", "[]", "{}",
                          R"({"a":[1,{"b":[null,"x/y~z"]}],"c":{}})"}) {
    EXPECT_TRUE(Diff(J(doc), J(doc)).empty()) << doc;
  }
  EXPECT_TRUE(
      Diff(J(R"({"a":1,"b":{"c":2,"d":3}})"), J(R"({"b":{"d":3,"c":2},"a":1})"))
          .empty());
}

TEST(DiffTest, ScalarsAndTypeChangesReplaceTheRoot) {
  EXPECT_EQ(Diff(J("1"), J("2")),
            Patch(R"([{"op":"replace","path":"","value":2}])"));
  EXPECT_EQ(Diff(J("{}"), J("[]")),
            Patch(R"([{"op":"replace","path":"","value":[]}])"));
  EXPECT_EQ(Diff(J(R"({"a":1})"), J("null")),
            Patch(R"([{"op":"replace","path":"","value":null}])"));
  EXPECT_EQ(Diff(J("null"), J("false")),
            Patch(R"([{"op":"replace","path":"","value":false}])"));
  EXPECT_EQ(Diff(J(R"("1")"), J("1")),
            Patch(R"([{"op":"replace","path":"","value":1}])"));
}

TEST(DiffTest, OperationMembersAreOpPathValue) {
  EXPECT_EQ(bj::serialize(Diff(J(R"({"a":1,"b":[1,2]})"),
                               J(R"({"b":[3],"c":{"d":null}})"))),
            R"([{"op":"remove","path":"/a"},)"
            R"({"op":"replace","path":"/b/0","value":3},)"
            R"({"op":"remove","path":"/b/1"},)"
            R"({"op":"add","path":"/c","value":{"d":null}}])");
}

TEST(DiffTest, NestedObjects) {
  EXPECT_EQ(bj::serialize(Diff(J(R"({"a":{"b":1,"c":2,"x":0},"d":3})"),
                               J(R"({"a":{"c":5,"e":6,"b":1}})"))),
            R"([{"op":"remove","path":"/d"},)"
            R"({"op":"remove","path":"/a/x"},)"
            R"({"op":"replace","path":"/a/c","value":5},)"
            R"({"op":"add","path":"/a/e","value":6}])");
}

TEST(DiffTest, RemovalsInFromOrderThenToOrder) {
  EXPECT_EQ(bj::serialize(
                Diff(J(R"({"c":1,"a":2,"b":3})"), J(R"({"z":1,"b":4,"y":2})"))),
            R"([{"op":"remove","path":"/c"},)"
            R"({"op":"remove","path":"/a"},)"
            R"({"op":"add","path":"/z","value":1},)"
            R"({"op":"replace","path":"/b","value":4},)"
            R"({"op":"add","path":"/y","value":2}])");
}

TEST(DiffTest, ArraysGrowing) {
  EXPECT_EQ(bj::serialize(Diff(J("[1,2]"), J("[1,3,4,[5]]"))),
            R"([{"op":"replace","path":"/1","value":3},)"
            R"({"op":"add","path":"/2","value":4},)"
            R"({"op":"add","path":"/3","value":[5]}])");
  EXPECT_EQ(bj::serialize(Diff(J("[]"), J("[true]"))),
            R"([{"op":"add","path":"/0","value":true}])");
}

TEST(DiffTest, ArraysShrinkingRemoveFromTheEndBackwards) {
  EXPECT_EQ(bj::serialize(Diff(J("[1,2,3,4]"), J("[1]"))),
            R"([{"op":"remove","path":"/3"},)"
            R"({"op":"remove","path":"/2"},)"
            R"({"op":"remove","path":"/1"}])");
  EXPECT_EQ(
      bj::serialize(Diff(J(R"({"a":[{"k":1},2]})"), J(R"({"a":[{"k":2}]})"))),
      R"([{"op":"replace","path":"/a/0/k","value":2},)"
      R"({"op":"remove","path":"/a/1"}])");
}

TEST(DiffTest, NestedTypeChangesAreReplacedWhole) {
  EXPECT_EQ(bj::serialize(Diff(J(R"({"a":[1],"b":{"c":1}})"),
                               J(R"({"a":{"0":1},"b":[1]})"))),
            R"([{"op":"replace","path":"/a","value":{"0":1}},)"
            R"({"op":"replace","path":"/b","value":[1]}])");
}

TEST(DiffTest, KeysWithSlashAndTildeAreEscaped) {
  const bj::value from = J(R"({"a/b":1,"m~n":{"~1":2},"":0,"gone/~":1})");
  const bj::value to = J(R"({"a/b":3,"m~n":{"~1":4},"":5,"~/":6})");
  const bj::array patch = Diff(from, to);
  EXPECT_EQ(bj::serialize(patch),
            R"([{"op":"remove","path":"/gone~1~0"},)"
            R"({"op":"replace","path":"/a~1b","value":3},)"
            R"({"op":"replace","path":"/m~0n/~01","value":4},)"
            R"({"op":"replace","path":"/","value":5},)"
            R"({"op":"add","path":"/~0~1","value":6}])");
  Result<bj::value> r = ApplyPatch(from, patch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, to);
}

TEST(DiffTest, NumbersCompareByValue) {
  EXPECT_TRUE(Diff(bj::value(int64_t{5}), bj::value(uint64_t{5})).empty());
  EXPECT_TRUE(Diff(bj::value(1), bj::value(1.0)).empty());
  EXPECT_TRUE(Diff(J(R"({"a":[1,2.0]})"), J(R"({"a":[1.0,2]})")).empty());
  EXPECT_TRUE(Diff(bj::value(0), bj::value(-0.0)).empty());
  EXPECT_TRUE(Diff(bj::value(uint64_t{1} << 63), bj::value(0x1p63)).empty());
  EXPECT_EQ(Diff(bj::value(1), bj::value(1.5)),
            Patch(R"([{"op":"replace","path":"","value":1.5}])"));
  EXPECT_EQ(Diff(bj::value(-1), bj::value(uint64_t{1})).size(), 1u);
  EXPECT_EQ(
      Diff(bj::value(std::numeric_limits<int64_t>::min()), bj::value(-0x1p63))
          .size(),
      0u);
  EXPECT_EQ(
      Diff(bj::value(std::numeric_limits<uint64_t>::max()), bj::value(0x1p64))
          .size(),
      1u);
  EXPECT_EQ(
      Diff(bj::value(std::numeric_limits<int64_t>::max()), bj::value(0x1p63))
          .size(),
      1u);
}

TEST(DiffTest, IsDeterministic) {
  const bj::value from = J(R"({"x":[1,{"y":2}],"z":{"a":1,"b":2},"q":0})");
  const bj::value to = J(R"({"z":{"b":3,"c":4},"x":[1,{"y":3},5],"w":[]})");
  const std::string first = bj::serialize(Diff(from, to));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(bj::serialize(Diff(from, to)), first);
}

// ---- Property: ApplyPatch(from, Diff(from, to)) == to ----

// Random JSON documents whose numbers never collide across kinds (no integral
// doubles), so Boost's equality agrees with value equality.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }

  std::string Key() {
    static const char* const kKeys[] = {"a",  "b",  "c",   "/",    "~",
                                        "~1", "~0", "a/b", "m~n",  "",
                                        "0",  "-",  "10",  "x~/y", "k"};
    return kKeys[Uniform(0, static_cast<int>(std::size(kKeys)) - 1)];
  }

  bj::value Scalar() {
    switch (Uniform(0, 6)) {
      case 0:
        return nullptr;
      case 1:
        return Chance(50);
      case 2:
        return int64_t{Uniform(-3, 3)};
      case 3:
        return (uint64_t{1} << 63) + static_cast<uint64_t>(Uniform(0, 2));
      case 4:
        return Uniform(-3, 3) + 0.25 * Uniform(1, 3);
      default: {
        std::string s = Key();
        if (Chance(30)) s += std::to_string(Uniform(0, 9));
        return bj::value(s);
      }
    }
  }

  // A value nesting at most `depth` more containers.
  bj::value Value(int depth) {
    if (depth == 0 || Chance(35)) return Scalar();
    if (Chance(50)) {
      bj::object o;
      for (int n = Uniform(0, 4); n > 0; --n) o[Key()] = Value(depth - 1);
      return o;
    }
    bj::array a;
    for (int n = Uniform(0, 4); n > 0; --n) a.push_back(Value(depth - 1));
    return a;
  }

  // Changes something somewhere in `v`, a value at `depth` (root is 0).
  void Mutate(bj::value& v, int depth) {
    const int room = std::max(0, 4 - depth);
    if (bj::object* o = v.if_object()) {
      if (!o->empty() && Chance(55)) {
        auto it = o->begin() + Uniform(0, static_cast<int>(o->size()) - 1);
        return Mutate(it->value(), depth + 1);
      }
      switch (Uniform(0, 3)) {
        case 0:
          (*o)[Key()] = Value(room);
          return;
        case 1:
          if (!o->empty()) {
            o->erase(o->begin() + Uniform(0, static_cast<int>(o->size()) - 1));
            return;
          }
          break;
        case 2: {
          // Same members in another order: no change at all for Diff.
          bj::object shuffled;
          std::vector<bj::key_value_pair*> members;
          for (auto& kv : *o) members.push_back(&kv);
          std::shuffle(members.begin(), members.end(), rng_);
          for (auto* kv : members) shuffled[kv->key()] = kv->value();
          *o = std::move(shuffled);
          return;
        }
        default:
          break;
      }
      v = Value(room);
      return;
    }
    if (bj::array* a = v.if_array()) {
      if (!a->empty() && Chance(55)) {
        return Mutate((*a)[Uniform(0, static_cast<int>(a->size()) - 1)],
                      depth + 1);
      }
      const int n = static_cast<int>(a->size());
      switch (Uniform(0, 5)) {
        case 0:
          a->push_back(Value(room));
          return;
        case 1:
          if (n > 0) {
            a->pop_back();
            return;
          }
          break;
        case 2:
          a->insert(a->begin() + Uniform(0, n), Value(room));
          return;
        case 3:
          if (n > 0) {
            a->erase(a->begin() + Uniform(0, n - 1));
            return;
          }
          break;
        case 4:
          if (n > 0) {
            for (int k = Uniform(1, n); k > 0; --k) a->pop_back();
            return;
          }
          break;
        default:
          break;
      }
      v = Value(room);
      return;
    }
    v = Chance(50) ? Scalar() : Value(room);
  }

 private:
  std::mt19937 rng_;
};

// Checks Diff and ApplyPatch on one (from, to) pair.
void CheckPair(const bj::value& from, const bj::value& to) {
  const bj::array patch = Diff(from, to);
  EXPECT_EQ(patch.empty(), from == to) << bj::serialize(patch);

  for (const bj::value& op_value : patch) {
    const bj::object& op = op_value.as_object();
    const std::string_view name = op.at("op").as_string();
    ASSERT_TRUE(name == "add" || name == "remove" || name == "replace")
        << bj::serialize(op);
    ASSERT_EQ(op.begin()->key(), "op");
    ASSERT_EQ((op.begin() + 1)->key(), "path");
    ASSERT_EQ(op.size(), name == "remove" ? 2u : 3u) << bj::serialize(op);
    if (name != "remove") {
      ASSERT_EQ((op.begin() + 2)->key(), "value");
    }
  }

  Result<bj::value> applied = ApplyPatch(from, patch);
  ASSERT_TRUE(applied.ok())
      << applied.status().ToString() << "\npatch " << bj::serialize(patch);
  EXPECT_EQ(*applied, to) << "patch " << bj::serialize(patch) << "\ngot "
                          << bj::serialize(*applied);

  // The patch survives serialisation (escaped paths round-trip as text).
  Result<bj::value> reparsed =
      ApplyPatch(from, bj::parse(bj::serialize(patch)).as_array());
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString();
  EXPECT_EQ(*reparsed, to);

  EXPECT_EQ(bj::serialize(Diff(from, to)), bj::serialize(patch));
  EXPECT_TRUE(Diff(from, from).empty());
  EXPECT_TRUE(Diff(to, to).empty());

  // And back again.
  Result<bj::value> back = ApplyPatch(to, Diff(to, from));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, from);
}

TEST(DiffPropertyTest, ApplyingTheDiffGivesTheTarget) {
  int nonempty_patches = 0;
  for (uint32_t seed : {1u, 7u, 42u, 20240601u}) {
    RandomJson gen(seed);
    for (int i = 0; i < 500; ++i) {
      const bj::value from = gen.Value(4);
      bj::value to = from;
      for (int n = gen.Uniform(0, 4); n > 0; --n) gen.Mutate(to, 0);
      SCOPED_TRACE("seed " + std::to_string(seed) + " iteration " +
                   std::to_string(i) + "\nfrom " + bj::serialize(from) +
                   "\nto   " + bj::serialize(to));
      CheckPair(from, to);
      if (HasFailure()) return;
      if (from != to) ++nonempty_patches;
    }
  }
  // The generator exercises real changes, not just identities.
  EXPECT_GT(nonempty_patches, 1000);
}

TEST(DiffPropertyTest, UnrelatedDocuments) {
  RandomJson gen(99);
  for (int i = 0; i < 500; ++i) {
    const bj::value from = gen.Value(4);
    const bj::value to = gen.Value(4);
    SCOPED_TRACE("iteration " + std::to_string(i) + "\nfrom " +
                 bj::serialize(from) + "\nto   " + bj::serialize(to));
    CheckPair(from, to);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace agentry::json
