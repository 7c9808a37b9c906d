#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class ServerFamilyTest : public ServerTest {};

TEST_F(ServerFamilyTest, InfoHasRedisSections) {
  Run({"set", "a", "1"});
  Run({"set", "b", "2"});
  Run({"expire", "b", "100"});
  std::string info = Run({"info"}).str;
  for (const char* section : {"# Server\r\n", "# Clients\r\n", "# Memory\r\n", "# Persistence\r\n",
                              "# Stats\r\n", "# Replication\r\n", "# CPU\r\n", "# Keyspace\r\n"}) {
    EXPECT_NE(info.find(section), std::string::npos) << section;
  }
  EXPECT_EQ(info.find("# Commandstats"), std::string::npos);
  EXPECT_NE(info.find("db0:keys=2,expires=1,avg_ttl="), std::string::npos) << info;
  EXPECT_NE(info.find("role:master\r\n"), std::string::npos);
  std::string stats = Run({"info", "commandstats"}).str;
  EXPECT_NE(stats.find("cmdstat_set:calls=2,"), std::string::npos) << stats;
  std::string all = Run({"info", "all"}).str;
  EXPECT_NE(all.find("# Commandstats"), std::string::npos);
  Run({"hello", "3"});
  EXPECT_EQ(Run({"info", "server"}).type, RespValue::Type::kVerbatim);
}

TEST_F(ServerFamilyTest, DbSizeAndFlush) {
  for (int i = 0; i < 100; ++i) Run({"set", "k" + std::to_string(i), "v"});
  EXPECT_EQ(Run({"dbsize"}).integer, 100);
  Run({"select", "1"});
  Run({"set", "other", "v"});
  EXPECT_EQ(Run({"dbsize"}).integer, 1);
  EXPECT_EQ(Run({"flushdb"}).str, "OK");
  EXPECT_EQ(Run({"dbsize"}).integer, 0);
  Run({"select", "0"});
  EXPECT_EQ(Run({"dbsize"}).integer, 100);
  EXPECT_TRUE(IsError(Run({"flushall", "bogus"}), "ERR syntax error"));
  EXPECT_EQ(Run({"flushall", "async"}).str, "OK");
  EXPECT_EQ(Run({"dbsize"}).integer, 0);
}

TEST_F(ServerFamilyTest, DebugDigestDependsOnTheDataNotOnTheOrderItWasBuiltIn) {
  const std::string zeros(40, '0');
  EXPECT_TRUE(IsBulk(Run({"debug", "digest"}), zeros));  // empty, as Redis
  auto build = [&](bool reversed) {
    EXPECT_TRUE(IsOk(Run({"flushall"})));
    for (int j = 0; j < 200; ++j) {
      const int i = reversed ? 199 - j : j;
      const std::string n = std::to_string(i);
      EXPECT_TRUE(IsOk(Run({"set", "k" + n, n})));
      EXPECT_TRUE(IsInt(Run({"hset", "h", "f" + n, n}), 1));
      EXPECT_TRUE(IsInt(Run({"sadd", "s", "m" + n}), 1));
    }
    return Run({"debug", "digest"}).str;
  };
  const std::string forward = build(false);
  EXPECT_NE(forward, zeros);
  EXPECT_EQ(build(true), forward);
  // One key's value, and its key name, each count.
  EXPECT_TRUE(IsOk(Run({"set", "k5", "x"})));
  EXPECT_NE(Run({"debug", "digest"}).str, forward);
  EXPECT_TRUE(IsOk(Run({"set", "k5", "5"})));
  EXPECT_EQ(Run({"debug", "digest"}).str, forward);
  EXPECT_TRUE(IsOk(Run({"rename", "k5", "k5b"})));
  EXPECT_NE(Run({"debug", "digest"}).str, forward);
  // A key past its expiry is gone, reclaimed or not.
  EXPECT_TRUE(IsOk(Run({"rename", "k5b", "k5"})));
  EXPECT_TRUE(IsOk(Run({"set", "gone", "v", "PX", "20"})));
  SleepMs(40);
  EXPECT_TRUE(IsBulk(Run({"debug", "digest"}), forward));

  // DIGEST-VALUE: the value only; an integer and the same digits as bytes are the same string.
  EXPECT_TRUE(IsOk(Run({"set", "i", "123"})));
  EXPECT_TRUE(IsInt(Run({"append", "b", "12"}), 2));
  EXPECT_TRUE(IsInt(Run({"append", "b", "3"}), 3));
  RespValue v = Run({"debug", "digest-value", "i", "b", "missing"});
  ASSERT_EQ(v.elements.size(), 3u) << v.ToString();
  EXPECT_EQ(v.elements[0].str, v.elements[1].str);
  EXPECT_NE(v.elements[0].str, zeros);
  EXPECT_EQ(v.elements[2].str, zeros);

  EXPECT_EQ(Run({"debug", "help"}).elements.size(), 7u);
  EXPECT_TRUE(IsErrorPrefix(Run({"debug", "sleep", "0"}), "ERR unknown subcommand 'sleep'"));
  EXPECT_TRUE(IsErrorPrefix(Run({"debug"}), "ERR wrong number of arguments"));
}

TEST_F(ServerFamilyTest, Time) {
  auto v = Run({"time"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_GT(std::stoll(v.elements[0].str), 1700000000);
}

TEST_F(ServerFamilyTest, ConfigGetSet) {
  auto v = Run({"config", "get", "maxclients"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[1].str, "10000");
  EXPECT_EQ(Run({"config", "set", "maxclients", "50", "hz", "20"}).str, "OK");
  EXPECT_EQ(Run({"config", "get", "maxclients"}).elements[1].str, "50");
  EXPECT_EQ(Run({"config", "get", "hz"}).elements[1].str, "20");
  EXPECT_TRUE(IsError(Run({"config", "set", "port", "1"}),
                      "ERR CONFIG SET failed (possibly related to argument 'port') - can't set "
                      "immutable config"));
  EXPECT_TRUE(IsError(Run({"config", "set", "nope", "1"}),
                      "ERR Unknown option or number of arguments for CONFIG SET - 'nope'"));
  // All or nothing: a bad second pair leaves the first unchanged.
  EXPECT_TRUE(IsErrorPrefix(Run({"config", "set", "maxclients", "60", "hz", "0"}),
                            "ERR CONFIG SET failed (possibly related to argument 'hz')"));
  EXPECT_EQ(Run({"config", "get", "maxclients"}).elements[1].str, "50");
  EXPECT_GE(Run({"config", "get", "*"}).elements.size(), 30u);
  EXPECT_EQ(Run({"config", "get", "nothing-matches"}).elements.size(), 0u);
  Run({"hello", "3"});
  EXPECT_EQ(Run({"config", "get", "port"}).type, RespValue::Type::kMap);
  EXPECT_EQ(Run({"config", "resetstat"}).str, "OK");
}

TEST_F(ServerFamilyTest, MaxClientsRefusesWithRedisError) {
  Run({"config", "set", "maxclients", "2"});
  client2().Run({"ping"});
  auto third = NewClient();
  EXPECT_TRUE(IsError(third->Read(), "ERR max number of clients reached"));
  EXPECT_EQ(Run({"ping"}).str, "PONG");
}

TEST_F(ServerFamilyTest, CommandIntrospection) {
  auto count = Run({"command", "count"}).integer;
  EXPECT_GT(count, 50);
  EXPECT_EQ(static_cast<int64_t>(Run({"command"}).elements.size()), count);
  auto info = Run({"command", "info", "get", "nosuch", "client|list"});
  ASSERT_EQ(info.elements.size(), 3u);
  EXPECT_EQ(info.elements[0].elements[0].str, "get");
  EXPECT_EQ(info.elements[0].elements[1].integer, 2);
  EXPECT_EQ(info.elements[1].type, RespValue::Type::kNull);
  EXPECT_EQ(info.elements[2].elements[0].str, "client|list");
  auto mset = Run({"command", "info", "mset"}).elements[0];
  EXPECT_EQ(
      Ints(RespValue{
          RespValue::Type::kArray, "", 0, {mset.elements[3], mset.elements[4], mset.elements[5]}}),
      (std::vector<int64_t>{1, -1, 2}));
  auto docs = Run({"command", "docs", "set"});
  ASSERT_EQ(docs.elements.size(), 2u);
  EXPECT_EQ(docs.elements[0].str, "set");
  // "arguments", derived from the table's syntax: key value [NX|XX] [GET] [EX seconds|...].
  const auto& fields = docs.elements[1].elements;
  ASSERT_EQ(fields.size(), 10u);
  EXPECT_EQ(fields[8].str, "arguments");
  const auto& args = fields[9].elements;
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[0].elements[1].str, "key");    // name
  EXPECT_EQ(args[0].elements[3].str, "key");    // type
  EXPECT_EQ(args[2].elements[3].str, "oneof");  // NX|XX
  EXPECT_EQ(args[2].elements[7].elements.size(), 2u);
  EXPECT_EQ(args[3].elements[5].str, "GET");  // token
  auto list = Strs(Run({"command", "list", "filterby", "pattern", "client*"}));
  EXPECT_NE(std::find(list.begin(), list.end(), "client|kill"), list.end());
}

TEST_F(ServerFamilyTest, ShutdownClosesWithoutReply) {
  client2().Send({"shutdown", "nosave"});
  EXPECT_TRUE(client2().IsClosed());
}

}  // namespace
}  // namespace stockd::testing

namespace stockd::testing {
namespace {

class IdleTimeoutTest : public ServerTest {
  void Configure(server::Config& c) override { c.timeout = 1; }
};

TEST_F(IdleTimeoutTest, IdleClientIsClosed) {
  EXPECT_EQ(client2().Run({"ping"}).str, "PONG");
  SleepMs(2500);
  EXPECT_TRUE(client2().IsClosed());
}

}  // namespace
}  // namespace stockd::testing

namespace stockd::testing {
namespace {

class MaxMemoryTest : public ServerTest {};

TEST_F(MaxMemoryTest, WritesThatGrowMemoryAreRefusedAboveTheLimit) {
  EXPECT_EQ(Run({"set", "before", "1"}).str, "OK");
  EXPECT_EQ(Run({"config", "set", "maxmemory", "1"}).str, "OK");  // below what the server uses
  SleepMs(300);  // the cron refreshes the allocator figure every 1/hz s
  EXPECT_TRUE(
      IsError(Run({"set", "k", "v"}), "OOM command not allowed when used memory > 'maxmemory'."));
  EXPECT_EQ(Run({"get", "before"}).str, "1");    // reads still work
  EXPECT_EQ(Run({"del", "before"}).integer, 1);  // so do writes that free memory
  EXPECT_TRUE(IsErrorPrefix(Run({"config", "set", "maxmemory-policy", "allkeys-lru"}),
                            "ERR CONFIG SET failed"));
  EXPECT_EQ(Run({"config", "set", "maxmemory", "0"}).str, "OK");
  EXPECT_EQ(Run({"set", "k", "v"}).str, "OK");
}

}  // namespace
}  // namespace stockd::testing
