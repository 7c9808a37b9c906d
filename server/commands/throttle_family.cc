// CL.THROTTLE: redis-cell's GCRA rate limiter (github.com/brandur/redis-cell), reproduced so that
// callers written against Redis with the redis-cell module work unchanged: the same arguments,
// validation order and error texts, the same 5-integer reply and rounding, and the same key (a
// string holding the theoretical arrival time, TAT, in Unix ns, expiring when the limiter is full
// again).
//
// redis-cell computes with Rust's `time` crate, whose durations are wider than 64 bits of ns, and
// with plain i64 arithmetic that wraps in its release build. Here every duration is an Int128 of
// ns, and a value wraps (or saturates, for a float-to-integer cast) exactly where redis-cell's
// does, so even absurd arguments get redis-cell's answer instead of undefined behaviour. The
// departures, all on inputs where redis-cell crashes the server or fails half-way, are listed in
// docs/rate-limiting.md.
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "server/command_context.h"
#include "server/commands/families.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::Int128;
using storage::Value;
using storage::ValueType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerUs = 1'000;

// Arguments including the command name: CL.THROTTLE key max_burst count period [quantity].
constexpr size_t kArgsWithoutQuantity = 5;
constexpr size_t kArgsWithQuantity = 6;
constexpr int64_t kQuantityDefault = 1;
// The reply: limited, limit, remaining, retry_after, reset_after.
constexpr int64_t kReplyIntegers = 5;
// The "no key" TAT of redis-cell's store. A key that holds it reads as missing (see OpThrottle).
constexpr int64_t kTatUnset = -1;
// redis-cell retries its compare-and-swap this many times before it gives up. Here the command is
// atomic on the key's shard, so only the kTatUnset case can exhaust them; the count is in the text.
constexpr int kCasAttemptsMax = 5;
// What redis-cell answers for "retry_after" when the request is allowed (or can never fit).
constexpr Int128 kNoRetryNs = -kNsPerSecond;

// Error texts as a Redis client sees them from redis-cell: the module prefixes "Cell error: ",
// and its own errors (not a stored value's parse error) also carry "Store error: ".
constexpr std::string_view kUsageError =
    "Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> "
    "[<quantity>]";
constexpr std::string_view kParseErrorPrefix =
    "Cell error: Store error: Couldn't parse as integer: ";

// How Rust's i64::from_str fails (core::num::IntErrorKind); redis-cell shows its text for a key
// whose value is not an integer.
enum class RustParse { kOk, kEmpty, kInvalidDigit, kPosOverflow, kNegOverflow };

// Parses as Rust's i64::from_str, which redis-cell uses for its arguments and the stored TAT: an
// optional '+' or '-', then one or more ASCII digits, leading zeros allowed. The failure reported
// is the first one scanning left to right, as Rust (digits that overflow before a bad byte report
// the overflow).
RustParse ParseRustInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return RustParse::kEmpty;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    if (s.size() == 1) return RustParse::kInvalidDigit;
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const RustParse overflow = negative ? RustParse::kNegOverflow : RustParse::kPosOverflow;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return RustParse::kInvalidDigit;
    int64_t digit = c - '0';
    if (__builtin_mul_overflow(v, 10, &v)) return overflow;
    if (negative ? __builtin_sub_overflow(v, digit, &v) : __builtin_add_overflow(v, digit, &v)) {
      return overflow;
    }
  }
  *out = v;
  return RustParse::kOk;
}

bool ParseArgOrReply(CommandContext& ctx, std::string_view arg, int64_t* out) {
  if (ParseRustInt64(arg, out) == RustParse::kOk) return true;
  std::string error(kParseErrorPrefix);
  error.append(arg);
  ctx.reply().Error(error);
  return false;
}

// Rust's wrapping i64 arithmetic and `as` casts, which redis-cell's release build uses.
int64_t WrapToInt64(Int128 v) { return static_cast<int64_t>(static_cast<uint64_t>(v)); }
int64_t WrapAdd(int64_t a, int64_t b) {
  int64_t r;
  __builtin_add_overflow(a, b, &r);
  return r;
}
int64_t WrapMul(int64_t a, int64_t b) {
  int64_t r;
  __builtin_mul_overflow(a, b, &r);
  return r;
}
// Rust's `f64 as i64`: truncates toward zero, saturates at the ends, NaN is 0.
int64_t SaturatingToInt64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775808.0) return kInt64Max;   // 2^63
  if (v <= -9223372036854775808.0) return kInt64Min;  // -2^63
  return static_cast<int64_t>(v);
}

// redis-cell's reply for a duration: whole seconds (truncated toward zero), plus one when a
// positive duration has a millisecond part, "because otherwise a fast-paced caller could try
// again too early".
int64_t RoundUpSeconds(Int128 ns) {
  int64_t seconds = static_cast<int64_t>(ns / kNsPerSecond);  // |ns| < 2^66, so it fits
  if ((ns % kNsPerSecond) / kNsPerMs > 0) ++seconds;
  return seconds;
}

struct ThrottleArgs {
  int64_t max_burst = 0;
  int64_t count = 0;
  int64_t period_s = 0;
  int64_t quantity = kQuantityDefault;
};

// redis-cell's RateLimiter for one call.
struct Gcra {
  int64_t limit = 0;  // max_burst + 1 requests at once
  // The nominal gap between two requests: period / count. 0 means "Zero rates are not supported".
  int64_t emission_interval_ns = 0;
  // How far ahead of the nominal schedule a caller may run: the size of the bucket.
  int64_t tolerance_ns = 0;
};

Gcra MakeGcra(const ThrottleArgs& a) {
  Gcra g;
  // Rate::per_period: the period in ns cut to 64 bits, divided by count in double precision and
  // truncated. A count or period of 0, or a rate above one request per ns, gives 0.
  int64_t period_ns = WrapToInt64(Int128{a.period_s} * kNsPerSecond);
  if (a.count != 0 && period_ns != 0) {
    g.emission_interval_ns =
        SaturatingToInt64(static_cast<double>(period_ns) / static_cast<double>(a.count));
  }
  g.limit = WrapAdd(a.max_burst, 1);
  g.tolerance_ns = WrapMul(g.emission_interval_ns, g.limit);
  return g;
}

// One GCRA decision (redis-cell's rate_limit without its store).
struct Decision {
  bool limited = false;
  int64_t new_tat_ns = 0;  // the TAT to store when allowed
  // Allowed: new TAT - now, which is also the key's TTL. Limited: stored TAT - now.
  Int128 ttl_ns = 0;
  Int128 retry_after_ns = kNoRetryNs;
};

Decision Decide(const Gcra& g, int64_t quantity, Int128 now_ns, Int128 tat_ns) {
  Decision d;
  Int128 increment_ns = WrapMul(g.emission_interval_ns, quantity);
  Int128 new_tat_ns = (now_ns > tat_ns ? now_ns : tat_ns) + increment_ns;
  Int128 allow_at_ns = new_tat_ns - g.tolerance_ns;
  Int128 diff_ns = now_ns - allow_at_ns;
  if (diff_ns < 0) {
    d.limited = true;
    // A request larger than the whole bucket never fits, so there is no time to retry at.
    if (increment_ns <= g.tolerance_ns) d.retry_after_ns = -diff_ns;
    d.ttl_ns = tat_ns - now_ns;
    return d;
  }
  d.new_tat_ns = WrapToInt64(new_tat_ns);
  d.ttl_ns = new_tat_ns - now_ns;
  return d;
}

// Requests that would still be allowed now: whole microseconds of room left in the bucket divided
// by the interval in whole microseconds, in double precision, as redis-cell. An interval under
// 1 us divides by zero there, which its saturating cast turns into INT64_MAX (or 0 for 0/0).
int64_t Remaining(const Gcra& g, Int128 ttl_ns) {
  Int128 next_ns = Int128{g.tolerance_ns} - ttl_ns;
  if (next_ns <= -Int128{g.emission_interval_ns}) return 0;
  Int128 next_us = next_ns / kNsPerUs;
  Int128 interval_us = g.emission_interval_ns / kNsPerUs;
  if (interval_us == 0) return next_us > 0 ? kInt64Max : next_us < 0 ? kInt64Min : 0;
  return SaturatingToInt64(static_cast<double>(next_us) / static_cast<double>(interval_us));
}

// Gives the key (nullptr: absent) the TAT `tat_ns` when `write_tat`, and redis-cell's TTL: the
// time until the limiter is full again. The expiry is rounded up to the next ms, so the key lives
// exactly as long as its TAT is in the future: while it does, a Redis key with redis-cell's
// truncated TTL is still there too (Redis expires a key after its time, stockd at it).
void SetTat(CommandContext& ctx, std::string_view key, Db::Entry* e, bool write_tat, int64_t tat_ns,
            Int128 ttl_ns) {
  assert(e != nullptr || write_tat);  // only a key that exists may keep its value
  Db& db = ctx.DbFor(key);
  if (ttl_ns <= 0) {
    // A TAT that is not in the future limits exactly as a missing key does. redis-cell would keep
    // the key until the next ms (TTL 0), keep it forever (TTL -1 ms, "no expiry" to Redis) or
    // fail half-way (a TTL below that); stockd deletes it.
    if (e != nullptr) {
      db.EraseEntry(e);
      ctx.KeyModified(key);
    }
    return;
  }
  int64_t ttl_ms = static_cast<int64_t>((ttl_ns + kNsPerMs - 1) / kNsPerMs);  // < 2^45
  if (e == nullptr) e = db.FindOrInsert(key, ctx.now_ms()).first;
  if (write_tat) e->val.value = Value::Integer(tat_ns);
  db.SetExpire(e, ctx.now_ms() + ttl_ms);
  ctx.KeyModified(key);
}

enum class ThrottleStatus {
  kOk,
  kZeroRate,
  kWrongType,
  kTatEmpty,
  kTatInvalidDigit,
  kTatTooLarge,
  kTatTooSmall,
  kUpdateFailed,
};

ThrottleStatus TatStatus(RustParse p) {
  switch (p) {
    case RustParse::kOk:
      break;
    case RustParse::kEmpty:
      return ThrottleStatus::kTatEmpty;
    case RustParse::kInvalidDigit:
      return ThrottleStatus::kTatInvalidDigit;
    case RustParse::kPosOverflow:
      return ThrottleStatus::kTatTooLarge;
    case RustParse::kNegOverflow:
      return ThrottleStatus::kTatTooSmall;
  }
  return ThrottleStatus::kOk;
}

void ReplyError(CommandContext& ctx, ThrottleStatus status) {
  protocol::ReplyBuilder& rb = ctx.reply();
  switch (status) {
    case ThrottleStatus::kOk:
      break;
    case ThrottleStatus::kZeroRate:
      return rb.Error("Cell error: Store error: Zero rates are not supported");
    case ThrottleStatus::kWrongType:
      return rb.Error(reply::kWrongType);
    // A stored value that is not an integer: Rust's own parse error, without "Store error: ".
    case ThrottleStatus::kTatEmpty:
      return rb.Error("Cell error: cannot parse integer from empty string");
    case ThrottleStatus::kTatInvalidDigit:
      return rb.Error("Cell error: invalid digit found in string");
    case ThrottleStatus::kTatTooLarge:
      return rb.Error("Cell error: number too large to fit in target type");
    case ThrottleStatus::kTatTooSmall:
      return rb.Error("Cell error: number too small to fit in target type");
    case ThrottleStatus::kUpdateFailed:
      return rb.Error("Cell error: Store error: Failed to update rate limit after " +
                      std::to_string(kCasAttemptsMax) + " attempts");
  }
}

struct ThrottleReply {
  bool limited = false;
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t retry_after_s = 0;
  int64_t reset_after_s = 0;
};

// Runs one limiter call on the key's shard. Every check that can fail runs before anything changes,
// in redis-cell's order: the rate, then the key's type and value.
ThrottleStatus OpThrottle(CommandContext& ctx, std::string_view key, const ThrottleArgs& args,
                          ThrottleReply* out) {
  const Gcra g = MakeGcra(args);
  if (g.emission_interval_ns == 0) return ThrottleStatus::kZeroRate;
  // redis-cell opens the key for reading first, so hits and misses count as for GET.
  Db::Entry* e = ctx.LookupRead(key);
  int64_t tat_val = kTatUnset;
  if (e != nullptr) {
    const Value& v = e->val.value;
    if (v.type() != ValueType::kString) return ThrottleStatus::kWrongType;
    if (v.is_int()) {
      tat_val = v.int_value();
    } else if (RustParse p = ParseRustInt64(v.raw(), &tat_val); p != RustParse::kOk) {
      return TatStatus(p);
    }
  }
  const Int128 now_ns = Int128{ctx.now_ms()} * kNsPerMs;
  const Decision d = Decide(g, args.quantity, now_ns, tat_val == kTatUnset ? now_ns : tat_val);
  if (!d.limited) {
    if (e != nullptr && tat_val == kTatUnset) {
      // The key holds -1, which redis-cell reads as "no key". Its set-if-not-exists then finds a
      // key every time: each attempt gives the key the new TTL but leaves its value, and the
      // command fails.
      SetTat(ctx, key, e, /*write_tat=*/false, 0, d.ttl_ns);
      return ThrottleStatus::kUpdateFailed;
    }
    SetTat(ctx, key, e, /*write_tat=*/true, d.new_tat_ns, d.ttl_ns);
  }
  out->limited = d.limited;
  out->limit = g.limit;
  out->remaining = Remaining(g, d.ttl_ns);
  out->retry_after_s = RoundUpSeconds(d.retry_after_ns);
  out->reset_after_s = RoundUpSeconds(d.ttl_ns);
  return ThrottleStatus::kOk;
}

}  // namespace

// CL.THROTTLE key max_burst count period [quantity]. The table gives it Redis module arity (-1),
// as redis-cell registers it, so a wrong argument count gets redis-cell's usage error, not
// Redis's arity error.
void CmdClThrottle(CmdArgs args, CommandContext& ctx) {
  if (args.size() != kArgsWithoutQuantity && args.size() != kArgsWithQuantity) {
    return ctx.reply().Error(kUsageError);
  }
  ThrottleArgs a;
  if (!ParseArgOrReply(ctx, args[2], &a.max_burst) || !ParseArgOrReply(ctx, args[3], &a.count) ||
      !ParseArgOrReply(ctx, args[4], &a.period_s)) {
    return;
  }
  if (args.size() == kArgsWithQuantity && !ParseArgOrReply(ctx, args[5], &a.quantity)) return;
  ThrottleReply r;
  ThrottleStatus status = OpThrottle(ctx, args[1], a, &r);
  if (status != ThrottleStatus::kOk) return ReplyError(ctx, status);
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(kReplyIntegers);
  rb.Integer(r.limited ? 1 : 0);
  rb.Integer(r.limit);
  rb.Integer(r.remaining);
  rb.Integer(r.retry_after_s);
  rb.Integer(r.reset_after_s);
}

}  // namespace stockd::server
