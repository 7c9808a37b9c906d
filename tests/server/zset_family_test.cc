// Sorted set commands through the real dispatch path (server/commands/zset_family.cc). Most
// range tests run twice, once per encoding ("listpack" and "skiplist"), since the two encodings
// answer every range with different code.
#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "protocol/reply_builder.h"
#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;

::testing::AssertionResult IsArray(const RespValue& v, const std::vector<std::string>& want) {
  if (v.type != Type::kArray) {
    return ::testing::AssertionFailure() << "expected an array, got " << v.ToString();
  }
  std::vector<std::string> got;
  for (const auto& e : v.elements) {
    if (e.type != Type::kBulk)
      return ::testing::AssertionFailure() << "non-bulk in " << v.ToString();
    got.push_back(e.str);
  }
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << v.ToString();
}

constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class ZSetTest : public ServerTest {};

// Runs with the sets in either encoding: a set made with a member over 64 bytes is a skip list
// and stays one after that member is removed.
class ZSetEncodingTest : public ServerTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool skiplist() const { return GetParam(); }
  // ZADD key score member ... in the encoding under test.
  void Fill(const std::string& key, const std::vector<std::string>& score_members) {
    const std::string long_member(65, 'x');
    if (skiplist()) {
      ASSERT_TRUE(IsInt(Run({"zadd", key, "0", long_member}), 1));
    }
    std::vector<std::string> cmd = {"zadd", key};
    cmd.insert(cmd.end(), score_members.begin(), score_members.end());
    Run(cmd);
    if (skiplist()) {
      ASSERT_TRUE(IsInt(Run({"zrem", key, long_member}), 1));
    }
    ASSERT_TRUE(IsBulk(Run({"object", "encoding", key}), skiplist() ? "skiplist" : "listpack"));
  }
};

INSTANTIATE_TEST_SUITE_P(Encodings, ZSetEncodingTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "skiplist" : "listpack"; });

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZSCORE, ZMSCORE, ZCARD, ZREM

TEST_F(ZSetTest, ZAddAddsAndUpdates) {
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "1", "a", "2", "b"}), 2));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "1"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "3", "a"}), 0));  // an update is not counted
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "3"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "CH", "4", "a", "2", "b", "1", "c"}), 2));
  EXPECT_TRUE(IsInt(Run({"zcard", "z"}), 3));
  EXPECT_TRUE(IsInt(Run({"zcard", "missing"}), 0));
  EXPECT_TRUE(IsNull(Run({"zscore", "z", "nope"})));
  EXPECT_TRUE(IsNull(Run({"zscore", "missing", "a"})));
  EXPECT_EQ(Run({"type", "z"}).str, "zset");
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "4"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "1.5", "d"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "d"}), "1.5"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "0.1", "e"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "e"}), "0.10000000000000001"));  // %.17g, as Redis 7.0
}

TEST_F(ZSetTest, ZAddOptions) {
  Run({"zadd", "z", "10", "a"});
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "NX", "20", "a", "5", "b"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "10"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "XX", "CH", "20", "a", "5", "c"}), 1));
  EXPECT_TRUE(IsNull(Run({"zscore", "z", "c"})));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "20"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "GT", "CH", "15", "a", "30", "b"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "20"));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "b"}), "30"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "LT", "CH", "25", "a", "1", "b"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "20"));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "b"}), "1"));
  // GT and LT still add new members.
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "GT", "7", "new"}), 1));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "XX", "GT", "1", "new"}), 0));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "new"}), "7"));
  // CH counts the same score as unchanged.
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "CH", "7", "new"}), 0));
  // INCR.
  EXPECT_TRUE(IsBulk(Run({"zadd", "z", "INCR", "5", "new"}), "12"));
  EXPECT_TRUE(IsNull(Run({"zadd", "z", "NX", "INCR", "5", "new"})));
  EXPECT_TRUE(IsNull(Run({"zadd", "z", "GT", "INCR", "-1", "new"})));
  EXPECT_TRUE(IsBulk(Run({"zadd", "z", "XX", "INCR", "-2", "new"}), "10"));
  EXPECT_TRUE(IsNull(Run({"zadd", "missing", "XX", "INCR", "1", "a"})));
  EXPECT_TRUE(IsInt(Run({"zadd", "missing", "XX", "1", "a"}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "missing"}), 0));
}

TEST_F(ZSetTest, ZAddErrors) {
  EXPECT_TRUE(IsError(Run({"zadd", "z", "NX", "1"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "1", "a", "2"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "NX", "XX", "1", "a"}),
                      "ERR XX and NX options at the same time are not compatible"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "GT", "LT", "1", "a"}),
                      "ERR GT, LT, and/or NX options at the same time are not compatible"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "NX", "GT", "1", "a"}),
                      "ERR GT, LT, and/or NX options at the same time are not compatible"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "INCR", "1", "a", "2", "b"}),
                      "ERR INCR option supports a single increment-element pair"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "x", "a"}), "ERR value is not a valid float"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "nan", "a"}), "ERR value is not a valid float"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", " 1", "a"}), "ERR value is not a valid float"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "1", "a", "bad", "b"}), "ERR value is not a valid float"));
  EXPECT_TRUE(IsInt(Run({"exists", "z"}), 0));  // nothing was added by a failed command
  EXPECT_TRUE(IsErrorPrefix(Run({"zadd", "z", "1"}), "ERR wrong number of arguments"));
  EXPECT_TRUE(IsErrorPrefix(Run({"zadd", "z"}), "ERR wrong number of arguments"));
}

TEST_F(ZSetTest, InfinityScores) {
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "inf", "a", "-inf", "b", "+inf", "c", "0", "d"}), 4));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1", "withscores"}),
                      {"b", "-inf", "d", "0", "a", "inf", "c", "inf"}));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "c"}), "inf"));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "-inf", "+inf"}), {"b", "d", "a", "c"}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "(-inf", "(inf"}), {"d"}));
  EXPECT_TRUE(IsInt(Run({"zcount", "z", "inf", "inf"}), 2));
}

TEST_F(ZSetTest, ZIncrBy) {
  EXPECT_TRUE(IsBulk(Run({"zincrby", "z", "2.5", "a"}), "2.5"));
  EXPECT_TRUE(IsBulk(Run({"zincrby", "z", "-1", "a"}), "1.5"));
  EXPECT_TRUE(IsError(Run({"zincrby", "z", "abc", "a"}), "ERR value is not a valid float"));
  Run({"zadd", "z", "inf", "i"});
  EXPECT_TRUE(
      IsError(Run({"zincrby", "z", "-inf", "i"}), "ERR resulting score is not a number (NaN)"));
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "i"}), "inf"));
  EXPECT_TRUE(IsError(Run({"zadd", "z", "INCR", "-inf", "i"}),
                      "ERR resulting score is not a number (NaN)"));
  EXPECT_TRUE(IsBulk(Run({"zincrby", "z", "1", "i"}), "inf"));
}

TEST_F(ZSetTest, ZMScore) {
  Run({"zadd", "z", "1", "a", "2", "b"});
  RespValue v = Run({"zmscore", "z", "a", "x", "b"});
  ASSERT_EQ(v.type, Type::kArray);
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_TRUE(IsBulk(v.elements[0], "1"));
  EXPECT_TRUE(IsNull(v.elements[1]));
  EXPECT_TRUE(IsBulk(v.elements[2], "2"));
  v = Run({"zmscore", "missing", "a", "b"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_TRUE(IsNull(v.elements[0]));
  EXPECT_TRUE(IsNull(v.elements[1]));
}

TEST_F(ZSetTest, ZRemDeletesEmptySet) {
  Run({"zadd", "z", "1", "a", "2", "b", "3", "c"});
  EXPECT_TRUE(IsInt(Run({"zrem", "z", "a", "x", "a"}), 1));
  EXPECT_TRUE(IsInt(Run({"zrem", "missing", "a"}), 0));
  EXPECT_TRUE(IsInt(Run({"zrem", "z", "b", "c", "d"}), 2));
  EXPECT_TRUE(IsInt(Run({"exists", "z"}), 0));
}

TEST_F(ZSetTest, WrongType) {
  Run({"set", "s", "v"});
  const std::vector<std::vector<std::string>> cmds = {
      {"zadd", "s", "1", "a"},
      {"zincrby", "s", "1", "a"},
      {"zrem", "s", "a"},
      {"zscore", "s", "a"},
      {"zmscore", "s", "a"},
      {"zcard", "s"},
      {"zcount", "s", "0", "1"},
      {"zlexcount", "s", "-", "+"},
      {"zrank", "s", "a"},
      {"zrevrank", "s", "a"},
      {"zrange", "s", "0", "-1"},
      {"zrangestore", "d", "s", "0", "-1"},
      {"zrevrange", "s", "0", "-1"},
      {"zrangebyscore", "s", "0", "1"},
      {"zrevrangebyscore", "s", "1", "0"},
      {"zrangebylex", "s", "-", "+"},
      {"zrevrangebylex", "s", "+", "-"},
      {"zremrangebyrank", "s", "0", "1"},
      {"zremrangebyscore", "s", "0", "1"},
      {"zremrangebylex", "s", "-", "+"},
      {"zpopmin", "s"},
      {"zpopmax", "s", "2"},
      {"zrandmember", "s"},
      {"zrandmember", "s", "2"},
      {"zscan", "s", "0"},
      {"zunionstore", "d", "1", "s"},
      {"zinterstore", "d", "1", "s"},
  };
  for (const auto& c : cmds) EXPECT_TRUE(IsError(Run(c), kWrongType)) << c[0];
  EXPECT_TRUE(IsBulk(Run({"get", "s"}), "v"));
  Run({"zadd", "z", "1", "a"});
  EXPECT_TRUE(IsError(Run({"get", "z"}), kWrongType));
}

// ---------------------------------------------------------------------------------------------
// Order, ranks and ranges (both encodings)

TEST_P(ZSetEncodingTest, TiesOrderedByMemberBytes) {
  Fill("z", {"1", "b", "1", "aa", "1", "a", "0", "z", "1", "B", "2", "\xff", "2", "\x01"});
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1"}), {"z", "B", "a", "aa", "b", "\x01", "\xff"}));
  EXPECT_TRUE(IsInt(Run({"zrank", "z", "aa"}), 3));
  EXPECT_TRUE(IsInt(Run({"zrevrank", "z", "aa"}), 3));
  EXPECT_TRUE(IsInt(Run({"zrank", "z", "\xff"}), 6));
  EXPECT_TRUE(IsInt(Run({"zrevrank", "z", "z"}), 6));
  EXPECT_TRUE(IsNull(Run({"zrank", "z", "nope"})));
  EXPECT_TRUE(IsNull(Run({"zrank", "missing", "a"})));
  // An update moves the member to its new place.
  Run({"zadd", "z", "1.5", "z"});
  EXPECT_TRUE(IsInt(Run({"zrank", "z", "z"}), 4));
}

TEST_P(ZSetEncodingTest, ZRangeByRank) {
  Fill("z", {"1", "a", "2", "b", "3", "c", "4", "d", "5", "e"});
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1"}), {"a", "b", "c", "d", "e"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "1", "2"}), {"b", "c"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "-2", "-1"}), {"d", "e"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "-100", "1"}), {"a", "b"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "3", "100"}), {"d", "e"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "3", "1"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "5", "10"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-6"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "1", "REV"}), {"e", "d"}));
  EXPECT_TRUE(IsArray(Run({"zrevrange", "z", "0", "1"}), {"e", "d"}));
  EXPECT_TRUE(IsArray(Run({"zrevrange", "z", "-1", "-1"}), {"a"}));
  EXPECT_TRUE(IsArray(Run({"zrevrange", "z", "1", "2", "withscores"}), {"d", "4", "c", "3"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "0", "WITHSCORES"}), {"a", "1"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "missing", "0", "-1"}), {}));
}

TEST_P(ZSetEncodingTest, ZRangeByScore) {
  Fill("z", {"1", "a", "2", "b", "2", "c", "3", "d", "5", "e"});
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "2", "3"}), {"b", "c", "d"}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "(2", "3"}), {"d"}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "2", "(3"}), {"b", "c"}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "(2", "(3"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "(1", "(2"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "3", "2"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "-inf", "inf", "LIMIT", "1", "2"}), {"b", "c"}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "-inf", "inf", "LIMIT", "3", "-1"}), {"d", "e"}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "-inf", "inf", "LIMIT", "5", "1"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "-inf", "inf", "LIMIT", "-1", "1"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "-inf", "inf", "LIMIT", "0", "0"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebyscore", "z", "4", "5", "withscores"}), {"e", "5"}));
  EXPECT_TRUE(IsArray(Run({"zrevrangebyscore", "z", "3", "2"}), {"d", "c", "b"}));
  EXPECT_TRUE(IsArray(Run({"zrevrangebyscore", "z", "(3", "-inf"}), {"c", "b", "a"}));
  EXPECT_TRUE(
      IsArray(Run({"zrevrangebyscore", "z", "+inf", "-inf", "LIMIT", "1", "2"}), {"d", "c"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "2", "3", "BYSCORE"}), {"b", "c", "d"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "3", "2", "BYSCORE", "REV"}), {"d", "c", "b"}));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "z", "(5", "-inf", "BYSCORE", "REV", "LIMIT", "1", "1"}), {"c"}));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "z", "-inf", "inf", "BYSCORE", "LIMIT", "4", "10", "WITHSCORES"}),
              {"e", "5"}));
  EXPECT_TRUE(IsInt(Run({"zcount", "z", "2", "3"}), 3));
  EXPECT_TRUE(IsInt(Run({"zcount", "z", "(2", "+inf"}), 2));
  EXPECT_TRUE(IsInt(Run({"zcount", "z", "10", "20"}), 0));
  EXPECT_TRUE(IsInt(Run({"zcount", "missing", "-inf", "inf"}), 0));
}

TEST_P(ZSetEncodingTest, ZRangeByLex) {
  Fill("z", {"0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "ee"});
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "-", "+"}), {"a", "b", "c", "d", "e", "ee"}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "[b", "[d"}), {"b", "c", "d"}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "(b", "(d"}), {"c"}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "(e", "+"}), {"ee"}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "[e", "(ee"}), {"e"}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "+", "-"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "[d", "[b"}), {}));
  EXPECT_TRUE(IsArray(Run({"zrangebylex", "z", "-", "+", "LIMIT", "2", "2"}), {"c", "d"}));
  EXPECT_TRUE(IsArray(Run({"zrevrangebylex", "z", "+", "-", "LIMIT", "0", "2"}), {"ee", "e"}));
  EXPECT_TRUE(IsArray(Run({"zrevrangebylex", "z", "[c", "(a"}), {"c", "b"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "[c", "(a", "BYLEX", "REV"}), {"c", "b"}));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "[b", "[c", "BYLEX"}), {"b", "c"}));
  EXPECT_TRUE(IsInt(Run({"zlexcount", "z", "-", "+"}), 6));
  EXPECT_TRUE(IsInt(Run({"zlexcount", "z", "[b", "(e"}), 3));
  EXPECT_TRUE(IsInt(Run({"zlexcount", "z", "(ee", "+"}), 0));
  EXPECT_TRUE(IsInt(Run({"zlexcount", "missing", "-", "+"}), 0));
}

TEST_P(ZSetEncodingTest, ZRemRange) {
  Fill("z", {"1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"});
  EXPECT_TRUE(IsInt(Run({"zremrangebyrank", "z", "-2", "-1"}), 2));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1"}), {"a", "b", "c", "d"}));
  EXPECT_TRUE(IsInt(Run({"zremrangebyrank", "z", "5", "10"}), 0));
  EXPECT_TRUE(IsInt(Run({"zremrangebyscore", "z", "(1", "2"}), 1));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1"}), {"a", "c", "d"}));
  EXPECT_TRUE(IsInt(Run({"zremrangebyscore", "z", "10", "20"}), 0));
  EXPECT_TRUE(IsInt(Run({"zremrangebylex", "z", "-", "[a"}), 1));  // all scores differ: by order
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1"}), {"c", "d"}));
  EXPECT_TRUE(IsInt(Run({"zremrangebyrank", "z", "0", "-1"}), 2));
  EXPECT_TRUE(IsInt(Run({"exists", "z"}), 0));
  EXPECT_TRUE(IsInt(Run({"zremrangebyrank", "missing", "0", "-1"}), 0));
  Fill("l", {"0", "a", "0", "b", "0", "c"});
  EXPECT_TRUE(IsInt(Run({"zremrangebylex", "l", "(a", "+"}), 2));
  EXPECT_TRUE(IsInt(Run({"zremrangebyscore", "l", "-inf", "+inf"}), 1));
  EXPECT_TRUE(IsInt(Run({"exists", "l"}), 0));
}

TEST_P(ZSetEncodingTest, ZPop) {
  Fill("z", {"1", "a", "2", "b", "3", "c", "4", "d"});
  EXPECT_TRUE(IsArray(Run({"zpopmin", "z"}), {"a", "1"}));
  EXPECT_TRUE(IsArray(Run({"zpopmax", "z"}), {"d", "4"}));
  EXPECT_TRUE(IsArray(Run({"zpopmin", "z", "0"}), {}));
  EXPECT_TRUE(IsArray(Run({"zpopmax", "z", "10"}), {"c", "3", "b", "2"}));
  EXPECT_TRUE(IsInt(Run({"exists", "z"}), 0));
  EXPECT_TRUE(IsArray(Run({"zpopmin", "z"}), {}));
  EXPECT_TRUE(IsError(Run({"zpopmin", "z", "-1"}), "ERR value is out of range, must be positive"));
  EXPECT_TRUE(IsError(Run({"zpopmin", "z", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"zpopmin", "z", "1", "2"}), "ERR syntax error"));
  Fill("y", {"1", "a", "2", "b", "3", "c"});
  EXPECT_TRUE(IsArray(Run({"zpopmin", "y", "2"}), {"a", "1", "b", "2"}));
  EXPECT_TRUE(IsInt(Run({"zcard", "y"}), 1));
}

TEST_P(ZSetEncodingTest, ZRangeStore) {
  Fill("src", {"1", "a", "2", "b", "3", "c", "4", "d"});
  EXPECT_TRUE(IsInt(Run({"zrangestore", "dst", "src", "1", "2"}), 2));
  EXPECT_TRUE(IsArray(Run({"zrange", "dst", "0", "-1", "withscores"}), {"b", "2", "c", "3"}));
  EXPECT_TRUE(
      IsInt(Run({"zrangestore", "dst", "src", "(1", "+inf", "BYSCORE", "LIMIT", "1", "5"}), 2));
  EXPECT_TRUE(IsArray(Run({"zrange", "dst", "0", "-1"}), {"c", "d"}));
  EXPECT_TRUE(IsInt(Run({"zrangestore", "dst", "src", "0", "1", "REV"}), 2));
  EXPECT_TRUE(IsArray(Run({"zrange", "dst", "0", "-1"}), {"c", "d"}));
  // The destination's TTL goes with its old value.
  Run({"expire", "dst", "100"});
  EXPECT_TRUE(IsInt(Run({"zrangestore", "dst", "src", "[a", "[b", "BYLEX"}), 2));
  EXPECT_TRUE(IsInt(Run({"ttl", "dst"}), -1));
  // An empty result deletes the destination.
  EXPECT_TRUE(IsInt(Run({"zrangestore", "dst", "src", "10", "20"}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "dst"}), 0));
  Run({"set", "dst", "string"});
  EXPECT_TRUE(IsInt(Run({"zrangestore", "dst", "missing", "0", "-1"}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "dst"}), 0));
  // The source may be the destination.
  EXPECT_TRUE(IsInt(Run({"zrangestore", "src", "src", "0", "1"}), 2));
  EXPECT_TRUE(IsArray(Run({"zrange", "src", "0", "-1"}), {"a", "b"}));
  EXPECT_TRUE(
      IsError(Run({"zrangestore", "dst", "src", "0", "1", "withscores"}), "ERR syntax error"));
}

TEST_P(ZSetEncodingTest, ZRandMember) {
  Fill("z", {"1", "a", "2", "b", "3", "c", "4", "d", "5", "e"});
  const std::set<std::string> all = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 20; ++i) {
    RespValue v = Run({"zrandmember", "z"});
    ASSERT_EQ(v.type, Type::kBulk);
    EXPECT_TRUE(all.count(v.str));
  }
  for (const char* count : {"1", "2", "3", "4"}) {
    RespValue v = Run({"zrandmember", "z", count});
    std::vector<std::string> got = Strs(v);
    EXPECT_EQ(got.size(), std::stoul(count));
    std::set<std::string> distinct(got.begin(), got.end());
    EXPECT_EQ(distinct.size(), got.size());  // a positive count never repeats
    for (const auto& m : got) EXPECT_TRUE(all.count(m));
  }
  EXPECT_EQ(Strs(Run({"zrandmember", "z", "10"})).size(), 5u);
  std::vector<std::string> repeats = Strs(Run({"zrandmember", "z", "-20"}));
  EXPECT_EQ(repeats.size(), 20u);
  for (const auto& m : repeats) EXPECT_TRUE(all.count(m));
  RespValue ws = Run({"zrandmember", "z", "-3", "WITHSCORES"});
  ASSERT_EQ(ws.elements.size(), 6u);
  for (size_t i = 0; i < 6; i += 2) {
    // Member "a" has score 1, "b" 2, and so on.
    EXPECT_EQ(ws.elements[i + 1].str, std::to_string(ws.elements[i].str[0] - 'a' + 1));
  }
  EXPECT_TRUE(IsArray(Run({"zrandmember", "z", "0"}), {}));
  EXPECT_TRUE(IsNull(Run({"zrandmember", "missing"})));
  EXPECT_TRUE(IsArray(Run({"zrandmember", "missing", "3"}), {}));
  EXPECT_TRUE(IsError(Run({"zrandmember", "z", "1", "bad"}), "ERR syntax error"));
  EXPECT_TRUE(
      IsError(Run({"zrandmember", "z", "x"}), "ERR value is not an integer or out of range"));
}

// ---------------------------------------------------------------------------------------------
// Argument errors

TEST_F(ZSetTest, RangeErrors) {
  Run({"zadd", "z", "1", "a"});
  EXPECT_TRUE(IsError(Run({"zrange", "z", "0", "1", "LIMIT", "0", "1"}),
                      "ERR syntax error, LIMIT is only supported in combination with either "
                      "BYSCORE or BYLEX"));
  EXPECT_TRUE(IsError(Run({"zrange", "z", "-", "+", "BYLEX", "WITHSCORES"}),
                      "ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
  EXPECT_TRUE(IsError(Run({"zrangebylex", "z", "-", "+", "WITHSCORES"}),
                      "ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
  EXPECT_TRUE(IsError(Run({"zrange", "z", "0", "1", "BYSCORE", "BYLEX"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zrevrange", "z", "0", "1", "REV"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zrange", "z", "0", "1", "LIMIT", "0"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zrange", "z", "0", "1", "bogus"}), "ERR syntax error"));
  EXPECT_TRUE(
      IsError(Run({"zrange", "z", "a", "1"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"zrangebyscore", "z", "0", "1", "LIMIT", "x", "1"}),
                      "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"zrangebyscore", "z", "x", "1"}), "ERR min or max is not a float"));
  EXPECT_TRUE(IsError(Run({"zrangebyscore", "z", "0", "(x"}), "ERR min or max is not a float"));
  EXPECT_TRUE(IsError(Run({"zrangebyscore", "z", "nan", "1"}), "ERR min or max is not a float"));
  EXPECT_TRUE(IsError(Run({"zcount", "z", "0", "abc"}), "ERR min or max is not a float"));
  EXPECT_TRUE(IsError(Run({"zremrangebyscore", "z", "[1", "2"}), "ERR min or max is not a float"));
  EXPECT_TRUE(
      IsError(Run({"zrangebylex", "z", "a", "+"}), "ERR min or max not valid string range item"));
  EXPECT_TRUE(
      IsError(Run({"zlexcount", "z", "-", "++"}), "ERR min or max not valid string range item"));
  EXPECT_TRUE(
      IsError(Run({"zremrangebylex", "z", "", "+"}), "ERR min or max not valid string range item"));
  EXPECT_TRUE(IsError(Run({"zremrangebyrank", "z", "0", "x"}),
                      "ERR value is not an integer or out of range"));
  // Parse errors come before the type check, as Redis.
  Run({"set", "s", "v"});
  EXPECT_TRUE(IsError(Run({"zrangebyscore", "s", "x", "1"}), "ERR min or max is not a float"));
  EXPECT_TRUE(IsInt(Run({"zcard", "z"}), 1));
}

// ---------------------------------------------------------------------------------------------
// Encodings

TEST_F(ZSetTest, EncodingConvertsAtTheEntryLimit) {
  std::vector<std::string> cmd = {"zadd", "z"};
  for (int i = 0; i < 128; ++i) {
    cmd.push_back(std::to_string(i));
    cmd.push_back("m" + std::to_string(i));
  }
  EXPECT_TRUE(IsInt(Run(cmd), 128));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z"}), "listpack"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "5", "m5"}), 0));  // an update does not convert
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z"}), "listpack"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "128", "m128"}), 1));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z"}), "skiplist"));
  EXPECT_TRUE(IsInt(Run({"zrank", "z", "m128"}), 128));
  EXPECT_TRUE(IsInt(Run({"zrank", "z", "m64"}), 64));
  // Never converted back (as Redis 7.0).
  EXPECT_TRUE(IsInt(Run({"zremrangebyrank", "z", "0", "-10"}), 120));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z"}), "skiplist"));
  EXPECT_TRUE(IsInt(Run({"zcard", "z"}), 9));
  // A single ZADD of 129 members is a skip list at once.
  cmd.push_back("999");
  cmd.push_back("last");
  cmd[1] = "z2";
  EXPECT_TRUE(IsInt(Run(cmd), 129));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z2"}), "skiplist"));
}

TEST_F(ZSetTest, EncodingConvertsAtTheValueLimit) {
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "1", std::string(64, 'a')}), 1));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z"}), "listpack"));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "2", std::string(65, 'b')}), 1));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "z"}), "skiplist"));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "z", "0", "-1"}), {std::string(64, 'a'), std::string(65, 'b')}));
  EXPECT_TRUE(IsInt(Run({"zadd", "y", "1", std::string(65, 'b')}), 1));
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "y"}), "skiplist"));
  RespValue usage = Run({"memory", "usage", "z"});
  EXPECT_EQ(usage.type, Type::kInteger);
  EXPECT_GT(usage.integer, 129);
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

TEST_F(ZSetTest, ZScanSmallSetIsOneCall) {
  Run({"zadd", "z", "1", "a", "2", "b", "3", "c"});
  RespValue v = Run({"zscan", "z", "0"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_TRUE(IsBulk(v.elements[0], "0"));
  EXPECT_TRUE(IsArray(v.elements[1], {"a", "1", "b", "2", "c", "3"}));
  v = Run({"zscan", "z", "0", "MATCH", "b*"});
  EXPECT_TRUE(IsArray(v.elements[1], {"b", "2"}));
  v = Run({"zscan", "missing", "0"});
  EXPECT_TRUE(IsBulk(v.elements[0], "0"));
  EXPECT_TRUE(IsArray(v.elements[1], {}));
  EXPECT_TRUE(IsError(Run({"zscan", "z", "x"}), "ERR invalid cursor"));
  EXPECT_TRUE(IsError(Run({"zscan", "z", "0", "COUNT", "0"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zscan", "z", "0", "BOGUS", "1"}), "ERR syntax error"));
}

TEST_F(ZSetTest, ZScanReturnsEveryMember) {
  constexpr int kMembers = 2000;
  std::vector<std::string> cmd = {"zadd", "z"};
  for (int i = 0; i < kMembers; ++i) {
    cmd.push_back(std::to_string(i) + ".5");
    cmd.push_back("member:" + std::to_string(i));
  }
  ASSERT_TRUE(IsInt(Run(cmd), kMembers));
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    RespValue v = Run({"zscan", "z", cursor, "COUNT", "50"});
    ASSERT_EQ(v.elements.size(), 2u);
    cursor = v.elements[0].str;
    const auto& items = v.elements[1].elements;
    ASSERT_EQ(items.size() % 2, 0u);
    for (size_t i = 0; i < items.size(); i += 2) {
      const std::string& m = items[i].str;
      EXPECT_EQ(items[i + 1].str, m.substr(7) + ".5");
      seen.insert(m);
    }
    ASSERT_LT(++calls, 10000);
  } while (cursor != "0");
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMembers));
  EXPECT_GT(calls, 1);
  // With MATCH.
  size_t matched = 0;
  cursor = "0";
  do {
    RespValue v = Run({"zscan", "z", cursor, "MATCH", "member:1??", "COUNT", "100"});
    cursor = v.elements[0].str;
    matched += v.elements[1].elements.size() / 2;
  } while (cursor != "0");
  EXPECT_EQ(matched, 100u);
}

// ---------------------------------------------------------------------------------------------
// ZUNIONSTORE / ZINTERSTORE

TEST_F(ZSetTest, UnionAndInterAcrossShards) {
  // Many distinct key names so sources and destinations land on both shards.
  constexpr int kKeys = 16;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = "src" + std::to_string(k);
    Run({"zadd", key, std::to_string(k), "common", "1", "only" + std::to_string(k)});
  }
  std::vector<std::string> cmd = {"zunionstore", "out:union", std::to_string(kKeys)};
  for (int k = 0; k < kKeys; ++k) cmd.push_back("src" + std::to_string(k));
  EXPECT_TRUE(IsInt(Run(cmd), kKeys + 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "out:union", "common"}), "120"));  // 0 + 1 + ... + 15
  EXPECT_TRUE(IsBulk(Run({"zscore", "out:union", "only7"}), "1"));
  cmd[0] = "zinterstore";
  for (int d = 0; d < 8; ++d) {  // destinations on both shards
    cmd[1] = "out:inter" + std::to_string(d);
    EXPECT_TRUE(IsInt(Run(cmd), 1));
    EXPECT_TRUE(IsArray(Run({"zrange", cmd[1], "0", "-1", "withscores"}), {"common", "120"}));
  }
  std::vector<std::string> agg = cmd;
  agg.push_back("AGGREGATE");
  agg.push_back("MAX");
  EXPECT_TRUE(IsInt(Run(agg), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", agg[1], "common"}), "15"));
  agg.back() = "min";
  EXPECT_TRUE(IsInt(Run(agg), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", agg[1], "common"}), "0"));
}

TEST_F(ZSetTest, UnionAndInterOptions) {
  Run({"zadd", "a", "1", "x", "2", "y"});
  Run({"zadd", "b", "10", "y", "20", "z"});
  EXPECT_TRUE(IsInt(Run({"zunionstore", "u", "2", "a", "b", "WEIGHTS", "2", "0.5"}), 3));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "u", "0", "-1", "withscores"}), {"x", "2", "y", "9", "z", "10"}));
  EXPECT_TRUE(IsInt(Run({"zunionstore", "u", "3", "a", "b", "missing", "AGGREGATE", "MIN"}), 3));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "u", "0", "-1", "withscores"}), {"x", "1", "y", "2", "z", "20"}));
  EXPECT_TRUE(IsInt(Run({"zinterstore", "i", "2", "a", "b", "WEIGHTS", "1", "-1"}), 1));
  EXPECT_TRUE(IsArray(Run({"zrange", "i", "0", "-1", "withscores"}), {"y", "-8"}));
  // inf * 0 counts as 0; inf + -inf sums to 0.
  Run({"zadd", "inf", "inf", "y"});
  Run({"zadd", "ninf", "-inf", "y"});
  EXPECT_TRUE(IsInt(Run({"zinterstore", "i", "2", "inf", "a", "WEIGHTS", "0", "1"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "i", "y"}), "2"));
  EXPECT_TRUE(IsInt(Run({"zunionstore", "i", "2", "inf", "ninf"}), 1));
  EXPECT_TRUE(IsBulk(Run({"zscore", "i", "y"}), "0"));
  // An empty result deletes the destination; a missing source makes the intersection empty.
  Run({"expire", "i", "100"});
  EXPECT_TRUE(IsInt(Run({"zinterstore", "i", "2", "a", "missing"}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "i"}), 0));
  // The destination may be a source, and any old value and TTL are replaced.
  Run({"set", "u", "str"});
  Run({"expire", "u", "100"});
  EXPECT_TRUE(IsInt(Run({"zunionstore", "u", "1", "a"}), 2));
  EXPECT_TRUE(IsInt(Run({"ttl", "u"}), -1));
  EXPECT_TRUE(IsInt(Run({"zunionstore", "a", "2", "a", "b"}), 3));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "a", "0", "-1", "withscores"}), {"x", "1", "y", "12", "z", "20"}));
  // Errors.
  EXPECT_TRUE(IsError(Run({"zunionstore", "u", "0", "a"}),
                      "ERR at least 1 input key is needed for zunionstore"));
  EXPECT_TRUE(IsError(Run({"zinterstore", "u", "0", "a"}),
                      "ERR at least 1 input key is needed for zinterstore"));
  EXPECT_TRUE(IsError(Run({"zunionstore", "u", "3", "a", "b"}), "ERR syntax error"));
  EXPECT_TRUE(
      IsError(Run({"zunionstore", "u", "x", "a"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(
      IsError(Run({"zunionstore", "u", "2", "a", "b", "WEIGHTS", "1"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zunionstore", "u", "2", "a", "b", "WEIGHTS", "1", "x"}),
                      "ERR weight value is not a float"));
  EXPECT_TRUE(
      IsError(Run({"zunionstore", "u", "2", "a", "b", "AGGREGATE", "avg"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"zunionstore", "u", "2", "a", "b", "WITHSCORES"}), "ERR syntax error"));
}

TEST_F(ZSetTest, PlainSetSourcesScoreOne) {
  Run({"sadd", "s", "a", "b"});          // a listpack set
  Run({"sadd", "ints", "1", "2", "3"});  // an intset
  Run({"zadd", "z", "2", "a", "5", "2"});
  EXPECT_TRUE(IsInt(Run({"zunionstore", "d", "2", "s", "z"}), 3));
  EXPECT_TRUE(
      IsArray(Run({"zrange", "d", "0", "-1", "withscores"}), {"b", "1", "a", "3", "2", "5"}));
  EXPECT_TRUE(IsInt(Run({"zinterstore", "d", "2", "s", "z", "WEIGHTS", "1", "10"}), 1));
  EXPECT_TRUE(IsArray(Run({"zrange", "d", "0", "-1", "withscores"}), {"a", "21"}));
  EXPECT_TRUE(IsInt(Run({"zinterstore", "d", "2", "z", "ints", "AGGREGATE", "MAX"}), 1));
  EXPECT_TRUE(IsArray(Run({"zrange", "d", "0", "-1", "withscores"}), {"2", "5"}));
  EXPECT_TRUE(IsInt(Run({"zunionstore", "d", "1", "ints"}), 3));
  EXPECT_TRUE(IsArray(Run({"zrange", "d", "0", "-1"}), {"1", "2", "3"}));
  // Any other type is WRONGTYPE.
  Run({"rpush", "list", "x"});
  EXPECT_TRUE(IsError(Run({"zunionstore", "d", "2", "z", "list"}), kWrongType));
}

// ---------------------------------------------------------------------------------------------
// RESP3

TEST_F(ZSetTest, Resp3ReplyTypes) {
  Run({"hello", "3"});
  Run({"zadd", "z", "1.5", "a", "2", "b", "3", "c"});
  RespValue v = Run({"zscore", "z", "a"});
  EXPECT_EQ(v.type, Type::kDouble);
  EXPECT_EQ(v.str, "1.5");
  v = Run({"zincrby", "z", "1", "a"});
  EXPECT_EQ(v.type, Type::kDouble);
  EXPECT_EQ(v.str, "2.5");
  v = Run({"zmscore", "z", "b", "nope"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].type, Type::kDouble);
  EXPECT_EQ(v.elements[1].type, Type::kNull);
  // WITHSCORES: an array of [member, score] pairs.
  v = Run({"zrange", "z", "0", "-1", "withscores"});
  ASSERT_EQ(v.type, Type::kArray);
  ASSERT_EQ(v.elements.size(), 3u);
  ASSERT_EQ(v.elements[0].type, Type::kArray);
  ASSERT_EQ(v.elements[0].elements.size(), 2u);
  EXPECT_EQ(v.elements[0].elements[0].str, "b");
  EXPECT_EQ(v.elements[0].elements[1].type, Type::kDouble);
  EXPECT_EQ(v.elements[0].elements[1].str, "2");
  v = Run({"zrangebyscore", "z", "-inf", "inf", "withscores", "limit", "0", "1"});
  ASSERT_EQ(v.elements.size(), 1u);
  EXPECT_EQ(v.elements[0].type, Type::kArray);
  v = Run({"zrange", "z", "0", "-1"});
  EXPECT_TRUE(IsArray(v, {"b", "a", "c"}));
  // ZPOPMIN without a count: one flat pair; with a count: pairs.
  v = Run({"zpopmin", "z"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].str, "b");
  EXPECT_EQ(v.elements[1].type, Type::kDouble);
  v = Run({"zpopmax", "z", "1"});
  ASSERT_EQ(v.elements.size(), 1u);
  ASSERT_EQ(v.elements[0].elements.size(), 2u);
  EXPECT_EQ(v.elements[0].elements[0].str, "c");
  v = Run({"zrandmember", "z", "1", "withscores"});
  ASSERT_EQ(v.elements.size(), 1u);
  EXPECT_EQ(v.elements[0].elements[1].type, Type::kDouble);
  // ZSCAN keeps flat bulk strings, as Redis.
  v = Run({"zscan", "z", "0"});
  EXPECT_TRUE(IsArray(v.elements[1], {"a", "2.5"}));
  EXPECT_TRUE(IsNull(Run({"zscore", "z", "nope"})));
  EXPECT_TRUE(IsNull(Run({"zrank", "z", "nope"})));
}

// ---------------------------------------------------------------------------------------------
// The command table and the rest of the system

TEST_F(ZSetTest, CommandTableRows) {
  RespValue v = Run({"command", "info", "zunionstore", "zadd", "bzpopmin"});
  ASSERT_EQ(v.elements.size(), 3u);
  const auto& zunion = v.elements[0].elements;
  ASSERT_GE(zunion.size(), 6u);
  EXPECT_EQ(zunion[0].str, "zunionstore");
  EXPECT_EQ(zunion[1].integer, -4);
  // Every argument from the destination on, so the dispatcher locks every source's shard.
  EXPECT_EQ(zunion[3].integer, 1);
  EXPECT_EQ(zunion[4].integer, -1);
  EXPECT_EQ(zunion[5].integer, 1);
  EXPECT_EQ(v.elements[1].elements[1].integer, -4);
  // BZPOPMIN: keys are every argument but the timeout, and it is flagged blocking.
  const auto& bzpop = v.elements[2].elements;
  ASSERT_GE(bzpop.size(), 6u);
  EXPECT_EQ(bzpop[3].integer, 1);
  EXPECT_EQ(bzpop[4].integer, -2);
  std::vector<std::string> flags = Strs(bzpop[2]);
  EXPECT_NE(std::find(flags.begin(), flags.end(), "blocking"), flags.end());
}

TEST_F(ZSetTest, WritesWakeWatchers) {
  Run({"zadd", "z", "1", "a"});
  EXPECT_EQ(Run({"watch", "z"}).str, "OK");
  client2().Run({"zincrby", "z", "1", "a"});
  Run({"multi"});
  Run({"zadd", "z", "5", "a"});
  EXPECT_EQ(Run({"exec"}).type, Type::kNull);
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "2"));
  // A write that changes nothing is not a modification.
  EXPECT_EQ(Run({"watch", "z"}).str, "OK");
  client2().Run({"zadd", "z", "NX", "9", "a"});
  client2().Run({"zrem", "z", "nope"});
  Run({"multi"});
  Run({"zadd", "z", "5", "a"});
  EXPECT_EQ(Run({"exec"}).elements.size(), 1u);
  EXPECT_TRUE(IsBulk(Run({"zscore", "z", "a"}), "5"));
}

TEST_F(ZSetTest, ExpiredKeyIsGone) {
  Run({"zadd", "z", "1", "a"});
  Run({"pexpire", "z", "20"});
  SleepMs(60);
  EXPECT_TRUE(IsInt(Run({"zcard", "z"}), 0));
  EXPECT_TRUE(IsInt(Run({"zadd", "z", "2", "b"}), 1));
  EXPECT_TRUE(IsArray(Run({"zrange", "z", "0", "-1"}), {"b"}));
  EXPECT_TRUE(IsInt(Run({"ttl", "z"}), -1));
}

// ---------------------------------------------------------------------------------------------
// Ranks on a large set, against a model

TEST_F(ZSetTest, LargeSetMatchesModel) {
  constexpr int kMembers = 5000;
  std::mt19937_64 rng(42);
  std::vector<std::pair<double, std::string>> model;
  std::vector<std::string> cmd = {"zadd", "big"};
  for (int i = 0; i < kMembers; ++i) {
    // Few distinct scores, so many ties are ordered by member.
    double score = static_cast<double>(rng() % 1000) / 4;
    std::string member = "m" + std::to_string(rng() % 1000000) + "_" + std::to_string(i);
    model.emplace_back(score, member);
    cmd.push_back(protocol::ReplyBuilder::FormatDouble(score));
    cmd.push_back(member);
  }
  ASSERT_TRUE(IsInt(Run(cmd), kMembers));
  ASSERT_TRUE(IsBulk(Run({"object", "encoding", "big"}), "skiplist"));
  std::sort(model.begin(), model.end());  // score, then member bytes: Redis's order
  std::vector<std::string> members;
  for (const auto& [s, m] : model) members.push_back(m);
  EXPECT_EQ(Strs(Run({"zrange", "big", "0", "-1"})), members);
  for (int i = 0; i < 200; ++i) {
    size_t r = rng() % kMembers;
    EXPECT_TRUE(IsInt(Run({"zrank", "big", members[r]}), static_cast<int64_t>(r)));
    EXPECT_TRUE(
        IsInt(Run({"zrevrank", "big", members[r]}), static_cast<int64_t>(kMembers - 1 - r)));
    size_t len = rng() % 20;
    std::vector<std::string> want(
        members.begin() + static_cast<ptrdiff_t>(r),
        members.begin() + static_cast<ptrdiff_t>(std::min(r + len + 1, members.size())));
    EXPECT_EQ(Strs(Run({"zrange", "big", std::to_string(r), std::to_string(r + len)})), want);
  }
  // Score ranges against the model.
  for (int i = 0; i < 50; ++i) {
    double lo = static_cast<double>(rng() % 1000) / 4,
           hi = lo + static_cast<double>(rng() % 40) / 4;
    std::vector<std::string> want;
    for (const auto& [s, m] : model) {
      if (s > lo && s <= hi) want.push_back(m);
    }
    std::string min = "(" + protocol::ReplyBuilder::FormatDouble(lo);
    std::string max = protocol::ReplyBuilder::FormatDouble(hi);
    EXPECT_EQ(Strs(Run({"zrangebyscore", "big", min, max})), want);
    EXPECT_TRUE(IsInt(Run({"zcount", "big", min, max}), static_cast<int64_t>(want.size())));
  }
  // Remove a random half, with updates, and compare again.
  for (int i = 0; i < 500; ++i) {
    size_t r = rng() % model.size();
    if (i % 2 == 0) {
      ASSERT_TRUE(IsInt(Run({"zrem", "big", model[r].second}), 1));
      model.erase(model.begin() + static_cast<ptrdiff_t>(r));
    } else {
      model[r].first = static_cast<double>(rng() % 1000) / 4;
      ASSERT_TRUE(IsInt(Run({"zadd", "big", protocol::ReplyBuilder::FormatDouble(model[r].first),
                             model[r].second}),
                        0));
    }
  }
  EXPECT_TRUE(IsInt(Run({"zremrangebyrank", "big", "100", "199"}), 100));
  std::sort(model.begin(), model.end());
  model.erase(model.begin() + 100, model.begin() + 200);
  members.clear();
  for (const auto& [s, m] : model) members.push_back(m);
  EXPECT_EQ(Strs(Run({"zrange", "big", "0", "-1"})), members);
  std::vector<std::string> rev(members.rbegin(), members.rend());
  EXPECT_EQ(Strs(Run({"zrevrange", "big", "0", "-1"})), rev);
  for (int i = 0; i < 100; ++i) {
    size_t r = rng() % members.size();
    EXPECT_TRUE(IsInt(Run({"zrank", "big", members[r]}), static_cast<int64_t>(r)));
  }
}

}  // namespace
}  // namespace stockd::testing
