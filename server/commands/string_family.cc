// String commands, as Redis 7.0 defines them (t_string.c): GET SET SETNX SETEX PSETEX GETSET
// GETDEL GETEX MGET MSET MSETNX INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE
// SETRANGE.
//
// Every check that can fail (arguments, types, overflow, size) runs before anything changes, so
// a command that replies with an error has changed nothing.
#include <fmt/format.h>

#include <cassert>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "server/command_context.h"
#include "server/commands/families.h"

namespace stockd::server {
namespace {

using storage::Db;
using storage::Value;
using storage::ValueType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kMsPerSecond = 1000;

// Outcomes of the data operations below; ReplyError turns each failure into Redis's error text.
enum class OpStatus {
  kOk,
  kWrongType,
  kNotInteger,
  kNotFloat,
  kOverflow,
  kNanOrInfinity,
  kTooLarge,
};

void ReplyError(CommandContext& ctx, OpStatus status) {
  protocol::ReplyBuilder& rb = ctx.reply();
  switch (status) {
    case OpStatus::kOk:
      break;
    case OpStatus::kWrongType:
      return rb.Error(reply::kWrongType);
    case OpStatus::kNotInteger:
      return rb.Error(reply::kNotInteger);
    case OpStatus::kNotFloat:
      return rb.Error(reply::kNotFloat);
    case OpStatus::kOverflow:
      return rb.Error(reply::kOverflow);
    case OpStatus::kNanOrInfinity:
      return rb.Error("ERR increment would produce NaN or Infinity");
    case OpStatus::kTooLarge:
      return rb.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
  assert(false && "ReplyError called with kOk");
}

// The only type these commands accept. Today every value is a string; lists and hashes are next.
bool IsString(const Db::Entry* e) { return e->val.value.type() == ValueType::kString; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "invalid expire time in 'set' command", naming the command as sent, in lower case.
void ReplyInvalidExpireTime(CommandContext& ctx, std::string_view command) {
  ctx.reply().Error(fmt::format("ERR invalid expire time in '{}' command", Lower(command)));
}

void ReplyValue(protocol::ReplyBuilder& rb, const Value& v) {
  char buf[20];
  rb.Bulk(v.View(buf));
}

// Largest string a command may build: proto-max-bulk-len (default 512 MB), as Redis checks it.
int64_t StringBytesMax(CommandContext& ctx) {
  return ctx.engine().config().proto_max_bulk_len.load(std::memory_order_relaxed);
}

// Whether a string of offset + append bytes is allowed; false on overflow too.
bool StringLengthOk(CommandContext& ctx, uint64_t offset, uint64_t append) {
  uint64_t max = static_cast<uint64_t>(StringBytesMax(ctx));
  return offset <= max && append <= max - offset;
}

// The integer a string value holds, parsed as Redis's string2ll (int-encoded values need none).
bool ValueToInt64(const Value& v, int64_t* out) {
  if (v.is_int()) {
    *out = v.int_value();
    return true;
  }
  return ParseInt64Arg(v.raw(), out);
}

// Writes a new string value over `e`, removing its TTL unless keep_ttl (as Redis's setKey).
void Overwrite(Db& db, Db::Entry* e, std::string_view value, bool keep_ttl) {
  e->val.value = Value::String(value);
  if (!keep_ttl && e->val.expire_at_ms != 0) db.SetExpire(e, 0);
}

// ---------------------------------------------------------------------------------------------
// SET / GETEX options

enum StringFlag : uint32_t {
  kSetNx = 1u << 0,
  kSetXx = 1u << 1,
  kSetGet = 1u << 2,
  kKeepTtl = 1u << 3,
  kEx = 1u << 4,
  kPx = 1u << 5,
  kExAt = 1u << 6,
  kPxAt = 1u << 7,
  kPersist = 1u << 8,
};
constexpr uint32_t kAnyExpire = kEx | kPx | kExAt | kPxAt;

enum class OptionsFor { kSet, kGetEx };

struct StringOptions {
  uint32_t flags = 0;
  std::string_view expire;  // the EX/PX/EXAT/PXAT argument, when one of them is given
};

// Parses SET's or GETEX's options from args[first] on with Redis's conflict rules (an option
// may repeat; a conflicting or unknown one, or a missing time, is a syntax error). Returns false
// on a syntax error without replying.
bool ParseStringOptions(CmdArgs args, size_t first, OptionsFor command, StringOptions* out) {
  const bool set = command == OptionsFor::kSet;
  uint32_t& f = out->flags;
  for (size_t i = first; i < args.size(); ++i) {
    std::string_view opt = args[i];
    bool has_next = i + 1 < args.size();
    uint32_t expire_flag = 0;
    if (EqualsIgnoreCase(opt, "NX") && set && !(f & kSetXx)) {
      f |= kSetNx;
    } else if (EqualsIgnoreCase(opt, "XX") && set && !(f & kSetNx)) {
      f |= kSetXx;
    } else if (EqualsIgnoreCase(opt, "GET") && set) {
      f |= kSetGet;
    } else if (EqualsIgnoreCase(opt, "KEEPTTL") && set && !(f & (kPersist | kAnyExpire))) {
      f |= kKeepTtl;
    } else if (EqualsIgnoreCase(opt, "PERSIST") && !set && !(f & (kKeepTtl | kAnyExpire))) {
      f |= kPersist;
    } else if (EqualsIgnoreCase(opt, "EX")) {
      expire_flag = kEx;
    } else if (EqualsIgnoreCase(opt, "PX")) {
      expire_flag = kPx;
    } else if (EqualsIgnoreCase(opt, "EXAT")) {
      expire_flag = kExAt;
    } else if (EqualsIgnoreCase(opt, "PXAT")) {
      expire_flag = kPxAt;
    } else {
      return false;
    }
    if (expire_flag != 0) {
      // The same expiry option may repeat (the last time wins); any other one conflicts.
      uint32_t conflicts = kKeepTtl | kPersist | (kAnyExpire & ~expire_flag);
      if ((f & conflicts) || !has_next) return false;
      f |= expire_flag;
      out->expire = args[++i];
    }
  }
  return true;
}

// Turns an EX/PX/EXAT/PXAT argument into an absolute Unix time in ms. Replies with the error
// and returns false when it is not an integer, not positive, or overflows.
bool ExpireAtOrReply(CommandContext& ctx, std::string_view command, const StringOptions& opt,
                     int64_t* at_ms) {
  int64_t t;
  if (!ParseInt64OrReply(ctx, opt.expire, &t)) return false;
  const bool seconds = (opt.flags & (kEx | kExAt)) != 0;
  if (t <= 0 || (seconds && t > kInt64Max / kMsPerSecond)) {
    ReplyInvalidExpireTime(ctx, command);
    return false;
  }
  if (seconds) t *= kMsPerSecond;
  if (opt.flags & (kEx | kPx)) {
    if (t > kInt64Max - ctx.now_ms()) {
      ReplyInvalidExpireTime(ctx, command);
      return false;
    }
    t += ctx.now_ms();
  }
  *at_ms = t;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Shared operations

// GET's reply for `key` (the value, or null when missing); used by GET, GETSET, GETDEL and
// SET ... GET. Returns the entry (nullptr when missing) and sets *wrong_type, after replying
// WRONGTYPE, when the key holds another type.
Db::Entry* GetOrReply(CommandContext& ctx, std::string_view key, bool* wrong_type) {
  *wrong_type = false;
  Db::Entry* e = ctx.LookupRead(key);
  if (e == nullptr) {
    ctx.reply().Null();
    return nullptr;
  }
  if (!IsString(e)) {
    ctx.reply().Error(reply::kWrongType);
    *wrong_type = true;
    return nullptr;
  }
  ReplyValue(ctx.reply(), e->val.value);
  return e;
}

// What SET-like commands reply when they set (OK or 1) or, with NX/XX, do not (null or 0).
enum class SetReply { kOkOrNull, kOneOrZero };

// SET's core (Redis's setGenericCommand). at_ms == 0 means no expiry option.
void SetGeneric(CommandContext& ctx, std::string_view key, std::string_view value, uint32_t flags,
                int64_t at_ms, SetReply style) {
  protocol::ReplyBuilder& rb = ctx.reply();
  if (flags & kSetGet) {
    bool wrong_type;
    GetOrReply(ctx, key, &wrong_type);
    if (wrong_type) return;
  }
  Db& db = ctx.DbFor(key);
  Db::Entry* e = ctx.LookupWrite(key);
  bool found = e != nullptr;
  if (((flags & kSetNx) && found) || ((flags & kSetXx) && !found)) {
    if (flags & kSetGet) return;  // GET already replied
    return style == SetReply::kOkOrNull ? rb.Null() : rb.Integer(0);
  }
  if (e == nullptr) e = db.FindOrInsert(key, ctx.now_ms()).first;
  Overwrite(db, e, value, (flags & kKeepTtl) != 0);
  if (at_ms != 0) db.SetExpire(e, at_ms);
  ctx.KeyModified(key);
  if (flags & kSetGet) return;
  return style == SetReply::kOkOrNull ? rb.Ok() : rb.Integer(1);
}

// Adds delta to the integer at `key` (0 when missing), keeping its TTL.
OpStatus OpIncrBy(CommandContext& ctx, std::string_view key, int64_t delta, int64_t* result) {
  Db& db = ctx.DbFor(key);
  Db::Entry* e = ctx.LookupWrite(key);
  int64_t old = 0;
  if (e != nullptr) {
    if (!IsString(e)) return OpStatus::kWrongType;
    if (!ValueToInt64(e->val.value, &old)) return OpStatus::kNotInteger;
  }
  if ((delta < 0 && old < 0 && delta < kInt64Min - old) ||
      (delta > 0 && old > 0 && delta > kInt64Max - old)) {
    return OpStatus::kOverflow;
  }
  *result = old + delta;
  if (e == nullptr) e = db.FindOrInsert(key, ctx.now_ms()).first;
  e->val.value = Value::Integer(*result);
  ctx.KeyModified(key);
  return OpStatus::kOk;
}

OpStatus OpIncrByFloat(CommandContext& ctx, std::string_view key, std::string_view increment,
                       std::string* result) {
  Db& db = ctx.DbFor(key);
  Db::Entry* e = ctx.LookupWrite(key);
  long double value = 0;
  if (e != nullptr) {
    if (!IsString(e)) return OpStatus::kWrongType;
    const Value& v = e->val.value;
    if (v.is_int()) {
      value = static_cast<long double>(v.int_value());
    } else if (!ParseLongDouble(v.raw(), &value)) {
      return OpStatus::kNotFloat;
    }
  }
  long double incr;
  if (!ParseLongDouble(increment, &incr)) return OpStatus::kNotFloat;
  value += incr;
  if (std::isnan(value) || std::isinf(value)) return OpStatus::kNanOrInfinity;
  *result = FormatLongDouble(value);
  if (e == nullptr) e = db.FindOrInsert(key, ctx.now_ms()).first;
  e->val.value = Value::String(*result);  // keeps the TTL, as Redis's dbReplaceValue
  ctx.KeyModified(key);
  return OpStatus::kOk;
}

OpStatus OpAppend(CommandContext& ctx, std::string_view key, std::string_view tail,
                  size_t* length) {
  Db& db = ctx.DbFor(key);
  Db::Entry* e = ctx.LookupWrite(key);
  if (e == nullptr) {
    e = db.FindOrInsert(key, ctx.now_ms()).first;
    e->val.value = Value::String(tail);
    *length = tail.size();
  } else {
    if (!IsString(e)) return OpStatus::kWrongType;
    if (!StringLengthOk(ctx, e->val.value.StringLength(), tail.size())) return OpStatus::kTooLarge;
    std::string& raw = e->val.value.MutableRaw();
    raw.append(tail);
    *length = raw.size();
  }
  ctx.KeyModified(key);
  return OpStatus::kOk;
}

// Writes `bytes` at `offset`, zero-padding; *length is the resulting length. Writing nothing
// changes nothing (and creates no key).
OpStatus OpSetRange(CommandContext& ctx, std::string_view key, uint64_t offset,
                    std::string_view bytes, size_t* length) {
  Db& db = ctx.DbFor(key);
  Db::Entry* e = ctx.LookupWrite(key);
  if (e != nullptr && !IsString(e)) return OpStatus::kWrongType;
  if (bytes.empty()) {
    *length = e == nullptr ? 0 : e->val.value.StringLength();
    return OpStatus::kOk;
  }
  if (!StringLengthOk(ctx, offset, bytes.size())) return OpStatus::kTooLarge;
  if (e == nullptr) e = db.FindOrInsert(key, ctx.now_ms()).first;
  std::string& raw = e->val.value.MutableRaw();
  size_t end = static_cast<size_t>(offset) + bytes.size();
  if (raw.size() < end) raw.resize(end, '\0');
  std::memcpy(raw.data() + offset, bytes.data(), bytes.size());
  *length = raw.size();
  ctx.KeyModified(key);
  return OpStatus::kOk;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handlers

void CmdGet(CmdArgs args, CommandContext& ctx) {
  bool wrong_type;
  GetOrReply(ctx, args[1], &wrong_type);
}

void CmdSet(CmdArgs args, CommandContext& ctx) {
  StringOptions opt;
  if (!ParseStringOptions(args, 3, OptionsFor::kSet, &opt)) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  int64_t at_ms = 0;
  if ((opt.flags & kAnyExpire) && !ExpireAtOrReply(ctx, args[0], opt, &at_ms)) return;
  SetGeneric(ctx, args[1], args[2], opt.flags, at_ms, SetReply::kOkOrNull);
}

void CmdSetNx(CmdArgs args, CommandContext& ctx) {
  SetGeneric(ctx, args[1], args[2], kSetNx, 0, SetReply::kOneOrZero);
}

// SETEX key seconds value, PSETEX key milliseconds value.
void CmdSetEx(CmdArgs args, CommandContext& ctx) {
  StringOptions opt;
  opt.flags = EqualsIgnoreCase(args[0], "psetex") ? kPx : kEx;
  opt.expire = args[2];
  int64_t at_ms = 0;
  if (!ExpireAtOrReply(ctx, args[0], opt, &at_ms)) return;
  SetGeneric(ctx, args[1], args[3], opt.flags, at_ms, SetReply::kOkOrNull);
}

void CmdGetSet(CmdArgs args, CommandContext& ctx) {
  bool wrong_type;
  GetOrReply(ctx, args[1], &wrong_type);
  if (wrong_type) return;
  Db& db = ctx.DbFor(args[1]);
  Db::Entry* e = db.FindOrInsert(args[1], ctx.now_ms()).first;
  Overwrite(db, e, args[2], /*keep_ttl=*/false);
  ctx.KeyModified(args[1]);
}

void CmdGetDel(CmdArgs args, CommandContext& ctx) {
  bool wrong_type;
  Db::Entry* e = GetOrReply(ctx, args[1], &wrong_type);
  if (e == nullptr) return;
  ctx.DbFor(args[1]).EraseEntry(e);
  ctx.KeyModified(args[1]);
}

void CmdGetEx(CmdArgs args, CommandContext& ctx) {
  StringOptions opt;
  if (!ParseStringOptions(args, 2, OptionsFor::kGetEx, &opt)) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  std::string_view key = args[1];
  // As Redis: a missing key replies null before the time is validated.
  Db::Entry* e = ctx.LookupRead(key);
  if (e == nullptr) return ctx.reply().Null();
  if (!IsString(e)) return ctx.reply().Error(reply::kWrongType);
  int64_t at_ms = 0;
  if ((opt.flags & kAnyExpire) && !ExpireAtOrReply(ctx, args[0], opt, &at_ms)) return;
  ReplyValue(ctx.reply(), e->val.value);
  Db& db = ctx.DbFor(key);
  if ((opt.flags & (kExAt | kPxAt)) && at_ms <= ctx.now_ms()) {
    db.EraseEntry(e);  // an absolute time already past deletes the key
    ctx.KeyModified(key);
  } else if (at_ms != 0) {
    db.SetExpire(e, at_ms);
    ctx.KeyModified(key);
  } else if ((opt.flags & kPersist) && e->val.expire_at_ms != 0) {
    db.SetExpire(e, 0);
    ctx.KeyModified(key);
  }
}

void CmdMGet(CmdArgs args, CommandContext& ctx) {
  protocol::ReplyBuilder& rb = ctx.reply();
  rb.ArrayHeader(static_cast<int64_t>(args.size() - 1));
  for (size_t i = 1; i < args.size(); ++i) {
    Db::Entry* e = ctx.LookupRead(args[i]);
    if (e == nullptr || !IsString(e)) {
      rb.Null();  // MGET never fails: another type reads as missing
    } else {
      ReplyValue(rb, e->val.value);
    }
  }
}

namespace {

// MSET and MSETNX: the keys may live on several shards, all locked for this command.
void MSetGeneric(CmdArgs args, CommandContext& ctx, bool nx) {
  if (args.size() % 2 == 0) {
    return ctx.reply().Error(
        fmt::format("ERR wrong number of arguments for '{}' command", Lower(args[0])));
  }
  if (nx) {
    for (size_t i = 1; i < args.size(); i += 2) {
      if (ctx.LookupWrite(args[i]) != nullptr) return ctx.reply().Integer(0);
    }
  }
  for (size_t i = 1; i < args.size(); i += 2) {
    Db& db = ctx.DbFor(args[i]);
    Db::Entry* e = db.FindOrInsert(args[i], ctx.now_ms()).first;
    Overwrite(db, e, args[i + 1], /*keep_ttl=*/false);
    ctx.KeyModified(args[i]);
  }
  if (nx) return ctx.reply().Integer(1);
  ctx.reply().Ok();
}

}  // namespace

void CmdMSet(CmdArgs args, CommandContext& ctx) { MSetGeneric(args, ctx, /*nx=*/false); }
void CmdMSetNx(CmdArgs args, CommandContext& ctx) { MSetGeneric(args, ctx, /*nx=*/true); }

// INCR key, DECR key, INCRBY key increment, DECRBY key decrement.
void CmdIncr(CmdArgs args, CommandContext& ctx) {
  std::string_view name = args[0];
  int64_t delta = 1;
  if (EqualsIgnoreCase(name, "decr")) {
    delta = -1;
  } else if (EqualsIgnoreCase(name, "incrby") || EqualsIgnoreCase(name, "decrby")) {
    if (!ParseInt64OrReply(ctx, args[2], &delta)) return;
    if (EqualsIgnoreCase(name, "decrby")) {
      // -INT64_MIN is not representable (Redis 7.0 replies this same error).
      if (delta == kInt64Min) return ctx.reply().Error("ERR decrement would overflow");
      delta = -delta;
    }
  }
  int64_t result;
  OpStatus status = OpIncrBy(ctx, args[1], delta, &result);
  if (status != OpStatus::kOk) return ReplyError(ctx, status);
  ctx.reply().Integer(result);
}

void CmdIncrByFloat(CmdArgs args, CommandContext& ctx) {
  std::string result;
  OpStatus status = OpIncrByFloat(ctx, args[1], args[2], &result);
  if (status != OpStatus::kOk) return ReplyError(ctx, status);
  ctx.reply().Bulk(result);  // a bulk string in RESP3 too, as Redis
}

void CmdAppend(CmdArgs args, CommandContext& ctx) {
  size_t length;
  OpStatus status = OpAppend(ctx, args[1], args[2], &length);
  if (status != OpStatus::kOk) return ReplyError(ctx, status);
  ctx.reply().Integer(static_cast<int64_t>(length));
}

void CmdStrLen(CmdArgs args, CommandContext& ctx) {
  Db::Entry* e = ctx.LookupRead(args[1]);
  if (e == nullptr) return ctx.reply().Integer(0);
  if (!IsString(e)) return ctx.reply().Error(reply::kWrongType);
  ctx.reply().Integer(static_cast<int64_t>(e->val.value.StringLength()));
}

// GETRANGE key start end, with Redis 7.0's index rules: negative indexes count from the end,
// both negative with start > end is empty, and an end before the string clamps to index 0.
void CmdGetRange(CmdArgs args, CommandContext& ctx) {
  int64_t start, end;
  if (!ParseInt64OrReply(ctx, args[2], &start) || !ParseInt64OrReply(ctx, args[3], &end)) return;
  protocol::ReplyBuilder& rb = ctx.reply();
  Db::Entry* e = ctx.LookupRead(args[1]);
  if (e == nullptr) return rb.Bulk("");
  if (!IsString(e)) return rb.Error(reply::kWrongType);
  char buf[20];
  std::string_view s = e->val.value.View(buf);
  int64_t len = static_cast<int64_t>(s.size());
  if (start < 0 && end < 0 && start > end) return rb.Bulk("");
  if (start < 0) start += len;  // len >= 0, so neither sum overflows
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return rb.Bulk("");
  rb.Bulk(s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

void CmdSetRange(CmdArgs args, CommandContext& ctx) {
  int64_t offset;
  if (!ParseInt64OrReply(ctx, args[2], &offset)) return;
  if (offset < 0) return ctx.reply().Error("ERR offset is out of range");
  size_t length;
  OpStatus status = OpSetRange(ctx, args[1], static_cast<uint64_t>(offset), args[3], &length);
  if (status != OpStatus::kOk) return ReplyError(ctx, status);
  ctx.reply().Integer(static_cast<int64_t>(length));
}

}  // namespace stockd::server
