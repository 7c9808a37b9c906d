#include "protocol/resp_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "protocol/reply_builder.h"

namespace stockd::protocol {
namespace {

using Type = RespValue::Type;

// Reads exactly one reply that must fill all of `input`.
RespValue ReadAll(std::string_view input) {
  size_t consumed = 0;
  std::string error;
  std::optional<RespValue> value = RespReader::Read(input, &consumed, &error);
  EXPECT_TRUE(value.has_value()) << "error: " << error << " input: " << input;
  EXPECT_EQ(consumed, input.size());
  return value.value_or(RespValue{});
}

std::string ReadError(std::string_view input) {
  size_t consumed = 7;
  std::string error;
  EXPECT_FALSE(RespReader::Read(input, &consumed, &error).has_value()) << input;
  EXPECT_EQ(consumed, 0u);
  EXPECT_FALSE(error.empty()) << input;
  return error;
}

TEST(RespReaderTest, ScalarTypes) {
  EXPECT_EQ(ReadAll("+OK\r\n").type, Type::kSimpleString);
  EXPECT_EQ(ReadAll("+OK\r\n").str, "OK");
  EXPECT_EQ(ReadAll("-ERR no\r\n").type, Type::kError);
  EXPECT_EQ(ReadAll("-ERR no\r\n").str, "ERR no");
  EXPECT_EQ(ReadAll(":-12\r\n").integer, -12);
  EXPECT_EQ(ReadAll(":+12\r\n").integer, 12);
  EXPECT_EQ(ReadAll(":9223372036854775807\r\n").integer, INT64_MAX);
  EXPECT_EQ(ReadAll("$5\r\nhello\r\n").str, "hello");
  EXPECT_EQ(ReadAll("$0\r\n\r\n").type, Type::kBulk);
  EXPECT_EQ(ReadAll(std::string("$4\r\n\r\n\0x\r\n", 10)).str, std::string("\r\n\0x", 4));
  EXPECT_EQ(ReadAll("$-1\r\n").type, Type::kNull);
  EXPECT_EQ(ReadAll("*-1\r\n").type, Type::kNull);
  EXPECT_EQ(ReadAll("_\r\n").type, Type::kNull);
  EXPECT_EQ(ReadAll(",3.25\r\n").type, Type::kDouble);
  EXPECT_EQ(ReadAll(",3.25\r\n").str, "3.25");
  EXPECT_EQ(ReadAll(",-inf\r\n").str, "-inf");
  EXPECT_EQ(ReadAll(",nan\r\n").str, "nan");
  EXPECT_EQ(ReadAll(",1e400\r\n").str, "1e400");
  EXPECT_EQ(ReadAll("#t\r\n").integer, 1);
  EXPECT_EQ(ReadAll("#f\r\n").type, Type::kBool);
  EXPECT_EQ(ReadAll("#f\r\n").integer, 0);
  EXPECT_EQ(ReadAll("(3492890328409238509324850943850943825024385\r\n").str,
            "3492890328409238509324850943850943825024385");
  EXPECT_EQ(ReadAll("(-1\r\n").type, Type::kBigNumber);
  EXPECT_EQ(ReadAll("!5\r\nERR x\r\n").type, Type::kError);
  EXPECT_EQ(ReadAll("!5\r\nERR x\r\n").str, "ERR x");
}

TEST(RespReaderTest, VerbatimDropsTheFormatPrefix) {
  const RespValue value = ReadAll("=15\r\ntxt:Some string\r\n");
  EXPECT_EQ(value.type, Type::kVerbatim);
  EXPECT_EQ(value.str, "Some string");
  EXPECT_EQ(ReadAll("=4\r\nmkd:\r\n").str, "");
}

TEST(RespReaderTest, Aggregates) {
  const RespValue array = ReadAll("*3\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n");
  ASSERT_EQ(array.type, Type::kArray);
  ASSERT_EQ(array.elements.size(), 3u);
  EXPECT_EQ(array.elements[0].integer, 1);
  EXPECT_EQ(array.elements[1].str, "a");
  ASSERT_EQ(array.elements[2].elements.size(), 1u);
  EXPECT_EQ(array.elements[2].elements[0].str, "x");

  const RespValue map = ReadAll("%2\r\n+a\r\n:1\r\n+b\r\n_\r\n");
  ASSERT_EQ(map.type, Type::kMap);
  ASSERT_EQ(map.elements.size(), 4u);
  EXPECT_EQ(map.elements[3].type, Type::kNull);

  EXPECT_EQ(ReadAll("~2\r\n:1\r\n:2\r\n").type, Type::kSet);
  EXPECT_EQ(ReadAll(">2\r\n+message\r\n+x\r\n").type, Type::kPush);
  const RespValue attribute = ReadAll("|1\r\n+ttl\r\n:3\r\n");
  EXPECT_EQ(attribute.type, Type::kAttribute);
  EXPECT_EQ(attribute.elements.size(), 2u);
  EXPECT_TRUE(ReadAll("*0\r\n").elements.empty());
  EXPECT_TRUE(ReadAll("%0\r\n").elements.empty());
}

TEST(RespReaderTest, ReadsConsecutiveRepliesByConsumedBytes) {
  const std::string_view input = "+OK\r\n:5\r\n$1\r\nx\r\n";
  size_t consumed = 0;
  auto first = RespReader::Read(input, &consumed);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(consumed, 5u);
  auto second = RespReader::Read(input.substr(5), &consumed);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->integer, 5);
  EXPECT_EQ(consumed, 4u);
  auto third = RespReader::Read(input.substr(9), &consumed);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->str, "x");
}

// Writes one reply of every kind the builder has, nested, in the given version.
std::string BuildEverything(int resp_version) {
  std::string out;
  ReplyBuilder b(&out, resp_version);
  b.ArrayHeader(13);
  b.SimpleString("OK");
  b.Error("ERR bad\r\nthing");
  b.Integer(-42);
  b.Bulk(std::string_view("bin\0\r\n", 6));
  b.Null();
  b.NullArray();
  b.Double(2.5);
  b.Bool(true);
  b.Verbatim("txt", "hello");
  b.MapHeader(1);
  b.Bulk("k");
  b.Integer(1);
  b.SetHeader(2);
  b.Bulk("a");
  b.Bulk("b");
  b.PushHeader(1);
  b.Bulk("message");
  b.EmptyArray();
  return out;
}

TEST(RespReaderTest, RoundTripOfBuilderOutputInResp3) {
  const RespValue v = ReadAll(BuildEverything(3));
  ASSERT_EQ(v.type, Type::kArray);
  ASSERT_EQ(v.elements.size(), 13u);
  const auto& e = v.elements;
  EXPECT_EQ(e[0].type, Type::kSimpleString);
  EXPECT_EQ(e[0].str, "OK");
  EXPECT_EQ(e[1].type, Type::kError);
  EXPECT_EQ(e[1].str, "ERR bad  thing");
  EXPECT_EQ(e[2].integer, -42);
  EXPECT_EQ(e[3].str, std::string("bin\0\r\n", 6));
  EXPECT_EQ(e[4].type, Type::kNull);
  EXPECT_EQ(e[5].type, Type::kNull);
  EXPECT_EQ(e[6].type, Type::kDouble);
  EXPECT_EQ(e[6].str, "2.5");
  EXPECT_EQ(e[7].type, Type::kBool);
  EXPECT_EQ(e[7].integer, 1);
  EXPECT_EQ(e[8].type, Type::kVerbatim);
  EXPECT_EQ(e[8].str, "hello");
  EXPECT_EQ(e[9].type, Type::kMap);
  ASSERT_EQ(e[9].elements.size(), 2u);
  EXPECT_EQ(e[9].elements[0].str, "k");
  EXPECT_EQ(e[10].type, Type::kSet);
  EXPECT_EQ(e[10].elements.size(), 2u);
  EXPECT_EQ(e[11].type, Type::kPush);
  EXPECT_EQ(e[12].type, Type::kArray);
  EXPECT_EQ(v.ToString(),
            "[OK, (error) ERR bad  thing, (integer) -42, \"bin\\x00\\r\\n\", (nil), (nil), "
            "(double) 2.5, (true), (verbatim) \"hello\", {\"k\": (integer) 1}, "
            "(set) [\"a\", \"b\"], (push) [\"message\"], (empty array)]");
}

TEST(RespReaderTest, RoundTripOfBuilderOutputInResp2) {
  const RespValue v = ReadAll(BuildEverything(2));
  ASSERT_EQ(v.elements.size(), 13u);
  const auto& e = v.elements;
  EXPECT_EQ(e[4].type, Type::kNull);
  EXPECT_EQ(e[5].type, Type::kNull);
  EXPECT_EQ(e[6].type, Type::kBulk);
  EXPECT_EQ(e[6].str, "2.5");
  EXPECT_EQ(e[7].type, Type::kInteger);
  EXPECT_EQ(e[7].integer, 1);
  EXPECT_EQ(e[8].type, Type::kBulk);
  EXPECT_EQ(e[8].str, "hello");
  EXPECT_EQ(e[9].type, Type::kArray);
  EXPECT_EQ(e[9].elements.size(), 2u);
  EXPECT_EQ(e[10].type, Type::kArray);
  EXPECT_EQ(e[11].type, Type::kArray);
}

TEST(RespReaderTest, EveryProperPrefixIsPartial) {
  for (const std::string& whole : {BuildEverything(2), BuildEverything(3)}) {
    for (size_t length = 0; length < whole.size(); ++length) {
      size_t consumed = 99;
      std::string error = "stale";
      EXPECT_FALSE(RespReader::Read(std::string_view(whole).substr(0, length), &consumed, &error))
          << length;
      EXPECT_EQ(consumed, 0u) << length;
      EXPECT_TRUE(error.empty()) << length << ": " << error;
    }
  }
}

TEST(RespReaderTest, MalformedInputSetsError) {
  for (const std::string_view input :
       {"?\r\n", "+OK\n", ":abc\r\n", ":\r\n", ":1.5\r\n", "$x\r\n", "$-2\r\n", "$3\r\nabcde",
        "*-2\r\n", "%-1\r\n", "#x\r\n", ",abc\r\n", ",\r\n", "(12a\r\n", "_x\r\n", "=3\r\ntxt\r\n",
        "=5\r\ntxt-x\r\n", "*2\r\n:1\r\n?\r\n"}) {
    ReadError(input);
  }
}

std::string Nested(int levels) {
  std::string reply;
  for (int i = 0; i < levels; ++i) reply += "*1\r\n";
  return reply + ":1\r\n";
}

TEST(RespReaderTest, NestingAtTheLimitAcceptedOneDeeperRefused) {
  // kNestingDepthMax in resp_reader.cc: 128 aggregates around a scalar.
  constexpr int kNestingDepthMax = 128;
  EXPECT_EQ(ReadAll(Nested(kNestingDepthMax)).type, Type::kArray);
  EXPECT_EQ(ReadError(Nested(kNestingDepthMax + 1)), "aggregates nested too deep");
  // Far deeper input fails the same way instead of exhausting the stack.
  EXPECT_EQ(ReadError(Nested(100'000)), "aggregates nested too deep");
}

TEST(RespReaderTest, HugeAnnouncedCountsDoNotAllocateUpFront) {
  size_t consumed = 0;
  EXPECT_FALSE(RespReader::Read("*9223372036854775807\r\n:1\r\n", &consumed).has_value());
  EXPECT_FALSE(RespReader::Read("%4611686018427387903\r\n", &consumed).has_value());
  EXPECT_FALSE(RespReader::Read("$9223372036854775807\r\nabc", &consumed).has_value());
  ReadError("%4611686018427387904\r\n");
}

TEST(RespReaderTest, ToStringShortForms) {
  EXPECT_EQ(ReadAll("+OK\r\n").ToString(), "OK");
  EXPECT_EQ(ReadAll("-ERR x\r\n").ToString(), "(error) ERR x");
  EXPECT_EQ(ReadAll(":1\r\n").ToString(), "(integer) 1");
  EXPECT_EQ(ReadAll("$3\r\na\"b\r\n").ToString(), "\"a\\\"b\"");
  EXPECT_EQ(ReadAll("$-1\r\n").ToString(), "(nil)");
  EXPECT_EQ(ReadAll("*0\r\n").ToString(), "(empty array)");
  EXPECT_EQ(ReadAll("#f\r\n").ToString(), "(false)");
  EXPECT_EQ(ReadAll("(12\r\n").ToString(), "(big number) 12");
  EXPECT_EQ(ReadAll("|1\r\n+a\r\n:1\r\n").ToString(), "(attribute) {a: (integer) 1}");
}

}  // namespace
}  // namespace stockd::protocol
