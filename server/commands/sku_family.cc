// The inventory commands: SKU.* (docs/inventory.md). The state and its invariants live in
// storage/sku.h; this file parses arguments, turns outcomes into replies, and tells the rest of
// the server what changed (SkuChanged: watchers, blocked SKU.TAKE clients, deadline timer).
#include <fmt/format.h>
#include <sys/random.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "server/blocking.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "storage/sku.h"
#include "storage/wal.h"
#include "storage/wal_record.h"

namespace stockd::server {

using storage::Admission;
using storage::Db;
using storage::JournalRecord;
using storage::Order;
using storage::OrderKind;
using storage::Sku;
using storage::SkuError;
using storage::ValueType;

// Limits of the command layer (docs/configuration.md).
inline constexpr size_t kSkuOrderLinesMax = 64;          // SKUs in one SKU.MRESERVE/MCOMMIT
inline constexpr int64_t kSkuTakeCountMax = 10'000;      // users one SKU.TAKE hands out
inline constexpr int64_t kSkuJournalCountDefault = 100;  // records, SKU.JOURNAL without COUNT
inline constexpr int64_t kSkuJournalCountMax = 10'000;   // records one SKU.JOURNAL returns
inline constexpr int64_t kSkuHotCountDefault = 10;       // SKUs, SKU.HOT without COUNT
inline constexpr int64_t kSkuHotCountMax = 1'000;        // SKUs one SKU.HOT returns
// The deadline timer's pass: SKUs visited and items expired per SKU, bounding its latency.
inline constexpr size_t kSkuDeadlineSkusPerPassMax = 100;
inline constexpr size_t kSkuExpiriesPerPassMax = 1'000;
inline constexpr size_t kSkuTokenBytes = 16;  // random bytes in a token (32 hex characters)

namespace {

// Counts a request for `key` in SKU.HOT, unless recovery replays it: the rates describe live
// traffic, and a restart should not make the SKUs written last before a crash look hot.
void CountHot(CommandContext& ctx, std::string_view key) {
  if (!ctx.recovering()) ctx.ShardFor(key).hot_skus.Touch(ctx.db_index(), key, ctx.now_ms());
}

// Looks up the SKU at `key`: replies NOSKU or WRONGTYPE and returns null when there is none.
// Counts the request for SKU.HOT.
Sku* SkuOrReply(CommandContext& ctx, std::string_view key, LookupMode mode) {
  Sku* sku;
  if (!LookupOrReply(ctx, key, ValueType::kSku, mode, &sku)) return nullptr;
  if (sku == nullptr) {
    ctx.reply().Error(fmt::format("NOSKU no such SKU '{}'", key.substr(0, 128)));
    return nullptr;
  }
  CountHot(ctx, key);
  return sku;
}

// Every command that changed `sku` calls this once: the key counts as modified (WATCH, blocked
// SKU.TAKE clients, the future write-ahead log), and the SKU is filed under its next deadline.
void SkuChanged(CommandContext& ctx, std::string_view key, Sku& sku) {
  ctx.KeyModified(key);
  // Recovery files every SKU once, after the log is replayed (FileSkuDeadlines): a SKU the log
  // changes a hundred times would otherwise be taken out of the index and filed again each time.
  // Nothing reads the index before then (the deadline timers start with the shard threads).
  if (ctx.recovering()) return;
  int64_t next = ctx.ShardFor(key).ScheduleSku(ctx.db_index(), key, sku);
  ctx.engine().WakeDeadlineTimer(ctx.engine().ShardOf(key), next);
}

// Whether a command changed a SKU (Sku::version moves with every change).
class ChangeWatch {
 public:
  explicit ChangeWatch(const Sku& sku) : sku_(sku), version_(sku.version()) {}
  bool changed() const { return sku_.version() != version_; }

 private:
  const Sku& sku_;
  uint64_t version_;
};

// `subject` is the order (restock id, user, SKU) the error is about; `sku` names the SKU for
// SOLDOUT.
void ReplySkuError(CommandContext& ctx, SkuError e, std::string_view subject,
                   std::string_view sku = {}) {
  std::string_view s = subject.substr(0, 128);
  std::string text;
  switch (e) {
    case SkuError::kNone:
      return;
    case SkuError::kSoldOut:
      text = sku.empty() ? fmt::format("not enough stock for '{}'", s)
                         : fmt::format("not enough stock of '{}' for '{}'", sku.substr(0, 128), s);
      break;
    case SkuError::kFull:
      text = "admission queue is full: every sellable unit is held or reserved";
      break;
    case SkuError::kLimit:
      text = fmt::format("per-user limit reached for '{}'", s);
      break;
    case SkuError::kConflict:
      text = fmt::format("'{}' was already used with different arguments", s);
      break;
    case SkuError::kExpired:
      text = fmt::format("order '{}' expired", s);
      break;
    case SkuError::kCancelled:
      text = fmt::format("order '{}' was cancelled", s);
      break;
    case SkuError::kCommitted:
      text = fmt::format("order '{}' is committed", s);
      break;
    case SkuError::kNoOrder:
      text = fmt::format("no such order '{}'", s);
      break;
    case SkuError::kBadToken:
      text = "a valid, unused token issued to this user for this SKU is required";
      break;
    case SkuError::kNeedUser:
      text = "this SKU has a per-user limit: USER is required";
      break;
    case SkuError::kTooMany:
      text = fmt::format("too many outstanding tokens (limit {})", storage::kSkuTokensMax);
      break;
    case SkuError::kRange:
      text = fmt::format("a counter would leave its range (0..{})", storage::kSkuUnitsMax);
      break;
    case SkuError::kPromised:
      text = "on_hand - safety (or QUEUE) would not cover the units already reserved and held";
      break;
  }
  ctx.reply().Error(fmt::format("{} {}", storage::SkuErrorCode(e), text));
}

// An integer argument in [min, max]; replies ERR naming `what` otherwise.
bool ParseRangeOrReply(CommandContext& ctx, std::string_view arg, int64_t min, int64_t max,
                       std::string_view what, int64_t* out) {
  if (!ParseInt64Arg(arg, out)) {
    ctx.reply().Error(reply::kNotInteger);
    return false;
  }
  if (*out < min || *out > max) {
    ctx.reply().Error(fmt::format("ERR {} must be between {} and {}", what, min, max));
    return false;
  }
  return true;
}

bool IdOrReply(CommandContext& ctx, std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > storage::kSkuIdBytesMax) {
    ctx.reply().Error(fmt::format("ERR {} must be 1 to {} bytes", what, storage::kSkuIdBytesMax));
    return false;
  }
  return true;
}

bool QtyOrReply(CommandContext& ctx, std::string_view arg, int64_t* out) {
  return ParseRangeOrReply(ctx, arg, 1, storage::kSkuUnitsMax, "qty", out);
}

bool DurationOrReply(CommandContext& ctx, std::string_view arg, int64_t min, std::string_view what,
                     int64_t* out) {
  return ParseRangeOrReply(ctx, arg, min, storage::kSkuDurationMsMax, what, out);
}

void ReplyOrder(CommandContext& ctx, std::string_view id, const Order& o) {
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.MapHeader(9);
  rb.Bulk("order");
  rb.Bulk(id);
  rb.Bulk("state");
  rb.Bulk(storage::OrderStateName(o.state));
  rb.Bulk("kind");
  rb.Bulk(storage::OrderKindName(o.kind));
  rb.Bulk("qty");
  rb.Integer(o.qty);
  rb.Bulk("user");
  rb.Bulk(o.user_name());
  rb.Bulk("created_ms");
  rb.Integer(o.created_ms);
  rb.Bulk("deadline_ms");
  rb.Integer(o.deadline_ms);
  rb.Bulk("ended_ms");
  rb.Integer(o.ended_ms);
  rb.Bulk("reason");
  rb.Bulk(storage::SkuErrorCode(o.reason));
}

void ReplyAdmission(CommandContext& ctx, std::string_view user, const Admission& a) {
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.MapHeader(4);
  rb.Bulk("user");
  rb.Bulk(user);
  rb.Bulk("ticket");
  rb.Integer(static_cast<int64_t>(a.ticket));
  rb.Bulk("admitted_ms");
  rb.Integer(a.admitted_ms);
  rb.Bulk("expires_ms");
  rb.Integer(a.deadline_ms);
}

// [USER user] [TTL ms] options from args[*i...] (TTL only when `ttl` is not null). Stops at the
// first argument that is not one of them.
bool ParseOrderOptionsOrReply(CommandContext& ctx, CmdArgs args, size_t* i, bool stop_at_other,
                              std::string_view* user, int64_t* ttl) {
  for (; *i < args.size(); *i += 2) {
    std::string_view opt = args[*i];
    bool is_user = EqualsIgnoreCase(opt, "USER");
    bool is_ttl = ttl != nullptr && EqualsIgnoreCase(opt, "TTL");
    if (!is_user && !is_ttl) {
      if (stop_at_other) return true;
      ctx.reply().Error(reply::kSyntaxError);
      return false;
    }
    if (*i + 1 >= args.size()) {
      ctx.reply().Error(reply::kSyntaxError);
      return false;
    }
    if (is_user) {
      if (!IdOrReply(ctx, args[*i + 1], "user")) return false;
      *user = args[*i + 1];
    } else if (!DurationOrReply(ctx, args[*i + 1], 0, "TTL", ttl)) {
      return false;
    }
  }
  return true;
}

}  // namespace

void SkuMoved(CommandContext& ctx, std::string_view key) {
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr || e->val.value.type() != ValueType::kSku) return;
  Sku& sku = e->val.value.As<Sku>();
  // Its deadline entry names the old key: file it again under the new one.
  sku.scheduled_deadline_ms = 0;
  SkuChanged(ctx, key, sku);
}

void RunSkuDeadlines(Engine& engine, uint32_t shard, int64_t now_ms) {
  storage::Shard& data = engine.shard(shard).data();
  if (engine.standby()) {
    // The primary's sweep records expire what is due; entries are filed again at promotion.
    data.TakeDueSkus(now_ms, kSkuDeadlineSkusPerPassMax);
    return;
  }
  std::string sink;
  protocol::ReplyBuilder rb(&sink, 2);
  for (auto& [db, key] : data.TakeDueSkus(now_ms, kSkuDeadlineSkusPerPassMax)) {
    CommandContext ctx(engine, nullptr, &rb, db, now_ms, nullptr);
    Db::Entry* e = data.db(db).Find(key, now_ms);
    if (e == nullptr || e->val.value.type() != ValueType::kSku) continue;  // deleted or replaced
    Sku& sku = e->val.value.As<Sku>();
    sku.scheduled_deadline_ms = 0;  // its entry was just taken out of the index
    // Each expiry is a change like any other: journaled by the SKU, signalled here, and logged
    // as a sweep (the timer's choice of moment is what the clock of later records cannot
    // explain), in the same step.
    if (sku.Advance(now_ms, kSkuExpiriesPerPassMax) > 0) {
      ctx.KeyModified(key);
      if (storage::Wal* wal = engine.wal()) {
        std::optional<std::string> record =
            storage::EncodeExpireSweepRecord(db, now_ms, key, kSkuExpiriesPerPassMax);
        uint64_t lsn = record ? wal->Append(std::move(*record)) : storage::kWalNoLsn;
        if (lsn != storage::kWalNoLsn) ctx.MarkLogged(lsn);
      }
    }
    data.ScheduleSku(db, key, sku);
  }
  if (data.has_ready_keys()) ServeReadyKeys(engine, shard);
}

void ReplaySkuSweep(Engine& engine, int db, int64_t now_ms, std::string_view key,
                    uint64_t items_max) {
  storage::Shard& data = engine.shard(engine.ShardOf(key)).data();
  Db::Entry* e = data.db(db).Find(key, now_ms);
  if (e == nullptr || e->val.value.type() != ValueType::kSku) return;
  // Filed afterwards, with every SKU (FileSkuDeadlines).
  e->val.value.As<Sku>().Advance(now_ms, static_cast<size_t>(items_max));
}

void FileSkuDeadlines(Engine& engine, uint32_t shard) {
  storage::Shard& data = engine.shard(shard).data();
  for (int db = 0; db < data.databases(); ++db) {
    data.db(db).ForEach([&](Db::Entry* e) {
      if (e->val.value.type() == ValueType::kSku) {
        data.ScheduleSku(db, e->key, e->val.value.As<Sku>());
      }
    });
  }
}

// SKU.SET sku on_hand [SAFETY n] [LIMIT per_user] [TTL ms] [QUEUE capacity|AUTO] [HOLD ms]
//         [TOKENS yes|no]
void CmdSkuSet(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  storage::SkuSetArgs a;
  if (!ParseRangeOrReply(ctx, args[2], 0, storage::kSkuUnitsMax, "on_hand", &a.on_hand)) return;
  for (size_t i = 3; i < args.size(); i += 2) {
    std::string_view opt = args[i];
    if (i + 1 >= args.size()) return ctx.reply().Error(reply::kSyntaxError);
    std::string_view v = args[i + 1];
    int64_t n;
    if (EqualsIgnoreCase(opt, "SAFETY")) {
      if (!ParseRangeOrReply(ctx, v, 0, storage::kSkuUnitsMax, "SAFETY", &n)) return;
      a.safety = n;
    } else if (EqualsIgnoreCase(opt, "LIMIT")) {
      if (!ParseRangeOrReply(ctx, v, 0, storage::kSkuUnitsMax, "LIMIT", &n)) return;
      a.limit = n;
    } else if (EqualsIgnoreCase(opt, "TTL")) {
      if (!DurationOrReply(ctx, v, 0, "TTL", &n)) return;
      a.ttl_ms = n;
    } else if (EqualsIgnoreCase(opt, "QUEUE")) {
      if (EqualsIgnoreCase(v, "AUTO")) {
        a.queue_capacity = storage::kSkuQueueAuto;
      } else {
        if (!ParseRangeOrReply(ctx, v, 0, storage::kSkuAdmissionsMax, "QUEUE", &n)) return;
        a.queue_capacity = n;
      }
    } else if (EqualsIgnoreCase(opt, "HOLD")) {
      if (!DurationOrReply(ctx, v, 1, "HOLD", &n)) return;
      a.hold_ms = n;
    } else if (EqualsIgnoreCase(opt, "TOKENS")) {
      if (EqualsIgnoreCase(v, "yes")) {
        a.tokens = true;
      } else if (EqualsIgnoreCase(v, "no")) {
        a.tokens = false;
      } else {
        return ctx.reply().Error("ERR TOKENS must be yes or no");
      }
    } else {
      return ctx.reply().Error(reply::kSyntaxError);
    }
  }
  Db& db = ctx.DbFor(key);
  auto [e, created] = db.FindOrInsert(key, ctx.now_ms());
  if (created) {
    e->val.value = storage::Value::Of(ValueType::kSku, std::make_unique<Sku>());
  } else if (e->val.value.type() != ValueType::kSku) {
    return ctx.reply().Error(reply::kWrongType);
  }
  Sku& sku = e->val.value.As<Sku>();
  CountHot(ctx, key);
  ChangeWatch watch(sku);
  SkuError err = sku.Set(a, ctx.now_ms());
  if (err != SkuError::kNone && created) {
    db.EraseEntry(e);  // a SKU that could not be configured is not created
    return ReplySkuError(ctx, err, key);
  }
  if (watch.changed()) SkuChanged(ctx, key, sku);
  if (err != SkuError::kNone) return ReplySkuError(ctx, err, key);
  ctx.reply().Ok();
}

void CmdSkuGet(CmdArgs args, CommandContext& ctx) {
  Sku* sku = SkuOrReply(ctx, args[1], LookupMode::kRead);
  if (sku == nullptr) return;
  const storage::SkuCounters& c = sku->counters();
  const storage::SkuSettings& s = sku->settings();
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.MapHeader(16);
  auto field = [&](std::string_view name, int64_t v) {
    rb.Bulk(name);
    rb.Integer(v);
  };
  field("on_hand", c.on_hand);
  field("safety", c.safety);
  field("reserved", c.reserved);
  field("sold", c.sold);
  field("held", c.held);
  field("available", c.available());
  field("limit", s.limit);
  field("ttl_ms", s.ttl_ms);
  rb.Bulk("queue");
  if (s.queue_capacity == storage::kSkuQueueAuto) {
    rb.Bulk("auto");
  } else {
    rb.Integer(s.queue_capacity);
  }
  field("hold_ms", s.hold_ms);
  rb.Bulk("tokens");
  rb.Bulk(s.tokens ? "yes" : "no");
  field("open_orders", static_cast<int64_t>(sku->open_orders()));
  field("orders", static_cast<int64_t>(sku->orders()));
  field("admissions", static_cast<int64_t>(sku->admissions()));
  field("outstanding_tokens", static_cast<int64_t>(sku->tokens()));
  field("last_journal_id", static_cast<int64_t>(sku->last_journal_id()));
}

// SKU.RESTOCK sku qty ID restock_id
void CmdSkuRestock(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  if (!EqualsIgnoreCase(args[3], "ID")) return ctx.reply().Error(reply::kSyntaxError);
  int64_t qty;
  if (!QtyOrReply(ctx, args[2], &qty) || !IdOrReply(ctx, args[4], "restock id")) return;
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  ChangeWatch watch(*sku);
  int64_t on_hand = 0;
  SkuError err = sku->Restock(args[4], qty, ctx.now_ms(), &on_hand);
  if (watch.changed()) SkuChanged(ctx, key, *sku);
  if (err != SkuError::kNone) return ReplySkuError(ctx, err, args[4]);
  ctx.reply().Integer(on_hand);
}

namespace {

// SKU.RESERVE sku order_id qty [USER user] [TTL ms] / SKU.DEDUCT sku order_id qty [USER user]
void ReserveGeneric(CmdArgs args, CommandContext& ctx, OrderKind kind) {
  std::string_view key = args[1], order_id = args[2];
  int64_t qty;
  if (!IdOrReply(ctx, order_id, "order id") || !QtyOrReply(ctx, args[3], &qty)) return;
  std::string_view user;
  int64_t ttl = -1;
  size_t i = 4;
  if (!ParseOrderOptionsOrReply(ctx, args, &i, false, &user,
                                kind == OrderKind::kDeduct ? nullptr : &ttl)) {
    return;
  }
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  ChangeWatch watch(*sku);
  const Order* order = nullptr;
  SkuError err = sku->Reserve(order_id, qty, user, ttl, kind, ctx.now_ms(), &order);
  if (watch.changed()) SkuChanged(ctx, key, *sku);
  if (err != SkuError::kNone) return ReplySkuError(ctx, err, order_id, key);
  ReplyOrder(ctx, order_id, *order);
}

void EndGeneric(CmdArgs args, CommandContext& ctx, bool commit) {
  std::string_view key = args[1], order_id = args[2];
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  ChangeWatch watch(*sku);
  const Order* order = nullptr;
  SkuError err = commit ? sku->Commit(order_id, ctx.now_ms(), &order)
                        : sku->Cancel(order_id, ctx.now_ms(), &order);
  if (watch.changed()) SkuChanged(ctx, key, *sku);
  if (err != SkuError::kNone) return ReplySkuError(ctx, err, order_id);
  ReplyOrder(ctx, order_id, *order);
}

}  // namespace

void CmdSkuReserve(CmdArgs args, CommandContext& ctx) {
  ReserveGeneric(args, ctx, OrderKind::kReserve);
}
void CmdSkuDeduct(CmdArgs args, CommandContext& ctx) {
  ReserveGeneric(args, ctx, OrderKind::kDeduct);
}
void CmdSkuCommit(CmdArgs args, CommandContext& ctx) { EndGeneric(args, ctx, /*commit=*/true); }
void CmdSkuCancel(CmdArgs args, CommandContext& ctx) { EndGeneric(args, ctx, /*commit=*/false); }

void CmdSkuOrder(CmdArgs args, CommandContext& ctx) {
  Sku* sku = SkuOrReply(ctx, args[1], LookupMode::kRead);
  if (sku == nullptr) return;
  const Order* order = sku->FindOrder(args[2]);
  if (order == nullptr) return ReplySkuError(ctx, SkuError::kNoOrder, args[2]);
  ReplyOrder(ctx, args[2], *order);
}

namespace {

// The SKUs of a multi-SKU command, looked up for writing, in argument order. Replies and
// returns false on a missing SKU, a wrong type, a repeated SKU, or too many.
bool MultiSkusOrReply(CommandContext& ctx, const std::vector<std::string_view>& keys,
                      std::vector<Sku*>* skus) {
  if (keys.size() > kSkuOrderLinesMax) {
    ctx.reply().Error(fmt::format("ERR an order may name at most {} SKUs", kSkuOrderLinesMax));
    return false;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (keys[i] == keys[j]) {
        ctx.reply().Error(fmt::format("ERR SKU '{}' is named twice", keys[i].substr(0, 128)));
        return false;
      }
    }
  }
  for (std::string_view key : keys) {
    Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
    if (sku == nullptr) return false;
    skus->push_back(sku);
  }
  return true;
}

}  // namespace

// SKU.MRESERVE order_id [USER user] [TTL ms] sku qty [sku qty ...]: all or nothing. Runs with
// every named SKU's shard locked (the table declares every argument a key position).
void CmdSkuMReserve(CmdArgs args, CommandContext& ctx) {
  std::string_view order_id = args[1];
  if (!IdOrReply(ctx, order_id, "order id")) return;
  std::string_view user;
  int64_t ttl = -1;
  size_t i = 2;
  if (!ParseOrderOptionsOrReply(ctx, args, &i, true, &user, &ttl)) return;
  if (i >= args.size() || (args.size() - i) % 2 != 0) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  std::vector<std::string_view> keys;
  std::vector<int64_t> qtys;
  for (; i < args.size(); i += 2) {
    int64_t qty;
    if (!QtyOrReply(ctx, args[i + 1], &qty)) return;
    keys.push_back(args[i]);
    qtys.push_back(qty);
  }
  std::vector<Sku*> skus;
  if (!MultiSkusOrReply(ctx, keys, &skus)) return;
  std::vector<ChangeWatch> watches;
  for (Sku* sku : skus) watches.emplace_back(*sku);
  auto signal = [&] {
    for (size_t k = 0; k < skus.size(); ++k) {
      if (watches[k].changed()) SkuChanged(ctx, keys[k], *skus[k]);
    }
  };
  // Check every line first; apply only if all pass. A line with different arguments makes the
  // whole retry a CONFLICT, whatever the other lines remember.
  size_t retries = 0;
  bool conflict = false;
  SkuError first = SkuError::kNone;
  size_t first_at = 0;
  for (size_t k = 0; k < skus.size(); ++k) {
    bool retry = false;
    SkuError e =
        skus[k]->CheckReserve(order_id, qtys[k], user, OrderKind::kMulti, ctx.now_ms(), &retry);
    retries += retry ? 1 : 0;
    conflict |= e == SkuError::kConflict;
    if (e != SkuError::kNone && first == SkuError::kNone) {
      first = e;
      first_at = k;
    }
  }
  if (conflict || (retries != 0 && retries != skus.size())) {
    signal();
    return ReplySkuError(ctx, SkuError::kConflict, order_id);
  }
  if (first != SkuError::kNone) {
    if (retries == 0 && (first == SkuError::kSoldOut || first == SkuError::kLimit)) {
      // Remembered on every line, so a retry of this order stays refused.
      for (size_t k = 0; k < skus.size(); ++k) {
        skus[k]->RecordFailure(order_id, qtys[k], user, OrderKind::kMulti, first, ctx.now_ms());
      }
    }
    signal();
    return ReplySkuError(ctx, first, order_id, keys[first_at]);
  }
  std::vector<const Order*> orders(skus.size());
  for (size_t k = 0; k < skus.size(); ++k) {
    SkuError e =
        skus[k]->Reserve(order_id, qtys[k], user, ttl, OrderKind::kMulti, ctx.now_ms(), &orders[k]);
    // Checked above on the same state and clock: a failure here would be a bug in Sku.
    assert(e == SkuError::kNone);
    (void)e;
  }
  signal();
  ctx.reply().ArrayHeader(static_cast<int64_t>(skus.size()));
  for (size_t k = 0; k < skus.size(); ++k) ReplyOrder(ctx, order_id, *orders[k]);
}

namespace {

// SKU.MCOMMIT / SKU.MCANCEL order_id sku [sku ...]: all or nothing.
void MultiEndGeneric(CmdArgs args, CommandContext& ctx, bool commit) {
  std::string_view order_id = args[1];
  std::vector<std::string_view> keys(args.begin() + 2, args.end());
  std::vector<Sku*> skus;
  if (!MultiSkusOrReply(ctx, keys, &skus)) return;
  std::vector<ChangeWatch> watches;
  for (Sku* sku : skus) watches.emplace_back(*sku);
  auto signal = [&] {
    for (size_t k = 0; k < skus.size(); ++k) {
      if (watches[k].changed()) SkuChanged(ctx, keys[k], *skus[k]);
    }
  };
  for (Sku* sku : skus) {
    SkuError e = commit ? sku->CheckCommit(order_id, ctx.now_ms())
                        : sku->CheckCancel(order_id, ctx.now_ms());
    if (e != SkuError::kNone) {
      signal();
      return ReplySkuError(ctx, e, order_id);
    }
  }
  std::vector<const Order*> orders(skus.size());
  for (size_t k = 0; k < skus.size(); ++k) {
    if (commit) {
      skus[k]->Commit(order_id, ctx.now_ms(), &orders[k]);
    } else {
      skus[k]->Cancel(order_id, ctx.now_ms(), &orders[k]);
    }
  }
  signal();
  ctx.reply().ArrayHeader(static_cast<int64_t>(skus.size()));
  for (size_t k = 0; k < skus.size(); ++k) ReplyOrder(ctx, order_id, *orders[k]);
}

}  // namespace

void CmdSkuMCommit(CmdArgs args, CommandContext& ctx) { MultiEndGeneric(args, ctx, true); }
void CmdSkuMCancel(CmdArgs args, CommandContext& ctx) { MultiEndGeneric(args, ctx, false); }

// SKU.ENTER sku user [TOKEN token]
void CmdSkuEnter(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1], user = args[2];
  if (!IdOrReply(ctx, user, "user")) return;
  std::string_view token;
  bool has_token = false;
  if (args.size() == 5 && EqualsIgnoreCase(args[3], "TOKEN")) {
    token = args[4];
    has_token = true;
  } else if (args.size() != 3) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  ChangeWatch watch(*sku);
  const Admission* admission = nullptr;
  SkuError err = sku->Enter(user, has_token ? &token : nullptr, ctx.now_ms(), &admission);
  if (watch.changed()) SkuChanged(ctx, key, *sku);
  if (err != SkuError::kNone) return ReplySkuError(ctx, err, user);
  ReplyAdmission(ctx, user, *admission);
}

namespace {

void ReplyTaken(CommandContext& ctx, const std::vector<std::pair<std::string, Admission>>& taken) {
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(taken.size()));
  for (const auto& [user, a] : taken) {
    rb.ArrayHeader(3);
    rb.Bulk(user);
    rb.Integer(static_cast<int64_t>(a.ticket));
    rb.Integer(a.deadline_ms);
  }
}

// Serves a SKU.TAKE ... BLOCK client from `key`, which was just written.
bool ServeBlockedTake(CommandContext& ctx, BlockedCommand& b, std::string_view key) {
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr || e->val.value.type() != ValueType::kSku) return false;
  Sku& sku = e->val.value.As<Sku>();
  if (!sku.HasUntaken()) return false;
  if (!b.Claim()) return true;  // answered by its timeout or gone
  auto taken = sku.Take(static_cast<size_t>(b.count), ctx.now_ms());
  SkuChanged(ctx, key, sku);
  // Take is deterministic given the SKU and the clock, which the record carries.
  ctx.PropagateAs({"SKU.TAKE", std::string(key), std::to_string(b.count)});
  ReplyTaken(ctx, taken);
  b.Answer(std::move(*ctx.reply().out()));
  return true;
}

}  // namespace

// SKU.TAKE sku count [BLOCK ms]
void CmdSkuTake(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  int64_t count;
  if (!ParseRangeOrReply(ctx, args[2], 1, kSkuTakeCountMax, "count", &count)) return;
  int64_t block_ms = -1;
  if (args.size() == 5 && EqualsIgnoreCase(args[3], "BLOCK")) {
    if (!ParseRangeOrReply(ctx, args[4], 0, storage::kSkuDurationMsMax, "BLOCK", &block_ms)) {
      return;
    }
  } else if (args.size() != 3) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  ChangeWatch watch(*sku);
  auto taken = sku->Take(static_cast<size_t>(count), ctx.now_ms());
  if (watch.changed()) SkuChanged(ctx, key, *sku);
  if (!taken.empty() || block_ms < 0) return ReplyTaken(ctx, taken);
  // Nobody waiting: wait for the next SKU.ENTER (BLOCK 0 waits forever, as XREAD).
  int64_t deadline = block_ms == 0 ? 0 : ctx.now_ms() + block_ms;
  BlockClient(ctx, CmdArgs(&args[1], 1), deadline, ServeBlockedTake, true, true, "", count);
}

// SKU.LEAVE sku user
void CmdSkuLeave(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  ChangeWatch watch(*sku);
  bool left = sku->Leave(args[2], ctx.now_ms());
  if (watch.changed()) SkuChanged(ctx, key, *sku);
  ctx.reply().Integer(left ? 1 : 0);
}

// SKU.TOKEN sku user [TTL ms]
// The log holds the internal form SKU.TOKEN sku user TTL ms VALUE token, with the token chosen;
// VALUE is accepted only from recovery (no client: ctx.conn() is null), never from a client.
void CmdSkuToken(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1], user = args[2];
  if (!IdOrReply(ctx, user, "user")) return;
  int64_t ttl = storage::kSkuTokenTtlDefaultMs;
  std::string_view replayed_token;
  size_t i = 3;
  if (i + 1 < args.size() && EqualsIgnoreCase(args[i], "TTL")) {
    if (!DurationOrReply(ctx, args[i + 1], 1, "TTL", &ttl)) return;
    i += 2;
  }
  if (ctx.conn() == nullptr && i + 1 < args.size() && EqualsIgnoreCase(args[i], "VALUE")) {
    replayed_token = args[i + 1];
    i += 2;
  }
  if (i != args.size()) return ctx.reply().Error(reply::kSyntaxError);
  Sku* sku = SkuOrReply(ctx, key, LookupMode::kWrite);
  if (sku == nullptr) return;
  std::string token(replayed_token);
  if (token.empty()) {
    // Tokens gate admission against bots, so they must not be predictable: the kernel's
    // CSPRNG, not the command RNG.
    unsigned char bytes[kSkuTokenBytes];
    size_t got = 0;
    while (got < sizeof(bytes)) {
      ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
      if (n > 0) got += static_cast<size_t>(n);
    }
    for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  }
  ChangeWatch watch(*sku);
  SkuError err = sku->IssueToken(token, user, ttl, ctx.now_ms());
  if (watch.changed()) {
    SkuChanged(ctx, key, *sku);
    ctx.PropagateAs({"SKU.TOKEN", std::string(key), std::string(user), "TTL", std::to_string(ttl),
                     "VALUE", token});
  }
  if (err != SkuError::kNone) return ReplySkuError(ctx, err, key);
  ctx.reply().Bulk(token);
}

// SKU.JOURNAL sku [AFTER id] [COUNT n]
void CmdSkuJournal(CmdArgs args, CommandContext& ctx) {
  int64_t after = 0, count = kSkuJournalCountDefault;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return ctx.reply().Error(reply::kSyntaxError);
    if (EqualsIgnoreCase(args[i], "AFTER")) {
      if (!ParseRangeOrReply(ctx, args[i + 1], 0, INT64_MAX, "AFTER", &after)) return;
    } else if (EqualsIgnoreCase(args[i], "COUNT")) {
      if (!ParseRangeOrReply(ctx, args[i + 1], 1, kSkuJournalCountMax, "COUNT", &count)) return;
    } else {
      return ctx.reply().Error(reply::kSyntaxError);
    }
  }
  Sku* sku = SkuOrReply(ctx, args[1], LookupMode::kRead);
  if (sku == nullptr) return;
  auto records = sku->Journal(static_cast<uint64_t>(after), static_cast<size_t>(count));
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(records.size()));
  for (const JournalRecord* r : records) {
    rb.MapHeader(12);
    auto field = [&](std::string_view name, int64_t v) {
      rb.Bulk(name);
      rb.Integer(v);
    };
    field("id", static_cast<int64_t>(r->id));
    field("time_ms", r->time_ms);
    rb.Bulk("op");
    rb.Bulk(storage::JournalOpName(r->op));
    rb.Bulk("order");
    rb.Bulk(r->order());
    rb.Bulk("user");
    rb.Bulk(r->user());
    field("qty", r->qty);
    field("on_hand", r->after.on_hand);
    field("safety", r->after.safety);
    field("reserved", r->after.reserved);
    field("sold", r->after.sold);
    field("held", r->after.held);
    field("available", r->after.available());
  }
}

// SKU.HOT [COUNT n]: runs with every shard locked (a global command).
void CmdSkuHot(CmdArgs args, CommandContext& ctx) {
  int64_t count = kSkuHotCountDefault;
  if (args.size() == 3 && EqualsIgnoreCase(args[1], "COUNT")) {
    if (!ParseRangeOrReply(ctx, args[2], 1, kSkuHotCountMax, "COUNT", &count)) return;
  } else if (args.size() != 1) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  std::vector<std::pair<std::string, double>> all;
  for (uint32_t s = 0; s < ctx.engine().shard_count(); ++s) {
    auto top = ctx.engine().shard(s).data().hot_skus.Top(ctx.db_index(), static_cast<size_t>(count),
                                                         ctx.now_ms());
    for (auto& [key, rate] : top) {
      // Only keys that are SKUs now (a tracked key may have been deleted since).
      Db::Entry* e = ctx.DbOnShard(s).Find(key, ctx.now_ms());
      if (e != nullptr && e->val.value.type() == ValueType::kSku) all.emplace_back(key, rate);
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (all.size() > static_cast<size_t>(count)) all.resize(static_cast<size_t>(count));
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(all.size()));
  for (const auto& [key, rate] : all) {
    rb.ArrayHeader(2);
    rb.Bulk(key);
    rb.Double(rate);
  }
}

// SKU.CHECK sku: recounts every invariant (storage/sku.h) and reports the first broken one.
void CmdSkuCheck(CmdArgs args, CommandContext& ctx) {
  Sku* sku = SkuOrReply(ctx, args[1], LookupMode::kRead);
  if (sku == nullptr) return;
  std::string broken = sku->CheckInvariants();
  if (!broken.empty()) return ctx.reply().Error("ERR invariant broken: " + broken);
  ctx.reply().Ok();
}

}  // namespace stockd::server
