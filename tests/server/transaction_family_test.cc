#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class TransactionTest : public ServerTest {};

TEST_F(TransactionTest, ExecRunsQueuedCommandsAcrossShards) {
  EXPECT_EQ(Run({"multi"}).str, "OK");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Run({"incr", "c" + std::to_string(i)}).str, "QUEUED");
  EXPECT_EQ(Run({"ping"}).str, "QUEUED");
  auto v = Run({"exec"});
  ASSERT_EQ(v.elements.size(), 11u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(v.elements[i].integer, 1);
  EXPECT_EQ(v.elements[10].str, "PONG");
}

TEST_F(TransactionTest, Errors) {
  EXPECT_TRUE(IsError(Run({"exec"}), "ERR EXEC without MULTI"));
  EXPECT_TRUE(IsError(Run({"discard"}), "ERR DISCARD without MULTI"));
  Run({"multi"});
  EXPECT_TRUE(IsError(Run({"multi"}), "ERR MULTI calls can not be nested"));
  EXPECT_TRUE(IsError(Run({"watch", "x"}), "ERR WATCH inside MULTI is not allowed"));
  EXPECT_EQ(Run({"discard"}).str, "OK");
}

TEST_F(TransactionTest, QueueingErrorAbortsExec) {
  Run({"multi"});
  EXPECT_EQ(Run({"set", "a", "1"}).str, "QUEUED");
  EXPECT_TRUE(IsError(Run({"get"}), "ERR wrong number of arguments for 'get' command"));
  EXPECT_TRUE(IsErrorPrefix(Run({"nosuch"}), "ERR unknown command"));
  EXPECT_TRUE(
      IsError(Run({"exec"}), "EXECABORT Transaction discarded because of previous errors."));
  EXPECT_EQ(Run({"get", "a"}).type, RespValue::Type::kNull);
}

TEST_F(TransactionTest, RuntimeErrorsDoNotAbort) {
  Run({"set", "s", "notanumber"});
  Run({"multi"});
  Run({"incr", "s"});
  Run({"set", "t", "1"});
  auto v = Run({"exec"});
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_TRUE(IsError(v.elements[0], "ERR value is not an integer or out of range"));
  EXPECT_EQ(v.elements[1].str, "OK");
}

TEST_F(TransactionTest, WatchedKeyChangedByAnotherClientFailsExec) {
  Run({"set", "w", "1"});
  EXPECT_EQ(Run({"watch", "w", "other"}).str, "OK");
  client2().Run({"set", "w", "2"});
  Run({"multi"});
  Run({"set", "w", "3"});
  EXPECT_EQ(Run({"exec"}).type, RespValue::Type::kNull);
  EXPECT_EQ(Run({"get", "w"}).str, "2");
  // The WATCH is gone after EXEC: the next transaction goes through.
  Run({"multi"});
  Run({"set", "w", "4"});
  EXPECT_EQ(Run({"exec"}).elements.size(), 1u);
  EXPECT_EQ(Run({"get", "w"}).str, "4");
}

TEST_F(TransactionTest, WatchUntouchedKeySucceedsAndUnwatchForgets) {
  Run({"watch", "a"});
  client2().Run({"set", "unrelated", "x"});
  Run({"multi"});
  Run({"set", "a", "1"});
  EXPECT_EQ(Run({"exec"}).elements.size(), 1u);
  Run({"watch", "a"});
  EXPECT_EQ(Run({"unwatch"}).str, "OK");
  client2().Run({"set", "a", "2"});
  Run({"multi"});
  Run({"set", "a", "3"});
  EXPECT_EQ(Run({"exec"}).elements.size(), 1u);
}

TEST_F(TransactionTest, FlushAllAndExpiryTouchWatchedKeys) {
  Run({"set", "f", "1"});
  Run({"watch", "f"});
  client2().Run({"flushall"});
  Run({"multi"});
  Run({"ping"});
  EXPECT_EQ(Run({"exec"}).type, RespValue::Type::kNull);
  Run({"set", "e", "1", "px", "50"});
  Run({"watch", "e"});
  SleepMs(300);  // active expiry deletes it
  Run({"multi"});
  Run({"ping"});
  EXPECT_EQ(Run({"exec"}).type, RespValue::Type::kNull);
}

TEST_F(TransactionTest, Resp3NullExec) {
  Run({"hello", "3"});
  Run({"watch", "k"});
  client2().Run({"set", "k", "1"});
  Run({"multi"});
  Run({"get", "k"});
  EXPECT_EQ(Run({"exec"}).type, RespValue::Type::kNull);
}

}  // namespace
}  // namespace stockd::testing
