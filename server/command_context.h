#pragma once
// What a handler sees while it runs: the arguments' shard data, the reply, the clock, and the
// client that sent the command.
//
// Threading contract. A data handler runs on the thread of the shard that owns its keys, or on
// the thread of the last shard of a locked set (multi-shard commands). Either way, DbFor(key)
// returns the database of the shard that owns `key`, and that shard is safe to touch. The client
// (`conn()`) is quiescent while its command runs elsewhere, so handlers may read and write its
// state; nothing else about the client is safe to touch.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/reply_builder.h"
#include "server/command.h"
#include "server/engine.h"
#include "storage/db.h"

namespace stockd::server {

class Connection;

class CommandContext {
 public:
  CommandContext(Engine& engine, Connection* conn, protocol::ReplyBuilder* reply, int db_index,
                 int64_t now_ms, const CommandSpec* spec)
      : engine_(engine),
        conn_(conn),
        reply_(reply),
        db_index_(db_index),
        now_ms_(now_ms),
        spec_(spec) {}

  Engine& engine() { return engine_; }
  Connection* conn() { return conn_; }
  protocol::ReplyBuilder& reply() { return *reply_; }
  int db_index() const { return db_index_; }
  void set_db_index(int db) { db_index_ = db; }
  int64_t now_ms() const { return now_ms_; }
  const CommandSpec& spec() const { return *spec_; }
  // True while recovery replays the command from the log: it was counted when it ran live, so it
  // counts toward nothing that describes live traffic (SKU.HOT's request rates).
  bool recovering() const { return recovering_; }
  void set_recovering(bool recovering) { recovering_ = recovering; }

  // Every access to shard data goes through ShardFor / DbFor / DbOnShard, which note the LSN of
  // the shard's last logged write: the reply depends on it (seen_lsn).
  storage::Shard& ShardFor(std::string_view key) { return Seen(engine_.ShardOf(key)); }
  storage::Db& DbFor(std::string_view key) { return ShardFor(key).db(db_index_); }
  storage::Db& DbOnShard(uint32_t shard) { return Seen(shard).db(db_index_); }
  storage::Shard& ShardAt(uint32_t shard) { return Seen(shard); }

  // A read lookup: counts keyspace hits and misses as INFO stats reports them.
  storage::Db::Entry* LookupRead(std::string_view key);
  storage::Db::Entry* LookupWrite(std::string_view key) { return DbFor(key).Find(key, now_ms_); }

  // Every handler that changes a key calls this once per key changed: it wakes WATCHers and
  // counts the change. It is the one place a write becomes visible to the rest of the system.
  void KeyModified(std::string_view key) {
    modified_ = true;
    uint32_t index = engine_.ShardOf(key);
    if (std::find(written_shards_.begin(), written_shards_.end(), index) == written_shards_.end()) {
      written_shards_.push_back(index);
    }
    storage::Shard& s = engine_.shard(index).data();
    s.KeyModified(db_index_, key);
    s.changes.Add();
    // A write to a key that clients block on: serve them once this command is done.
    if (s.has_ready_keys() &&
        std::find(ready_shards_.begin(), ready_shards_.end(), index) == ready_shards_.end()) {
      ready_shards_.push_back(index);
    }
  }
  const std::vector<uint32_t>& ready_shards() const { return ready_shards_; }
  // The handler names its effect as commands to log instead of its own argv, when replaying argv
  // would not reproduce it (a random choice: SPOP logs SREM of the members it chose), as Redis's
  // alsoPropagate. Each call is one record, in call order; without any call, argv is logged.
  void PropagateAs(std::vector<std::string> argv) { propagate_.push_back(std::move(argv)); }
  const std::vector<std::vector<std::string>>& propagated() const { return propagate_; }
  // For a write that changes keys without naming them (FLUSHDB, FLUSHALL): it is logged too.
  void AllKeysModified() {
    modified_ = true;
    written_shards_ = engine_.AllShards();
  }
  // True once KeyModified (or AllKeysModified) was called: the command changed data, so dispatch
  // logs it to the WAL.
  bool modified() const { return modified_; }
  // The shards this command wrote to (KeyModified / AllKeysModified).
  const std::vector<uint32_t>& written_shards() const { return written_shards_; }
  // Once the command's records are appended: `lsn` (the last of them) becomes the written shards'
  // last_write_lsn, which later readers of those shards wait for under appendfsync always.
  void MarkLogged(uint64_t lsn) {
    for (uint32_t i : written_shards_) engine_.shard(i).data().last_write_lsn = lsn;
  }
  // The highest last_write_lsn of the shards this command read or wrote: its reply must not be
  // released before that LSN is durable.
  uint64_t seen_lsn() const { return seen_lsn_; }

 private:
  Engine& engine_;
  Connection* conn_;
  protocol::ReplyBuilder* reply_;
  int db_index_;
  int64_t now_ms_;
  const CommandSpec* spec_;
  storage::Shard& Seen(uint32_t shard) {
    storage::Shard& s = engine_.shard(shard).data();
    seen_lsn_ = std::max(seen_lsn_, s.last_write_lsn);
    return s;
  }

  std::vector<uint32_t> ready_shards_;
  std::vector<uint32_t> written_shards_;
  uint64_t seen_lsn_ = 0;
  bool modified_ = false;
  bool recovering_ = false;
  std::vector<std::vector<std::string>> propagate_;
};

// Common replies and argument parsing shared by the command families. Each *OrReply helper
// replies with the error itself and returns false, so a handler can just return.
namespace reply {
inline constexpr std::string_view kSyntaxError = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
}  // namespace reply

// A random generator per thread, for commands that pick at random (RANDOMKEY, SPOP, HRANDFIELD...).
std::mt19937_64& ThreadRng();

// Looks up the value of type `type` at `key`. Returns false after replying WRONGTYPE when the key
// holds another type; otherwise *out is the value, or nullptr when the key does not exist. Reads
// count keyspace hits and misses, writes do not (as Redis's lookupKeyRead / lookupKeyWrite).
enum class LookupMode { kRead, kWrite };
template <typename T>
bool LookupOrReply(CommandContext& ctx, std::string_view key, storage::ValueType type,
                   LookupMode mode, T** out) {
  storage::Db::Entry* e = mode == LookupMode::kRead ? ctx.LookupRead(key) : ctx.LookupWrite(key);
  *out = nullptr;
  if (e == nullptr) return true;
  if (e->val.value.type() != type) {
    ctx.reply().Error(reply::kWrongType);
    return false;
  }
  *out = &e->val.value.As<T>();
  return true;
}

bool ParseInt64Arg(std::string_view s, int64_t* out);
// A count as Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) reads it.
bool ParseCountOrReply(CommandContext& ctx, std::string_view arg, int64_t* out);
// Formats as Redis's ld2string in LD_STR_HUMAN mode (INCRBYFLOAT, HINCRBYFLOAT): "%.17Lf", then
// trailing zeros after the point and a bare trailing point removed, "-0" as "0". `v` must be
// finite.
std::string FormatLongDouble(long double v);

// SCAN-family arguments (SCAN, HSCAN, SSCAN, ZSCAN).
inline constexpr int64_t kScanCountDefault = 10;  // COUNT's default, as Redis
// Parses a cursor as Redis's parseScanCursorOrReply (strtoul): decimal, no leading space, no
// trailing bytes, in range. The OrReply form answers "ERR invalid cursor".
bool ParseScanCursor(std::string_view arg, uint64_t* out);
bool ParseScanCursorOrReply(CommandContext& ctx, std::string_view arg, uint64_t* out);
struct ScanOptions {
  int64_t count = kScanCountDefault;
  std::string_view pattern;  // empty: no MATCH (or MATCH *)
  bool has_type = false;     // SCAN only
  std::string_view type;
};
// Parses [MATCH pattern] [COUNT count] (and [TYPE type] when `allow_type`) from args[first...];
// replies with Redis's error and returns false on a bad option.
bool ParseScanOptionsOrReply(CmdArgs args, size_t first, bool allow_type, CommandContext& ctx,
                             ScanOptions* out);
bool ParseInt64OrReply(CommandContext& ctx, std::string_view s, int64_t* out);
bool ParseLongDouble(std::string_view s, long double* out);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace stockd::server
