// Lists, as Redis 7.0 defines them (t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE
// LINDEX LSET LREM LTRIM LINSERT LPOS LMOVE RPOPLPUSH, and the blocking BLPOP BRPOP BLMOVE
// BRPOPLPUSH (how blocking works: server/blocking.h).
#include <algorithm>

#include "server/blocking.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "storage/list.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::ListValue;
using storage::ValueType;

// The list at `key` for reading: nullptr when absent (nothing replied) or when the key holds
// another type (WRONGTYPE replied, *wrong_type set).
ListValue* ReadList(CommandContext& ctx, std::string_view key, bool* wrong_type) {
  *wrong_type = false;
  Db::Entry* e = ctx.LookupRead(key);
  if (e == nullptr) return nullptr;
  if (e->val.value.type() != ValueType::kList) {
    *wrong_type = true;
    ctx.reply().Error(reply::kWrongType);
    return nullptr;
  }
  return &e->val.value.As<ListValue>();
}

// The list at `key` for writing, created when `create` and absent.
ListValue* WriteList(CommandContext& ctx, std::string_view key, bool create, bool* wrong_type) {
  *wrong_type = false;
  Db& db = ctx.DbFor(key);
  Db::Entry* e = db.Find(key, ctx.now_ms());
  if (e == nullptr) {
    if (!create) return nullptr;
    e = db.FindOrInsert(key, ctx.now_ms()).first;
    e->val.value = storage::Value::Of(ValueType::kList, std::make_unique<ListValue>());
  } else if (e->val.value.type() != ValueType::kList) {
    *wrong_type = true;
    ctx.reply().Error(reply::kWrongType);
    return nullptr;
  }
  return &e->val.value.As<ListValue>();
}

// Redis never keeps an empty list: delete the key once its last element is gone.
void DeleteIfEmpty(CommandContext& ctx, std::string_view key, ListValue* list) {
  if (list->size() == 0) ctx.DbFor(key).Erase(key, ctx.now_ms());
}

// Clamps Redis's [start, stop] (negative counts from the end) to [0, size); false if empty.
bool ClampRange(int64_t size, int64_t* start, int64_t* stop) {
  if (*start < 0) *start += size;
  if (*stop < 0) *stop += size;
  if (*start < 0) *start = 0;
  if (*start > *stop || *start >= size) return false;
  if (*stop >= size) *stop = size - 1;
  return true;
}

void Push(CmdArgs args, CommandContext& ctx, bool left, bool only_if_exists) {
  std::string_view key = args[1];
  bool wrong_type;
  ListValue* list = WriteList(ctx, key, !only_if_exists, &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) return ctx.reply().Integer(0);
  auto& items = list->items();
  for (size_t i = 2; i < args.size(); ++i) {
    if (left) {
      items.emplace_front(args[i]);
    } else {
      items.emplace_back(args[i]);
    }
  }
  ctx.KeyModified(key);
  ctx.reply().Integer(static_cast<int64_t>(items.size()));
}

void Pop(CmdArgs args, CommandContext& ctx, bool left) {
  if (args.size() > 3) return ctx.reply().Error(reply::kSyntaxError);
  bool has_count = args.size() == 3;
  int64_t count = 1;
  if (has_count && (!ParseInt64Arg(args[2], &count) || count < 0)) {
    return ctx.reply().Error("ERR value is out of range, must be positive");
  }
  std::string_view key = args[1];
  bool wrong_type;
  ListValue* list = WriteList(ctx, key, false, &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) {
    if (has_count) return ctx.reply().NullArray();
    return ctx.reply().Null();
  }
  if (has_count && count == 0) return ctx.reply().EmptyArray();
  auto& items = list->items();
  int64_t n = std::min<int64_t>(count, static_cast<int64_t>(items.size()));
  if (has_count) ctx.reply().ArrayHeader(n);
  for (int64_t i = 0; i < n; ++i) {
    if (left) {
      ctx.reply().Bulk(items.front());
      items.pop_front();
    } else {
      ctx.reply().Bulk(items.back());
      items.pop_back();
    }
  }
  ctx.KeyModified(key);
  DeleteIfEmpty(ctx, key, list);
}

bool ParseSide(std::string_view s, bool* left) {
  if (EqualsIgnoreCase(s, "LEFT")) {
    *left = true;
  } else if (EqualsIgnoreCase(s, "RIGHT")) {
    *left = false;
  } else {
    return false;
  }
  return true;
}

void Move(CommandContext& ctx, std::string_view src_key, std::string_view dst_key, bool from_left,
          bool to_left) {
  bool wrong_type;
  ListValue* src = WriteList(ctx, src_key, false, &wrong_type);
  if (wrong_type) return;
  if (src == nullptr) return ctx.reply().Null();
  // Check the destination's type before changing anything (as Redis).
  Db::Entry* dst_entry = ctx.DbFor(dst_key).Find(dst_key, ctx.now_ms());
  if (dst_entry && dst_entry->val.value.type() != ValueType::kList) {
    return ctx.reply().Error(reply::kWrongType);
  }
  auto& s = src->items();
  std::string value = from_left ? std::move(s.front()) : std::move(s.back());
  if (from_left) {
    s.pop_front();
  } else {
    s.pop_back();
  }
  ctx.KeyModified(src_key);
  DeleteIfEmpty(ctx, src_key, src);  // before the push: source and destination may be one list
  ListValue* dst = WriteList(ctx, dst_key, true, &wrong_type);
  if (to_left) {
    dst->items().push_front(value);
  } else {
    dst->items().push_back(value);
  }
  ctx.KeyModified(dst_key);
  ctx.reply().Bulk(value);
}

}  // namespace

void CmdLPush(CmdArgs args, CommandContext& ctx) { Push(args, ctx, true, false); }
void CmdRPush(CmdArgs args, CommandContext& ctx) { Push(args, ctx, false, false); }
void CmdLPushX(CmdArgs args, CommandContext& ctx) { Push(args, ctx, true, true); }
void CmdRPushX(CmdArgs args, CommandContext& ctx) { Push(args, ctx, false, true); }
void CmdLPop(CmdArgs args, CommandContext& ctx) { Pop(args, ctx, true); }
void CmdRPop(CmdArgs args, CommandContext& ctx) { Pop(args, ctx, false); }

void CmdLLen(CmdArgs args, CommandContext& ctx) {
  bool wrong_type;
  ListValue* list = ReadList(ctx, args[1], &wrong_type);
  if (wrong_type) return;
  ctx.reply().Integer(list ? static_cast<int64_t>(list->size()) : 0);
}

void CmdLRange(CmdArgs args, CommandContext& ctx) {
  int64_t start, stop;
  if (!ParseInt64OrReply(ctx, args[2], &start) || !ParseInt64OrReply(ctx, args[3], &stop)) return;
  bool wrong_type;
  ListValue* list = ReadList(ctx, args[1], &wrong_type);
  if (wrong_type) return;
  if (list == nullptr || !ClampRange(static_cast<int64_t>(list->size()), &start, &stop)) {
    return ctx.reply().EmptyArray();
  }
  ctx.reply().ArrayHeader(stop - start + 1);
  auto& items = list->items();
  for (int64_t i = start; i <= stop; ++i) ctx.reply().Bulk(items[static_cast<size_t>(i)]);
}

void CmdLIndex(CmdArgs args, CommandContext& ctx) {
  int64_t index;
  if (!ParseInt64OrReply(ctx, args[2], &index)) return;
  bool wrong_type;
  ListValue* list = ReadList(ctx, args[1], &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) return ctx.reply().Null();
  int64_t size = static_cast<int64_t>(list->size());
  if (index < 0) index += size;
  if (index < 0 || index >= size) return ctx.reply().Null();
  ctx.reply().Bulk(list->items()[static_cast<size_t>(index)]);
}

void CmdLSet(CmdArgs args, CommandContext& ctx) {
  int64_t index;
  if (!ParseInt64OrReply(ctx, args[2], &index)) return;
  bool wrong_type;
  ListValue* list = WriteList(ctx, args[1], false, &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) return ctx.reply().Error("ERR no such key");
  int64_t size = static_cast<int64_t>(list->size());
  if (index < 0) index += size;
  if (index < 0 || index >= size) return ctx.reply().Error("ERR index out of range");
  list->items()[static_cast<size_t>(index)] = std::string(args[3]);
  ctx.KeyModified(args[1]);
  ctx.reply().Ok();
}

void CmdLRem(CmdArgs args, CommandContext& ctx) {
  int64_t count;
  if (!ParseInt64OrReply(ctx, args[2], &count)) return;
  bool wrong_type;
  ListValue* list = WriteList(ctx, args[1], false, &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) return ctx.reply().Integer(0);
  auto& items = list->items();
  std::string_view element = args[3];
  // count > 0: the first `count` from the head; < 0: from the tail; 0: all.
  int64_t limit = count == 0 ? INT64_MAX : (count < 0 ? -count : count);
  int64_t removed = 0;
  std::deque<std::string> kept;
  if (count >= 0) {
    for (auto& item : items) {
      if (removed < limit && item == element) {
        ++removed;
      } else {
        kept.push_back(std::move(item));
      }
    }
  } else {
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
      if (removed < limit && *it == element) {
        ++removed;
      } else {
        kept.push_front(std::move(*it));
      }
    }
  }
  if (removed > 0) {
    items = std::move(kept);
    ctx.KeyModified(args[1]);
    DeleteIfEmpty(ctx, args[1], list);
  }
  ctx.reply().Integer(removed);
}

void CmdLTrim(CmdArgs args, CommandContext& ctx) {
  int64_t start, stop;
  if (!ParseInt64OrReply(ctx, args[2], &start) || !ParseInt64OrReply(ctx, args[3], &stop)) return;
  bool wrong_type;
  ListValue* list = WriteList(ctx, args[1], false, &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) return ctx.reply().Ok();
  auto& items = list->items();
  int64_t size = static_cast<int64_t>(items.size());
  if (!ClampRange(size, &start, &stop)) {
    items.clear();
  } else {
    items.erase(items.begin() + (stop + 1), items.end());
    items.erase(items.begin(), items.begin() + start);
  }
  ctx.KeyModified(args[1]);
  DeleteIfEmpty(ctx, args[1], list);
  ctx.reply().Ok();
}

void CmdLInsert(CmdArgs args, CommandContext& ctx) {
  bool before;
  if (EqualsIgnoreCase(args[2], "BEFORE")) {
    before = true;
  } else if (EqualsIgnoreCase(args[2], "AFTER")) {
    before = false;
  } else {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  bool wrong_type;
  ListValue* list = WriteList(ctx, args[1], false, &wrong_type);
  if (wrong_type) return;
  if (list == nullptr) return ctx.reply().Integer(0);
  auto& items = list->items();
  auto it = std::find(items.begin(), items.end(), args[3]);
  if (it == items.end()) return ctx.reply().Integer(-1);
  items.emplace(before ? it : it + 1, args[4]);
  ctx.KeyModified(args[1]);
  ctx.reply().Integer(static_cast<int64_t>(items.size()));
}

void CmdLPos(CmdArgs args, CommandContext& ctx) {
  int64_t rank = 1, count = -1, maxlen = 0;  // count -1: no COUNT given
  for (size_t i = 3; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return ctx.reply().Error(reply::kSyntaxError);
    std::string_view opt = args[i];
    int64_t v;
    if (!ParseInt64OrReply(ctx, args[i + 1], &v)) return;
    if (EqualsIgnoreCase(opt, "RANK")) {
      if (v == 0 || v == INT64_MIN) {
        return ctx.reply().Error(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
      }
      rank = v;
    } else if (EqualsIgnoreCase(opt, "COUNT")) {
      if (v < 0) return ctx.reply().Error("ERR COUNT can't be negative");
      count = v;
    } else if (EqualsIgnoreCase(opt, "MAXLEN")) {
      if (v < 0) return ctx.reply().Error("ERR MAXLEN can't be negative");
      maxlen = v;
    } else {
      return ctx.reply().Error(reply::kSyntaxError);
    }
  }
  bool wrong_type;
  ListValue* list = ReadList(ctx, args[1], &wrong_type);
  if (wrong_type) return;
  std::vector<int64_t> found;
  if (list != nullptr) {
    const auto& items = list->items();
    int64_t size = static_cast<int64_t>(items.size());
    int64_t want = count < 0 ? 1 : (count == 0 ? INT64_MAX : count);
    int64_t skip = (rank > 0 ? rank : -rank) - 1;
    int64_t scanned = 0;
    for (int64_t k = 0; k < size && static_cast<int64_t>(found.size()) < want; ++k) {
      if (maxlen != 0 && scanned++ >= maxlen) break;
      int64_t idx = rank > 0 ? k : size - 1 - k;
      if (items[static_cast<size_t>(idx)] != args[2]) continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      found.push_back(idx);
    }
  }
  if (count < 0) {
    if (found.empty()) return ctx.reply().Null();
    return ctx.reply().Integer(found[0]);
  }
  ctx.reply().ArrayHeader(static_cast<int64_t>(found.size()));
  for (int64_t idx : found) ctx.reply().Integer(idx);
}

void CmdLMove(CmdArgs args, CommandContext& ctx) {
  bool from_left, to_left;
  if (!ParseSide(args[3], &from_left) || !ParseSide(args[4], &to_left)) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  Move(ctx, args[1], args[2], from_left, to_left);
}

void CmdRPopLPush(CmdArgs args, CommandContext& ctx) { Move(ctx, args[1], args[2], false, true); }

}  // namespace stockd::server

// --- Blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH (server/blocking.h) ---------------------------

namespace stockd::server {
namespace {

// Serves a BLPOP/BRPOP client from `key`: [key, element].
bool ServeBlockedPop(CommandContext& ctx, BlockedCommand& b, std::string_view key) {
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr || e->val.value.type() != ValueType::kList) return false;
  if (!b.Claim()) return true;  // answered by its timeout or gone: let the queue drop it
  ListValue* list = &e->val.value.As<ListValue>();
  auto& items = list->items();
  std::string value = b.from_left ? std::move(items.front()) : std::move(items.back());
  if (b.from_left) {
    items.pop_front();
  } else {
    items.pop_back();
  }
  ctx.KeyModified(key);
  ctx.PropagateAs({b.from_left ? "LPOP" : "RPOP", std::string(key)});
  DeleteIfEmpty(ctx, key, list);
  ctx.reply().ArrayHeader(2);
  ctx.reply().Bulk(key);
  ctx.reply().Bulk(value);
  b.Answer(std::move(*ctx.reply().out()));
  return true;
}

// Serves a BLMOVE/BRPOPLPUSH client from its source `key`.
bool ServeBlockedMove(CommandContext& ctx, BlockedCommand& b, std::string_view key) {
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr || e->val.value.type() != ValueType::kList) return false;
  if (ctx.engine().ShardOf(b.destination) != ctx.engine().ShardOf(key)) {
    // The destination is another shard's: the move must run with both locked. Claim the client
    // and have it run the command again (it blocks again if the source is emptied meanwhile).
    if (b.Claim()) b.Retry();
    return true;
  }
  Db::Entry* dst = ctx.DbFor(b.destination).Find(b.destination, ctx.now_ms());
  if (dst && dst->val.value.type() != ValueType::kList) {
    if (b.Claim()) {
      ctx.reply().Error(reply::kWrongType);
      b.Answer(std::move(*ctx.reply().out()));
    }
    return true;
  }
  if (!b.Claim()) return true;
  Move(ctx, key, b.destination, b.from_left, b.to_left);
  ctx.PropagateAs({"LMOVE", std::string(key), b.destination, b.from_left ? "LEFT" : "RIGHT",
                   b.to_left ? "LEFT" : "RIGHT"});
  b.Answer(std::move(*ctx.reply().out()));
  return true;
}

void BlockingPop(CmdArgs args, CommandContext& ctx, bool left) {
  int64_t deadline_ms;
  if (!ParseBlockTimeoutOrReply(ctx, args.back(), &deadline_ms)) return;
  CmdArgs keys = args.subspan(1, args.size() - 2);
  // The first non-empty key, in argument order, answers at once (as Redis).
  for (std::string_view key : keys) {
    Db::Entry* e = ctx.LookupWrite(key);
    if (e == nullptr) continue;
    if (e->val.value.type() != ValueType::kList) return ctx.reply().Error(reply::kWrongType);
    ListValue* list = &e->val.value.As<ListValue>();
    auto& items = list->items();
    ctx.reply().ArrayHeader(2);
    ctx.reply().Bulk(key);
    ctx.reply().Bulk(left ? items.front() : items.back());
    if (left) {
      items.pop_front();
    } else {
      items.pop_back();
    }
    ctx.KeyModified(key);
    DeleteIfEmpty(ctx, key, list);
    return;
  }
  BlockClient(ctx, keys, deadline_ms, ServeBlockedPop, left, left, "");
}

void BlockingMove(CommandContext& ctx, std::string_view src, std::string_view dst, bool from_left,
                  bool to_left, std::string_view timeout) {
  int64_t deadline_ms;
  if (!ParseBlockTimeoutOrReply(ctx, timeout, &deadline_ms)) return;
  Db::Entry* e = ctx.LookupWrite(src);
  if (e != nullptr) return Move(ctx, src, dst, from_left, to_left);  // checks types itself
  BlockClient(ctx, CmdArgs(&src, 1), deadline_ms, ServeBlockedMove, from_left, to_left, dst);
}

}  // namespace

void CmdBLPop(CmdArgs args, CommandContext& ctx) { BlockingPop(args, ctx, true); }
void CmdBRPop(CmdArgs args, CommandContext& ctx) { BlockingPop(args, ctx, false); }

void CmdBLMove(CmdArgs args, CommandContext& ctx) {
  bool from_left, to_left;
  if (!ParseSide(args[3], &from_left) || !ParseSide(args[4], &to_left)) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  BlockingMove(ctx, args[1], args[2], from_left, to_left, args[5]);
}

void CmdBRPopLPush(CmdArgs args, CommandContext& ctx) {
  BlockingMove(ctx, args[1], args[2], false, true, args[3]);
}

}  // namespace stockd::server
