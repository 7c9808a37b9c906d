// Set commands through the real dispatch path (server/commands/set_family.cc).
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;
using Members = std::set<std::string>;

constexpr const char* kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class SetFamilyTest : public ServerTest {
 protected:
  // SADD key <prefix>0 ... <prefix><n-1>, in one command.
  RespValue Fill(const std::string& key, int n, const std::string& prefix = "m") {
    std::vector<std::string> args = {"sadd", key};
    for (int i = 0; i < n; ++i) args.push_back(prefix + std::to_string(i));
    return Run(args);
  }
  RespValue Sadd(const std::string& key, const std::vector<std::string>& members) {
    std::vector<std::string> args = {"sadd", key};
    args.insert(args.end(), members.begin(), members.end());
    return Run(args);
  }
  std::string Encoding(const std::string& key) { return Run({"object", "encoding", key}).str; }
  static Members AsSet(const RespValue& v) {
    std::vector<std::string> s = Strs(v);
    return Members(s.begin(), s.end());
  }
  Members SMembers(const std::string& key) { return AsSet(Run({"smembers", key})); }
};

// ---------------------------------------------------------------------------------------------
// SADD SREM SISMEMBER SMISMEMBER SMEMBERS SCARD

TEST_F(SetFamilyTest, AddRemoveMembership) {
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "a", "b", "a"}), 2));
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "b", "c"}), 1));
  EXPECT_TRUE(IsInt(Run({"scard", "s"}), 3));
  EXPECT_EQ(SMembers("s"), (Members{"a", "b", "c"}));
  EXPECT_TRUE(IsInt(Run({"sismember", "s", "a"}), 1));
  EXPECT_TRUE(IsInt(Run({"sismember", "s", "z"}), 0));
  EXPECT_TRUE(IsInt(Run({"sismember", "nokey", "a"}), 0));
  EXPECT_EQ(Ints(Run({"smismember", "s", "a", "z", "c"})), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(Ints(Run({"smismember", "nokey", "a", "b"})), (std::vector<int64_t>{0, 0}));
  EXPECT_TRUE(IsInt(Run({"srem", "s", "a", "z", "a"}), 1));
  EXPECT_TRUE(IsInt(Run({"srem", "nokey", "a"}), 0));
  EXPECT_EQ(SMembers("s"), (Members{"b", "c"}));
  EXPECT_TRUE(IsInt(Run({"srem", "s", "b", "c"}), 2));
  EXPECT_TRUE(IsInt(Run({"exists", "s"}), 0));  // the empty set is deleted
  EXPECT_TRUE(IsInt(Run({"scard", "s"}), 0));
  auto v = Run({"smembers", "nokey"});
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_TRUE(v.elements.empty());
}

TEST_F(SetFamilyTest, IntegersAndStringsMix) {
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "3", "1", "2", "-5"}), 4));
  EXPECT_EQ(Encoding("s"), "intset");
  EXPECT_EQ(Strs(Run({"smembers", "s"})), (std::vector<std::string>{"-5", "1", "2", "3"}));
  // Not canonical integers: distinct members, and they end the intset.
  EXPECT_TRUE(IsInt(Run({"sismember", "s", "01"}), 0));
  EXPECT_TRUE(IsInt(Run({"sismember", "s", "+1"}), 0));
  EXPECT_TRUE(IsInt(Run({"srem", "s", "01"}), 0));
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "01"}), 1));
  EXPECT_EQ(Encoding("s"), "listpack");
  EXPECT_EQ(SMembers("s"), (Members{"-5", "1", "2", "3", "01"}));
  EXPECT_TRUE(IsInt(Run({"sismember", "s", "1"}), 1));
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "1"}), 0));
  EXPECT_TRUE(IsInt(Run({"sadd", "b", "9223372036854775807", "-9223372036854775808"}), 2));
  EXPECT_EQ(Encoding("b"), "intset");
  EXPECT_TRUE(IsInt(Run({"sadd", "b", "9223372036854775808"}), 1));
  EXPECT_EQ(Encoding("b"), "listpack");
}

TEST_F(SetFamilyTest, TypeAndScanType) {
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "a"}), 1));
  EXPECT_TRUE(IsOk(Run({"set", "str", "v"})));
  EXPECT_EQ(Run({"type", "s"}).str, "set");
  Members found;
  std::string cursor = "0";
  do {
    auto v = Run({"scan", cursor, "type", "set"});
    cursor = v.elements[0].str;
    for (const auto& k : v.elements[1].elements) found.insert(k.str);
  } while (cursor != "0");
  EXPECT_EQ(found, (Members{"s"}));
}

TEST_F(SetFamilyTest, WrongType) {
  EXPECT_TRUE(IsOk(Run({"set", "str", "v"})));
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "a"}), 1));
  std::vector<std::vector<std::string>> set_ops = {
      {"sadd", "str", "a"},
      {"srem", "str", "a"},
      {"sismember", "str", "a"},
      {"smismember", "str", "a"},
      {"smembers", "str"},
      {"scard", "str"},
      {"spop", "str"},
      {"spop", "str", "2"},
      {"srandmember", "str"},
      {"srandmember", "str", "2"},
      {"smove", "str", "s", "a"},
      {"smove", "s", "str", "a"},
      {"sinter", "s", "str"},
      {"sunion", "s", "str"},
      {"sdiff", "s", "str"},
      {"sinterstore", "d", "s", "str"},
      {"sunionstore", "d", "s", "str"},
      {"sdiffstore", "d", "s", "str"},
      {"sintercard", "2", "s", "str"},
      {"sscan", "str", "0"},
      {"sinter", "nokey", "str"},
      {"sdiff", "nokey", "str"},
  };
  for (const auto& req : set_ops) {
    EXPECT_TRUE(IsError(Run(req), kWrongType)) << req[0] << " " << req[1];
  }
  EXPECT_TRUE(IsBulk(Run({"get", "str"}), "v"));
  EXPECT_EQ(SMembers("s"), (Members{"a"}));
  EXPECT_TRUE(IsInt(Run({"exists", "d"}), 0));
  for (std::vector<std::string> req : std::vector<std::vector<std::string>>{
           {"get", "s"}, {"incr", "s"}, {"append", "s", "x"}, {"strlen", "s"}}) {
    EXPECT_TRUE(IsError(Run(req), kWrongType)) << req[0];
  }
}

// ---------------------------------------------------------------------------------------------
// Encodings

TEST_F(SetFamilyTest, IntsetLimit) {
  EXPECT_TRUE(IsInt(Fill("s", 512, ""), 512));
  EXPECT_EQ(Encoding("s"), "intset");
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "512"}), 1));
  EXPECT_EQ(Encoding("s"), "hashtable");  // past 512 integers, and past the listpack's 128
  EXPECT_TRUE(IsInt(Run({"scard", "s"}), 513));
  EXPECT_TRUE(IsInt(Run({"sismember", "s", "100"}), 1));
  // Never converted back.
  std::vector<std::string> rem = {"srem", "s"};
  for (int i = 0; i < 500; ++i) rem.push_back(std::to_string(i));
  EXPECT_TRUE(IsInt(Run(rem), 500));
  EXPECT_EQ(Encoding("s"), "hashtable");
}

TEST_F(SetFamilyTest, IntsetToListpackOrHashtable) {
  // A small intset takes a short string as a listpack.
  EXPECT_TRUE(IsInt(Fill("a", 127, ""), 127));
  EXPECT_EQ(Encoding("a"), "intset");
  EXPECT_TRUE(IsInt(Run({"sadd", "a", "x"}), 1));
  EXPECT_EQ(Encoding("a"), "listpack");
  EXPECT_TRUE(IsInt(Run({"scard", "a"}), 128));
  EXPECT_TRUE(IsInt(Run({"sadd", "a", "y"}), 1));  // the 129th member
  EXPECT_EQ(Encoding("a"), "hashtable");
  // An intset of 128 already cannot become a listpack of 129.
  EXPECT_TRUE(IsInt(Fill("b", 128, ""), 128));
  EXPECT_TRUE(IsInt(Run({"sadd", "b", "x"}), 1));
  EXPECT_EQ(Encoding("b"), "hashtable");
  // A string longer than 64 bytes goes straight to a hashtable.
  EXPECT_TRUE(IsInt(Run({"sadd", "c", "1"}), 1));
  EXPECT_TRUE(IsInt(Run({"sadd", "c", std::string(65, 'x')}), 1));
  EXPECT_EQ(Encoding("c"), "hashtable");
  EXPECT_EQ(SMembers("c"), (Members{"1", std::string(65, 'x')}));
}

TEST_F(SetFamilyTest, ListpackLimits) {
  EXPECT_TRUE(IsInt(Fill("s", 128), 128));
  EXPECT_EQ(Encoding("s"), "listpack");
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "m0"}), 0));
  EXPECT_EQ(Encoding("s"), "listpack");
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "extra"}), 1));
  EXPECT_EQ(Encoding("s"), "hashtable");
  EXPECT_TRUE(IsInt(Run({"scard", "s"}), 129));
  std::string b64(64, 'y'), b65(65, 'y');
  EXPECT_TRUE(IsInt(Run({"sadd", "l", b64}), 1));
  EXPECT_EQ(Encoding("l"), "listpack");
  EXPECT_TRUE(IsInt(Run({"sadd", "l", b65}), 1));
  EXPECT_EQ(Encoding("l"), "hashtable");
  // One SADD of more than 128 new strings makes a hashtable at once.
  EXPECT_TRUE(IsInt(Fill("big", 129), 129));
  EXPECT_EQ(Encoding("big"), "hashtable");
  auto usage = Run({"memory", "usage", "big"});
  EXPECT_EQ(usage.type, Type::kInteger);
  EXPECT_GT(usage.integer, 129 * 4);
}

// ---------------------------------------------------------------------------------------------
// SPOP SRANDMEMBER

TEST_F(SetFamilyTest, SPop) {
  EXPECT_TRUE(IsNull(Run({"spop", "nokey"})));
  EXPECT_TRUE(Run({"spop", "nokey", "3"}).elements.empty());
  for (const char* key : {"ints", "strs", "big"}) {
    std::string k = key;
    int n = k == "big" ? 300 : 10;
    EXPECT_TRUE(IsInt(Fill(k, n, k == "ints" ? "" : "m"), n));
    Members popped;
    auto one = Run({"spop", k});
    ASSERT_EQ(one.type, Type::kBulk);
    popped.insert(one.str);
    auto some = Run({"spop", k, "3"});
    ASSERT_EQ(some.elements.size(), 3u);
    for (const auto& m : Strs(some)) EXPECT_TRUE(popped.insert(m).second) << m;
    EXPECT_TRUE(IsInt(Run({"scard", k}), n - 4));
    EXPECT_TRUE(Run({"spop", k, "0"}).elements.empty());
    auto rest = Run({"spop", k, "1000000"});  // more than there are: all of them
    EXPECT_EQ(rest.elements.size(), static_cast<size_t>(n - 4));
    for (const auto& m : Strs(rest)) EXPECT_TRUE(popped.insert(m).second) << m;
    EXPECT_EQ(popped.size(), static_cast<size_t>(n));
    EXPECT_TRUE(IsInt(Run({"exists", k}), 0)) << k;
  }
  EXPECT_TRUE(IsInt(Run({"sadd", "one", "x"}), 1));
  EXPECT_TRUE(IsBulk(Run({"spop", "one"}), "x"));
  EXPECT_TRUE(IsInt(Run({"exists", "one"}), 0));
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "x"}), 1));
  EXPECT_TRUE(IsError(Run({"spop", "s", "-1"}), "ERR value is out of range, must be positive"));
  EXPECT_TRUE(IsError(Run({"spop", "s", "x"}), "ERR value is out of range, must be positive"));
  EXPECT_TRUE(IsError(Run({"spop", "s", "1", "2"}), "ERR syntax error"));
  EXPECT_TRUE(IsInt(Run({"scard", "s"}), 1));
}

TEST_F(SetFamilyTest, SRandMember) {
  EXPECT_TRUE(IsNull(Run({"srandmember", "nokey"})));
  auto v = Run({"srandmember", "nokey", "5"});
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_TRUE(v.elements.empty());
  for (const char* key : {"ints", "strs", "big"}) {
    std::string k = key;
    int n = k == "big" ? 300 : 10;
    EXPECT_TRUE(IsInt(Fill(k, n, k == "ints" ? "" : "m"), n));
    Members all = SMembers(k);
    Members seen;
    for (int i = 0; i < 200; ++i) {
      auto one = Run({"srandmember", k});
      ASSERT_EQ(one.type, Type::kBulk);
      EXPECT_TRUE(all.count(one.str));
      seen.insert(one.str);
    }
    EXPECT_GT(seen.size(), 1u);
    for (int count : {1, 2, n / 2, n - 1, n, n + 1, 1000000}) {
      auto r = Run({"srandmember", k, std::to_string(count)});
      ASSERT_EQ(r.type, Type::kArray);
      std::vector<std::string> got = Strs(r);
      Members distinct(got.begin(), got.end());
      EXPECT_EQ(got.size(), static_cast<size_t>(std::min(count, n))) << k << " " << count;
      EXPECT_EQ(distinct.size(), got.size()) << k << " " << count;
      for (const auto& m : got) EXPECT_TRUE(all.count(m)) << m;
    }
    auto neg = Run({"srandmember", k, std::to_string(-3 * n)});
    ASSERT_EQ(neg.elements.size(), static_cast<size_t>(3 * n));
    for (const auto& m : Strs(neg)) EXPECT_TRUE(all.count(m)) << m;
    EXPECT_TRUE(Run({"srandmember", k, "0"}).elements.empty());
    EXPECT_TRUE(IsInt(Run({"scard", k}), n));  // unchanged
  }
  EXPECT_TRUE(
      IsError(Run({"srandmember", "ints", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"srandmember", "ints", "-9223372036854775808"}),
                      "ERR value is out of range, value must between -9223372036854775807 and "
                      "9223372036854775807"));
  EXPECT_TRUE(IsError(Run({"srandmember", "ints", "1", "2"}), "ERR syntax error"));
}

// ---------------------------------------------------------------------------------------------
// SMOVE

TEST_F(SetFamilyTest, SMove) {
  EXPECT_TRUE(IsInt(Run({"sadd", "src", "a", "b"}), 2));
  EXPECT_TRUE(IsInt(Run({"smove", "nokey", "dst", "a"}), 0));
  EXPECT_TRUE(IsInt(Run({"smove", "src", "dst", "z"}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "dst"}), 0));
  EXPECT_TRUE(IsInt(Run({"smove", "src", "dst", "a"}), 1));
  EXPECT_EQ(SMembers("src"), (Members{"b"}));
  EXPECT_EQ(SMembers("dst"), (Members{"a"}));
  EXPECT_TRUE(IsInt(Run({"smove", "src", "src", "b"}), 1));  // same key: membership only
  EXPECT_TRUE(IsInt(Run({"smove", "src", "src", "z"}), 0));
  EXPECT_TRUE(IsInt(Run({"sadd", "dst", "b"}), 1));
  EXPECT_TRUE(IsInt(Run({"smove", "src", "dst", "b"}), 1));  // already in dst
  EXPECT_TRUE(IsInt(Run({"exists", "src"}), 0));
  EXPECT_EQ(SMembers("dst"), (Members{"a", "b"}));
  // Source and destination on different shards: move between many key pairs.
  for (int i = 0; i < 16; ++i) {
    std::string a = "from:" + std::to_string(i), b = "to:" + std::to_string(i);
    EXPECT_TRUE(IsInt(Run({"sadd", a, "1", "x"}), 2));
    EXPECT_TRUE(IsInt(Run({"smove", a, b, "1"}), 1));
    EXPECT_EQ(SMembers(a), (Members{"x"}));
    EXPECT_EQ(SMembers(b), (Members{"1"}));
    EXPECT_EQ(Encoding(b), "intset");
  }
}

// ---------------------------------------------------------------------------------------------
// SINTER SUNION SDIFF and their STORE forms, over many shards

TEST_F(SetFamilyTest, AlgebraAcrossShards) {
  // Many key names, so the operands live on both shards.
  for (int i = 0; i < 12; ++i) {
    std::string a = "a:" + std::to_string(i), b = "b:" + std::to_string(i),
                c = "c:" + std::to_string(i), d = "dst:" + std::to_string(i);
    EXPECT_TRUE(IsInt(Sadd(a, {"1", "2", "3", "x", "y"}), 5));
    EXPECT_TRUE(IsInt(Sadd(b, {"2", "3", "4", "y"}), 4));
    EXPECT_TRUE(IsInt(Sadd(c, {"3", "y", "z"}), 3));
    EXPECT_EQ(AsSet(Run({"sinter", a, b, c})), (Members{"3", "y"}));
    EXPECT_EQ(AsSet(Run({"sunion", a, b, c})), (Members{"1", "2", "3", "4", "x", "y", "z"}));
    EXPECT_EQ(AsSet(Run({"sdiff", a, b, c})), (Members{"1", "x"}));
    EXPECT_EQ(AsSet(Run({"sdiff", a, "nokey"})), (Members{"1", "2", "3", "x", "y"}));
    EXPECT_TRUE(AsSet(Run({"sdiff", "nokey", a})).empty());
    EXPECT_TRUE(AsSet(Run({"sinter", a, "nokey"})).empty());
    EXPECT_EQ(AsSet(Run({"sunion", "nokey", c})), (Members{"3", "y", "z"}));
    EXPECT_EQ(AsSet(Run({"sinter", a})), (Members{"1", "2", "3", "x", "y"}));
    EXPECT_EQ(AsSet(Run({"sinter", a, a})), (Members{"1", "2", "3", "x", "y"}));
    EXPECT_TRUE(AsSet(Run({"sdiff", a, a})).empty());

    EXPECT_TRUE(IsInt(Run({"sinterstore", d, a, b, c}), 2));
    EXPECT_EQ(SMembers(d), (Members{"3", "y"}));
    EXPECT_TRUE(IsInt(Run({"sunionstore", d, a, b, c}), 7));
    EXPECT_EQ(SMembers(d), (Members{"1", "2", "3", "4", "x", "y", "z"}));
    EXPECT_TRUE(IsInt(Run({"sdiffstore", d, a, b}), 2));
    EXPECT_EQ(SMembers(d), (Members{"1", "x"}));
    // The destination may be a source.
    EXPECT_TRUE(IsInt(Run({"sunionstore", d, d, c}), 5));
    EXPECT_EQ(SMembers(d), (Members{"1", "x", "3", "y", "z"}));
    // An empty result deletes the destination.
    EXPECT_TRUE(IsInt(Run({"sinterstore", d, a, "nokey"}), 0));
    EXPECT_TRUE(IsInt(Run({"exists", d}), 0));
    EXPECT_TRUE(IsInt(Run({"sdiffstore", d, a, a}), 0));
    EXPECT_TRUE(IsInt(Run({"exists", d}), 0));
  }
}

TEST_F(SetFamilyTest, StoreOverwritesAnyTypeAndTtl) {
  EXPECT_TRUE(IsInt(Run({"sadd", "a", "1", "2"}), 2));
  EXPECT_TRUE(IsOk(Run({"set", "d", "string", "ex", "100"})));
  EXPECT_TRUE(IsInt(Run({"sunionstore", "d", "a"}), 2));
  EXPECT_EQ(Run({"type", "d"}).str, "set");
  EXPECT_TRUE(IsInt(Run({"ttl", "d"}), -1));
  EXPECT_EQ(Encoding("d"), "intset");
  EXPECT_TRUE(IsInt(Run({"sadd", "b", "x"}), 1));
  EXPECT_TRUE(IsInt(Run({"sunionstore", "d", "a", "b"}), 3));
  EXPECT_EQ(Encoding("d"), "listpack");
  EXPECT_TRUE(IsInt(Fill("big", 200), 200));
  EXPECT_TRUE(IsInt(Run({"sunionstore", "d", "big", "a"}), 202));
  EXPECT_EQ(Encoding("d"), "hashtable");
  EXPECT_TRUE(IsInt(Run({"sinterstore", "d", "big", "big"}), 200));
}

TEST_F(SetFamilyTest, LargeAlgebra) {
  EXPECT_TRUE(IsInt(Fill("x", 1000), 1000));
  std::vector<std::string> evens;
  for (int i = 0; i < 2000; i += 2) evens.push_back("m" + std::to_string(i));
  EXPECT_TRUE(IsInt(Sadd("y", evens), 1000));
  EXPECT_EQ(Run({"sinter", "x", "y"}).elements.size(), 500u);
  EXPECT_EQ(Run({"sunion", "x", "y"}).elements.size(), 1500u);
  EXPECT_EQ(Run({"sdiff", "x", "y"}).elements.size(), 500u);
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "x", "y"}), 500));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "x", "y", "limit", "10"}), 10));
}

// ---------------------------------------------------------------------------------------------
// SINTERCARD

TEST_F(SetFamilyTest, SInterCard) {
  EXPECT_TRUE(IsInt(Sadd("a", {"1", "2", "3", "x"}), 4));
  EXPECT_TRUE(IsInt(Sadd("b", {"2", "3", "x", "y"}), 4));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "a", "b"}), 3));
  EXPECT_TRUE(IsInt(Run({"sintercard", "1", "a"}), 4));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "a", "b", "LIMIT", "2"}), 2));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "a", "b", "limit", "0"}), 3));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "a", "b", "limit", "100"}), 3));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "a", "nokey"}), 0));
  EXPECT_TRUE(IsInt(Run({"sintercard", "2", "a", "a"}), 4));
  EXPECT_TRUE(IsError(Run({"sintercard", "0", "a"}), "ERR numkeys should be greater than 0"));
  EXPECT_TRUE(IsError(Run({"sintercard", "x", "a"}), "ERR numkeys should be greater than 0"));
  EXPECT_TRUE(IsError(Run({"sintercard", "3", "a", "b"}),
                      "ERR Number of keys can't be greater than number of args"));
  EXPECT_TRUE(
      IsError(Run({"sintercard", "2", "a", "b", "limit", "-1"}), "ERR LIMIT can't be negative"));
  EXPECT_TRUE(IsError(Run({"sintercard", "2", "a", "b", "limit"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"sintercard", "1", "a", "b"}), "ERR syntax error"));
  // Keys on both shards.
  for (int i = 0; i < 12; ++i) {
    std::string k = "k:" + std::to_string(i);
    EXPECT_TRUE(IsInt(Sadd(k, {"2", "x", "q"}), 3));
    EXPECT_TRUE(IsInt(Run({"sintercard", "3", "a", "b", k}), 2));
    EXPECT_TRUE(IsInt(Run({"sintercard", "3", "a", k, "b", "limit", "1"}), 1));
  }
  auto info = Run({"command", "info", "sintercard"});
  ASSERT_EQ(info.elements.size(), 1u);
  EXPECT_TRUE(IsInt(info.elements[0].elements[1], -3));
  EXPECT_TRUE(IsInt(info.elements[0].elements[3], 2));
  EXPECT_TRUE(IsInt(info.elements[0].elements[4], -1));
}

// ---------------------------------------------------------------------------------------------
// SSCAN

TEST_F(SetFamilyTest, SScanSmallReturnsAllAtOnce) {
  EXPECT_TRUE(IsInt(Fill("ints", 100, ""), 100));
  EXPECT_TRUE(IsInt(Fill("strs", 100), 100));
  for (const char* key : {"ints", "strs"}) {
    auto v = Run({"sscan", key, "0", "count", "1"});
    EXPECT_TRUE(IsBulk(v.elements[0], "0"));
    EXPECT_EQ(v.elements[1].elements.size(), 100u) << key;
  }
  auto v = Run({"sscan", "ints", "0", "match", "9*"});
  EXPECT_EQ(AsSet(v.elements[1]),
            (Members{"9", "90", "91", "92", "93", "94", "95", "96", "97", "98", "99"}));
  v = Run({"sscan", "nokey", "0"});
  EXPECT_TRUE(IsBulk(v.elements[0], "0"));
  EXPECT_TRUE(v.elements[1].elements.empty());
  EXPECT_TRUE(IsError(Run({"sscan", "ints", "x"}), "ERR invalid cursor"));
  EXPECT_TRUE(IsError(Run({"sscan", "ints", "0", "count", "0"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"sscan", "ints", "0", "bogus", "1"}), "ERR syntax error"));
}

TEST_F(SetFamilyTest, SScanCompleteOverLargeSet) {
  const int n = 2000;
  EXPECT_TRUE(IsInt(Fill("s", n), n));
  EXPECT_EQ(Encoding("s"), "hashtable");
  Members seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    auto v = Run({"sscan", "s", cursor, "count", "50"});
    ASSERT_EQ(v.elements.size(), 2u);
    cursor = v.elements[0].str;
    for (const auto& m : Strs(v.elements[1])) seen.insert(m);
    ++calls;
    if (calls == 3) {  // growth during the scan must not hide members present throughout
      Fill("s", 1000, "extra");
      Run({"srem", "s", "m0", "m1"});
    }
  } while (cursor != "0" && calls < 10000);
  EXPECT_GT(calls, 2);
  for (int i = 2; i < n; ++i) ASSERT_TRUE(seen.count("m" + std::to_string(i))) << i;
}

// ---------------------------------------------------------------------------------------------
// RESP3

TEST_F(SetFamilyTest, Resp3ReplyTypes) {
  ASSERT_EQ(Run({"hello", "3"}).type, Type::kMap);
  EXPECT_TRUE(IsInt(Run({"sadd", "s", "a", "b", "c"}), 3));
  EXPECT_TRUE(IsInt(Run({"sadd", "t", "b", "c", "d"}), 3));
  EXPECT_EQ(Run({"smembers", "s"}).type, Type::kSet);
  EXPECT_EQ(Run({"smembers", "nokey"}).type, Type::kSet);
  EXPECT_EQ(Run({"sinter", "s", "t"}).type, Type::kSet);
  EXPECT_EQ(Run({"sinter", "s", "nokey"}).type, Type::kSet);
  EXPECT_EQ(Run({"sunion", "s", "t"}).type, Type::kSet);
  EXPECT_EQ(Run({"sdiff", "s", "t"}).type, Type::kSet);
  EXPECT_EQ(Run({"smismember", "s", "a"}).type, Type::kArray);
  EXPECT_EQ(Run({"srandmember", "s", "2"}).type, Type::kArray);
  EXPECT_EQ(Run({"srandmember", "s", "10"}).type, Type::kArray);
  EXPECT_EQ(Run({"srandmember", "s", "-5"}).type, Type::kArray);
  EXPECT_EQ(Run({"srandmember", "nokey"}).type, Type::kNull);
  EXPECT_EQ(Run({"spop", "nokey"}).type, Type::kNull);
  EXPECT_EQ(Run({"spop", "nokey", "2"}).type, Type::kSet);
  EXPECT_EQ(Run({"spop", "s", "1"}).type, Type::kSet);
  EXPECT_EQ(Run({"spop", "s", "10"}).type, Type::kSet);
  EXPECT_EQ(Run({"sscan", "t", "0"}).elements[1].type, Type::kArray);
}

}  // namespace
}  // namespace stockd::testing
