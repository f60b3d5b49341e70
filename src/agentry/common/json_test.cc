#include "agentry/common/json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace agentry::json {
namespace {

namespace bj = boost::json;

// Expects `text` to be refused with InvalidRequest at `field`, with a message
// containing `message_part`.
void ExpectRefused(std::string_view text, std::string_view field,
                   std::string_view message_part) {
  SCOPED_TRACE(std::string(text));
  Result<bj::value> r = ParseStrict(text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.status().field(), field);
  EXPECT_NE(r.status().message().find(message_part), std::string::npos)
      << r.status().message();
}

std::string Nested(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// ---- ParseStrict: accepted documents ----

TEST(ParseStrictTest, ParsesEveryKindOfValue) {
  Result<bj::value> r = ParseStrict(
      R"( {"s":"x","i":-3,"u":18446744073709551615,"d":1.5,"t":true,)"
      R"("f":false,"n":null,"a":[1,[2],{}],"o":{"k":"v"}} )");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const bj::object& o = r->as_object();
  EXPECT_EQ(o.at("s").as_string(), "x");
  EXPECT_EQ(o.at("i").as_int64(), -3);
  EXPECT_EQ(o.at("u").as_uint64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(o.at("d").as_double(), 1.5);
  EXPECT_EQ(o.at("t").as_bool(), true);
  EXPECT_EQ(o.at("f").as_bool(), false);
  EXPECT_TRUE(o.at("n").is_null());
  EXPECT_EQ(Serialize(o.at("a")), "[1,[2],{}]");
  EXPECT_EQ(o.at("o").at("k").as_string(), "v");
}

TEST(ParseStrictTest, KeepsMemberOrder) {
  Result<bj::value> r = ParseStrict(R"({"z":1,"a":2,"m":{"y":1,"b":2}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Serialize(*r), R"({"z":1,"a":2,"m":{"y":1,"b":2}})");
}

TEST(ParseStrictTest, ScalarsAtTheRoot) {
  EXPECT_EQ(ParseStrict("42")->as_int64(), 42);
  EXPECT_EQ(ParseStrict("\"hi\"")->as_string(), "hi");
  EXPECT_TRUE(ParseStrict("null")->is_null());
  EXPECT_EQ(ParseStrict(" true\n")->as_bool(), true);
  EXPECT_EQ(ParseStrict("-0.25")->as_double(), -0.25);
}

TEST(ParseStrictTest, EmptyContainers) {
  EXPECT_TRUE(ParseStrict("{}")->as_object().empty());
  EXPECT_TRUE(ParseStrict("[]")->as_array().empty());
  EXPECT_EQ(Serialize(*ParseStrict("[[],{},[{}]]")), "[[],{},[{}]]");
}

TEST(ParseStrictTest, BigIntegers) {
  Result<bj::value> max = ParseStrict("18446744073709551615");
  ASSERT_TRUE(max.ok());
  ASSERT_TRUE(max->is_uint64());
  EXPECT_EQ(max->as_uint64(), std::numeric_limits<uint64_t>::max());

  Result<bj::value> min = ParseStrict("-9223372036854775808");
  ASSERT_TRUE(min.ok());
  ASSERT_TRUE(min->is_int64());
  EXPECT_EQ(min->as_int64(), std::numeric_limits<int64_t>::min());

  Result<bj::value> above = ParseStrict("18446744073709551616");
  ASSERT_TRUE(above.ok());
  ASSERT_TRUE(above->is_double());
  EXPECT_EQ(above->as_double(), 18446744073709551616.0);

  Result<bj::value> e20 = ParseStrict("1e20");
  ASSERT_TRUE(e20.ok());
  ASSERT_TRUE(e20->is_double());
  EXPECT_EQ(e20->as_double(), 1e20);

  Result<bj::value> many_digits = ParseStrict("1" + std::string(300, '0'));
  ASSERT_TRUE(many_digits.ok());
  EXPECT_EQ(many_digits->as_double(), 1e300);
}

TEST(ParseStrictTest, LargestAndTinyDoublesAreFinite) {
  Result<bj::value> big = ParseStrict("1.7976931348623157e308");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->as_double(), std::numeric_limits<double>::max());
  // Underflow rounds to zero, which is a finite number.
  Result<bj::value> tiny = ParseStrict("1e-400");
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->as_double(), 0.0);
}

TEST(ParseStrictTest, EscapedNulIsAccepted) {
  Result<bj::value> r = ParseStrict(R"({"s":"a\u0000b"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const bj::string& s = r->as_object().at("s").as_string();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[1], '\0');
}

TEST(ParseStrictTest, EscapesAndUnicode) {
  Result<bj::value> r = ParseStrict(
      R"(["\"\\\/\b\f\n\r\t", "\u00e9", "\ud83d\ude00", "é😀", "\u20AC"])");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const bj::array& a = r->as_array();
  EXPECT_EQ(a[0].as_string(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(a[1].as_string(), "\xc3\xa9");
  EXPECT_EQ(a[2].as_string(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(a[3].as_string(), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(a[4].as_string(), "\xe2\x82\xac");
}

TEST(ParseStrictTest, EscapedKeysAreAssembled) {
  // Escapes make the parser deliver keys and strings in parts.
  Result<bj::value> r =
      ParseStrict(R"({"a\nb":"x\ty","\u0063d":"long\u0020string"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const bj::object& o = r->as_object();
  EXPECT_EQ(o.at("a\nb").as_string(), "x\ty");
  EXPECT_EQ(o.at("cd").as_string(), "long string");
}

TEST(ParseStrictTest, LongEscapedStringIsAssembled) {
  // Longer than the parser's internal buffer, so it comes in many parts.
  std::string body = "\"";
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    body += "ab\\n";
    expected += "ab\n";
  }
  body += "\"";
  Result<bj::value> r = ParseStrict(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->as_string(), expected);
}

TEST(ParseStrictTest, EscapedDuplicateKeyIsStillADuplicate) {
  ExpectRefused(R"({"ab":1,"a\u0062":2})", "ab", "duplicate key \"ab\"");
}

// ---- ParseStrict: duplicates ----

TEST(ParseStrictTest, DuplicateKeyAtTopLevel) {
  ExpectRefused(R"({"a":1,"a":2})", "a", "duplicate key \"a\"");
}

TEST(ParseStrictTest, DuplicateKeyNested) {
  ExpectRefused(R"({"a":{"b":1,"b":2}})", "a.b", "duplicate key \"b\"");
  ExpectRefused(R"({"x":1,"model":{"parameters":{"t":1,"u":{},"t":2}}})",
                "model.parameters.t", "duplicate key \"t\"");
}

TEST(ParseStrictTest, DuplicateKeyInsideArray) {
  ExpectRefused(
      R"({"input_fields":[{"slug":"a"},{"slug":"b"},{"slug":"c","slug":"d"}]})",
      "input_fields[2].slug", "duplicate key \"slug\"");
  ExpectRefused(R"([[1],[2,{"k":1,"k":1}]])", "[1][1].k", "duplicate key");
}

TEST(ParseStrictTest, SameKeyInSiblingObjectsIsFine) {
  Result<bj::value> r = ParseStrict(R"([{"a":1},{"a":2},{"b":{"a":3}}])");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->as_array()[1].as_object().at("a").as_int64(), 2);
}

TEST(ParseStrictTest, ManyKeysNoFalseDuplicates) {
  std::string body = "{";
  for (int i = 0; i < 1000; ++i) {
    if (i) body += ",";
    body += "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  Result<bj::value> ok = ParseStrict(body + "}");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->as_object().size(), 1000u);
  EXPECT_EQ(ok->as_object().at("k999").as_int64(), 999);
  ExpectRefused(body + ",\"k500\":0}", "k500", "duplicate key \"k500\"");
}

// ---- ParseStrict: depth ----

TEST(ParseStrictTest, Depth64IsAccepted) {
  Result<bj::value> r = ParseStrict(Nested(64));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string objects;
  for (int i = 0; i < 63; ++i) objects += "{\"a\":";
  objects += "{}" + std::string(63, '}');
  EXPECT_TRUE(ParseStrict(objects).ok());
}

TEST(ParseStrictTest, Depth65IsRefused) {
  Result<bj::value> r = ParseStrict(Nested(65));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.status().message(), "nesting deeper than 64");
  EXPECT_EQ(r.status().field(),
            "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
            "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
            "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
            "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
            "[0][0][0][0]");
}

TEST(ParseStrictTest, DepthLimitNamesThePath) {
  std::string objects;
  for (int i = 0; i < 64; ++i) objects += "{\"a\":";
  objects += "{}" + std::string(64, '}');
  Result<bj::value> r = ParseStrict(objects);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "nesting deeper than 64");
  std::string path = "a";
  for (int i = 1; i < 64; ++i) path += ".a";
  EXPECT_EQ(r.status().field(), path);
}

TEST(ParseStrictTest, CustomDepthLimit) {
  ParseLimits limits;
  limits.max_depth = 2;
  EXPECT_TRUE(ParseStrict("[[1]]", limits).ok());
  Result<bj::value> r = ParseStrict(R"({"a":[{"b":1}]})", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "nesting deeper than 2");
  EXPECT_EQ(r.status().field(), "a[0]");

  ParseLimits deep;
  deep.max_depth = 100;
  EXPECT_TRUE(ParseStrict(Nested(100), deep).ok());
  Result<bj::value> too_deep = ParseStrict(Nested(101), deep);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.status().message(), "nesting deeper than 100");
}

// ---- ParseStrict: numbers ----

TEST(ParseStrictTest, NumbersOutOfRangeAreRefused) {
  ExpectRefused("1e400", "", "number out of range");
  ExpectRefused("-1e400", "", "number out of range");
  ExpectRefused("1" + std::string(400, '0'), "", "number out of range");
  ExpectRefused(R"({"model":{"t":1e400}})", "model.t", "number out of range");
  ExpectRefused(R"({"a":[0,1,-1e400]})", "a[2]", "number out of range");
  // An exponent too large for the parser itself.
  ExpectRefused(R"({"x":1e99999999999})", "x", "number out of range");
}

TEST(ParseStrictTest, NonFiniteLiteralsAreRefused) {
  ExpectRefused("NaN", "", "malformed JSON");
  ExpectRefused("Infinity", "", "malformed JSON");
  ExpectRefused("-Infinity", "", "malformed JSON");
  ExpectRefused(R"({"x":NaN})", "x", "malformed JSON");
}

TEST(ParseStrictTest, MalformedNumbersAreRefused) {
  ExpectRefused("01", "", "malformed JSON");
  ExpectRefused("+1", "", "malformed JSON");
  ExpectRefused("1.", "", "malformed JSON");
  ExpectRefused(".5", "", "malformed JSON");
  ExpectRefused("0x10", "", "malformed JSON");
}

// ---- ParseStrict: UTF-8 ----

TEST(ParseStrictTest, InvalidUtf8IsRefused) {
  ExpectRefused("\"\xff\"", "", "invalid UTF-8 in string");
  ExpectRefused("{\"name\":\"ab\xff\"}", "name", "invalid UTF-8 in string");
  // Overlong encoding of '/'.
  ExpectRefused("{\"a\":[\"ok\",\"\xc0\xaf\"]}", "a[1]",
                "invalid UTF-8 in string");
  // A surrogate encoded directly in UTF-8 (U+D800).
  ExpectRefused("\"\xed\xa0\x80\"", "", "invalid UTF-8 in string");
  // Above U+10FFFF.
  ExpectRefused("\"\xf4\x90\x80\x80\"", "", "invalid UTF-8 in string");
  // A lone continuation byte.
  ExpectRefused("\"a\x80z\"", "", "invalid UTF-8 in string");
  // A sequence cut short by the closing quote, and by the end of input.
  ExpectRefused("{\"s\":\"\xe2\x82\"}", "s", "invalid UTF-8 in string");
  ExpectRefused("\"ab\xe2", "", "invalid UTF-8 in string");
}

TEST(ParseStrictTest, InvalidUtf8InKeyIsRefused) {
  ExpectRefused("{\"a\":{\"k\xff\":1}}", "a", "invalid UTF-8 in string");
}

TEST(ParseStrictTest, InvalidUtf8OutsideStringIsRefused) {
  ExpectRefused("[1,\xff]", "[1]", "invalid UTF-8");
}

TEST(ParseStrictTest, LoneSurrogateEscapesAreRefused) {
  ExpectRefused(R"("\ud800")", "", "unpaired UTF-16 surrogate");
  ExpectRefused(R"({"s":"x\uDBFFy"})", "s", "unpaired UTF-16 surrogate");
  ExpectRefused(R"({"s":"\udc00"})", "s", "unpaired UTF-16 surrogate");
  ExpectRefused(R"(["\ud800\u0041"])", "[0]", "unpaired UTF-16 surrogate");
  ExpectRefused(R"(["\ud800\ud800"])", "[0]", "unpaired UTF-16 surrogate");
}

TEST(ParseStrictTest, EscapedBackslashBeforeULooksLikeNoSurrogate) {
  // "\\ud800" is a backslash followed by the text "ud800".
  Result<bj::value> r = ParseStrict(R"("\\ud800")");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->as_string(), "\\ud800");
}

TEST(ParseStrictTest, RawControlCharacterInStringIsRefused) {
  ExpectRefused("{\"a\":\"x\ny\"}", "a",
                "control character in string must be escaped");
}

// ---- ParseStrict: syntax ----

TEST(ParseStrictTest, EmptyBodyIsRefused) {
  ExpectRefused("", "", "empty body");
  ExpectRefused(" \t\r\n ", "", "empty body");
}

TEST(ParseStrictTest, TrailingGarbageIsRefused) {
  ExpectRefused("{} x", "", "unexpected data after the document at offset 3");
  ExpectRefused("{}{}", "", "unexpected data after the document");
  ExpectRefused("1 2", "", "unexpected data after the document");
  ExpectRefused("[1]]", "", "unexpected data after the document");
  EXPECT_TRUE(ParseStrict("{}\r\n\t ").ok());
}

TEST(ParseStrictTest, TrailingCommasAreRefused) {
  ExpectRefused("[1,2,]", "[2]", "malformed JSON");
  ExpectRefused(R"({"a":1,})", "", "malformed JSON");
  ExpectRefused(R"({"a":[1,],"b":2})", "a[1]", "malformed JSON");
}

TEST(ParseStrictTest, CommentsAreRefused) {
  ExpectRefused("// c\n{}", "", "malformed JSON");
  ExpectRefused("{/* c */}", "", "malformed JSON");
  ExpectRefused("{\"a\":1 // c\n}", "", "malformed JSON");
}

TEST(ParseStrictTest, SyntaxErrorsNameWhere) {
  ExpectRefused(R"({"a":tru})", "a", "malformed JSON: syntax error at offset");
  ExpectRefused(R"({"a":{"b":[1,2,x]}})", "a.b[2]", "malformed JSON");
  ExpectRefused(R"({'a':1})", "", "malformed JSON");
  ExpectRefused(R"({a:1})", "", "malformed JSON");
  ExpectRefused(R"({"a" 1})", "a", "malformed JSON");
  ExpectRefused(R"("\x")", "", "malformed JSON: invalid escape sequence");
  ExpectRefused(R"({"k":["\'"]})", "k[0]", "invalid escape sequence");
  ExpectRefused(R"("\u12G4")", "", "malformed JSON");
}

TEST(ParseStrictTest, TruncatedDocumentsAreRefused) {
  ExpectRefused(R"({"a":[1,2)", "a[2]", "unexpected end of input");
  ExpectRefused(R"({"a":)", "a", "unexpected end of input");
  ExpectRefused(R"({"a)", "", "unexpected end of input");
  ExpectRefused(R"("abc)", "", "unexpected end of input");
  ExpectRefused("[", "[0]", "unexpected end of input");
}

TEST(ParseStrictTest, ParsingTwiceGivesIndependentResults) {
  Result<bj::value> a = ParseStrict(R"({"k":[1]})");
  Result<bj::value> b = ParseStrict(R"({"k":[2]})");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Serialize(*a), R"({"k":[1]})");
  EXPECT_EQ(Serialize(*b), R"({"k":[2]})");
}

// ---- ParseStrictObject ----

TEST(ParseStrictObjectTest, AcceptsAnObject) {
  Result<bj::object> r = ParseStrictObject(R"({"a":{"b":[1,"x"]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("a").at("b").as_array()[1].as_string(), "x");
}

TEST(ParseStrictObjectTest, EmptyObjectsWithAndWithoutSpace) {
  for (const char* text : {"{}", " {}", "{ }", "{}\n"}) {
    Result<bj::object> r = ParseStrictObject(text);
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_TRUE(r->empty()) << text;
  }
  EXPECT_FALSE(ParseStrictObject("{}}").ok());
  EXPECT_FALSE(ParseStrictObject("{} {}").ok());
}

TEST(ParseStrictObjectTest, RefusesOtherDocuments) {
  for (const char* text : {"[]", "1", "\"x\"", "null", "true"}) {
    Result<bj::object> r = ParseStrictObject(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidRequest);
    EXPECT_EQ(r.status().message(), "request body must be a JSON object");
    EXPECT_EQ(r.status().field(), "");
  }
}

TEST(ParseStrictObjectTest, PassesParseErrorsThrough) {
  Result<bj::object> r = ParseStrictObject(R"({"a":1,"a":2})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "a");
  EXPECT_EQ(ParseStrictObject("").status().message(), "empty body");
}

// ---- helpers ----

TEST(JsonHelpersTest, TypeName) {
  EXPECT_EQ(TypeName(bj::value("s")), "string");
  EXPECT_EQ(TypeName(bj::value(int64_t{1})), "number");
  EXPECT_EQ(TypeName(bj::value(uint64_t{1})), "number");
  EXPECT_EQ(TypeName(bj::value(1.5)), "number");
  EXPECT_EQ(TypeName(bj::value(true)), "boolean");
  EXPECT_EQ(TypeName(bj::value(nullptr)), "null");
  EXPECT_EQ(TypeName(bj::value(bj::array_kind)), "array");
  EXPECT_EQ(TypeName(bj::value(bj::object_kind)), "object");
}

TEST(JsonHelpersTest, Utf8Length) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("\xc3\xa9"), 1u);          // é
  EXPECT_EQ(Utf8Length("\xe2\x82\xac"), 1u);      // €
  EXPECT_EQ(Utf8Length("\xf0\x9f\x98\x80"), 1u);  // 😀
  EXPECT_EQ(Utf8Length("a\xc3\xa9\xf0\x9f\x98\x80z"), 4u);
  EXPECT_EQ(Utf8Length(std::string_view("a\0b", 3)), 3u);
}

TEST(JsonHelpersTest, Serialize) {
  bj::object o;
  o["a"] = 1;
  o["b"] = bj::array{true, nullptr, "x\"y"};
  EXPECT_EQ(Serialize(o), R"({"a":1,"b":[true,null,"x\"y"]})");
  EXPECT_EQ(Serialize(bj::value("\xc3\xa9")), "\"\xc3\xa9\"");
}

TEST(JsonHelpersTest, SerializeRoundTrips) {
  const std::string text = R"({"a":[1,-2,3.5,"\u0000",{"b":null}],"c":"é"})";
  Result<bj::value> first = ParseStrict(text);
  ASSERT_TRUE(first.ok());
  Result<bj::value> second = ParseStrict(Serialize(*first));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*first, *second);
}

TEST(JsonHelpersTest, JoinAndIndex) {
  EXPECT_EQ(Join("model", "name"), "model.name");
  EXPECT_EQ(Join("", "name"), "name");
  EXPECT_EQ(Join("a.b", "c"), "a.b.c");
  EXPECT_EQ(Index("input_fields", 2), "input_fields[2]");
  EXPECT_EQ(Index("", 2), "[2]");
  EXPECT_EQ(Join(Index("input_fields", 0), "slug"), "input_fields[0].slug");
  EXPECT_EQ(Index(Index("m", 1), 10), "m[1][10]");
}

// ---- ObjectReader ----

bj::object Obj(std::string_view text) {
  Result<bj::object> r = ParseStrictObject(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : bj::object();
}

void ExpectStatus(const Status& s, std::string_view field,
                  std::string_view message) {
  EXPECT_EQ(s.code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(s.field(), field);
  EXPECT_EQ(s.message(), message);
}

TEST(ObjectReaderTest, StringHappyPath) {
  bj::object o = Obj(R"({"name":"agent é"})");
  ObjectReader r(o);
  Result<std::string> name = r.String("name");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "agent \xc3\xa9");
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ObjectReaderTest, StringRequired) {
  bj::object o = Obj(R"({"nul":null})");
  ObjectReader r(o);
  ExpectStatus(r.String("name").status(), "name", "\"name\" is required");
  ExpectStatus(r.String("nul").status(), "nul", "\"nul\" is required");
}

TEST(ObjectReaderTest, StringWrongType) {
  bj::object o = Obj(R"({"name":5,"b":true,"a":["x"],"o":{}})");
  ObjectReader r(o);
  ExpectStatus(r.String("name").status(), "name", "\"name\" must be a string");
  ExpectStatus(r.String("b").status(), "b", "\"b\" must be a string");
  ExpectStatus(r.OptString("a").status(), "a", "\"a\" must be a string");
  ExpectStatus(r.OptString("o").status(), "o", "\"o\" must be a string");
}

TEST(ObjectReaderTest, StringLengthCountsCodePoints) {
  bj::object o = Obj(R"({"ok":"ééé","long":"abcd","empty":""})");
  ObjectReader r(o);
  StringRules three;
  three.max_chars = 3;
  Result<std::string> ok = r.String("ok", three);  // 6 bytes, 3 characters
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "\xc3\xa9\xc3\xa9\xc3\xa9");
  ExpectStatus(r.String("long", three).status(), "long",
               "\"long\" must be at most 3 characters");

  StringRules non_empty;
  non_empty.min_chars = 1;
  ExpectStatus(r.String("empty", non_empty).status(), "empty",
               "\"empty\" must not be empty");
  StringRules at_least_5;
  at_least_5.min_chars = 5;
  ExpectStatus(r.String("long", at_least_5).status(), "long",
               "\"long\" must be at least 5 characters");
  // Default rules accept the empty string.
  Result<std::string> empty = r.String("empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(ObjectReaderTest, StringMaxCharsBoundary) {
  bj::object o = Obj(R"({"name":")" + std::string(64, 'x') + R"(","x":")" +
                     std::string(65, 'x') + R"("})");
  ObjectReader r(o);
  StringRules rules;
  rules.max_chars = 64;
  EXPECT_TRUE(r.String("name", rules).ok());
  ExpectStatus(r.String("x", rules).status(), "x",
               "\"x\" must be at most 64 characters");
}

TEST(ObjectReaderTest, ControlCharacters) {
  bj::object o =
      Obj(R"({"nl":"a\nb","tab":"a\tb","cr":"a\rb","nul":"a\u0000b",)"
          R"("esc":"a\u001bb","del":"a\u007fb","c1":"a\u0085b"})");
  ObjectReader r(o);
  for (const char* name : {"nl", "tab", "cr", "nul", "esc", "del"}) {
    Result<std::string> s = r.String(name);
    ASSERT_FALSE(s.ok()) << name;
    ExpectStatus(
        s.status(), name,
        "\"" + std::string(name) + "\" must not contain control characters");
  }
  StringRules free_text;
  free_text.allow_newlines = true;
  EXPECT_EQ(*r.String("nl", free_text), "a\nb");
  EXPECT_EQ(*r.String("tab", free_text), "a\tb");
  EXPECT_EQ(*r.String("cr", free_text), "a\rb");
  EXPECT_FALSE(r.String("nul", free_text).ok());
  EXPECT_FALSE(r.String("esc", free_text).ok());
  EXPECT_FALSE(r.String("del", free_text).ok());
  // Only U+0000–U+001F and U+007F are refused.
  EXPECT_EQ(*r.String("c1"),
            "a\xc2\x85"
            "b");
}

TEST(ObjectReaderTest, OptStringAbsentNullAndPresent) {
  bj::object o = Obj(R"({"a":null,"b":"x"})");
  ObjectReader r(o);
  Result<std::optional<std::string>> absent = r.OptString("missing");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  Result<std::optional<std::string>> null = r.OptString("a");
  ASSERT_TRUE(null.ok());
  EXPECT_FALSE(null->has_value());
  Result<std::optional<std::string>> b = r.OptString("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->value(), "x");
  StringRules two;
  two.min_chars = 2;
  ExpectStatus(r.OptString("b", two).status(), "b",
               "\"b\" must be at least 2 characters");
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ObjectReaderTest, OptBool) {
  bj::object o = Obj(R"({"t":true,"f":false,"n":null,"s":"true","i":1})");
  ObjectReader r(o);
  EXPECT_EQ(r.OptBool("t")->value(), true);
  EXPECT_EQ(r.OptBool("f")->value(), false);
  EXPECT_FALSE(r.OptBool("n")->has_value());
  EXPECT_FALSE(r.OptBool("absent")->has_value());
  ExpectStatus(r.OptBool("s").status(), "s", "\"s\" must be a boolean");
  ExpectStatus(r.OptBool("i").status(), "i", "\"i\" must be a boolean");
}

TEST(ObjectReaderTest, OptIntAccepts) {
  bj::object o =
      Obj(R"({"i":50,"one":1,"max":200,"d":7.0,"neg":-5,"z":0.0,"n":null,)"
          R"("big":9223372036854775807,"small":-9223372036854775808})");
  ObjectReader r(o);
  EXPECT_EQ(r.OptInt("i", 1, 200)->value(), 50);
  EXPECT_EQ(r.OptInt("one", 1, 200)->value(), 1);
  EXPECT_EQ(r.OptInt("max", 1, 200)->value(), 200);
  EXPECT_EQ(r.OptInt("d", 1, 200)->value(), 7);
  EXPECT_EQ(r.OptInt("neg", -10, 10)->value(), -5);
  EXPECT_EQ(r.OptInt("z", 0, 1)->value(), 0);
  EXPECT_FALSE(r.OptInt("n", 1, 200)->has_value());
  EXPECT_FALSE(r.OptInt("absent", 1, 200)->has_value());
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(r.OptInt("big", kMin, kMax)->value(), kMax);
  EXPECT_EQ(r.OptInt("small", kMin, kMax)->value(), kMin);
}

TEST(ObjectReaderTest, OptIntRefuses) {
  bj::object o =
      Obj(R"({"zero":0,"over":201,"frac":1.5,"bool":true,"str":"5","arr":[5],)"
          R"("huge":18446744073709551615,"e20":1e20,"negd":-1e19})");
  ObjectReader r(o);
  const std::string expect = " must be an integer between 1 and 200";
  for (const char* name :
       {"zero", "over", "frac", "bool", "str", "arr", "huge", "e20", "negd"}) {
    Result<std::optional<int64_t>> v = r.OptInt(name, 1, 200);
    ASSERT_FALSE(v.ok()) << name;
    ExpectStatus(v.status(), name, "\"" + std::string(name) + "\"" + expect);
  }
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(r.OptInt("huge", kMin, kMax).ok());
  EXPECT_FALSE(r.OptInt("e20", kMin, kMax).ok());
  EXPECT_FALSE(r.OptInt("negd", kMin, kMax).ok());
  ExpectStatus(r.OptInt("zero", -3, -1).status(), "zero",
               "\"zero\" must be an integer between -3 and -1");
}

TEST(ObjectReaderTest, OptIntLargeIntegralDouble) {
  bj::object o = Obj(R"({"d":1e18})");
  ObjectReader r(o);
  EXPECT_EQ(r.OptInt("d", 0, std::numeric_limits<int64_t>::max())->value(),
            1000000000000000000);
}

TEST(ObjectReaderTest, OptNumber) {
  bj::object o =
      Obj(R"({"half":0.5,"zero":0,"one":1,"u":18446744073709551615,"n":null,)"
          R"("neg":-0.1,"over":1.0001,"s":"0.5","b":false})");
  ObjectReader r(o);
  EXPECT_EQ(r.OptNumber("half", 0, 1)->value(), 0.5);
  EXPECT_EQ(r.OptNumber("zero", 0, 1)->value(), 0.0);
  EXPECT_EQ(r.OptNumber("one", 0, 1)->value(), 1.0);
  EXPECT_EQ(r.OptNumber("u", 0, 1e20)->value(), 18446744073709551615.0);
  EXPECT_FALSE(r.OptNumber("n", 0, 1)->has_value());
  EXPECT_FALSE(r.OptNumber("absent", 0, 1)->has_value());
  for (const char* name : {"neg", "over", "s", "b"}) {
    Result<std::optional<double>> v = r.OptNumber(name, 0, 1);
    ASSERT_FALSE(v.ok()) << name;
    ExpectStatus(
        v.status(), name,
        "\"" + std::string(name) + "\" must be a number between 0 and 1");
  }
  ExpectStatus(r.OptNumber("over", 0, 0.5).status(), "over",
               "\"over\" must be a number between 0 and 0.5");
  ExpectStatus(r.OptNumber("over", -2.5, 1).status(), "over",
               "\"over\" must be a number between -2.5 and 1");
}

TEST(ObjectReaderTest, OptNumberRefusesNonFiniteBuiltInCode) {
  bj::object o;
  o["inf"] = std::numeric_limits<double>::infinity();
  o["nan"] = std::numeric_limits<double>::quiet_NaN();
  ObjectReader r(o);
  const double kHuge = std::numeric_limits<double>::max();
  EXPECT_FALSE(r.OptNumber("inf", -kHuge, kHuge).ok());
  EXPECT_FALSE(r.OptNumber("nan", -kHuge, kHuge).ok());
}

TEST(ObjectReaderTest, OptStringArray) {
  bj::object o = Obj(R"({"scopes":["a","b","c"],"empty":[],"n":null})");
  ObjectReader r(o);
  Result<std::optional<std::vector<std::string>>> s =
      r.OptStringArray("scopes", 10);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ(**s, (std::vector<std::string>{"a", "b", "c"}));
  Result<std::optional<std::vector<std::string>>> e =
      r.OptStringArray("empty", 10);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->has_value());
  EXPECT_TRUE((*e)->empty());
  EXPECT_FALSE(r.OptStringArray("n", 10)->has_value());
  EXPECT_FALSE(r.OptStringArray("absent", 10)->has_value());
  EXPECT_TRUE(r.OptStringArray("scopes", 3).ok());
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ObjectReaderTest, OptStringArrayRefuses) {
  bj::object o =
      Obj(R"({"scopes":["a","b",3],"str":"a","obj":{},"many":["a","b","c"],)"
          R"("long":["ok","toolong"],"ctl":["a\u0001"],"emp":["x",""]})");
  ObjectReader r(o);
  ExpectStatus(r.OptStringArray("scopes", 10).status(), "scopes[2]",
               "\"scopes[2]\" must be a string");
  ExpectStatus(r.OptStringArray("str", 10).status(), "str",
               "\"str\" must be an array of strings");
  ExpectStatus(r.OptStringArray("obj", 10).status(), "obj",
               "\"obj\" must be an array of strings");
  ExpectStatus(r.OptStringArray("many", 2).status(), "many",
               "\"many\" must have at most 2 items");
  StringRules five;
  five.max_chars = 5;
  ExpectStatus(r.OptStringArray("long", 10, five).status(), "long[1]",
               "\"long[1]\" must be at most 5 characters");
  ExpectStatus(r.OptStringArray("ctl", 10).status(), "ctl[0]",
               "\"ctl[0]\" must not contain control characters");
  StringRules non_empty;
  non_empty.min_chars = 1;
  ExpectStatus(r.OptStringArray("emp", 10, non_empty).status(), "emp[1]",
               "\"emp[1]\" must not be empty");
}

TEST(ObjectReaderTest, NestedPathPrefixesEveryField) {
  bj::object doc =
      Obj(R"({"model":{"name":7,"parameters":{"temperature":3}},)"
          R"("input_fields":[{"slug":"ok"},{"slug":"","extra":1}]})");
  const bj::object& model = doc.at("model").as_object();
  ObjectReader mr(model, "model");
  EXPECT_EQ(mr.FieldPath("name"), "model.name");
  ExpectStatus(mr.String("name").status(), "model.name",
               "\"model.name\" must be a string");
  ObjectReader pr(model.at("parameters").as_object(),
                  mr.FieldPath("parameters"));
  ExpectStatus(pr.OptNumber("temperature", 0, 2).status(),
               "model.parameters.temperature",
               "\"model.parameters.temperature\" must be a number between 0 "
               "and 2");

  const bj::array& fields = doc.at("input_fields").as_array();
  ObjectReader fr(fields[1].as_object(), Index("input_fields", 1));
  StringRules non_empty;
  non_empty.min_chars = 1;
  ExpectStatus(fr.String("slug", non_empty).status(), "input_fields[1].slug",
               "\"input_fields[1].slug\" must not be empty");
  ExpectStatus(fr.Finish(), "input_fields[1].extra",
               "unknown field \"input_fields[1].extra\"");
  ObjectReader sr(fields[0].as_object(), Index("", 0));
  ExpectStatus(sr.OptStringArray("slug", 1).status(), "[0].slug",
               "\"[0].slug\" must be an array of strings");
}

TEST(ObjectReaderTest, RawMarksKnownAndReturnsNullValues) {
  bj::object o = Obj(R"({"meta":{"x":1},"n":null})");
  ObjectReader r(o);
  const bj::value* meta = r.Raw("meta");
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->as_object().at("x").as_int64(), 1);
  EXPECT_FALSE(r.Finish().ok());
  const bj::value* n = r.Raw("n");
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(n->is_null());
  EXPECT_EQ(r.Raw("absent"), nullptr);
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ObjectReaderTest, FinishReportsFirstUnknownInDocumentOrder) {
  bj::object o = Obj(R"({"name":"x","zeta":1,"alpha":2,"limit":3})");
  ObjectReader r(o);
  ASSERT_TRUE(r.String("name").ok());
  ASSERT_TRUE(r.OptInt("limit", 1, 10).ok());
  ExpectStatus(r.Finish(), "zeta", "unknown field \"zeta\"");
  ASSERT_TRUE(r.OptInt("zeta", 0, 10).ok());
  ExpectStatus(r.Finish(), "alpha", "unknown field \"alpha\"");
  ASSERT_TRUE(r.OptInt("alpha", 0, 10).ok());
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ObjectReaderTest, FailedAccessorStillMarksKnown) {
  bj::object o = Obj(R"({"limit":"x"})");
  ObjectReader r(o);
  EXPECT_FALSE(r.OptInt("limit", 1, 200).ok());
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ObjectReaderTest, NullMemberStillCountsAsKnownWhenAsked) {
  bj::object o = Obj(R"({"a":null,"b":null})");
  ObjectReader r(o);
  EXPECT_FALSE(r.OptString("a")->has_value());
  ExpectStatus(r.Finish(), "b", "unknown field \"b\"");
}

TEST(ObjectReaderTest, EmptyObjectFinishes) {
  bj::object o;
  ObjectReader r(o, "x");
  EXPECT_TRUE(r.Finish().ok());
  ExpectStatus(r.String("a").status(), "x.a", "\"x.a\" is required");
}

}  // namespace
}  // namespace agentry::json

namespace agentry::json {
namespace {

TEST(SerializeTest, DoublesInShortestForm) {
  EXPECT_EQ(Serialize(boost::json::value(0.1)), "0.1");
  EXPECT_EQ(Serialize(boost::json::value(1500.5)), "1500.5");
  EXPECT_EQ(Serialize(boost::json::value(-2.25)), "-2.25");
  EXPECT_EQ(Serialize(boost::json::value(1e300)), "1e+300");
  EXPECT_EQ(
      Serialize(boost::json::value(std::numeric_limits<double>::infinity())),
      "null");
}

TEST(SerializeTest, NegativeZeroIsWrittenAsZeroSoItsBytesAreStable) {
  // Found by fuzz/json_fuzz.cc: "-0" reads back as the integer 0, written
  // "0"; the first write must already be "0".
  EXPECT_EQ(Serialize(boost::json::value(-0.0)), "0");
  EXPECT_EQ(Serialize(boost::json::value(0.0)), "0");
  auto parsed = ParseStrict(R"({"t":-0.0,"u":-0e0,"v":-0})");
  ASSERT_TRUE(parsed.ok());
  const std::string once = Serialize(*parsed);
  EXPECT_EQ(once, R"({"t":0,"u":0,"v":0})");
  EXPECT_EQ(Serialize(*ParseStrict(once)), once);
}

TEST(SerializeTest, LongNumbersReadBackToTheSameBytes) {
  // Found by fuzz/json_fuzz.cc: Boost.JSON 1.81 read this 109-digit integer
  // as a double whose shortest form then read back as its neighbour.
  const std::string digits(109, '6');
  auto parsed = ParseStrict(digits);
  ASSERT_TRUE(parsed.ok());
  const std::string once = Serialize(*parsed);
  EXPECT_EQ(once, "6.666666666666667e+108");
  EXPECT_EQ(Serialize(*ParseStrict(once)), once);
  EXPECT_EQ(ParseStrict("0.1")->get_double(), 0.1);
  EXPECT_EQ(ParseStrict("1e-400")->get_double(), 0.0);  // underflow: zero
  EXPECT_FALSE(ParseStrict("1e400").ok());
  EXPECT_FALSE(ParseStrict("-1e400").ok());
}

TEST(SerializeTest, EscapesStringsLikeJson) {
  boost::json::object o;
  o["q\"k"] = "a\\b\n\t\x01\u00e9\U0001F916";
  EXPECT_EQ(Serialize(o),
            "{\"q\\\"k\":\"a\\\\b\\n\\t\\u0001\u00e9\U0001F916\"}");
}

TEST(SerializeTest, RoundTripsThroughTheStrictParser) {
  const char* docs[] = {
      R"({"a":[1,-2,3.5,true,false,null,"x"],"b":{"c":{}},"d":[]})",
      R"([18446744073709551615,-9223372036854775808,0.000123])",
      R"("plain")",
  };
  for (const char* text : docs) {
    auto v = ParseStrict(text);
    ASSERT_TRUE(v.ok()) << text;
    auto again = ParseStrict(Serialize(*v));
    ASSERT_TRUE(again.ok()) << Serialize(*v);
    EXPECT_EQ(*again, *v) << text;
  }
  auto v = ParseStrict(R"({"a":[1,2],"b":"x"})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Serialize(*v), R"({"a":[1,2],"b":"x"})");
  EXPECT_EQ(Serialize(v->get_object()), R"({"a":[1,2],"b":"x"})");
}

TEST(AppendStringTest, EscapesAsBoostJsonDoesAtEveryLengthAndOffset) {
  // Every ASCII byte, and multi-byte UTF-8, at each position of strings
  // long and short enough to cross the eight-byte fast path's chunks.
  const std::string alphabet = [] {
    std::string a;
    for (int c = 0; c < 0x80; ++c) a.push_back(static_cast<char>(c));
    return a + "\xc3\xa9\xe2\x82\xac";  // "é€"
  }();
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  for (int round = 0; round < 4000; ++round) {
    const size_t len = next() % 40;
    std::string s;
    while (s.size() < len) {
      // Mostly plain characters (long runs), sometimes anything.
      const size_t pick =
          next() % 8 == 0 ? next() % alphabet.size() : 0x61 + next() % 26;
      if (pick >= 0x80) {
        s += "\xc3\xa9";
      } else {
        s.push_back(alphabet[pick]);
      }
    }
    std::string out = "x";
    AppendString(out, s);
    EXPECT_EQ(out, "x" + bj::serialize(bj::string(s))) << round;
  }
  for (int c = 0; c < 0x80; ++c) {
    for (size_t at = 0; at < 17; ++at) {
      std::string s(17, 'a');
      s[at] = static_cast<char>(c);
      std::string out;
      AppendString(out, s);
      EXPECT_EQ(out, bj::serialize(bj::string(s))) << c << " at " << at;
    }
  }
}

}  // namespace
}  // namespace agentry::json
