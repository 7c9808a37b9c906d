// Dispatch: the command table checks, request ordering under pipelining across shards, protocol
// errors, and cross-shard atomicity.
#include <atomic>
#include <set>
#include <thread>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class DispatchTest : public ServerTest {};

TEST_F(DispatchTest, UnknownCommandNamesItsArgs) {
  EXPECT_TRUE(IsError(Run({"foo", "a", "b"}),
                      "ERR unknown command 'foo', with args beginning with: 'a' 'b' "));
  EXPECT_TRUE(IsError(Run({"foo"}), "ERR unknown command 'foo', with args beginning with: "));
}

TEST_F(DispatchTest, WrongArityUsesLowerCaseName) {
  EXPECT_TRUE(IsError(Run({"GET"}), "ERR wrong number of arguments for 'get' command"));
  EXPECT_TRUE(IsError(Run({"client"}), "ERR wrong number of arguments for 'client' command"));
  EXPECT_TRUE(IsError(Run({"client", "setname"}),
                      "ERR wrong number of arguments for 'client|setname' command"));
  EXPECT_TRUE(IsError(Run({"client", "nope"}), "ERR unknown subcommand 'nope'. Try CLIENT HELP."));
}

TEST_F(DispatchTest, CommandNamesAreCaseInsensitive) {
  EXPECT_EQ(Run({"PiNg"}).str, "PONG");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}).type, RespValue::Type::kNull);
}

// Thousands of pipelined commands over keys on every shard come back in request order.
TEST_F(DispatchTest, PipelineKeepsOrderAcrossShards) {
  constexpr int kCommands = 5000;
  std::string batch;
  for (int i = 0; i < kCommands; ++i) {
    batch += TestClient::Encode({"set", "key:" + std::to_string(i), std::to_string(i)});
    batch += TestClient::Encode({"get", "key:" + std::to_string(i)});
    if (i % 100 == 0) batch += TestClient::Encode({"ping"});  // a barrier now and then
  }
  client().SendRaw(batch);
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_EQ(client().Read().str, "OK") << i;
    ASSERT_EQ(client().Read().str, std::to_string(i)) << i;
    if (i % 100 == 0) {
      ASSERT_EQ(client().Read().str, "PONG");
    }
  }
  EXPECT_EQ(Run({"dbsize"}).integer, kCommands);
}

TEST_F(DispatchTest, InlineCommandsWork) {
  client().SendRaw("PING\r\n");
  EXPECT_EQ(client().Read().str, "PONG");
  client().SendRaw("set \"a b\" 'c d'\r\nget \"a b\"\r\n");
  EXPECT_EQ(client().Read().str, "OK");
  EXPECT_EQ(client().Read().str, "c d");
  client().SendRaw("\r\n\r\nping\n");  // empty lines are ignored, bare \n accepted
  EXPECT_EQ(client().Read().str, "PONG");
}

TEST_F(DispatchTest, ProtocolErrorClosesOnlyThatClient) {
  client2().SendRaw("*1\r\n$-5\r\n");
  auto v = client2().Read();
  EXPECT_TRUE(IsError(v, "ERR Protocol error: invalid bulk length")) << v.ToString();
  EXPECT_TRUE(client2().IsClosed());
  EXPECT_EQ(Run({"ping"}).str, "PONG");
}

TEST_F(DispatchTest, CommandsBeforeAProtocolErrorStillRun) {
  client().SendRaw(TestClient::Encode({"set", "x", "1"}) + "*1\r\nfoo\r\n");
  EXPECT_EQ(client().Read().str, "OK");
  EXPECT_TRUE(IsErrorPrefix(client().Read(), "ERR Protocol error: expected '$', got 'f'"));
  EXPECT_EQ(client2().Run({"get", "x"}).str, "1");
}

TEST_F(DispatchTest, BulkLengthLimitIsConfigurable) {
  EXPECT_EQ(Run({"config", "set", "proto-max-bulk-len", "1048576"}).str, "OK");
  client2().SendRaw("*2\r\n$4\r\necho\r\n$1048577\r\n");
  EXPECT_TRUE(IsError(client2().Read(), "ERR Protocol error: invalid bulk length"));
  auto c3 = NewClient();
  std::string at_limit(1048576, 'x');
  EXPECT_EQ(c3->Run({"echo", at_limit}).str.size(), at_limit.size());
}

TEST_F(DispatchTest, QueryBufferLimitClosesTheClient) {
  EXPECT_EQ(Run({"config", "set", "client-query-buffer-limit", "1mb"}).str, "OK");
  // An incomplete request bigger than the limit: the client is cut off, others carry on.
  client2().SendRaw("*2\r\n$3\r\nset\r\n$4000000\r\n" + std::string(1200 * 1024, 'x'));
  auto v = client2().Read();
  EXPECT_TRUE(IsErrorPrefix(v, "ERR Protocol error: query buffer limit")) << v.ToString();
  EXPECT_EQ(Run({"ping"}).str, "PONG");
}

// MSET over keys on different shards is atomic: a concurrent MGET sees all or none.
TEST_F(DispatchTest, CrossShardMsetIsAtomic) {
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) keys.push_back("atomic:" + std::to_string(i));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    TestClient w(port());
    for (int round = 0; round < 300; ++round) {
      std::vector<std::string> args{"mset"};
      for (auto& k : keys) {
        args.push_back(k);
        args.push_back(std::to_string(round));
      }
      w.Run(args);
    }
    stop = true;
  });
  TestClient r(port());
  int checks = 0;
  while (!stop) {
    std::vector<std::string> args{"mget"};
    args.insert(args.end(), keys.begin(), keys.end());
    auto v = r.Run(args);
    std::set<std::string> distinct;
    for (auto& e : v.elements) distinct.insert(e.type == RespValue::Type::kNull ? "nil" : e.str);
    ASSERT_EQ(distinct.size(), 1u) << v.ToString();
    ++checks;
  }
  writer.join();
  EXPECT_GT(checks, 0);
}

TEST_F(DispatchTest, ManyClientsOnEveryThread) {
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(NewClient());
  for (int i = 0; i < 20; ++i) clients[i]->Send({"incr", "counter"});
  for (auto& c : clients) EXPECT_EQ(c->Read().type, RespValue::Type::kInteger);
  EXPECT_EQ(Run({"get", "counter"}).str, "20");
}

}  // namespace
}  // namespace stockd::testing
