#pragma once
// The WAL writer: appends encoded records (storage/wal_record.h) to a RocksDB column family "wal"
// keyed by LSN, with group commit, and reads them back for recovery. Spec: docs/wal.md ("Writer").
//
// Threads. Append, the LSN and state getters, stats() and Trim may be called from any thread.
// One writer thread, started by Open and owned by the Wal, does every log write and sync and runs
// the callbacks. ForEach may run on any thread; it reads a consistent RocksDB snapshot.
//
// Order. Append assigns LSNs under the queue mutex, so LSNs are contiguous in the order Append
// returns them: the caller makes that order its serial order by appending in the step that applies
// the write. A batch is always a contiguous LSN range, so written_lsn and durable_lsn only move
// forward and every LSN at or below durable_lsn is durable.
//
// Fail-stop. The first error RocksDB returns for a write or a sync latches failed(): the writer
// stops, durable_lsn never moves again (nothing not known durable is reported durable), queued
// records stay unacknowledged, and Append returns kWalNoLsn. The state of the log after a failed
// sync is unknown, so it is never written past (as LevelDB and RocksDB themselves do).
#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/wal_record.h"

namespace stockd::storage {

// Redis's appendfsync values, same meaning.
enum class WalFsync {
  kAlways,    // every batch is written with WriteOptions::sync: durable when the write returns.
  kEverySec,  // batches are written without sync; the log is synced at most once a second.
  kNo,        // never synced by stockd: the OS decides. durable_lsn == written_lsn (a lie the
              // operator chose); Close still syncs once so a clean shutdown loses nothing.
};

// Returned by Append when the record was not queued: the WAL has failed or is closed.
inline constexpr uint64_t kWalNoLsn = 0;
// A batch stops growing once it holds this many bytes of records (it may exceed it by the last
// record taken, so one record larger than the limit still forms a batch of its own). Bounds the
// memory of one WriteBatch and the latency of one write; 16 MiB is far above what a busy second
// of small records adds up to between two syncs, so it only caps pathological bursts.
inline constexpr uint64_t kWalBatchBytesMaxDefault = 16ULL << 20;
// Bytes queued but not yet taken by the writer before Append blocks its caller (back-pressure
// instead of unbounded memory when appends outrun the disk, as in everysec/no where nobody waits).
inline constexpr uint64_t kWalQueueBytesMaxDefault = 256ULL << 20;
// everysec: the longest time written records wait for a sync.
inline constexpr std::chrono::milliseconds kWalEverySecInterval{1000};
// Sync latency histogram: bucket i counts latencies in [2^i, 2^(i+1)) microseconds (bucket 0 also
// holds 0); the last bucket holds everything from 2^(kWalSyncHistogramBuckets-1) us (~18 min) on.
inline constexpr size_t kWalSyncHistogramBuckets = 31;
// ForEach reads the log sequentially with this much readahead (RocksDB's automatic readahead for
// iterators starts at 8 KiB and grows to 256 KiB).
inline constexpr size_t kWalReadaheadBytes = 4 << 20;  // bytes
// The column family that holds the log.
inline constexpr std::string_view kWalColumnFamily = "wal";
// The column family that holds snapshots (storage/snapshot.h), in the same database so that one
// directory is the whole durable state.
inline constexpr std::string_view kSnapshotColumnFamily = "snapshot";

struct WalOptions {
  std::string dir;  // the RocksDB directory; created if missing.
  WalFsync fsync = WalFsync::kAlways;
  uint64_t batch_bytes_max = kWalBatchBytesMaxDefault;
  uint64_t queue_bytes_max = kWalQueueBytesMaxDefault;
  // Tests inject faults through a wrapping Env; nullptr means rocksdb::Env::Default(). Not owned:
  // it must outlive the Wal.
  rocksdb::Env* env = nullptr;
};

// A snapshot of the writer's counters for INFO persistence.
struct WalStats {
  uint64_t batches = 0;             // WriteBatches written successfully.
  uint64_t records = 0;             // records in them.
  uint64_t bytes = 0;               // record bytes in them (values only, not keys).
  uint64_t batch_records_last = 0;  // records in the last batch written.
  uint64_t batch_records_max = 0;
  // Syncs: in always, each batch's Write (the write and its fsync, which dominates); in everysec
  // and no, each SyncWAL call. Latencies in microseconds.
  uint64_t syncs = 0;
  uint64_t sync_us_sum = 0;
  uint64_t sync_us_max = 0;
  std::array<uint64_t, kWalSyncHistogramBuckets> sync_us_histogram{};
  uint64_t failures = 0;  // 0 or 1: the first failure stops the writer.
  uint64_t written_lsn = 0;
  uint64_t durable_lsn = 0;

  // An estimate of the q-quantile (0 < q <= 1) of sync latency: the upper bound of the histogram
  // bucket holding it, so at most 2x the true value. 0 when there were no syncs.
  uint64_t SyncUsQuantile(double q) const;
};

// What ForEach found. Iteration stops at the first problem.
enum class WalReadProblem {
  kNone,
  kGap,       // the first record is not from_lsn, or an LSN is missing: corruption at `lsn`
              // (the LSN that was expected).
  kBadKey,    // a key that is not an 8-byte LSN: corruption after `lsn` (the last good LSN).
  kTornTail,  // the LAST record decodes as kTruncated: a torn write. The caller cuts it
              // (CutTail) and starts, saying so.
  kCorrupt,   // any other decode failure, or kTruncated before the last record: refuse to start.
  kIo,        // RocksDB reported an error while reading (detail says which).
  kStopped,   // fn returned false: not a problem with the log.
};
std::string_view WalReadProblemName(WalReadProblem problem);

struct WalReadResult {
  uint64_t records = 0;   // records passed to fn.
  uint64_t last_lsn = 0;  // the last LSN passed to fn; 0 if none.
  WalReadProblem problem = WalReadProblem::kNone;
  uint64_t problem_lsn = 0;
  DecodeResult decode = DecodeResult::kOk;  // for kTornTail and kCorrupt.
  std::string detail;                       // a sentence for the log / the refusal message.
  bool ok() const { return problem == WalReadProblem::kNone; }
};

class Wal {
 public:
  // Opens or creates the database in o.dir with the "wal" column family (every other existing
  // column family is opened too, as RocksDB requires), finds the last LSN so appends continue
  // from it, and starts the writer thread. nullptr with *error set if RocksDB refuses.
  static std::unique_ptr<Wal> Open(const WalOptions& o, std::string* error);

  // Close()s.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Queues an encoded record and returns its LSN, or kWalNoLsn if the WAL has failed or is
  // closed (the server answers -MISCONF). Blocks only while more than queue_bytes_max is queued.
  uint64_t Append(std::string record);
  // Queues several records with contiguous LSNs (no other Append lands between them) and returns
  // the LSN of the last one, or kWalNoLsn. For a MULTI ... EXEC group, which recovery applies
  // only when it is complete.
  uint64_t AppendGroup(std::vector<std::string> records);

  // Called on the writer thread, with durable_lsn, each time it advances; must be quick and must
  // not call Close. Set before appending (a call racing with the writer is not synchronised).
  void SetOnDurable(std::function<void(uint64_t lsn)> on_durable);
  // Called on the writer thread with each batch (its first LSN and its records, in LSN order)
  // just before it is written: replication ships records while they are being synced here, so
  // the two disks' syncs overlap. Must be quick. Set before appending.
  void SetOnBatch(
      std::function<void(uint64_t first_lsn, const std::vector<std::string>& batch)> on_batch);
  // The same for written_lsn: called on the writer thread after each batch is handed to RocksDB
  // (the records left the process: a kill -9 can no longer lose them, a power loss can).
  void SetOnWritten(std::function<void(uint64_t lsn)> on_written);
  // Called once when the WAL fails, with failure(), so waiters can be told: on the writer thread,
  // or on Trim's caller if a trim failed.
  void SetOnFailed(std::function<void(const std::string& failure)> on_failed);

  // Highest LSN handed to RocksDB (in everysec, not yet synced). Acquire loads.
  uint64_t written_lsn() const { return written_lsn_.load(std::memory_order_acquire); }
  // Highest LSN known durable; every LSN at or below it is durable.
  uint64_t durable_lsn() const { return durable_lsn_.load(std::memory_order_acquire); }
  // The last LSN assigned by Append (or found at Open).
  uint64_t last_assigned_lsn() const;
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // The RocksDB status text of the failure; empty unless failed().
  std::string failure() const;
  WalStats stats() const;

  // Writes what is queued (unless failed), syncs once in everysec/no, stops the writer thread and
  // closes the database. Idempotent. Appends after Close return kWalNoLsn.
  void Close();

  // Before Close only. Reads the log from from_lsn in LSN order, checking that LSNs are contiguous
  // and that every record decodes; fn gets the LSN, the record bytes and the decoded record (both
  // valid only during the call: the record's argv points into the bytes) and returns false to
  // stop. from_lsn == 0 means "wherever the log begins" (after Trim, not at 1); otherwise the
  // first record must be from_lsn exactly, or the log must end before it.
  using RecordFn =
      std::function<bool(uint64_t lsn, std::string_view bytes, const WalRecord& record)>;
  WalReadResult ForEach(uint64_t from_lsn, const RecordFn& fn) const;
  // The same, for callers that need only the bytes.
  WalReadResult ForEach(uint64_t from_lsn,
                        const std::function<bool(uint64_t lsn, std::string_view bytes)>& fn) const {
    return ForEach(from_lsn, RecordFn([&fn](uint64_t lsn, std::string_view bytes,
                                            const WalRecord&) { return fn(lsn, bytes); }));
  }

  // Before Close only. Deletes the records with LSN < upto_lsn (after a snapshot). upto_lsn is
  // clamped to durable_lsn(), so the last durable record is always kept: that is how Open finds
  // where LSNs continue. False (and failed() latched) if RocksDB refuses.
  bool Trim(uint64_t upto_lsn);

  // Makes appends continue after `lsn` when the log ends before it (a snapshot at `lsn` survived
  // records that did not: appendfsync no and a power loss). Only before the first Append; false
  // otherwise.
  bool ContinueAfter(uint64_t lsn);

  // The database and the snapshot column family, for storage/snapshot.h. Valid until Close.
  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* snapshot_cf() const { return snapshot_cf_; }
  // The options it was opened with (the directory, for snapshot scratch files).
  const WalOptions& options() const { return options_; }

  // Deletes the records with LSN >= from_lsn: recovery's cut of a torn tail, and a standby's cut
  // of records its new primary never had. The caller appends nothing while it runs: it waits
  // until every queued record is written, then cuts with a synced delete. False if the WAL failed,
  // is closing, or RocksDB refuses. Later appends continue from from_lsn; written_lsn and
  // durable_lsn come down to at most from_lsn - 1 (the one case where they move back).
  bool CutTail(uint64_t from_lsn);
  // The same contract: deletes every record and continues after `lsn`. A standby's full sync,
  // once the primary's snapshot at `lsn` is stored as its own.
  bool ResetAfter(uint64_t lsn);

 private:
  Wal(const WalOptions& o, rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
      rocksdb::ColumnFamilyHandle* wal_cf, rocksdb::ColumnFamilyHandle* snapshot_cf,
      uint64_t last_lsn);

  void WriterLoop();
  // Takes the next batch from the queue (at least one record unless stopping with nothing left):
  // returns false when the writer should exit. *first_lsn is the LSN of (*batch)[0].
  bool TakeBatch(std::vector<std::string>* batch, uint64_t* first_lsn);
  // Append/AppendGroup, with mu_ held: waits until `bytes` more fit in the queue (or it is
  // empty); false when the WAL is stopping or has failed.
  bool WaitForSpace(std::unique_lock<std::mutex>& lock, uint64_t bytes);
  // CutTail/ResetAfter, with mu_ held: waits until the writer has written everything queued;
  // false when the WAL failed or is stopping.
  bool DrainForCut(std::unique_lock<std::mutex>& lock);
  // With mu_ held and the queue drained: deletes the records from delete_from_lsn on and makes
  // last_lsn the last assigned LSN.
  bool SetEnd(uint64_t delete_from_lsn, uint64_t last_lsn);
  bool WriteBatch(const std::vector<std::string>& batch, uint64_t first_lsn);
  bool SyncWal();
  void PublishDurable(uint64_t lsn);
  // Runs on_durable_ or on_written_ (a copy taken under mu_) with lsn, on the writer thread.
  void RunCallback(std::function<void(uint64_t)> Wal::*callback, uint64_t lsn);
  void Fail(const rocksdb::Status& status, std::string_view what);
  void RecordSync(std::chrono::steady_clock::duration took);

  const WalOptions options_;
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // every open column family, owned.
  rocksdb::ColumnFamilyHandle* wal_cf_;                // one of handles_.
  rocksdb::ColumnFamilyHandle* snapshot_cf_;           // one of handles_.

  // The queue. mu_ guards everything down to stats_.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // the writer waits for records or stop.
  std::condition_variable space_cv_;  // Append waits for queue space.
  std::deque<std::string> queue_;
  uint64_t queue_bytes_ = 0;
  uint64_t queue_first_lsn_;  // LSN of queue_.front().
  uint64_t last_assigned_lsn_;
  bool appended_since_open_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  std::string failure_;
  std::function<void(uint64_t)> on_durable_;
  std::function<void(uint64_t)> on_written_;
  // Read by the writer thread without mu_: set before the first append (SetOnBatch's contract).
  std::function<void(uint64_t, const std::vector<std::string>&)> on_batch_;
  std::function<void(const std::string&)> on_failed_;

  mutable std::mutex stats_mu_;
  WalStats stats_;

  std::atomic<uint64_t> written_lsn_;
  std::atomic<uint64_t> durable_lsn_;
  std::atomic<bool> failed_{false};
  std::thread writer_;
};

}  // namespace stockd::storage
