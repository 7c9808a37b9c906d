#include "server/blocking.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "protocol/reply_builder.h"
#include "server/command_context.h"
#include "server/connection.h"
#include "server/engine.h"
#include "storage/log.h"
#include "storage/wal.h"
#include "storage/wal_record.h"

namespace stockd::server {

void BlockedCommand::Answer(std::string reply) {
  if (serving_) {
    answered_ = true;
    answer_ = std::move(reply);
    return;
  }
  if (auto c = conn.lock()) c->Wake(std::move(reply), false);
}

void BlockedCommand::Retry() {
  if (auto c = conn.lock()) c->Wake(std::string(), true);
}

void ServeReadyKeys(Engine& engine, uint32_t shard_index) {
  storage::Shard& shard = engine.shard(shard_index).data();
  // A serve writes keys too (BLMOVE pushes to its destination), which may make more keys ready:
  // loop until none is left. Each round serves at least one client or drops a ready key, and
  // there are finitely many clients and elements, so this ends.
  while (shard.has_ready_keys()) {
    for (auto& [db, key] : shard.TakeReadyKeys()) {
      while (auto* queue = shard.BlockedOn(db, key)) {
        if (queue->empty()) break;
        auto client = std::static_pointer_cast<BlockedCommand>(queue->front());
        if (client->claimed()) {
          queue->pop_front();  // timed out or gone: its own cleanup may not have run yet
          continue;
        }
        std::string reply;
        protocol::ReplyBuilder rb(&reply, client->resp_version);
        CommandContext ctx(engine, nullptr, &rb, db, Engine::NowMs(), client->spec);
        client->serving_ = true;
        bool served = client->serve(ctx, *client, key);
        client->serving_ = false;
        // The serve's effect is logged as the commands it names (its own argv would block or
        // choose again on replay), in this step, and the client's reply waits for the record.
        uint64_t lsn = 0;
        if (storage::Wal* wal = engine.wal(); wal != nullptr && ctx.modified()) {
          std::vector<std::string_view> views;
          for (const std::vector<std::string>& argv : ctx.propagated()) {
            views.assign(argv.begin(), argv.end());
            std::optional<std::string> record =
                storage::EncodeCommandRecord(db, ctx.now_ms(), views);
            uint64_t appended = record ? wal->Append(std::move(*record)) : storage::kWalNoLsn;
            lsn = appended != storage::kWalNoLsn ? appended : UINT64_MAX;
          }
          if (lsn != 0 && lsn != UINT64_MAX) ctx.MarkLogged(lsn);
          if (ctx.propagated().empty()) {
            log::Warning("A blocked {} was served without naming its effect: not logged",
                         client->spec->name);
          }
        }
        if (client->answered_) {
          client->answered_ = false;
          if (auto c = client->conn.lock()) {
            if (lsn != 0) c->NoteLsn(lsn);
            c->Wake(std::move(client->answer_), false);
          }
        }
        if (!served) break;  // nothing left: the rest keep waiting
        // Served: it is claimed, so the next pass over the queue drops it.
      }
      shard.PruneBlocked(db, key);
    }
  }
}

void BlockClient(CommandContext& ctx, CmdArgs keys, int64_t deadline_ms,
                 BlockedCommand::ServeFn serve, bool from_left, bool to_left,
                 std::string_view destination, int64_t count) {
  Connection* c = ctx.conn();
  if (c->in_multi()) {
    if (destination.empty()) return ctx.reply().NullArray();
    return ctx.reply().Null();
  }
  auto b = std::make_shared<BlockedCommand>();
  b->conn = c->shared_from_this();
  b->spec = &ctx.spec();
  b->serve = serve;
  b->db = ctx.db_index();
  b->resp_version = c->resp_version();
  b->from_left = from_left;
  b->to_left = to_left;
  b->destination = std::string(destination);
  b->count = count;
  for (std::string_view k : keys) {
    b->keys.emplace_back(k);
    ctx.ShardFor(k).Block(ctx.db_index(), k, b);
  }
  c->Block(std::move(b), deadline_ms);
}

bool ParseBlockTimeoutOrReply(CommandContext& ctx, std::string_view arg, int64_t* deadline_ms) {
  long double seconds;
  if (!ParseLongDouble(arg, &seconds) || std::isnan(seconds)) {
    ctx.reply().Error("ERR timeout is not a float or out of range");
    return false;
  }
  long double ms = seconds * 1000.0L;
  if (ms > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    ctx.reply().Error("ERR timeout is out of range");
    return false;
  }
  int64_t timeout = static_cast<int64_t>(std::ceil(ms));
  if (timeout < 0) {
    ctx.reply().Error("ERR timeout is negative");
    return false;
  }
  if (timeout > 0 && timeout > std::numeric_limits<int64_t>::max() - ctx.now_ms()) {
    ctx.reply().Error("ERR timeout is out of range");
    return false;
  }
  *deadline_ms = timeout == 0 ? 0 : ctx.now_ms() + timeout;
  return true;
}

}  // namespace stockd::server
