// Sorted set commands, as Redis 7.0 defines them (t_zset.c): ZADD ZINCRBY ZREM ZSCORE ZMSCORE
// ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE
// ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYSCORE ZREMRANGEBYRANK ZREMRANGEBYLEX
// ZPOPMIN ZPOPMAX ZRANDMEMBER ZSCAN ZUNIONSTORE ZINTERSTORE.
//
// Every range (by rank, score or lex) is first turned into ranks of the ascending order
// (storage::ZSetValue::CountBefore), then visited or erased by rank, so one path serves every
// range command and both encodings.
//
// Every check that can fail (arguments, types, NaN) runs before anything changes, so a command
// that replies with an error has changed nothing. An emptied sorted set is deleted.
#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/blocking.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "storage/glob.h"
#include "storage/set.h"
#include "storage/zset.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::Value;
using storage::ValueType;
using storage::ZSetValue;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kScanStepsPerCount = 10;
// ZRANDMEMBER with a positive count: above count * this > size, the ranks are shuffled instead of
// drawn one by one (Redis's ZRANDMEMBER_SUB_STRATEGY_MUL).
constexpr size_t kRandMemberShuffleFactor = 3;

bool IsZSet(const Db::Entry* e) { return e->val.value.type() == ValueType::kZSet; }
ZSetValue& ZSetOf(Db::Entry* e) { return e->val.value.As<ZSetValue>(); }

// Looks `key` up for reading (`write` false, counting hits and misses) or writing. Sets *out to
// the sorted set, or nullptr when the key is missing. Replies WRONGTYPE and returns false when
// the key holds another type.
bool LookupZSetOrReply(CommandContext& ctx, std::string_view key, bool write, Db::Entry** out) {
  Db::Entry* e = write ? ctx.LookupWrite(key) : ctx.LookupRead(key);
  if (e != nullptr && !IsZSet(e)) {
    ctx.reply().Error(reply::kWrongType);
    return false;
  }
  *out = e;
  return true;
}

// Deletes `key` when its sorted set has become empty (Redis never keeps an empty one).
void DeleteIfEmpty(CommandContext& ctx, std::string_view key, Db::Entry* e) {
  if (ZSetOf(e).size() == 0) ctx.DbFor(key).EraseEntry(e);
}

// A score argument, as Redis's getDoubleFromObject: strtod over the whole string, no leading
// space, no overflow, no NaN. "inf", "+inf" and "-inf" are accepted.
bool ParseScore(std::string_view s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) return false;
  if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || std::fpclassify(v) == FP_ZERO)) {
    return false;
  }
  if (std::isnan(v)) return false;
  *out = v;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Ranges

// A score range, as Redis's zrangespec: "(" makes an edge exclusive.
struct ScoreRange {
  double min = 0, max = 0;
  bool min_exclusive = false, max_exclusive = false;
};

// One edge as Redis's zslParseRange parses it: strtod, the whole rest of the string, not NaN.
// (Redis does not refuse leading spaces or an empty string here, and neither does this.)
bool ParseScoreEdge(std::string_view arg, double* value, bool* exclusive) {
  *exclusive = !arg.empty() && arg[0] == '(';
  if (*exclusive) arg.remove_prefix(1);
  std::string buf(arg);
  char* end = nullptr;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || std::isnan(v)) return false;
  *value = v;
  return true;
}

bool ParseScoreRange(std::string_view min, std::string_view max, ScoreRange* out) {
  return ParseScoreEdge(min, &out->min, &out->min_exclusive) &&
         ParseScoreEdge(max, &out->max, &out->max_exclusive);
}

// A lex range edge, as Redis's zslParseLexRangeItem: "-" and "+" are the ends of the order,
// "[" inclusive, "(" exclusive.
struct LexEdge {
  enum class Kind { kMinusInfinity, kPlusInfinity, kValue };
  Kind kind = Kind::kValue;
  std::string_view value;
  bool exclusive = false;
};

struct LexRange {
  LexEdge min, max;
};

bool ParseLexEdge(std::string_view arg, LexEdge* out) {
  if (arg == "-") {
    out->kind = LexEdge::Kind::kMinusInfinity;
  } else if (arg == "+") {
    out->kind = LexEdge::Kind::kPlusInfinity;
  } else if (!arg.empty() && (arg[0] == '(' || arg[0] == '[')) {
    out->kind = LexEdge::Kind::kValue;
    out->exclusive = arg[0] == '(';
    out->value = arg.substr(1);
  } else {
    return false;
  }
  return true;
}

bool ParseLexRange(std::string_view min, std::string_view max, LexRange* out) {
  return ParseLexEdge(min, &out->min) && ParseLexEdge(max, &out->max);
}

// Compares a member with an edge (<0, 0, >0), as Redis's sdscmplex.
int CompareLex(std::string_view member, const LexEdge& edge) {
  switch (edge.kind) {
    case LexEdge::Kind::kMinusInfinity:
      return 1;
    case LexEdge::Kind::kPlusInfinity:
      return -1;
    case LexEdge::Kind::kValue:
      return member.compare(edge.value);
  }
  return 0;
}

// Ascending ranks [first, end) of the elements in a range.
struct RankSpan {
  size_t first = 0, end = 0;
  size_t size() const { return end > first ? end - first : 0; }
};

RankSpan SpanOf(const ZSetValue& z, const ScoreRange& r) {
  RankSpan s;
  s.first = z.CountBefore([&](double score, std::string_view) {
    return r.min_exclusive ? score <= r.min : score < r.min;
  });
  s.end = z.CountBefore([&](double score, std::string_view) {
    return r.max_exclusive ? score < r.max : score <= r.max;
  });
  return s;
}

RankSpan SpanOf(const ZSetValue& z, const LexRange& r) {
  RankSpan s;
  s.first = z.CountBefore([&](double, std::string_view m) {
    int c = CompareLex(m, r.min);
    return r.min.exclusive ? c <= 0 : c < 0;
  });
  s.end = z.CountBefore([&](double, std::string_view m) {
    int c = CompareLex(m, r.max);
    return r.max.exclusive ? c < 0 : c <= 0;
  });
  return s;
}

// Ranks start..stop (inclusive, negative from the end) as Redis normalises them; an empty span
// when nothing is selected.
RankSpan SpanOfRanks(size_t size, int64_t start, int64_t stop) {
  int64_t len = static_cast<int64_t>(size);
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return RankSpan{};
  if (stop >= len) stop = len - 1;
  return RankSpan{static_cast<size_t>(start), static_cast<size_t>(stop) + 1};
}

// What a range command visits: `count` elements from ascending rank `first`, going down the
// order when `reverse`.
struct Selection {
  size_t first = 0, count = 0;
  bool reverse = false;
};

// Applies REV and LIMIT offset count (count < 0: no limit; offset < 0: nothing, as Redis) to a
// span of a score or lex range.
Selection SelectFromSpan(RankSpan span, bool reverse, int64_t offset, int64_t limit) {
  Selection sel;
  sel.reverse = reverse;
  size_t n = span.size();
  if (offset < 0 || static_cast<uint64_t>(offset) >= n) return sel;
  size_t available = n - static_cast<size_t>(offset);
  sel.count = limit < 0 ? available : std::min(available, static_cast<size_t>(limit));
  sel.first = reverse ? span.end - 1 - static_cast<size_t>(offset)
                      : span.first + static_cast<size_t>(offset);
  return sel;
}

// ---------------------------------------------------------------------------------------------
// Replies

// Elements with their scores: a flat array in RESP2, an array of [member, score] pairs in RESP3
// (as Redis 7). Call ElementsHeader once, then Element per element.
void ElementsHeader(protocol::ReplyBuilder& rb, size_t count, bool withscores) {
  bool pairs = withscores && rb.resp_version() >= 3;
  rb.ArrayHeader(static_cast<int64_t>(withscores && !pairs ? count * 2 : count));
}

void Element(protocol::ReplyBuilder& rb, std::string_view member, double score, bool withscores) {
  if (withscores && rb.resp_version() >= 3) rb.ArrayHeader(2);
  rb.Bulk(member);
  if (withscores) rb.Double(score);
}

void ReplySelection(protocol::ReplyBuilder& rb, const ZSetValue& z, const Selection& sel,
                    bool withscores) {
  ElementsHeader(rb, sel.count, withscores);
  z.Visit(sel.first, sel.count, sel.reverse,
          [&](std::string_view m, double s) { Element(rb, m, s, withscores); });
}

// Stores `result` at `dst` as Redis's setKey (replacing any value, dropping its TTL), or deletes
// `dst` when the result is empty. Replies with the result's size.
void StoreResult(CommandContext& ctx, std::string_view dst, std::unique_ptr<ZSetValue> result) {
  Db& db = ctx.DbFor(dst);
  size_t size = result->size();
  if (size == 0) {
    if (db.Erase(dst, ctx.now_ms())) ctx.KeyModified(dst);
    return ctx.reply().Integer(0);
  }
  Db::Entry* e = db.FindOrInsert(dst, ctx.now_ms()).first;
  e->val.value = Value::Of(ValueType::kZSet, std::move(result));
  if (e->val.expire_at_ms != 0) db.SetExpire(e, 0);
  ctx.KeyModified(dst);
  ctx.reply().Integer(static_cast<int64_t>(size));
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

enum ZAddFlag : uint32_t {
  kZAddNx = 1u << 0,
  kZAddXx = 1u << 1,
  kZAddGt = 1u << 2,
  kZAddLt = 1u << 3,
  kZAddCh = 1u << 4,
  kZAddIncr = 1u << 5,
};

// The outcome of adding one element (Redis's zsetAdd out flags).
enum class AddOutcome { kAdded, kUpdated, kUnchanged, kSkipped, kNaN };

// Redis's zsetAdd: applies NX/XX/GT/LT/INCR to one element. *new_score is set when the element
// ends up with a score (added, updated or unchanged).
AddOutcome AddOne(ZSetValue& z, std::string_view member, double score, uint32_t flags,
                  double* new_score) {
  std::optional<double> current = z.Score(member);
  if (!current) {
    if (flags & kZAddXx) return AddOutcome::kSkipped;
    z.Insert(member, score);
    *new_score = score;
    return AddOutcome::kAdded;
  }
  if (flags & kZAddNx) return AddOutcome::kSkipped;
  if (flags & kZAddIncr) {
    score += *current;
    if (std::isnan(score)) return AddOutcome::kNaN;
  }
  if (((flags & kZAddLt) && score >= *current) || ((flags & kZAddGt) && score <= *current)) {
    return AddOutcome::kSkipped;
  }
  *new_score = score;
  if (score == *current) return AddOutcome::kUnchanged;
  z.UpdateScore(member, *current, score);
  return AddOutcome::kUpdated;
}

// Parses ZADD's flags from args[2] on; returns the index of the first score.
size_t ParseZAddFlags(CmdArgs args, uint32_t* flags) {
  size_t i = 2;
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (EqualsIgnoreCase(a, "nx")) {
      *flags |= kZAddNx;
    } else if (EqualsIgnoreCase(a, "xx")) {
      *flags |= kZAddXx;
    } else if (EqualsIgnoreCase(a, "gt")) {
      *flags |= kZAddGt;
    } else if (EqualsIgnoreCase(a, "lt")) {
      *flags |= kZAddLt;
    } else if (EqualsIgnoreCase(a, "ch")) {
      *flags |= kZAddCh;
    } else if (EqualsIgnoreCase(a, "incr")) {
      *flags |= kZAddIncr;
    } else {
      break;
    }
  }
  return i;
}

// Redis's zaddGenericCommand; ZINCRBY is ZADD with INCR.
void ZAddGeneric(CmdArgs args, CommandContext& ctx, uint32_t flags) {
  protocol::ReplyBuilder& rb = ctx.reply();
  size_t score_index = ParseZAddFlags(args, &flags);
  size_t elements = args.size() - score_index;
  if (elements % 2 != 0 || elements == 0) return rb.Error(reply::kSyntaxError);
  elements /= 2;
  if ((flags & kZAddNx) && (flags & kZAddXx)) {
    return rb.Error("ERR XX and NX options at the same time are not compatible");
  }
  if (((flags & kZAddGt) && (flags & kZAddNx)) || ((flags & kZAddLt) && (flags & kZAddNx)) ||
      ((flags & kZAddGt) && (flags & kZAddLt))) {
    return rb.Error("ERR GT, LT, and/or NX options at the same time are not compatible");
  }
  const bool incr = (flags & kZAddIncr) != 0;
  if (incr && elements > 1) {
    return rb.Error("ERR INCR option supports a single increment-element pair");
  }
  std::vector<double> scores(elements);
  for (size_t j = 0; j < elements; ++j) {
    if (!ParseScore(args[score_index + j * 2], &scores[j])) return rb.Error(reply::kNotFloat);
  }
  std::string_view key = args[1];
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, key, /*write=*/true, &e)) return;
  int64_t added = 0, updated = 0, processed = 0;
  double score = 0;
  if (e == nullptr && !(flags & kZAddXx)) {
    e = ctx.DbFor(key).FindOrInsert(key, ctx.now_ms()).first;
    e->val.value = Value::Of(ValueType::kZSet, std::make_unique<ZSetValue>());
  }
  if (e != nullptr) {
    ZSetValue& z = ZSetOf(e);
    for (size_t j = 0; j < elements; ++j) {
      AddOutcome out = AddOne(z, args[score_index + j * 2 + 1], scores[j], flags, &score);
      if (out == AddOutcome::kNaN) {
        // Only INCR can produce NaN, with one element, on a member that exists: nothing changed.
        return rb.Error("ERR resulting score is not a number (NaN)");
      }
      if (out == AddOutcome::kAdded) ++added;
      if (out == AddOutcome::kUpdated) ++updated;
      if (out != AddOutcome::kSkipped) ++processed;
    }
    if (added + updated > 0) ctx.KeyModified(key);
  }
  if (incr) return processed > 0 ? rb.Double(score) : rb.Null();
  rb.Integer((flags & kZAddCh) ? added + updated : added);
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and its relatives (Redis's zrangeGenericCommand)

enum class RangeType { kAuto, kRank, kScore, kLex };
enum class Direction { kAuto, kForward, kReverse };

struct RangeOptions {
  RangeType type;
  Direction direction;
  bool withscores = false;
  int64_t offset = 0;
  int64_t limit = -1;
  bool has_limit = false;
};

// Parses the options after `key min max` (from args[first]); replies and returns false on error.
bool ParseRangeOptionsOrReply(CmdArgs args, size_t first, bool store, CommandContext& ctx,
                              RangeOptions* opt) {
  for (size_t j = first; j < args.size(); ++j) {
    size_t left = args.size() - j - 1;
    std::string_view a = args[j];
    if (!store && EqualsIgnoreCase(a, "withscores")) {
      opt->withscores = true;
    } else if (EqualsIgnoreCase(a, "limit") && left >= 2) {
      if (!ParseInt64OrReply(ctx, args[j + 1], &opt->offset) ||
          !ParseInt64OrReply(ctx, args[j + 2], &opt->limit)) {
        return false;
      }
      opt->has_limit = true;
      j += 2;
    } else if (opt->direction == Direction::kAuto && EqualsIgnoreCase(a, "rev")) {
      opt->direction = Direction::kReverse;
    } else if (opt->type == RangeType::kAuto && EqualsIgnoreCase(a, "bylex")) {
      opt->type = RangeType::kLex;
    } else if (opt->type == RangeType::kAuto && EqualsIgnoreCase(a, "byscore")) {
      opt->type = RangeType::kScore;
    } else {
      ctx.reply().Error(reply::kSyntaxError);
      return false;
    }
  }
  if (opt->direction == Direction::kAuto) opt->direction = Direction::kForward;
  if (opt->type == RangeType::kAuto) opt->type = RangeType::kRank;
  if (opt->has_limit && opt->type == RangeType::kRank) {
    ctx.reply().Error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return false;
  }
  if (opt->withscores && opt->type == RangeType::kLex) {
    ctx.reply().Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    return false;
  }
  return true;
}

// A parsed range of any type: what the arguments select, before the key is looked up.
struct ParsedRange {
  int64_t start = 0, stop = 0;
  ScoreRange score;
  LexRange lex;
};

bool ParseRangeOrReply(CommandContext& ctx, const RangeOptions& opt, std::string_view min,
                       std::string_view max, ParsedRange* out) {
  switch (opt.type) {
    case RangeType::kAuto:
    case RangeType::kRank:
      return ParseInt64OrReply(ctx, min, &out->start) && ParseInt64OrReply(ctx, max, &out->stop);
    case RangeType::kScore:
      if (ParseScoreRange(min, max, &out->score)) return true;
      ctx.reply().Error("ERR min or max is not a float");
      return false;
    case RangeType::kLex:
      if (ParseLexRange(min, max, &out->lex)) return true;
      ctx.reply().Error("ERR min or max not valid string range item");
      return false;
  }
  return false;
}

Selection Select(const ZSetValue& z, const RangeOptions& opt, const ParsedRange& r) {
  const bool reverse = opt.direction == Direction::kReverse;
  if (opt.type == RangeType::kScore) {
    return SelectFromSpan(SpanOf(z, r.score), reverse, opt.offset, opt.limit);
  }
  if (opt.type == RangeType::kLex) {
    return SelectFromSpan(SpanOf(z, r.lex), reverse, opt.offset, opt.limit);
  }
  RankSpan span = SpanOfRanks(z.size(), r.start, r.stop);
  Selection sel;
  sel.reverse = reverse;
  sel.count = span.size();
  if (sel.count != 0) sel.first = reverse ? z.size() - 1 - span.first : span.first;
  return sel;
}

// Z[REV]RANGE[BYSCORE|BYLEX] and ZRANGESTORE. `src` is the index of the source key; `dst` is the
// destination (ZRANGESTORE) or empty. `type` and `direction` are fixed by the legacy commands.
void RangeGeneric(CmdArgs args, CommandContext& ctx, size_t src, std::string_view dst,
                  RangeType type, Direction direction) {
  const bool store = !dst.empty();
  RangeOptions opt{type, direction};
  if (!ParseRangeOptionsOrReply(args, src + 3, store, ctx, &opt)) return;
  std::string_view min = args[src + 1], max = args[src + 2];
  // Score and lex ranges are given as max, min when reversed.
  if (opt.direction == Direction::kReverse && opt.type != RangeType::kRank) std::swap(min, max);
  ParsedRange range;
  if (!ParseRangeOrReply(ctx, opt, min, max, &range)) return;
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[src], /*write=*/false, &e)) return;
  if (e == nullptr) {
    if (store) return StoreResult(ctx, dst, std::make_unique<ZSetValue>());
    return ctx.reply().EmptyArray();
  }
  const ZSetValue& z = ZSetOf(e);
  Selection sel = Select(z, opt, range);
  if (!store) return ReplySelection(ctx.reply(), z, sel, opt.withscores);
  auto result = std::make_unique<ZSetValue>();
  z.Visit(sel.first, sel.count, sel.reverse,
          [&](std::string_view m, double s) { result->Insert(m, s); });
  StoreResult(ctx, dst, std::move(result));  // may replace the source when dst == src
}

// ZREMRANGEBYRANK / BYSCORE / BYLEX (Redis's zremrangeGenericCommand).
void RemRangeGeneric(CmdArgs args, CommandContext& ctx, RangeType type) {
  RangeOptions opt{type, Direction::kForward};
  ParsedRange range;
  if (!ParseRangeOrReply(ctx, opt, args[2], args[3], &range)) return;
  std::string_view key = args[1];
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, key, /*write=*/true, &e)) return;
  if (e == nullptr) return ctx.reply().Integer(0);
  ZSetValue& z = ZSetOf(e);
  Selection sel = Select(z, opt, range);
  if (sel.count == 0) return ctx.reply().Integer(0);
  z.EraseRanks(sel.first, sel.count);
  DeleteIfEmpty(ctx, key, e);
  ctx.KeyModified(key);
  ctx.reply().Integer(static_cast<int64_t>(sel.count));
}

// ---------------------------------------------------------------------------------------------
// ZUNIONSTORE / ZINTERSTORE (Redis's zunionInterDiffGenericCommand)

enum class SetOp { kUnion, kInter };
enum class Aggregate { kSum, kMin, kMax };

// Combines two scores as Redis's zunionInterAggregate (a NaN sum, inf + -inf, becomes 0).
double AggregateScores(Aggregate agg, double a, double b) {
  switch (agg) {
    case Aggregate::kSum: {
      double s = a + b;
      return std::isnan(s) ? 0.0 : s;
    }
    case Aggregate::kMin:
      return std::min(a, b);
    case Aggregate::kMax:
      return std::max(a, b);
  }
  return a;
}

// One source of ZUNIONSTORE/ZINTERSTORE: a sorted set, a plain set (every member scores 1, as
// Redis), or neither (a missing key: an empty set).
struct StoreSource {
  ZSetValue* zset = nullptr;
  storage::SetValue* set = nullptr;
  double weight = 1.0;

  size_t size() const {
    if (zset != nullptr) return zset->size();
    return set == nullptr ? 0 : set->size();
  }
  // Calls fn(member, score) for every element; the member view is valid only during the call.
  template <typename Fn>
  void ForEach(Fn fn) const {
    if (zset != nullptr) return zset->Visit(0, zset->size(), false, fn);
    if (set != nullptr) set->ForEach([&](std::string_view m) { fn(m, 1.0); });
  }
  std::optional<double> Score(std::string_view member) const {
    if (zset != nullptr) return zset->Score(member);
    if (set != nullptr && set->Contains(member)) return 1.0;
    return std::nullopt;
  }
};

// Parses WEIGHTS and AGGREGATE after the source keys; replies and returns false on error.
bool ParseStoreOptionsOrReply(CmdArgs args, size_t j, CommandContext& ctx,
                              std::vector<StoreSource>* sources, Aggregate* agg) {
  const size_t setnum = sources->size();
  while (j < args.size()) {
    size_t remaining = args.size() - j;
    if (remaining >= setnum + 1 && EqualsIgnoreCase(args[j], "weights")) {
      ++j;
      for (size_t i = 0; i < setnum; ++i, ++j) {
        if (!ParseScore(args[j], &(*sources)[i].weight)) {
          ctx.reply().Error("ERR weight value is not a float");
          return false;
        }
      }
    } else if (remaining >= 2 && EqualsIgnoreCase(args[j], "aggregate")) {
      std::string_view a = args[j + 1];
      if (EqualsIgnoreCase(a, "sum")) {
        *agg = Aggregate::kSum;
      } else if (EqualsIgnoreCase(a, "min")) {
        *agg = Aggregate::kMin;
      } else if (EqualsIgnoreCase(a, "max")) {
        *agg = Aggregate::kMax;
      } else {
        ctx.reply().Error(reply::kSyntaxError);
        return false;
      }
      j += 2;
    } else {
      ctx.reply().Error(reply::kSyntaxError);
      return false;
    }
  }
  return true;
}

// A source's weighted score, as Redis (inf * 0 is NaN, which counts as 0).
double Weighted(const StoreSource& src, double score) {
  double v = src.weight * score;
  return std::isnan(v) ? 0.0 : v;
}

std::unique_ptr<ZSetValue> Combine(SetOp op, Aggregate agg, std::vector<StoreSource>& sources) {
  // Smallest first, as Redis: the intersection walks the smallest set and sums in this order.
  std::stable_sort(sources.begin(), sources.end(),
                   [](const StoreSource& a, const StoreSource& b) { return a.size() < b.size(); });
  auto result = std::make_unique<ZSetValue>();
  if (op == SetOp::kInter) {
    if (sources[0].size() == 0) return result;
    const StoreSource& first = sources[0];
    first.ForEach([&](std::string_view m, double s) {
      double score = Weighted(first, s);
      for (size_t i = 1; i < sources.size(); ++i) {
        std::optional<double> other = sources[i].Score(m);
        if (!other) return;
        score = AggregateScores(agg, score, Weighted(sources[i], *other));
      }
      result->Insert(m, score);
    });
    return result;
  }
  // Union: accumulate in a map first so each member is inserted into the order once.
  absl::flat_hash_map<std::string, double> acc;
  for (const StoreSource& src : sources) {
    src.ForEach([&](std::string_view m, double s) {
      double w = Weighted(src, s);
      auto [it, inserted] = acc.try_emplace(std::string(m), w);
      if (!inserted) it->second = AggregateScores(agg, it->second, w);
    });
  }
  for (const auto& [member, score] : acc) result->Insert(member, score);
  return result;
}

void StoreGeneric(CmdArgs args, CommandContext& ctx, SetOp op) {
  protocol::ReplyBuilder& rb = ctx.reply();
  int64_t setnum;
  if (!ParseInt64OrReply(ctx, args[2], &setnum)) return;
  if (setnum < 1) {
    return rb.Error(fmt::format("ERR at least 1 input key is needed for {}",
                                op == SetOp::kUnion ? "zunionstore" : "zinterstore"));
  }
  if (static_cast<uint64_t>(setnum) > args.size() - 3) return rb.Error(reply::kSyntaxError);
  std::vector<StoreSource> sources(static_cast<size_t>(setnum));
  for (size_t i = 0; i < sources.size(); ++i) {
    Db::Entry* e = ctx.LookupWrite(args[3 + i]);
    if (e == nullptr) continue;
    if (IsZSet(e)) {
      sources[i].zset = &ZSetOf(e);
    } else if (e->val.value.type() == ValueType::kSet) {
      sources[i].set = &e->val.value.As<storage::SetValue>();
    } else {
      return rb.Error(reply::kWrongType);
    }
  }
  Aggregate agg = Aggregate::kSum;
  if (!ParseStoreOptionsOrReply(args, 3 + sources.size(), ctx, &sources, &agg)) return;
  StoreResult(ctx, args[1], Combine(op, agg, sources));
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handlers

void CmdZAdd(CmdArgs args, CommandContext& ctx) { ZAddGeneric(args, ctx, 0); }

void CmdZIncrBy(CmdArgs args, CommandContext& ctx) { ZAddGeneric(args, ctx, kZAddIncr); }

void CmdZRem(CmdArgs args, CommandContext& ctx) {
  std::string_view key = args[1];
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, key, /*write=*/true, &e)) return;
  if (e == nullptr) return ctx.reply().Integer(0);
  int64_t deleted = 0;
  ZSetValue& z = ZSetOf(e);
  for (size_t i = 2; i < args.size() && z.size() > 0; ++i) {
    if (z.Erase(args[i])) ++deleted;
  }
  if (deleted > 0) {
    DeleteIfEmpty(ctx, key, e);
    ctx.KeyModified(key);
  }
  ctx.reply().Integer(deleted);
}

void CmdZScore(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  std::optional<double> score;
  if (e != nullptr) score = ZSetOf(e).Score(args[2]);
  if (!score) return ctx.reply().Null();
  ctx.reply().Double(*score);
}

void CmdZMScore(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(args.size() - 2));
  for (size_t i = 2; i < args.size(); ++i) {
    std::optional<double> score;
    if (e != nullptr) score = ZSetOf(e).Score(args[i]);
    if (score) {
      rb.Double(*score);
    } else {
      rb.Null();
    }
  }
}

void CmdZCard(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  ctx.reply().Integer(e == nullptr ? 0 : static_cast<int64_t>(ZSetOf(e).size()));
}

// ZCOUNT key min max and ZLEXCOUNT key min max.
void CmdZCount(CmdArgs args, CommandContext& ctx) {
  RangeOptions opt{EqualsIgnoreCase(args[0], "zlexcount") ? RangeType::kLex : RangeType::kScore,
                   Direction::kForward};
  ParsedRange range;
  if (!ParseRangeOrReply(ctx, opt, args[2], args[3], &range)) return;
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  if (e == nullptr) return ctx.reply().Integer(0);
  Selection sel = Select(ZSetOf(e), opt, range);
  ctx.reply().Integer(static_cast<int64_t>(sel.count));
}

// ZRANK key member and ZREVRANK key member.
void CmdZRank(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  if (e == nullptr) return ctx.reply().Null();
  ZSetValue& z = ZSetOf(e);
  std::optional<double> score = z.Score(args[2]);
  if (!score) return ctx.reply().Null();
  size_t rank = z.Rank(args[2], *score);
  if (EqualsIgnoreCase(args[0], "zrevrank")) rank = z.size() - 1 - rank;
  ctx.reply().Integer(static_cast<int64_t>(rank));
}

void CmdZRange(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 1, {}, RangeType::kAuto, Direction::kAuto);
}

void CmdZRangeStore(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 2, args[1], RangeType::kAuto, Direction::kAuto);
}

void CmdZRevRange(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 1, {}, RangeType::kRank, Direction::kReverse);
}

void CmdZRangeByScore(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 1, {}, RangeType::kScore, Direction::kForward);
}

void CmdZRevRangeByScore(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 1, {}, RangeType::kScore, Direction::kReverse);
}

void CmdZRangeByLex(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 1, {}, RangeType::kLex, Direction::kForward);
}

void CmdZRevRangeByLex(CmdArgs args, CommandContext& ctx) {
  RangeGeneric(args, ctx, 1, {}, RangeType::kLex, Direction::kReverse);
}

void CmdZRemRangeByRank(CmdArgs args, CommandContext& ctx) {
  RemRangeGeneric(args, ctx, RangeType::kRank);
}

void CmdZRemRangeByScore(CmdArgs args, CommandContext& ctx) {
  RemRangeGeneric(args, ctx, RangeType::kScore);
}

void CmdZRemRangeByLex(CmdArgs args, CommandContext& ctx) {
  RemRangeGeneric(args, ctx, RangeType::kLex);
}

// ZPOPMIN key [count] and ZPOPMAX key [count] (Redis's zpopMinMaxCommand).
void CmdZPop(CmdArgs args, CommandContext& ctx) {
  protocol::ReplyBuilder& rb = ctx.reply();
  if (args.size() > 3) return rb.Error(reply::kSyntaxError);
  const bool max = EqualsIgnoreCase(args[0], "zpopmax");
  int64_t count = 1;
  const bool has_count = args.size() == 3;
  if (has_count) {
    if (!ParseInt64OrReply(ctx, args[2], &count)) return;
    if (count < 0) return rb.Error("ERR value is out of range, must be positive");
  }
  std::string_view key = args[1];
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, key, /*write=*/true, &e)) return;
  if (e == nullptr || count == 0) return rb.EmptyArray();
  ZSetValue& z = ZSetOf(e);
  size_t n = std::min(static_cast<size_t>(count), z.size());
  // RESP3 with a count nests [member, score] pairs; without a count it is one flat pair.
  const bool pairs = has_count && rb.resp_version() >= 3;
  rb.ArrayHeader(static_cast<int64_t>(pairs ? n : n * 2));
  z.Visit(max ? z.size() - 1 : 0, n, max, [&](std::string_view m, double s) {
    if (pairs) rb.ArrayHeader(2);
    rb.Bulk(m);
    rb.Double(s);
  });
  z.EraseRanks(max ? z.size() - n : 0, n);
  DeleteIfEmpty(ctx, key, e);
  ctx.KeyModified(key);
}

// ZRANDMEMBER key [count [WITHSCORES]] (Redis's zrandmemberCommand).
void CmdZRandMember(CmdArgs args, CommandContext& ctx) {
  protocol::ReplyBuilder& rb = ctx.reply();
  if (args.size() > 4 || (args.size() == 4 && !EqualsIgnoreCase(args[3], "withscores"))) {
    return rb.Error(reply::kSyntaxError);
  }
  const bool has_count = args.size() >= 3;
  const bool withscores = args.size() == 4;
  int64_t count = 0;
  if (has_count) {
    if (!ParseInt64OrReply(ctx, args[2], &count)) return;
    if (count < -kInt64Max) {
      return rb.Error(fmt::format("ERR value is out of range, value must between {} and {}",
                                  -kInt64Max, kInt64Max));
    }
  }
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  if (!has_count) {
    if (e == nullptr) return rb.Null();
    const ZSetValue& z = ZSetOf(e);
    z.Visit(ThreadRng()() % z.size(), 1, false, [&](std::string_view m, double) { rb.Bulk(m); });
    return;
  }
  if (e == nullptr || count == 0) return rb.EmptyArray();
  const ZSetValue& z = ZSetOf(e);
  auto emit = [&](std::string_view m, double s) { Element(rb, m, s, withscores); };
  if (count < 0) {
    // Repeats allowed: -count independent picks.
    size_t picks = static_cast<size_t>(-count);
    ElementsHeader(rb, picks, withscores);
    for (size_t i = 0; i < picks; ++i) z.Visit(ThreadRng()() % z.size(), 1, false, emit);
    return;
  }
  size_t n = static_cast<size_t>(count);
  if (n >= z.size()) {
    ElementsHeader(rb, z.size(), withscores);
    return z.Visit(0, z.size(), false, emit);
  }
  std::vector<size_t> ranks;
  if (n * kRandMemberShuffleFactor > z.size()) {
    ranks.resize(z.size());
    std::iota(ranks.begin(), ranks.end(), 0);
    std::shuffle(ranks.begin(), ranks.end(), ThreadRng());
    ranks.resize(n);
  } else {
    std::unordered_set<size_t> seen;
    while (ranks.size() < n) {
      size_t r = ThreadRng()() % z.size();
      if (seen.insert(r).second) ranks.push_back(r);
    }
  }
  ElementsHeader(rb, n, withscores);
  for (size_t r : ranks) z.Visit(r, 1, false, emit);
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]: [cursor, [member, score, ...]] (flat, scores
// as bulk strings, in RESP3 too, as Redis).
void CmdZScan(CmdArgs args, CommandContext& ctx) {
  protocol::ReplyBuilder& rb = ctx.reply();
  uint64_t cursor;
  if (!ParseScanCursor(args[2], &cursor)) return rb.Error("ERR invalid cursor");
  Db::Entry* e;
  if (!LookupZSetOrReply(ctx, args[1], /*write=*/false, &e)) return;
  if (e == nullptr) {
    rb.ArrayHeader(2);
    rb.Bulk("0");
    return rb.EmptyArray();
  }
  int64_t count = kScanCountDefault;
  std::string_view pattern;
  for (size_t i = 3; i < args.size(); i += 2) {
    bool has_value = i + 1 < args.size();
    if (EqualsIgnoreCase(args[i], "count") && has_value) {
      if (!ParseInt64OrReply(ctx, args[i + 1], &count)) return;
      if (count < 1) return rb.Error(reply::kSyntaxError);
    } else if (EqualsIgnoreCase(args[i], "match") && has_value) {
      pattern = args[i + 1] == "*" ? std::string_view() : args[i + 1];
    } else {
      return rb.Error(reply::kSyntaxError);
    }
  }
  ZSetValue& z = ZSetOf(e);
  std::vector<std::pair<std::string_view, double>> found;
  int64_t visited = 0;  // elements seen before MATCH filters them, which COUNT bounds (as Redis)
  auto emit = [&](std::string_view m, double s) {
    ++visited;
    if (pattern.empty() || storage::GlobMatch(pattern, m)) found.emplace_back(m, s);
  };
  int64_t steps_left =
      count > kInt64Max / kScanStepsPerCount ? kInt64Max : count * kScanStepsPerCount;
  do {
    cursor = z.Scan(cursor, emit);
  } while (cursor != 0 && --steps_left > 0 && visited < count);
  rb.ArrayHeader(2);
  rb.Bulk(std::to_string(cursor));
  rb.ArrayHeader(static_cast<int64_t>(found.size() * 2));
  for (const auto& [m, s] : found) {
    rb.Bulk(m);
    rb.Bulk(protocol::ReplyBuilder::FormatDouble(s));
  }
}

void CmdZUnionStore(CmdArgs args, CommandContext& ctx) { StoreGeneric(args, ctx, SetOp::kUnion); }

void CmdZInterStore(CmdArgs args, CommandContext& ctx) { StoreGeneric(args, ctx, SetOp::kInter); }

}  // namespace stockd::server

// --- BZPOPMIN / BZPOPMAX: blocking pops (server/blocking.h) -------------------------------------

namespace stockd::server {
namespace {

// Pops the lowest (or highest) member of the sorted set at `key` and replies [key, member, score].
void PopOneWithKey(CommandContext& ctx, std::string_view key, Db::Entry* e, bool max) {
  ZSetValue& z = ZSetOf(e);
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(3);
  rb.Bulk(key);
  z.Visit(max ? z.size() - 1 : 0, 1, max, [&](std::string_view m, double score) {
    rb.Bulk(m);
    rb.Double(score);
  });
  z.EraseRanks(max ? z.size() - 1 : 0, 1);
  DeleteIfEmpty(ctx, key, e);
  ctx.KeyModified(key);
}

bool ServeBlockedZPop(CommandContext& ctx, BlockedCommand& b, std::string_view key) {
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr || e->val.value.type() != ValueType::kZSet) return false;
  if (!b.Claim()) return true;  // answered by its timeout or gone: let the queue drop it
  PopOneWithKey(ctx, key, e, !b.from_left);
  ctx.PropagateAs({b.from_left ? "ZPOPMIN" : "ZPOPMAX", std::string(key)});
  b.Answer(std::move(*ctx.reply().out()));
  return true;
}

}  // namespace

// BZPOPMIN key [key ...] timeout and BZPOPMAX key [key ...] timeout.
void CmdBZPop(CmdArgs args, CommandContext& ctx) {
  const bool max = EqualsIgnoreCase(args[0], "bzpopmax");
  int64_t deadline_ms;
  if (!ParseBlockTimeoutOrReply(ctx, args.back(), &deadline_ms)) return;
  CmdArgs keys = args.subspan(1, args.size() - 2);
  for (std::string_view key : keys) {  // the first non-empty key answers at once, as Redis
    Db::Entry* e = ctx.LookupWrite(key);
    if (e == nullptr) continue;
    if (e->val.value.type() != ValueType::kZSet) return ctx.reply().Error(reply::kWrongType);
    return PopOneWithKey(ctx, key, e, max);
  }
  BlockClient(ctx, keys, deadline_ms, ServeBlockedZPop, !max, !max, "");
}

}  // namespace stockd::server
