// Replication commands (docs/replication.md): REPLICAOF/SLAVEOF, ROLE, WAIT, and the protocol's
// own REPLCONF and REPLSYNC. The links themselves are server/replication.{h,cc}.
#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "protocol/reply_builder.h"
#include "replication/epochs.h"
#include "server/blocking.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "server/replication.h"
#include "server/server.h"

namespace stockd::server {
namespace {

// How often a WAIT that is not yet satisfied looks again at the standbys' acknowledgements.
constexpr std::chrono::milliseconds kWaitPollInterval{1};

Replication* ReplicationOrReply(CommandContext& ctx) {
  Replication* r = Server::FromEngine(ctx.engine())->replication();
  if (r == nullptr) ctx.reply().Error("ERR replication needs appendonly yes");
  return r;
}

bool U64OrReply(CommandContext& ctx, std::string_view s, uint64_t* out) {
  int64_t v = 0;
  if (!ParseInt64OrReply(ctx, s, &v)) return false;
  if (v < 0) {
    ctx.reply().Error("ERR value is out of range, must be positive");
    return false;
  }
  *out = static_cast<uint64_t>(v);
  return true;
}

// "127.0.0.1:5000" -> "127.0.0.1" (and "[::1]:5000" -> "::1").
std::string HostOf(const std::string& addr) {
  size_t colon = addr.rfind(':');
  std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// WAIT's wait: polls the acknowledgements on the client's own thread until enough standbys have
// the client's last write or the deadline passes; then answers like a woken blocked command.
void PollWait(std::shared_ptr<BlockedCommand> blocked, std::shared_ptr<asio::steady_timer> timer,
              Replication* repl, uint64_t lsn, int64_t wanted, int64_t deadline_ms) {
  auto conn = blocked->conn.lock();
  if (conn == nullptr || blocked->claimed()) return;  // the client left
  int64_t acked = repl->AckedCount(lsn);
  if (acked >= wanted || (deadline_ms != 0 && Engine::NowMs() >= deadline_ms)) {
    if (blocked->Claim()) conn->Wake(fmt::format(":{}\r\n", acked), false);
    return;
  }
  timer->expires_after(kWaitPollInterval);
  timer->async_wait([=](const boost::system::error_code& ec) {
    if (!ec) PollWait(blocked, timer, repl, lsn, wanted, deadline_ms);
  });
}

}  // namespace

// REPLICAOF host port | NO ONE (also SLAVEOF). Runs with every shard locked: no record is
// applied or appended while the role changes.
void CmdReplicaOf(CmdArgs args, CommandContext& ctx) {
  Replication* repl = ReplicationOrReply(ctx);
  if (repl == nullptr) return;
  std::string error;
  if (EqualsIgnoreCase(args[1], "NO") && EqualsIgnoreCase(args[2], "ONE")) {
    error = repl->Promote();
  } else {
    int64_t port = 0;
    if (!ParseInt64Arg(args[2], &port) || port < 1 || port > 65535) {
      return ctx.reply().Error("ERR Invalid master port");
    }
    error = repl->Follow(std::string(args[1]), static_cast<int>(port));
  }
  if (!error.empty()) return ctx.reply().Error(error);
  ctx.reply().Ok();
}

// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds], as Redis: replies OK at once and
// switches in the background (INFO replication's master_failover_state).
void CmdFailover(CmdArgs args, CommandContext& ctx) {
  Replication* repl = ReplicationOrReply(ctx);
  if (repl == nullptr) return;
  std::string host;
  int64_t port = 0, timeout_ms = 0;
  bool force = false, abort = false, has_timeout = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "TO") && i + 2 < args.size() && host.empty()) {
      host = args[i + 1];
      if (!ParseInt64Arg(args[i + 2], &port) || port < 1 || port > 65535) {
        return ctx.reply().Error("ERR Invalid port");
      }
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "FORCE") && !force) {
      force = true;
    } else if (EqualsIgnoreCase(args[i], "ABORT") && !abort) {
      abort = true;
    } else if (EqualsIgnoreCase(args[i], "TIMEOUT") && i + 1 < args.size() && !has_timeout) {
      if (!ParseInt64Arg(args[i + 1], &timeout_ms) || timeout_ms <= 0) {
        return ctx.reply().Error("ERR FAILOVER timeout must be greater than 0");
      }
      has_timeout = true;
      ++i;
    } else {
      return ctx.reply().Error(reply::kSyntaxError);
    }
  }
  std::string error;
  if (abort) {
    if (!host.empty() || force || has_timeout) {
      return ctx.reply().Error("ERR FAILOVER abort cannot be used with other options.");
    }
    error = repl->AbortFailover();
  } else if (force && (host.empty() || !has_timeout)) {
    error = "ERR FAILOVER with force option requires both a timeout and target HOST and IP.";
  } else {
    error = repl->StartFailover(host, static_cast<int>(port), timeout_ms, force);
  }
  if (!error.empty()) return ctx.reply().Error(error);
  ctx.reply().Ok();
}

// ROLE, in Redis's format; offsets are LSNs.
void CmdRole(CmdArgs, CommandContext& ctx) {
  Replication* repl = Server::FromEngine(ctx.engine())->replication();
  protocol::ReplyBuilder& rb = ctx.reply();
  ReplicationStatus s = repl != nullptr ? repl->status() : ReplicationStatus();
  if (s.standby) {
    rb.ArrayHeader(5);
    rb.Bulk("slave");
    rb.Bulk(s.master_host);
    rb.Integer(s.master_port);
    rb.Bulk(s.link_state);
    rb.Integer(static_cast<int64_t>(s.last_lsn));
    return;
  }
  rb.ArrayHeader(3);
  rb.Bulk("master");
  rb.Integer(static_cast<int64_t>(s.last_lsn));
  rb.ArrayHeader(s.standbys.size());
  for (const StandbyStatus& st : s.standbys) {
    rb.ArrayHeader(3);
    rb.Bulk(st.ip);
    rb.Bulk(std::to_string(st.port));
    rb.Bulk(std::to_string(st.acked_lsn));
  }
}

// REPLCONF listening-port <port> | ACK <lsn> | EPOCH <epoch> | <option> <value> ...
void CmdReplConf(CmdArgs args, CommandContext& ctx) {
  if (args.size() % 2 == 0) return ctx.reply().Error(reply::kSyntaxError);
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    if (EqualsIgnoreCase(args[i], "ACK")) return;  // only on a replication link: no reply
    if (EqualsIgnoreCase(args[i], "EPOCH")) {
      uint64_t epoch = 0;
      if (!U64OrReply(ctx, args[i + 1], &epoch)) return;
      if (Replication* repl = Server::FromEngine(ctx.engine())->replication()) {
        repl->NoteEpoch(epoch);
      }
    }
    // listening-port, ip-address, capa: REPLSYNC carries what stockd needs.
  }
  ctx.reply().Ok();
}

// REPLSYNC <listening_port> <last_lsn> <epoch history>: a standby's handshake
// (docs/replication.md, "The protocol"). The connection becomes the replication link.
void CmdReplSync(CmdArgs args, CommandContext& ctx) {
  Replication* repl = ReplicationOrReply(ctx);
  if (repl == nullptr) return;
  uint64_t port = 0, last_lsn = 0;
  if (!U64OrReply(ctx, args[1], &port) || !U64OrReply(ctx, args[2], &last_lsn)) return;
  std::optional<replication::EpochHistory> history = replication::EpochHistory::Decode(args[3]);
  if (!history) return ctx.reply().Error("ERR malformed epoch history");
  Connection* conn = ctx.conn();
  if (conn == nullptr) return ctx.reply().Error("ERR REPLSYNC needs a connection");
  std::string ip = HostOf(conn->info().addr);
  conn->HandOff([repl, ip, port, last_lsn, history = std::move(*history)](int fd) mutable {
    repl->ServeStandby(fd, ip, static_cast<int>(port), std::move(history), last_lsn);
  });
}

// WAIT numreplicas timeout
void CmdWait(CmdArgs args, CommandContext& ctx) {
  Replication* repl = ReplicationOrReply(ctx);
  if (repl == nullptr) return;
  int64_t wanted = 0, timeout_ms = 0;
  if (!ParseInt64OrReply(ctx, args[1], &wanted) || !ParseInt64OrReply(ctx, args[2], &timeout_ms)) {
    return;
  }
  if (timeout_ms < 0) return ctx.reply().Error("ERR timeout is negative");
  if (ctx.engine().standby()) {
    return ctx.reply().Error(
        "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
        "if a replica is configured to be writable (which is not the default) writes to replicas "
        "are just local and are not propagated.");
  }
  Connection* conn = ctx.conn();
  const uint64_t lsn = conn != nullptr ? conn->last_write_lsn() : 0;
  int64_t acked = repl->AckedCount(lsn);
  if (acked >= wanted || conn == nullptr || conn->in_multi()) {
    return ctx.reply().Integer(acked);
  }
  auto blocked = std::make_shared<BlockedCommand>();
  blocked->conn = conn->shared_from_this();
  blocked->spec = &ctx.spec();
  conn->Block(blocked, 0);  // WAIT's own poll answers, at the deadline too
  auto timer = std::make_shared<asio::steady_timer>(ShardThread::Current()->io());
  const int64_t deadline_ms = timeout_ms == 0 ? 0 : Engine::NowMs() + timeout_ms;
  PollWait(blocked, timer, repl, lsn, wanted, deadline_ms);
}

}  // namespace stockd::server
