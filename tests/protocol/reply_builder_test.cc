#include "protocol/reply_builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>

namespace stockd::protocol {
namespace {

// The bytes one builder call writes in the given protocol version.
std::string Write(int resp_version, const std::function<void(ReplyBuilder&)>& write) {
  std::string out;
  ReplyBuilder builder(&out, resp_version);
  write(builder);
  return out;
}

struct Expected {
  const char* name;
  std::function<void(ReplyBuilder&)> write;
  std::string resp2;
  std::string resp3;
};

TEST(ReplyBuilderTest, EveryTypeByteExactInBothVersions) {
  const std::vector<Expected> cases = {
      {"simple", [](ReplyBuilder& b) { b.SimpleString("PONG"); }, "+PONG\r\n", "+PONG\r\n"},
      {"ok", [](ReplyBuilder& b) { b.Ok(); }, "+OK\r\n", "+OK\r\n"},
      {"error", [](ReplyBuilder& b) { b.Error("ERR syntax error"); }, "-ERR syntax error\r\n",
       "-ERR syntax error\r\n"},
      {"integer", [](ReplyBuilder& b) { b.Integer(42); }, ":42\r\n", ":42\r\n"},
      {"zero", [](ReplyBuilder& b) { b.Integer(0); }, ":0\r\n", ":0\r\n"},
      {"negative", [](ReplyBuilder& b) { b.Integer(-7); }, ":-7\r\n", ":-7\r\n"},
      {"int64 max", [](ReplyBuilder& b) { b.Integer(INT64_MAX); }, ":9223372036854775807\r\n",
       ":9223372036854775807\r\n"},
      {"int64 min", [](ReplyBuilder& b) { b.Integer(INT64_MIN); }, ":-9223372036854775808\r\n",
       ":-9223372036854775808\r\n"},
      {"bulk", [](ReplyBuilder& b) { b.Bulk("hello"); }, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
      {"empty bulk", [](ReplyBuilder& b) { b.Bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n"},
      {"binary bulk", [](ReplyBuilder& b) { b.Bulk(std::string_view("a\r\n\0", 4)); },
       std::string("$4\r\na\r\n\0\r\n", 10), std::string("$4\r\na\r\n\0\r\n", 10)},
      {"null", [](ReplyBuilder& b) { b.Null(); }, "$-1\r\n", "_\r\n"},
      {"null array", [](ReplyBuilder& b) { b.NullArray(); }, "*-1\r\n", "_\r\n"},
      {"double", [](ReplyBuilder& b) { b.Double(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n"},
      {"double 0.1", [](ReplyBuilder& b) { b.Double(0.1); }, "$19\r\n0.10000000000000001\r\n",
       ",0.10000000000000001\r\n"},
      {"double inf", [](ReplyBuilder& b) { b.Double(HUGE_VAL); }, "$3\r\ninf\r\n", ",inf\r\n"},
      {"double -inf", [](ReplyBuilder& b) { b.Double(-HUGE_VAL); }, "$4\r\n-inf\r\n", ",-inf\r\n"},
      {"double nan", [](ReplyBuilder& b) { b.Double(std::nan("")); }, "$3\r\nnan\r\n", ",nan\r\n"},
      {"double -nan", [](ReplyBuilder& b) { b.Double(-std::nan("")); }, "$3\r\nnan\r\n",
       ",nan\r\n"},
      {"true", [](ReplyBuilder& b) { b.Bool(true); }, ":1\r\n", "#t\r\n"},
      {"false", [](ReplyBuilder& b) { b.Bool(false); }, ":0\r\n", "#f\r\n"},
      {"verbatim", [](ReplyBuilder& b) { b.Verbatim("txt", "Some string"); },
       "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"},
      {"array", [](ReplyBuilder& b) { b.ArrayHeader(3); }, "*3\r\n", "*3\r\n"},
      {"empty array", [](ReplyBuilder& b) { b.EmptyArray(); }, "*0\r\n", "*0\r\n"},
      {"map", [](ReplyBuilder& b) { b.MapHeader(2); }, "*4\r\n", "%2\r\n"},
      {"set", [](ReplyBuilder& b) { b.SetHeader(2); }, "*2\r\n", "~2\r\n"},
      {"push", [](ReplyBuilder& b) { b.PushHeader(3); }, "*3\r\n", ">3\r\n"},
      {"raw", [](ReplyBuilder& b) { b.Raw(":1\r\n"); }, ":1\r\n", ":1\r\n"},
  };
  for (const Expected& c : cases) {
    EXPECT_EQ(Write(2, c.write), c.resp2) << c.name;
    EXPECT_EQ(Write(3, c.write), c.resp3) << c.name;
  }
}

TEST(ReplyBuilderTest, ErrorTurnsLineBreaksIntoSpaces) {
  EXPECT_EQ(Write(2, [](ReplyBuilder& b) { b.Error("ERR bad\r\nthing\n"); }),
            "-ERR bad  thing \r\n");
}

TEST(ReplyBuilderTest, AMapReplyInBothVersions) {
  const auto write = [](ReplyBuilder& b) {
    b.MapHeader(2);
    b.Bulk("a");
    b.Integer(1);
    b.Bulk("b");
    b.Null();
  };
  EXPECT_EQ(Write(2, write), "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n");
  EXPECT_EQ(Write(3, write), "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n");
}

TEST(ReplyBuilderTest, AppendsToTheCallersStringAndFollowsVersionChanges) {
  std::string out = "previous";
  ReplyBuilder builder(&out);
  EXPECT_EQ(builder.resp_version(), 2);
  builder.Null();
  builder.set_resp_version(3);
  builder.Null();
  EXPECT_EQ(out, "previous$-1\r\n_\r\n");
  std::string other;
  builder.set_out(&other);
  builder.Ok();
  EXPECT_EQ(other, "+OK\r\n");
  EXPECT_EQ(builder.out(), &other);
}

TEST(ReplyBuilderTest, ADiscardingBuilderWritesNothingUntilToldOtherwise) {
  for (int version : {2, 3}) {
    std::string out = "previous";
    ReplyBuilder builder(&out, version);
    builder.set_discard(true);
    EXPECT_TRUE(builder.discard());
    builder.SimpleString("OK");
    builder.Error("ERR no");
    builder.Integer(-42);
    builder.Bulk("bulk");
    builder.Null();
    builder.NullArray();
    builder.Double(1.5);
    builder.Bool(true);
    builder.Verbatim("txt", "text");
    builder.ArrayHeader(2);
    builder.MapHeader(1);
    builder.SetHeader(3);
    builder.PushHeader(2);
    builder.Raw("+raw\r\n");
    EXPECT_EQ(out, "previous") << "RESP" << version;
    EXPECT_EQ(builder.out(), &out);
    builder.set_discard(false);
    builder.Ok();
    EXPECT_EQ(out, "previous+OK\r\n") << "RESP" << version;
  }
}

// Redis 7.0 writes doubles with snprintf("%.17g"); we use std::to_chars, which must agree on
// every value, including subnormals, huge exponents and negative zero.
TEST(ReplyBuilderTest, FormatDoubleMatchesPrintfPercent17g) {
  std::mt19937_64 random(20240601);
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                -1.0,
                                0.1,
                                1.0 / 3,
                                3.14159,
                                1e21,
                                1e22,
                                123456789012345678.0,
                                1e-7,
                                5e-324,
                                std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::lowest(),
                                std::numeric_limits<double>::min(),
                                100.0,
                                12345.6789};
  for (int i = 0; i < 100'000; ++i) {
    const uint64_t bits = random();
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    if (std::isfinite(value)) values.push_back(value);
    values.push_back(static_cast<double>(static_cast<int64_t>(bits)) / 1024);
  }
  for (const double value : values) {
    char expected[64];
    std::snprintf(expected, sizeof(expected), "%.17g", value);
    ASSERT_EQ(ReplyBuilder::FormatDouble(value), expected);
  }
  EXPECT_EQ(ReplyBuilder::FormatDouble(HUGE_VAL), "inf");
  EXPECT_EQ(ReplyBuilder::FormatDouble(-HUGE_VAL), "-inf");
  EXPECT_EQ(ReplyBuilder::FormatDouble(std::nan("")), "nan");
  EXPECT_EQ(ReplyBuilder::FormatDouble(-std::nan("")), "nan");
  EXPECT_EQ(ReplyBuilder::FormatDouble(-0.0), "-0");
}

TEST(ReplyBuilderTest, IntegersMatchDecimalPrinting) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100'000; ++i) {
    const auto value = static_cast<int64_t>(random()) >> (i % 64);
    ASSERT_EQ(Write(2, [&](ReplyBuilder& b) { b.Integer(value); }),
              ":" + std::to_string(value) + "\r\n");
  }
}

}  // namespace
}  // namespace stockd::protocol
