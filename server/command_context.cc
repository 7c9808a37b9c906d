// CommandContext's out-of-line parts and the argument parsers every command family shares.
#include "server/command_context.h"

#include <fmt/format.h>

#include <cassert>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "storage/value.h"

namespace stockd::server {

storage::Db::Entry* CommandContext::LookupRead(std::string_view key) {
  // A client's read on a standby hides an expired key without deleting it: the primary's
  // records decide when it goes (conn_ is null when the primary's records are applied).
  storage::Db::Entry* e = conn_ != nullptr && engine_.standby() ? DbFor(key).Peek(key, now_ms_)
                                                                : DbFor(key).Find(key, now_ms_);
  // Handlers always run on a shard thread; the check keeps a misuse from crashing on stats.
  if (ShardThread* thread = ShardThread::Current()) {
    ThreadStats& stats = thread->stats();
    (e != nullptr ? stats.keyspace_hits : stats.keyspace_misses).Add();
  }
  return e;
}

bool ParseInt64Arg(std::string_view s, int64_t* out) {
  // Redis's string2ll and stockd's integer encoding accept the same strings: optional '-', no
  // '+', no leading zeros, no "-0", no spaces, at most 20 bytes, in int64 range.
  return storage::ParseCanonicalInt64(s, out);
}

bool ParseInt64OrReply(CommandContext& ctx, std::string_view s, int64_t* out) {
  if (ParseInt64Arg(s, out)) return true;
  ctx.reply().Error(reply::kNotInteger);
  return false;
}

namespace {
// Longest string ParseLongDouble accepts plus one (Redis's MAX_LONG_DOUBLE_CHARS, 5 KB).
constexpr size_t kLongDoubleCharsMax = 5 * 1024;
}  // namespace

bool ParseLongDouble(std::string_view s, long double* out) {
  // As Redis's string2ld: strtold over the whole string; no leading space, no trailing bytes,
  // no overflow to infinity or underflow to zero, and no NaN. "inf" itself is accepted.
  if (s.empty() || s.size() >= kLongDoubleCharsMax) return false;
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  long double value = std::strtold(buf.c_str(), &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0') return false;
  if (errno == ERANGE &&
      (value == HUGE_VALL || value == -HUGE_VALL || std::fpclassify(value) == FP_ZERO)) {
    return false;
  }
  if (errno == EINVAL || std::isnan(value)) return false;
  *out = value;
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::mt19937_64& ThreadRng() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

bool ParseCountOrReply(CommandContext& ctx, std::string_view arg, int64_t* out) {
  if (!ParseInt64OrReply(ctx, arg, out)) return false;
  if (*out == std::numeric_limits<int64_t>::min()) {
    ctx.reply().Error(fmt::format("ERR value is out of range, value must between {} and {}",
                                  -std::numeric_limits<int64_t>::max(),
                                  std::numeric_limits<int64_t>::max()));
    return false;
  }
  return true;
}

std::string FormatLongDouble(long double v) {
  int n = std::snprintf(nullptr, 0, "%.17Lf", v);
  assert(n > 0);
  std::string s(static_cast<size_t>(n), '\0');
  std::snprintf(s.data(), s.size() + 1, "%.17Lf", v);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

bool ParseScanCursor(std::string_view arg, uint64_t* out) {
  std::string s(arg);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (std::isspace(static_cast<unsigned char>(s.c_str()[0])) || *end != '\0' || errno == ERANGE) {
    return false;
  }
  *out = v;
  return true;
}

bool ParseScanCursorOrReply(CommandContext& ctx, std::string_view arg, uint64_t* out) {
  if (ParseScanCursor(arg, out)) return true;
  ctx.reply().Error("ERR invalid cursor");
  return false;
}

bool ParseScanOptionsOrReply(CmdArgs args, size_t first, bool allow_type, CommandContext& ctx,
                             ScanOptions* out) {
  for (size_t i = first; i < args.size(); i += 2) {
    bool has_value = i + 1 < args.size();
    if (EqualsIgnoreCase(args[i], "COUNT") && has_value) {
      if (!ParseInt64OrReply(ctx, args[i + 1], &out->count)) return false;
      if (out->count < 1) {
        ctx.reply().Error(reply::kSyntaxError);
        return false;
      }
    } else if (EqualsIgnoreCase(args[i], "MATCH") && has_value) {
      out->pattern = args[i + 1] == "*" ? std::string_view() : args[i + 1];
    } else if (allow_type && EqualsIgnoreCase(args[i], "TYPE") && has_value) {
      out->has_type = true;
      out->type = args[i + 1];
    } else {
      ctx.reply().Error(reply::kSyntaxError);
      return false;
    }
  }
  return true;
}

}  // namespace stockd::server
