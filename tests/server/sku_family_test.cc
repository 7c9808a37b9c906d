// The inventory commands (server/commands/sku_family.cc, storage/sku.h) through the real
// dispatch path: every command, state transition and error code, and the invariants after each.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;
using V = std::vector<std::string>;

class SkuFamilyTest : public ServerTest {
 protected:
  // The value of `name` in a map reply (a flat field/value array in RESP2).
  static RespValue Field(const RespValue& v, std::string_view name) {
    for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
      if (v.elements[i].str == name) return v.elements[i + 1];
    }
    ADD_FAILURE() << "no field " << name << " in " << v.ToString();
    return RespValue();
  }
  int64_t Counter(const std::string& sku, std::string_view name) {
    return Field(Run({"sku.get", sku}), name).integer;
  }
  std::string State(const std::string& sku, const std::string& order) {
    return Field(Run({"sku.order", sku, order}), "state").str;
  }
  // Every invariant holds (SKU.CHECK recounts them).
  ::testing::AssertionResult Consistent(const std::string& sku) {
    RespValue v = Run({"sku.check", sku});
    if (v.type == Type::kSimpleString && v.str == "OK") return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << sku << ": " << v.ToString();
  }
  static bool IsCode(const RespValue& v, std::string_view code) {
    return v.type == Type::kError && v.str.starts_with(std::string(code) + " ");
  }
  // Waits up to a second for `pred`.
  template <typename Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 200; ++i) {
      if (pred()) return true;
      SleepMs(5);
    }
    return pred();
  }
};

TEST_F(SkuFamilyTest, SetCreatesAndGetReportsEverything) {
  EXPECT_TRUE(IsOk(Run({"sku.set", "phone", "100", "SAFETY", "5", "LIMIT", "2", "TTL", "60000",
                        "QUEUE", "50", "HOLD", "30000", "TOKENS", "yes"})));
  RespValue g = Run({"sku.get", "phone"});
  EXPECT_TRUE(IsInt(Field(g, "on_hand"), 100));
  EXPECT_TRUE(IsInt(Field(g, "safety"), 5));
  EXPECT_TRUE(IsInt(Field(g, "reserved"), 0));
  EXPECT_TRUE(IsInt(Field(g, "sold"), 0));
  EXPECT_TRUE(IsInt(Field(g, "held"), 0));
  EXPECT_TRUE(IsInt(Field(g, "available"), 95));
  EXPECT_TRUE(IsInt(Field(g, "limit"), 2));
  EXPECT_TRUE(IsInt(Field(g, "ttl_ms"), 60000));
  EXPECT_TRUE(IsInt(Field(g, "queue"), 50));
  EXPECT_TRUE(IsInt(Field(g, "hold_ms"), 30000));
  EXPECT_TRUE(IsBulk(Field(g, "tokens"), "yes"));
  EXPECT_TRUE(IsInt(Field(g, "last_journal_id"), 1));
  // Reconfiguring keeps what is not named.
  EXPECT_TRUE(IsOk(Run({"sku.set", "phone", "80", "queue", "auto"})));
  g = Run({"sku.get", "phone"});
  EXPECT_TRUE(IsInt(Field(g, "on_hand"), 80));
  EXPECT_TRUE(IsInt(Field(g, "safety"), 5));
  EXPECT_TRUE(IsBulk(Field(g, "queue"), "auto"));
  EXPECT_TRUE(IsInt(Field(g, "limit"), 2));
  // A SKU is a key like any other.
  EXPECT_EQ(Run({"type", "phone"}).str, "sku");
  EXPECT_TRUE(IsBulk(Run({"object", "encoding", "phone"}), "sku"));
  EXPECT_TRUE(IsInt(Run({"exists", "phone"}), 1));
  EXPECT_TRUE(IsOk(Run({"set", "plain", "x"})));
  RespValue scan = Run({"scan", "0", "TYPE", "sku", "COUNT", "100"});
  EXPECT_EQ(Strs(scan.elements[1]), (V{"phone"}));
  EXPECT_GT(Run({"memory", "usage", "phone"}).integer, 0);
  EXPECT_TRUE(IsInt(Run({"del", "phone"}), 1));
  EXPECT_TRUE(IsCode(Run({"sku.get", "phone"}), "NOSKU"));
}

TEST_F(SkuFamilyTest, SetValidatesEveryArgument) {
  EXPECT_TRUE(
      IsError(Run({"sku.set", "s", "-1"}), "ERR on_hand must be between 0 and 1000000000000000"));
  EXPECT_TRUE(IsOk(Run({"sku.set", "s", "1000000000000000"})));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "s", "1000000000000001"}), "ERR on_hand must be"));
  EXPECT_TRUE(IsError(Run({"sku.set", "s", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"sku.set", "s", "1", "SAFETY"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"sku.set", "s", "1", "COLOR", "red"}), "ERR syntax error"));
  EXPECT_TRUE(
      IsError(Run({"sku.set", "s", "1", "TOKENS", "maybe"}), "ERR TOKENS must be yes or no"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "s", "1", "HOLD", "0"}), "ERR HOLD must be between 1"));
  EXPECT_TRUE(IsOk(Run({"sku.set", "s", "1", "TTL", "31536000000"})));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "s", "1", "TTL", "31536000001"}), "ERR TTL must be"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "s", "1", "QUEUE", "-2"}), "ERR QUEUE must be"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "s", "1", "QUEUE", "10000001"}), "ERR QUEUE must be"));
  EXPECT_TRUE(
      IsError(Run({"sku.set", "s"}), "ERR wrong number of arguments for 'sku.set' command"));
  // A SKU that cannot be configured is not created.
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "new", "1", "SAFETY", "2"}), "ERR on_hand - safety"));
  EXPECT_TRUE(IsInt(Run({"exists", "new"}), 0));
}

TEST_F(SkuFamilyTest, WrongTypeAndMissingSku) {
  EXPECT_TRUE(IsOk(Run({"set", "str", "1"})));
  for (const V& cmd : std::vector<V>{{"sku.set", "str", "1"},
                                     {"sku.get", "str"},
                                     {"sku.reserve", "str", "o", "1"},
                                     {"sku.enter", "str", "u"},
                                     {"sku.journal", "str"}}) {
    EXPECT_TRUE(IsErrorPrefix(Run(cmd), "WRONGTYPE")) << cmd[0];
  }
  EXPECT_TRUE(IsOk(Run({"sku.set", "s", "5"})));
  EXPECT_TRUE(IsErrorPrefix(Run({"get", "s"}), "WRONGTYPE"));
  EXPECT_TRUE(IsErrorPrefix(Run({"lpush", "s", "x"}), "WRONGTYPE"));
  for (const V& cmd : std::vector<V>{{"sku.get", "none"},
                                     {"sku.reserve", "none", "o", "1"},
                                     {"sku.commit", "none", "o"},
                                     {"sku.order", "none", "o"},
                                     {"sku.restock", "none", "1", "ID", "r"},
                                     {"sku.take", "none", "1"}}) {
    EXPECT_TRUE(IsError(Run(cmd), "NOSKU no such SKU 'none'")) << cmd[0];
  }
  EXPECT_TRUE(IsError(Run({"sku.order", "s", "nope"}), "NOORDER no such order 'nope'"));
  EXPECT_TRUE(IsError(Run({"sku.commit", "s", "nope"}), "NOORDER no such order 'nope'"));
}

TEST_F(SkuFamilyTest, ReserveThenCommit) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10", "SAFETY", "1"})));
  RespValue r = Run({"sku.reserve", "s", "o1", "3", "USER", "alice", "TTL", "60000"});
  EXPECT_TRUE(IsBulk(Field(r, "order"), "o1"));
  EXPECT_TRUE(IsBulk(Field(r, "state"), "reserved"));
  EXPECT_TRUE(IsBulk(Field(r, "kind"), "reserve"));
  EXPECT_TRUE(IsInt(Field(r, "qty"), 3));
  EXPECT_TRUE(IsBulk(Field(r, "user"), "alice"));
  EXPECT_EQ(Field(r, "deadline_ms").integer, Field(r, "created_ms").integer + 60000);
  EXPECT_TRUE(IsInt(Field(r, "ended_ms"), 0));
  EXPECT_EQ(Counter("s", "reserved"), 3);
  EXPECT_EQ(Counter("s", "available"), 6);
  // Payment: the units leave reserved and on_hand together, so available does not move.
  RespValue c = Run({"sku.commit", "s", "o1"});
  EXPECT_TRUE(IsBulk(Field(c, "state"), "committed"));
  EXPECT_GT(Field(c, "ended_ms").integer, 0);
  EXPECT_EQ(Counter("s", "reserved"), 0);
  EXPECT_EQ(Counter("s", "sold"), 3);
  EXPECT_EQ(Counter("s", "on_hand"), 7);
  EXPECT_EQ(Counter("s", "available"), 6);
  // A commit retried is the same commit; a committed order cannot be cancelled.
  EXPECT_TRUE(IsBulk(Field(Run({"sku.commit", "s", "o1"}), "state"), "committed"));
  EXPECT_EQ(Counter("s", "sold"), 3);
  EXPECT_TRUE(IsError(Run({"sku.cancel", "s", "o1"}), "COMMITTED order 'o1' is committed"));
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, ReserveThenCancel) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  Run({"sku.reserve", "s", "o1", "4", "USER", "u"});
  RespValue c = Run({"sku.cancel", "s", "o1"});
  EXPECT_TRUE(IsBulk(Field(c, "state"), "cancelled"));
  EXPECT_EQ(Counter("s", "reserved"), 0);
  EXPECT_EQ(Counter("s", "available"), 10);
  EXPECT_TRUE(IsBulk(Field(Run({"sku.cancel", "s", "o1"}), "state"), "cancelled"));
  EXPECT_EQ(Counter("s", "available"), 10);
  EXPECT_TRUE(IsError(Run({"sku.commit", "s", "o1"}), "CANCELLED order 'o1' was cancelled"));
  EXPECT_EQ(Counter("s", "sold"), 0);
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, RetriesAreIdempotentAndDifferentArgumentsConflict) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  RespValue first = Run({"sku.reserve", "s", "o1", "2", "USER", "u"});
  RespValue again = Run({"sku.reserve", "s", "o1", "2", "USER", "u"});
  EXPECT_EQ(first.ToString(), again.ToString());
  EXPECT_EQ(Counter("s", "reserved"), 2);
  const std::string conflict = "CONFLICT 'o1' was already used with different arguments";
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o1", "3", "USER", "u"}), conflict));
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o1", "2", "USER", "v"}), conflict));
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o1", "2"}), conflict));
  EXPECT_TRUE(IsError(Run({"sku.deduct", "s", "o1", "2", "USER", "u"}), conflict));
  EXPECT_EQ(Counter("s", "reserved"), 2);
  EXPECT_EQ(Counter("s", "orders"), 1);
  // A deduction retried is the same deduction.
  RespValue d = Run({"sku.deduct", "s", "d1", "1"});
  EXPECT_TRUE(IsBulk(Field(d, "state"), "committed"));
  EXPECT_TRUE(IsBulk(Field(d, "kind"), "deduct"));
  EXPECT_EQ(Run({"sku.deduct", "s", "d1", "1"}).ToString(), d.ToString());
  EXPECT_EQ(Counter("s", "sold"), 1);
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, AnOrderRefusedForLackOfStockStaysRefused) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "3"})));
  EXPECT_TRUE(
      IsError(Run({"sku.reserve", "s", "big", "4"}), "SOLDOUT not enough stock of 's' for 'big'"));
  RespValue o = Run({"sku.order", "s", "big"});
  EXPECT_TRUE(IsBulk(Field(o, "state"), "failed"));
  EXPECT_TRUE(IsBulk(Field(o, "reason"), "SOLDOUT"));
  EXPECT_TRUE(IsInt(Run({"sku.restock", "s", "10", "ID", "r1"}), 13));
  // As TigerBeetle: a stale retry must not succeed where the original failed.
  EXPECT_TRUE(
      IsError(Run({"sku.reserve", "s", "big", "4"}), "SOLDOUT not enough stock of 's' for 'big'"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.reserve", "s", "big", "5"}), "CONFLICT"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.commit", "s", "big"}), "SOLDOUT"));
  EXPECT_EQ(Counter("s", "reserved"), 0);
  EXPECT_TRUE(IsBulk(Field(Run({"sku.reserve", "s", "big2", "4"}), "state"), "reserved"));
  // Exactly the stock sells, never one unit more.
  EXPECT_TRUE(IsBulk(Field(Run({"sku.deduct", "s", "d", "9"}), "state"), "committed"));
  EXPECT_TRUE(IsCode(Run({"sku.deduct", "s", "d2", "1"}), "SOLDOUT"));
  EXPECT_EQ(Counter("s", "available"), 0);
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, PerUserLimitCountsReservedAndCommittedUnits) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "100", "LIMIT", "2"})));
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o0", "1"}),
                      "ERR this SKU has a per-user limit: USER is required"));
  EXPECT_EQ(Counter("s", "orders"), 0);  // an argument error is not a remembered refusal
  Run({"sku.reserve", "s", "o1", "1", "USER", "u"});
  Run({"sku.deduct", "s", "o2", "1", "USER", "u"});
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o3", "1", "USER", "u"}),
                      "LIMIT per-user limit reached for 'o3'"));
  EXPECT_TRUE(IsCode(Run({"sku.enter", "s", "u"}), "LIMIT"));
  // Other users are not affected; a cancel gives the user room again.
  EXPECT_TRUE(
      IsBulk(Field(Run({"sku.reserve", "s", "o4", "2", "USER", "v"}), "state"), "reserved"));
  Run({"sku.cancel", "s", "o1"});
  EXPECT_TRUE(
      IsBulk(Field(Run({"sku.reserve", "s", "o5", "1", "USER", "u"}), "state"), "reserved"));
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, ReservationsExpireOnTheShardTimerNeverEarly) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10", "TTL", "100"})));
  RespValue r = Run({"sku.reserve", "s", "o1", "4"});
  int64_t deadline = Field(r, "deadline_ms").integer;
  EXPECT_EQ(deadline, Field(r, "created_ms").integer + 100);
  EXPECT_EQ(State("s", "o1"), "reserved");
  // Nothing touches the SKU: the shard's timer expires it.
  ASSERT_TRUE(Eventually([&] { return State("s", "o1") == "expired"; }));
  RespValue o = Run({"sku.order", "s", "o1"});
  EXPECT_GE(Field(o, "ended_ms").integer, deadline);
  EXPECT_EQ(Counter("s", "reserved"), 0);
  EXPECT_EQ(Counter("s", "available"), 10);
  RespValue j = Run({"sku.journal", "s"});
  ASSERT_EQ(j.elements.size(), 3u);
  EXPECT_TRUE(IsBulk(Field(j.elements[2], "op"), "expire"));
  EXPECT_TRUE(IsBulk(Field(j.elements[2], "order"), "o1"));
  // An expired order cannot be committed or cancelled, and a retry does not revive it.
  EXPECT_TRUE(IsError(Run({"sku.commit", "s", "o1"}), "EXPIRED order 'o1' expired"));
  EXPECT_TRUE(IsError(Run({"sku.cancel", "s", "o1"}), "EXPIRED order 'o1' expired"));
  EXPECT_TRUE(IsBulk(Field(Run({"sku.reserve", "s", "o1", "4"}), "state"), "expired"));
  EXPECT_EQ(Counter("s", "reserved"), 0);
  // TTL 0: never expires.
  Run({"sku.reserve", "s", "forever", "1", "TTL", "0"});
  EXPECT_TRUE(IsInt(Field(Run({"sku.order", "s", "forever"}), "deadline_ms"), 0));
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, MixedDeadlinesExpireInDeadlineOrder) {
  // Default-TTL reservations go in the SKU's deadline FIFO, others in its ordered index: both
  // must expire on time and in order.
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10", "TTL", "300"})));
  Run({"sku.reserve", "s", "a", "1"});
  Run({"sku.reserve", "s", "short", "1", "TTL", "50"});
  Run({"sku.reserve", "s", "never", "1", "TTL", "0"});
  Run({"sku.reserve", "s", "long", "1", "TTL", "100000"});
  Run({"sku.reserve", "s", "b", "1"});
  Run({"sku.commit", "s", "a"});  // ended while in the FIFO
  EXPECT_TRUE(Consistent("s"));
  ASSERT_TRUE(Eventually([&] { return State("s", "short") == "expired"; }));
  EXPECT_EQ(State("s", "b"), "reserved");
  ASSERT_TRUE(Eventually([&] { return State("s", "b") == "expired"; }));
  EXPECT_EQ(State("s", "a"), "committed");
  EXPECT_EQ(State("s", "never"), "reserved");
  EXPECT_EQ(State("s", "long"), "reserved");
  EXPECT_EQ(Counter("s", "reserved"), 2);
  EXPECT_EQ(Counter("s", "open_orders"), 2);
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, DeadlinesEarlierThanEveryPendingOneStillExpire) {
  // Advance skips its search while the clock is below the SKU's due floor (the earliest pending
  // deadline it last found): each new admission, token and order must lower the floor.
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10", "TTL", "100000", "HOLD", "50"})));
  Run({"sku.reserve", "s", "far", "1"});
  Run({"sku.reserve", "s", "far2", "1"});  // its Advance finds the floor at far's deadline
  ASSERT_EQ(Field(Run({"sku.enter", "s", "u1"}), "user").str, "u1");
  EXPECT_TRUE(Consistent("s"));
  ASSERT_TRUE(Eventually([&] { return Counter("s", "held") == 0; }));
  ASSERT_EQ(Run({"sku.token", "s", "u2", "TTL", "50"}).type, Type::kBulk);
  EXPECT_EQ(Counter("s", "outstanding_tokens"), 1);
  ASSERT_TRUE(Eventually([&] { return Counter("s", "outstanding_tokens") == 0; }));
  Run({"sku.reserve", "s", "short", "1", "TTL", "50"});
  EXPECT_TRUE(Consistent("s"));
  ASSERT_TRUE(Eventually([&] { return State("s", "short") == "expired"; }));
  EXPECT_EQ(State("s", "far"), "reserved");
  EXPECT_EQ(Counter("s", "reserved"), 2);
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, ACommitAfterTheDeadlineLosesToTheExpiry) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  // Many reservations with one short deadline, committed just after it: whether or not the timer
  // has run yet, every one of them loses, and none is both expired and sold.
  for (int i = 0; i < 50; ++i) Run({"sku.reserve", "s", "o" + std::to_string(i), "1", "TTL", "30"});
  SleepMs(40);
  int expired = 0;
  for (int i = 0; i < 10; ++i) {
    RespValue c = Run({"sku.commit", "s", "o" + std::to_string(i)});
    if (IsCode(c, "EXPIRED")) ++expired;
  }
  EXPECT_EQ(expired, 10);
  EXPECT_EQ(Counter("s", "sold"), 0);
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, RestockIsIdempotentById) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "5"})));
  EXPECT_TRUE(IsInt(Run({"sku.restock", "s", "10", "ID", "r1"}), 15));
  EXPECT_TRUE(IsInt(Run({"sku.restock", "s", "10", "ID", "r1"}), 15));
  EXPECT_TRUE(IsInt(Run({"sku.restock", "s", "1", "id", "r2"}), 16));
  EXPECT_TRUE(IsError(Run({"sku.restock", "s", "11", "ID", "r1"}),
                      "CONFLICT 'r1' was already used with different arguments"));
  EXPECT_EQ(Counter("s", "on_hand"), 16);
  EXPECT_TRUE(IsError(Run({"sku.restock", "s", "1", "XX", "r3"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"sku.restock", "s", "0", "ID", "r3"}),
                      "ERR qty must be between 1 and 1000000000000000"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.restock", "s", "1000000000000000", "ID", "r4"}),
                            "ERR a counter would leave its range"));
  EXPECT_EQ(Counter("s", "on_hand"), 16);
}

TEST_F(SkuFamilyTest, ArgumentLimitsAtTheirEdges) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  std::string id256(256, 'a'), id257(257, 'a');
  EXPECT_TRUE(IsBulk(Field(Run({"sku.reserve", "s", id256, "1"}), "state"), "reserved"));
  EXPECT_TRUE(
      IsError(Run({"sku.reserve", "s", id257, "1"}), "ERR order id must be 1 to 256 bytes"));
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "", "1"}), "ERR order id must be 1 to 256 bytes"));
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o", "1", "USER", id257}),
                      "ERR user must be 1 to 256 bytes"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.reserve", "s", "o", "0"}), "ERR qty must be between 1"));
  EXPECT_TRUE(IsError(Run({"sku.reserve", "s", "o", "1", "USER"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"sku.deduct", "s", "o", "1", "TTL", "5"}), "ERR syntax error"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.take", "s", "0"}), "ERR count must be between 1 and 10000"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.take", "s", "10001"}), "ERR count must be"));
  EXPECT_EQ(Run({"sku.take", "s", "10000"}).elements.size(), 0u);
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.journal", "s", "COUNT", "10001"}), "ERR COUNT must be"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.hot", "COUNT", "1001"}), "ERR COUNT must be"));
  // SKU.MRESERVE names at most 64 SKUs.
  std::vector<std::string> m = {"sku.mreserve", "big-order"};
  for (int i = 0; i < 65; ++i) {
    std::string k = "m" + std::to_string(i);
    ASSERT_TRUE(IsOk(Run({"sku.set", k, "1"})));
    m.push_back(k);
    m.push_back("1");
  }
  EXPECT_TRUE(IsError(Run(m), "ERR an order may name at most 64 SKUs"));
  m.resize(m.size() - 2);
  EXPECT_EQ(Run(m).elements.size(), 64u);
}

TEST_F(SkuFamilyTest, MultiSkuOrdersAreAllOrNothingAcrossShards) {
  for (const char* k : {"a", "b", "c"}) ASSERT_TRUE(IsOk(Run({"sku.set", k, "5"})));
  RespValue r =
      Run({"sku.mreserve", "m1", "USER", "u", "TTL", "60000", "a", "1", "b", "2", "c", "3"});
  ASSERT_EQ(r.type, Type::kArray);
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_TRUE(IsInt(Field(r.elements[1], "qty"), 2));
  EXPECT_TRUE(IsBulk(Field(r.elements[2], "kind"), "mreserve"));
  EXPECT_EQ(Counter("a", "reserved") + Counter("b", "reserved") + Counter("c", "reserved"), 6);
  // The same order again is a retry; different quantities conflict.
  EXPECT_EQ(Run({"sku.mreserve", "m1", "USER", "u", "a", "1", "b", "2", "c", "3"}).elements.size(),
            3u);
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.mreserve", "m1", "USER", "u", "a", "1", "b", "1", "c", "3"}),
                            "CONFLICT"));
  // Not enough of one SKU: nothing is reserved anywhere, and the refusal is remembered.
  EXPECT_TRUE(IsError(Run({"sku.mreserve", "m2", "a", "1", "c", "3"}),
                      "SOLDOUT not enough stock of 'c' for 'm2'"));
  EXPECT_EQ(Counter("a", "reserved"), 1);
  EXPECT_EQ(State("a", "m2"), "failed");
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.mreserve", "m2", "a", "1", "c", "3"}), "SOLDOUT"));
  // A retry that changes any line is a conflict, not the remembered refusal.
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.mreserve", "m2", "a", "2", "c", "3"}), "CONFLICT"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.mreserve", "m2", "a", "1", "c", "4"}), "CONFLICT"));
  // A missing SKU or a repeated one changes nothing.
  EXPECT_TRUE(IsError(Run({"sku.mreserve", "m3", "a", "1", "zz", "1"}), "NOSKU no such SKU 'zz'"));
  EXPECT_TRUE(
      IsError(Run({"sku.mreserve", "m3", "a", "1", "a", "1"}), "ERR SKU 'a' is named twice"));
  EXPECT_TRUE(IsError(Run({"sku.mreserve", "m3", "a", "1", "b"}), "ERR syntax error"));
  EXPECT_TRUE(IsError(Run({"sku.order", "a", "m3"}), "NOORDER no such order 'm3'"));
  // Commit all; a second commit is a retry; a cancel is refused on every SKU.
  RespValue c = Run({"sku.mcommit", "m1", "a", "b", "c"});
  ASSERT_EQ(c.elements.size(), 3u);
  EXPECT_TRUE(IsBulk(Field(c.elements[0], "state"), "committed"));
  EXPECT_EQ(Counter("a", "sold") + Counter("b", "sold") + Counter("c", "sold"), 6);
  EXPECT_EQ(Run({"sku.mcommit", "m1", "a", "b", "c"}).elements.size(), 3u);
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.mcancel", "m1", "a", "b"}), "COMMITTED"));
  // One line cancelled on its own: the whole commit is refused and nothing is committed.
  Run({"sku.mreserve", "m4", "a", "1", "b", "1"});
  Run({"sku.cancel", "b", "m4"});
  EXPECT_TRUE(IsError(Run({"sku.mcommit", "m4", "a", "b"}), "CANCELLED order 'm4' was cancelled"));
  EXPECT_EQ(State("a", "m4"), "reserved");
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.mcommit", "m4", "a", "zz"}), "NOSKU"));
  EXPECT_EQ(Run({"sku.mcancel", "m4", "a"}).elements.size(), 1u);
  EXPECT_EQ(State("a", "m4"), "cancelled");
  for (const char* k : {"a", "b", "c"}) EXPECT_TRUE(Consistent(k));
}

TEST_F(SkuFamilyTest, AdmissionHoldsAUnitAndConvertsIntoTheReservation) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "3"})));
  RespValue a = Run({"sku.enter", "s", "alice"});
  EXPECT_TRUE(IsBulk(Field(a, "user"), "alice"));
  EXPECT_TRUE(IsInt(Field(a, "ticket"), 1));
  EXPECT_EQ(Field(a, "expires_ms").integer, Field(a, "admitted_ms").integer + 60000);
  EXPECT_EQ(Run({"sku.enter", "s", "alice"}).ToString(), a.ToString());  // the same admission
  EXPECT_TRUE(IsInt(Field(Run({"sku.enter", "s", "bob"}), "ticket"), 2));
  EXPECT_TRUE(IsInt(Field(Run({"sku.enter", "s", "carol"}), "ticket"), 3));
  EXPECT_EQ(Counter("s", "held"), 3);
  EXPECT_EQ(Counter("s", "available"), 0);
  // Every sellable unit is held: refused at once.
  EXPECT_TRUE(IsError(Run({"sku.enter", "s", "dave"}),
                      "FULL admission queue is full: every sellable unit is held or reserved"));
  EXPECT_TRUE(IsCode(Run({"sku.reserve", "s", "x", "1", "USER", "dave"}), "SOLDOUT"));
  // The order service takes admitted users first in, first out.
  RespValue t = Run({"sku.take", "s", "2"});
  ASSERT_EQ(t.elements.size(), 2u);
  EXPECT_TRUE(IsBulk(t.elements[0].elements[0], "alice"));
  EXPECT_TRUE(IsInt(t.elements[0].elements[1], 1));
  EXPECT_TRUE(IsBulk(t.elements[1].elements[0], "bob"));
  // Alice's held unit becomes her reservation: not counted twice.
  EXPECT_TRUE(
      IsBulk(Field(Run({"sku.reserve", "s", "oa", "1", "USER", "alice"}), "state"), "reserved"));
  EXPECT_EQ(Counter("s", "held"), 2);
  EXPECT_EQ(Counter("s", "reserved"), 1);
  EXPECT_EQ(Counter("s", "available"), 0);
  // Bob leaves: his unit returns, and a new user can enter.
  EXPECT_TRUE(IsInt(Run({"sku.leave", "s", "bob"}), 1));
  EXPECT_TRUE(IsInt(Run({"sku.leave", "s", "bob"}), 0));
  EXPECT_EQ(Counter("s", "available"), 1);
  EXPECT_TRUE(IsInt(Field(Run({"sku.enter", "s", "dave"}), "ticket"), 4));
  RespValue t2 = Run({"sku.take", "s", "10"});
  ASSERT_EQ(t2.elements.size(), 2u);  // carol, then dave; bob left
  EXPECT_TRUE(IsBulk(t2.elements[0].elements[0], "carol"));
  EXPECT_TRUE(IsBulk(t2.elements[1].elements[0], "dave"));
  EXPECT_EQ(Run({"sku.take", "s", "10"}).elements.size(), 0u);
  // Carol buys 2: her held unit plus one more, which is not there.
  EXPECT_TRUE(IsCode(Run({"sku.reserve", "s", "oc", "2", "USER", "carol"}), "SOLDOUT"));
  EXPECT_EQ(Counter("s", "held"), 2);
  EXPECT_TRUE(Consistent("s"));
  // Nothing held or reserved and nothing left: sold out, not full.
  ASSERT_TRUE(IsOk(Run({"sku.set", "gone", "0"})));
  EXPECT_TRUE(IsCode(Run({"sku.enter", "gone", "u"}), "SOLDOUT"));
}

TEST_F(SkuFamilyTest, QueueCapacityAndHoldExpiry) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "100", "QUEUE", "2", "HOLD", "100"})));
  Run({"sku.enter", "s", "u1"});
  Run({"sku.enter", "s", "u2"});
  EXPECT_TRUE(IsCode(Run({"sku.enter", "s", "u3"}), "FULL"));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.set", "s", "100", "QUEUE", "1"}), "ERR on_hand - safety"));
  // Admissions not converted within the hold time expire and their units return.
  ASSERT_TRUE(Eventually([&] { return Counter("s", "held") == 0; }));
  EXPECT_EQ(Counter("s", "available"), 100);
  RespValue j = Run({"sku.journal", "s", "AFTER", "3"});
  ASSERT_EQ(j.elements.size(), 2u);
  EXPECT_TRUE(IsBulk(Field(j.elements[0], "op"), "hold-expire"));
  EXPECT_TRUE(IsBulk(Field(j.elements[0], "user"), "u1"));
  // The queue admits again; a closed queue (QUEUE 0) admits nobody.
  EXPECT_TRUE(IsInt(Field(Run({"sku.enter", "s", "u3"}), "ticket"), 3));
  EXPECT_EQ(Run({"sku.take", "s", "5"}).elements.size(), 1u);  // expired ones are skipped
  ASSERT_TRUE(IsOk(Run({"sku.set", "closed", "10", "QUEUE", "0"})));
  EXPECT_TRUE(IsCode(Run({"sku.enter", "closed", "u"}), "FULL"));
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, TokensWorkOnceForTheirOwnUserAndSku) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10", "TOKENS", "yes"})));
  ASSERT_TRUE(IsOk(Run({"sku.set", "other", "10", "TOKENS", "yes"})));
  const std::string bad =
      "BADTOKEN a valid, unused token issued to this user for this SKU is required";
  EXPECT_TRUE(IsError(Run({"sku.enter", "s", "alice"}), bad));
  RespValue t = Run({"sku.token", "s", "alice"});
  ASSERT_EQ(t.type, Type::kBulk);
  EXPECT_EQ(t.str.size(), 32u);
  EXPECT_NE(Run({"sku.token", "s", "alice"}).str, t.str);                     // each token is new
  EXPECT_TRUE(IsError(Run({"sku.enter", "s", "bob", "TOKEN", t.str}), bad));  // not bob's
  EXPECT_TRUE(IsError(Run({"sku.enter", "other", "alice", "TOKEN", t.str}), bad));  // not this SKU
  EXPECT_TRUE(IsError(Run({"sku.enter", "s", "alice", "TOKEN", "guess"}), bad));
  EXPECT_TRUE(IsInt(Field(Run({"sku.enter", "s", "alice", "TOKEN", t.str}), "ticket"), 1));
  // Entering again returns the same admission; once she leaves, the token is spent.
  EXPECT_TRUE(IsInt(Field(Run({"sku.enter", "s", "alice", "TOKEN", t.str}), "ticket"), 1));
  Run({"sku.leave", "s", "alice"});
  EXPECT_TRUE(IsError(Run({"sku.enter", "s", "alice", "TOKEN", t.str}), bad));
  // Tokens expire.
  std::string short_lived = Run({"sku.token", "s", "bob", "TTL", "30"}).str;
  SleepMs(60);
  EXPECT_TRUE(IsError(Run({"sku.enter", "s", "bob", "TOKEN", short_lived}), bad));
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.token", "s", "bob", "TTL", "0"}), "ERR TTL must be"));
  EXPECT_TRUE(Consistent("s"));
}

TEST_F(SkuFamilyTest, TakeBlocksUntilSomeoneEnters) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  auto waiter = NewClient();
  waiter->Send({"sku.take", "s", "5", "BLOCK", "0"});
  ASSERT_TRUE(Eventually([&] {
    return Run({"info", "clients"}).str.find("blocked_clients:1\r") != std::string::npos;
  }));
  Run({"sku.enter", "s", "alice"});
  RespValue t = waiter->Read();
  ASSERT_EQ(t.elements.size(), 1u);
  EXPECT_TRUE(IsBulk(t.elements[0].elements[0], "alice"));
  // A timeout answers a null array, as BLPOP.
  EXPECT_TRUE(IsNull(waiter->Run({"sku.take", "s", "1", "BLOCK", "50"})));
  EXPECT_TRUE(IsError(Run({"sku.take", "s", "1", "WAIT", "5"}), "ERR syntax error"));
}

TEST_F(SkuFamilyTest, JournalPagesThroughEveryChangeInOrder) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  Run({"sku.reserve", "s", "o1", "2", "USER", "u"});
  Run({"sku.commit", "s", "o1"});
  Run({"sku.deduct", "s", "o2", "1"});
  Run({"sku.restock", "s", "5", "ID", "r1"});
  Run({"sku.enter", "s", "v"});
  Run({"sku.leave", "s", "v"});
  Run({"sku.reserve", "s", "o3", "1"});
  Run({"sku.cancel", "s", "o3"});
  RespValue all = Run({"sku.journal", "s"});
  ASSERT_EQ(all.elements.size(), 9u);
  std::vector<std::string> ops;
  for (size_t i = 0; i < all.elements.size(); ++i) {
    EXPECT_TRUE(IsInt(Field(all.elements[i], "id"), static_cast<int64_t>(i + 1)));
    ops.push_back(Field(all.elements[i], "op").str);
  }
  EXPECT_EQ(ops, (V{"set", "reserve", "commit", "deduct", "restock", "enter", "leave", "reserve",
                    "cancel"}));
  const RespValue& commit = all.elements[2];
  EXPECT_TRUE(IsBulk(Field(commit, "order"), "o1"));
  EXPECT_TRUE(IsBulk(Field(commit, "user"), "u"));
  EXPECT_TRUE(IsInt(Field(commit, "qty"), 2));
  EXPECT_TRUE(IsInt(Field(commit, "on_hand"), 8));
  EXPECT_TRUE(IsInt(Field(commit, "sold"), 2));
  EXPECT_TRUE(IsInt(Field(commit, "available"), 8));
  EXPECT_TRUE(IsBulk(Field(all.elements[4], "order"), "r1"));
  RespValue page = Run({"sku.journal", "s", "AFTER", "3", "COUNT", "2"});
  ASSERT_EQ(page.elements.size(), 2u);
  EXPECT_TRUE(IsInt(Field(page.elements[0], "id"), 4));
  EXPECT_TRUE(IsInt(Field(page.elements[1], "id"), 5));
  EXPECT_EQ(Run({"sku.journal", "s", "AFTER", "9"}).elements.size(), 0u);
  EXPECT_EQ(Run({"sku.journal", "s", "AFTER", "9223372036854775807"}).elements.size(), 0u);
  EXPECT_TRUE(IsErrorPrefix(Run({"sku.journal", "s", "AFTER", "-1"}), "ERR AFTER must be"));
}

TEST_F(SkuFamilyTest, HotListsTheBusiestSkusFirst) {
  for (const char* k : {"cold", "warm", "hot"}) ASSERT_TRUE(IsOk(Run({"sku.set", k, "1"})));
  for (int i = 0; i < 50; ++i) Run({"sku.get", "hot"});
  for (int i = 0; i < 10; ++i) Run({"sku.get", "warm"});
  RespValue h = Run({"sku.hot", "COUNT", "2"});
  ASSERT_EQ(h.elements.size(), 2u);
  EXPECT_TRUE(IsBulk(h.elements[0].elements[0], "hot"));
  EXPECT_TRUE(IsBulk(h.elements[1].elements[0], "warm"));
  EXPECT_GT(std::stod(h.elements[0].elements[1].str), std::stod(h.elements[1].elements[1].str));
  EXPECT_EQ(Run({"sku.hot"}).elements.size(), 3u);
  Run({"del", "hot"});
  EXPECT_TRUE(IsBulk(Run({"sku.hot", "COUNT", "1"}).elements[0].elements[0], "warm"));
}

TEST_F(SkuFamilyTest, Resp3RepliesAreMaps) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  Run({"hello", "3"});
  EXPECT_EQ(Run({"sku.get", "s"}).type, Type::kMap);
  EXPECT_EQ(Run({"sku.reserve", "s", "o", "1"}).type, Type::kMap);
  EXPECT_EQ(Run({"sku.enter", "s", "u"}).type, Type::kMap);
  EXPECT_EQ(Run({"sku.journal", "s"}).elements[0].type, Type::kMap);
  EXPECT_EQ(Run({"sku.hot"}).elements[0].elements[1].type, Type::kDouble);
}

TEST_F(SkuFamilyTest, RenamedSkuKeepsExpiringOnTime) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "{x}old", "10", "TTL", "100"})));
  Run({"sku.reserve", "{x}old", "o1", "1"});
  ASSERT_TRUE(IsOk(Run({"rename", "{x}old", "new"})));
  ASSERT_TRUE(Eventually([&] { return Counter("new", "reserved") == 0; }));
  EXPECT_EQ(State("new", "o1"), "expired");
}

TEST_F(SkuFamilyTest, WatchSeesInventoryChanges) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "s", "10"})));
  Run({"watch", "s"});
  client2().Run({"sku.reserve", "s", "o1", "1"});
  Run({"multi"});
  Run({"sku.get", "s"});
  EXPECT_TRUE(IsNull(Run({"exec"})));
  // A retry changes nothing, so it does not abort a transaction.
  Run({"watch", "s"});
  client2().Run({"sku.reserve", "s", "o1", "1"});
  Run({"multi"});
  Run({"sku.get", "s"});
  EXPECT_EQ(Run({"exec"}).elements.size(), 1u);
}

TEST_F(SkuFamilyTest, CommandInfoDescribesTheFamily) {
  RespValue info = Run({"command", "info", "sku.reserve"});
  ASSERT_EQ(info.elements.size(), 1u);
  EXPECT_TRUE(IsBulk(info.elements[0].elements[0], "sku.reserve"));
  EXPECT_TRUE(IsInt(info.elements[0].elements[1], -4));
}

}  // namespace
}  // namespace stockd::testing
