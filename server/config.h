#pragma once
// Server configuration: redis.conf syntax and names where Redis has the directive.
//
// Sources, in order: an optional config file, then "--directive value..." arguments (each
// becomes one more config line, as redis-server does). Any unknown or malformed directive stops
// startup with a message naming the directive and the line.
//
// Thread-safety: directives that CONFIG SET may change at runtime are atomics (or guarded by a
// mutex, for strings) and may be read from any thread; the others are fixed after startup.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stockd::server {

// Limits with units, as named constants (see docs/configuration.md).
inline constexpr int kDatabasesMax = 1024;      // `databases` upper bound
inline constexpr int kShardsMax = 256;          // `shards` upper bound
inline constexpr int kMaxClientsMax = 1000000;  // `maxclients` upper bound
inline constexpr int kHzMax = 500;              // `hz` upper bound (Redis: CONFIG_MAX_HZ)
inline constexpr int kBusyPollUsMax = 1000;     // `shard-busy-poll-us` upper bound
// `auto-aof-rewrite-percentage` upper bound (Redis accepts any int; beyond this it means "never").
inline constexpr int kAutoAofRewritePercentageMax = 1'000'000;  // percent

// appendfsync: when a logged write counts as durable (Redis's values; docs/configuration.md).
enum class AppendFsync { kAlways, kEverySec, kNo };

// repl-ack and repl-sync-fallback (docs/replication.md, "Modes").
enum class ReplAck : int { kAsync, kSync };
enum class ReplSyncFallback : int { kRefuse, kAsync };

struct Config {
  // Fixed after startup.
  // The write-ahead log (docs/wal.md), a RocksDB database in <dir>/wal. On by default: a server
  // started without configuration keeps what it acknowledged.
  bool appendonly = true;
  AppendFsync appendfsync = AppendFsync::kAlways;
  std::vector<std::string> bind = {"127.0.0.1"};
  int port = 6379;
  std::string dir = ".";
  int databases = 16;
  int shards = 0;       // 0: one per hardware core
  std::string logfile;  // empty: stdout
  std::string pidfile;
  int tcp_backlog = 511;
  std::string config_file;  // absolute path of the file read at startup, if any

  // Changeable at runtime with CONFIG SET.
  std::atomic<int> maxclients{10000};
  std::atomic<bool> protected_mode{true};
  std::atomic<int64_t> proto_max_bulk_len{512LL * 1024 * 1024};          // bytes
  std::atomic<int64_t> client_query_buffer_limit{1024LL * 1024 * 1024};  // bytes
  std::atomic<int> hz{10};              // cron passes per second per shard
  std::atomic<int> timeout{0};          // idle client timeout, seconds; 0 = never
  std::atomic<int> tcp_keepalive{300};  // seconds
  // Bytes of allocated memory above which commands that may grow memory (flag denyoom) are
  // refused with -OOM; 0 = no limit. Only the noeviction policy exists: nothing is evicted.
  std::atomic<int64_t> maxmemory{0};
  // Automatic snapshots (docs/durability.md), Redis's AOF-rewrite directives with their meaning:
  // a snapshot is taken once the log written since the last one is at least min-size bytes and at
  // least percentage % of that snapshot's size. percentage 0 disables automatic snapshots.
  std::atomic<int> auto_aof_rewrite_percentage{100};                   // percent
  std::atomic<int64_t> auto_aof_rewrite_min_size{64LL * 1024 * 1024};  // bytes
  // Microseconds a shard thread keeps polling for work before it sleeps (0 = sleep at once).
  std::atomic<int> shard_busy_poll_us{20};
  // Replication (docs/replication.md). `replicaof` is read at startup (REPLICAOF changes the role
  // at runtime; ROLE and INFO report it); the others may change at runtime.
  std::string replicaof_host;  // empty: start as a primary
  int replicaof_port = 0;
  std::atomic<ReplAck> repl_ack{ReplAck::kAsync};
  std::atomic<int> repl_sync_timeout{10000};  // milliseconds
  std::atomic<ReplSyncFallback> repl_sync_fallback{ReplSyncFallback::kRefuse};
  std::atomic<int> repl_timeout{60};  // seconds

  std::string requirepass() const {
    std::lock_guard lock(mu_);
    return requirepass_;
  }
  void set_requirepass(std::string p) {
    std::lock_guard lock(mu_);
    requirepass_ = std::move(p);
  }

  // Applies one directive with its arguments. Returns false with *error set (the message
  // without the file/line context) when the directive is unknown or its value is bad.
  // `at_runtime` refuses directives that cannot change while running.
  bool Apply(std::string_view name, std::span<const std::string> values, bool at_runtime,
             std::string* error);
  // Names of every directive matching a glob pattern, with their current value, in table order.
  std::vector<std::pair<std::string, std::string>> Get(std::string_view pattern) const;

  // Reads startup configuration from argv (program name excluded). On error returns false with
  // a multi-line message for stderr in redis-server's format.
  bool LoadFromArgs(std::span<const std::string> args, std::string* error);

  int EffectiveShards() const;
  // <dir>/wal: where the WAL lives.
  std::string WalDir() const { return dir + "/wal"; }

 private:
  mutable std::mutex mu_;
  std::string requirepass_;
};

// Splits a config line as Redis's sdssplitargs does (quotes and escapes). Returns false on
// unbalanced quotes.
bool SplitConfigLine(std::string_view line, std::vector<std::string>* out);

}  // namespace stockd::server
