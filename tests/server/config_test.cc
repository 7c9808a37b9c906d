// Startup configuration: redis.conf syntax, --directive flags, and errors that name the line.
#include "server/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace stockd::server {
namespace {

bool Load(Config& c, std::vector<std::string> args, std::string* error) {
  return c.LoadFromArgs(args, error);
}

TEST(ConfigTest, FlagsOverrideDefaults) {
  Config c;
  std::string error;
  ASSERT_TRUE(Load(c,
                   {"--port", "7000", "--shards", "3", "--requirepass", "a b", "--bind",
                    "127.0.0.1", "-::1", "--maxmemory", "1mb"},
                   &error))
      << error;
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.shards, 3);
  EXPECT_EQ(c.requirepass(), "a b");
  EXPECT_EQ(c.bind, (std::vector<std::string>{"127.0.0.1", "-::1"}));
  EXPECT_EQ(c.maxmemory.load(), 1024 * 1024);
}

TEST(ConfigTest, FileThenFlags) {
  std::string path = ::testing::TempDir() + "/stockd-config-test.conf";
  std::ofstream(path) << "# a comment\n\nport 7100\nloglevel warning\nrequirepass \"x y\"\n";
  Config c;
  std::string error;
  ASSERT_TRUE(Load(c, {path, "--port", "7200"}, &error)) << error;
  EXPECT_EQ(c.port, 7200);
  EXPECT_EQ(c.requirepass(), "x y");
  EXPECT_NE(c.config_file.find("stockd-config-test.conf"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ConfigTest, UnknownDirectiveNamesTheLine) {
  std::string path = ::testing::TempDir() + "/stockd-config-bad.conf";
  std::ofstream(path) << "port 7100\nno-such-thing yes\n";
  Config c;
  std::string error;
  EXPECT_FALSE(Load(c, {path}, &error));
  EXPECT_NE(error.find("at line 2"), std::string::npos) << error;
  EXPECT_NE(error.find(">>> 'no-such-thing yes'"), std::string::npos) << error;
  EXPECT_NE(error.find("Bad directive or wrong number of arguments"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ConfigTest, BadValuesAreRefusedWithTheReason) {
  std::string error;
  Config a;
  EXPECT_FALSE(Load(a, {"--port", "65536"}, &error));
  EXPECT_NE(error.find("argument must be between 0 and 65535 inclusive"), std::string::npos);
  Config b;
  EXPECT_FALSE(Load(b, {"--databases", "0"}, &error));
  Config c;
  EXPECT_FALSE(Load(c, {"--loglevel", "loud"}, &error));
  EXPECT_NE(error.find("debug, verbose, notice, warning"), std::string::npos);
  Config d;
  EXPECT_FALSE(Load(d, {"--port"}, &error));
  EXPECT_NE(error.find("wrong number of arguments"), std::string::npos) << error;
  Config e;
  EXPECT_FALSE(Load(e, {"--daemonize", "yes"}, &error));
  Config f;
  EXPECT_FALSE(Load(f, {"port", "1"}, &error));  // a missing file is an error
  EXPECT_NE(error.find("can't open config file"), std::string::npos);
  Config g;
  EXPECT_FALSE(Load(g, {"--shards", "257"}, &error));  // kShardsMax + 1
  Config h;
  EXPECT_TRUE(Load(h, {"--shards", "256"}, &error));  // kShardsMax
}

TEST(ConfigTest, ReplicationDirectives) {
  std::string error;
  Config c;
  ASSERT_TRUE(Load(c,
                   {"--replicaof", "10.0.0.1", "7000", "--repl-ack", "sync", "--repl-sync-timeout",
                    "1", "--repl-sync-fallback", "async", "--repl-timeout", "5"},
                   &error))
      << error;
  EXPECT_EQ(c.replicaof_host, "10.0.0.1");
  EXPECT_EQ(c.replicaof_port, 7000);
  EXPECT_EQ(c.repl_ack.load(), ReplAck::kSync);
  EXPECT_EQ(c.repl_sync_timeout.load(), 1);
  EXPECT_EQ(c.repl_sync_fallback.load(), ReplSyncFallback::kAsync);
  EXPECT_EQ(c.Get("repl-ack"),
            (std::vector<std::pair<std::string, std::string>>{{"repl-ack", "sync"}}));
  EXPECT_EQ(c.Get("replicaof")[0].second, "10.0.0.1 7000");
  Config d;
  EXPECT_FALSE(Load(d, {"--replicaof", "10.0.0.1"}, &error));  // no port
  EXPECT_FALSE(Load(d, {"--replicaof", "10.0.0.1", "0"}, &error));
  EXPECT_FALSE(Load(d, {"--repl-ack", "maybe"}, &error));
  EXPECT_NE(error.find("async, sync"), std::string::npos) << error;
  EXPECT_FALSE(Load(d, {"--repl-sync-timeout", "0"}, &error));  // at least 1 ms
  EXPECT_FALSE(Load(d, {"--repl-sync-fallback", "hope"}, &error));
  // CONFIG SET changes the runtime ones; replicaof is REPLICAOF's job at runtime.
  const std::string async[] = {"async"};
  EXPECT_TRUE(c.Apply("repl-ack", async, /*at_runtime=*/true, &error)) << error;
  EXPECT_EQ(c.repl_ack.load(), ReplAck::kAsync);
  const std::string where[] = {"h", "1"};
  EXPECT_FALSE(c.Apply("replicaof", where, /*at_runtime=*/true, &error));
}

TEST(ConfigTest, SplitLineFollowsRedisQuoting) {
  std::vector<std::string> words;
  ASSERT_TRUE(SplitConfigLine(R"(set "a\x41\n" 'b c' d)", &words));
  EXPECT_EQ(words, (std::vector<std::string>{"set", "aA\n", "b c", "d"}));
  EXPECT_FALSE(SplitConfigLine(R"(set "open)", &words));
  EXPECT_FALSE(SplitConfigLine(R"(set "a"b)", &words));
}

TEST(ConfigTest, RuntimeRefusesImmutable) {
  Config c;
  std::string error;
  std::vector<std::string> v{"1"};
  EXPECT_FALSE(c.Apply("port", v, true, &error));
  EXPECT_EQ(error, "can't set immutable config");
  EXPECT_TRUE(c.Apply("hz", v, true, &error));
  EXPECT_EQ(c.hz.load(), 1);
}

}  // namespace
}  // namespace stockd::server
