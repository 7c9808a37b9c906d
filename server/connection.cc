#include "server/connection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cassert>
#include <cstring>
#include <optional>

#include "server/blocking.h"
#include "server/clients.h"
#include "server/command_context.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "storage/log.h"
#include "storage/wal.h"
#include "storage/wal_record.h"

namespace stockd::server {
namespace {

std::string UnknownCommandError(CmdArgs args) {
  // Redis: "unknown command 'x', with args beginning with: 'a' 'b' " (args cut at 128 bytes).
  std::string name(args[0].substr(0, 128));
  std::string rest;
  for (size_t i = 1; i < args.size() && rest.size() < 128; ++i) {
    rest += fmt::format("'{}' ", args[i].substr(0, 128 - rest.size()));
  }
  return fmt::format("ERR unknown command '{}', with args beginning with: {}", name, rest);
}

std::string Endpoint(const asio::ip::tcp::endpoint& e) {
  if (e.address().is_v6()) return fmt::format("[{}]:{}", e.address().to_string(), e.port());
  return fmt::format("{}:{}", e.address().to_string(), e.port());
}

}  // namespace

Connection::Connection(Engine& engine, ShardThread& home, asio::ip::tcp::socket socket,
                       ClientRegistry& registry)
    : engine_(engine),
      home_(home),
      socket_(std::move(socket)),
      registry_(registry),
      groups_(engine.shard_count()) {
  info_.id = registry.NextId();
  info_.created_ms = Engine::NowMs();
  info_.last_interaction_ms = info_.created_ms;
  info_.home = home.index();
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) info_.addr = Endpoint(remote);
  auto local = socket_.local_endpoint(ec);
  if (!ec) info_.laddr = Endpoint(local);
  info_.fd = socket_.native_handle();
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  int keepalive_s = engine.config().tcp_keepalive.load(std::memory_order_relaxed);
  if (keepalive_s > 0) {
    // As Redis's anetKeepAlive: first probe after `keepalive_s` idle seconds, then every third
    // of that, and give up after three unanswered probes.
    int fd = socket_.native_handle(), on = 1, interval = std::max(1, keepalive_s / 3), count = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_s, sizeof(keepalive_s));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
  }
  authenticated_ = engine.config().requirepass().empty();
}

Connection::~Connection() = default;

void Connection::Start() {
  home_.stats().connected_clients.Add();
  DoRead();
}

void Connection::Kill() {
  asio::post(home_.io(), [self = shared_from_this()] { self->CloseNow(); });
}

void Connection::CloseNow() {
  if (closed_) return;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  Forget();
}

void Connection::Forget() {
  closed_ = true;
  UnwatchAll();
  LeavePubSub();
  if (blocked_) {
    if (block_timer_) block_timer_->cancel();
    if (blocked_->Claim()) Unregister(blocked_);
    blocked_.reset();
    if (block_armed_) home_.stats().blocked_clients.Add(static_cast<uint64_t>(-1));
    block_armed_ = false;
  }
  home_.stats().connected_clients.Add(static_cast<uint64_t>(-1));
  registry_.Remove(id());  // may drop the last reference held elsewhere; `self` in callers keeps us
}

// ---------------------------------------------------------------------------------------------
// Input

void Connection::DoRead() {
  if (closed_ || reading_ || busy_) return;
  if (out_.size() + writing_.size() > kOutputPendingBytesPauseReading) return;  // DoWrite resumes
  // Make room: compact when nothing references the buffer (no batch is running), then grow to
  // the parser's hint for a large bulk, or by a chunk.
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = 0;
  } else if (rbegin_ > 0 && rbuf_.size() - rend_ < kReadChunkBytes) {
    std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  size_t want = std::max(kReadChunkBytes, parser_.bytes_needed_hint() > rend_ - rbegin_
                                              ? parser_.bytes_needed_hint() - (rend_ - rbegin_)
                                              : 0);
  if (rbuf_.size() - rend_ < want) rbuf_.resize(rend_ + want);
  reading_ = true;
  socket_.async_read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(const boost::system::error_code& ec, size_t n) {
  reading_ = false;
  if (ec || closed_) {
    CloseNow();
    return;
  }
  rend_ += n;
  home_.stats().net_input_bytes.Add(n);
  info_.last_interaction_ms.store(Engine::NowMs(), std::memory_order_relaxed);
  info_.qbuf.store(rend_ - rbegin_, std::memory_order_relaxed);
  ParseBatch();
}

void Connection::ParseBatch() {
  assert(!reading_);  // the buffer must not change under the batch's views
  batch_.clear();
  argv_.clear();
  inline_args_.clear();
  batch_next_ = 0;
  more_input_ = false;
  parser_.set_limits({engine_.config().proto_max_bulk_len.load(std::memory_order_relaxed),
                      protocol::kMultibulkLengthMax, protocol::kInlineBytesMax, !authenticated_});
  // Until the client authenticates, parse one request at a time: an AUTH must take effect
  // before the next request is held to the unauthenticated limits, as in Redis.
  size_t batch_max = authenticated_ ? kPipelineBatchCommandsMax : 1;
  size_t pos = rbegin_;
  while (true) {
    if (batch_.size() == batch_max) {
      more_input_ = true;
      break;
    }
    auto status = parser_.Parse(std::string_view(rbuf_.data() + pos, rend_ - pos));
    if (status == protocol::RespParser::Status::kNeedMore) break;
    if (status == protocol::RespParser::Status::kError) {
      protocol_error_ = parser_.error();
      break;
    }
    const auto& args = parser_.args();
    if (!args.empty()) {
      batch_.push_back({static_cast<uint32_t>(argv_.size()), static_cast<uint32_t>(args.size())});
      if (rbuf_[pos] == '*') {
        argv_.insert(argv_.end(), args.begin(), args.end());
      } else {
        // An inline command's decoded (quoted) arguments live in the parser, valid only until the
        // next Parse(): keep copies for the batch (inline commands are rare: nc, telnet).
        for (std::string_view a : args) argv_.push_back(inline_args_.emplace_back(a));
      }
    }
    pos += parser_.consumed();
  }
  parsed_until_ = pos;
  if (protocol_error_.empty() &&
      rend_ - parsed_until_ > static_cast<size_t>(engine_.config().client_query_buffer_limit.load(
                                  std::memory_order_relaxed))) {
    log::Warning("Closing client that reached max query buffer length: id={} addr={}", id(),
                 info_.addr);
    protocol_error_ = "Protocol error: query buffer limit exceeded";
  }
  busy_ = true;
  RunBatch();
}

// ---------------------------------------------------------------------------------------------
// Dispatch

bool Connection::ShardsOf(const CommandSpec& spec, CmdArgs args, std::vector<uint32_t>* shards) {
  if (spec.has(kGlobal)) {
    *shards = engine_.AllShards();
    return true;
  }
  spec.ForEachKey(args, [&](size_t i) {
    uint32_t s = engine_.ShardOf(args[i]);
    if (std::find(shards->begin(), shards->end(), s) == shards->end()) shards->push_back(s);
  });
  return !shards->empty();
}

bool Connection::ExecShards(std::vector<uint32_t>* shards) {
  for (const QueuedCommand& q : queued_) {
    std::vector<std::string_view> views(q.args.begin(), q.args.end());
    std::vector<uint32_t> s;
    ShardsOf(*q.spec, CmdArgs(views), &s);
    for (uint32_t x : s) {
      if (std::find(shards->begin(), shards->end(), x) == shards->end()) shards->push_back(x);
    }
  }
  // The watched keys' shards are locked too, so the dirty check and the commands are one step.
  for (const auto& [db, key] : watched_keys_) {
    uint32_t s = engine_.ShardOf(key);
    if (std::find(shards->begin(), shards->end(), s) == shards->end()) shards->push_back(s);
  }
  return !shards->empty();
}

Connection::Plan Connection::MakePlan(CmdArgs args) {
  Plan plan;
  bool unknown_sub = false;
  const CommandSpec* spec = CommandTable::Get().Find(args, &unknown_sub);
  auto reject = [&](std::string error) {
    plan.kind = PlanKind::kReply;
    plan.error = std::move(error);
    if (in_multi_) multi_error_ = true;  // EXEC will answer EXECABORT
    if (spec) home_.stats().commands[spec->id].rejected_calls.Add();
    return plan;
  };
  if (!spec) {
    if (unknown_sub) {
      std::string container(args[0]);
      std::transform(container.begin(), container.end(), container.begin(), ::toupper);
      return reject(fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", args[1].substr(0, 128),
                                container));
    }
    return reject(UnknownCommandError(args));
  }
  plan.spec = spec;
  if (!spec->ArityOk(args.size())) {
    return reject(fmt::format("ERR wrong number of arguments for '{}' command", spec->FullName()));
  }
  if (!authenticated_ && !spec->has(kNoAuth)) return reject("NOAUTH Authentication required.");
  // A standby, a fenced primary, or sync replication refusing (docs/replication.md). Checked
  // again when the write runs: the state may change in between.
  if (spec->has(kWrite) && engine_.writes_refused()) {
    std::string refusal = engine_.write_refusal();
    if (!refusal.empty()) return reject(std::move(refusal));
  }
  int64_t maxmemory = engine_.config().maxmemory.load(std::memory_order_relaxed);
  if (maxmemory > 0 && spec->has(kDenyOom) &&
      engine_.used_memory_bytes() > static_cast<uint64_t>(maxmemory)) {
    return reject("OOM command not allowed when used memory > 'maxmemory'.");
  }
  if (resp_version_ == 2 && subscriptions() != 0 && !spec->has(kSubscribedOk)) {
    // RESP2 has no way to tell a reply from a published message, so a subscribed client may
    // only manage its subscriptions (as Redis).
    return reject(fmt::format(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context",
        spec->FullName()));
  }
  info_.last_cmd.store(spec, std::memory_order_relaxed);
  if (in_multi_ && !spec->has(kTxControl)) {
    if (spec->has(kNoMulti)) return reject("ERR Command not allowed inside a transaction");
    plan.kind = PlanKind::kQueue;
    return plan;
  }
  if (spec->name == "exec" && in_multi_ && !multi_error_) {
    if (ExecShards(&plan.shards)) {
      std::sort(plan.shards.begin(), plan.shards.end());
      if (plan.shards.size() == 1) {
        plan.kind = PlanKind::kShard;
        plan.shard = plan.shards[0];
      } else {
        plan.kind = PlanKind::kLocked;
      }
      return plan;
    }
    plan.kind = PlanKind::kInline;
    return plan;
  }
  if (spec->has(kConnection) || spec->name == "exec") {
    plan.kind = PlanKind::kInline;
    return plan;
  }
  if (!ShardsOf(*spec, args, &plan.shards)) {
    plan.kind = PlanKind::kInline;  // keyless: runs with no shard data (handler replies)
    return plan;
  }
  if (plan.shards.size() == 1 && !spec->has(kGlobal)) {
    plan.kind = PlanKind::kShard;
    plan.shard = plan.shards[0];
    return plan;
  }
  std::sort(plan.shards.begin(), plan.shards.end());
  plan.kind = PlanKind::kLocked;
  return plan;
}

void Connection::RunBatch() {
  while (batch_next_ < batch_.size()) {
    if (closed_) break;
    if (blocked_) {
      ArmBlock();  // the rest of the batch waits for the blocked command's answer
      return;
    }
    uint32_t index = static_cast<uint32_t>(batch_next_);
    CmdArgs args = ArgsOf(index);
    // A plan is made once per command: a barrier's plan waits here while the segment before it
    // runs (nothing a segment does can change what the plan depends on).
    if (!plan_ready_) {
      plan_ = MakePlan(args);
      plan_ready_ = true;
    }
    if (plan_.kind == PlanKind::kShard && !plan_.spec->has(kTxControl | kBlocking)) {
      segment_.push_back({index, plan_.shard, plan_.spec});
      plan_ready_ = false;
      ++batch_next_;
      continue;
    }
    if (!segment_.empty()) {
      if (!FlushSegment()) return;  // resumes from MergeSegment
      continue;
    }
    plan_ready_ = false;
    blocked_index_ = batch_next_;
    ++batch_next_;
    if (!RunBarrier(args, plan_)) return;  // resumes when the barrier completes
  }
  if (!segment_.empty() && !FlushSegment()) return;
  if (blocked_ && !closed_) {
    ArmBlock();
    return;
  }
  FinishBatch();
}

bool Connection::FlushSegment() {
  uint32_t home = home_.index();
  bool all_home = !home_.locked();
  for (const SegmentCommand& c : segment_) all_home = all_home && c.shard == home;
  int64_t now_ms = Engine::NowMs();
  if (all_home) {
    if (segment_.size() > 1) {
      std::vector<uint32_t>& all = groups_[home].members;
      for (uint32_t i = 0; i < segment_.size(); ++i) all.push_back(i);
      PrefetchKeys(home, all.data(), all.size());
      all.clear();
    }
    protocol::ReplyBuilder rb(&out_, resp_version_);
    for (const SegmentCommand& c : segment_) Execute(*c.spec, ArgsOf(c.batch_index), rb, now_ms);
    segment_.clear();
    return true;
  }
  for (uint32_t i = 0; i < segment_.size(); ++i) groups_[segment_[i].shard].members.push_back(i);
  pending_ = 0;
  for (uint32_t s = 0; s < groups_.size(); ++s) {
    if (!groups_[s].members.empty()) ++pending_;
  }
  auto self = shared_from_this();
  for (uint32_t s = 0; s < groups_.size(); ++s) {
    Group& g = groups_[s];
    if (g.members.empty()) continue;
    if (s == home && !home_.locked()) {
      RunGroup(g, now_ms);
      --pending_;
      continue;
    }
    auto task = [self, &g, now_ms] {
      self->RunGroup(g, now_ms);
      asio::post(self->home_.io(), [self] {
        if (--self->pending_ == 0) self->MergeSegment();
      });
    };
    if (s == home) {
      home_.RunOrDefer(std::move(task));
    } else {
      engine_.shard(s).Submit(std::move(task));
    }
  }
  // pending_ > 0 here: some group is on another shard, or the home shard is locked (either
  // case is excluded from the all-home path above).
  return false;
}

void Connection::PrefetchKeys(uint32_t shard, const uint32_t* members, size_t count) {
  // Only worth it for several lookups; one lookup has nothing to overlap with.
  if (count < 2) return;
  storage::Db& db = engine_.shard(shard).data().db(db_index_);
  constexpr size_t kPrefetchBatchMax = 64;
  uint64_t hashes[kPrefetchBatchMax];
  size_t n = std::min(count, kPrefetchBatchMax);
  for (size_t i = 0; i < n; ++i) {
    const SegmentCommand& c = segment_[members[i]];
    CmdArgs args = ArgsOf(c.batch_index);
    hashes[i] = c.spec->first_key > 0 ? storage::HashBytes(args[c.spec->first_key]) : 0;
    db.PrefetchBucket(hashes[i]);
  }
  for (size_t i = 0; i < n; ++i) db.PrefetchNode(hashes[i]);
}

void Connection::RunGroup(Group& g, int64_t now_ms) {
  PrefetchKeys(static_cast<uint32_t>(&g - groups_.data()), g.members.data(), g.members.size());
  protocol::ReplyBuilder rb(&g.out, resp_version_);
  for (uint32_t m : g.members) {
    const SegmentCommand& c = segment_[m];
    Execute(*c.spec, ArgsOf(c.batch_index), rb, now_ms);
    g.ends.push_back(g.out.size());
  }
}

void Connection::MergeSegment() {
  // Replies in request order: take each member's slice from its shard's buffer.
  std::vector<size_t> next(groups_.size(), 0), offset(groups_.size(), 0);
  for (const SegmentCommand& c : segment_) {
    Group& g = groups_[c.shard];
    size_t end = g.ends[next[c.shard]++];
    out_.append(g.out, offset[c.shard], end - offset[c.shard]);
    offset[c.shard] = end;
  }
  for (Group& g : groups_) {
    g.members.clear();
    g.out.clear();
    g.ends.clear();
  }
  segment_.clear();
  RunBatch();
}

bool Connection::RunBarrier(CmdArgs args, Plan& plan) {
  protocol::ReplyBuilder rb(&out_, resp_version_);
  switch (plan.kind) {
    case PlanKind::kReply:
      rb.Error(plan.error);
      home_.stats().total_error_replies.Add();
      return true;
    case PlanKind::kQueue: {
      if (queued_.size() >= kMultiQueuedCommandsMax) {
        multi_error_ = true;
        rb.Error(fmt::format("ERR MULTI queue is full ({} commands)", kMultiQueuedCommandsMax));
        return true;
      }
      queued_.push_back({plan.spec, std::vector<std::string>(args.begin(), args.end())});
      info_.multi.store(static_cast<int>(queued_.size()), std::memory_order_relaxed);
      rb.SimpleString("QUEUED");
      return true;
    }
    case PlanKind::kInline:
      Execute(*plan.spec, args, rb, Engine::NowMs());
      return true;
    case PlanKind::kShard:
    case PlanKind::kLocked:
      break;
  }
  // Asynchronous: the reply goes to barrier_out_ and is appended when the command completes.
  auto self = shared_from_this();
  const CommandSpec* spec = plan.spec;
  auto body = [self, spec, args] {
    protocol::ReplyBuilder rb(&self->barrier_out_, self->resp_version_);
    self->Execute(*spec, args, rb, Engine::NowMs());
  };
  auto done = [self] {
    self->out_.append(self->barrier_out_);
    self->barrier_out_.clear();
    self->RunBatch();
  };
  if (plan.kind == PlanKind::kShard) {
    if (plan.shard == home_.index() && !home_.locked()) {
      body();
      out_.append(barrier_out_);
      barrier_out_.clear();
      return true;
    }
    auto task = [self, body = std::move(body), done = std::move(done)]() mutable {
      body();
      asio::post(self->home_.io(), std::move(done));
    };
    if (plan.shard == home_.index()) {
      home_.RunOrDefer(std::move(task));
    } else {
      engine_.shard(plan.shard).Submit(std::move(task));
    }
    return false;
  }
  engine_.RunLocked(std::move(plan.shards), std::move(body), home_.io(), std::move(done));
  return false;
}

void Connection::Execute(const CommandSpec& spec, CmdArgs args, protocol::ReplyBuilder& rb,
                         int64_t now_ms) {
  ThreadStats& stats = ShardThread::Current()->stats();
  std::string* out = rb.out();
  size_t before = out->size();
  int64_t start_us = Engine::NowUs();
  storage::Wal* wal = engine_.wal();
  int db = db_index_;  // the record names the database the command started on
  if (spec.has(kWrite) && engine_.writes_refused()) {
    std::string refusal = engine_.write_refusal();
    if (!refusal.empty()) {
      rb.Error(refusal);
      stats.commands[spec.id].rejected_calls.Add();
      stats.total_error_replies.Add();
      return;
    }
  }
  if (wal != nullptr && spec.has(kWrite)) {
    // Fail-stop: once the log cannot be written, a write would be acknowledged without being
    // kept, so writes are refused (Redis's MISCONF after a failed AOF write).
    if (wal->failed()) {
      rb.Error(fmt::format(
          "MISCONF Errors writing to the WAL: {}. Writes are refused; reads are served.",
          wal->failure()));
      stats.commands[spec.id].rejected_calls.Add();
      stats.total_error_replies.Add();
      return;
    }
    // A write whose record the log could not hold must be refused before it applies.
    if (!storage::CommandRecordWithinLimits(db, args.size(), storage::CommandPayloadBytes(args))) {
      rb.Error("ERR the write is too large for the write-ahead log");
      stats.commands[spec.id].rejected_calls.Add();
      stats.total_error_replies.Add();
      return;
    }
  }
  CommandContext ctx(engine_, this, &rb, db, now_ms, &spec);
  // EXEC's commands are logged as one contiguous MULTI ... EXEC group, appended before EXEC
  // returns (its shards are still locked), so recovery never applies half a transaction.
  const bool is_exec = wal != nullptr && spec.name == "exec" && !exec_logging_;
  if (is_exec) {
    exec_logging_ = true;
    exec_records_.clear();
  }
  spec.handler(args, ctx);
  if (is_exec) {
    exec_logging_ = false;
    if (!exec_records_.empty()) {
      const std::string_view multi[] = {"MULTI"}, exec[] = {"EXEC"};
      exec_records_.insert(exec_records_.begin(), *storage::EncodeCommandRecord(db, now_ms, multi));
      exec_records_.push_back(*storage::EncodeCommandRecord(db, now_ms, exec));
      uint64_t lsn = wal->AppendGroup(std::move(exec_records_));
      NoteLsn(lsn != storage::kWalNoLsn ? lsn : UINT64_MAX);
      if (lsn != storage::kWalNoLsn) {
        for (uint32_t i : exec_shards_) engine_.shard(i).data().last_write_lsn = lsn;
      }
      exec_records_.clear();
    }
    exec_shards_.clear();
  } else if (wal != nullptr && ctx.modified()) {
    // Logged in the same step that applied it, before anything else runs on this shard, so the
    // log's order is the order writes took effect. A transaction's commands reach here one by
    // one (EXEC runs them through Execute); EXEC itself changes nothing of its own.
    auto append = [&](CmdArgs argv) {
      std::optional<std::string> record = storage::EncodeCommandRecord(db, now_ms, argv);
      if (exec_logging_ && record) {
        exec_records_.push_back(std::move(*record));
        for (uint32_t i : ctx.written_shards()) {
          if (std::find(exec_shards_.begin(), exec_shards_.end(), i) == exec_shards_.end()) {
            exec_shards_.push_back(i);
          }
        }
        return;
      }
      uint64_t lsn = record ? wal->Append(std::move(*record)) : storage::kWalNoLsn;
      // Not logged (the WAL failed meanwhile): the reply must never be released, in any fsync
      // mode (FinishBatch closes the connection instead).
      NoteLsn(lsn != storage::kWalNoLsn ? lsn : UINT64_MAX);
      if (lsn != storage::kWalNoLsn) ctx.MarkLogged(lsn);
    };
    if (ctx.propagated().empty()) {
      append(args);
    } else {
      std::vector<std::string_view> views;
      for (const std::vector<std::string>& argv : ctx.propagated()) {
        views.assign(argv.begin(), argv.end());
        append(CmdArgs(views));
      }
    }
  }
  // A reply that shows data written by a record not yet logged waits for it too, whoever wrote
  // it: no reply depends on a write a crash could undo (under always any crash; under everysec
  // and no a kill -9, as in Redis, which writes its AOF before any reply of the same loop).
  // After a WAL failure those writes will never be logged; reads are still served (fail-stop).
  if (engine_.hold_replies() && ctx.seen_lsn() > engine_.logged_lsn() && !wal->failed()) {
    NoteSeenLsn(ctx.seen_lsn());
  }
  for (uint32_t shard : ctx.ready_shards()) ServeReadyKeys(engine_, shard);
  int64_t elapsed_us = Engine::NowUs() - start_us;
  CommandStats& cs = stats.commands[spec.id];
  cs.calls.Add();
  cs.usec.Add(static_cast<uint64_t>(std::max<int64_t>(elapsed_us, 0)));
  stats.total_commands_processed.Add();
  if (out->size() > before && (*out)[before] == '-') {
    cs.failed_calls.Add();
    stats.total_error_replies.Add();
  }
}

void Connection::FinishBatch() {
  busy_ = false;
  rbegin_ = parsed_until_;
  info_.qbuf.store(rend_ - rbegin_, std::memory_order_relaxed);
  if (!protocol_error_.empty()) {
    protocol::ReplyBuilder rb(&out_, resp_version_);
    rb.Error("ERR " + protocol_error_);
    log::Verbose("Protocol error ({}) from client: id={} addr={}", protocol_error_, id(),
                 info_.addr);
    close_after_write_ = true;
  }
  uint64_t lsn = batch_lsn_.exchange(0, std::memory_order_relaxed);
  const uint64_t seen = batch_seen_lsn_.exchange(0, std::memory_order_relaxed);
  if (lsn != 0 && lsn != UINT64_MAX) last_write_lsn_ = lsn;
  if (lsn == UINT64_MAX && !closed_) {
    // A write of this batch was applied but could not be logged (the WAL failed between the
    // MISCONF check and the append): its reply would claim a success no restart will show, so
    // the client is told nothing but EOF, in every appendfsync mode.
    log::Warning("Closing client id={} addr={}: its write could not be logged", id(), info_.addr);
    CloseNow();
    return;
  }
  if ((lsn != 0 || seen != 0) && engine_.hold_replies() && !closed_) {
    // The batch's replies (and whatever follows them) go out once its last record, and the last
    // record its replies show, are logged (Engine::ReplyGate: synced under always, handed to
    // RocksDB otherwise). Reading stays stopped until then, so the wait is bounded by one batch.
    waiting_logged_ = true;
    busy_ = true;
    const bool wrote = lsn != 0;
    engine_.WaitLogged(home_, std::max(lsn, seen), [self = shared_from_this(), wrote](bool logged) {
      self->waiting_logged_ = false;
      self->busy_ = false;
      if (!logged && !wrote) {
        // Only reads, of writes that will now never be logged: fail-stop keeps serving reads,
        // which may show those writes until a restart (docs/durability.md).
        self->ContinueAfterBatch();
        return;
      }
      if (!logged) {
        // The WAL failed before these writes were logged: their outcome is unknown, and the
        // replies already built would claim success, so the client is told nothing but EOF.
        log::Warning(
            "Closing client id={} addr={}: its writes could not be logged (or, on a primary "
            "that became a standby, acknowledged by a standby)",
            self->id(), self->info_.addr);
        self->CloseNow();
        return;
      }
      self->ContinueAfterBatch();
    });
    return;
  }
  ContinueAfterBatch();
}

void Connection::NoteLsn(uint64_t lsn) {
  uint64_t seen = batch_lsn_.load(std::memory_order_relaxed);
  while (seen < lsn && !batch_lsn_.compare_exchange_weak(seen, lsn, std::memory_order_relaxed)) {
  }
}

void Connection::NoteSeenLsn(uint64_t lsn) {
  uint64_t seen = batch_seen_lsn_.load(std::memory_order_relaxed);
  while (seen < lsn &&
         !batch_seen_lsn_.compare_exchange_weak(seen, lsn, std::memory_order_relaxed)) {
  }
}

bool Connection::HoldingOutput() const {
  return waiting_logged_ ||
         (engine_.hold_replies() && (batch_lsn_.load(std::memory_order_relaxed) != 0 ||
                                     batch_seen_lsn_.load(std::memory_order_relaxed) != 0));
}

void Connection::ContinueAfterBatch() {
  if (hand_off_ && !closed_) {
    HandOffSocket();
    return;
  }
  DoWrite();
  if (close_after_write_ || closed_) return;
  if (more_input_) {
    // The batch stopped at its size cap: more complete requests may already be buffered. Stay
    // busy until the next batch is parsed, so no read starts (and moves the buffer) meanwhile;
    // posting lets write completions run between batches.
    busy_ = true;
    asio::post(home_.io(), [self = shared_from_this()] {
      if (self->closed_) {
        self->busy_ = false;
        return;
      }
      self->ParseBatch();
    });
    return;
  }
  DoRead();
}

void Connection::HandOffSocket() {
  auto fn = std::move(hand_off_);
  hand_off_ = nullptr;
  if (write_in_flight_) {
    // Replies of an earlier batch are still being written: the handshake would interleave with
    // them. A standby waits for each reply before its next request, so this is a misbehaving peer.
    CloseNow();
    return;
  }
  boost::system::error_code ec;
  int fd = socket_.release(ec);
  if (ec) {
    CloseNow();
    return;
  }
  Forget();
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  // This batch's replies (an earlier REPLCONF's +OK) go first, as they would have.
  std::string_view pending = out_;
  while (!pending.empty()) {
    ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return;
    }
    pending.remove_prefix(static_cast<size_t>(n));
  }
  out_.clear();
  fn(fd);
}

// ---------------------------------------------------------------------------------------------
// Output

void Connection::DoWrite() {
  // Held replies go out in order with everything after them (pushes included) once logged.
  if (closed_ || write_in_flight_ || HoldingOutput()) return;
  if (out_.empty()) {
    if (close_after_write_) CloseNow();
    return;
  }
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  info_.omem.store(writing_.size(), std::memory_order_relaxed);
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                      self->write_in_flight_ = false;
                      self->home_.stats().net_output_bytes.Add(n);
                      // Keep a modest buffer for the next write instead of freeing it each time.
                      if (self->writing_.capacity() > 4 * kReadChunkBytes) {
                        std::string().swap(self->writing_);
                      } else {
                        self->writing_.clear();
                      }
                      self->info_.omem.store(self->out_.size(), std::memory_order_relaxed);
                      if (ec) {
                        self->CloseNow();
                        return;
                      }
                      self->DoWrite();
                      if (!self->busy_) self->DoRead();
                    });
}

// ---------------------------------------------------------------------------------------------
// Blocking

void Connection::Block(std::shared_ptr<BlockedCommand> command, int64_t deadline_ms) {
  blocked_ = std::move(command);
  block_deadline_ms_ = deadline_ms;
  block_armed_ = false;
}

void Connection::ArmBlock() {
  if (block_armed_) return;
  block_armed_ = true;
  home_.stats().blocked_clients.Add();
  if (block_deadline_ms_ != 0) {
    if (!block_timer_) block_timer_ = std::make_unique<asio::steady_timer>(home_.io());
    block_timer_->expires_after(
        std::chrono::milliseconds(std::max<int64_t>(0, block_deadline_ms_ - Engine::NowMs())));
    block_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->OnBlockTimeout();
    });
  }
  // Notice a disconnect while blocked: no read runs (the batch holds the buffer), so wait for
  // readability and peek. Data that is not EOF stays in the socket for after the answer.
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec || !self->blocked_ || self->closed_) return;
                       char byte;
                       ssize_t n =
                           ::recv(self->socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                       if (n == 0) self->CloseNow();
                     });
}

void Connection::OnBlockTimeout() {
  if (!blocked_ || closed_ || !blocked_->Claim()) return;  // answered meanwhile: Wake is coming
  Unregister(blocked_);
  protocol::ReplyBuilder rb(&out_, resp_version_);
  // BLPOP/BRPOP answer a null array on timeout, BLMOVE/BRPOPLPUSH a null bulk.
  if (blocked_->destination.empty()) {
    rb.NullArray();
  } else {
    rb.Null();
  }
  Wake(std::string(), false);
}

void Connection::Unregister(const std::shared_ptr<BlockedCommand>& command) {
  for (const std::string& key : command->keys) {
    ShardThread& s = engine_.shard(engine_.ShardOf(key));
    s.Submit([&s, command, key, db = command->db] { s.data().Unblock(db, key, command.get()); });
  }
}

void Connection::Wake(std::string reply, bool retry) {
  asio::post(home_.io(), [self = shared_from_this(), reply = std::move(reply), retry] {
    if (self->closed_ || !self->blocked_) return;
    if (self->block_timer_) self->block_timer_->cancel();
    self->blocked_.reset();
    if (self->block_armed_) self->home_.stats().blocked_clients.Add(static_cast<uint64_t>(-1));
    self->block_armed_ = false;
    if (retry) {
      self->batch_next_ = self->blocked_index_;  // run the blocked command again
      self->plan_ready_ = false;
    } else {
      self->out_.append(reply);
    }
    self->RunBatch();
  });
}

// ---------------------------------------------------------------------------------------------
// Pub/sub delivery

void Connection::LeavePubSub() {
  if (subscriptions() == 0) return;
  PubSub& pubsub = Server::FromEngine(engine_)->pubsub();
  for (const std::string& c : channels_) pubsub.Unsubscribe(this, c);
  for (const std::string& p : patterns_) pubsub.PUnsubscribe(this, p);
  channels_.clear();
  patterns_.clear();
  info_.channels = 0;
  info_.patterns = 0;
  info_.subscribed = false;
}

void Connection::AppendPush(const std::string& push) {
  if (closed_) return;
  out_.append(push);
  // Write now even while a batch runs or the client is blocked: out_ only ever holds complete
  // replies in order, so the push may go out ahead of replies still being computed.
  DoWrite();
}

void Connection::DeliverMessage(std::string_view channel, std::string_view message) {
  asio::post(home_.io(), [self = shared_from_this(), channel = std::string(channel),
                          message = std::string(message)] {
    std::string push;
    protocol::ReplyBuilder rb(&push, self->resp_version_);
    rb.PushHeader(3);
    rb.Bulk("message");
    rb.Bulk(channel);
    rb.Bulk(message);
    self->AppendPush(push);
  });
}

void Connection::DeliverPMessage(std::string_view pattern, std::string_view channel,
                                 std::string_view message) {
  asio::post(home_.io(), [self = shared_from_this(), pattern = std::string(pattern),
                          channel = std::string(channel), message = std::string(message)] {
    std::string push;
    protocol::ReplyBuilder rb(&push, self->resp_version_);
    rb.PushHeader(4);
    rb.Bulk("pmessage");
    rb.Bulk(pattern);
    rb.Bulk(channel);
    rb.Bulk(message);
    self->AppendPush(push);
  });
}

// ---------------------------------------------------------------------------------------------
// Client state

void Connection::BeginMulti() {
  in_multi_ = true;
  multi_error_ = false;
  queued_.clear();
  info_.multi.store(0, std::memory_order_relaxed);
}

void Connection::EndMulti() {
  in_multi_ = false;
  multi_error_ = false;
  queued_.clear();
  info_.multi.store(-1, std::memory_order_relaxed);
  UnwatchAll();
}

void Connection::UnwatchAll() {
  if (watched_keys_.empty()) {
    watch_flag_.reset();
    return;
  }
  // Unregister on each key's shard; the shards drop their reference to the flag.
  const storage::WatchFlag* flag = watch_flag_.get();
  for (auto& [db, key] : watched_keys_) {
    ShardThread& s = engine_.shard(engine_.ShardOf(key));
    s.Submit([&s, db = db, key = std::move(key), flag, keep = watch_flag_] {
      s.data().Unwatch(db, key, flag);
    });
  }
  watched_keys_.clear();
  watch_flag_.reset();
}

std::string Connection::DescribeForList() const {
  int64_t now = Engine::NowMs();
  std::string name, lib_name, lib_ver;
  {
    std::lock_guard lock(info_.mu);
    name = info_.name;
    lib_name = info_.lib_name;
    lib_ver = info_.lib_ver;
  }
  const CommandSpec* last = info_.last_cmd.load(std::memory_order_relaxed);
  int multi = info_.multi.load(std::memory_order_relaxed);
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 "
      "multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} "
      "tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
      info_.id, info_.addr, info_.laddr, info_.fd, name, (now - info_.created_ms) / 1000,
      (now - info_.last_interaction_ms.load(std::memory_order_relaxed)) / 1000,
      multi >= 0 ? "x" : (info_.subscribed.load(std::memory_order_relaxed) ? "P" : "N"),
      info_.db.load(std::memory_order_relaxed), info_.channels.load(std::memory_order_relaxed),
      info_.patterns.load(std::memory_order_relaxed), multi,
      info_.qbuf.load(std::memory_order_relaxed), kReadChunkBytes,
      info_.omem.load(std::memory_order_relaxed), last ? last->FullName() : "NULL",
      info_.resp.load(std::memory_order_relaxed), lib_name, lib_ver);
}

}  // namespace stockd::server
