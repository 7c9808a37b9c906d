#pragma once
// Replication (docs/replication.md): a primary ships its write-ahead log to standbys; a standby
// applies the records as recovery does and writes them to its own log under the same LSNs.
//
// Threads. Every link is plain blocking socket I/O on threads of its own, so a slow or stalled
// peer never holds up a shard thread:
// - on the primary, each standby has a sender (reads the log from RocksDB, writes frames) and a
//   reader (takes the standby's acknowledgements);
// - a standby has one follower (connects, handshakes, reads frames, applies each batch with every
//   shard locked and appends it to its own log in the same step) and, while connected, an acker;
// - one cron thread runs the sync-mode state machine and reaps closed links.
// Role changes (REPLICAOF) and the status are guarded by mu_; the engine's reply gate and write
// refusal are atomics the shard threads read.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "replication/epochs.h"
#include "server/config.h"
#include "storage/wal.h"

namespace stockd::server {

class Engine;
class GroupApplier;
class ReplFrameReader;
class Snapshotter;

// An idle primary sends a heartbeat this often; a standby acknowledges at least this often.
inline constexpr std::chrono::milliseconds kReplHeartbeatInterval{1000};
// A standby whose link failed tries again after this long.
inline constexpr std::chrono::milliseconds kReplReconnectInterval{100};
// Connecting to a primary gives up after this long (then retries).
inline constexpr std::chrono::milliseconds kReplConnectTimeout{1000};
// How often the cron thread checks the sync mode's timeout (its resolution).
inline constexpr std::chrono::milliseconds kReplCronInterval{10};
// A sender writes once this many bytes of frames are buffered (or the log is read to its end).
inline constexpr size_t kReplSendBufferBytes = 256 << 10;  // bytes
// Records a standby applies under one lock of every shard (more wait for the next batch).
inline constexpr size_t kReplApplyBatchRecordsMax = 4096;
// The largest frame a standby accepts: one log record of the largest size, with room for the
// frame's own bytes. A larger one is a protocol error and drops the link.
inline constexpr size_t kReplFrameBytesMax = storage::kWalRecordPayloadBytesMax + (1 << 20);
// Record bytes a primary keeps in memory for its senders (Replication::OnBatch): a caught-up sender
// ships each batch from there while the primary's own sync of it runs, so the two syncs overlap
// instead of adding up. A sender further behind reads the log from RocksDB.
inline constexpr size_t kReplTailBytesMax = 64 << 20;  // bytes
// The largest frame a primary accepts from a standby (they send only REPLCONF ACK <lsn>), and a
// promoted node from its former primary (+OK): a peer cannot make it buffer more.
inline constexpr size_t kReplAckFrameBytesMax = 1024;  // bytes
// Standbys one primary serves at once; one more is refused with an error.
inline constexpr size_t kReplStandbysMax = 16;
// How long the promoted node waits for its former primary's answer to REPLCONF EPOCH.
inline constexpr std::chrono::milliseconds kReplFenceReplyTimeout{10'000};
// After a promotion, the former primary is told of the new epoch (fenced) for this long.
inline constexpr std::chrono::seconds kReplFenceRetry{60};

// Sync mode's state (INFO's repl_sync_state).
enum class SyncState { kAsync, kSync, kRefusing, kDegraded };
std::string_view SyncStateName(SyncState s);

struct StandbyStatus {
  std::string ip;
  int port = 0;             // its REPLSYNC listening port
  uint64_t acked_lsn = 0;   // the last LSN it acknowledged (durable there)
  int64_t last_ack_ms = 0;  // Unix ms
  bool streaming = false;   // past the handshake (and any snapshot)
};

struct ReplicationStatus {
  bool standby = false;
  uint64_t epoch = 0;
  uint64_t last_lsn = 0;  // master_repl_offset: the last LSN in this node's log
  // A primary.
  std::vector<StandbyStatus> standbys;
  SyncState sync_state = SyncState::kAsync;
  uint64_t acked_lsn = 0;  // the highest LSN a standby acknowledged in this term
  uint64_t fenced_by = 0;  // a newer epoch this node learned of (0: not fenced)
  std::string failover_state = "no-failover";  // Redis\'s master_failover_state
  // A standby.
  std::string master_host;
  int master_port = 0;
  std::string link_state;  // connect, connecting, sync, connected
  int64_t last_io_ms = 0;  // Unix ms of the last frame from the primary
  // Both.
  uint64_t cut_records = 0;  // records cut after a fork, since start
  uint64_t full_syncs = 0;   // snapshots received (standby) or sent (primary), since start
};

class Replication {
 public:
  Replication(Engine& engine, Config& config, storage::Wal& wal, Snapshotter& snapshotter);
  // Stop()s.
  ~Replication();
  Replication(const Replication&) = delete;
  Replication& operator=(const Replication&) = delete;

  // After recovery, before the shard threads start: loads the epoch history and, with the
  // `replicaof` directive, becomes a standby. False with *error if the history cannot be read.
  bool Load(std::string* error);
  // After the shard threads start: the cron thread and, for a standby, its follower.
  void Start();
  // Closes every link and joins every thread. Idempotent.
  void Stop();

  // REPLICAOF host port: becomes (or stays) a standby of host:port. Empty, or an error reply.
  std::string Follow(const std::string& host, int port);
  // REPLICAOF NO ONE: promotion. Empty, or an error reply.
  std::string Promote();
  // REPLSYNC, on a primary: answers the handshake on `fd` (now owned here) and streams to it.
  void ServeStandby(int fd, std::string ip, int listening_port, replication::EpochHistory standby,
                    uint64_t standby_last_lsn);
  // FAILOVER [TO host port] [TIMEOUT ms] [FORCE]: stops writes, waits until a standby (that one)
  // has every record, tells it to take over and follows it. Empty, or an error reply; the switch
  // itself happens after the reply (INFO's master_failover_state).
  std::string StartFailover(const std::string& host, int port, int64_t timeout_ms, bool force);
  // FAILOVER ABORT, before the standby was told to take over.
  std::string AbortFailover();
  // REPLCONF EPOCH n from a promoted former standby: fences this node if n is newer.
  void NoteEpoch(uint64_t epoch);

  // The port this node listens on, which a standby tells its primary (ROLE, INFO).
  void set_listening_port(int port);

  // WAIT: how many standbys have acknowledged `lsn`.
  int AckedCount(uint64_t lsn) const;
  // The log from this LSN on is kept for the standbys (Snapshotter's trim stops below it).
  uint64_t RetainFrom() const;
  // The WAL's written and durable callbacks (writer thread): wakes the senders (records to send)
  // and a standby's acker (its logged LSN moved).
  void OnWritten();
  // The WAL's batch callback (writer thread, before the batch is written): keeps a copy for the
  // senders while any standby is connected.
  void OnBatch(uint64_t first_lsn, const std::vector<std::string>& batch);

  ReplicationStatus status() const;

 private:
  struct Link;
  // Primary side.
  void RunSender(Link& link, replication::EpochHistory standby, uint64_t standby_last_lsn);
  void RunReader(Link& link);
  bool SendSnapshot(Link& link, uint64_t* next_lsn, std::string* error);
  // Appends LOG frames for the records from `next` on that the tail holds (up to a send buffer's
  // worth) and returns the LSN after the last one; `next` when the tail does not hold it.
  uint64_t CopyFromTail(uint64_t next, std::string* out);
  // Standby side.
  // A record received from the primary, before it is applied.
  struct Received {
    uint64_t lsn;
    std::string bytes;
  };
  void RunFollower(uint64_t generation);
  // One connection to the primary: handshake, then frames until it fails or the role changes.
  void FollowLink(uint64_t generation, int fd, const std::string& host, int port);
  // Sends REPLSYNC and acts on the answer (cut, full sync). False with *error: the link is over.
  bool Handshake(uint64_t generation, int fd, ReplFrameReader& reader, const std::string& host,
                 int port, std::string* error);
  bool ReceiveFullSync(uint64_t generation, ReplFrameReader& reader,
                       const replication::EpochHistory& primary, std::string* error);
  // Applies and logs a batch with every shard locked.
  bool ApplyReceived(uint64_t generation, std::vector<Received>& batch, GroupApplier& applier,
                     std::string* error);
  // With every shard locked: replaces the data with the newest snapshot plus the log after it.
  bool RebuildLocked(std::string* error);
  // Sends REPLCONF ACK whenever the logged LSN moves, and at least every heartbeat.
  void RunAcker(int fd, const std::atomic<bool>& alive);
  void RunFencer(std::string host, int port, uint64_t epoch, uint64_t generation);
  // The cron thread: sync state, reaping links.
  void RunCron();
  void UpdateSyncState();
  // FAILOVER: the sender asks whether to send PROMOTE now (once); the cron finishes or aborts.
  bool FailoverReady(Link& link, uint64_t sent_lsn);
  void UpdateFailover();
  void EndFailoverLocked(std::string_view why);
  // Fences this primary (writes refused) after learning of `epoch`.
  void Fence(uint64_t epoch);
  // Closes every link to standbys (on becoming a standby).
  void CloseLinks();
  // Sets the engine's write refusal and reply gate for the current role and state (mu_ held).
  void ApplyRoleLocked();
  bool following(uint64_t generation) const;

  Engine& engine_;
  Config& config_;
  storage::Wal& wal_;
  Snapshotter& snapshotter_;

  mutable std::mutex mu_;
  replication::EpochHistory history_;
  bool standby_ = false;
  std::string master_host_;
  int master_port_ = 0;
  uint64_t generation_ = 0;  // bumped at every role change: an old follower stops
  std::string link_state_ = "connect";
  std::atomic<int64_t> last_io_ms_{0};
  uint64_t fenced_by_ = 0;
  std::atomic<SyncState> sync_state_{SyncState::kAsync};
  uint64_t written_at_last_tick_ = 0;
  int follower_fd_ = -1;  // the follower's socket, shut down to stop it at once
  std::atomic<int> listening_port_{0};
  int64_t last_progress_ms_ = 0;  // the last time nothing waited for an acknowledgement
  std::atomic<uint64_t> acked_lsn_{0};
  std::list<std::shared_ptr<Link>> links_;
  std::vector<std::thread> followers_;  // at most one runs; the others are finishing
  std::vector<std::thread> fencers_;    // the newest runs; older ones are finishing
  std::atomic<uint64_t> fence_generation_{0};
  // FAILOVER in progress (mu_): the standby taking over, the deadline (0: none), FORCE.
  Link* failover_link_ = nullptr;
  int64_t failover_deadline_ms_ = 0;
  bool failover_force_ = false;
  bool failover_promote_sent_ = false;
  std::atomic<bool> failover_pending_{false};
  std::atomic<uint64_t> cut_records_{0};
  std::atomic<uint64_t> full_syncs_{0};

  // The tail of the log for the senders: contiguous LSNs, at most kReplTailBytesMax bytes.
  std::mutex tail_mu_;
  std::deque<std::pair<uint64_t, std::string>> tail_;
  size_t tail_bytes_ = 0;
  std::atomic<bool> has_links_{false};

  // Wakes senders (new records) and the acker (durable LSN moved).
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t wake_seq_ = 0;

  std::atomic<bool> stopping_{false};
  std::thread cron_;
};

}  // namespace stockd::server
