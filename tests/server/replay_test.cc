// Recovery's parallel replay (server/replay.h): a log that mixes every kind of record, single-shard
// runs long enough to reach the per-shard workers and barriers between them, must bring back
// exactly the state the server had before the restart.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/server/wal_fixture.h"

namespace stockd::testing {
namespace {

class ReplayTest : public WalWiringTest {
 protected:
  static constexpr int kKeys = 64;  // keys per type: spread over every shard

  // Sends `commands` pipelined, in chunks, and reads every reply.
  void RunAll(const std::vector<std::vector<std::string>>& commands) {
    constexpr size_t kChunk = 256;
    for (size_t i = 0; i < commands.size(); i += kChunk) {
      size_t end = std::min(commands.size(), i + kChunk);
      std::string out;
      for (size_t j = i; j < end; ++j) out += TestClient::Encode(commands[j]);
      client().SendRaw(out);
      for (size_t j = i; j < end; ++j) client().Read();
    }
  }

  std::string Key(const char* type, int i) { return std::string(type) + ":" + std::to_string(i); }

  // One random write to a single key (one shard): strings, hashes, lists, sets, sorted sets, SKUs.
  std::vector<std::string> SingleKeyWrite() {
    int i = static_cast<int>(rng_() % kKeys);
    std::string n = std::to_string(rng_() % 1000);
    switch (rng_() % 14) {
      case 0:
        return {"set", Key("s", i), "v" + n};
      case 1:
        return {"incrby", Key("n", i), n};
      case 2:
        return {"append", Key("s", i), n};
      case 3:
        return {"hset", Key("h", i), "f" + std::to_string(rng_() % 8), n};
      case 4:
        return {"hincrby", Key("h", i), "c", n};
      case 5:
        return {"rpush", Key("l", i), n, "x" + n};
      case 6:
        return {"lpop", Key("l", i)};
      case 7:
        return {"sadd", Key("set", i), n};
      case 8:
        return {"zadd", Key("z", i), n, "m" + std::to_string(rng_() % 16)};
      case 9:
        // Expiries: one far ahead (survives), one already due when replayed after the next
        // writes' clocks (replay decides with the records' clocks, as the live server did).
        return rng_() % 2 ? std::vector<std::string>{"pexpire", Key("s", i), "3600000"}
                          : std::vector<std::string>{"set", Key("t", i), n, "PX", "1"};
      case 10:
        return {"sku.restock", Key("sku", i), "5", "ID", "r" + std::to_string(next_order_++)};
      case 11:
      case 12: {
        std::string order = "o" + std::to_string(next_order_++);
        open_.push_back({Key("sku", i), order});
        return {rng_() % 4 ? "sku.reserve" : "sku.deduct", Key("sku", i), order,
                std::to_string(1 + rng_() % 3)};
      }
      default: {
        if (open_.empty()) return {"sku.reserve", Key("sku", i), "o-none", "1"};
        auto [sku, order] = open_.front();
        open_.erase(open_.begin());
        return {rng_() % 4 ? "sku.commit" : "sku.cancel", sku, order};
      }
    }
  }

  // Records that touch several shards or global state: replay applies them alone.
  std::vector<std::vector<std::string>> Barrier() {
    int i = static_cast<int>(rng_() % kKeys), j = static_cast<int>(rng_() % kKeys);
    switch (rng_() % 5) {
      case 0:
        return {{"mset", Key("s", i), "m1", Key("s", j), "m2", Key("n", j), "7"}};
      case 1:
        return {{"del", Key("h", i), Key("l", j), Key("s", j)}};
      case 2:
        return {{"lmove", Key("l", i), Key("l", j), "LEFT", "RIGHT"}};
      case 3:
        return {{"multi"}, SingleKeyWrite(), SingleKeyWrite(), {"incr", Key("n", j)}, {"exec"}};
      default:
        return {{"sku.mreserve", "m" + std::to_string(next_order_++), Key("sku", i), "1",
                 Key("sku", (i + 1) % kKeys), "1"}};
    }
  }

  // Every key of databases 0 and 1, as reads show it.
  std::vector<std::string> State() {
    std::vector<std::string> out;
    for (const char* db : {"1", "0"}) {
      Run({"select", db});
      std::vector<std::string> keys = Strs(Run({"keys", "*"}));
      std::sort(keys.begin(), keys.end());
      for (const std::string& k : keys) {
        std::string type = Run({"type", k}).str;
        out.push_back(k + " " + type + " " + Run({"pexpiretime", k}).ToString());
        if (type == "string") {
          out.push_back(Run({"get", k}).ToString());
        } else if (type == "hash") {
          std::vector<std::string> fields = Strs(Run({"hgetall", k}));
          out.push_back(std::to_string(fields.size()));
          for (size_t f = 0; f + 1 < fields.size(); f += 2) {
            out.push_back(fields[f] + "=" + Run({"hget", k, fields[f]}).ToString());
          }
        } else if (type == "list") {
          out.push_back(Run({"lrange", k, "0", "-1"}).ToString());
        } else if (type == "set") {
          std::vector<std::string> members = Strs(Run({"smembers", k}));
          std::sort(members.begin(), members.end());
          for (const std::string& m : members) out.push_back(m);
        } else if (type == "zset") {
          out.push_back(Run({"zrange", k, "0", "-1", "WITHSCORES"}).ToString());
        } else if (type == "sku") {
          out.push_back(Run({"sku.get", k}).ToString());
          out.push_back(Run({"sku.journal", k, "COUNT", "10000"}).ToString());
          out.push_back(Run({"sku.check", k}).ToString());
        }
      }
    }
    return out;
  }

  std::mt19937_64 rng_{20261121};
  uint64_t next_order_ = 0;
  std::vector<std::pair<std::string, std::string>> open_;  // (sku, order) reserved, not ended
};

TEST_F(ReplayTest, MixedLogAcrossShardsReplaysToTheSameState) {
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < kKeys; ++i) {
    commands.push_back({"sku.set", Key("sku", i), "100000", "SAFETY", "2", "TTL", "3600000"});
  }
  // Runs of single-shard records long enough to fill the workers' batches, then stretches dense
  // with barriers, then a FLUSHDB of another database and a FLUSHDB of this one with writes
  // after it.
  auto single = [&](int count) {
    for (int i = 0; i < count; ++i) commands.push_back(SingleKeyWrite());
  };
  auto mixed = [&](int count) {
    for (int i = 0; i < count; ++i) {
      if (rng_() % 8 == 0) {
        for (auto& c : Barrier()) commands.push_back(c);
      } else {
        commands.push_back(SingleKeyWrite());
      }
    }
  };
  single(4000);
  mixed(1500);
  commands.push_back({"select", "1"});
  single(1500);
  commands.push_back({"flushdb"});
  single(600);
  commands.push_back({"select", "0"});
  single(3000);
  commands.push_back({"flushdb"});
  for (int i = 0; i < kKeys; ++i) {
    commands.push_back({"sku.set", Key("sku", i), "100000", "TTL", "3600000"});
  }
  open_.clear();
  single(3000);
  mixed(2000);
  single(2000);
  RunAll(commands);

  std::vector<std::string> before = State();
  ASSERT_GT(before.size(), 500u);
  Restart();
  std::vector<std::string> after = State();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) ASSERT_EQ(before[i], after[i]) << "line " << i;
}

TEST_F(ReplayTest, ReplayedCommandsDoNotCountAsHot) {
  ASSERT_TRUE(IsOk(Run({"sku.set", "hot", "100"})));
  for (int i = 0; i < 20; ++i) {
    ASSERT_NE(Run({"sku.reserve", "hot", "o" + std::to_string(i), "1"}).type,
              RespValue::Type::kError);
  }
  ASSERT_EQ(Run({"sku.hot"}).elements.size(), 1u);
  Restart();
  // SKU.HOT describes live traffic: a restart starts it afresh.
  EXPECT_EQ(Run({"sku.hot"}).elements.size(), 0u);
  RespValue got = Run({"sku.get", "hot"});  // the writes themselves are back
  ASSERT_EQ(got.elements[4].str, "reserved");
  EXPECT_TRUE(IsInt(got.elements[5], 20));
  ASSERT_NE(Run({"sku.reserve", "hot", "o-live", "1"}).type, RespValue::Type::kError);
  EXPECT_EQ(Run({"sku.hot"}).elements.size(), 1u);
}

}  // namespace
}  // namespace stockd::testing
