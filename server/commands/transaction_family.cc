// Transactions: MULTI EXEC DISCARD WATCH UNWATCH.
//
// Dispatch queues commands between MULTI and EXEC (server/connection.cc). EXEC is routed to every
// shard its queued commands and its WATCHed keys live on, all locked at once, so the dirty check
// and every queued command happen as one step that no other client interleaves with.
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"

namespace stockd::server {

void CmdMulti(CmdArgs, CommandContext& ctx) {
  if (ctx.conn()->in_multi()) {
    ctx.reply().Error("ERR MULTI calls can not be nested");
    return;
  }
  ctx.conn()->BeginMulti();
  ctx.reply().Ok();
}

void CmdDiscard(CmdArgs, CommandContext& ctx) {
  if (!ctx.conn()->in_multi()) {
    ctx.reply().Error("ERR DISCARD without MULTI");
    return;
  }
  ctx.conn()->EndMulti();
  ctx.reply().Ok();
}

void CmdExec(CmdArgs, CommandContext& ctx) {
  Connection* c = ctx.conn();
  if (!c->in_multi()) {
    ctx.reply().Error("ERR EXEC without MULTI");
    return;
  }
  if (c->multi_aborted()) {
    c->EndMulti();
    ctx.reply().Error("EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  if (c->watch_flag() && c->watch_flag()->dirty.load(std::memory_order_relaxed)) {
    c->EndMulti();
    ctx.reply().NullArray();
    return;
  }
  // Take the queue: the queued commands may not re-enter MULTI state, but EndMulti below must
  // not free arguments still in use.
  std::vector<Connection::QueuedCommand> queued = std::move(c->queued());
  c->queued().clear();
  ctx.reply().ArrayHeader(static_cast<int64_t>(queued.size()));
  std::vector<std::string_view> views;
  for (const Connection::QueuedCommand& q : queued) {
    views.assign(q.args.begin(), q.args.end());
    c->Execute(*q.spec, CmdArgs(views), ctx.reply(), ctx.now_ms());
  }
  c->EndMulti();
}

void CmdWatch(CmdArgs args, CommandContext& ctx) {
  Connection* c = ctx.conn();
  if (c->in_multi()) {
    ctx.reply().Error("ERR WATCH inside MULTI is not allowed");
    return;
  }
  if (!c->watch_flag()) c->watch_flag() = std::make_shared<storage::WatchFlag>();
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view key = args[i];
    bool already = false;
    for (const auto& [db, k] : c->watched_keys())
      already = already || (db == ctx.db_index() && k == key);
    if (already) continue;
    ctx.ShardFor(key).Watch(ctx.db_index(), key, c->watch_flag());
    c->watched_keys().emplace_back(ctx.db_index(), std::string(key));
  }
  ctx.reply().Ok();
}

void CmdUnwatch(CmdArgs, CommandContext& ctx) {
  ctx.conn()->UnwatchAll();
  ctx.reply().Ok();
}

}  // namespace stockd::server
