// Snapshots: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, the automatic trigger, and recovery from the
// newest snapshot plus the log after it (docs/durability.md).
#include "storage/snapshot.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "storage/wal.h"
#include "storage/wal_record.h"
#include "tests/server/wal_fixture.h"

namespace stockd::testing {
namespace {

class SnapshotTest : public WalWiringTest {
 protected:
  // The value of one INFO persistence field.
  std::string Info(const std::string& field) {
    std::string info = Run({"info", "persistence"}).str;
    size_t at = info.find(field + ":");
    if (at == std::string::npos) return "(missing)";
    at += field.size() + 1;
    return info.substr(at, info.find("\r\n", at) - at);
  }
  // Waits for a background snapshot to finish.
  void WaitForSnapshot() {
    for (int i = 0; i < 500 && Info("rdb_bgsave_in_progress") != "0"; ++i) SleepMs(10);
    ASSERT_EQ(Info("rdb_bgsave_in_progress"), "0");
  }
  // One key of every type, a TTL and a SKU with orders in several states.
  void WriteOneOfEach(const std::string& p) {
    ASSERT_TRUE(IsOk(Run({"set", p + "s", "hello"})));
    ASSERT_TRUE(IsInt(Run({"incrby", p + "n", "-7"}), -7));
    ASSERT_TRUE(IsInt(Run({"rpush", p + "l", "a", "b", "c"}), 3));
    ASSERT_TRUE(IsInt(Run({"hset", p + "h", "f", "v", "g", "w"}), 2));
    ASSERT_TRUE(IsInt(Run({"sadd", p + "set", "x", "y"}), 2));
    ASSERT_TRUE(IsInt(Run({"zadd", p + "z", "1.5", "m", "-inf", "low"}), 2));
    ASSERT_TRUE(IsOk(Run({"set", p + "ttl", "v", "PX", "3600000"})));
    ASSERT_TRUE(IsOk(Run({"sku.set", p + "sku", "100", "LIMIT", "5"})));
    ASSERT_NE(Run({"sku.reserve", p + "sku", "o1", "2", "USER", "u1"}).type,
              RespValue::Type::kError);
    ASSERT_NE(Run({"sku.reserve", p + "sku", "o2", "3", "USER", "u2", "TTL", "50"}).type,
              RespValue::Type::kError);
    ASSERT_NE(Run({"sku.commit", p + "sku", "o1"}).type, RespValue::Type::kError);
    ASSERT_NE(Run({"sku.enter", p + "sku", "u3"}).type, RespValue::Type::kError);
  }
  // Everything WriteOneOfEach wrote, as the server shows it now.
  std::vector<std::string> Show(const std::string& p) {
    return {Run({"get", p + "s"}).ToString(),
            Run({"get", p + "n"}).ToString(),
            Run({"lrange", p + "l", "0", "-1"}).ToString(),
            Run({"hgetall", p + "h"}).ToString(),
            Run({"smembers", p + "set"}).ToString(),
            Run({"zrange", p + "z", "0", "-1", "WITHSCORES"}).ToString(),
            Run({"pexpiretime", p + "ttl"}).ToString(),
            Run({"sku.get", p + "sku"}).ToString(),
            Run({"sku.order", p + "sku", "o1"}).ToString(),
            Run({"sku.journal", p + "sku"}).ToString()};
  }
};

TEST_F(SnapshotTest, RestartLoadsTheSnapshotAndReplaysOnlyTheLogAfterIt) {
  WriteOneOfEach("a:");
  EXPECT_TRUE(IsOk(Run({"select", "5"})));
  EXPECT_TRUE(IsOk(Run({"set", "in5", "five"})));
  EXPECT_TRUE(IsOk(Run({"select", "0"})));
  const std::string lsn = Info("wal_durable_lsn");
  EXPECT_TRUE(IsOk(Run({"save"})));
  EXPECT_EQ(Info("snapshot_lsn"), lsn);
  EXPECT_EQ(Info("rdb_saves"), "1");
  EXPECT_EQ(Info("rdb_changes_since_last_save"), "0");
  // The reservation with a 50 ms TTL expires after the snapshot, while the server is down.
  WriteOneOfEach("b:");
  SleepMs(100);
  std::vector<std::string> a = Show("a:"), b = Show("b:");
  Restart();
  EXPECT_EQ(Info("recovery_snapshot_lsn"), lsn);
  EXPECT_EQ(Info("recovery_snapshot_keys"), "9");  // 8 in db 0, one in db 5
  // Only b:'s records were replayed (12, one per write; the expiry of o2 happened meanwhile).
  const int replayed = std::stoi(Info("recovery_replayed_records"));
  EXPECT_GE(replayed, 12);
  EXPECT_LE(replayed, 14);  // plus a deadline sweep or two, if the timer ran before the restart
  // Give the deadline timer a moment to expire what was due while the server was down.
  SleepMs(50);
  std::vector<std::string> a2 = Show("a:"), b2 = Show("b:");
  // SKU reads show expiry once the timer has run; everything else is as it was.
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a2[i], a[i]) << i;
    EXPECT_EQ(b2[i], b[i]) << i;
  }
  EXPECT_TRUE(IsOk(Run({"select", "5"})));
  EXPECT_TRUE(IsBulk(Run({"get", "in5"}), "five"));
  EXPECT_TRUE(IsOk(Run({"select", "0"})));
  RespValue check = Run({"sku.check", "a:sku"});
  EXPECT_NE(check.type, RespValue::Type::kError) << check.ToString();
  // Writes continue, and a second restart (snapshot + a longer tail) agrees.
  EXPECT_TRUE(IsInt(Run({"incr", "a:n"}), -6));
  Restart();
  EXPECT_TRUE(IsBulk(Run({"get", "a:n"}), "-6"));
  EXPECT_EQ(Show("b:"), b2);
}

TEST_F(SnapshotTest, RecoveredReservationsExpireOnTheShardTimers) {
  // Recovery files deadlines (once the log is replayed) before the shard threads run;
  // Engine::Start sets the timers. One reservation comes from the snapshot, one from the log
  // after it, on SKUs of both shards, and one SKU was renamed in the log.
  auto state = [&](const std::string& sku, const std::string& order) {
    RespValue v = Run({"sku.order", sku, order});
    for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
      if (v.elements[i].str == "state") return v.elements[i + 1].str;
    }
    return v.ToString();
  };
  auto eventually_expired = [&](const std::string& sku, const std::string& order) {
    for (int i = 0; i < 400; ++i) {  // up to 2 s
      if (state(sku, order) == "expired") return true;
      SleepMs(5);
    }
    return false;
  };
  const std::vector<std::string> skus = {"sku:a", "sku:b", "sku:c", "sku:d"};
  for (const std::string& sku : skus) {
    ASSERT_TRUE(IsOk(Run({"sku.set", sku, "10", "TTL", "400"})));
  }
  for (size_t i = 0; i < skus.size(); ++i) {
    if (i == skus.size() / 2) {
      ASSERT_TRUE(IsOk(Run({"save"})));
    }
    RespValue r = Run({"sku.reserve", skus[i], "o1", "1"});
    ASSERT_NE(r.type, RespValue::Type::kError) << r.ToString();
  }
  ASSERT_TRUE(IsOk(Run({"sku.set", "sku:e", "10", "TTL", "400"})));
  ASSERT_NE(Run({"sku.reserve", "sku:e", "o1", "1"}).type, RespValue::Type::kError);
  ASSERT_TRUE(IsOk(Run({"rename", "sku:e", "sku:renamed"})));
  Restart();
  EXPECT_EQ(Info("recovery_snapshot_keys"), "4");
  // Nothing touches the SKUs: only the timers can expire the orders.
  for (const char* sku : {"sku:a", "sku:b", "sku:c", "sku:d", "sku:renamed"}) {
    EXPECT_TRUE(eventually_expired(sku, "o1")) << sku;
  }
}

TEST_F(SnapshotTest, DebugDigestIsTheSameAfterReplayAndAfterASnapshot) {
  // Every type, in both encodings where there are two, and SKUs with every kind of state; no
  // deadline falls due during the test, so nothing changes by itself.
  ASSERT_TRUE(IsOk(Run({"set", "s", "hello"})));
  ASSERT_TRUE(IsInt(Run({"incrby", "n", "-7"}), -7));
  ASSERT_TRUE(IsInt(Run({"rpush", "l", "a", "b", "c"}), 3));
  ASSERT_TRUE(IsOk(Run({"set", "ttl", "v", "PX", "3600000"})));
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(IsInt(Run({"hset", i < 5 ? "hsmall" : "hbig", "f" + n, "v" + n}), 1));
    ASSERT_TRUE(IsInt(Run({"sadd", i < 5 ? "ssmall" : "sbig", "m" + n}), 1));
    ASSERT_TRUE(IsInt(Run({"sadd", "ints", n}), 1));
    ASSERT_TRUE(IsInt(Run({"zadd", i < 5 ? "zsmall" : "zbig", n, "m" + n}), 1));
  }
  ASSERT_TRUE(IsOk(Run({"sku.set", "sku:a", "100", "LIMIT", "50", "TTL", "3600000"})));
  ASSERT_TRUE(IsOk(Run({"sku.set", "sku:t", "10", "TOKENS", "yes"})));
  for (int i = 0; i < 40; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_NE(Run({"sku.reserve", "sku:a", "o" + n, "1", "USER", "u" + std::to_string(i % 7)}).type,
              RespValue::Type::kError);
    if (i % 3 == 0) {
      ASSERT_NE(Run({"sku.commit", "sku:a", "o" + n}).type, RespValue::Type::kError);
    } else if (i % 5 == 1) {
      ASSERT_NE(Run({"sku.cancel", "sku:a", "o" + n}).type, RespValue::Type::kError);
    }
  }
  RespValue d = Run({"sku.deduct", "sku:a", "d1", "2", "USER", "u9"});
  ASSERT_NE(d.type, RespValue::Type::kError) << d.ToString();
  ASSERT_EQ(Run({"sku.restock", "sku:a", "5", "ID", "r1"}).type, RespValue::Type::kInteger);
  ASSERT_NE(Run({"sku.enter", "sku:a", "e1"}).type, RespValue::Type::kError);
  ASSERT_NE(Run({"sku.enter", "sku:a", "e2"}).type, RespValue::Type::kError);
  ASSERT_NE(Run({"sku.take", "sku:a", "1"}).type, RespValue::Type::kError);
  RespValue token = Run({"sku.token", "sku:t", "alice"});
  ASSERT_EQ(token.type, RespValue::Type::kBulk) << token.ToString();
  ASSERT_EQ(Run({"sku.token", "sku:t", "bob"}).type, RespValue::Type::kBulk);
  ASSERT_NE(Run({"sku.enter", "sku:t", "alice", "TOKEN", token.str}).type, RespValue::Type::kError);
  ASSERT_TRUE(IsOk(Run({"select", "3"})));
  ASSERT_TRUE(IsOk(Run({"set", "s", "in db 3"})));
  ASSERT_TRUE(IsOk(Run({"select", "0"})));

  const RespValue digest = Run({"debug", "digest"});
  ASSERT_EQ(digest.type, RespValue::Type::kBulk);
  ASSERT_EQ(digest.str.size(), 40u);
  ASSERT_NE(digest.str, std::string(40, '0'));
  Restart();  // the log alone
  EXPECT_EQ(Run({"debug", "digest"}).str, digest.str);
  ASSERT_TRUE(IsOk(Run({"save"})));
  Restart();  // the snapshot alone
  EXPECT_EQ(Info("recovery_replayed_records"), "0");
  EXPECT_EQ(Run({"debug", "digest"}).str, digest.str);
  // And it sees a change anywhere: a hash field, an order's state, a TTL.
  ASSERT_TRUE(IsInt(Run({"hset", "hbig", "f7", "changed"}), 0));
  const std::string changed = Run({"debug", "digest"}).str;
  EXPECT_NE(changed, digest.str);
  ASSERT_TRUE(IsInt(Run({"hset", "hbig", "f7", "v7"}), 0));
  EXPECT_EQ(Run({"debug", "digest"}).str, digest.str);
  ASSERT_NE(Run({"sku.commit", "sku:a", "o2"}).type, RespValue::Type::kError);
  EXPECT_NE(Run({"debug", "digest"}).str, digest.str);
}

TEST_F(SnapshotTest, TheLogBeforeTheSnapshotIsTrimmed) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(IsInt(Run({"incr", "n"}), i + 1));
  EXPECT_TRUE(IsOk(Run({"save"})));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(IsInt(Run({"incr", "n"}), 51 + i));
  Stop();
  {
    // Count what is left in the log: the snapshot's own LSN (kept so the log knows where LSNs
    // continue) and the three after it.
    RawDb raw(config_.WalDir());
    ASSERT_TRUE(raw.ok());
    std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator({}, raw.wal()));
    std::vector<uint64_t> lsns;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      lsns.push_back(*storage::DecodeLsnKey(std::string_view(it->key().data(), 8)));
    }
    EXPECT_EQ(lsns, (std::vector<uint64_t>{50, 51, 52, 53}));
  }
  std::string error;
  ASSERT_TRUE(TryStart(nullptr, &error)) << error;
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "53"));
  EXPECT_EQ(Info("recovery_replayed_records"), "3");
}

TEST_F(SnapshotTest, BgsaveRunsInTheBackgroundAndLastsaveMoves) {
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(IsInt(Run({"hset", "h" + std::to_string(i % 10), std::to_string(i), "v"}), 1));
  }
  const int64_t before = Run({"lastsave"}).integer;
  EXPECT_GT(before, 0);
  SleepMs(1100);  // LASTSAVE has a resolution of one second
  RespValue r = Run({"bgsave"});
  EXPECT_EQ(r.type, RespValue::Type::kSimpleString);
  EXPECT_EQ(r.str, "Background saving started");
  // Writes go on while it is written.
  EXPECT_TRUE(IsInt(Run({"incr", "during"}), 1));
  WaitForSnapshot();
  EXPECT_EQ(Info("rdb_last_bgsave_status"), "ok");
  EXPECT_GT(Run({"lastsave"}).integer, before);
  EXPECT_EQ(Info("snapshot_keys"), "10");
  r = Run({"bgrewriteaof"});
  EXPECT_TRUE(r.str == "Background append only file rewriting started" ||
              r.str == "Background append only file rewriting scheduled")
      << r.ToString();
  WaitForSnapshot();
  EXPECT_TRUE(IsErrorPrefix(Run({"bgsave", "now"}), "ERR syntax error"));
  Restart();
  EXPECT_TRUE(IsInt(Run({"hlen", "h3"}), 100));
  EXPECT_TRUE(IsBulk(Run({"get", "during"}), "1"));
}

TEST_F(SnapshotTest, TheLogGrowingPastTheThresholdTakesASnapshot) {
  EXPECT_TRUE(IsOk(Run({"config", "set", "auto-aof-rewrite-min-size", "4kb"})));
  EXPECT_TRUE(IsOk(Run({"config", "set", "auto-aof-rewrite-percentage", "100"})));
  EXPECT_EQ(Info("rdb_saves"), "0");
  // ~60 bytes per record: 4 KiB after ~70 writes.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(IsOk(Run({"set", "k" + std::to_string(i), "v"})));
  for (int i = 0; i < 100 && Info("rdb_saves") == "0"; ++i) SleepMs(20);
  EXPECT_NE(Info("rdb_saves"), "0");
  WaitForSnapshot();
  // Disabled: no more.
  EXPECT_TRUE(IsOk(Run({"config", "set", "auto-aof-rewrite-percentage", "0"})));
  const std::string saves = Info("rdb_saves");
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(IsOk(Run({"set", "j" + std::to_string(i), "v"})));
  SleepMs(300);
  EXPECT_EQ(Info("rdb_saves"), saves);
  Restart();
  EXPECT_TRUE(IsBulk(Run({"get", "k199"}), "v"));
  EXPECT_TRUE(IsBulk(Run({"get", "j199"}), "v"));
}

TEST_F(SnapshotTest, ADamagedSnapshotRefusesStartupSayingWhere) {
  WriteOneOfEach("a:");
  EXPECT_TRUE(IsOk(Run({"save"})));
  const std::string lsn = Info("snapshot_lsn");
  Stop();
  {
    // Flip a byte in the first chunk behind stockd's back (a new version of the key: RocksDB's
    // own checksums stay valid, stockd's must catch it).
    RawDb raw(config_.WalDir());
    ASSERT_TRUE(raw.ok());
    std::string key = storage::EncodeLsnKey(std::stoull(lsn)) + storage::EncodeLsnKey(1);
    std::string value;
    ASSERT_TRUE(raw.db()->Get({}, raw.snapshot(), key, &value).ok());
    value[value.size() / 2] ^= 0x20;
    ASSERT_TRUE(raw.db()->Put({}, raw.snapshot(), key, value).ok());
  }
  std::string error;
  EXPECT_FALSE(TryStart(nullptr, &error));
  EXPECT_NE(error.find("Can't load the snapshot"), std::string::npos) << error;
  EXPECT_NE(error.find("LSN " + lsn + ": chunk 1 is damaged"), std::string::npos) << error;
  server_.reset();
  config_.appendonly = false;  // TearDown expects a running server
  ASSERT_TRUE(TryStart(nullptr, &error)) << error;
}

class SnapshotWithoutWalTest : public ServerTest {};

TEST_F(SnapshotWithoutWalTest, SnapshotsNeedTheLog) {
  EXPECT_TRUE(IsErrorPrefix(Run({"save"}), "ERR snapshots are kept with the write-ahead log"));
  EXPECT_TRUE(IsErrorPrefix(Run({"bgsave"}), "ERR snapshots are kept with the write-ahead log"));
  EXPECT_GT(Run({"lastsave"}).integer, 0);
  std::string info = Run({"info", "persistence"}).str;
  EXPECT_NE(info.find("rdb_bgsave_in_progress:0"), std::string::npos) << info;
}

}  // namespace
}  // namespace stockd::testing
