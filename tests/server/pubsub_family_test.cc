#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class PubSubTest : public ServerTest {};

TEST_F(PubSubTest, SubscribePublishUnsubscribe) {
  auto sub = NewClient();
  auto v = sub->Run({"subscribe", "a", "b"});
  EXPECT_EQ(Strs(v), (std::vector<std::string>{"subscribe", "a", ""}));
  EXPECT_EQ(v.elements[2].integer, 1);
  v = sub->Read();
  EXPECT_EQ(v.elements[1].str, "b");
  EXPECT_EQ(v.elements[2].integer, 2);
  EXPECT_EQ(Run({"publish", "a", "hello"}).integer, 1);
  EXPECT_EQ(Run({"publish", "nobody", "x"}).integer, 0);
  v = sub->Read();
  EXPECT_EQ(v.type, RespValue::Type::kArray);  // RESP2: a plain array
  EXPECT_EQ(Strs(v), (std::vector<std::string>{"message", "a", "hello"}));
  EXPECT_EQ(Strs(Run({"pubsub", "channels"})).size(), 2u);
  EXPECT_EQ(Strs(Run({"pubsub", "channels", "a*"})), (std::vector<std::string>{"a"}));
  auto numsub = Run({"pubsub", "numsub", "a", "zzz"});
  EXPECT_EQ(numsub.elements[1].integer, 1);
  EXPECT_EQ(numsub.elements[3].integer, 0);
  // UNSUBSCRIBE with no channel leaves all, one confirmation each.
  sub->Send({"unsubscribe"});
  EXPECT_EQ(sub->Read().elements[2].integer, 1);
  EXPECT_EQ(sub->Read().elements[2].integer, 0);
  EXPECT_EQ(sub->Run({"get", "k"}).type, RespValue::Type::kNull);  // back to normal mode
  auto none = sub->Run({"unsubscribe"});
  EXPECT_EQ(none.elements[1].type, RespValue::Type::kNull);
  EXPECT_EQ(none.elements[2].integer, 0);
}

TEST_F(PubSubTest, Resp2SubscribedModeRestrictsCommands) {
  client2().Run({"subscribe", "c"});
  EXPECT_TRUE(IsError(client2().Run({"get", "k"}),
                      "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                      "QUIT / RESET are allowed in this context"));
  EXPECT_EQ(Strs(client2().Run({"ping"})), (std::vector<std::string>{"pong", ""}));
  EXPECT_EQ(Strs(client2().Run({"ping", "x"})), (std::vector<std::string>{"pong", "x"}));
  EXPECT_EQ(client2().Run({"reset"}).str, "RESET");  // RESET leaves every channel
  EXPECT_EQ(Run({"publish", "c", "m"}).integer, 0);
}

TEST_F(PubSubTest, Resp3UsesPushAndAllowsCommands) {
  auto sub = NewClient();
  sub->Run({"hello", "3"});
  auto v = sub->Run({"subscribe", "c"});
  EXPECT_EQ(v.type, RespValue::Type::kPush);
  EXPECT_EQ(sub->Run({"set", "k", "v"}).str, "OK");  // RESP3: any command works
  Run({"publish", "c", "m"});
  v = sub->Read();
  EXPECT_EQ(v.type, RespValue::Type::kPush);
  EXPECT_EQ(Strs(v), (std::vector<std::string>{"message", "c", "m"}));
}

TEST_F(PubSubTest, PatternsAndDoubleDelivery) {
  auto sub = NewClient();
  sub->Run({"psubscribe", "news.*"});
  sub->Send({"subscribe", "news.sport"});
  sub->Read();
  EXPECT_EQ(Run({"pubsub", "numpat"}).integer, 1);
  EXPECT_EQ(Run({"publish", "news.sport", "goal"}).integer, 2);  // by channel and by pattern
  std::vector<std::vector<std::string>> got{Strs(sub->Read()), Strs(sub->Read())};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got[0], (std::vector<std::string>{"message", "news.sport", "goal"}));
  EXPECT_EQ(got[1], (std::vector<std::string>{"pmessage", "news.*", "news.sport", "goal"}));
  auto v = sub->Run({"punsubscribe", "news.*"});
  EXPECT_EQ(v.elements[0].str, "punsubscribe");
  EXPECT_EQ(v.elements[2].integer, 1);
}

TEST_F(PubSubTest, DisconnectedSubscriberIsForgotten) {
  {
    auto sub = NewClient();
    sub->Run({"subscribe", "gone"});
  }
  // The close is noticed asynchronously; the count drops to 0 shortly after.
  int64_t n = 1;
  for (int i = 0; i < 100 && n != 0; ++i) {
    n = Run({"publish", "gone", "x"}).integer;
    if (n != 0) SleepMs(10);
  }
  EXPECT_EQ(n, 0);
}

TEST_F(PubSubTest, ManySubscribersOnEveryThreadInOrder) {
  std::vector<std::unique_ptr<TestClient>> subs;
  for (int i = 0; i < 6; ++i) {
    subs.push_back(NewClient());
    subs.back()->Run({"subscribe", "feed"});
  }
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(Run({"publish", "feed", std::to_string(i)}).integer, 6);
  }
  for (auto& s : subs) {
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(s->Read().elements[2].str, std::to_string(i));
  }
  EXPECT_NE(Run({"client", "list"}).str.find("sub=1"), std::string::npos);
}

}  // namespace
}  // namespace stockd::testing
