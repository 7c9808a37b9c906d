// Keyspace commands, as Redis 7.0 defines them (db.c, expire.c): DEL UNLINK EXISTS TYPE RENAME
// RENAMENX RANDOMKEY KEYS SCAN EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME
// PEXPIRETIME PERSIST.
//
// SCAN's cursor. Keys are spread over shards, so the cursor names a shard in its low
// kScanShardBits bits and that shard's Dict cursor above them. A scan walks shard 0's table to its
// end, then shard 1's, and so on; the last shard's end is cursor 0. SCAN runs with every shard
// locked (one short step), so a call that finishes a shard with COUNT budget left goes on into
// the next, and an empty keyspace answers cursor 0 at once, as Redis does.
// Dict's reverse-binary cursor keeps Redis's guarantee per shard (a key present for the whole
// scan is returned at least once), hence for the whole keyspace.
#include <fmt/format.h>

#include <cassert>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/config.h"
#include "storage/glob.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::ValueType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kMsPerSecond = 1000;

constexpr int kScanShardBits = 8;
constexpr uint64_t kScanShardMask = (uint64_t{1} << kScanShardBits) - 1;
static_assert(kShardsMax <= (1 << kScanShardBits), "SCAN cursor cannot name every shard");
// Dict scan steps one SCAN call may take per COUNT, as Redis (a sparse table returns fewer keys
// instead of blocking the shard).
constexpr int64_t kScanStepsPerCount = 10;

// Random picks RANDOMKEY tries before it walks the keyspace for any live key. Each expired pick
// is deleted, so picks only fail while expired keys remain.
constexpr int kRandomKeyPicksMax = 100;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const char* TypeNameOf(const Db::Entry* e) { return storage::TypeName(e->val.value.type()); }

// ---------------------------------------------------------------------------------------------
// SCAN cursor

struct ScanCursor {
  uint32_t shard;
  uint64_t dict_cursor;
};

// Splits a cursor; false when it cannot be parsed or names a shard that does not exist.
bool DecodeScanCursor(std::string_view arg, uint32_t shards, ScanCursor* out) {
  uint64_t cursor;
  if (!ParseScanCursor(arg, &cursor)) return false;
  uint64_t shard = cursor & kScanShardMask;
  if (shard >= shards) return false;
  out->shard = static_cast<uint32_t>(shard);
  out->dict_cursor = cursor >> kScanShardBits;
  return true;
}

uint64_t EncodeScanCursor(uint32_t shard, uint64_t dict_cursor) {
  // A Dict cursor never exceeds its table's bucket mask, far below 2^(64 - kScanShardBits).
  assert((dict_cursor >> (64 - kScanShardBits)) == 0);
  return (dict_cursor << kScanShardBits) | shard;
}

// ---------------------------------------------------------------------------------------------
// Shared operations

void RenameGeneric(CmdArgs args, CommandContext& ctx, bool nx) {
  std::string_view src = args[1], dst = args[2];
  protocol::ReplyBuilder& rb = ctx.reply();
  Db::Entry* from = ctx.LookupWrite(src);
  if (from == nullptr) return rb.Error("ERR no such key");
  if (src == dst) return nx ? rb.Integer(0) : rb.Ok();
  if (nx && ctx.LookupWrite(dst) != nullptr) return rb.Integer(0);
  // Take the value out and drop the source first; the destination may live on another shard.
  storage::Slot slot = std::move(from->val);
  Db& src_db = ctx.DbFor(src);
  src_db.EraseEntry(from);  // also drops it from the expiry index
  Db& dst_db = ctx.DbFor(dst);
  Db::Entry* to = dst_db.FindOrInsert(dst, ctx.now_ms()).first;
  to->val.value = std::move(slot.value);
  dst_db.SetExpire(to, slot.expire_at_ms);  // also clears an expiry the old destination had
  ctx.KeyModified(src);
  ctx.KeyModified(dst);
  if (to->val.value.type() == storage::ValueType::kSku) SkuMoved(ctx, dst);
  return nx ? rb.Integer(1) : rb.Ok();
}

enum ExpireFlag : uint32_t {
  kExpireNx = 1u << 0,
  kExpireXx = 1u << 1,
  kExpireGt = 1u << 2,
  kExpireLt = 1u << 3,
};

// EXPIRE's NX XX GT LT (Redis 7.0's parseExtendedExpireArgumentsOrReply).
bool ParseExpireFlagsOrReply(CmdArgs args, CommandContext& ctx, uint32_t* flags) {
  for (size_t i = 3; i < args.size(); ++i) {
    std::string_view opt = args[i];
    if (EqualsIgnoreCase(opt, "NX")) {
      *flags |= kExpireNx;
    } else if (EqualsIgnoreCase(opt, "XX")) {
      *flags |= kExpireXx;
    } else if (EqualsIgnoreCase(opt, "GT")) {
      *flags |= kExpireGt;
    } else if (EqualsIgnoreCase(opt, "LT")) {
      *flags |= kExpireLt;
    } else {
      ctx.reply().Error(fmt::format("ERR Unsupported option {}", opt));
      return false;
    }
  }
  if ((*flags & kExpireNx) && (*flags & (kExpireXx | kExpireGt | kExpireLt))) {
    ctx.reply().Error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return false;
  }
  if ((*flags & kExpireGt) && (*flags & kExpireLt)) {
    ctx.reply().Error("ERR GT and LT options at the same time are not compatible");
    return false;
  }
  return true;
}

// Whether NX/XX/GT/LT allow replacing expiry `current` (0: none, an infinite TTL) by `when`.
bool ExpireConditionHolds(uint32_t flags, int64_t current, int64_t when) {
  bool has_ttl = current != 0;
  if ((flags & kExpireNx) && has_ttl) return false;
  if ((flags & kExpireXx) && !has_ttl) return false;
  if ((flags & kExpireGt) && (!has_ttl || when <= current)) return false;
  if ((flags & kExpireLt) && has_ttl && when >= current) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handlers

// DEL and UNLINK (deletion is synchronous either way).
void CmdDel(CmdArgs args, CommandContext& ctx) {
  int64_t deleted = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (ctx.DbFor(args[i]).Erase(args[i], ctx.now_ms())) {
      ctx.KeyModified(args[i]);
      ++deleted;
    }
  }
  ctx.reply().Integer(deleted);
}

// Counts every argument naming a live key, repeats included.
void CmdExists(CmdArgs args, CommandContext& ctx) {
  int64_t count = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (ctx.LookupRead(args[i]) != nullptr) ++count;
  }
  ctx.reply().Integer(count);
}

void CmdType(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e = ctx.LookupRead(args[1]);
  ctx.reply().SimpleString(e == nullptr ? "none" : TypeNameOf(e));
}

void CmdRename(CmdArgs args, CommandContext& ctx) { RenameGeneric(args, ctx, /*nx=*/false); }
void CmdRenameNx(CmdArgs args, CommandContext& ctx) { RenameGeneric(args, ctx, /*nx=*/true); }

// Runs with every shard locked. Picks a shard weighted by its key count, then a random key of it,
// so every key is about equally likely; an expired pick is deleted and the pick retried.
void CmdRandomKey(CmdArgs args, CommandContext& ctx) {
  std::mt19937_64& rng = ThreadRng();
  const uint32_t shards = ctx.engine().shard_count();
  for (int pick = 0; pick < kRandomKeyPicksMax; ++pick) {
    uint64_t total = 0;
    for (uint32_t s = 0; s < shards; ++s) total += ctx.DbOnShard(s).size();
    if (total == 0) return ctx.reply().Null();
    uint64_t r = rng() % total;
    uint32_t s = 0;
    while (r >= ctx.DbOnShard(s).size()) r -= ctx.DbOnShard(s++).size();
    Db& db = ctx.DbOnShard(s);
    Db::Entry* e = db.Random(rng);
    assert(e != nullptr);
    if (!Db::IsExpired(e, ctx.now_ms())) return ctx.reply().Bulk(e->key);
    // Deleted as lazy expiry does, telling the shard; not on a standby, whose primary's records
    // decide when a key goes (docs/replication.md).
    if (ctx.engine().standby()) continue;
    std::string key = e->key;
    db.Find(key, ctx.now_ms());
  }
  // Many expired picks in a row: any live key will do.
  for (uint32_t s = 0; s < shards; ++s) {
    Db::Entry* live = nullptr;
    ctx.DbOnShard(s).ForEach([&](Db::Entry* e) {
      if (live == nullptr && !Db::IsExpired(e, ctx.now_ms())) live = e;
    });
    if (live != nullptr) return ctx.reply().Bulk(live->key);
  }
  ctx.reply().Null();
}

// Runs with every shard locked.
void CmdKeys(CmdArgs args, CommandContext& ctx) {
  std::string_view pattern = args[1];
  bool all = pattern == "*";
  std::vector<std::string_view> keys;
  for (uint32_t s = 0; s < ctx.engine().shard_count(); ++s) {
    ctx.DbOnShard(s).ForEach([&](Db::Entry* e) {
      if (Db::IsExpired(e, ctx.now_ms())) return;
      if (all || storage::GlobMatch(pattern, e->key)) keys.push_back(e->key);
    });
  }
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (std::string_view k : keys) rb.Bulk(k);
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]; runs with every shard locked.
void CmdScan(CmdArgs args, CommandContext& ctx) {
  ScanCursor c;
  if (!DecodeScanCursor(args[1], ctx.engine().shard_count(), &c)) {
    return ctx.reply().Error("ERR invalid cursor");
  }
  ScanOptions opt;
  if (!ParseScanOptionsOrReply(args, 2, true, ctx, &opt)) return;
  std::vector<std::string_view> keys;
  int64_t visited = 0;  // keys seen before filtering, which COUNT bounds as in Redis
  auto emit = [&](Db::Entry* e) {
    ++visited;
    if (Db::IsExpired(e, ctx.now_ms())) return;
    if (!opt.pattern.empty() && !storage::GlobMatch(opt.pattern, e->key)) return;
    if (opt.has_type && !EqualsIgnoreCase(opt.type, TypeNameOf(e))) return;
    keys.push_back(e->key);
  };
  int64_t steps_left =
      opt.count > kInt64Max / kScanStepsPerCount ? kInt64Max : opt.count * kScanStepsPerCount;
  uint32_t shard = c.shard;
  uint64_t dict_cursor = c.dict_cursor;
  uint64_t next = 0;
  while (true) {
    Db& db = ctx.DbOnShard(shard);
    do {
      dict_cursor = db.Scan(dict_cursor, emit);
    } while (dict_cursor != 0 && --steps_left > 0 && visited < opt.count);
    if (dict_cursor != 0) {
      next = EncodeScanCursor(shard, dict_cursor);
      break;
    }
    if (++shard == ctx.engine().shard_count()) break;  // the last shard is done: cursor 0
    if (steps_left <= 0 || visited >= opt.count) {
      next = EncodeScanCursor(shard, 0);  // budget spent: the next call starts this shard
      break;
    }
  }
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(2);
  rb.Bulk(std::to_string(next));
  rb.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (std::string_view k : keys) rb.Bulk(k);
}

// EXPIRE key seconds, PEXPIRE key ms, EXPIREAT key unix-seconds, PEXPIREAT key unix-ms; each
// with [NX | XX | GT | LT]. A time not in the future deletes the key (and replies 1).
void CmdExpire(CmdArgs args, CommandContext& ctx) {
  std::string_view name = args[0];
  bool in_ms = EqualsIgnoreCase(name, "pexpire") || EqualsIgnoreCase(name, "pexpireat");
  bool absolute = EqualsIgnoreCase(name, "expireat") || EqualsIgnoreCase(name, "pexpireat");
  uint32_t flags = 0;
  if (!ParseExpireFlagsOrReply(args, ctx, &flags)) return;
  int64_t when;
  if (!ParseInt64OrReply(ctx, args[2], &when)) return;
  auto invalid = [&] {
    ctx.reply().Error(fmt::format("ERR invalid expire time in '{}' command", Lower(name)));
  };
  // Negative times are allowed (they delete the key); only overflow is an error.
  if (!in_ms) {
    if (when > kInt64Max / kMsPerSecond || when < kInt64Min / kMsPerSecond) return invalid();
    when *= kMsPerSecond;
  }
  int64_t base = absolute ? 0 : ctx.now_ms();
  if (when > kInt64Max - base) return invalid();
  when += base;

  std::string_view key = args[1];
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr) return ctx.reply().Integer(0);
  if (!ExpireConditionHolds(flags, e->val.expire_at_ms, when)) return ctx.reply().Integer(0);
  Db& db = ctx.DbFor(key);
  if (when <= ctx.now_ms()) {
    db.EraseEntry(e);
  } else {
    db.SetExpire(e, when);
  }
  ctx.KeyModified(key);
  ctx.reply().Integer(1);
}

// TTL and PTTL (remaining time), EXPIRETIME and PEXPIRETIME (absolute Unix time): -2 for a
// missing key, -1 for a key without expiry. Seconds are rounded to the nearest, as Redis.
void CmdTtl(CmdArgs args, CommandContext& ctx) {
  std::string_view name = args[0];
  bool in_ms = EqualsIgnoreCase(name, "pttl") || EqualsIgnoreCase(name, "pexpiretime");
  bool absolute = EqualsIgnoreCase(name, "expiretime") || EqualsIgnoreCase(name, "pexpiretime");
  Db::Entry* e = ctx.LookupRead(args[1]);
  if (e == nullptr) return ctx.reply().Integer(-2);
  int64_t at_ms = e->val.expire_at_ms;
  if (at_ms == 0) return ctx.reply().Integer(-1);
  int64_t t = absolute ? at_ms : at_ms - ctx.now_ms();
  if (t < 0) t = 0;
  if (!in_ms) t = t / kMsPerSecond + (t % kMsPerSecond >= kMsPerSecond / 2 ? 1 : 0);
  ctx.reply().Integer(t);
}

void CmdPersist(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e = ctx.LookupWrite(args[1]);
  if (e == nullptr || e->val.expire_at_ms == 0) return ctx.reply().Integer(0);
  ctx.DbFor(args[1]).SetExpire(e, 0);
  ctx.KeyModified(args[1]);
  ctx.reply().Integer(1);
}

}  // namespace stockd::server

// --- OBJECT and MEMORY: what a key's value is and costs ---------------------------------------

namespace stockd::server {

void CmdObjectEncoding(CmdArgs args, CommandContext& ctx) {
  storage::Db::Entry* e = ctx.LookupWrite(args[2]);  // no keyspace hit/miss, as Redis
  if (e == nullptr) return ctx.reply().Null();
  ctx.reply().Bulk(e->val.value.EncodingName());
}

void CmdObjectRefCount(CmdArgs args, CommandContext& ctx) {
  storage::Db::Entry* e = ctx.LookupWrite(args[2]);
  if (e == nullptr) return ctx.reply().Null();
  ctx.reply().Integer(1);  // values are never shared between keys
}

void CmdObjectFreq(CmdArgs args, CommandContext& ctx) {
  ctx.reply().Error(
      "ERR An LFU maxmemory policy is not selected, access frequency not tracked. stockd never "
      "evicts (maxmemory-policy noeviction), so it does not track access frequency.");
}

void CmdObjectIdleTime(CmdArgs args, CommandContext& ctx) {
  ctx.reply().Error(
      "ERR OBJECT IDLETIME is not supported: stockd never evicts, so it does not track when a key "
      "was last accessed.");
}

void CmdObjectHelp(CmdArgs, CommandContext& ctx) {
  auto& r = ctx.reply();
  r.ArrayHeader(7);
  r.SimpleString("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  r.SimpleString("ENCODING <key>");
  r.SimpleString("    Return the kind of internal representation used in order to store the value");
  r.SimpleString("    associated with a <key>.");
  r.SimpleString("REFCOUNT <key>");
  r.SimpleString("    Return the number of references of the value associated with the specified");
  r.SimpleString("    <key> (always 1).");
}

void CmdMemoryUsage(CmdArgs args, CommandContext& ctx) {
  // MEMORY USAGE key [SAMPLES count]: SAMPLES is accepted for compatibility; the figure is exact
  // for strings and each collection's own estimate (no sampling) for the others.
  if (args.size() != 3) {
    if (args.size() != 5 || !EqualsIgnoreCase(args[3], "SAMPLES")) {
      return ctx.reply().Error(reply::kSyntaxError);
    }
    int64_t samples;
    if (!ParseInt64OrReply(ctx, args[4], &samples)) return;
  }
  storage::Db::Entry* e = ctx.LookupWrite(args[2]);
  if (e == nullptr) return ctx.reply().Null();
  size_t bytes = sizeof(storage::Db::Entry) + e->val.value.HeapBytes();
  if (e->key.size() > storage::kEmbeddedStringBytesMax) bytes += e->key.capacity() + 1;
  ctx.reply().Integer(static_cast<int64_t>(bytes));
}

void CmdMemoryHelp(CmdArgs, CommandContext& ctx) {
  auto& r = ctx.reply();
  r.ArrayHeader(3);
  r.SimpleString("MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  r.SimpleString("USAGE <key> [SAMPLES <count>]");
  r.SimpleString("    Return memory in bytes used by <key> and its value.");
}

}  // namespace stockd::server
