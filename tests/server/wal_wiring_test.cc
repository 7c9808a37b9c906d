// The WAL wired into the server: writes are logged by dispatch, replies to writes wait for
// durability (appendfsync always), and a restart on the same directory replays the log.
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>

#include "storage/wal.h"
#include "storage/wal_record.h"
#include "tests/server/test_server.h"
#include "tests/server/wal_fixture.h"
#include "tests/storage/fault_fs.h"

namespace stockd::testing {
namespace {

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
  for (const char* field :
       {"wal_batches:", "wal_records:5\r\n", "wal_batch_records_max:", "wal_syncs:",
        "wal_sync_us_sum:", "wal_sync_us_max:", "wal_sync_p50_us:", "wal_sync_p99_us:"}) {
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
    RawDb raw(config_.WalDir());
    ASSERT_TRUE(raw.ok());
    rocksdb::DB* db = raw.db();
    const std::string_view multi[] = {"MULTI"}, set[] = {"SET", "torn", "1"};
    ASSERT_TRUE(
        db->Put({}, raw.wal(), storage::EncodeLsnKey(5), *storage::EncodeCommandRecord(0, 0, multi))
            .ok());
    ASSERT_TRUE(
        db->Put({}, raw.wal(), storage::EncodeLsnKey(6), *storage::EncodeCommandRecord(0, 0, set))
            .ok());
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

TEST_F(WalWiringTest, RepliesThatShowAnUndurableWriteWaitForIt) {
  // Syncs take 300 ms: a write stays applied-but-not-durable long enough to be read.
  auto fs = std::make_shared<FaultFs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  Restart(env.get());
  // Two keys on different shards.
  std::string other = "other";
  for (int i = 0; server().engine().ShardOf(other) == server().engine().ShardOf("k"); ++i) {
    other = "other" + std::to_string(i);
  }
  fs->SetSyncDelay(std::chrono::milliseconds(300));
  storage::Wal* wal = server().engine().wal();
  const uint64_t lsn = wal->last_assigned_lsn() + 1;
  client().Send({"set", "k", "v"});
  SleepMs(50);  // applied and waiting for its sync
  ASSERT_LT(wal->durable_lsn(), lsn);
  // Another client reading the key sees the write only once it is durable.
  EXPECT_TRUE(IsBulk(client2().Run({"get", "k"}), "v"));
  EXPECT_GE(wal->durable_lsn(), lsn);
  // Same for a write that changes nothing but answers from the undurable state.
  client().Read();
  const uint64_t lsn2 = wal->last_assigned_lsn() + 1;
  client().Send({"set", "k", "v2"});
  SleepMs(50);
  ASSERT_LT(wal->durable_lsn(), lsn2);
  EXPECT_TRUE(IsInt(client2().Run({"setnx", "k", "x"}), 0));
  EXPECT_GE(wal->durable_lsn(), lsn2);
  client().Read();
  // A read of another shard, which no pending write touched, is not held.
  const uint64_t lsn3 = wal->last_assigned_lsn() + 1;
  client().Send({"set", "k", "v3"});
  SleepMs(50);
  EXPECT_TRUE(IsNull(client2().Run({"get", other})));
  EXPECT_LT(wal->durable_lsn(), lsn3);
  client().Read();
  fs->SetSyncDelay(std::chrono::microseconds(0));
  Restart();  // off the fault-injecting file system, which this test owns
}

TEST_F(WalWiringTest, EverysecAndNoReplyOnlyOnceTheRecordHasLeftTheProcess) {
  // Appends to RocksDB's log take 300 ms: a record stays inside the process (queued, or in the
  // writer's hands) long enough to see whether a reply goes out before it. Redis writes its AOF
  // before replying in every appendfsync mode, so a kill -9 loses no acknowledged write.
  for (server::AppendFsync mode : {server::AppendFsync::kEverySec, server::AppendFsync::kNo}) {
    SCOPED_TRACE(mode == server::AppendFsync::kNo ? "appendfsync no" : "appendfsync everysec");
    auto fs = std::make_shared<FaultFs>();
    std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
    config_.appendfsync = mode;
    Restart(env.get());
    storage::Wal* wal = server().engine().wal();
    fs->SetAppendDelay(std::chrono::milliseconds(300));
    const uint64_t lsn = wal->last_assigned_lsn() + 1;
    client().Send({"set", "k", "v"});
    SleepMs(50);  // applied, its record not yet written
    ASSERT_LT(wal->written_lsn(), lsn);
    // Another client's read that shows the write waits for it too.
    EXPECT_TRUE(IsBulk(client2().Run({"get", "k"}), "v"));
    EXPECT_GE(wal->written_lsn(), lsn);
    EXPECT_TRUE(IsOk(client().Read()));
    // The writer's own reply, alone.
    const uint64_t lsn2 = wal->last_assigned_lsn() + 1;
    const std::string counter = mode == server::AppendFsync::kNo ? "n:no" : "n:everysec";
    EXPECT_TRUE(IsInt(client().Run({"incr", counter}), 1));
    EXPECT_GE(wal->written_lsn(), lsn2);
    fs->SetAppendDelay(std::chrono::microseconds(0));
    Restart();  // off the fault-injecting file system, which this iteration owns
    EXPECT_TRUE(IsBulk(Run({"get", "k"}), "v"));
  }
}

// Startup refusals: recovery refuses a damaged log naming the LSN and the stockd-wal command that
// cuts it there (docs/wal.md, "Operating the log"), and doing what it says lets stockd start.
class WalRecoveryTest : public WalWiringTest {
 protected:
  using EditFn = std::function<void(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* wal_cf)>;

  // Stops the server (a clean shutdown) and changes its log behind the WAL's back, through
  // RocksDB, as a damaged disk or a bug would.
  void StopAndEditLog(const EditFn& edit) {
    Stop();
    RawDb raw(config_.WalDir());
    ASSERT_TRUE(raw.ok());
    edit(raw.db(), raw.wal());
  }
  static void Put(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t lsn,
                  const std::string& record) {
    ASSERT_TRUE(db->Put({}, cf, storage::EncodeLsnKey(lsn), record).ok());
  }
  static std::string Command(int db, std::vector<std::string_view> argv) {
    return *storage::EncodeCommandRecord(db, 0, argv);
  }
  // Starts a server on the log and returns its error ("" if it started).
  std::string Start() {
    std::string error;
    if (TryStart(nullptr, &error)) return "";
    server_.reset();
    return error;
  }
  // The server must refuse to start, saying what is wrong (`what`), where (the LSN) and what to do
  // (the exact stockd-wal command). Then does what it says (stockd-wal truncate cuts the log with
  // Wal::CutTail) and the server must start.
  void ExpectRefusalAt(uint64_t lsn, std::string_view what) {
    const std::string error = Start();
    ASSERT_FALSE(error.empty()) << "the server started on a damaged log";
    EXPECT_NE(error.find(what), std::string::npos) << error;
    EXPECT_NE(error.find("LSN " + std::to_string(lsn)), std::string::npos) << error;
    const std::string command =
        "stockd-wal truncate " + config_.WalDir() + " --from " + std::to_string(lsn) + " --yes";
    EXPECT_NE(error.find(command), std::string::npos) << error;
    {
      std::string open_error;
      std::unique_ptr<storage::Wal> wal =
          storage::Wal::Open({.dir = config_.WalDir()}, &open_error);
      ASSERT_TRUE(wal) << open_error;
      ASSERT_TRUE(wal->CutTail(lsn));
    }
    const std::string restart_error = Start();
    ASSERT_EQ(restart_error, "");
  }
  void TearDown() override {
    // A failed assertion may leave no server; ServerTest::TearDown stops one.
    if (!server_) {
      config_.appendonly = false;
      ASSERT_EQ(Start(), "");
    }
    WalWiringTest::TearDown();
  }
  // Five records: INCR n, LSN 1..5.
  void WriteFive() {
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(IsInt(Run({"incr", "n"}), i + 1));
  }
};

TEST_F(WalRecoveryTest, CorruptRecordInTheMiddleRefusesStartupNamingTheLsn) {
  WriteFive();
  StopAndEditLog([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    // Flip a byte of LSN 3.
    std::string value;
    ASSERT_TRUE(db->Get({}, cf, storage::EncodeLsnKey(3), &value).ok());
    value[10] ^= 0x01;
    Put(db, cf, 3, value);
  });
  ExpectRefusalAt(3, "corrupt record at LSN 3: LSN 3: bad checksum");
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "2"));
}

TEST_F(WalRecoveryTest, GapInLsnsRefusesStartupNamingTheMissingLsn) {
  WriteFive();
  StopAndEditLog([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Delete({}, cf, storage::EncodeLsnKey(3)).ok());
  });
  ExpectRefusalAt(3, "gap at LSN 3: LSN 3 is missing: the next record is LSN 4");
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "2"));
}

TEST_F(WalRecoveryTest, UnknownCommandRefusesStartupNamingItsLsn) {
  WriteFive();
  StopAndEditLog([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    Put(db, cf, 6, Command(0, {"NOSUCHCMD", "n"}));
    Put(db, cf, 7, Command(0, {"INCR", "n"}));
  });
  // The refusal must name the record that cannot be replayed, not the one after it: cutting from
  // there would leave it in the log and stockd would refuse again.
  ExpectRefusalAt(6, "record at LSN 6 could not be replayed: 'NOSUCHCMD' is not a command");
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "5"));
}

TEST_F(WalRecoveryTest, DatabaseOutsideDatabasesRefusesStartupNamingItsLsn) {
  WriteFive();
  StopAndEditLog([this](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    Put(db, cf, 6, Command(config_.databases, {"SET", "x", "1"}));
  });
  ExpectRefusalAt(6,
                  "record at LSN 6 could not be replayed: database 16 is outside 'databases' "
                  "(16)");
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "5"));
}

TEST_F(WalRecoveryTest, TornLastRecordIsCutAndReported) {
  WriteFive();
  StopAndEditLog([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    const std::string whole = Command(0, {"INCR", "n"});
    Put(db, cf, 6, whole.substr(0, whole.size() - 3));  // a write that died mid-record
  });
  // The cut is reported in the server's log.
  const std::string log_path = TempDir() + "/server.log";
  std::string error;
  ASSERT_TRUE(log::SetOutput(log_path, &error)) << error;
  error = Start();
  log::SetOutput("", &error);
  ASSERT_EQ(error, "");
  std::ifstream in(log_path);
  const std::string log_text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_NE(log_text.find("cutting the torn last record at LSN 6"), std::string::npos) << log_text;
  EXPECT_TRUE(IsBulk(Run({"get", "n"}), "5"));
  // Appends continue in the cut record's place.
  EXPECT_TRUE(IsInt(Run({"incr", "n"}), 6));
  EXPECT_EQ(server().engine().wal()->durable_lsn(), 6u);
}

}  // namespace
}  // namespace stockd::testing
