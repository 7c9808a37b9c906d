#pragma once
// Recovery's replay of write-ahead log records into the shards, one worker thread per shard.
//
// Why. Replay is bound by memory latency (each SKU operation is a dozen dependent cache misses
// into a multi-gigabyte heap), not by instructions, so the only way to make it much faster on
// more than one core is to run the shards' records at the same time.
//
// Order. A record that touches one shard only (its keys, as dispatch routes it: the command
// table's key positions, server/command.h) goes to that shard's worker; each worker applies its
// records in LSN order. Records of different shards touch disjoint data (the threading contract
// of server/command_context.h, which live dispatch relies on too), so they commute, and the state
// after replay is the state a sequential replay reaches. Any other record (several shards, a
// global command such as FLUSHALL, a keyless one, a MULTI group) is a barrier: every queued record
// is applied first, then the barrier on the reading thread, alone.
//
// Threads. Add, Barrier and Finish are called from one thread (the one reading the log, which
// owns every shard's data before Engine::Start). The workers run only between the first Add and
// Finish; no shard thread runs during recovery.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/command.h"
#include "server/engine.h"
#include "storage/wal_record.h"

namespace stockd::server {

// Records a shard's batch holds before it is handed to the shard's worker: large enough that a
// hand-over (a mutex and possibly a wake-up) costs little per record, small enough that the
// workers start early and a barrier's partial batches are short.
inline constexpr size_t kReplayBatchRecordsMax = 512;
// Argument bytes a batch holds before it is handed over (a batch may exceed it by one record).
inline constexpr size_t kReplayBatchBytesMax = 256 << 10;  // bytes
// Batches queued per worker before Add waits: bounds the memory the reader can run ahead by
// (kReplayBatchesQueuedMax * kReplayBatchBytesMax per shard).
inline constexpr size_t kReplayBatchesQueuedMax = 8;

// Checks `record` and applies it on the calling thread, without a reply and without logging it
// again. False with *error set (nothing applied) when the database is outside `databases` or the
// command is not one this stockd can run.
bool ApplyRecord(Engine& engine, int databases, const storage::WalRecord& record,
                 std::string* error);

// Runs fn(shard) for every shard at once, each on its own thread, and waits for them: recovery's
// passes over every shard's data (the shard threads do not run yet).
void RunOnEveryShard(Engine& engine, const std::function<void(uint32_t shard)>& fn);

class Replayer;

// Applies log records in LSN order as recovery reads them: a MULTI ... EXEC group (contiguous,
// Wal::AppendGroup) only once its EXEC is read, alone, after everything before it, as its EXEC
// ran live; anything else through the Replayer. Recovery, a standby's rebuild and a standby's
// live stream share it, so they apply the same records the same way.
class GroupApplier {
 public:
  GroupApplier(Engine& engine, int databases, Replayer& replayer)
      : engine_(engine), databases_(databases), replayer_(replayer) {}
  // The record at `lsn`. False with *error set when it cannot be applied (a command this stockd
  // cannot run, a nested MULTI, an EXEC without MULTI). The record's bytes need not outlive the
  // call: a group's records are copied until its EXEC.
  bool Add(uint64_t lsn, const storage::WalRecord& record, std::string* error);
  // The LSN of the MULTI whose EXEC has not been read (0: none), and the records held for it.
  uint64_t open_group_lsn() const { return multi_lsn_; }
  size_t open_group_records() const { return group_.size(); }

 private:
  struct Kept {
    storage::WalRecord record;
    std::vector<std::string> argv;
  };
  Engine& engine_;
  int databases_;
  Replayer& replayer_;
  uint64_t multi_lsn_ = 0;
  std::vector<Kept> group_;
};

class Replayer {
 public:
  // `workers`: false replays every record on the calling thread (one shard, or for comparison).
  Replayer(Engine& engine, int databases, bool workers);
  ~Replayer();  // Finish()es
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  // The next record in LSN order: queued for its shard's worker, or applied here as a barrier.
  // False with *error set when the record cannot be replayed; it is not applied, and every record
  // added before it is applied by the time Add returns.
  bool Add(const storage::WalRecord& record, std::string* error);
  // Waits until every record added so far is applied; then `record` may be applied with
  // ApplyRecord on this thread (MULTI groups).
  void Barrier();
  // Barrier(), and stops the workers. Idempotent.
  void Finish();

 private:
  // A shard's records, copied out of the log reader's buffer: fixed fields per record, and every
  // argument's bytes back to back.
  struct Batch {
    struct Item {
      const CommandSpec* spec;  // null: an expire sweep (argv = key, items_max)
      int64_t now_ms;
      uint64_t items_max;
      uint32_t db;
      uint32_t argc;
    };
    std::vector<Item> items;
    std::vector<uint32_t> arg_bytes;  // each argument's length, items in order
    std::string bytes;
    void Clear() {
      items.clear();
      arg_bytes.clear();
      bytes.clear();
    }
  };
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;       // the worker waits for a batch or stop
    std::condition_variable idle_cv;  // the reader waits for room or for the worker to be idle
    std::deque<std::unique_ptr<Batch>> queue;
    std::vector<std::unique_ptr<Batch>> free;  // applied batches, kept to reuse their buffers
    bool running = false;                      // applying a batch taken from the queue
    bool stop = false;
    std::unique_ptr<Batch> open;  // the batch being filled (reader only)
    std::thread thread;
  };

  // The shard every part of `record` lives on, or -1 when it is a barrier.
  int64_t ShardOf(const storage::WalRecord& record, const CommandSpec* spec) const;
  void Queue(uint32_t shard, const storage::WalRecord& record, const CommandSpec* spec);
  void HandOver(uint32_t shard);
  void Run(uint32_t shard);
  void ApplyBatch(uint32_t shard, const Batch& batch);

  Engine& engine_;
  int databases_;
  std::vector<std::unique_ptr<Worker>> workers_;  // empty: everything on the calling thread
};

}  // namespace stockd::server
