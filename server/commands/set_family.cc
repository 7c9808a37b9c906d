// Set commands, as Redis 7.0 defines them (t_set.c): SADD SREM SISMEMBER SMISMEMBER SMEMBERS
// SCARD SPOP SRANDMEMBER SMOVE SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SINTERCARD
// SSCAN.
//
// Every check that can fail (arguments, types) runs before anything changes, so a command that
// replies with an error has changed nothing, and no command leaves an empty set behind.
// Multi-key commands run with all their keys' shards locked (the table's key positions), so each
// key is simply looked up in its own shard's database.
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "server/command_context.h"
#include "server/commands/families.h"
#include "storage/glob.h"
#include "storage/set.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::SetValue;
using storage::Value;
using storage::ValueType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kScanStepsPerCount = 10;
// SRANDMEMBER with a positive count below size: when count * this exceeds the size, copy every
// member and shuffle; otherwise draw random members until enough are distinct (Redis's
// SRANDMEMBER_SUB_STRATEGY_MUL).
constexpr uint64_t kRandomSubsetCopyFactor = 3;

using Lookup = LookupMode;
bool SetOrReply(CommandContext& ctx, std::string_view key, Lookup mode, SetValue** out) {
  return LookupOrReply(ctx, key, ValueType::kSet, mode, out);
}

// Stores `set` at `key`, replacing whatever was there and dropping its TTL (Redis's setKey).
SetValue& StoreSet(CommandContext& ctx, std::string_view key, std::unique_ptr<SetValue> set) {
  Db& db = ctx.DbFor(key);
  Db::Entry* e = db.FindOrInsert(key, ctx.now_ms()).first;
  e->val.value = Value::Of(ValueType::kSet, std::move(set));
  if (e->val.expire_at_ms != 0) db.SetExpire(e, 0);
  return e->val.value.As<SetValue>();
}

// Deletes `key` when its set has become empty (Redis never keeps an empty collection).
void DeleteIfEmpty(CommandContext& ctx, std::string_view key, const SetValue& set) {
  if (set.size() == 0) ctx.DbFor(key).Erase(key, ctx.now_ms());
}

// Parses a non-negative integer as Redis's getPositiveLongFromObjectOrReply: any failure, not an
// integer included, replies `message`.
bool ParseNonNegativeOrReply(CommandContext& ctx, std::string_view arg, std::string_view message,
                             int64_t* out) {
  if (ParseInt64Arg(arg, out) && *out >= 0) return true;
  ctx.reply().Error(message);
  return false;
}

void ReplyMembers(protocol::ReplyBuilder& rb, const SetValue& set) {
  rb.SetHeader(static_cast<int64_t>(set.size()));
  set.ForEach([&](std::string_view m) { rb.Bulk(m); });
}

// ---------------------------------------------------------------------------------------------
// SINTER SUNION SDIFF and their STORE and CARD forms

enum class SetOp { kInter, kUnion, kDiff };

// Looks up every key in `keys`; nullptr for a missing one. Returns false after replying
// WRONGTYPE when any key holds another type (all are checked before anything else, as Redis).
bool SetsOrReply(CommandContext& ctx, CmdArgs keys, Lookup mode, std::vector<SetValue*>* out) {
  out->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!SetOrReply(ctx, keys[i], mode, &(*out)[i])) return false;
  }
  return true;
}

// Whether `member` of sets[first] is in every other set. A set that appears twice (the same key
// given twice) is skipped: it contains the member, and looking it up could rehash the table that
// is being iterated.
bool InAllOthers(const std::vector<SetValue*>& sets, size_t first, std::string_view member) {
  for (size_t j = 0; j < sets.size(); ++j) {
    if (j == first || sets[j] == sets[first]) continue;
    if (!sets[j]->Contains(member)) return false;
  }
  return true;
}

// Calls fn(member) for each member of the intersection of `sets` (none missing) until fn
// returns false. Iterates the smallest set.
template <typename Fn>
void ForEachInIntersection(std::vector<SetValue*>& sets, Fn&& fn) {
  size_t smallest = 0;
  for (size_t j = 1; j < sets.size(); ++j) {
    if (sets[j]->size() < sets[smallest]->size()) smallest = j;
  }
  bool go_on = true;
  sets[smallest]->ForEach([&](std::string_view m) {
    if (go_on && InAllOthers(sets, smallest, m)) go_on = fn(m);
  });
}

// The result of `op` over `sets` (nullptr: a missing key, an empty set) as a new set, which
// starts as an empty intset and grows its encoding as Redis's result does.
std::unique_ptr<SetValue> Compute(SetOp op, std::vector<SetValue*>& sets) {
  auto result = std::make_unique<SetValue>();
  switch (op) {
    case SetOp::kInter:
      if (std::find(sets.begin(), sets.end(), nullptr) != sets.end()) break;
      ForEachInIntersection(sets, [&](std::string_view m) {
        result->Add(m);
        return true;
      });
      break;
    case SetOp::kUnion:
      for (SetValue* s : sets) {
        if (s != nullptr) s->ForEach([&](std::string_view m) { result->Add(m); });
      }
      break;
    case SetOp::kDiff: {
      SetValue* first = sets[0];
      if (first == nullptr) break;
      for (size_t j = 1; j < sets.size(); ++j) {
        if (sets[j] == first) return result;  // a set minus itself is empty
      }
      first->ForEach([&](std::string_view m) {
        for (size_t j = 1; j < sets.size(); ++j) {
          if (sets[j] != nullptr && sets[j]->Contains(m)) return;
        }
        result->Add(m);
      });
      break;
    }
  }
  return result;
}

// SINTER SUNION SDIFF key [key ...]: the result as a set (RESP3 "~").
void SetOpGeneric(CmdArgs args, CommandContext& ctx, SetOp op) {
  std::vector<SetValue*> sets;
  if (!SetsOrReply(ctx, args.subspan(1), Lookup::kRead, &sets)) return;
  ReplyMembers(ctx.reply(), *Compute(op, sets));
}

// SINTERSTORE SUNIONSTORE SDIFFSTORE destination key [key ...]: the result replaces destination
// (deleted when the result is empty); replies with its size.
void SetOpStoreGeneric(CmdArgs args, CommandContext& ctx, SetOp op) {
  std::vector<SetValue*> sets;
  if (!SetsOrReply(ctx, args.subspan(2), Lookup::kWrite, &sets)) return;
  std::unique_ptr<SetValue> result = Compute(op, sets);  // before destination changes: it may
                                                         // be one of the sources
  std::string_view dst = args[1];
  int64_t size = static_cast<int64_t>(result->size());
  if (size > 0) {
    StoreSet(ctx, dst, std::move(result));
    ctx.KeyModified(dst);
  } else if (ctx.DbFor(dst).Erase(dst, ctx.now_ms())) {
    ctx.KeyModified(dst);
  }
  ctx.reply().Integer(size);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handlers

void CmdSAdd(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  SetValue* set;
  if (!SetOrReply(ctx, key, Lookup::kWrite, &set)) return;
  if (set == nullptr) set = &StoreSet(ctx, key, SetValue::ForMembers(args[2], args.size() - 2));
  int64_t added = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (set->Add(args[i])) ++added;
  }
  if (added > 0) ctx.KeyModified(key);
  ctx.reply().Integer(added);
}

void CmdSRem(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  SetValue* set;
  if (!SetOrReply(ctx, key, Lookup::kWrite, &set)) return;
  int64_t removed = 0;
  if (set != nullptr) {
    for (size_t i = 2; i < args.size() && set->size() > 0; ++i) {
      if (set->Remove(args[i])) ++removed;
    }
    if (removed > 0) {
      DeleteIfEmpty(ctx, key, *set);  // `set` dangles from here when the key went
      ctx.KeyModified(key);
    }
  }
  ctx.reply().Integer(removed);
}

void CmdSIsMember(CmdArgs args, CommandContext& ctx) {
  SetValue* set;
  if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
  ctx.reply().Integer(set != nullptr && set->Contains(args[2]) ? 1 : 0);
}

void CmdSMIsMember(CmdArgs args, CommandContext& ctx) {
  SetValue* set;
  if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(args.size() - 2));
  for (size_t i = 2; i < args.size(); ++i) {
    rb.Integer(set != nullptr && set->Contains(args[i]) ? 1 : 0);
  }
}

void CmdSMembers(CmdArgs args, CommandContext& ctx) {
  SetValue* set;
  if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
  if (set == nullptr) return ctx.reply().SetHeader(0);
  ReplyMembers(ctx.reply(), *set);
}

void CmdSCard(CmdArgs args, CommandContext& ctx) {
  SetValue* set;
  if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
  ctx.reply().Integer(set == nullptr ? 0 : static_cast<int64_t>(set->size()));
}

// SPOP key [count]. With a count the reply is a set (RESP3 "~"), as Redis 7.0.
// Members per SREM record that SPOP's log rewrite holds (Redis propagates SPOP in batches of 1024
// too): bounds one record far below the WAL's payload limit.
constexpr size_t kSPopPropagateMembersMax = 1024;

void CmdSPop(CmdArgs args, CommandContext& ctx) {
  if (args.size() > 3) return ctx.reply().Error(reply::kSyntaxError);
  protocol::ReplyBuilder& rb = ctx.reply();
  std::string_view key = args[1];
  int64_t count = 1;
  const bool with_count = args.size() == 3;
  if (with_count && !ParseNonNegativeOrReply(
                        ctx, args[2], "ERR value is out of range, must be positive", &count)) {
    return;
  }
  SetValue* set;
  if (!SetOrReply(ctx, key, Lookup::kWrite, &set)) return;
  if (set == nullptr) return with_count ? rb.SetHeader(0) : rb.Null();
  if (count == 0) return rb.SetHeader(0);
  // The members are chosen at random, so the log gets SREM of the chosen ones (at most
  // kSPopPropagateMembersMax per record, as Redis batches SPOP's propagation).
  std::vector<std::string> srem;
  auto removed = [&](std::string member) {
    if (srem.empty()) srem = {"SREM", std::string(key)};
    srem.push_back(std::move(member));
    if (srem.size() - 2 == kSPopPropagateMembersMax) {
      ctx.PropagateAs(std::move(srem));
      srem.clear();
    }
  };
  if (!with_count) {
    std::string member = set->Random(ThreadRng());
    set->Remove(member);
    rb.Bulk(member);
    removed(std::move(member));
  } else if (static_cast<uint64_t>(count) >= set->size()) {
    // Everything goes: SPOP key count replays exactly, no rewrite needed.
    ReplyMembers(rb, *set);
    ctx.DbFor(key).Erase(key, ctx.now_ms());
    return ctx.KeyModified(key);
  } else {
    rb.SetHeader(count);
    for (int64_t i = 0; i < count; ++i) {
      std::string member = set->Random(ThreadRng());
      set->Remove(member);
      rb.Bulk(member);
      removed(std::move(member));
    }
  }
  if (!srem.empty()) ctx.PropagateAs(std::move(srem));
  DeleteIfEmpty(ctx, key, *set);
  ctx.KeyModified(key);
}

// SRANDMEMBER key [count]. With a count the reply is an array: a negative count may repeat
// members and returns exactly -count; a positive one returns distinct members, at most all.
void CmdSRandMember(CmdArgs args, CommandContext& ctx) {
  if (args.size() > 3) return ctx.reply().Error(reply::kSyntaxError);
  protocol::ReplyBuilder& rb = ctx.reply();
  if (args.size() == 2) {
    SetValue* set;
    if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
    if (set == nullptr) return rb.Null();
    return rb.Bulk(set->Random(ThreadRng()));
  }
  int64_t count_arg;
  if (!ParseCountOrReply(ctx, args[2], &count_arg)) return;
  SetValue* set;
  if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
  if (set == nullptr || count_arg == 0) return rb.EmptyArray();
  const uint64_t size = set->size();
  if (count_arg < 0) {
    rb.ArrayHeader(-count_arg);
    for (int64_t i = 0; i < -count_arg; ++i) rb.Bulk(set->Random(ThreadRng()));
    return;
  }
  const uint64_t count = static_cast<uint64_t>(count_arg);
  if (count >= size) {
    rb.ArrayHeader(static_cast<int64_t>(size));
    set->ForEach([&](std::string_view m) { rb.Bulk(m); });
    return;
  }
  rb.ArrayHeader(count_arg);
  if (count * kRandomSubsetCopyFactor > size) {
    std::vector<std::string> all;
    all.reserve(size);
    set->ForEach([&](std::string_view m) { all.emplace_back(m); });
    for (uint64_t i = 0; i < count; ++i) {  // a partial Fisher-Yates shuffle
      std::swap(all[i], all[i + ThreadRng()() % (size - i)]);
      rb.Bulk(all[i]);
    }
    return;
  }
  // Few members of a large set: draw until `count` are distinct (expected draws < 1.5 count).
  absl::flat_hash_set<std::string> seen;
  while (seen.size() < count) {
    std::string m = set->Random(ThreadRng());
    if (seen.insert(m).second) rb.Bulk(m);
  }
}

void CmdSMove(CmdArgs args, CommandContext& ctx) {
  std::string_view src_key = args[1], dst_key = args[2], member = args[3];
  protocol::ReplyBuilder& rb = ctx.reply();
  SetValue *src, *dst;
  if (!SetOrReply(ctx, src_key, Lookup::kWrite, &src)) return;
  if (src == nullptr) return rb.Integer(0);
  if (!SetOrReply(ctx, dst_key, Lookup::kWrite, &dst)) return;
  if (src == dst) return rb.Integer(src->Contains(member) ? 1 : 0);
  if (!src->Remove(member)) return rb.Integer(0);
  DeleteIfEmpty(ctx, src_key, *src);
  ctx.KeyModified(src_key);
  if (dst == nullptr) dst = &StoreSet(ctx, dst_key, SetValue::ForMembers(member, 1));
  if (dst->Add(member)) ctx.KeyModified(dst_key);
  rb.Integer(1);
}

void CmdSInter(CmdArgs args, CommandContext& ctx) { SetOpGeneric(args, ctx, SetOp::kInter); }
void CmdSUnion(CmdArgs args, CommandContext& ctx) { SetOpGeneric(args, ctx, SetOp::kUnion); }
void CmdSDiff(CmdArgs args, CommandContext& ctx) { SetOpGeneric(args, ctx, SetOp::kDiff); }

void CmdSInterStore(CmdArgs args, CommandContext& ctx) {
  SetOpStoreGeneric(args, ctx, SetOp::kInter);
}
void CmdSUnionStore(CmdArgs args, CommandContext& ctx) {
  SetOpStoreGeneric(args, ctx, SetOp::kUnion);
}
void CmdSDiffStore(CmdArgs args, CommandContext& ctx) {
  SetOpStoreGeneric(args, ctx, SetOp::kDiff);
}

// SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's size, counting stops at
// limit (0: no limit).
void CmdSInterCard(CmdArgs args, CommandContext& ctx) {
  int64_t numkeys;
  if (!ParseInt64Arg(args[1], &numkeys) || numkeys < 1) {
    return ctx.reply().Error("ERR numkeys should be greater than 0");
  }
  if (numkeys > static_cast<int64_t>(args.size()) - 2) {
    return ctx.reply().Error("ERR Number of keys can't be greater than number of args");
  }
  int64_t limit = 0;
  for (size_t i = 2 + static_cast<size_t>(numkeys); i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "LIMIT") && i + 1 < args.size()) {
      if (!ParseNonNegativeOrReply(ctx, args[++i], "ERR LIMIT can't be negative", &limit)) return;
    } else {
      return ctx.reply().Error(reply::kSyntaxError);
    }
  }
  std::vector<SetValue*> sets;
  if (!SetsOrReply(ctx, args.subspan(2, static_cast<size_t>(numkeys)), Lookup::kRead, &sets)) {
    return;
  }
  int64_t cardinality = 0;
  if (std::find(sets.begin(), sets.end(), nullptr) == sets.end()) {
    ForEachInIntersection(sets, [&](std::string_view) {
      ++cardinality;
      return limit == 0 || cardinality < limit;
    });
  }
  ctx.reply().Integer(cardinality);
}

// SSCAN key cursor [MATCH pattern] [COUNT count]: the reply is SCAN's, [cursor, [member, ...]].
void CmdSScan(CmdArgs args, CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursorOrReply(ctx, args[2], &cursor)) return;
  SetValue* set;
  if (!SetOrReply(ctx, args[1], Lookup::kRead, &set)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  if (set == nullptr) {  // as Redis: before the options are parsed
    rb.ArrayHeader(2);
    rb.Bulk("0");
    return rb.EmptyArray();
  }
  ScanOptions opt;
  if (!ParseScanOptionsOrReply(args, 3, false, ctx, &opt)) return;
  std::vector<std::string> found;  // copies: an intset's members are formatted on the fly
  int64_t visited = 0;             // members seen before filtering, which COUNT bounds
  auto emit = [&](std::string_view m) {
    ++visited;
    if (!opt.pattern.empty() && !storage::GlobMatch(opt.pattern, m)) return;
    found.emplace_back(m);
  };
  int64_t steps_left =
      opt.count > kInt64Max / kScanStepsPerCount ? kInt64Max : opt.count * kScanStepsPerCount;
  do {
    cursor = set->Scan(cursor, emit);
  } while (cursor != 0 && --steps_left > 0 && visited < opt.count);
  rb.ArrayHeader(2);
  rb.Bulk(std::to_string(cursor));
  rb.ArrayHeader(static_cast<int64_t>(found.size()));
  for (const std::string& m : found) rb.Bulk(m);
}

}  // namespace stockd::server
