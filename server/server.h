#pragma once
// The process-level server: listeners, the engine, clients, and the shutdown path.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/clients.h"
#include "server/config.h"
#include "server/engine.h"
#include "server/pubsub.h"
#include "server/replication.h"
#include "server/snapshotter.h"
#include "storage/wal.h"

namespace stockd::server {

class Server {
 public:
  explicit Server(Config* config);
  ~Server();

  // With appendonly, opens the WAL in <dir>/wal and replays it (recovery), then binds every `bind`
  // address on `port` (0 picks a free port) and starts the shard threads.
  bool Start(std::string* error);
  // Any thread: begin a graceful shutdown (stop accepting, close clients, stop threads).
  void RequestShutdown(const std::string& reason);
  // Blocks the calling (main) thread until shutdown completes.
  void WaitForShutdown();

  // Tests: the RocksDB Env the WAL uses (fault injection); set before Start, must outlive the
  // Server.
  void set_wal_env(rocksdb::Env* env) { wal_env_ = env; }

  uint16_t port() const { return port_; }
  Engine& engine() { return *engine_; }
  ClientRegistry& clients() { return clients_; }
  PubSub& pubsub() { return pubsub_; }
  Config& config() { return *config_; }
  const std::string& run_id() const { return run_id_; }
  int64_t start_time_ms() const { return engine_->start_time_ms(); }
  // Commands per second over the last ~1.6 s, sampled every 100 ms (INFO's
  // instantaneous_ops_per_sec).
  int64_t InstantaneousOps() const;

  // What startup recovery did (INFO persistence).
  struct Recovery {
    uint64_t snapshot_lsn = 0;  // the snapshot loaded (0: none)
    uint64_t snapshot_keys = 0;
    uint64_t replayed_records = 0;  // log records replayed after it
    int64_t ms = 0;                 // snapshot load plus replay
  };
  const Recovery& recovery() const { return recovery_; }
  // Snapshots (SAVE, BGSAVE, INFO persistence); nullptr when appendonly is off.
  Snapshotter* snapshotter() { return snapshotter_.get(); }
  // Replication (docs/replication.md); nullptr when appendonly is off.
  Replication* replication() { return replication_.get(); }

  static Server* FromEngine(Engine& e);

 private:
  // Opens the WAL, replays it into the shards (before their threads start, so the main thread
  // owns every shard's data) and wires its callbacks to the engine.
  bool OpenWal(std::string* error);
  // Replays the log from from_lsn (the one after the loaded snapshot's).
  bool ReplayWal(uint64_t from_lsn, std::string* error);
  // Every 100 ms on shard 0: takes a snapshot when the log has grown enough (Snapshotter::Due).
  void CheckAutoSnapshot();
  void Accept(size_t listener);
  void OnAccepted(size_t listener, asio::ip::tcp::socket socket, uint32_t thread);
  void SampleOps();
  // Closes clients idle for longer than `timeout` seconds (when set); runs once a second.
  void CloseIdleClients();

  Config* config_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<storage::Wal> wal_;         // appendonly yes; closed after the engine stops
  std::unique_ptr<Snapshotter> snapshotter_;  // with wal_; destroyed before it closes
  std::unique_ptr<Replication> replication_;  // with wal_; stopped before the engine
  std::unique_ptr<asio::steady_timer> snapshot_timer_;
  std::atomic<bool> auto_snapshot_pending_{false};
  Recovery recovery_;
  rocksdb::Env* wal_env_ = nullptr;
  ClientRegistry clients_;
  PubSub pubsub_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::steady_timer> ops_timer_;
  std::unique_ptr<asio::steady_timer> idle_timer_;
  uint32_t next_thread_ = 0;
  uint16_t port_ = 0;
  std::string run_id_;

  // Ops samples, written on shard 0's thread, read by INFO from any thread.
  static constexpr int kOpsSamples = 16;
  std::atomic<int64_t> ops_samples_[kOpsSamples] = {};
  int ops_sample_index_ = 0;
  uint64_t ops_last_total_ = 0;
  int64_t ops_last_ms_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_requested_ = false;
  bool shutdown_done_ = false;
};

}  // namespace stockd::server
