// The WAL wired into the server: writes are logged by dispatch, replies to writes wait for
// durability (appendfsync always), and a restart on the same directory replays the log.
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>

#include "storage/wal.h"
#include "storage/wal_record.h"
#include "tests/server/test_server.h"
#include "tests/storage/fault_fs.h"

namespace stockd::testing {
namespace {

class WalWiringTest : public ServerTest {
 protected:
  void Configure(server::Config& c) override {
    c.appendonly = true;
    c.dir = TempDir();
  }
  // Stops the server (a clean shutdown) and starts a new one on the same configuration and
  // directory, so everything it knows comes from the log.
  void Restart(rocksdb::Env* env = nullptr) {
    std::string error;
    ASSERT_TRUE(TryRestart(env, &error)) << error;
  }
  bool TryRestart(rocksdb::Env* env, std::string* error) {
    client_.reset();
    client2_.reset();
    server_->RequestShutdown("restart");
    server_->WaitForShutdown();
    server_.reset();
    config_.port = 0;
    server_ = std::make_unique<server::Server>(&config_);
    server_->set_wal_env(env);
    if (!server_->Start(error)) return false;
    client_ = std::make_unique<TestClient>(server_->port());
    return true;
  }
};

TEST_F(WalWiringTest, WritesSurviveARestart) {
  EXPECT_TRUE(IsInt(Run({"incr", "counter"}), 1));
  EXPECT_TRUE(IsInt(Run({"incrby", "counter", "41"}), 42));
  EXPECT_TRUE(IsInt(Run({"hset", "h", "a", "1", "b", "2"}), 2));
  EXPECT_TRUE(IsOk(Run({"mset", "x", "1", "y", "2"})));
  EXPECT_TRUE(IsOk(Run({"select", "3"})));
  EXPECT_TRUE(IsOk(Run({"set", "in3", "v"})));
  EXPECT_TRUE(IsInt(Run({"del", "missing"}), 0));  // changes nothing: no record
  std::string info = Run({"info", "persistence"}).str;
  EXPECT_NE(info.find("aof_enabled:1"), std::string::npos) << info;
  EXPECT_NE(info.find("wal_durable_lsn:5\r\n"), std::string::npos) << info;
  // The group-commit figures bench/durable reports.
  for (const char* field : {"wal_batches:", "wal_records:5\r\n", "wal_batch_records_max:",
                            "wal_syncs:", "wal_sync_us_sum:", "wal_sync_us_max:",
                            "wal_sync_p50_us:", "wal_sync_p99_us:"}) {
    EXPECT_NE(info.find(field), std::string::npos) << field << "\n" << info;
  }
  Restart();
  EXPECT_TRUE(IsBulk(Run({"get", "counter"}), "42"));
  EXPECT_TRUE(IsBulk(Run({"hget", "h", "b"}), "2"));
  EXPECT_TRUE(IsBulk(Run({"get", "y"}), "2"));
  EXPECT_TRUE(IsNull(Run({"get", "in3"})));
  EXPECT_TRUE(IsOk(Run({"select", "3"})));
  EXPECT_TRUE(IsBulk(Run({"get", "in3"}), "v"));
  // Appends continue after the replayed log.
  EXPECT_TRUE(IsOk(Run({"select", "0"})));
  EXPECT_TRUE(IsInt(Run({"incr", "counter"}), 43));
  Restart();
  EXPECT_TRUE(IsBulk(Run({"get", "counter"}), "43"));
}

TEST_F(WalWiringTest, PipelinedWritesAcrossShardsAreAllDurableWhenAnswered) {
  std::string pipeline;
  constexpr int kCommands = 200;
  for (int i = 0; i < kCommands; ++i) {
    pipeline += TestClient::Encode({"incr", "k" + std::to_string(i % 17)});
  }
  client().SendRaw(pipeline);
  for (int i = 0; i < kCommands; ++i) ASSERT_EQ(client().Read().type, RespValue::Type::kInteger);
  // Every answered write is durable.
  EXPECT_EQ(server().engine().wal()->durable_lsn(), static_cast<uint64_t>(kCommands));
  Restart();
  int64_t sum = 0;
  for (int i = 0; i < 17; ++i) sum += std::stoll(Run({"get", "k" + std::to_string(i)}).str);
  EXPECT_EQ(sum, kCommands);
}

TEST_F(WalWiringTest, SkuStateSurvivesARestart) {
  EXPECT_TRUE(IsOk(Run({"sku.set", "sku:1", "10"})));
  RespValue r = Run({"sku.reserve", "sku:1", "o1", "3"});
  ASSERT_NE(r.type, RespValue::Type::kError) << r.ToString();
  r = Run({"sku.commit", "sku:1", "o1"});
  ASSERT_NE(r.type, RespValue::Type::kError) << r.ToString();
  r = Run({"sku.reserve", "sku:1", "o2", "2"});
  ASSERT_NE(r.type, RespValue::Type::kError) << r.ToString();
  std::string before = Run({"sku.get", "sku:1"}).ToString();
  Restart();
  EXPECT_EQ(Run({"sku.get", "sku:1"}).ToString(), before);
  r = Run({"sku.check", "sku:1"});
  EXPECT_NE(r.type, RespValue::Type::kError) << r.ToString();
}

TEST_F(WalWiringTest, SPopIsLoggedAsTheMembersItChose) {
  std::vector<std::string> sadd = {"sadd", "s"};
  constexpr int kMembers = 3000;
  for (int i = 0; i < kMembers; ++i) sadd.push_back("m" + std::to_string(i));
  EXPECT_TRUE(IsInt(Run(sadd), kMembers));
  EXPECT_EQ(Run({"spop", "s"}).type, RespValue::Type::kBulk);
  EXPECT_EQ(Run({"spop", "s", "2500"}).elements.size(), 2500u);  // three SREM records
  RespValue before = Run({"smembers", "s"});
  ASSERT_EQ(before.elements.size(), static_cast<size_t>(kMembers - 2501));
  Restart();
  RespValue after = Run({"smembers", "s"});
  std::vector<std::string> a = Strs(before), b = Strs(after);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
}

TEST_F(WalWiringTest, BlockedClientServesAreLoggedAsTheirEffect) {
  client().Send({"blpop", "list", "0"});
  auto zpop = NewClient();
  zpop->Send({"bzpopmin", "z", "0"});
  SleepMs(50);  // both block
  EXPECT_TRUE(IsInt(client2().Run({"rpush", "list", "a", "b"}), 2));
  EXPECT_TRUE(IsInt(client2().Run({"zadd", "z", "1", "x", "2", "y"}), 2));
  EXPECT_EQ(Strs(client().Read()), (std::vector<std::string>{"list", "a"}));
  EXPECT_EQ(zpop->Read().elements.size(), 3u);
  zpop.reset();
  Restart();
  EXPECT_EQ(Strs(Run({"lrange", "list", "0", "-1"})), std::vector<std::string>{"b"});
  EXPECT_EQ(Strs(Run({"zrange", "z", "0", "-1"})), std::vector<std::string>{"y"});
}

TEST_F(WalWiringTest, SkuTokenIsLoggedWithTheTokenItChose) {
  EXPECT_TRUE(IsOk(Run({"sku.set", "t:1", "5", "QUEUE", "10", "TOKENS", "yes"})));
  RespValue token = Run({"sku.token", "t:1", "alice", "TTL", "60000"});
  ASSERT_EQ(token.type, RespValue::Type::kBulk) << token.ToString();
  // The internal VALUE form is recovery's, never a client's.
  EXPECT_TRUE(IsError(Run({"sku.token", "t:1", "bob", "VALUE", "abc"}), "ERR syntax error"));
  Restart();
  // The token issued before the restart admits alice after it.
  RespValue enter = Run({"sku.enter", "t:1", "alice", "TOKEN", token.str});
  EXPECT_NE(enter.type, RespValue::Type::kError) << enter.ToString();
}

TEST_F(WalWiringTest, TransactionsAreLoggedAsOneGroupAndAnUnfinishedOneIsCut) {
  EXPECT_TRUE(IsOk(Run({"multi"})));
  Run({"incr", "a"});
  Run({"set", "b", "1"});
  Run({"get", "a"});
  EXPECT_EQ(Run({"exec"}).elements.size(), 3u);
  // MULTI, INCR, SET, EXEC.
  EXPECT_EQ(server().engine().wal()->durable_lsn(), 4u);
  client_.reset();
  server_->RequestShutdown("torn");
  server_->WaitForShutdown();
  server_.reset();
  {
    // A crash in the middle of writing a group: MULTI and one command, no EXEC.
    rocksdb::DBOptions o;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {std::string(storage::kWalColumnFamily), {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, config_.WalDir(), cfs, &handles, &db).ok());
    const std::string_view multi[] = {"MULTI"}, set[] = {"SET", "torn", "1"};
    ASSERT_TRUE(db->Put({}, handles[1], storage::EncodeLsnKey(5),
                        *storage::EncodeCommandRecord(0, 0, multi))
                    .ok());
    ASSERT_TRUE(
        db->Put({}, handles[1], storage::EncodeLsnKey(6), *storage::EncodeCommandRecord(0, 0, set))
            .ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  config_.port = 0;
  server_ = std::make_unique<server::Server>(&config_);
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  client_ = std::make_unique<TestClient>(server_->port());
  EXPECT_TRUE(IsBulk(Run({"get", "a"}), "1"));
  EXPECT_TRUE(IsBulk(Run({"get", "b"}), "1"));
  EXPECT_TRUE(IsNull(Run({"get", "torn"})));
  EXPECT_TRUE(IsInt(Run({"incr", "a"}), 2));
  EXPECT_EQ(server().engine().wal()->durable_lsn(), 5u);  // appends continue where the cut was
}

TEST_F(WalWiringTest, FailedWalRefusesWritesServesReadsAndDropsUndurableReplies) {
  auto fs = std::make_shared<FaultFs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  Restart(env.get());
  EXPECT_TRUE(IsOk(Run({"set", "k", "before"})));
  fs->FailSyncs();
  // This write applied in memory, but its record never became durable: the client must not be
  // told OK. It is closed instead.
  client().Send({"set", "k", "lost"});
  EXPECT_TRUE(client().IsClosed());
  auto c = NewClient();
  RespValue r = c->Run({"set", "k", "refused"});
  EXPECT_TRUE(IsErrorPrefix(r, "MISCONF Errors writing to the WAL: ")) << r.ToString();
  EXPECT_NE(r.str.find("Writes are refused; reads are served."), std::string::npos) << r.str;
  EXPECT_EQ(c->Run({"get", "k"}).type, RespValue::Type::kBulk);  // reads still served
  EXPECT_TRUE(IsErrorPrefix(c->Run({"incr", "n"}), "MISCONF"));
  c.reset();
  Restart();  // a healthy file system: what was durable is there
  // The unacknowledged write may be there too (its bytes reached the log file, only the sync
  // failed): its client got no answer, so either outcome is allowed. The refused one is not.
  RespValue k = Run({"get", "k"});
  EXPECT_TRUE(IsBulk(k, "before") || IsBulk(k, "lost")) << k.ToString();
}

TEST_F(WalWiringTest, CorruptRecordRefusesStartupNamingTheLsn) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(IsInt(Run({"incr", "n"}), i + 1));
  client_.reset();
  server_->RequestShutdown("corrupt");
  server_->WaitForShutdown();
  server_.reset();
  {
    // Flip a byte of LSN 3 behind the WAL's back.
    rocksdb::DBOptions o;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {std::string(storage::kWalColumnFamily), {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, config_.WalDir(), cfs, &handles, &db).ok());
    std::string value;
    ASSERT_TRUE(db->Get({}, handles[1], storage::EncodeLsnKey(3), &value).ok());
    value[10] ^= 0x01;
    ASSERT_TRUE(db->Put({}, handles[1], storage::EncodeLsnKey(3), value).ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  config_.port = 0;
  server_ = std::make_unique<server::Server>(&config_);
  std::string error;
  EXPECT_FALSE(server_->Start(&error));
  EXPECT_NE(error.find("LSN 3"), std::string::npos) << error;
  EXPECT_NE(error.find("truncate the log"), std::string::npos) << error;
  server_.reset();
  // TearDown expects a running server.
  config_.appendonly = false;
  server_ = std::make_unique<server::Server>(&config_);
  ASSERT_TRUE(server_->Start(&error)) << error;
}

}  // namespace
}  // namespace stockd::testing
