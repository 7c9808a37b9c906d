// Keyspace commands through the real dispatch path (server/commands/generic_family.cc).
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;

constexpr int64_t kMax = INT64_MAX;

::testing::AssertionResult IsStatus(const RespValue& v, std::string_view s) {
  if (v.type == Type::kSimpleString && v.str == s) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected +" << s << ", got " << v.ToString();
}

class GenericFamilyTest : public ServerTest {
 protected:
  // Sets n keys "<prefix>0" ... "<prefix><n-1>" (spread over both shards) with one MSET.
  std::vector<std::string> FillKeys(int n, std::string_view prefix = "key:") {
    std::vector<std::string> keys;
    std::vector<std::string> mset = {"mset"};
    for (int i = 0; i < n; ++i) {
      keys.push_back(std::string(prefix) + std::to_string(i));
      mset.push_back(keys.back());
      mset.push_back(std::to_string(i));
    }
    EXPECT_TRUE(IsOk(Run(mset)));
    return keys;
  }

  struct ScanResult {
    std::multiset<std::string> keys;  // every key returned, repeats kept
    int calls = 0;
    bool finished = false;
  };
  // Runs a whole SCAN iteration; `extra` are the options after the cursor. Stops after
  // calls_max calls (a scan that never ends is a failure).
  ScanResult ScanAll(const std::vector<std::string>& extra, int calls_max = 100000) {
    ScanResult out;
    std::string cursor = "0";
    while (out.calls < calls_max) {
      std::vector<std::string> cmd = {"scan", cursor};
      cmd.insert(cmd.end(), extra.begin(), extra.end());
      RespValue r = Run(cmd);
      ++out.calls;
      if (r.type != Type::kArray || r.elements.size() != 2) {
        ADD_FAILURE() << "bad SCAN reply " << r.ToString();
        return out;
      }
      EXPECT_EQ(r.elements[0].type, Type::kBulk);
      EXPECT_EQ(r.elements[1].type, Type::kArray);
      for (const std::string& k : Strs(r.elements[1])) out.keys.insert(k);
      cursor = r.elements[0].str;
      if (cursor == "0") {
        out.finished = true;
        break;
      }
    }
    return out;
  }
};

// ---------------------------------------------------------------------------------------------
// DEL / UNLINK / EXISTS / TYPE

TEST_F(GenericFamilyTest, DelAndUnlink) {
  EXPECT_TRUE(IsInt(Run({"del", "missing"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "a", "1"})));
  EXPECT_TRUE(IsInt(Run({"del", "a", "a", "missing"}), 1));  // a repeated key is deleted once
  EXPECT_TRUE(IsInt(Run({"exists", "a"}), 0));
  auto keys = FillKeys(300);
  std::vector<std::string> del = {"del"};
  for (int i = 0; i < 150; ++i) del.push_back(keys[i]);
  del.push_back("nope");
  EXPECT_TRUE(IsInt(Run(del), 150));
  std::vector<std::string> unlink = {"UNLINK"};
  for (int i = 100; i < 300; ++i) unlink.push_back(keys[i]);
  EXPECT_TRUE(IsInt(Run(unlink), 150));
  EXPECT_TRUE(IsInt(Run({"dbsize"}), 0));
}

TEST_F(GenericFamilyTest, DelIgnoresExpiredKeys) {
  EXPECT_TRUE(IsOk(Run({"set", "a", "1", "px", "1"})));
  SleepMs(10);
  EXPECT_TRUE(IsInt(Run({"del", "a"}), 0));
}

TEST_F(GenericFamilyTest, ExistsCountsRepeats) {
  EXPECT_TRUE(IsInt(Run({"exists", "a"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "a", "1"})));
  EXPECT_TRUE(IsInt(Run({"exists", "a", "a", "b", "a"}), 3));
  auto keys = FillKeys(100);
  std::vector<std::string> exists = {"exists"};
  for (const auto& k : keys) exists.push_back(k);
  exists.push_back("missing");
  exists.push_back(keys[0]);
  EXPECT_TRUE(IsInt(Run(exists), 101));
}

TEST_F(GenericFamilyTest, Type) {
  EXPECT_TRUE(IsStatus(Run({"type", "missing"}), "none"));
  EXPECT_TRUE(IsOk(Run({"set", "s", "x"})));
  EXPECT_TRUE(IsStatus(Run({"type", "s"}), "string"));
  EXPECT_TRUE(IsOk(Run({"set", "n", "12"})));
  EXPECT_TRUE(IsStatus(Run({"TYPE", "n"}), "string"));
}

// ---------------------------------------------------------------------------------------------
// RENAME / RENAMENX

TEST_F(GenericFamilyTest, Rename) {
  EXPECT_TRUE(IsError(Run({"rename", "missing", "x"}), "ERR no such key"));
  EXPECT_TRUE(IsError(Run({"rename", "missing", "missing"}), "ERR no such key"));
  EXPECT_TRUE(IsOk(Run({"set", "a", "1"})));
  EXPECT_TRUE(IsOk(Run({"rename", "a", "a"})));
  EXPECT_TRUE(IsBulk(Run({"get", "a"}), "1"));
  EXPECT_TRUE(IsOk(Run({"rename", "a", "b"})));
  EXPECT_TRUE(IsInt(Run({"exists", "a"}), 0));
  EXPECT_TRUE(IsBulk(Run({"get", "b"}), "1"));
  // Overwrites the destination, and its TTL becomes the source's (none here).
  EXPECT_TRUE(IsOk(Run({"set", "c", "old", "ex", "100"})));
  EXPECT_TRUE(IsOk(Run({"rename", "b", "c"})));
  EXPECT_TRUE(IsBulk(Run({"get", "c"}), "1"));
  EXPECT_TRUE(IsInt(Run({"ttl", "c"}), -1));
}

TEST_F(GenericFamilyTest, RenameAcrossShardsKeepsValueAndTtl) {
  for (int i = 0; i < 100; ++i) {
    std::string from = "from:" + std::to_string(i), to = "to:" + std::to_string(i);
    EXPECT_TRUE(IsOk(Run({"set", from, "v" + std::to_string(i), "pxat", "33177117420123"})));
    EXPECT_TRUE(IsOk(Run({"rename", from, to})));
    EXPECT_TRUE(IsInt(Run({"exists", from}), 0));
    EXPECT_TRUE(IsBulk(Run({"get", to}), "v" + std::to_string(i)));
    EXPECT_TRUE(IsInt(Run({"pexpiretime", to}), 33177117420123));
    EXPECT_TRUE(IsInt(Run({"pexpiretime", from}), -2));
  }
  EXPECT_TRUE(IsInt(Run({"dbsize"}), 100));
}

TEST_F(GenericFamilyTest, RenameNx) {
  EXPECT_TRUE(IsError(Run({"renamenx", "missing", "x"}), "ERR no such key"));
  EXPECT_TRUE(IsOk(Run({"mset", "a", "1", "b", "2"})));
  EXPECT_TRUE(IsInt(Run({"renamenx", "a", "b"}), 0));
  EXPECT_TRUE(IsBulk(Run({"get", "a"}), "1"));
  EXPECT_TRUE(IsBulk(Run({"get", "b"}), "2"));
  EXPECT_TRUE(IsInt(Run({"renamenx", "a", "a"}), 0));
  EXPECT_TRUE(IsInt(Run({"renamenx", "a", "c"}), 1));
  EXPECT_TRUE(IsInt(Run({"exists", "a"}), 0));
  EXPECT_TRUE(IsBulk(Run({"get", "c"}), "1"));
  // An expired destination counts as missing.
  EXPECT_TRUE(IsOk(Run({"set", "d", "x", "px", "1"})));
  SleepMs(10);
  EXPECT_TRUE(IsInt(Run({"renamenx", "c", "d"}), 1));
  EXPECT_TRUE(IsBulk(Run({"get", "d"}), "1"));
}

// ---------------------------------------------------------------------------------------------
// RANDOMKEY / KEYS

TEST_F(GenericFamilyTest, RandomKey) {
  EXPECT_TRUE(IsNull(Run({"randomkey"})));
  auto keys = FillKeys(50);
  std::set<std::string> all(keys.begin(), keys.end()), seen;
  for (int i = 0; i < 500; ++i) {
    RespValue r = Run({"randomkey"});
    ASSERT_EQ(r.type, Type::kBulk);
    EXPECT_TRUE(all.count(r.str)) << r.str;
    seen.insert(r.str);
  }
  EXPECT_GT(seen.size(), 25u);  // both shards, many keys (50 keys, 500 draws)
}

TEST_F(GenericFamilyTest, RandomKeySkipsExpired) {
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("e:" + std::to_string(i));
    EXPECT_TRUE(IsOk(Run({"set", keys.back(), "x", "px", "1"})));
  }
  SleepMs(10);
  EXPECT_TRUE(IsNull(Run({"randomkey"})));
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(IsOk(Run({"set", keys[i], "x", "px", "1"})));
  EXPECT_TRUE(IsOk(Run({"set", "live", "x"})));
  SleepMs(10);
  EXPECT_TRUE(IsBulk(Run({"randomkey"}), "live"));
}

TEST_F(GenericFamilyTest, Keys) {
  EXPECT_EQ(Run({"keys", "*"}).elements.size(), 0u);
  EXPECT_EQ(Run({"keys", "*"}).type, Type::kArray);
  EXPECT_TRUE(IsOk(Run({"mset", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello",
                        "5", "h*llo", "6"})));
  auto sorted = [&](const std::vector<std::string>& cmd) {
    auto v = Strs(Run(cmd));
    return std::set<std::string>(v.begin(), v.end());
  };
  using S = std::set<std::string>;
  EXPECT_EQ(sorted({"keys", "h?llo"}), (S{"hello", "hallo", "hxllo", "h*llo"}));
  EXPECT_EQ(sorted({"keys", "h*llo"}), (S{"hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"}));
  EXPECT_EQ(sorted({"keys", "h[ae]llo"}), (S{"hello", "hallo"}));
  EXPECT_EQ(sorted({"keys", "h[^e]llo"}), (S{"hallo", "hxllo", "h*llo"}));
  EXPECT_EQ(sorted({"keys", "h[a-b]llo"}), (S{"hallo"}));
  EXPECT_EQ(sorted({"keys", "h\\*llo"}), (S{"h*llo"}));
  EXPECT_EQ(sorted({"keys", "nothing*"}), S{});
  auto keys = FillKeys(500);
  EXPECT_EQ(Run({"keys", "key:*"}).elements.size(), 500u);
  EXPECT_EQ(Run({"keys", "*"}).elements.size(), 506u);
  EXPECT_TRUE(IsOk(Run({"set", "key:short", "x", "px", "1"})));
  SleepMs(10);
  EXPECT_EQ(Run({"keys", "key:*"}).elements.size(), 500u);  // expired keys are not listed
}

// ---------------------------------------------------------------------------------------------
// SCAN

TEST_F(GenericFamilyTest, ScanReturnsEveryKey) {
  auto keys = FillKeys(2000);
  for (const std::vector<std::string>& opts : {std::vector<std::string>{},
                                               {"count", "1"},
                                               {"count", "7"},
                                               {"COUNT", "1000"},
                                               {"count", "9223372036854775807"}}) {
    ScanResult r = ScanAll(opts);
    ASSERT_TRUE(r.finished);
    std::set<std::string> unique(r.keys.begin(), r.keys.end());
    EXPECT_EQ(unique, std::set<std::string>(keys.begin(), keys.end()));
    if (!opts.empty() && opts[1] == "9223372036854775807") {
      EXPECT_LE(r.calls, 3);  // a huge COUNT scans a whole shard per call
    }
  }
}

TEST_F(GenericFamilyTest, ScanEmptyDatabaseFinishes) {
  ScanResult r = ScanAll({});
  EXPECT_TRUE(r.finished);
  EXPECT_TRUE(r.keys.empty());
  EXPECT_LE(r.calls, 2);  // one call per shard at most
}

TEST_F(GenericFamilyTest, ScanMatchAndType) {
  auto keys = FillKeys(2000);
  ScanResult r = ScanAll({"match", "key:1*"});
  ASSERT_TRUE(r.finished);
  std::set<std::string> want;
  for (const auto& k : keys) {
    if (k.starts_with("key:1")) want.insert(k);
  }
  EXPECT_EQ(std::set<std::string>(r.keys.begin(), r.keys.end()), want);
  for (std::string type : {"string", "STRING"}) {
    ScanResult t = ScanAll({"type", type, "count", "100"});
    ASSERT_TRUE(t.finished);
    EXPECT_EQ(std::set<std::string>(t.keys.begin(), t.keys.end()).size(), 2000u);
  }
  for (std::string type : {"none", "list", "hash", "nosuchtype"}) {
    ScanResult t = ScanAll({"type", type, "count", "100"});
    ASSERT_TRUE(t.finished);
    EXPECT_TRUE(t.keys.empty()) << type;
  }
  ScanResult m = ScanAll({"match", "key:19*", "type", "string", "count", "50", "match", "key:1"});
  ASSERT_TRUE(m.finished);  // the last MATCH wins, as Redis
  EXPECT_EQ(std::vector<std::string>(m.keys.begin(), m.keys.end()),
            std::vector<std::string>{"key:1"});
}

TEST_F(GenericFamilyTest, ScanSkipsExpiredKeys) {
  FillKeys(100);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(IsOk(Run({"set", "exp:" + std::to_string(i), "x", "px", "1"})));
  }
  SleepMs(10);
  ScanResult r = ScanAll({"count", "20"});
  ASSERT_TRUE(r.finished);
  for (const auto& k : r.keys) EXPECT_FALSE(k.starts_with("exp:")) << k;
  EXPECT_EQ(std::set<std::string>(r.keys.begin(), r.keys.end()).size(), 100u);
}

// Keys present for the whole scan are returned even while the tables grow and shrink.
TEST_F(GenericFamilyTest, ScanGuaranteeUnderResize) {
  auto stable = FillKeys(2000, "stable:");
  auto doomed = FillKeys(2000, "doomed:");
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0, added = 0;
  do {
    RespValue r = Run({"scan", cursor, "count", "20"});
    ASSERT_EQ(r.type, Type::kArray);
    for (const auto& k : Strs(r.elements[1])) seen.insert(k);
    cursor = r.elements[0].str;
    // Grow the tables at first, then delete the doomed keys so they shrink.
    if (calls < 40) {
      std::vector<std::string> mset = {"mset"};
      for (int i = 0; i < 100; ++i, ++added) {
        mset.push_back("grow:" + std::to_string(added));
        mset.push_back("x");
      }
      EXPECT_TRUE(IsOk(Run(mset)));
    } else if (calls < 80) {
      std::vector<std::string> del = {"del"};
      for (int i = (calls - 40) * 50; i < (calls - 39) * 50; ++i) del.push_back(doomed[i]);
      Run(del);
    }
    ++calls;
  } while (cursor != "0" && calls < 100000);
  ASSERT_EQ(cursor, "0");
  for (const auto& k : stable) EXPECT_TRUE(seen.count(k)) << "SCAN missed " << k;
}

TEST_F(GenericFamilyTest, ScanErrors) {
  FillKeys(10);
  const char* kInvalid = "ERR invalid cursor";
  for (std::string cursor :
       {"abc", " 0", "0 ", "1x", "-1", "18446744073709551616", "2", "255", "258"}) {
    EXPECT_TRUE(IsError(Run({"scan", cursor}), kInvalid)) << "[" << cursor << "]";
  }
  const char* kSyntax = "ERR syntax error";
  EXPECT_TRUE(IsError(Run({"scan", "0", "count", "0"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"scan", "0", "count", "-1"}), kSyntax));
  EXPECT_TRUE(
      IsError(Run({"scan", "0", "count", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"scan", "0", "match"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"scan", "0", "type"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"scan", "0", "foo", "bar"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"scan", "0", "count", "10", "extra"}), kSyntax));
  // The cursor is checked before the options.
  EXPECT_TRUE(IsError(Run({"scan", "x", "foo"}), kInvalid));
  // Cursors 0 and 1 start shard 0 and shard 1.
  EXPECT_EQ(Run({"scan", "1"}).type, Type::kArray);
  EXPECT_EQ(Run({"scan", "+0"}).type, Type::kArray);  // strtoul accepts a sign, as Redis
}

TEST_F(GenericFamilyTest, ScanIsPerDatabase) {
  FillKeys(20);
  EXPECT_TRUE(IsOk(Run({"select", "2"})));
  EXPECT_TRUE(ScanAll({}).keys.empty());
  EXPECT_TRUE(IsOk(Run({"set", "only", "x"})));
  ScanResult r = ScanAll({});
  EXPECT_EQ(std::vector<std::string>(r.keys.begin(), r.keys.end()),
            std::vector<std::string>{"only"});
  EXPECT_EQ(Strs(Run({"keys", "*"})), std::vector<std::string>{"only"});
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family, TTL family, PERSIST

TEST_F(GenericFamilyTest, ExpireVariants) {
  EXPECT_TRUE(IsInt(Run({"expire", "missing", "100"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  RespValue pttl = Run({"pttl", "k"});
  EXPECT_GT(pttl.integer, 99000);
  EXPECT_LE(pttl.integer, 100000);
  EXPECT_TRUE(IsInt(Run({"pexpire", "k", "50000"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 50));
  EXPECT_TRUE(IsInt(Run({"expireat", "k", "33177117420"}), 1));
  EXPECT_TRUE(IsInt(Run({"expiretime", "k"}), 33177117420));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 33177117420000));
  EXPECT_TRUE(IsInt(Run({"PEXPIREAT", "k", "33177117420123"}), 1));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 33177117420123));
  EXPECT_TRUE(IsInt(Run({"expiretime", "k"}), 33177117420));  // rounded to nearest second
  EXPECT_TRUE(IsInt(Run({"pexpireat", "k", "33177117420500"}), 1));
  EXPECT_TRUE(IsInt(Run({"expiretime", "k"}), 33177117421));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
}

TEST_F(GenericFamilyTest, ExpireInThePastDeletes) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"expire", "k", "0"},
                                       {"expire", "k", "-100"},
                                       {"pexpire", "k", "-1"},
                                       {"expireat", "k", "1"},
                                       {"pexpireat", "k", "0"},
                                       {"pexpireat", "k", "-9223372036854775808"},
                                       {"expire", "k", "-9223372036854775"}}) {
    EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
    EXPECT_TRUE(IsInt(Run(cmd), 1)) << TestClient::Encode(cmd);
    EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0)) << TestClient::Encode(cmd);
    EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -2));
  }
  EXPECT_TRUE(IsInt(Run({"expire", "k", "-1"}), 0));  // missing key: nothing to delete
}

TEST_F(GenericFamilyTest, ExpireTakesEffect) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsInt(Run({"pexpire", "k", "30"}), 1));
  SleepMs(80);
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -2));
}

TEST_F(GenericFamilyTest, ExpireOverflow) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsError(Run({"expire", "k", "9223372036854775807"}),
                      "ERR invalid expire time in 'expire' command"));
  EXPECT_TRUE(IsError(Run({"expire", "k", "-9223372036854775808"}),
                      "ERR invalid expire time in 'expire' command"));
  EXPECT_TRUE(IsError(Run({"EXPIRE", "k", "9223372036854776"}),
                      "ERR invalid expire time in 'expire' command"));
  EXPECT_TRUE(IsError(Run({"expire", "k", "9223372036854775"}),
                      "ERR invalid expire time in 'expire' command"));  // overflows with now
  EXPECT_TRUE(IsError(Run({"pexpire", "k", "9223372036854775807"}),
                      "ERR invalid expire time in 'pexpire' command"));
  EXPECT_TRUE(IsError(Run({"ExpireAt", "k", "9223372036854776"}),
                      "ERR invalid expire time in 'expireat' command"));
  EXPECT_TRUE(IsError(Run({"expire", "k", "abc"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"expire", "k", "9223372036854775808"}),
                      "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"expire", "k", "1.5"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  // The largest representable absolute times are fine.
  EXPECT_TRUE(IsInt(Run({"pexpireat", "k", "9223372036854775807"}), 1));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), kMax));
  EXPECT_TRUE(IsInt(Run({"expiretime", "k"}), 9223372036854776));
  EXPECT_TRUE(IsInt(Run({"expireat", "k", "9223372036854775"}), 1));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 9223372036854775000));
}

TEST_F(GenericFamilyTest, ExpireOptions) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  // No TTL yet: XX and GT fail, NX and LT set it (no TTL counts as infinite).
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100", "xx"}), 0));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100", "gt"}), 0));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100", "lt"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsInt(Run({"persist", "k"}), 1));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100", "NX"}), 1));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "200", "nx"}), 0));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "200", "xx"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 200));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100", "gt"}), 0));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "300", "gt"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 300));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "400", "lt"}), 0));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "50", "lt", "xx"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 50));
  EXPECT_TRUE(IsInt(Run({"pexpireat", "k", "33177117420000", "gt", "gt"}), 1));
  EXPECT_TRUE(IsInt(Run({"pexpireat", "k", "33177117420000", "gt"}), 0));  // equal is not greater
  EXPECT_TRUE(IsInt(Run({"pexpireat", "k", "33177117420000", "lt"}), 0));  // nor less
  // A past time that passes the condition deletes the key.
  EXPECT_TRUE(IsInt(Run({"expire", "k", "-1", "lt"}), 1));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
  EXPECT_TRUE(IsInt(Run({"expire", "k", "100", "nx"}), 0));  // missing key
}

TEST_F(GenericFamilyTest, ExpireOptionErrors) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  const char* kNx = "ERR NX and XX, GT or LT options at the same time are not compatible";
  const char* kGtLt = "ERR GT and LT options at the same time are not compatible";
  EXPECT_TRUE(IsError(Run({"expire", "k", "100", "nx", "xx"}), kNx));
  EXPECT_TRUE(IsError(Run({"expire", "k", "100", "xx", "nx"}), kNx));
  EXPECT_TRUE(IsError(Run({"expire", "k", "100", "nx", "gt"}), kNx));
  EXPECT_TRUE(IsError(Run({"pexpire", "k", "100", "lt", "nx"}), kNx));
  EXPECT_TRUE(IsError(Run({"expire", "k", "100", "gt", "lt"}), kGtLt));
  EXPECT_TRUE(IsError(Run({"expireat", "k", "100", "xx", "gt", "lt"}), kGtLt));
  EXPECT_TRUE(IsError(Run({"expire", "k", "100", "Foo"}), "ERR Unsupported option Foo"));
  EXPECT_TRUE(IsError(Run({"expire", "k", "100", "nx", "bar"}), "ERR Unsupported option bar"));
  // Options are checked before the time.
  EXPECT_TRUE(IsError(Run({"expire", "k", "abc", "nx", "xx"}), kNx));
  EXPECT_TRUE(IsError(Run({"expire", "missing", "100", "gt", "lt"}), kGtLt));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
}

TEST_F(GenericFamilyTest, TtlVariants) {
  for (std::string cmd : {"ttl", "pttl", "expiretime", "pexpiretime", "TTL"}) {
    EXPECT_TRUE(IsInt(Run({cmd, "missing"}), -2)) << cmd;
  }
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  for (std::string cmd : {"ttl", "pttl", "expiretime", "pexpiretime"}) {
    EXPECT_TRUE(IsInt(Run({cmd, "k"}), -1)) << cmd;
  }
  // TTL rounds to the nearest second.
  EXPECT_TRUE(IsInt(Run({"pexpire", "k", "2700"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 3));
  EXPECT_TRUE(IsInt(Run({"pexpire", "k", "2300"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 2));
  RespValue t = Run({"pttl", "k"});
  EXPECT_GT(t.integer, 2000);
  EXPECT_LE(t.integer, 2300);
}

TEST_F(GenericFamilyTest, Persist) {
  EXPECT_TRUE(IsInt(Run({"persist", "missing"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsInt(Run({"persist", "k"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "ex", "100"})));
  EXPECT_TRUE(IsInt(Run({"persist", "k"}), 1));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  EXPECT_TRUE(IsInt(Run({"persist", "k"}), 0));
}

TEST_F(GenericFamilyTest, WritesWakeWatchers) {
  // Each write, run by client 2 between WATCH and EXEC, must abort client 1's EXEC.
  struct Case {
    std::vector<std::string> setup, write;
    std::string watched;
  };
  std::vector<Case> cases = {
      {{"set", "w", "1"}, {"expire", "w", "100"}, "w"},
      {{"set", "w", "1"}, {"pexpire", "w", "-1"}, "w"},
      {{"set", "w", "1", "ex", "100"}, {"persist", "w"}, "w"},
      {{"set", "w", "1"}, {"rename", "w", "w2"}, "w"},
      {{"set", "w", "1"}, {"rename", "w", "w2"}, "w2"},
      {{"set", "w", "1"}, {"renamenx", "w", "w3"}, "w3"},
      {{"set", "w", "1"}, {"del", "w"}, "w"},
      {{"set", "w", "1"}, {"unlink", "w"}, "w"},
  };
  for (const Case& c : cases) {
    client2().Run({"del", "w2", "w3"});
    client2().Run(c.setup);
    EXPECT_TRUE(IsOk(Run({"watch", c.watched})));
    EXPECT_TRUE(IsOk(Run({"multi"})));
    EXPECT_EQ(Run({"get", c.watched}).str, "QUEUED");
    RespValue r = client2().Run(c.write);
    EXPECT_NE(r.type, Type::kError) << r.ToString();
    EXPECT_TRUE(IsNull(Run({"exec"}))) << TestClient::Encode(c.write) << " watching " << c.watched;
  }
  // Commands that change nothing do not.
  std::vector<Case> no_change = {
      {{"set", "w", "1"}, {"persist", "w"}, "w"},
      {{"set", "w", "1", "ex", "100"}, {"expire", "w", "10", "gt"}, "w"},
      {{"set", "w", "1"}, {"renamenx", "w", "w"}, "w"},
      {{"set", "w", "1"}, {"ttl", "w"}, "w"},
      {{"set", "w", "1"}, {"del", "other"}, "w"},
  };
  for (const Case& c : no_change) {
    client2().Run(c.setup);
    EXPECT_TRUE(IsOk(Run({"watch", c.watched})));
    EXPECT_TRUE(IsOk(Run({"multi"})));
    EXPECT_EQ(Run({"get", c.watched}).str, "QUEUED");
    client2().Run(c.write);
    EXPECT_EQ(Run({"exec"}).type, Type::kArray) << TestClient::Encode(c.write);
  }
}

}  // namespace
}  // namespace stockd::testing
