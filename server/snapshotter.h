#pragma once
// Snapshots of the whole keyspace (docs/durability.md, docs/wal.md "Snapshots"): taken by SAVE,
// BGSAVE, BGREWRITEAOF and automatically as the log grows; the newest is loaded at startup and
// only the log after it is replayed, and the log before it is trimmed.
//
// Taking one has two steps. Capture runs with every shard locked (the command is flagged global,
// or the automatic trigger locks every shard): it serializes the keyspace into memory and notes
// the WAL's last assigned LSN. Because every write appends its record in the same step that
// applies it, the captured state is exactly the log up to that LSN. That is the pause, measured
// and reported (snapshot_last_pause_us). Write then waits until that LSN is durable (a snapshot
// must never get ahead of the log it summarizes), writes one SST file and ingests it, drops older
// snapshots and trims the log: on the caller's thread for SAVE (which, as in Redis, blocks the
// server), or on a background thread for BGSAVE.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/config.h"
#include "storage/snapshot.h"
#include "storage/wal.h"

namespace stockd::server {

class Engine;

// What INFO persistence reports about snapshots.
struct SnapshotStatus {
  bool in_progress = false;
  int64_t current_started_ms = 0;  // while in progress
  bool last_ok = true;             // no snapshot attempted yet counts as ok, as in Redis
  std::string last_error;
  int64_t last_save_ms = 0;  // last successful snapshot (Unix ms); startup time before any
  uint64_t lsn = 0;          // LSN of the newest snapshot (loaded or taken); 0: none
  uint64_t keys = 0;
  uint64_t bytes = 0;
  uint64_t last_pause_us = 0;          // the capture of the last snapshot taken
  uint64_t last_write_ms = 0;          // its write (wait for the LSN, SST, ingest, trim)
  uint64_t saves = 0;                  // snapshots taken since start
  uint64_t wal_bytes_at_snapshot = 0;  // the WAL's byte counter when the newest was captured
  uint64_t changes_at_snapshot = 0;    // the changes counter then
};

class Snapshotter {
 public:
  Snapshotter(Engine& engine, Config& config, storage::Wal& wal);
  // Waits for a background write in progress.
  ~Snapshotter();
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // Before the shard threads start: loads the newest snapshot into the shards. *lsn is its LSN
  // (0 when there is none). False with *error when a snapshot exists but cannot be loaded.
  bool Load(uint64_t* lsn, std::string* error);

  // With every shard locked: captures the keyspace, then writes it now (background false) or on
  // the background thread. False with *error (a Redis-style error text) when a snapshot is already
  // in progress, the WAL has failed, or (SAVE) the write failed.
  bool Take(bool background, std::string* error);

  // Recovery replayed `bytes` of log records after the snapshot: they count as log growth.
  void NoteReplayed(uint64_t bytes);
  // The log from this LSN on must be kept (replication's standbys still need it): a snapshot
  // trims only below it. Set before the shard threads start.
  void set_retain_from(std::function<uint64_t()> fn) { retain_from_ = std::move(fn); }
  // BGSAVE SCHEDULE while one is in progress: the automatic trigger takes one once it ends.
  void Schedule() { scheduled_.store(true, std::memory_order_relaxed); }

  // The automatic trigger: true when no snapshot is in progress and one was scheduled, or the log
  // has grown by at least auto-aof-rewrite-min-size bytes and by at least
  // auto-aof-rewrite-percentage % of the newest snapshot's size since it was captured (Redis's
  // meaning for its AOF rewrite).
  bool Due() const;

  SnapshotStatus status() const;

 private:
  struct Image {
    storage::SnapshotInfo info;
    std::vector<std::vector<std::string>> chunks;  // per shard
  };
  // Waits for the LSN, writes, drops older snapshots, trims. Updates the status.
  bool Write(Image image, std::string* error);
  uint64_t Changes() const;
  // The log's bytes: written since start plus replayed at startup.
  uint64_t WalBytes() const { return wal_.stats().bytes + replayed_bytes_; }

  Engine& engine_;
  Config& config_;
  storage::Wal& wal_;
  mutable std::mutex mu_;  // guards status_ and the thread handle
  SnapshotStatus status_;
  std::thread writer_;
  uint64_t replayed_bytes_ = 0;  // set before the shard threads start
  std::atomic<bool> scheduled_{false};
  std::function<uint64_t()> retain_from_;
};

}  // namespace stockd::server
