// String commands through the real dispatch path (server/commands/string_family.cc).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;

constexpr int64_t kMax = INT64_MAX;
constexpr int64_t kMin = INT64_MIN;

// Sends requests over a fresh connection and returns each reply's exact bytes, for checks of the
// wire form that RespValue does not keep (RESP2 "$-1" versus RESP3 "_").
std::vector<std::string> RawReplies(uint16_t port,
                                    const std::vector<std::vector<std::string>>& reqs) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<std::string> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    ADD_FAILURE() << "connect failed";
    return out;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string request;
  for (const auto& r : reqs) request += TestClient::Encode(r);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string buf;
  while (out.size() < reqs.size()) {
    size_t used = 0;
    if (protocol::RespReader::Read(buf, &used)) {
      out.push_back(buf.substr(0, used));
      buf.erase(0, used);
      continue;
    }
    char tmp[4096];
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(out.size(), reqs.size());
  return out;
}

class StringFamilyTest : public ServerTest {
 protected:
  // Keys spread over both shards: "key:0" ... "key:<n-1>".
  static std::vector<std::string> ManyKeys(int n, std::string_view prefix = "key:") {
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) keys.push_back(std::string(prefix) + std::to_string(i));
    return keys;
  }
};

// ---------------------------------------------------------------------------------------------
// GET / SET

TEST_F(StringFamilyTest, SetGet) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
  EXPECT_TRUE(IsOk(Run({"SET", "k", "w"})));
  EXPECT_TRUE(IsBulk(Run({"GeT", "k"}), "w"));
  EXPECT_TRUE(IsNull(Run({"get", "missing"})));
}

TEST_F(StringFamilyTest, SetBinaryAndIntegerValues) {
  std::string binary("a\0b\r\nc", 6);
  EXPECT_TRUE(IsOk(Run({"set", "bin", binary})));
  EXPECT_TRUE(IsBulk(Run({"get", "bin"}), binary));
  for (std::string v : {"0", "-1", "9223372036854775807", "-9223372036854775808", "01", "+1", "-0",
                        " 1", "9223372036854775808", ""}) {
    EXPECT_TRUE(IsOk(Run({"set", "n", v})));
    EXPECT_TRUE(IsBulk(Run({"get", "n"}), v)) << v;
  }
}

TEST_F(StringFamilyTest, SetNxXx) {
  EXPECT_TRUE(IsNull(Run({"set", "k", "v", "xx"})));
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "nx"})));
  EXPECT_TRUE(IsNull(Run({"set", "k", "w", "NX"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
  EXPECT_TRUE(IsOk(Run({"set", "k", "w", "XX"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  EXPECT_TRUE(IsOk(Run({"set", "k", "x", "xx", "xx"})));  // a repeated option is allowed
}

TEST_F(StringFamilyTest, SetGetOption) {
  EXPECT_TRUE(IsNull(Run({"set", "k", "v", "get"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
  EXPECT_TRUE(IsBulk(Run({"set", "k", "w", "GET"}), "v"));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  // NX GET (allowed since 7.0): replies the old value and does not set.
  EXPECT_TRUE(IsBulk(Run({"set", "k", "x", "nx", "get"}), "w"));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  EXPECT_TRUE(IsNull(Run({"set", "new", "x", "xx", "get"})));
  EXPECT_TRUE(IsNull(Run({"get", "new"})));
  EXPECT_TRUE(IsNull(Run({"set", "new2", "x", "nx", "get"})));
  EXPECT_TRUE(IsBulk(Run({"get", "new2"}), "x"));
}

TEST_F(StringFamilyTest, SetOptionConflictsAreSyntaxErrors) {
  const char* kSyntax = "ERR syntax error";
  std::vector<std::vector<std::string>> bad = {
      {"set", "k", "v", "nx", "xx"},
      {"set", "k", "v", "xx", "nx"},
      {"set", "k", "v", "ex", "10", "px", "100"},
      {"set", "k", "v", "px", "10", "ex", "100"},
      {"set", "k", "v", "ex", "10", "exat", "100"},
      {"set", "k", "v", "pxat", "10", "exat", "10"},
      {"set", "k", "v", "ex", "10", "keepttl"},
      {"set", "k", "v", "keepttl", "px", "10"},
      {"set", "k", "v", "ex"},
      {"set", "k", "v", "pxat"},
      {"set", "k", "v", "persist"},
      {"set", "k", "v", "foo"},
      {"set", "k", "v", "nxx"},
      {"set", "k", "v", "ex", "10", "extra"},
  };
  for (const auto& cmd : bad) {
    EXPECT_TRUE(IsError(Run(cmd), kSyntax)) << TestClient::Encode(cmd);
  }
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "ex", "10", "ex", "20"})));  // same option twice
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 20));
  EXPECT_TRUE(IsBulk(Run({"set", "k", "w", "keepttl", "keepttl", "xx", "get"}), "v"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 20));
}

TEST_F(StringFamilyTest, SetExpiryOptions) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "ex", "100"})));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "px", "100000"})));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "exat", "33177117420"})));
  EXPECT_TRUE(IsInt(Run({"expiretime", "k"}), 33177117420));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "pxat", "33177117420123"})));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 33177117420123));
  // A plain SET removes the TTL; KEEPTTL keeps it.
  EXPECT_TRUE(IsOk(Run({"set", "k", "w", "keepttl"})));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 33177117420123));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  EXPECT_TRUE(IsOk(Run({"set", "k", "x"})));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  // An absolute time in the past: the key is set already expired.
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "pxat", "1"})));
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "short", "v", "px", "20"})));
  SleepMs(60);
  EXPECT_TRUE(IsNull(Run({"get", "short"})));
}

TEST_F(StringFamilyTest, SetInvalidExpireTimes) {
  const char* kInvalid = "ERR invalid expire time in 'set' command";
  for (std::string opt : {"ex", "px", "exat", "pxat", "EX"}) {
    EXPECT_TRUE(IsError(Run({"set", "k", "v", opt, "0"}), kInvalid)) << opt;
    EXPECT_TRUE(IsError(Run({"set", "k", "v", opt, "-1"}), kInvalid)) << opt;
    EXPECT_TRUE(IsError(Run({"set", "k", "v", opt, "-9223372036854775808"}), kInvalid)) << opt;
    EXPECT_TRUE(
        IsError(Run({"set", "k", "v", opt, "abc"}), "ERR value is not an integer or out of range"));
    EXPECT_TRUE(IsError(Run({"set", "k", "v", opt, "9223372036854775808"}),
                        "ERR value is not an integer or out of range"));
  }
  // Seconds that overflow when turned into ms, and relative times that overflow when added to now.
  EXPECT_TRUE(IsError(Run({"set", "k", "v", "ex", "9223372036854776"}), kInvalid));
  EXPECT_TRUE(IsError(Run({"set", "k", "v", "exat", "9223372036854776"}), kInvalid));
  EXPECT_TRUE(IsError(Run({"set", "k", "v", "ex", "9223372036854775"}), kInvalid));
  EXPECT_TRUE(IsError(Run({"set", "k", "v", "px", "9223372036854775807"}), kInvalid));
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  // Absolute times as large as representable are fine.
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "pxat", "9223372036854775807"})));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), kMax));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v", "exat", "9223372036854775"})));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 9223372036854775000));
  // The expiry is validated before GET replies and before anything changes.
  EXPECT_TRUE(IsError(Run({"set", "k", "w", "get", "ex", "0"}), kInvalid));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
}

TEST_F(StringFamilyTest, SetNx) {
  EXPECT_TRUE(IsInt(Run({"setnx", "k", "v"}), 1));
  EXPECT_TRUE(IsInt(Run({"setnx", "k", "w"}), 0));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
}

TEST_F(StringFamilyTest, SetExPSetEx) {
  EXPECT_TRUE(IsOk(Run({"setex", "k", "100", "v"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsOk(Run({"psetex", "k", "100000", "w"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsError(Run({"setex", "k", "0", "v"}), "ERR invalid expire time in 'setex' command"));
  EXPECT_TRUE(
      IsError(Run({"SETEX", "k", "-5", "v"}), "ERR invalid expire time in 'setex' command"));
  EXPECT_TRUE(
      IsError(Run({"PSetEx", "k", "0", "v"}), "ERR invalid expire time in 'psetex' command"));
  EXPECT_TRUE(IsError(Run({"setex", "k", "9223372036854775", "v"}),
                      "ERR invalid expire time in 'setex' command"));
  EXPECT_TRUE(IsError(Run({"psetex", "k", "9223372036854775807", "v"}),
                      "ERR invalid expire time in 'psetex' command"));
  EXPECT_TRUE(
      IsError(Run({"setex", "k", "1.5", "v"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  EXPECT_TRUE(
      IsError(Run({"setex", "k", "10"}), "ERR wrong number of arguments for 'setex' command"));
}

TEST_F(StringFamilyTest, GetSet) {
  EXPECT_TRUE(IsNull(Run({"getset", "k", "v"})));
  EXPECT_TRUE(IsBulk(Run({"getset", "k", "w"}), "v"));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "w"));
  EXPECT_TRUE(IsOk(Run({"set", "k", "5", "ex", "100"})));
  EXPECT_TRUE(IsBulk(Run({"getset", "k", "6"}), "5"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));  // GETSET drops the TTL, as SET
}

TEST_F(StringFamilyTest, GetDel) {
  EXPECT_TRUE(IsNull(Run({"getdel", "k"})));
  EXPECT_TRUE(IsOk(Run({"set", "k", "12"})));
  EXPECT_TRUE(IsBulk(Run({"getdel", "k"}), "12"));
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  EXPECT_TRUE(IsNull(Run({"getdel", "k"})));
}

TEST_F(StringFamilyTest, GetEx) {
  EXPECT_TRUE(IsNull(Run({"getex", "k"})));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsBulk(Run({"getex", "k"}), "v"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "ex", "100"}), "v"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 100));
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "px", "50000"}), "v"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 50));
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "exat", "33177117420"}), "v"));
  EXPECT_TRUE(IsInt(Run({"expiretime", "k"}), 33177117420));
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "pxat", "33177117420999"}), "v"));
  EXPECT_TRUE(IsInt(Run({"pexpiretime", "k"}), 33177117420999));
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "persist"}), "v"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "persist", "persist"}), "v"));
  // An absolute time in the past replies the value and deletes the key.
  EXPECT_TRUE(IsBulk(Run({"getex", "k", "pxat", "1"}), "v"));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
}

TEST_F(StringFamilyTest, GetExErrors) {
  const char* kSyntax = "ERR syntax error";
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsError(Run({"getex", "k", "ex", "10", "persist"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "persist", "px", "10"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "ex", "10", "px", "10"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "nx"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "xx"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "get"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "keepttl"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "k", "ex"}), kSyntax));
  EXPECT_TRUE(IsError(Run({"getex", "missing", "foo"}), kSyntax));
  const char* kInvalid = "ERR invalid expire time in 'getex' command";
  EXPECT_TRUE(IsError(Run({"getex", "k", "ex", "0"}), kInvalid));
  EXPECT_TRUE(IsError(Run({"GETEX", "k", "px", "-1"}), kInvalid));
  EXPECT_TRUE(IsError(Run({"getex", "k", "ex", "9223372036854775"}), kInvalid));
  EXPECT_TRUE(
      IsError(Run({"getex", "k", "exat", "abc"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), -1));
  // As Redis: a missing key replies null before the time is looked at.
  EXPECT_TRUE(IsNull(Run({"getex", "missing", "ex", "0"})));
}

// ---------------------------------------------------------------------------------------------
// MGET / MSET / MSETNX (keys on both shards)

TEST_F(StringFamilyTest, MSetMGetAcrossShards) {
  auto keys = ManyKeys(200);
  std::vector<std::string> mset = {"mset"};
  for (const auto& k : keys) {
    mset.push_back(k);
    mset.push_back("v" + k);
  }
  EXPECT_TRUE(IsOk(Run(mset)));
  std::vector<std::string> mget = {"mget"};
  std::vector<std::string> expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    mget.push_back(keys[i]);
    expected.push_back("v" + keys[i]);
    mget.push_back("missing:" + std::to_string(i));
    expected.push_back("(nil)");
  }
  RespValue r = Run(mget);
  ASSERT_EQ(r.type, Type::kArray);
  EXPECT_EQ(Strs(r), expected);
  for (size_t i = 0; i < r.elements.size(); i += 2) EXPECT_EQ(r.elements[i].type, Type::kBulk);
  for (size_t i = 1; i < r.elements.size(); i += 2) EXPECT_TRUE(IsNull(r.elements[i]));
}

TEST_F(StringFamilyTest, MSetOverwritesAndClearsTtl) {
  EXPECT_TRUE(IsOk(Run({"set", "a", "1", "ex", "100"})));
  EXPECT_TRUE(IsOk(Run({"mset", "a", "2", "b", "3", "a", "4"})));
  EXPECT_EQ(Strs(Run({"mget", "a", "b", "a"})), (std::vector<std::string>{"4", "3", "4"}));
  EXPECT_TRUE(IsInt(Run({"ttl", "a"}), -1));
}

TEST_F(StringFamilyTest, MSetArity) {
  EXPECT_TRUE(
      IsError(Run({"mset", "a", "1", "b"}), "ERR wrong number of arguments for 'mset' command"));
  EXPECT_TRUE(IsError(Run({"MSETNX", "a", "1", "b"}),
                      "ERR wrong number of arguments for 'msetnx' command"));
  EXPECT_TRUE(IsError(Run({"mset", "a"}), "ERR wrong number of arguments for 'mset' command"));
  EXPECT_TRUE(IsNull(Run({"get", "a"})));
}

TEST_F(StringFamilyTest, MSetNxAllOrNothing) {
  auto keys = ManyKeys(100, "nx:");
  std::vector<std::string> cmd = {"msetnx"};
  for (const auto& k : keys) {
    cmd.push_back(k);
    cmd.push_back("1");
  }
  EXPECT_TRUE(IsInt(Run(cmd), 1));
  // One existing key (the last, likely on the other shard from the first) blocks every set.
  std::vector<std::string> cmd2 = {"msetnx"};
  for (int i = 0; i < 50; ++i) {
    cmd2.push_back("fresh:" + std::to_string(i));
    cmd2.push_back("2");
  }
  cmd2.push_back(keys.back());
  cmd2.push_back("2");
  EXPECT_TRUE(IsInt(Run(cmd2), 0));
  EXPECT_TRUE(IsBulk(Run({"get", keys.back()}), "1"));
  std::vector<std::string> exists = {"exists"};
  for (int i = 0; i < 50; ++i) exists.push_back("fresh:" + std::to_string(i));
  EXPECT_TRUE(IsInt(Run(exists), 0));
  // The same new key twice: set, last value wins.
  EXPECT_TRUE(IsInt(Run({"msetnx", "d", "1", "d", "2"}), 1));
  EXPECT_TRUE(IsBulk(Run({"get", "d"}), "2"));
}

// ---------------------------------------------------------------------------------------------
// INCR family

TEST_F(StringFamilyTest, IncrDecr) {
  EXPECT_TRUE(IsInt(Run({"incr", "n"}), 1));
  EXPECT_TRUE(IsInt(Run({"INCR", "n"}), 2));
  EXPECT_TRUE(IsInt(Run({"decr", "n"}), 1));
  EXPECT_TRUE(IsInt(Run({"incrby", "n", "10"}), 11));
  EXPECT_TRUE(IsInt(Run({"decrby", "n", "20"}), -9));
  EXPECT_TRUE(IsInt(Run({"incrby", "n", "-1"}), -10));
  EXPECT_TRUE(IsInt(Run({"DecrBy", "n", "-10"}), 0));
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "0"));
  EXPECT_TRUE(IsInt(Run({"decr", "m"}), -1));
  EXPECT_TRUE(IsInt(Run({"decrby", "o", "5"}), -5));
}

TEST_F(StringFamilyTest, IncrOverflow) {
  const char* kOverflow = "ERR increment or decrement would overflow";
  EXPECT_TRUE(IsOk(Run({"set", "n", "9223372036854775806"})));
  EXPECT_TRUE(IsInt(Run({"incr", "n"}), kMax));
  EXPECT_TRUE(IsError(Run({"incr", "n"}), kOverflow));
  EXPECT_TRUE(IsError(Run({"incrby", "n", "1"}), kOverflow));
  EXPECT_TRUE(IsInt(Run({"incrby", "n", "0"}), kMax));
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "9223372036854775807"));
  EXPECT_TRUE(IsOk(Run({"set", "n", "-9223372036854775807"})));
  EXPECT_TRUE(IsInt(Run({"decr", "n"}), kMin));
  EXPECT_TRUE(IsError(Run({"decr", "n"}), kOverflow));
  EXPECT_TRUE(IsError(Run({"decrby", "n", "1"}), kOverflow));
  EXPECT_TRUE(IsError(Run({"incrby", "n", "-1"}), kOverflow));
  EXPECT_TRUE(IsInt(Run({"incrby", "n", "9223372036854775807"}), -1));
  EXPECT_TRUE(IsInt(Run({"incrby", "z", "-9223372036854775808"}), kMin));
  EXPECT_TRUE(IsInt(Run({"incrby", "y", "9223372036854775807"}), kMax));
  EXPECT_TRUE(IsInt(Run({"decrby", "y", "9223372036854775807"}), 0));
  // DECRBY INT64_MIN cannot be negated (Redis 7.0's own error), whatever the key holds.
  EXPECT_TRUE(
      IsError(Run({"decrby", "w", "-9223372036854775808"}), "ERR decrement would overflow"));
  EXPECT_TRUE(IsInt(Run({"exists", "w"}), 0));
}

TEST_F(StringFamilyTest, IncrNotInteger) {
  const char* kNotInt = "ERR value is not an integer or out of range";
  std::vector<std::string> values = {"abc",
                                     "1.5",
                                     " 1",
                                     "1 ",
                                     "+1",
                                     "01",
                                     "-0",
                                     "",
                                     "9223372036854775808",
                                     "-9223372036854775809",
                                     std::string("1\0", 2)};
  for (const std::string& v : values) {
    EXPECT_TRUE(IsOk(Run({"set", "n", v})));
    EXPECT_TRUE(IsError(Run({"incr", "n"}), kNotInt)) << "value [" << v << "]";
    EXPECT_TRUE(IsBulk(Run({"get", "n"}), v));
  }
  EXPECT_TRUE(IsOk(Run({"set", "n", "5"})));
  for (std::string by : {"abc", "1.0", "+1", "01", "-0", " 1", "", "9223372036854775808"}) {
    EXPECT_TRUE(IsError(Run({"incrby", "n", by}), kNotInt)) << by;
    EXPECT_TRUE(IsError(Run({"decrby", "n", by}), kNotInt)) << by;
  }
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "5"));
}

TEST_F(StringFamilyTest, IncrKeepsTtlAndWorksOnAppendedDigits) {
  EXPECT_TRUE(IsOk(Run({"set", "n", "1", "ex", "100"})));
  EXPECT_TRUE(IsInt(Run({"incr", "n"}), 2));
  EXPECT_TRUE(IsInt(Run({"ttl", "n"}), 100));
  EXPECT_TRUE(IsInt(Run({"append", "n", "3"}), 2));  // "23", stored as raw bytes now
  EXPECT_TRUE(IsInt(Run({"incr", "n"}), 24));
  EXPECT_TRUE(IsInt(Run({"ttl", "n"}), 100));
}

TEST_F(StringFamilyTest, IncrByFloat) {
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "f", "10.5"}), "10.5"));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "f", "0.1"}), "10.6"));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "f", "-5"}), "5.6"));
  EXPECT_TRUE(IsBulk(Run({"get", "f"}), "5.6"));
  EXPECT_TRUE(IsOk(Run({"set", "f", "10"})));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "f", "0.1"}), "10.1"));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "f", "-0.1"}), "10"));  // no trailing ".0"
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "g", "5.0e3"}), "5000"));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "g", "2.5E-1"}), "5000.25"));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "h", "0x10"}), "16"));  // strtold reads hex, as Redis
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "h", "+1"}), "17"));
  EXPECT_TRUE(IsInt(Run({"incr", "h"}), 18));  // the result is a plain integer string
  EXPECT_TRUE(IsOk(Run({"set", "z", "-0.0"})));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "z", "-0"}), "0"));  // never "-0"
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "t", "3.0000000000000000001"}), "3"));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "u", "-1.25"}), "-1.25"));
}

TEST_F(StringFamilyTest, IncrByFloatLargeValues) {
  EXPECT_TRUE(IsOk(Run({"set", "f", "1e308"})));
  RespValue r = Run({"incrbyfloat", "f", "1e308"});
  ASSERT_EQ(r.type, Type::kBulk);
  EXPECT_EQ(r.str.size(), 309u);  // 2e308 fits a long double, printed with every digit
  EXPECT_EQ(r.str.find_first_not_of("0123456789"), std::string::npos);
  // Parsing a value out of long double range is "not a valid float"; inf itself parses.
  EXPECT_TRUE(IsError(Run({"incrbyfloat", "f", "1e5000"}), "ERR value is not a valid float"));
  EXPECT_TRUE(
      IsError(Run({"incrbyfloat", "f", "inf"}), "ERR increment would produce NaN or Infinity"));
  EXPECT_TRUE(
      IsError(Run({"incrbyfloat", "f", "-inf"}), "ERR increment would produce NaN or Infinity"));
  EXPECT_TRUE(IsBulk(Run({"get", "f"}), r.str));
  EXPECT_TRUE(IsOk(Run({"set", "m", "1.1e4932"})));
  EXPECT_TRUE(IsError(Run({"incrbyfloat", "m", "1.1e4932"}),
                      "ERR increment would produce NaN or Infinity"));
  EXPECT_TRUE(IsBulk(Run({"get", "m"}), "1.1e4932"));
}

TEST_F(StringFamilyTest, IncrByFloatErrors) {
  const char* kNotFloat = "ERR value is not a valid float";
  for (std::string by : {"abc", "nan", "NaN", " 1", "1 ", "", "1.5x", "--1"}) {
    EXPECT_TRUE(IsError(Run({"incrbyfloat", "f", by}), kNotFloat)) << "[" << by << "]";
  }
  EXPECT_TRUE(IsInt(Run({"exists", "f"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "f", "abc"})));
  EXPECT_TRUE(IsError(Run({"incrbyfloat", "f", "1"}), kNotFloat));
  // The stored value is checked before the increment (as Redis).
  EXPECT_TRUE(IsError(Run({"incrbyfloat", "f", "zzz"}), kNotFloat));
  EXPECT_TRUE(IsBulk(Run({"get", "f"}), "abc"));
}

TEST_F(StringFamilyTest, IncrByFloatKeepsTtl) {
  EXPECT_TRUE(IsOk(Run({"set", "f", "1.5", "ex", "100"})));
  EXPECT_TRUE(IsBulk(Run({"incrbyfloat", "f", "1"}), "2.5"));
  EXPECT_TRUE(IsInt(Run({"ttl", "f"}), 100));
}

// ---------------------------------------------------------------------------------------------
// APPEND / STRLEN / GETRANGE / SETRANGE

TEST_F(StringFamilyTest, AppendStrLen) {
  EXPECT_TRUE(IsInt(Run({"strlen", "k"}), 0));
  EXPECT_TRUE(IsInt(Run({"append", "k", "Hello"}), 5));
  EXPECT_TRUE(IsInt(Run({"append", "k", " World"}), 11));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "Hello World"));
  EXPECT_TRUE(IsInt(Run({"strlen", "k"}), 11));
  EXPECT_TRUE(IsInt(Run({"append", "k", ""}), 11));
  EXPECT_TRUE(IsInt(Run({"append", "e", ""}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "e"}), 1));  // APPEND creates the key even when empty
  EXPECT_TRUE(IsOk(Run({"set", "n", "-12345"})));
  EXPECT_TRUE(IsInt(Run({"strlen", "n"}), 6));
  EXPECT_TRUE(IsInt(Run({"append", "n", "6"}), 7));
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "-123456"));
  EXPECT_TRUE(IsOk(Run({"set", "t", "a", "ex", "100"})));
  EXPECT_TRUE(IsInt(Run({"append", "t", "b"}), 2));
  EXPECT_TRUE(IsInt(Run({"ttl", "t"}), 100));
}

TEST_F(StringFamilyTest, GetRange) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "Hello World"})));
  struct Case {
    std::string start, end, want;
  };
  std::vector<Case> cases = {
      {"0", "4", "Hello"},
      {"-5", "-1", "World"},
      {"0", "-1", "Hello World"},
      {"0", "100", "Hello World"},
      {"6", "6", "W"},
      {"5", "3", ""},
      {"11", "20", ""},
      {"100", "200", ""},
      {"-1", "-5", ""},      // both negative, start after end: empty
      {"0", "-100", "H"},    // Redis 7.0: an end before the string clamps to 0
      {"-100", "-50", "H"},  // both clamp to 0
      {"-100", "2", "Hel"},
      {"-9223372036854775808", "9223372036854775807", "Hello World"},
      {"9223372036854775807", "-9223372036854775808", ""},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(IsBulk(Run({"getrange", "k", c.start, c.end}), c.want)) << c.start << " " << c.end;
  }
  // A missing key is an empty string, not null.
  RespValue missing = Run({"getrange", "missing", "0", "-1"});
  EXPECT_TRUE(IsBulk(missing, ""));
  EXPECT_TRUE(IsOk(Run({"set", "n", "12345"})));
  EXPECT_TRUE(IsBulk(Run({"getrange", "n", "1", "2"}), "23"));
  EXPECT_TRUE(IsBulk(Run({"getrange", "n", "-2", "-1"}), "45"));
  EXPECT_TRUE(IsOk(Run({"set", "empty", ""})));
  EXPECT_TRUE(IsBulk(Run({"getrange", "empty", "0", "-1"}), ""));
  EXPECT_TRUE(IsBulk(Run({"getrange", "empty", "-1", "0"}), ""));
  EXPECT_TRUE(
      IsError(Run({"getrange", "k", "a", "1"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"getrange", "k", "0", "9223372036854775808"}),
                      "ERR value is not an integer or out of range"));
}

TEST_F(StringFamilyTest, SetRange) {
  EXPECT_TRUE(IsInt(Run({"setrange", "k", "0", ""}), 0));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));  // writing nothing creates nothing
  EXPECT_TRUE(IsInt(Run({"setrange", "k", "5", "x"}), 6));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), std::string("\0\0\0\0\0x", 6)));
  EXPECT_TRUE(IsOk(Run({"set", "k", "Hello World"})));
  EXPECT_TRUE(IsInt(Run({"setrange", "k", "6", "Redis"}), 11));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "Hello Redis"));
  EXPECT_TRUE(IsInt(Run({"setrange", "k", "10", "!!!"}), 13));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "Hello Redi!!!"));
  EXPECT_TRUE(IsInt(Run({"setrange", "k", "100", ""}), 13));
  EXPECT_TRUE(IsInt(Run({"setrange", "k", "15", "z"}), 16));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), std::string("Hello Redi!!!\0\0z", 16)));
  // An integer value is rewritten as bytes, and stays usable as an integer.
  EXPECT_TRUE(IsOk(Run({"set", "n", "12345", "ex", "100"})));
  EXPECT_TRUE(IsInt(Run({"setrange", "n", "1", "9"}), 5));
  EXPECT_TRUE(IsInt(Run({"incr", "n"}), 19346));
  EXPECT_TRUE(IsInt(Run({"ttl", "n"}), 100));
}

TEST_F(StringFamilyTest, SetRangeErrors) {
  EXPECT_TRUE(IsError(Run({"setrange", "k", "-1", "x"}), "ERR offset is out of range"));
  EXPECT_TRUE(
      IsError(Run({"setrange", "k", "-9223372036854775808", ""}), "ERR offset is out of range"));
  EXPECT_TRUE(
      IsError(Run({"setrange", "k", "x", "x"}), "ERR value is not an integer or out of range"));
  const char* kTooLarge = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
  // Default proto-max-bulk-len: 512 MB. Nothing is allocated for these.
  EXPECT_TRUE(IsError(Run({"setrange", "k", "536870912", "x"}), kTooLarge));
  EXPECT_TRUE(IsError(Run({"setrange", "k", "536870911", "xy"}), kTooLarge));
  EXPECT_TRUE(IsError(Run({"setrange", "k", "9223372036854775807", "x"}), kTooLarge));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  EXPECT_TRUE(IsError(Run({"setrange", "k", "9223372036854775807", "x"}), kTooLarge));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
}

// A server whose proto-max-bulk-len is small enough to test the limit's edge with real strings.
class StringLimitTest : public StringFamilyTest {
 protected:
  static constexpr int64_t kLimit = 1024 * 1024;
  void Configure(server::Config& c) override { c.proto_max_bulk_len = kLimit; }
};

TEST_F(StringLimitTest, SetRangeAndAppendAtTheLimit) {
  const char* kTooLarge = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
  EXPECT_TRUE(IsInt(Run({"setrange", "k", std::to_string(kLimit - 1), "x"}), kLimit));
  EXPECT_TRUE(IsError(Run({"setrange", "k", std::to_string(kLimit), "x"}), kTooLarge));
  EXPECT_TRUE(IsError(Run({"setrange", "new", std::to_string(kLimit - 1), "xy"}), kTooLarge));
  EXPECT_TRUE(IsInt(Run({"exists", "new"}), 0));
  EXPECT_TRUE(IsError(Run({"append", "k", "y"}), kTooLarge));
  EXPECT_TRUE(IsInt(Run({"strlen", "k"}), kLimit));
  EXPECT_TRUE(IsInt(Run({"setrange", "a", std::to_string(kLimit - 2), "x"}), kLimit - 1));
  EXPECT_TRUE(IsInt(Run({"append", "a", "y"}), kLimit));
  EXPECT_TRUE(IsError(Run({"append", "a", "z"}), kTooLarge));
  RespValue tail = Run({"getrange", "a", "-2", "-1"});
  EXPECT_TRUE(IsBulk(tail, "xy"));
}

// ---------------------------------------------------------------------------------------------
// Wire forms, WATCH and stats

TEST_F(StringFamilyTest, NullRepliesInResp2AndResp3) {
  std::vector<std::vector<std::string>> reqs = {
      {"get", "missing"},       {"set", "k", "v", "nx"},     {"set", "k", "v", "nx"},
      {"mget", "k", "missing"}, {"incrbyfloat", "f", "1.5"}, {"getrange", "missing", "0", "1"},
  };
  auto v2 = RawReplies(port(), reqs);
  ASSERT_EQ(v2.size(), reqs.size());
  EXPECT_EQ(v2[0], "$-1\r\n");
  EXPECT_EQ(v2[1], "+OK\r\n");
  EXPECT_EQ(v2[2], "$-1\r\n");
  EXPECT_EQ(v2[3], "*2\r\n$1\r\nv\r\n$-1\r\n");
  EXPECT_EQ(v2[4], "$3\r\n1.5\r\n");
  EXPECT_EQ(v2[5], "$0\r\n\r\n");
  std::vector<std::vector<std::string>> reqs3 = {{"hello", "3"}};
  for (auto& r : reqs) reqs3.push_back(r);
  auto v3 = RawReplies(port(), reqs3);
  ASSERT_EQ(v3.size(), reqs3.size());
  EXPECT_EQ(v3[1], "_\r\n");
  EXPECT_EQ(v3[2], "_\r\n");  // k exists now: NX fails
  EXPECT_EQ(v3[3], "_\r\n");
  EXPECT_EQ(v3[4], "*2\r\n$1\r\nv\r\n_\r\n");
  EXPECT_EQ(v3[5], "$1\r\n3\r\n");  // INCRBYFLOAT stays a bulk string in RESP3, as Redis
  EXPECT_EQ(v3[6], "$0\r\n\r\n");
}

TEST_F(StringFamilyTest, WritesWakeWatchers) {
  // Each write below, run by client 2 between WATCH and EXEC, must abort client 1's EXEC.
  std::vector<std::vector<std::string>> writes = {
      {"set", "w", "1"},
      {"incr", "w"},
      {"append", "w", "x"},
      {"setrange", "w", "0", "y"},
      {"getdel", "w"},
      {"msetnx", "w", "1", "other", "2"},
      {"getex", "w", "ex", "100"},
      {"incrbyfloat", "w2", "1"},
  };
  for (const auto& write : writes) {
    std::string key = write[1];
    EXPECT_TRUE(IsOk(Run({"watch", key})));
    EXPECT_TRUE(IsOk(Run({"multi"})));
    EXPECT_EQ(Run({"get", key}).str, "QUEUED");
    RespValue r = client2().Run(write);
    EXPECT_NE(r.type, Type::kError) << r.ToString();
    EXPECT_TRUE(IsNull(Run({"exec"}))) << TestClient::Encode(write);
    client2().Run({"del", "other"});
  }
  // A read, or a write that changes nothing, does not.
  EXPECT_TRUE(IsOk(Run({"set", "r", "1"})));
  for (std::vector<std::string> read : {std::vector<std::string>{"get", "r"},
                                        {"strlen", "r"},
                                        {"getex", "r"},
                                        {"setnx", "r", "2"},
                                        {"set", "r", "3", "nx"},
                                        {"getrange", "r", "0", "1"}}) {
    EXPECT_TRUE(IsOk(Run({"watch", "r"})));
    EXPECT_TRUE(IsOk(Run({"multi"})));
    EXPECT_EQ(Run({"get", "r"}).str, "QUEUED");
    client2().Run(read);
    RespValue r = Run({"exec"});
    EXPECT_EQ(r.type, Type::kArray) << TestClient::Encode(read);
  }
}

int64_t InfoStat(TestClient& c, const std::string& name) {
  RespValue info = c.Run({"info", "stats"});
  std::string needle = name + ":";
  size_t pos = info.str.find(needle);
  if (pos == std::string::npos) return -1;
  return std::stoll(info.str.substr(pos + needle.size()));
}

TEST_F(StringFamilyTest, KeyspaceHitsAndMisses) {
  int64_t hits = InfoStat(client(), "keyspace_hits");
  int64_t misses = InfoStat(client(), "keyspace_misses");
  ASSERT_GE(hits, 0) << "INFO stats has no keyspace_hits";
  EXPECT_TRUE(IsOk(Run({"set", "k", "v"})));
  Run({"get", "k"});
  Run({"get", "missing"});
  Run({"mget", "k", "k", "missing"});
  Run({"strlen", "k"});
  Run({"incr", "counter"});  // a write lookup: not counted
  EXPECT_EQ(InfoStat(client(), "keyspace_hits"), hits + 4);
  EXPECT_EQ(InfoStat(client(), "keyspace_misses"), misses + 2);
}

TEST_F(StringFamilyTest, DatabasesAreSeparate) {
  EXPECT_TRUE(IsOk(Run({"set", "k", "db0"})));
  EXPECT_TRUE(IsOk(Run({"select", "1"})));
  EXPECT_TRUE(IsNull(Run({"get", "k"})));
  EXPECT_TRUE(IsOk(Run({"set", "k", "db1"})));
  EXPECT_TRUE(IsOk(Run({"select", "0"})));
  EXPECT_TRUE(IsBulk(Run({"get", "k"}), "db0"));
}

}  // namespace
}  // namespace stockd::testing
