// Hash commands through the real dispatch path (server/commands/hash_family.cc).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;

constexpr const char* kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class HashFamilyTest : public ServerTest {
 protected:
  // HSET key f0 v0 ... f<n-1> v<n-1>, in one command.
  RespValue FillHash(const std::string& key, int n, const std::string& value = "v") {
    std::vector<std::string> args = {"hset", key};
    for (int i = 0; i < n; ++i) {
      args.push_back("f" + std::to_string(i));
      args.push_back(value);
    }
    return Run(args);
  }
  std::string Encoding(const std::string& key) { return Run({"object", "encoding", key}).str; }
  // The reply's elements, as a sorted list (for replies in no particular order).
  static std::multiset<std::string> Sorted(const RespValue& v) {
    std::vector<std::string> s = Strs(v);
    return std::multiset<std::string>(s.begin(), s.end());
  }
};

// ---------------------------------------------------------------------------------------------
// HSET HGET HMSET HMGET HSETNX

TEST_F(HashFamilyTest, HSetHGet) {
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "v"}), 1));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "f"}), "v"));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "w", "g", "x"}), 1));  // one new field
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "f"}), "w"));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "g"}), "x"));
  EXPECT_TRUE(IsNull(Run({"hget", "h", "missing"})));
  EXPECT_TRUE(IsNull(Run({"hget", "nokey", "f"})));
  // The last value of a repeated field wins; it counts once.
  EXPECT_TRUE(IsInt(Run({"hset", "h2", "a", "1", "a", "2"}), 1));
  EXPECT_TRUE(IsBulk(Run({"hget", "h2", "a"}), "2"));
  // Binary-safe fields and values, and the empty string.
  std::string bin("a\0b\r\n", 5);
  EXPECT_TRUE(IsInt(Run({"hset", "h3", bin, ""}), 1));
  EXPECT_TRUE(IsBulk(Run({"hget", "h3", bin}), ""));
}

TEST_F(HashFamilyTest, HSetArity) {
  EXPECT_TRUE(IsError(Run({"hset", "h", "f"}), "ERR wrong number of arguments for 'hset' command"));
  EXPECT_TRUE(IsError(Run({"hset", "h", "f", "v", "g"}),
                      "ERR wrong number of arguments for 'hset' command"));
  EXPECT_TRUE(IsError(Run({"hmset", "h", "f", "v", "g"}),
                      "ERR wrong number of arguments for 'hmset' command"));
  EXPECT_TRUE(IsInt(Run({"exists", "h"}), 0));  // nothing was created
}

TEST_F(HashFamilyTest, HMSetHMGet) {
  EXPECT_TRUE(IsOk(Run({"hmset", "h", "a", "1", "b", "2"})));
  auto v = Run({"hmget", "h", "a", "nope", "b"});
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_EQ(Strs(v), (std::vector<std::string>{"1", "(nil)", "2"}));
  v = Run({"hmget", "nokey", "a", "b"});
  EXPECT_EQ(Strs(v), (std::vector<std::string>{"(nil)", "(nil)"}));
}

TEST_F(HashFamilyTest, HSetNx) {
  EXPECT_TRUE(IsInt(Run({"hsetnx", "h", "f", "1"}), 1));
  EXPECT_TRUE(IsInt(Run({"hsetnx", "h", "f", "2"}), 0));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "f"}), "1"));
  EXPECT_TRUE(IsInt(Run({"hsetnx", "h", "g", "2"}), 1));
  EXPECT_TRUE(IsInt(Run({"hlen", "h"}), 2));
}

// ---------------------------------------------------------------------------------------------
// HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HDEL

TEST_F(HashFamilyTest, HGetAllKeysVals) {
  EXPECT_TRUE(IsInt(Run({"hset", "h", "a", "1", "b", "2", "c", "3"}), 3));
  auto all = Run({"hgetall", "h"});
  EXPECT_EQ(all.type, Type::kArray);  // RESP2: a flat array
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
    m[all.elements[i].str] = all.elements[i + 1].str;
  }
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  EXPECT_EQ(Sorted(Run({"hkeys", "h"})), (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Sorted(Run({"hvals", "h"})), (std::multiset<std::string>{"1", "2", "3"}));
  // Missing keys: empty arrays.
  for (const char* cmd : {"hgetall", "hkeys", "hvals"}) {
    auto v = Run({cmd, "nokey"});
    EXPECT_EQ(v.type, Type::kArray) << cmd;
    EXPECT_TRUE(v.elements.empty()) << cmd;
  }
}

TEST_F(HashFamilyTest, HLenHExistsHStrLen) {
  EXPECT_TRUE(IsInt(Run({"hlen", "h"}), 0));
  EXPECT_TRUE(IsInt(Run({"hexists", "h", "f"}), 0));
  EXPECT_TRUE(IsInt(Run({"hstrlen", "h", "f"}), 0));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "hello", "n", "-123"}), 2));
  EXPECT_TRUE(IsInt(Run({"hlen", "h"}), 2));
  EXPECT_TRUE(IsInt(Run({"hexists", "h", "f"}), 1));
  EXPECT_TRUE(IsInt(Run({"hexists", "h", "g"}), 0));
  EXPECT_TRUE(IsInt(Run({"hstrlen", "h", "f"}), 5));
  EXPECT_TRUE(IsInt(Run({"hstrlen", "h", "n"}), 4));
  EXPECT_TRUE(IsInt(Run({"hstrlen", "h", "g"}), 0));
}

TEST_F(HashFamilyTest, HDelDeletesEmptyHash) {
  EXPECT_TRUE(IsInt(Run({"hdel", "h", "f"}), 0));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "a", "1", "b", "2", "c", "3"}), 3));
  EXPECT_TRUE(IsInt(Run({"hdel", "h", "a", "nope", "a"}), 1));
  EXPECT_TRUE(IsInt(Run({"hlen", "h"}), 2));
  EXPECT_TRUE(IsInt(Run({"hdel", "h", "b", "c"}), 2));
  EXPECT_TRUE(IsInt(Run({"exists", "h"}), 0));
  EXPECT_EQ(Run({"type", "h"}).str, "none");
  // The same on a hashtable-encoded hash.
  EXPECT_TRUE(IsInt(FillHash("big", 200), 200));
  std::vector<std::string> del = {"hdel", "big"};
  for (int i = 0; i < 200; ++i) del.push_back("f" + std::to_string(i));
  EXPECT_TRUE(IsInt(Run(del), 200));
  EXPECT_TRUE(IsInt(Run({"exists", "big"}), 0));
}

TEST_F(HashFamilyTest, TypeAndScanType) {
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "v"}), 1));
  EXPECT_TRUE(IsOk(Run({"set", "s", "v"})));
  EXPECT_EQ(Run({"type", "h"}).str, "hash");
  std::set<std::string> found;
  std::string cursor = "0";
  do {
    auto v = Run({"scan", cursor, "type", "hash"});
    cursor = v.elements[0].str;
    for (const auto& k : v.elements[1].elements) found.insert(k.str);
  } while (cursor != "0");
  EXPECT_EQ(found, (std::set<std::string>{"h"}));
}

// ---------------------------------------------------------------------------------------------
// Types

TEST_F(HashFamilyTest, WrongType) {
  EXPECT_TRUE(IsOk(Run({"set", "s", "v"})));
  std::vector<std::vector<std::string>> hash_ops = {
      {"hset", "s", "f", "v"},
      {"hsetnx", "s", "f", "v"},
      {"hget", "s", "f"},
      {"hmget", "s", "f"},
      {"hmset", "s", "f", "v"},
      {"hgetall", "s"},
      {"hdel", "s", "f"},
      {"hexists", "s", "f"},
      {"hlen", "s"},
      {"hkeys", "s"},
      {"hvals", "s"},
      {"hincrby", "s", "f", "1"},
      {"hincrbyfloat", "s", "f", "1"},
      {"hstrlen", "s", "f"},
      {"hrandfield", "s"},
      {"hrandfield", "s", "2"},
      {"hscan", "s", "0"},
  };
  for (const auto& req : hash_ops) EXPECT_TRUE(IsError(Run(req), kWrongType)) << req[0];
  EXPECT_TRUE(IsBulk(Run({"get", "s"}), "v"));  // untouched

  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "1"}), 1));
  std::vector<std::vector<std::string>> string_ops = {
      {"get", "h"},
      {"incr", "h"},
      {"incrby", "h", "1"},
      {"append", "h", "x"},
      {"strlen", "h"},
      {"getrange", "h", "0", "1"},
      {"getset", "h", "x"},
      {"getdel", "h"},
      {"incrbyfloat", "h", "1"},
      {"setrange", "h", "0", "x"},
      {"getex", "h"},
  };
  for (const auto& req : string_ops) EXPECT_TRUE(IsError(Run(req), kWrongType)) << req[0];
  auto mget = Run({"mget", "h"});  // MGET reads another type as missing
  EXPECT_EQ(Strs(mget), (std::vector<std::string>{"(nil)"}));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "f"}), "1"));  // untouched
  // SET overwrites any type.
  EXPECT_TRUE(IsOk(Run({"set", "h", "x"})));
  EXPECT_EQ(Run({"type", "h"}).str, "string");
}

TEST_F(HashFamilyTest, RenameKeepsHash) {
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "v"}), 1));
  // Rename to many names so that some land on the other shard.
  std::string from = "h";
  for (int i = 0; i < 8; ++i) {
    std::string to = "renamed:" + std::to_string(i);
    EXPECT_TRUE(IsOk(Run({"rename", from, to})));
    from = to;
  }
  EXPECT_TRUE(IsBulk(Run({"hget", from, "f"}), "v"));
  EXPECT_EQ(Run({"type", from}).str, "hash");
}

// ---------------------------------------------------------------------------------------------
// HINCRBY HINCRBYFLOAT

TEST_F(HashFamilyTest, HIncrBy) {
  EXPECT_TRUE(IsInt(Run({"hincrby", "h", "n", "5"}), 5));
  EXPECT_TRUE(IsInt(Run({"hincrby", "h", "n", "-7"}), -2));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "n"}), "-2"));
  EXPECT_TRUE(
      IsError(Run({"hincrby", "h", "n", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(
      IsError(Run({"hincrby", "h", "n", "1.5"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "s", "abc", "sp", " 1"}), 2));
  EXPECT_TRUE(IsError(Run({"hincrby", "h", "s", "1"}), "ERR hash value is not an integer"));
  EXPECT_TRUE(IsError(Run({"hincrby", "h", "sp", "1"}), "ERR hash value is not an integer"));
}

TEST_F(HashFamilyTest, HIncrByOverflow) {
  EXPECT_TRUE(
      IsInt(Run({"hset", "h", "max", "9223372036854775807", "min", "-9223372036854775808"}), 2));
  EXPECT_TRUE(
      IsError(Run({"hincrby", "h", "max", "1"}), "ERR increment or decrement would overflow"));
  EXPECT_TRUE(
      IsError(Run({"hincrby", "h", "min", "-1"}), "ERR increment or decrement would overflow"));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "max"}), "9223372036854775807"));  // unchanged
  EXPECT_TRUE(IsInt(Run({"hincrby", "h", "max", "-9223372036854775808"}), -1));
  EXPECT_TRUE(IsInt(Run({"hincrby", "h", "min", "9223372036854775807"}), -1));
  // An error on a new key creates nothing.
  EXPECT_TRUE(
      IsError(Run({"hincrby", "new", "f", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsInt(Run({"exists", "new"}), 0));
}

TEST_F(HashFamilyTest, HIncrByFloat) {
  EXPECT_TRUE(IsBulk(Run({"hincrbyfloat", "h", "f", "10.5"}), "10.5"));
  EXPECT_TRUE(IsBulk(Run({"hincrbyfloat", "h", "f", "0.1"}), "10.6"));
  EXPECT_TRUE(IsBulk(Run({"hincrbyfloat", "h", "f", "-10.6"}), "0"));
  EXPECT_TRUE(IsBulk(Run({"hincrbyfloat", "h", "f", "5.0e3"}), "5000"));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "i", "3"}), 1));
  EXPECT_TRUE(IsBulk(Run({"hincrbyfloat", "h", "i", "1.5"}), "4.5"));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "s", "abc"}), 1));
  EXPECT_TRUE(IsError(Run({"hincrbyfloat", "h", "s", "1"}), "ERR hash value is not a float"));
  EXPECT_TRUE(IsError(Run({"hincrbyfloat", "h", "f", "x"}), "ERR value is not a valid float"));
  EXPECT_TRUE(IsError(Run({"hincrbyfloat", "h", "f", "inf"}), "ERR value is NaN or Infinity"));
  EXPECT_TRUE(IsError(Run({"hincrbyfloat", "new", "f", "inf"}), "ERR value is NaN or Infinity"));
  EXPECT_TRUE(IsInt(Run({"exists", "new"}), 0));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "big", "1e4932"}), 1));
  EXPECT_TRUE(IsError(Run({"hincrbyfloat", "h", "big", "1e4932"}),
                      "ERR increment would produce NaN or Infinity"));
}

// ---------------------------------------------------------------------------------------------
// Encodings

TEST_F(HashFamilyTest, EncodingByEntries) {
  EXPECT_TRUE(IsInt(FillHash("h", 128), 128));
  EXPECT_EQ(Encoding("h"), "listpack");
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f0", "other"}), 0));  // an update adds no entry
  EXPECT_EQ(Encoding("h"), "listpack");
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f128", "v"}), 1));
  EXPECT_EQ(Encoding("h"), "hashtable");
  // Never converted back.
  EXPECT_TRUE(IsInt(Run({"hdel", "h", "f1", "f2", "f3"}), 3));
  EXPECT_EQ(Encoding("h"), "hashtable");
  EXPECT_TRUE(IsInt(Run({"hlen", "h"}), 126));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "f0"}), "other"));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "f127"}), "v"));
  // One command that goes past the limit converts too.
  EXPECT_TRUE(IsInt(FillHash("h2", 129), 129));
  EXPECT_EQ(Encoding("h2"), "hashtable");
}

TEST_F(HashFamilyTest, EncodingByLength) {
  std::string b64(64, 'x'), b65(65, 'x');
  EXPECT_TRUE(IsInt(Run({"hset", "f", b64, b64}), 1));
  EXPECT_EQ(Encoding("f"), "listpack");
  EXPECT_TRUE(IsInt(Run({"hset", "f", b65, "v"}), 1));  // a 65-byte field
  EXPECT_EQ(Encoding("f"), "hashtable");
  EXPECT_TRUE(IsBulk(Run({"hget", "f", b64}), b64));
  EXPECT_TRUE(IsInt(Run({"hset", "v", "a", "1"}), 1));
  EXPECT_TRUE(IsInt(Run({"hsetnx", "v", "b", b65}), 1));  // a 65-byte value
  EXPECT_EQ(Encoding("v"), "hashtable");
  EXPECT_TRUE(IsBulk(Run({"hget", "v", "a"}), "1"));
  EXPECT_TRUE(IsInt(Run({"hset", "w", "a", "1"}), 1));
  EXPECT_TRUE(IsBulk(Run({"hincrbyfloat", "w", "a", "0.5"}), "1.5"));
  EXPECT_EQ(Encoding("w"), "listpack");
  auto usage = Run({"memory", "usage", "v"});
  EXPECT_EQ(usage.type, Type::kInteger);
  EXPECT_GT(usage.integer, 65 + 64);
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD

TEST_F(HashFamilyTest, HRandFieldSingle) {
  EXPECT_TRUE(IsNull(Run({"hrandfield", "nokey"})));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "a", "1", "b", "2", "c", "3"}), 3));
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto v = Run({"hrandfield", "h"});
    ASSERT_EQ(v.type, Type::kBulk);
    seen.insert(v.str);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b", "c"}));
}

TEST_F(HashFamilyTest, HRandFieldCount) {
  for (const char* key : {"small", "big"}) {
    int n = std::string(key) == "small" ? 5 : 300;
    EXPECT_TRUE(IsInt(FillHash(key, n), n));
    // Positive counts: distinct fields, at most the whole hash.
    for (int count : {1, 2, n / 2, n - 1, n, n + 1, 1000000}) {
      auto v = Run({"hrandfield", key, std::to_string(count)});
      ASSERT_EQ(v.type, Type::kArray);
      std::vector<std::string> fields = Strs(v);
      std::set<std::string> distinct(fields.begin(), fields.end());
      EXPECT_EQ(fields.size(), static_cast<size_t>(std::min(count, n))) << key << " " << count;
      EXPECT_EQ(distinct.size(), fields.size()) << key << " " << count;
      for (const auto& f : fields) EXPECT_EQ(f[0], 'f');
    }
    // Negative counts: exactly -count fields, repeats allowed.
    auto v = Run({"hrandfield", key, "-20"});
    EXPECT_EQ(v.elements.size(), 20u);
    v = Run({"hrandfield", key, "-" + std::to_string(n * 3)});
    EXPECT_EQ(v.elements.size(), static_cast<size_t>(n * 3));
  }
  auto v = Run({"hrandfield", "small", "0"});
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_TRUE(v.elements.empty());
  v = Run({"hrandfield", "nokey", "5"});
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_TRUE(v.elements.empty());
  v = Run({"hrandfield", "nokey", "-5"});
  EXPECT_TRUE(v.elements.empty());
}

TEST_F(HashFamilyTest, HRandFieldWithValues) {
  EXPECT_TRUE(IsInt(Run({"hset", "h", "a", "1", "b", "2"}), 2));
  auto v = Run({"hrandfield", "h", "5", "withvalues"});
  ASSERT_EQ(v.elements.size(), 4u);  // RESP2: flat field, value
  std::map<std::string, std::string> m;
  for (size_t i = 0; i < 4; i += 2) m[v.elements[i].str] = v.elements[i + 1].str;
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  v = Run({"hrandfield", "h", "-3", "WITHVALUES"});
  ASSERT_EQ(v.elements.size(), 6u);
  for (size_t i = 0; i < 6; i += 2) {
    EXPECT_EQ(v.elements[i].str == "a" ? "1" : "2", v.elements[i + 1].str);
  }
  EXPECT_TRUE(IsError(Run({"hrandfield", "h", "1", "bogus"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"hrandfield", "h", "1", "withvalues", "x"}), "ERR syntax error"));
  EXPECT_TRUE(
      IsError(Run({"hrandfield", "h", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"hrandfield", "h", "-9223372036854775808"}),
                      "ERR value is out of range, value must between -9223372036854775807 and "
                      "9223372036854775807"));
  EXPECT_TRUE(IsError(Run({"hrandfield", "h", "-9223372036854775807", "withvalues"}),
                      "ERR value is out of range"));
  EXPECT_TRUE(IsError(Run({"hrandfield", "h", "9223372036854775807", "withvalues"}),
                      "ERR value is out of range"));
}

// ---------------------------------------------------------------------------------------------
// HSCAN

TEST_F(HashFamilyTest, HScanListpackReturnsAllAtOnce) {
  EXPECT_TRUE(IsInt(FillHash("h", 20), 20));
  auto v = Run({"hscan", "h", "0", "count", "1"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_TRUE(IsBulk(v.elements[0], "0"));
  EXPECT_EQ(v.elements[1].type, Type::kArray);
  EXPECT_EQ(v.elements[1].elements.size(), 40u);
  v = Run({"hscan", "h", "0", "match", "f1*"});
  std::vector<std::string> got = Strs(v.elements[1]);
  std::set<std::string> fields;
  for (size_t i = 0; i < got.size(); i += 2) fields.insert(got[i]);
  EXPECT_EQ(fields, (std::set<std::string>{"f1", "f10", "f11", "f12", "f13", "f14", "f15", "f16",
                                           "f17", "f18", "f19"}));
  // Missing key: an empty scan.
  v = Run({"hscan", "nokey", "0"});
  EXPECT_TRUE(IsBulk(v.elements[0], "0"));
  EXPECT_TRUE(v.elements[1].elements.empty());
}

TEST_F(HashFamilyTest, HScanCompleteOverLargeHash) {
  const int n = 2000;
  for (int base = 0; base < n; base += 500) {
    std::vector<std::string> args = {"hset", "h"};
    for (int i = base; i < base + 500; ++i) {
      args.push_back("f" + std::to_string(i));
      args.push_back("v" + std::to_string(i));
    }
    EXPECT_TRUE(IsInt(Run(args), 500));
  }
  EXPECT_EQ(Encoding("h"), "hashtable");
  std::map<std::string, std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    auto v = Run({"hscan", "h", cursor, "count", "50"});
    ASSERT_EQ(v.elements.size(), 2u);
    cursor = v.elements[0].str;
    const auto& items = v.elements[1].elements;
    ASSERT_EQ(items.size() % 2, 0u);
    for (size_t i = 0; i < items.size(); i += 2) seen[items[i].str] = items[i + 1].str;
    ++calls;
    // Changes during the scan: fields present throughout must still all be returned.
    if (calls == 3) {
      for (int i = n; i < n + 1000; ++i) Run({"hset", "h", "x" + std::to_string(i), "x"});
    }
  } while (cursor != "0" && calls < 10000);
  EXPECT_GT(calls, 2);
  for (int i = 0; i < n; ++i) {
    std::string f = "f" + std::to_string(i);
    ASSERT_TRUE(seen.count(f)) << f;
    EXPECT_EQ(seen[f], "v" + std::to_string(i));
  }
}

TEST_F(HashFamilyTest, HScanErrors) {
  EXPECT_TRUE(IsInt(Run({"hset", "h", "f", "v"}), 1));
  EXPECT_TRUE(IsError(Run({"hscan", "h", "x"}), "ERR invalid cursor"));
  EXPECT_TRUE(IsError(Run({"hscan", "h", "0", "count", "0"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"hscan", "h", "0", "count"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"hscan", "h", "0", "type", "hash"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"hscan", "h", "0", "count", "x"}),
                      "ERR value is not an integer or out of range"));
}

// ---------------------------------------------------------------------------------------------
// RESP3

TEST_F(HashFamilyTest, Resp3ReplyTypes) {
  ASSERT_EQ(Run({"hello", "3"}).type, Type::kMap);
  EXPECT_TRUE(IsInt(Run({"hset", "h", "a", "1", "b", "2"}), 2));
  auto v = Run({"hgetall", "h"});
  EXPECT_EQ(v.type, Type::kMap);
  EXPECT_EQ(v.elements.size(), 4u);
  v = Run({"hgetall", "nokey"});
  EXPECT_EQ(v.type, Type::kMap);
  EXPECT_TRUE(v.elements.empty());
  EXPECT_EQ(Run({"hkeys", "h"}).type, Type::kArray);
  EXPECT_EQ(Run({"hget", "h", "nope"}).type, Type::kNull);
  EXPECT_EQ(Run({"hrandfield", "nokey"}).type, Type::kNull);
  EXPECT_EQ(Run({"hincrbyfloat", "h", "a", "1"}).type, Type::kBulk);
  // HRANDFIELD WITHVALUES: an array of [field, value] pairs.
  for (const char* count : {"5", "-3", "1"}) {
    v = Run({"hrandfield", "h", count, "withvalues"});
    ASSERT_EQ(v.type, Type::kArray);
    for (const auto& pair : v.elements) {
      ASSERT_EQ(pair.type, Type::kArray) << count;
      EXPECT_EQ(pair.elements.size(), 2u);
    }
  }
  EXPECT_EQ(Run({"hrandfield", "h", "-3", "withvalues"}).elements.size(), 3u);
  v = Run({"hrandfield", "h", "2"});
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_EQ(v.elements[0].type, Type::kBulk);
}

TEST_F(HashFamilyTest, CommandInfo) {
  auto v = Run({"command", "info", "hset", "hgetall", "hscan"});
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_TRUE(IsBulk(v.elements[0].elements[0], "hset"));
  EXPECT_TRUE(IsInt(v.elements[0].elements[1], -4));
  EXPECT_TRUE(IsInt(v.elements[1].elements[1], 2));
  EXPECT_TRUE(IsInt(v.elements[2].elements[3], 1));  // first key
}

}  // namespace
}  // namespace stockd::testing
