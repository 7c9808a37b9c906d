#pragma once
// The data one shard owns: its part of every logical database, and who WATCHes which of its keys.
// A Shard is touched only by its own thread, or by a thread that holds it locked (see
// server/engine.h); it has no mutex of its own. Counters read by INFO from other threads are
// relaxed atomics written only by the owner.
#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "storage/db.h"
#include "storage/hot_keys.h"
#include "storage/sku.h"

namespace stockd::storage {

// One WATCH ... EXEC attempt of one client: set when any watched key is modified. Shared between
// the client and the shards whose keys it watches.
struct WatchFlag {
  std::atomic<bool> dirty{false};
};

// A counter that one thread writes and others read: plain load/store, no read-modify-write.
class RelaxedCounter {
 public:
  void Add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }
  void Reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A client blocked until one of its keys has data (BLPOP and friends). The server layer
// subclasses it; the shard only queues it per key, in arrival order, and hands it the key when
// the key is written.
class BlockedClient {
 public:
  virtual ~BlockedClient() = default;
  // Set exactly once, by whoever claims the client first: a serve, its timeout, or its
  // disconnect. Nothing else may answer a claimed client.
  bool Claim() {
    bool expected = false;
    return claimed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel);
  }
  bool claimed() const { return claimed_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> claimed_{false};
};

class Shard final : public ExpiryListener {
 public:
  // Keys one active-expiry pass may delete per database (bounds the pass's latency).
  static constexpr size_t kActiveExpireKeysPerPassMax = 1000;
  // Buckets one cron pass moves per database while a table is rehashing.
  static constexpr size_t kCronRehashStepsPerPass = 100;

  Shard(int index, int databases);

  int index() const { return index_; }
  int databases() const { return static_cast<int>(dbs_.size()); }
  Db& db(int i) { return *dbs_[i]; }

  // WATCH support. A modified key marks every flag watching it dirty and drops them (a dirty
  // flag stays dirty, so there is no need to keep it registered).
  void Watch(int db, std::string_view key, std::shared_ptr<WatchFlag> flag);
  void Unwatch(int db, std::string_view key, const WatchFlag* flag);
  void KeyModified(int db, std::string_view key) {
    if (watch_count_ != 0) MarkWatchersDirty(db, key);
    if (blocked_count_ != 0) MarkReady(db, key);
  }
  // Every watched key of `db` (or of every db when db < 0) counts as modified (FLUSHDB/FLUSHALL).
  void AllKeysModified(int db);

  void OnKeyExpired(int db_index, std::string_view key) override;

  // Blocking. Block() queues `client` on `key`; a later KeyModified() on that key marks it ready;
  // TakeReadyKeys() hands the ready keys to the server, which serves their queues in order.
  void Block(int db, std::string_view key, std::shared_ptr<BlockedClient> client);
  void Unblock(int db, std::string_view key, const BlockedClient* client);
  bool has_ready_keys() const { return !ready_.empty(); }
  std::vector<std::pair<int, std::string>> TakeReadyKeys() { return std::move(ready_); }
  // The queue of clients blocked on `key` (claimed ones included; skip them). Null if none.
  std::deque<std::shared_ptr<BlockedClient>>* BlockedOn(int db, std::string_view key);
  // Drops the queue for `key` once it holds only claimed clients.
  void PruneBlocked(int db, std::string_view key);

  // One cron pass: active expiry (unless `expire` is false: a standby) and table maintenance.
  // Returns keys expired.
  size_t Cron(int64_t now_ms, bool expire = true);

  // Inventory deadlines. Each SKU with pending deadlines (reservations, admissions, tokens) is
  // filed under its earliest one, so the server's deadline timer can find what is due without
  // scanning. Entries of SKUs that were deleted or moved stay until due and are then dropped.
  // Files `sku` (at `key` of `db`) under its current NextDeadline(); returns that deadline.
  int64_t ScheduleSku(int db, std::string_view key, Sku& sku);
  // Removes and returns up to `max` due entries, earliest first.
  std::vector<std::pair<int, std::string>> TakeDueSkus(int64_t now_ms, size_t max);
  // The earliest filed deadline (0: none).
  int64_t next_sku_deadline_ms() const {
    return sku_deadlines_.empty() ? 0 : std::get<0>(*sku_deadlines_.begin());
  }

  // Request rates of this shard's SKUs (SKU.HOT).
  HotKeys hot_skus;

  RelaxedCounter expired_keys;
  // The LSN of the last logged write to this shard's data (0: none since start). A reply that
  // depends on this shard's data is held until this LSN is durable under appendfsync always, so
  // no client is shown a write that a crash could still take back (Redis gets the same from
  // fsyncing before any reply of the event-loop iteration). Touched only by the thread that may
  // touch the data.
  uint64_t last_write_lsn = 0;
  // Writes applied to this shard's keys since start (Redis's "dirty" counter, summed for INFO).
  RelaxedCounter changes;

 private:
  void MarkWatchersDirty(int db, std::string_view key);
  void MarkReady(int db, std::string_view key);

  int index_;
  std::vector<std::unique_ptr<Db>> dbs_;
  using Watchers = std::vector<std::shared_ptr<WatchFlag>>;
  std::vector<absl::flat_hash_map<std::string, Watchers>> watched_;  // per db
  size_t watch_count_ = 0;
  using BlockedQueue = std::deque<std::shared_ptr<BlockedClient>>;
  std::vector<absl::flat_hash_map<std::string, BlockedQueue>> blocked_;  // per db
  size_t blocked_count_ = 0;                                             // keys with a queue
  std::vector<std::pair<int, std::string>> ready_;  // keys written since the last serve
  absl::btree_set<std::tuple<int64_t, int, std::string>> sku_deadlines_;
};

}  // namespace stockd::storage
