#pragma once
// Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH): a client with nothing to pop waits on
// its keys instead of getting an answer.
//
// How. The command's handler, finding every key empty, creates a BlockedCommand and queues it on
// each key's shard (storage::Shard::Block); the connection then stops processing its requests
// until the command is answered. A later write to one of those keys marks the key ready on its
// shard, and after the writing command the shard serves its ready keys' queues in arrival order
// (ServeReadyKeys): the first waiting client gets the element, directly, on the shard that owns
// it, so wake-up is FIFO across clients and nothing else can take the element in between.
// Exactly one of {a serve, the timeout, the client's disconnect} claims a BlockedCommand
// (BlockedClient::Claim), so a client is answered once and an element is never popped for a
// client that is gone.
//
// A BLMOVE whose destination lives on another shard cannot be finished by the source shard
// alone (the move must be atomic), so its serve claims the client and asks the connection to run
// the command again, which locks both shards; if another client emptied the source meanwhile,
// the command blocks again.
#include <memory>
#include <string>
#include <vector>

#include "server/command.h"
#include "storage/shard.h"

namespace stockd::server {

class CommandContext;
class Connection;
class Engine;

class BlockedCommand final : public storage::BlockedClient {
 public:
  // Serves the client from `key`, which just got written, on the key's shard. Returns false,
  // changing nothing and claiming nothing, when there is nothing to serve from the key; returns
  // true when the client was claimed (and answered or woken).
  using ServeFn = bool (*)(CommandContext& ctx, BlockedCommand& b, std::string_view key);

  std::weak_ptr<Connection> conn;
  const CommandSpec* spec = nullptr;
  ServeFn serve = nullptr;
  int db = 0;
  int resp_version = 2;
  std::vector<std::string> keys;  // the keys it waits on
  // Command details the serve function needs (BLPOP/BRPOP: from_left; BLMOVE: both sides and
  // the destination; BZPOPMIN/BZPOPMAX: from_left means "the lowest score").
  bool from_left = true;
  bool to_left = true;
  std::string destination;
  int64_t count = 0;  // SKU.TAKE: users to hand out

  // Answers the client with `reply` (complete RESP), or asks it to run the command again.
  // During a serve the answer is kept until the serve's effect is logged (ServeReadyKeys), so
  // the client's wait for durability covers it.
  void Answer(std::string reply);
  void Retry();

 private:
  friend void ServeReadyKeys(Engine& engine, uint32_t shard);
  bool serving_ = false;
  bool answered_ = false;
  std::string answer_;
};

// Serves the clients blocked on keys that `shard` has marked ready. Call on the shard's thread,
// or while holding it locked, after a command that wrote keys.
void ServeReadyKeys(Engine& engine, uint32_t shard);

// Blocks the client of `ctx` on `keys` (its handler found nothing to serve): queues a
// BlockedCommand on each key's shard and tells the connection to wait. Inside MULTI a blocking
// command must not wait, so it answers at once as a timeout would (null array, or null for a
// command with a destination), as Redis does.
void BlockClient(CommandContext& ctx, CmdArgs keys, int64_t deadline_ms,
                 BlockedCommand::ServeFn serve, bool from_left, bool to_left,
                 std::string_view destination, int64_t count = 0);

// Parses a blocking command's timeout in seconds (a float, as Redis), into an absolute deadline
// in ms (0: wait forever). Replies with Redis's error and returns false when it is bad.
bool ParseBlockTimeoutOrReply(CommandContext& ctx, std::string_view arg, int64_t* deadline_ms);

}  // namespace stockd::server
