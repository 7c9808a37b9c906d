#pragma once
// The engine: shard threads, the data each owns, and how work reaches a shard.
//
// Threads. One thread per shard, each running its own boost::asio::io_context. A shard's data
// is touched only by its thread, except while the shard is *locked* (below). Client connections
// are spread over the same threads; a command whose keys all live on the connection's own
// shard runs inline, otherwise it is posted to the owning shard and its reply posted back.
//
// Locking, for commands over several shards (MSET, MULTI/EXEC, RENAME, FLUSHALL, ...).
// RunLocked acquires the shards one after another in ascending index order, each on its own
// thread: acquiring a shard means running a task there that marks it locked. While locked, the
// shard's thread runs no data task: new ones wait in its deferred queue, in order. When the last
// shard is acquired the body runs on that thread and may touch every locked shard's data; then
// every shard is unlocked on its own thread and drains its deferred queue. No thread ever
// blocks waiting, and ascending order rules out deadlock; a waiting acquire keeps its place in
// the deferred queue, so nothing starves.
#include <absl/functional/any_invocable.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "server/command.h"
#include "server/config.h"
#include "storage/key_hash.h"
#include "storage/shard.h"

namespace stockd::storage {
class Wal;
}  // namespace stockd::storage

namespace stockd::server {

using Task = absl::AnyInvocable<void()>;
// Runs once a waited-for LSN is logged as appendfsync requires before a reply (Engine::logged_lsn)
// (true), or once the WAL has failed and it never will be (false).
using LoggedTask = absl::AnyInvocable<void(bool logged)>;
namespace asio = boost::asio;

// Per-command statistics (INFO commandstats), one block per thread.
struct CommandStats {
  storage::RelaxedCounter calls;
  storage::RelaxedCounter usec;
  storage::RelaxedCounter rejected_calls;  // refused before running (arity, auth, ...)
  storage::RelaxedCounter failed_calls;    // ran and replied with an error
};

// Counters a thread owns; INFO sums them over threads.
struct ThreadStats {
  explicit ThreadStats(uint32_t command_ids) : commands(command_ids) {}
  std::vector<CommandStats> commands;
  storage::RelaxedCounter total_commands_processed;
  storage::RelaxedCounter total_connections_received;
  storage::RelaxedCounter rejected_connections;
  storage::RelaxedCounter net_input_bytes;
  storage::RelaxedCounter net_output_bytes;
  storage::RelaxedCounter keyspace_hits;
  storage::RelaxedCounter keyspace_misses;
  storage::RelaxedCounter total_error_replies;
  storage::RelaxedCounter unexpected_error_replies;
  storage::RelaxedCounter connected_clients;  // live connections on this thread
  storage::RelaxedCounter blocked_clients;    // of which waiting in a blocking command
};

class ShardThread {
 public:
  ShardThread(uint32_t index, int databases, uint32_t command_ids);
  ShardThread(const ShardThread&) = delete;

  uint32_t index() const { return index_; }
  asio::io_context& io() { return io_; }
  storage::Shard& data() { return data_; }
  ThreadStats& stats() { return stats_; }

  // True when called from this shard's thread.
  bool IsCurrent() const { return current_ == this; }
  static ShardThread* Current() { return current_; }

  // From any thread: runs `task` on this shard's thread once the shard is not locked. Always
  // posts (never runs inline), so a caller's stack never re-enters.
  void Submit(Task task);

  // On this shard's thread only.
  bool locked() const { return locked_; }
  void RunOrDefer(Task task);
  void Lock();
  void Unlock();

 private:
  friend class Engine;
  static thread_local ShardThread* current_;

  uint32_t index_;
  asio::io_context io_;
  storage::Shard data_;
  ThreadStats stats_;
  bool locked_ = false;
  std::deque<Task> deferred_;  // data tasks waiting for the lock to be released, in order
  // Tasks waiting for their LSN to be logged (Engine::WaitLogged), on this thread only; the flag
  // tells the WAL writer thread whether a wake-up is worth posting.
  struct LoggedWaiter {
    uint64_t lsn;
    LoggedTask task;
  };
  std::vector<LoggedWaiter> logged_waiters_;
  std::atomic<bool> logged_waiting_{false};
  // The inventory deadline timer (Engine::WakeDeadlineTimer) and the time it is set for (0: not
  // set). Written on this thread; read from any thread to skip needless wake-ups.
  std::unique_ptr<asio::steady_timer> deadline_timer_;
  std::atomic<int64_t> deadline_armed_ms_{0};
};

class Engine {
 public:
  Engine(Config* config, uint32_t shards);
  ~Engine();

  Config& config() { return *config_; }
  uint32_t shard_count() const { return static_cast<uint32_t>(shards_.size()); }
  ShardThread& shard(uint32_t i) { return *shards_[i]; }
  uint32_t ShardOf(std::string_view key) const {
    return shard_count() == 1 ? 0 : storage::ShardOfKey(key, shard_count());
  }

  // Starts one thread per shard (each runs its io_context until Stop) and their crons.
  void Start();
  // Asks every thread to stop after its current handler and waits for them.
  void Stop();
  bool stopping() const { return stopping_; }

  // Runs `body` with every shard in `shards` locked (see the file comment), then posts `done`
  // to `reply_to`. `shards` must be sorted ascending, without duplicates, non-empty.
  void RunLocked(std::vector<uint32_t> shards, Task body, asio::io_context& reply_to, Task done);
  std::vector<uint32_t> AllShards() const;

  // Inventory deadlines (reservation and admission timeouts, storage::Shard::ScheduleSku): each
  // shard has a timer set for its earliest filed deadline; when it fires, `handler` runs on the
  // shard's thread (deferred while the shard is locked, like any data task), then the timer is
  // set for the next one. Set the handler before Start.
  using DeadlineHandler = void (*)(Engine& engine, uint32_t shard, int64_t now_ms);
  void set_deadline_handler(DeadlineHandler h) { deadline_handler_ = h; }
  // From any thread: shard `i` has a deadline at `at_ms`; makes its timer fire no later. Before
  // Start it does nothing (recovery files millions of deadlines): Start sets every shard's timer
  // for its earliest filed deadline.
  void WakeDeadlineTimer(uint32_t i, int64_t at_ms);

  // How far a write's record must get before a reply that depends on it goes out (the writer's
  // own reply, and any reply showing its effect). Redis writes the AOF before replying in every
  // appendfsync mode; so does stockd.
  enum class ReplyGate {
    kNone,     // appendonly no: nothing is logged
    kWritten,  // everysec, no: handed to RocksDB (out of the process: a kill -9 cannot lose it)
    kDurable,  // always: synced (a power loss cannot lose it)
  };
  // The write-ahead log, or nullptr when appendonly is off. Set by the Server before Start and
  // outlives the shard threads.
  void set_wal(storage::Wal* wal, ReplyGate gate) {
    wal_ = wal;
    reply_gate_ = wal != nullptr ? gate : ReplyGate::kNone;
  }
  storage::Wal* wal() const { return wal_; }
  // Replies to writes, and replies showing writes, wait for their records (WaitLogged).
  bool hold_replies() const { return reply_gate_ != ReplyGate::kNone; }
  // The highest LSN whose replies may go out: durable_lsn under kDurable, written_lsn otherwise.
  uint64_t logged_lsn() const;
  // Replication's part of the gate (server/replication.h): under repl-ack sync, replies also wait
  // until a standby has acknowledged their LSN. UINT64_MAX (the default) lets everything through;
  // call NotifyLogged after raising it.
  void set_repl_gate_lsn(uint64_t lsn) { repl_gate_lsn_.store(lsn, std::memory_order_release); }
  // On s's thread: runs `task` on that thread once logged_lsn() >= lsn (or the WAL failed). Never
  // runs it inline.
  void WaitLogged(ShardThread& s, uint64_t lsn, LoggedTask task);
  // Any thread (the WAL writer's on_written / on_durable / on_failed): wakes the shards that have
  // waiters.
  void NotifyLogged();
  // Any thread: every waiter now pending runs with false, as after a WAL failure (the writing
  // clients are closed: their outcome is unknown). A primary that becomes a standby, whose
  // unacknowledged records may be cut, must never release those replies. Posted to each shard
  // ahead of any wake-up posted after it.
  void DropLoggedWaiters();

  // A standby (docs/replication.md): writes come only from its primary's log, so the node runs no
  // active expiry and no SKU deadline timer (they would change data the primary's records change),
  // and reads do not delete expired keys. Any thread.
  bool standby() const { return standby_.load(std::memory_order_acquire); }
  void set_standby(bool standby) { standby_.store(standby, std::memory_order_release); }
  // Why client writes are refused right now (a standby, a fenced primary, sync replication with no
  // standby): the full error reply text, or empty when writes are accepted. Any thread; the
  // check on the write path is one relaxed load.
  bool writes_refused() const { return writes_refused_.load(std::memory_order_relaxed); }
  std::string write_refusal() const;
  void set_write_refusal(std::string error);

  // Wall-clock time, as the command path uses it for expiry (absolute Unix ms).
  static int64_t NowMs();
  static int64_t NowUs();
  int64_t start_time_ms() const { return start_time_ms_; }

  // Bytes allocated (jemalloc's stats.allocated), refreshed by shard 0's cron: cheap to read on
  // every command that checks maxmemory.
  uint64_t used_memory_bytes() const { return used_memory_bytes_.load(std::memory_order_relaxed); }
  // Reads the allocator's current figure now (slow: refreshes jemalloc's statistics).
  static uint64_t AllocatorStat(const char* name);

 private:
  struct LockedRun;
  void AcquireNext(std::shared_ptr<LockedRun> run);
  void StartCron(ShardThread& s);
  // The shard thread's event loop (see shard-busy-poll-us in docs/configuration.md).
  void RunLoop(ShardThread& s);
  // Runs the shard's cron (active expiry, table maintenance) `hz` times a second.
  void ArmCron(ShardThread& s, asio::steady_timer& timer);
  // On the shard's thread, not locked: sets the deadline timer for the earliest deadline.
  void ArmDeadlineTimer(ShardThread& s);
  // On s's thread: runs the waiters whose LSN is logged (all of them, with false, if the WAL
  // failed).
  void RunLoggedWaiters(ShardThread& s);

  Config* config_;
  std::vector<std::unique_ptr<ShardThread>> shards_;
  std::vector<std::thread> threads_;
  std::atomic<bool> started_{false};  // Start has run: deadline wake-ups go to the shard threads
  std::vector<std::unique_ptr<asio::steady_timer>> crons_;
  bool stopping_ = false;
  int64_t start_time_ms_;
  std::atomic<uint64_t> used_memory_bytes_{0};
  DeadlineHandler deadline_handler_ = nullptr;
  storage::Wal* wal_ = nullptr;
  ReplyGate reply_gate_ = ReplyGate::kNone;
  std::atomic<uint64_t> repl_gate_lsn_{UINT64_MAX};
  std::atomic<bool> standby_{false};
  std::atomic<bool> writes_refused_{false};
  mutable std::mutex refusal_mu_;
  std::string write_refusal_;  // guarded by refusal_mu_
};

}  // namespace stockd::server
