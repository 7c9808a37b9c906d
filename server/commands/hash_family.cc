// Hash commands, as Redis 7.0 defines them (t_hash.c): HSET HSETNX HGET HMGET HMSET HGETALL HDEL
// HEXISTS HLEN HKEYS HVALS HINCRBY HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN.
//
// Every check that can fail (arguments, type, overflow) runs before anything changes, so a command
// that replies with an error has changed nothing, and no command leaves an empty hash behind: a
// hash is created only when a field is about to be set, and deleted with its last field.
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "server/command_context.h"
#include "server/commands/families.h"
#include "storage/glob.h"
#include "storage/hash.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::HashValue;
using storage::Value;
using storage::ValueType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kScanStepsPerCount = 10;
// HRANDFIELD with a positive count below size: when count * this exceeds the size, copy every
// field and shuffle; otherwise draw random fields until enough are distinct (Redis's
// HRANDFIELD_SUB_STRATEGY_MUL).
constexpr uint64_t kRandomSubsetCopyFactor = 3;

using Lookup = LookupMode;
bool HashOrReply(CommandContext& ctx, std::string_view key, Lookup mode, HashValue** out) {
  return LookupOrReply(ctx, key, ValueType::kHash, mode, out);
}

// The hash at `key`, created empty when missing. The caller checked the type and sets a field
// before it returns, so no empty hash is left behind.
HashValue& HashForWrite(CommandContext& ctx, std::string_view key, HashValue* existing) {
  if (existing != nullptr) return *existing;
  Db::Entry* e = ctx.DbFor(key).FindOrInsert(key, ctx.now_ms()).first;
  e->val.value = Value::Of(ValueType::kHash, std::make_unique<HashValue>());
  return e->val.value.As<HashValue>();
}

// Deletes `key` when its hash has become empty (Redis never keeps an empty collection).
void DeleteIfEmpty(CommandContext& ctx, std::string_view key, const HashValue& hash) {
  if (hash.size() == 0) ctx.DbFor(key).Erase(key, ctx.now_ms());
}

void ReplyArity(CommandContext& ctx) {
  ctx.reply().Error(
      fmt::format("ERR wrong number of arguments for '{}' command", ctx.spec().FullName()));
}

// HSET and HMSET: field value pairs from args[2].
void HSetGeneric(CmdArgs args, CommandContext& ctx, bool reply_ok) {
  if (args.size() % 2 != 0) return ReplyArity(ctx);
  std::string_view key = args[1];
  HashValue* existing;
  if (!HashOrReply(ctx, key, Lookup::kWrite, &existing)) return;
  HashValue& hash = HashForWrite(ctx, key, existing);
  int64_t created = 0;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (hash.Set(args[i], args[i + 1])) ++created;
  }
  ctx.KeyModified(key);
  if (reply_ok) return ctx.reply().Ok();
  ctx.reply().Integer(created);
}

enum HashPart : uint32_t { kFields = 1u << 0, kValues = 1u << 1 };

// HGETALL, HKEYS, HVALS. HGETALL is a map in RESP3; the others arrays.
void HGetAllGeneric(CmdArgs args, CommandContext& ctx, uint32_t parts) {
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  int64_t n = hash == nullptr ? 0 : static_cast<int64_t>(hash->size());
  if (parts == (kFields | kValues)) {
    rb.MapHeader(n);
  } else {
    rb.ArrayHeader(n);
  }
  if (hash == nullptr) return;
  hash->ForEach([&](std::string_view f, std::string_view v) {
    if (parts & kFields) rb.Bulk(f);
    if (parts & kValues) rb.Bulk(v);
  });
}

// HRANDFIELD's reply for one field: field, value (RESP3: a pair array) with WITHVALUES.
void ReplyRandomField(protocol::ReplyBuilder& rb, std::string_view f, std::string_view v,
                      bool with_values) {
  if (with_values && rb.resp_version() >= 3) rb.ArrayHeader(2);
  rb.Bulk(f);
  if (with_values) rb.Bulk(v);
}

// HRANDFIELD key count [WITHVALUES] (Redis's hrandfieldWithCountCommand). A negative count may
// repeat fields and returns exactly -count of them; a positive one returns distinct fields, at
// most the whole hash.
void HRandFieldWithCount(CommandContext& ctx, HashValue* hash, int64_t count_arg,
                         bool with_values) {
  protocol::ReplyBuilder& rb = ctx.reply();
  if (hash == nullptr || count_arg == 0) return rb.EmptyArray();
  const bool unique = count_arg > 0;
  const uint64_t count =
      unique ? static_cast<uint64_t>(count_arg) : static_cast<uint64_t>(-count_arg);
  const uint64_t size = hash->size();
  const int64_t per_field = with_values && rb.resp_version() == 2 ? 2 : 1;
  if (!unique || count == 1) {
    rb.ArrayHeader(static_cast<int64_t>(count) * per_field);
    for (uint64_t i = 0; i < count; ++i) {
      auto [f, v] = hash->Random(ThreadRng());
      ReplyRandomField(rb, f, v, with_values);
    }
    return;
  }
  const uint64_t n = std::min(count, size);
  rb.ArrayHeader(static_cast<int64_t>(n) * per_field);
  if (count >= size) {
    hash->ForEach(
        [&](std::string_view f, std::string_view v) { ReplyRandomField(rb, f, v, with_values); });
    return;
  }
  if (count * kRandomSubsetCopyFactor > size) {
    std::vector<std::pair<std::string_view, std::string_view>> all;
    all.reserve(size);
    hash->ForEach([&](std::string_view f, std::string_view v) { all.emplace_back(f, v); });
    for (uint64_t i = 0; i < n; ++i) {  // a partial Fisher-Yates shuffle
      uint64_t j = i + ThreadRng()() % (size - i);
      std::swap(all[i], all[j]);
      ReplyRandomField(rb, all[i].first, all[i].second, with_values);
    }
    return;
  }
  // Few fields of a large hash: draw until `n` are distinct (expected draws < 1.5 n here).
  absl::flat_hash_set<std::string_view> seen;
  while (seen.size() < n) {
    auto [f, v] = hash->Random(ThreadRng());
    if (seen.insert(f).second) ReplyRandomField(rb, f, v, with_values);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handlers

void CmdHSet(CmdArgs args, CommandContext& ctx) { HSetGeneric(args, ctx, /*reply_ok=*/false); }
void CmdHMSet(CmdArgs args, CommandContext& ctx) { HSetGeneric(args, ctx, /*reply_ok=*/true); }

void CmdHSetNx(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  HashValue* existing;
  if (!HashOrReply(ctx, key, Lookup::kWrite, &existing)) return;
  if (existing != nullptr && existing->Find(args[2]) != nullptr) return ctx.reply().Integer(0);
  HashForWrite(ctx, key, existing).Set(args[2], args[3]);
  ctx.KeyModified(key);
  ctx.reply().Integer(1);
}

void CmdHGet(CmdArgs args, CommandContext& ctx) {
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  const std::string* v = hash == nullptr ? nullptr : hash->Find(args[2]);
  if (v == nullptr) return ctx.reply().Null();
  ctx.reply().Bulk(*v);
}

void CmdHMGet(CmdArgs args, CommandContext& ctx) {
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(args.size() - 2));
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string* v = hash == nullptr ? nullptr : hash->Find(args[i]);
    if (v == nullptr) {
      rb.Null();
    } else {
      rb.Bulk(*v);
    }
  }
}

void CmdHGetAll(CmdArgs args, CommandContext& ctx) { HGetAllGeneric(args, ctx, kFields | kValues); }
void CmdHKeys(CmdArgs args, CommandContext& ctx) { HGetAllGeneric(args, ctx, kFields); }
void CmdHVals(CmdArgs args, CommandContext& ctx) { HGetAllGeneric(args, ctx, kValues); }

void CmdHDel(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  HashValue* hash;
  if (!HashOrReply(ctx, key, Lookup::kWrite, &hash)) return;
  int64_t deleted = 0;
  if (hash != nullptr) {
    for (size_t i = 2; i < args.size() && hash->size() > 0; ++i) {
      if (hash->Erase(args[i])) ++deleted;
    }
    if (deleted > 0) {
      DeleteIfEmpty(ctx, key, *hash);  // `hash` dangles from here when the key went
      ctx.KeyModified(key);
    }
  }
  ctx.reply().Integer(deleted);
}

void CmdHExists(CmdArgs args, CommandContext& ctx) {
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  ctx.reply().Integer(hash != nullptr && hash->Find(args[2]) != nullptr ? 1 : 0);
}

void CmdHLen(CmdArgs args, CommandContext& ctx) {
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  ctx.reply().Integer(hash == nullptr ? 0 : static_cast<int64_t>(hash->size()));
}

void CmdHStrLen(CmdArgs args, CommandContext& ctx) {
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  const std::string* v = hash == nullptr ? nullptr : hash->Find(args[2]);
  ctx.reply().Integer(v == nullptr ? 0 : static_cast<int64_t>(v->size()));
}

void CmdHIncrBy(CmdArgs args, CommandContext& ctx) {
  int64_t delta;
  if (!ParseInt64OrReply(ctx, args[3], &delta)) return;
  std::string_view key = args[1];
  HashValue* existing;
  if (!HashOrReply(ctx, key, Lookup::kWrite, &existing)) return;
  int64_t old = 0;
  const std::string* current = existing == nullptr ? nullptr : existing->Find(args[2]);
  if (current != nullptr && !ParseInt64Arg(*current, &old)) {
    return ctx.reply().Error("ERR hash value is not an integer");
  }
  if ((delta < 0 && old < 0 && delta < kInt64Min - old) ||
      (delta > 0 && old > 0 && delta > kInt64Max - old)) {
    return ctx.reply().Error(reply::kOverflow);
  }
  int64_t result = old + delta;
  HashForWrite(ctx, key, existing).Set(args[2], std::to_string(result));
  ctx.KeyModified(key);
  ctx.reply().Integer(result);
}

void CmdHIncrByFloat(CmdArgs args, CommandContext& ctx) {
  long double incr;
  if (!ParseLongDouble(args[3], &incr)) return ctx.reply().Error(reply::kNotFloat);
  // Checked before the key (Redis 7.0.5 on), so a rejected increment never creates the hash.
  if (std::isnan(incr) || std::isinf(incr)) {
    return ctx.reply().Error("ERR value is NaN or Infinity");
  }
  std::string_view key = args[1];
  HashValue* existing;
  if (!HashOrReply(ctx, key, Lookup::kWrite, &existing)) return;
  long double value = 0;
  const std::string* current = existing == nullptr ? nullptr : existing->Find(args[2]);
  if (current != nullptr && !ParseLongDouble(*current, &value)) {
    return ctx.reply().Error("ERR hash value is not a float");
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) {
    return ctx.reply().Error("ERR increment would produce NaN or Infinity");
  }
  std::string result = FormatLongDouble(value);
  HashForWrite(ctx, key, existing).Set(args[2], result);
  ctx.KeyModified(key);
  ctx.reply().Bulk(result);  // a bulk string in RESP3 too, as Redis
}

// HRANDFIELD key [count [WITHVALUES]].
void CmdHRandField(CmdArgs args, CommandContext& ctx) {
  if (args.size() == 2) {
    HashValue* hash;
    if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
    if (hash == nullptr) return ctx.reply().Null();
    ctx.reply().Bulk(hash->Random(ThreadRng()).first);
    return;
  }
  int64_t count;
  if (!ParseCountOrReply(ctx, args[2], &count)) return;
  bool with_values = false;
  if (args.size() > 4 || (args.size() == 4 && !EqualsIgnoreCase(args[3], "WITHVALUES"))) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  if (args.size() == 4) {
    with_values = true;
    // Redis's bound, so that count * 2 reply elements cannot overflow.
    if (count < -kInt64Max / 2 || count > kInt64Max / 2) {
      return ctx.reply().Error("ERR value is out of range");
    }
  }
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  HRandFieldWithCount(ctx, hash, count, with_values);
}

// HSCAN key cursor [MATCH pattern] [COUNT count]: the reply is SCAN's, [cursor, [f, v, ...]].
void CmdHScan(CmdArgs args, CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursorOrReply(ctx, args[2], &cursor)) return;
  HashValue* hash;
  if (!HashOrReply(ctx, args[1], Lookup::kRead, &hash)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  if (hash == nullptr) {  // as Redis: before the options are parsed
    rb.ArrayHeader(2);
    rb.Bulk("0");
    return rb.EmptyArray();
  }
  ScanOptions opt;
  if (!ParseScanOptionsOrReply(args, 3, false, ctx, &opt)) return;
  std::vector<std::pair<std::string_view, std::string_view>> found;
  // Replies seen before filtering, which COUNT bounds; a field and its value count as two, as
  // in Redis.
  int64_t visited = 0;
  auto emit = [&](std::string_view f, std::string_view v) {
    visited += 2;
    if (!opt.pattern.empty() && !storage::GlobMatch(opt.pattern, f)) return;
    found.emplace_back(f, v);
  };
  int64_t steps_left =
      opt.count > kInt64Max / kScanStepsPerCount ? kInt64Max : opt.count * kScanStepsPerCount;
  do {
    cursor = hash->Scan(cursor, emit);
  } while (cursor != 0 && --steps_left > 0 && visited < opt.count);
  rb.ArrayHeader(2);
  rb.Bulk(std::to_string(cursor));
  rb.ArrayHeader(static_cast<int64_t>(found.size()) * 2);
  for (const auto& [f, v] : found) {
    rb.Bulk(f);
    rb.Bulk(v);
  }
}

}  // namespace stockd::server
