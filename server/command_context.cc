// CommandContext's out-of-line parts and the argument parsers every command family shares.
#include "server/command_context.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "storage/value.h"

namespace stockd::server {

storage::Db::Entry* CommandContext::LookupRead(std::string_view key) {
  storage::Db::Entry* e = DbFor(key).Find(key, now_ms_);
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

}  // namespace stockd::server
