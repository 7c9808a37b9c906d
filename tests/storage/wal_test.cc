#include "storage/wal.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/wal_record.h"
#include "tests/storage/fault_fs.h"
#include "tests/storage/raw_db.h"

namespace stockd::storage {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using stockd::testing::FaultFs;

// How long a test waits for the writer before failing instead of hanging.
constexpr milliseconds kWaitMax{5000};

// A fresh directory under /tmp per test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/stockd_wal_test_XXXXXX";
    EXPECT_NE(mkdtemp(name), nullptr);
    path_ = name;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A record whose bytes say which it is.
std::string Record(uint64_t i, std::string_view tag = "k") {
  const std::string key = std::string(tag) + std::to_string(i);
  const std::string_view argv[] = {"SET", key, "value"};
  return *EncodeCommandRecord(0, static_cast<int64_t>(i), argv);
}

std::unique_ptr<Wal> MustOpen(WalOptions o) {
  std::string error;
  std::unique_ptr<Wal> wal = Wal::Open(o, &error);
  EXPECT_NE(wal, nullptr) << error;
  return wal;
}

// Waits until durable_lsn() reaches lsn or the WAL fails; false on timeout or failure.
bool WaitDurable(const Wal& wal, uint64_t lsn) {
  const Clock::time_point deadline = Clock::now() + kWaitMax;
  while (wal.durable_lsn() < lsn) {
    if (wal.failed() || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

std::map<uint64_t, std::string> ReadAll(const Wal& wal, WalReadResult* result = nullptr) {
  std::map<uint64_t, std::string> out;
  WalReadResult r = wal.ForEach(0, [&](uint64_t lsn, std::string_view record) {
    out.emplace(lsn, std::string(record));
    return true;
  });
  if (result != nullptr) *result = r;
  return out;
}

using stockd::testing::RawDb;

// Appends records 1..n to a new log in dir and closes it.
void WriteLog(const std::string& dir, uint64_t n) {
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir});
  for (uint64_t i = 1; i <= n; ++i) ASSERT_EQ(wal->Append(Record(i)), i);
  wal->Close();
}

TEST(Wal, AppendCloseReopenContinuesLsns) {
  TempDir dir;
  WriteLog(dir.path(), 10);
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  EXPECT_EQ(wal->last_assigned_lsn(), 10u);
  EXPECT_EQ(wal->durable_lsn(), 10u);
  EXPECT_EQ(wal->Append(Record(11)), 11u);
  wal->Close();
  EXPECT_EQ(wal->Append(Record(12)), kWalNoLsn);  // closed
  wal = MustOpen({.dir = dir.path()});
  EXPECT_EQ(wal->last_assigned_lsn(), 11u);
  EXPECT_EQ(ReadAll(*wal).size(), 11u);
}

TEST(Wal, ForEachReturnsExactlyWhatWasAppendedInOrder) {
  TempDir dir;
  WriteLog(dir.path(), 100);
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  std::vector<uint64_t> order;
  WalReadResult r = wal->ForEach(0, [&](uint64_t lsn, std::string_view record) {
    order.push_back(lsn);
    EXPECT_EQ(record, Record(lsn));
    return true;
  });
  EXPECT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.records, 100u);
  EXPECT_EQ(r.last_lsn, 100u);
  ASSERT_EQ(order.size(), 100u);
  for (uint64_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i + 1);

  // From the middle, and stopping early.
  r = wal->ForEach(50, [](uint64_t, std::string_view) { return true; });
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.records, 51u);
  r = wal->ForEach(1, [](uint64_t lsn, std::string_view) { return lsn < 3; });
  EXPECT_EQ(r.problem, WalReadProblem::kStopped);
  EXPECT_EQ(r.last_lsn, 3u);
  // Past the end: nothing, and not a problem.
  r = wal->ForEach(101, [](uint64_t, std::string_view) { return true; });
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.records, 0u);
}

TEST(Wal, DurableReachesLastLsnAndCallbackIsNondecreasing) {
  TempDir dir;
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  std::mutex mu;
  std::vector<uint64_t> seen;
  wal->SetOnDurable([&](uint64_t lsn) {
    std::lock_guard lock(mu);
    seen.push_back(lsn);
  });
  constexpr uint64_t kRecords = 300;
  for (uint64_t i = 1; i <= kRecords; ++i) wal->Append(Record(i));
  ASSERT_TRUE(WaitDurable(*wal, kRecords));
  EXPECT_EQ(wal->written_lsn(), kRecords);
  wal->Close();
  ASSERT_FALSE(seen.empty());
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]);
  EXPECT_EQ(seen.back(), kRecords);
  WalStats stats = wal->stats();
  EXPECT_EQ(stats.records, kRecords);
  EXPECT_EQ(stats.syncs, stats.batches);  // always: one synced write per batch
  EXPECT_GE(stats.SyncUsQuantile(0.99), stats.SyncUsQuantile(0.5));
}

TEST(Wal, ConcurrentAppendsGetContiguousLsnsAndEveryRecordOnce) {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 500;
  std::vector<std::vector<uint64_t>> lsns(kThreads);
  {
    std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t i = 0; i < kPerThread; ++i) {
          lsns[t].push_back(wal->Append(Record(i, "t" + std::to_string(t) + ":")));
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }  // the destructor drains
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  WalReadResult r;
  std::map<uint64_t, std::string> log = ReadAll(*wal, &r);
  ASSERT_TRUE(r.ok()) << r.detail;
  ASSERT_EQ(log.size(), kThreads * kPerThread);
  EXPECT_EQ(log.begin()->first, 1u);
  EXPECT_EQ(log.rbegin()->first, kThreads * kPerThread);
  // Each thread's records sit at the LSNs Append returned, in the thread's order; with the
  // count above, every record is there exactly once.
  for (int t = 0; t < kThreads; ++t) {
    for (uint64_t i = 0; i < kPerThread; ++i) {
      if (i > 0) {
        EXPECT_LT(lsns[t][i - 1], lsns[t][i]);
      }
      EXPECT_EQ(log[lsns[t][i]], Record(i, "t" + std::to_string(t) + ":"));
    }
  }
}

// N threads each append one record and wait for it to be durable: with a sync that takes a
// while, the appends that arrive during one sync form the next batch.
TEST(Wal, GroupCommitBatchesWaitingAppenders) {
  TempDir dir;
  FaultFs* fs = new FaultFs();
  std::shared_ptr<rocksdb::FileSystem> fs_owner(fs);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs_owner);
  fs->SetSyncDelay(std::chrono::microseconds(2000));
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path(), .env = env.get()});
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) {
        const uint64_t lsn = wal->Append(Record(i, "t" + std::to_string(t)));
        ASSERT_TRUE(WaitDurable(*wal, lsn));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const WalStats stats = wal->stats();
  EXPECT_EQ(stats.records, kThreads * kPerThread);
  EXPECT_LT(stats.batches, stats.records / 2)
      << "mean batch " << 1.0 * stats.records / stats.batches;
  EXPECT_GT(stats.batch_records_max, 1u);
  EXPECT_LE(stats.batch_records_max, static_cast<uint64_t>(kThreads));
}

// A batch stops growing at batch_bytes_max: with the limit at one record, every batch is one.
TEST(Wal, BatchBytesMaxCapsTheBatch) {
  TempDir dir;
  FaultFs* fs = new FaultFs();
  std::shared_ptr<rocksdb::FileSystem> fs_owner(fs);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs_owner);
  fs->SetSyncDelay(std::chrono::microseconds(500));
  std::unique_ptr<Wal> wal =
      MustOpen({.dir = dir.path(), .batch_bytes_max = Record(1).size(), .env = env.get()});
  for (uint64_t i = 1; i <= 20; ++i) wal->Append(Record(i));
  wal->Close();
  EXPECT_EQ(wal->stats().batch_records_max, 1u);
  EXPECT_EQ(wal->stats().batches, 20u);
}

// queue_bytes_max makes Append wait for the writer instead of queueing without bound.
TEST(Wal, QueueBytesMaxAppliesBackPressure) {
  TempDir dir;
  FaultFs* fs = new FaultFs();
  std::shared_ptr<rocksdb::FileSystem> fs_owner(fs);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs_owner);
  fs->SetSyncDelay(std::chrono::microseconds(1000));
  std::unique_ptr<Wal> wal =
      MustOpen({.dir = dir.path(), .queue_bytes_max = 2 * Record(1).size(), .env = env.get()});
  for (uint64_t i = 1; i <= 20; ++i) {
    ASSERT_EQ(wal->Append(Record(i)), i);
    // At most two records wait in the queue (the writer may hold one more in its batch).
    EXPECT_LE(i - wal->written_lsn(), 3u + 1u);
  }
  ASSERT_TRUE(WaitDurable(*wal, 20));
}

TEST(Wal, EverySecPublishesDurableWithinASecondAndAHalf) {
  TempDir dir;
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path(), .fsync = WalFsync::kEverySec});
  const Clock::time_point start = Clock::now();
  const uint64_t lsn = wal->Append(Record(1));
  while (wal->written_lsn() < lsn && Clock::now() - start < kWaitMax) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_EQ(wal->written_lsn(), lsn);
  ASSERT_TRUE(WaitDurable(*wal, lsn));
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  EXPECT_EQ(wal->stats().syncs, 1u);
}

TEST(Wal, NoMeansDurableIsWritten) {
  TempDir dir;
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path(), .fsync = WalFsync::kNo});
  for (uint64_t i = 1; i <= 10; ++i) wal->Append(Record(i));
  ASSERT_TRUE(WaitDurable(*wal, 10));
  EXPECT_EQ(wal->stats().syncs, 0u);
  wal->Close();
  EXPECT_EQ(wal->stats().syncs, 1u);  // Close syncs once
}

// A sync fails after three successes: the WAL latches the failure, durable_lsn stays at the last
// record whose sync succeeded, appends are refused, and a healthy reopen finds everything that was
// reported durable.
TEST(Wal, FailStopOnSyncError) {
  TempDir dir;
  FaultFs* fs = new FaultFs();
  std::shared_ptr<rocksdb::FileSystem> fs_owner(fs);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs_owner);
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path(), .env = env.get()});
  std::atomic<int> failed_calls{0};
  wal->SetOnFailed([&](const std::string&) { failed_calls++; });
  constexpr int64_t kGoodSyncs = 3;
  fs->FailSyncsAfter(kGoodSyncs);
  uint64_t lsn = 0;
  for (uint64_t i = 1; i <= 10; ++i) {
    lsn = wal->Append(Record(i));
    if (lsn == kWalNoLsn || !WaitDurable(*wal, lsn)) break;
  }
  EXPECT_TRUE(wal->failed());
  EXPECT_NE(wal->failure().find("injected"), std::string::npos) << wal->failure();
  EXPECT_EQ(wal->durable_lsn(), static_cast<uint64_t>(kGoodSyncs));
  EXPECT_EQ(wal->Append(Record(99)), kWalNoLsn);
  EXPECT_EQ(wal->stats().failures, 1u);
  const uint64_t durable = wal->durable_lsn();
  wal->Close();
  // After Close: failed() is published before on_failed runs, and Close joins the writer.
  EXPECT_EQ(failed_calls.load(), 1);
  EXPECT_EQ(wal->durable_lsn(), durable);  // closing a failed WAL does not write past the error

  wal = MustOpen({.dir = dir.path()});
  WalReadResult r;
  std::map<uint64_t, std::string> log = ReadAll(*wal, &r);
  EXPECT_TRUE(r.ok()) << r.detail;
  for (uint64_t i = 1; i <= durable; ++i) EXPECT_EQ(log[i], Record(i)) << "LSN " << i;
}

TEST(Wal, CorruptRecordInTheMiddleIsReportedAtItsLsn) {
  TempDir dir;
  WriteLog(dir.path(), 10);
  {
    RawDb raw(dir.path());
    std::string bad = Record(5);
    bad[10] ^= 0x01;
    raw.Put(5, bad);
  }
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  WalReadResult r;
  std::map<uint64_t, std::string> log = ReadAll(*wal, &r);
  EXPECT_EQ(r.problem, WalReadProblem::kCorrupt);
  EXPECT_EQ(r.problem_lsn, 5u);
  EXPECT_EQ(r.decode, DecodeResult::kBadChecksum);
  EXPECT_EQ(r.records, 4u);
  EXPECT_EQ(r.last_lsn, 4u);
  EXPECT_NE(r.detail.find("LSN 5"), std::string::npos) << r.detail;
}

TEST(Wal, TruncatedRecordIsTornOnlyAtTheTail) {
  TempDir dir;
  WriteLog(dir.path(), 10);
  {
    RawDb raw(dir.path());
    raw.Put(4, Record(4).substr(0, 12));
    raw.Put(10, Record(10).substr(0, 12));
  }
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  WalReadResult r = wal->ForEach(0, [](uint64_t, std::string_view) { return true; });
  EXPECT_EQ(r.problem, WalReadProblem::kCorrupt);  // truncated, but not the last
  EXPECT_EQ(r.problem_lsn, 4u);
  EXPECT_EQ(r.decode, DecodeResult::kTruncated);
  r = wal->ForEach(5, [](uint64_t, std::string_view) { return true; });
  EXPECT_EQ(r.problem, WalReadProblem::kTornTail);
  EXPECT_EQ(r.problem_lsn, 10u);
  EXPECT_EQ(r.last_lsn, 9u);
  // Recovery cuts the torn record and appends continue in its place.
  ASSERT_TRUE(wal->CutTail(10));
  EXPECT_EQ(wal->Append(Record(10)), 10u);
  ASSERT_TRUE(WaitDurable(*wal, 10));
  r = wal->ForEach(5, [](uint64_t, std::string_view) { return true; });
  EXPECT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.last_lsn, 10u);
}

// A standby cuts records its new primary never had, and a full sync replaces the whole log,
// while the WAL is running: both wait for what is queued, then cut, and survive a reopen.
TEST(Wal, CutTailAndResetAfterWorkAfterAppends) {
  TempDir dir;
  {
    std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
    for (uint64_t lsn = 1; lsn <= 20; ++lsn) ASSERT_EQ(wal->Append(Record(lsn)), lsn);
    ASSERT_TRUE(wal->CutTail(15));  // no wait for durability first: CutTail drains the queue
    EXPECT_EQ(wal->last_assigned_lsn(), 14u);
    EXPECT_LE(wal->durable_lsn(), 14u);
    EXPECT_EQ(wal->Append(Record(15)), 15u);
    ASSERT_TRUE(WaitDurable(*wal, 15));
  }
  {
    std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
    EXPECT_EQ(wal->last_assigned_lsn(), 15u);
    WalReadResult r = wal->ForEach(0, [](uint64_t, std::string_view) { return true; });
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.records, 15u);
    ASSERT_TRUE(wal->ResetAfter(100));
    EXPECT_EQ(wal->Append(Record(101)), 101u);
    ASSERT_TRUE(WaitDurable(*wal, 101));
    r = wal->ForEach(0, [](uint64_t, std::string_view) { return true; });
    EXPECT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.records, 1u);
    EXPECT_EQ(r.last_lsn, 101u);
  }
}

TEST(Wal, GapIsReportedAtTheMissingLsn) {
  TempDir dir;
  WriteLog(dir.path(), 10);
  { RawDb(dir.path()).Delete(6); }
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  WalReadResult r = wal->ForEach(0, [](uint64_t, std::string_view) { return true; });
  EXPECT_EQ(r.problem, WalReadProblem::kGap);
  EXPECT_EQ(r.problem_lsn, 6u);
  EXPECT_EQ(r.records, 5u);
  // A log that does not begin where the caller needs it (after its snapshot) is a gap too.
  r = wal->ForEach(6, [](uint64_t, std::string_view) { return true; });
  EXPECT_EQ(r.problem, WalReadProblem::kGap);
  EXPECT_EQ(r.problem_lsn, 6u);
}

TEST(Wal, TrimRemovesThePrefixAndKeepsTheLastRecord) {
  TempDir dir;
  std::unique_ptr<Wal> wal = MustOpen({.dir = dir.path()});
  for (uint64_t i = 1; i <= 10; ++i) wal->Append(Record(i));
  ASSERT_TRUE(WaitDurable(*wal, 10));
  ASSERT_TRUE(wal->Trim(6));
  WalReadResult r;
  std::map<uint64_t, std::string> log = ReadAll(*wal, &r);
  EXPECT_TRUE(r.ok()) << r.detail;
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log.begin()->first, 6u);
  // Trimming everything keeps the last record, so a reopen continues the LSNs.
  ASSERT_TRUE(wal->Trim(1000));
  EXPECT_EQ(ReadAll(*wal).size(), 1u);
  wal->Close();
  wal = MustOpen({.dir = dir.path()});
  EXPECT_EQ(wal->Append(Record(11)), 11u);
  ASSERT_TRUE(WaitDurable(*wal, 11));
  log = ReadAll(*wal, &r);
  EXPECT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(log.size(), 2u);
  EXPECT_EQ(log.begin()->first, 10u);
}

// KNOWN BUG, disabled so that the suite stays green until it is fixed; run it with
// --gtest_also_run_disabled_tests. RocksDB's own log file (<dir>/*.log, where every record lives
// until a memtable flush) is replayed by RocksDB at Open with its default wal_recovery_mode,
// kPointInTimeRecovery, which STOPS at the first corrupt RocksDB record and opens the database
// without the rest. One flipped byte in the middle of that file therefore turns into a clean,
// shorter log: Open succeeds, ForEach reports no problem, and every durable (acknowledged)
// record from the damaged batch on is gone, with nothing logged by stockd. The same over a real
// stockd: 40 acknowledged SETs, one byte flipped in 000004.log, restart: "replayed 9 records".
// A fix is a policy choice (see docs/wal.md, "Operating the log"): kTolerateCorruptedTailRecords
// would refuse such a log at Open, but would also refuse one whose unsynced tail (everysec) was
// written out of order by a power loss, which kPointInTimeRecovery rightly accepts.
TEST(Wal, CorruptionInsideRocksDbsOwnLogIsNotASilentTruncation) {
  constexpr uint64_t kRecords = 40;
  TempDir dir;
  WriteLog(dir.path(), kRecords);  // appendfsync always: every record durable before Close
  // Flip one byte of record 20's key ("k20", after its 4-byte length) in RocksDB's log file.
  const std::string needle = std::string("\x03\x00\x00\x00k20", 7);
  bool flipped = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() != ".log") continue;
    std::string bytes;
    {
      std::ifstream in(entry.path(), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const size_t at = bytes.find(needle);
    if (at == std::string::npos) continue;
    bytes[at + needle.size() - 1] ^= 0x01;
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << bytes;
    flipped = true;
  }
  ASSERT_TRUE(flipped) << "record 20 is not in a RocksDB log file";
  // Refusing to open is an acceptable answer; a clean shorter log is not.
  std::string error;
  std::unique_ptr<Wal> wal = Wal::Open({.dir = dir.path()}, &error);
  if (wal == nullptr) return;
  WalReadResult r;
  const std::map<uint64_t, std::string> log = ReadAll(*wal, &r);
  EXPECT_FALSE(r.ok() && log.size() < kRecords)
      << "only " << log.size() << " of " << kRecords
      << " durable records read back, and ForEach reports no problem";
}

}  // namespace
}  // namespace stockd::storage
