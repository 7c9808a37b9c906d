// Blocking pops (server/blocking.h): FIFO wake-up across clients, timeouts, disconnects, keys on
// other shards, and pipelined commands waiting behind a blocked one.
#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class BlockingTest : public ServerTest {
 protected:
  using V = std::vector<std::string>;
  // Waits until the server reports `n` blocked clients (blocking is asynchronous to the sender).
  void WaitBlocked(int n) {
    for (int i = 0; i < 200; ++i) {
      if (Run({"info", "clients"}).str.find("blocked_clients:" + std::to_string(n) + "\r") !=
          std::string::npos) {
        return;
      }
      SleepMs(10);
    }
    FAIL() << "never saw blocked_clients:" << n;
  }
};

TEST_F(BlockingTest, AnswersAtOnceWhenThereIsData) {
  Run({"rpush", "b", "x", "y"});
  Run({"rpush", "c", "z"});
  EXPECT_EQ(Strs(Run({"blpop", "empty", "b", "c", "0"})), (V{"b", "x"}));  // first non-empty key
  EXPECT_EQ(Strs(Run({"brpop", "c", "0"})), (V{"c", "z"}));
  EXPECT_EQ(Run({"exists", "c"}).integer, 0);
}

TEST_F(BlockingTest, PushWakesTheBlockedClient) {
  auto waiter = NewClient();
  waiter->Send({"blpop", "q", "0"});
  WaitBlocked(1);
  EXPECT_EQ(Run({"rpush", "q", "job1"}).integer, 1);
  EXPECT_EQ(Strs(waiter->Read()), (V{"q", "job1"}));
  EXPECT_EQ(Run({"exists", "q"}).integer, 0);  // the element went to the waiter
  WaitBlocked(0);
}

TEST_F(BlockingTest, WakeUpIsFifoAcrossClients) {
  std::vector<std::unique_ptr<TestClient>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(NewClient());
    waiters.back()->Send({"blpop", "fifo", "0"});
    WaitBlocked(i + 1);  // fix the arrival order
  }
  // One push of four elements serves the four clients in the order they blocked.
  Run({"rpush", "fifo", "e0", "e1", "e2", "e3"});
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Strs(waiters[i]->Read()), (V{"fifo", "e" + std::to_string(i)})) << i;
  }
}

TEST_F(BlockingTest, ServedFromAnyOfItsKeysOnAnyShard) {
  // Ten keys: with two shards both shards hold some of them.
  std::vector<std::string> args{"brpop"};
  for (int i = 0; i < 10; ++i) args.push_back("multi:" + std::to_string(i));
  args.push_back("0");
  for (int i = 0; i < 10; ++i) {
    auto waiter = NewClient();
    waiter->Send(args);
    WaitBlocked(1);
    std::string key = "multi:" + std::to_string(i);
    Run({"lpush", key, "v" + std::to_string(i)});
    EXPECT_EQ(Strs(waiter->Read()), (V{key, "v" + std::to_string(i)}));
    WaitBlocked(0);
  }
}

TEST_F(BlockingTest, TimeoutAnswersNull) {
  auto v = Run({"blpop", "none", "0.1"});
  EXPECT_EQ(v.type, RespValue::Type::kNull);
  EXPECT_EQ(Run({"blmove", "none", "dst", "left", "left", "0.05"}).type, RespValue::Type::kNull);
  Run({"hello", "3"});
  EXPECT_EQ(Run({"brpop", "none", "0.05"}).type, RespValue::Type::kNull);
  // After a timeout the key is not held: a later push stays in the list.
  Run({"rpush", "none", "kept"});
  EXPECT_EQ(Run({"llen", "none"}).integer, 1);
}

TEST_F(BlockingTest, DisconnectedWaiterLosesNothing) {
  {
    auto waiter = NewClient();
    waiter->Send({"blpop", "lost", "0"});
    WaitBlocked(1);
  }
  WaitBlocked(0);  // the server noticed the close
  Run({"rpush", "lost", "important"});
  EXPECT_EQ(Strs(Run({"lrange", "lost", "0", "-1"})), (V{"important"}));
}

TEST_F(BlockingTest, BlockingMoveAcrossShards) {
  for (int i = 0; i < 6; ++i) {
    std::string src = "bsrc" + std::to_string(i), dst = "bdst" + std::to_string(i);
    auto waiter = NewClient();
    waiter->Send({"blmove", src, dst, "right", "left", "5"});
    WaitBlocked(1);
    Run({"rpush", src, "a", "b"});
    EXPECT_EQ(waiter->Read().str, "b");
    EXPECT_EQ(Strs(Run({"lrange", dst, "0", "-1"})), (V{"b"}));
    EXPECT_EQ(Strs(Run({"lrange", src, "0", "-1"})), (V{"a"}));
    WaitBlocked(0);
  }
  auto waiter = NewClient();
  waiter->Send({"brpoplpush", "s", "d", "0"});
  WaitBlocked(1);
  Run({"rpush", "s", "x"});
  EXPECT_EQ(waiter->Read().str, "x");
}

TEST_F(BlockingTest, PipelinedCommandsWaitBehindTheBlockedOne) {
  auto waiter = NewClient();
  waiter->SendRaw(TestClient::Encode({"blpop", "p", "0"}) + TestClient::Encode({"ping"}) +
                  TestClient::Encode({"get", "after"}));
  WaitBlocked(1);
  Run({"set", "after", "1"});
  Run({"rpush", "p", "v"});
  EXPECT_EQ(Strs(waiter->Read()), (V{"p", "v"}));
  EXPECT_EQ(waiter->Read().str, "PONG");
  EXPECT_EQ(waiter->Read().str, "1");  // ran after the pop, not before
}

TEST_F(BlockingTest, SortedSetPops) {
  Run({"zadd", "zs", "1", "a", "2", "b", "3", "c"});
  EXPECT_EQ(Strs(Run({"bzpopmin", "empty", "zs", "0"})), (V{"zs", "a", "1"}));
  EXPECT_EQ(Strs(Run({"bzpopmax", "zs", "0"})), (V{"zs", "c", "3"}));
  auto waiter = NewClient();
  waiter->Send({"bzpopmax", "zq", "0"});
  WaitBlocked(1);
  Run({"zadd", "zq", "5", "low", "9", "high"});
  EXPECT_EQ(Strs(waiter->Read()), (V{"zq", "high", "9"}));
  EXPECT_EQ(Run({"zcard", "zq"}).integer, 1);
  EXPECT_EQ(Run({"bzpopmin", "nothing", "0.05"}).type, RespValue::Type::kNull);
  Run({"hello", "3"});
  auto v = Run({"bzpopmin", "zq", "0"});
  EXPECT_EQ(v.elements[2].type, RespValue::Type::kDouble);  // RESP3: the score is a double
  Run({"rpush", "alist", "x"});
  EXPECT_TRUE(IsErrorPrefix(Run({"bzpopmin", "alist", "0"}), "WRONGTYPE"));
}

// RESP3 allows commands while subscribed: a client blocked in BLPOP still gets its messages.
TEST_F(BlockingTest, Resp3SubscriberGetsPushesWhileBlocked) {
  auto c = NewClient();
  c->Run({"hello", "3"});
  c->Run({"subscribe", "news"});
  c->Send({"blpop", "q", "0"});
  WaitBlocked(1);
  EXPECT_EQ(Run({"publish", "news", "hi"}).integer, 1);
  auto push = c->Read();
  EXPECT_EQ(push.type, RespValue::Type::kPush);
  EXPECT_EQ(Strs(push), (V{"message", "news", "hi"}));
  Run({"rpush", "q", "job"});
  EXPECT_EQ(Strs(c->Read()), (V{"q", "job"}));
}

TEST_F(BlockingTest, ErrorsAndMulti) {
  EXPECT_TRUE(IsError(Run({"blpop", "k", "-1"}), "ERR timeout is negative"));
  EXPECT_TRUE(IsError(Run({"blpop", "k", "x"}), "ERR timeout is not a float or out of range"));
  EXPECT_TRUE(IsError(Run({"blmove", "a", "b", "up", "left", "0"}), "ERR syntax error"));
  Run({"set", "str", "v"});
  EXPECT_TRUE(IsErrorPrefix(Run({"blpop", "str", "0"}), "WRONGTYPE"));
  Run({"multi"});
  Run({"blpop", "empty", "0"});
  auto v = Run({"exec"});
  ASSERT_EQ(v.elements.size(), 1u);
  EXPECT_EQ(v.elements[0].type, RespValue::Type::kNull);  // inside MULTI: no blocking
}

}  // namespace
}  // namespace stockd::testing
