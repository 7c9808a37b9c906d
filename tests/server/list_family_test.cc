#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class ListFamilyTest : public ServerTest {
 protected:
  std::vector<std::string> Range(const std::string& key) {
    return Strs(Run({"lrange", key, "0", "-1"}));
  }
  using V = std::vector<std::string>;
};

TEST_F(ListFamilyTest, PushPopBothEnds) {
  EXPECT_EQ(Run({"rpush", "l", "a", "b"}).integer, 2);
  EXPECT_EQ(Run({"lpush", "l", "x", "y"}).integer, 4);
  EXPECT_EQ(Range("l"), (V{"y", "x", "a", "b"}));
  EXPECT_EQ(Run({"lpop", "l"}).str, "y");
  EXPECT_EQ(Run({"rpop", "l"}).str, "b");
  EXPECT_EQ(Strs(Run({"lpop", "l", "5"})), (V{"x", "a"}));
  EXPECT_EQ(Run({"exists", "l"}).integer, 0);  // an empty list is deleted
  EXPECT_EQ(Run({"lpop", "l"}).type, RespValue::Type::kNull);
  EXPECT_EQ(Run({"lpop", "l", "2"}).type, RespValue::Type::kNull);  // null array
  Run({"rpush", "l", "a"});
  EXPECT_EQ(Run({"lpop", "l", "0"}).elements.size(), 0u);
  EXPECT_TRUE(IsError(Run({"lpop", "l", "-1"}), "ERR value is out of range, must be positive"));
  EXPECT_TRUE(IsError(Run({"lpop", "l", "1", "2"}), "ERR syntax error"));
}

TEST_F(ListFamilyTest, PushXOnlyWhenPresent) {
  EXPECT_EQ(Run({"lpushx", "nx", "a"}).integer, 0);
  EXPECT_EQ(Run({"exists", "nx"}).integer, 0);
  Run({"rpush", "nx", "a"});
  EXPECT_EQ(Run({"rpushx", "nx", "b", "c"}).integer, 3);
  EXPECT_EQ(Run({"lpushx", "nx", "z"}).integer, 4);
}

TEST_F(ListFamilyTest, RangesAndIndexes) {
  for (int i = 0; i < 10; ++i) Run({"rpush", "r", std::to_string(i)});
  EXPECT_EQ(Strs(Run({"lrange", "r", "-3", "-1"})), (V{"7", "8", "9"}));
  EXPECT_EQ(Strs(Run({"lrange", "r", "-100", "1"})), (V{"0", "1"}));
  EXPECT_EQ(Run({"lrange", "r", "5", "2"}).elements.size(), 0u);
  EXPECT_EQ(Run({"lrange", "r", "20", "30"}).elements.size(), 0u);
  EXPECT_EQ(Run({"lrange", "missing", "0", "-1"}).elements.size(), 0u);
  EXPECT_EQ(Run({"lindex", "r", "-1"}).str, "9");
  EXPECT_EQ(Run({"lindex", "r", "10"}).type, RespValue::Type::kNull);
  EXPECT_EQ(Run({"llen", "r"}).integer, 10);
  EXPECT_EQ(Run({"llen", "missing"}).integer, 0);
  EXPECT_TRUE(
      IsError(Run({"lrange", "r", "x", "1"}), "ERR value is not an integer or out of range"));
}

TEST_F(ListFamilyTest, SetRemTrimInsert) {
  for (const char* x : {"a", "b", "a", "c", "a"}) Run({"rpush", "l", x});
  EXPECT_EQ(Run({"lset", "l", "-1", "z"}).str, "OK");
  EXPECT_TRUE(IsError(Run({"lset", "l", "9", "z"}), "ERR index out of range"));
  EXPECT_TRUE(IsError(Run({"lset", "nokey", "0", "z"}), "ERR no such key"));
  EXPECT_EQ(Run({"lrem", "l", "-1", "a"}).integer, 1);  // from the tail: the middle "a"
  EXPECT_EQ(Range("l"), (V{"a", "b", "c", "z"}));
  EXPECT_EQ(Run({"linsert", "l", "before", "c", "x"}).integer, 5);
  EXPECT_EQ(Run({"linsert", "l", "AFTER", "z", "end"}).integer, 6);
  EXPECT_EQ(Run({"linsert", "l", "after", "nope", "x"}).integer, -1);
  EXPECT_EQ(Run({"linsert", "missing", "after", "a", "x"}).integer, 0);
  EXPECT_TRUE(IsError(Run({"linsert", "l", "middle", "a", "x"}), "ERR syntax error"));
  EXPECT_EQ(Range("l"), (V{"a", "b", "x", "c", "z", "end"}));
  EXPECT_EQ(Run({"ltrim", "l", "1", "-2"}).str, "OK");
  EXPECT_EQ(Range("l"), (V{"b", "x", "c", "z"}));
  EXPECT_EQ(Run({"lrem", "l", "0", "x"}).integer, 1);
  EXPECT_EQ(Run({"ltrim", "l", "5", "10"}).str, "OK");
  EXPECT_EQ(Run({"exists", "l"}).integer, 0);
}

TEST_F(ListFamilyTest, LPos) {
  for (const char* x : {"a", "b", "c", "1", "2", "3", "c", "c"}) Run({"rpush", "p", x});
  EXPECT_EQ(Run({"lpos", "p", "c"}).integer, 2);
  EXPECT_EQ(Run({"lpos", "p", "c", "rank", "2"}).integer, 6);
  EXPECT_EQ(Run({"lpos", "p", "c", "rank", "-1"}).integer, 7);
  EXPECT_EQ(Ints(Run({"lpos", "p", "c", "count", "2"})), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(Ints(Run({"lpos", "p", "c", "count", "0"})), (std::vector<int64_t>{2, 6, 7}));
  EXPECT_EQ(Ints(Run({"lpos", "p", "c", "rank", "-1", "count", "2"})),
            (std::vector<int64_t>{7, 6}));
  EXPECT_EQ(Run({"lpos", "p", "c", "maxlen", "2"}).type, RespValue::Type::kNull);
  EXPECT_EQ(Run({"lpos", "p", "zz"}).type, RespValue::Type::kNull);
  EXPECT_EQ(Run({"lpos", "p", "zz", "count", "1"}).elements.size(), 0u);
  EXPECT_TRUE(IsErrorPrefix(Run({"lpos", "p", "c", "rank", "0"}), "ERR RANK can't be zero"));
  EXPECT_TRUE(IsError(Run({"lpos", "p", "c", "count", "-1"}), "ERR COUNT can't be negative"));
  EXPECT_TRUE(IsError(Run({"lpos", "p", "c", "maxlen", "-1"}), "ERR MAXLEN can't be negative"));
}

// LMOVE between lists that live on different shards (the test server has two).
TEST_F(ListFamilyTest, MoveAcrossShards) {
  for (int i = 0; i < 20; ++i) {
    std::string src = "src" + std::to_string(i), dst = "dst" + std::to_string(i);
    Run({"rpush", src, "1", "2"});
    EXPECT_EQ(Run({"lmove", src, dst, "left", "right"}).str, "1");
    EXPECT_EQ(Run({"rpoplpush", src, dst}).str, "2");
    EXPECT_EQ(Range(dst), (V{"2", "1"}));
    EXPECT_EQ(Run({"exists", src}).integer, 0);
  }
  EXPECT_EQ(Run({"lmove", "none", "dst0", "left", "left"}).type, RespValue::Type::kNull);
  Run({"rpush", "rot", "a", "b", "c"});
  EXPECT_EQ(Run({"lmove", "rot", "rot", "left", "right"}).str, "a");  // rotation
  EXPECT_EQ(Range("rot"), (V{"b", "c", "a"}));
  Run({"rpush", "one", "x"});
  EXPECT_EQ(Run({"rpoplpush", "one", "one"}).str, "x");
  EXPECT_EQ(Range("one"), (V{"x"}));
  EXPECT_TRUE(IsError(Run({"lmove", "rot", "rot", "up", "left"}), "ERR syntax error"));
}

TEST_F(ListFamilyTest, WrongTypeBothWays) {
  Run({"set", "s", "v"});
  std::string wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
  EXPECT_TRUE(IsError(Run({"lpush", "s", "a"}), wrongtype));
  EXPECT_TRUE(IsError(Run({"lrange", "s", "0", "-1"}), wrongtype));
  EXPECT_TRUE(IsError(Run({"llen", "s"}), wrongtype));
  Run({"rpush", "l", "a"});
  EXPECT_TRUE(IsError(Run({"get", "l"}), wrongtype));
  EXPECT_TRUE(IsError(Run({"incr", "l"}), wrongtype));
  EXPECT_TRUE(IsError(Run({"append", "l", "x"}), wrongtype));
  EXPECT_TRUE(IsError(Run({"lmove", "l", "s", "left", "left"}), wrongtype));
  EXPECT_EQ(Range("l"), (V{"a"}));                         // nothing moved
  EXPECT_EQ(Run({"set", "l", "now-a-string"}).str, "OK");  // SET overwrites any type
  EXPECT_EQ(Run({"type", "l"}).str, "string");
}

TEST_F(ListFamilyTest, TypeEncodingScanAndMemory) {
  Run({"rpush", "l", "a", "b"});
  EXPECT_EQ(Run({"type", "l"}).str, "list");
  EXPECT_EQ(Run({"object", "encoding", "l"}).str, "deque");
  EXPECT_GT(Run({"memory", "usage", "l"}).integer, 0);
  Run({"set", "s", "v"});
  auto v = Run({"scan", "0", "type", "list", "count", "1000"});
  EXPECT_EQ(Strs(v.elements[1]), (V{"l"}));
}

TEST_F(ListFamilyTest, WritesWakeWatchers) {
  Run({"rpush", "w", "a"});
  Run({"watch", "w"});
  client2().Run({"lpop", "w"});
  Run({"multi"});
  Run({"ping"});
  EXPECT_EQ(Run({"exec"}).type, RespValue::Type::kNull);
}

}  // namespace
}  // namespace stockd::testing
