#pragma once
// One client connection: reads requests, runs them through dispatch, writes replies in request
// order. Lives on one thread (its "home" shard thread) for its whole life.
//
// Pipelining. All complete requests in the read buffer are parsed into a batch (views into the
// buffer, which is not touched again until the batch is done). The batch runs in *segments*: a
// segment is a run of consecutive commands each of whose keys live on a single shard. A segment
// is split by shard; the home shard's part runs inline, every other part is posted to its shard
// as one task, and the replies are merged back in request order. Commands on one shard keep
// their order; commands on different shards touch different keys, and the client has seen no
// reply to any of them yet, so running them concurrently is indistinguishable from running them
// in order. Anything else (connection commands, multi-shard and global commands, MULTI
// queueing, errors) is a *barrier*: it waits for the segment before it and runs alone.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "protocol/reply_builder.h"
#include "protocol/resp_parser.h"
#include "server/blocking.h"
#include "server/command.h"
#include "server/engine.h"
#include "storage/shard.h"

namespace stockd::server {

class ClientRegistry;

// Per-connection limits (docs/configuration.md).
// Bytes read per read(2) at least; the buffer grows beyond it for large requests.
inline constexpr size_t kReadChunkBytes = 16 * 1024;
// Commands parsed into one batch at most; the rest wait in the buffer for the next batch.
inline constexpr size_t kPipelineBatchCommandsMax = 1024;
// Replies waiting to be written above which the connection stops reading until they drain
// (back-pressure instead of unbounded memory for a client that does not read).
inline constexpr size_t kOutputPendingBytesPauseReading = 64 * 1024 * 1024;
// Commands MULTI may queue before EXEC (each queued command is a copy of its arguments).
inline constexpr size_t kMultiQueuedCommandsMax = 100000;

// Fields other threads read (CLIENT LIST, CLIENT INFO, INFO clients).
struct ClientInfo {
  uint64_t id = 0;
  std::string addr, laddr;
  int fd = -1;
  int64_t created_ms = 0;
  std::atomic<int64_t> last_interaction_ms{0};
  std::atomic<int> db{0};
  std::atomic<int> resp{2};
  std::atomic<int> multi{-1};  // queued commands, or -1 outside MULTI
  std::atomic<size_t> qbuf{0};
  std::atomic<size_t> omem{0};
  std::atomic<const CommandSpec*> last_cmd{nullptr};
  std::atomic<uint32_t> home{0};
  std::atomic<size_t> channels{0}, patterns{0};  // pub/sub subscriptions
  std::atomic<bool> subscribed{false};

  mutable std::mutex mu;  // guards the strings below
  std::string name, lib_name, lib_ver;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Engine& engine, ShardThread& home, asio::ip::tcp::socket socket,
             ClientRegistry& registry);
  ~Connection();

  void Start();
  // Any thread: close this connection (CLIENT KILL, SHUTDOWN).
  void Kill();

  const ClientInfo& info() const { return info_; }
  ClientInfo& info() { return info_; }
  uint64_t id() const { return info_.id; }
  ShardThread& home() { return home_; }
  Engine& engine() { return engine_; }
  std::string DescribeForList() const;  // one CLIENT LIST line, without the newline

  // Client state for connection commands (home thread, or while quiescent).
  int db_index() const { return db_index_; }
  void set_db_index(int db) {
    db_index_ = db;
    info_.db = db;
  }
  int resp_version() const { return resp_version_; }
  void set_resp_version(int v) {
    resp_version_ = v;
    info_.resp = v;
  }
  bool authenticated() const { return authenticated_; }
  void set_authenticated(bool a) { authenticated_ = a; }
  // QUIT: reply, flush, then close.
  void CloseAfterReply() { close_after_write_ = true; }
  // REPLSYNC: once this batch's replies are written, the socket leaves the connection (which
  // closes as a client, without touching the socket) and `fn` gets it as a blocking descriptor.
  void HandOff(std::function<void(int fd)> fn) { hand_off_ = std::move(fn); }
  // The LSN of this client's last logged write (WAIT); 0 when it wrote nothing.
  uint64_t last_write_lsn() const { return last_write_lsn_; }

  // MULTI/EXEC state.
  struct QueuedCommand {
    const CommandSpec* spec;
    std::vector<std::string> args;
  };
  bool in_multi() const { return in_multi_; }
  void BeginMulti();
  // Leaves MULTI (EXEC or DISCARD) and clears the queue and WATCH.
  void EndMulti();
  std::vector<QueuedCommand>& queued() { return queued_; }
  bool multi_aborted() const { return multi_error_; }

  // WATCH state: the flag every watched key's shard marks on change, and the keys (db, key).
  std::shared_ptr<storage::WatchFlag>& watch_flag() { return watch_flag_; }
  std::vector<std::pair<int, std::string>>& watched_keys() { return watched_keys_; }
  // Drops every WATCH (posts the unregistration to the shards).
  void UnwatchAll();

  // Pub/sub. The sets are the client's subscriptions (home thread, or while quiescent).
  std::set<std::string, std::less<>>& channels() { return channels_; }
  std::set<std::string, std::less<>>& patterns() { return patterns_; }
  size_t subscriptions() const { return channels_.size() + patterns_.size(); }
  // Drops every subscription (RESET, close).
  void LeavePubSub();
  // Any thread: queue a published message for this client (a push in RESP3, an array in RESP2).
  void DeliverMessage(std::string_view channel, std::string_view message);
  void DeliverPMessage(std::string_view pattern, std::string_view channel,
                       std::string_view message);

  // Blocking (server/blocking.h). Block() is called by a blocking command's handler that found
  // nothing: no reply is written, and the connection answers nothing else until Wake() (from the
  // serving shard) or the deadline (absolute ms; 0 = none).
  void Block(std::shared_ptr<BlockedCommand> command, int64_t deadline_ms);
  // Any thread: the blocked command is answered with `reply`, or (retry) must run again.
  void Wake(std::string reply, bool retry);
  // Any thread running this connection's command (or serving it while blocked): the batch's
  // replies depend on a record at `lsn` (UINT64_MAX: one that could not be logged).
  void NoteLsn(uint64_t lsn);
  // Notes the LSN of another client's write that a reply of this batch shows (the reply is held
  // until that record is logged: Engine::ReplyGate).
  void NoteSeenLsn(uint64_t lsn);

  // Runs one command in the current thread and context (the thread must own, or hold locked,
  // the command's shards), with stats. Used by dispatch and by EXEC for queued commands.
  void Execute(const CommandSpec& spec, CmdArgs args, protocol::ReplyBuilder& rb, int64_t now_ms);

 private:
  enum class PlanKind { kReply, kQueue, kInline, kShard, kLocked };
  struct Plan {
    PlanKind kind;
    uint32_t shard = 0;            // kShard
    std::vector<uint32_t> shards;  // kLocked
    std::string error;             // kReply (full error text, without '-')
    const CommandSpec* spec = nullptr;
  };
  struct SegmentCommand {
    uint32_t batch_index;
    uint32_t shard;
    const CommandSpec* spec;
  };
  struct Group {
    std::vector<uint32_t> members;  // indexes into segment_
    std::string out;
    std::vector<size_t> ends;  // end offset in `out` of each member's reply
  };
  struct Parsed {
    uint32_t arg_begin;
    uint32_t arg_count;
  };

  void DoRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void ParseBatch();
  void RunBatch();
  void FinishBatch();
  // The end of FinishBatch once the batch's replies may go out: write, then read or parse more.
  void ContinueAfterBatch();
  // out_ holds replies to writes that are not logged yet (Engine::ReplyGate), so nothing is
  // written (home thread).
  bool HoldingOutput() const;
  void DoWrite();
  void CloseNow();
  // Home thread: start the timeout and the disconnect watch of a command that just blocked.
  void ArmBlock();
  void OnBlockTimeout();
  // Closing as a client (registry, watches, subscriptions, a blocked command), socket aside.
  void Forget();
  // ContinueAfterBatch after REPLSYNC: gives the socket to hand_off_.
  void HandOffSocket();
  void Unregister(const std::shared_ptr<BlockedCommand>& command);
  // Appends `push` (complete RESP) to the output and starts a write (home thread).
  void AppendPush(const std::string& push);

  Plan MakePlan(CmdArgs args);
  bool ShardsOf(const CommandSpec& spec, CmdArgs args, std::vector<uint32_t>* shards);
  bool ExecShards(std::vector<uint32_t>* shards);
  // Runs the pending segment. Returns true if it completed synchronously.
  bool FlushSegment();
  void RunGroup(Group& g, int64_t now_ms);
  // Prefetches the hash-table buckets, then nodes, of the first key of segment_[members[i]].
  void PrefetchKeys(uint32_t shard, const uint32_t* members, size_t count);
  void MergeSegment();
  // Runs a barrier command. Returns true if it completed synchronously.
  bool RunBarrier(CmdArgs args, Plan& plan);
  CmdArgs ArgsOf(uint32_t batch_index) const {
    const Parsed& p = batch_[batch_index];
    return CmdArgs(argv_.data() + p.arg_begin, p.arg_count);
  }

  Engine& engine_;
  ShardThread& home_;
  asio::ip::tcp::socket socket_;
  ClientRegistry& registry_;
  ClientInfo info_;

  // Input.
  std::vector<char> rbuf_;
  size_t rbegin_ = 0, rend_ = 0;  // unconsumed bytes are [rbegin_, rend_)
  protocol::RespParser parser_;
  std::vector<std::string_view> argv_;
  std::deque<std::string> inline_args_;  // owned copies of inline commands' arguments
  std::vector<Parsed> batch_;
  size_t batch_next_ = 0;
  size_t parsed_until_ = 0;
  std::string protocol_error_;
  bool more_input_ = false;  // the batch stopped at kPipelineBatchCommandsMax

  // Execution.
  Plan plan_;  // the plan of batch_[batch_next_] when plan_ready_
  bool plan_ready_ = false;
  std::vector<SegmentCommand> segment_;
  std::vector<Group> groups_;  // one per shard
  int pending_ = 0;
  std::string barrier_out_;

  // Durability. The highest LSN this batch's writes were logged at (0: none): set from whichever
  // shard thread ran the write, read on the home thread after the merge.
  std::atomic<uint64_t> batch_lsn_{0};
  std::atomic<uint64_t> batch_seen_lsn_{0};  // the highest LSN its replies show (NoteSeenLsn)
  bool waiting_logged_ = false;  // the finished batch's replies wait for its LSN to be logged
  // While EXEC runs its queued commands: their records, appended as one MULTI ... EXEC group.
  bool exec_logging_ = false;
  std::vector<std::string> exec_records_;
  std::vector<uint32_t> exec_shards_;  // the shards those records wrote to

  // Output.
  std::string out_;
  std::string writing_;
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool busy_ = false;  // a batch is running
  bool close_after_write_ = false;
  std::function<void(int fd)> hand_off_;
  uint64_t last_write_lsn_ = 0;
  bool closed_ = false;

  // Client state.
  int db_index_ = 0;
  int resp_version_ = 2;
  bool authenticated_ = false;
  bool in_multi_ = false;
  bool multi_error_ = false;
  std::vector<QueuedCommand> queued_;
  std::shared_ptr<storage::WatchFlag> watch_flag_;
  std::vector<std::pair<int, std::string>> watched_keys_;
  std::set<std::string, std::less<>> channels_, patterns_;

  // Blocking state.
  std::shared_ptr<BlockedCommand> blocked_;  // set while a command waits
  int64_t block_deadline_ms_ = 0;
  bool block_armed_ = false;
  size_t blocked_index_ = 0;  // the blocked command's index in batch_, for a retry
  std::unique_ptr<asio::steady_timer> block_timer_;
};

}  // namespace stockd::server
