// CL.THROTTLE through the real dispatch path (server/commands/throttle_family.cc). The expected
// replies are redis-cell's for the same inputs. The server's clock cannot be moved from here, so
// every exact value below holds for any delay between two calls shorter than the emission
// interval (redis-cell's rounding up to whole seconds absorbs it), and the time-dependent cases
// use intervals of hundreds of ms with short sleeps.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

using Type = protocol::RespValue::Type;

constexpr const char* kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
constexpr const char* kUsage =
    "Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> "
    "[<quantity>]";
constexpr const char* kZeroRate = "Cell error: Store error: Zero rates are not supported";
constexpr int64_t kNsPerSecond = 1'000'000'000;

class ThrottleFamilyTest : public ServerTest {
 protected:
  // CL.THROTTLE with `args` after the name; the reply must be an array of 5 integers.
  std::vector<int64_t> Throttle(const std::vector<std::string>& args) {
    std::vector<std::string> cmd = {"cl.throttle"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    RespValue v = Run(cmd);
    EXPECT_EQ(v.type, Type::kArray) << v.ToString();
    EXPECT_EQ(v.elements.size(), 5u) << v.ToString();
    for (const RespValue& e : v.elements) EXPECT_EQ(e.type, Type::kInteger) << v.ToString();
    return Ints(v);
  }
  using Reply = std::vector<int64_t>;  // limited, limit, remaining, retry_after, reset_after
};

TEST_F(ThrottleFamilyTest, ReplyShapeAsRedisCellReadme) {
  // redis-cell's README example: 15 burst, 30 per 60 s, quantity 1.
  EXPECT_EQ(Throttle({"user123", "15", "30", "60", "1"}), (Reply{0, 16, 15, -1, 2}));
  // Case-insensitive name, default quantity 1.
  RespValue v = Run({"CL.THROTTLE", "user456", "5", "60", "60"});
  EXPECT_EQ(Ints(v), (Reply{0, 6, 5, -1, 1}));
}

TEST_F(ThrottleFamilyTest, BurstIsAllowedThenLimited) {
  // 2 burst (3 at once), 1 per 60 s.
  EXPECT_EQ(Throttle({"k", "2", "1", "60"}), (Reply{0, 3, 2, -1, 60}));
  EXPECT_EQ(Throttle({"k", "2", "1", "60"}), (Reply{0, 3, 1, -1, 120}));
  EXPECT_EQ(Throttle({"k", "2", "1", "60"}), (Reply{0, 3, 0, -1, 180}));
  // Full: retry when one interval has drained; reset when all three have.
  EXPECT_EQ(Throttle({"k", "2", "1", "60"}), (Reply{1, 3, 0, 60, 180}));
  EXPECT_EQ(Throttle({"k", "2", "1", "60"}), (Reply{1, 3, 0, 60, 180}));
  // Another key has its own bucket.
  EXPECT_EQ(Throttle({"other", "2", "1", "60"}), (Reply{0, 3, 2, -1, 60}));
}

TEST_F(ThrottleFamilyTest, QuantityZeroPeeks) {
  // On a missing key: the full bucket, nothing stored.
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "0"}), (Reply{0, 5, 5, -1, 0}));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
  EXPECT_EQ(Throttle({"k", "4", "1", "1"}), (Reply{0, 5, 4, -1, 1}));
  // Peeking consumes nothing, however often.
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "0"}), (Reply{0, 5, 4, -1, 1}));
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "0"}), (Reply{0, 5, 4, -1, 1}));
  EXPECT_EQ(Throttle({"k", "4", "1", "1"}), (Reply{0, 5, 3, -1, 2}));
}

TEST_F(ThrottleFamilyTest, QuantityAboveOne) {
  // 4 burst (5 at once), 1 per s: 3 units take 3 s of the bucket.
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "3"}), (Reply{0, 5, 2, -1, 3}));
  // 3 more do not fit (2 left); they would after 1 s.
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "3"}), (Reply{1, 5, 2, 1, 3}));
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "2"}), (Reply{0, 5, 0, -1, 5}));
  // A request larger than the whole bucket never fits: no retry time (redis-cell's test case 0).
  EXPECT_EQ(Throttle({"big", "4", "1", "1", "6"}), (Reply{1, 5, 5, -1, 0}));
  EXPECT_TRUE(IsInt(Run({"exists", "big"}), 0));
}

TEST_F(ThrottleFamilyTest, NegativeQuantityGivesBack) {
  // redis-cell accepts a negative quantity: it moves the TAT back (a refund).
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "3"}), (Reply{0, 5, 2, -1, 3}));
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "-2"}), (Reply{0, 5, 4, -1, 1}));
  // Back past now: the bucket is full again, the key carries nothing and is gone.
  EXPECT_EQ(Throttle({"k", "4", "1", "1", "-5"}), (Reply{0, 5, 9, -1, -4}));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
}

TEST_F(ThrottleFamilyTest, WrongArgumentCount) {
  // The table takes any count (a module command's arity); redis-cell answers its usage.
  EXPECT_TRUE(IsError(Run({"cl.throttle"}), kUsage));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k"}), kUsage));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "2"}), kUsage));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "2", "3", "4", "5"}), kUsage));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
}

TEST_F(ThrottleFamilyTest, BadArguments) {
  const std::string prefix = "Cell error: Store error: Couldn't parse as integer: ";
  // Each integer argument in turn, first failure wins.
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "x", "1", "1"}), prefix + "x"));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "y", "1"}), prefix + "y"));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "1", "1.5"}), prefix + "1.5"));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "1", "1", "q"}), prefix + "q"));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "a", "b", "c", "d"}), prefix + "a"));
  // Rust's i64 parse: no empty string, no lone sign, no spaces, in range.
  for (std::string bad :
       {"", "+", "-", " 1", "1 ", "0x10", "9223372036854775808", "-9223372036854775809", "1e3"}) {
    EXPECT_TRUE(IsError(Run({"cl.throttle", "k", bad, "1", "1"}), prefix + bad)) << bad;
  }
  // ...but a leading '+' and leading zeros are fine (Redis's own parser refuses both).
  EXPECT_EQ(Throttle({"k", "+4", "0001", "+01"}), (Reply{0, 5, 4, -1, 1}));
  // The extremes parse; "-0" is quantity 0 (see ArithmeticWrapsAndSaturatesAsRedisCell for the
  // wrapped limit).
  EXPECT_EQ(Throttle({"k2", "9223372036854775807", "1", "1", "-0"}),
            (Reply{0, INT64_MIN, 0, -1, 0}));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k2", "1", "-9223372036854775808", "1"}), kZeroRate));
}

TEST_F(ThrottleFamilyTest, ZeroRatesAreRefused) {
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "0", "60"}), kZeroRate));
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "10", "0"}), kZeroRate));
  // More than one request per ns truncates the interval to 0 too.
  EXPECT_TRUE(IsError(Run({"cl.throttle", "k", "1", "2000000000", "1"}), kZeroRate));
  // The rate is checked before the key is read.
  Run({"lpush", "list", "x"});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "list", "1", "0", "60"}), kZeroRate));
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
}

TEST_F(ThrottleFamilyTest, KeyOfAnotherTypeOrValue) {
  Run({"lpush", "list", "x"});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "list", "1", "1", "1"}), kWrongType));
  // A string that is not a TAT: Rust's parse error, as redis-cell shows it; nothing changes.
  Run({"set", "s", "abc"});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "s", "1", "1", "1"}),
                      "Cell error: invalid digit found in string"));
  Run({"set", "s", ""});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "s", "1", "1", "1"}),
                      "Cell error: cannot parse integer from empty string"));
  Run({"set", "s", "99999999999999999999"});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "s", "1", "1", "1"}),
                      "Cell error: number too large to fit in target type"));
  Run({"set", "s", "-99999999999999999999"});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "s", "1", "1", "1"}),
                      "Cell error: number too small to fit in target type"));
  EXPECT_TRUE(IsBulk(Run({"get", "s"}), "-99999999999999999999"));
  // A TAT in the past (or one written by hand as "+0...") is read like redis-cell reads it.
  Run({"set", "s", "+0001"});
  EXPECT_EQ(Throttle({"s", "1", "1", "60"}), (Reply{0, 2, 1, -1, 60}));
  // -1 is redis-cell's "no key" value: its set-if-missing then fails every retry.
  Run({"set", "m", "-1"});
  EXPECT_TRUE(IsError(Run({"cl.throttle", "m", "1", "1", "60"}),
                      "Cell error: Store error: Failed to update rate limit after 5 attempts"));
  EXPECT_TRUE(IsBulk(Run({"get", "m"}), "-1"));
  int64_t pttl = Run({"pttl", "m"}).integer;
  EXPECT_GT(pttl, 50'000);
  EXPECT_LE(pttl, 60'000);
}

TEST_F(ThrottleFamilyTest, KeyIsAStringTatWithTtl) {
  EXPECT_EQ(Throttle({"k", "2", "1", "60"}), (Reply{0, 3, 2, -1, 60}));
  EXPECT_EQ(Run({"type", "k"}).str, "string");
  EXPECT_TRUE(IsInt(Run({"ttl", "k"}), 60));
  int64_t pttl = Run({"pttl", "k"}).integer;
  EXPECT_GT(pttl, 59'000);
  EXPECT_LE(pttl, 60'000);
  // The value is the TAT in Unix ns: now + one interval.
  RespValue time = Run({"time"});
  int64_t now_s = std::stoll(time.elements[0].str);
  int64_t tat_ns = std::stoll(Run({"get", "k"}).str);
  EXPECT_NEAR(static_cast<double>(tat_ns / kNsPerSecond), static_cast<double>(now_s + 60), 2.0);
  // A second request moves it one interval on and the TTL with it.
  Throttle({"k", "2", "1", "60"});
  EXPECT_GT(Run({"pttl", "k"}).integer, 119'000);
  // A limited request changes nothing.
  Throttle({"k", "2", "1", "60"});
  int64_t tat_before = std::stoll(Run({"get", "k"}).str);
  EXPECT_EQ(Throttle({"k", "2", "1", "60"})[0], 1);
  EXPECT_EQ(std::stoll(Run({"get", "k"}).str), tat_before);
}

TEST_F(ThrottleFamilyTest, AllowedAgainAfterAnInterval) {
  // No burst, 5 per s: one request per 200 ms.
  EXPECT_EQ(Throttle({"k", "0", "5", "1"}), (Reply{0, 1, 0, -1, 1}));
  EXPECT_EQ(Throttle({"k", "0", "5", "1"}), (Reply{1, 1, 0, 1, 1}));
  SleepMs(250);
  EXPECT_EQ(Throttle({"k", "0", "5", "1"}), (Reply{0, 1, 0, -1, 1}));
  // The key expires when the bucket is full again.
  int64_t pttl = Run({"pttl", "k"}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 200);
  SleepMs(250);
  EXPECT_TRUE(IsInt(Run({"exists", "k"}), 0));
  EXPECT_EQ(Throttle({"k", "0", "5", "1"}), (Reply{0, 1, 0, -1, 1}));
}

TEST_F(ThrottleFamilyTest, ArithmeticWrapsAndSaturatesAsRedisCell) {
  // max_burst + 1 wraps to INT64_MIN; the tolerance (1 s * INT64_MIN) wraps to 0: never allowed.
  EXPECT_EQ(Throttle({"a", "9223372036854775807", "1", "1"}), (Reply{1, INT64_MIN, 0, -1, 0}));
  // A negative count makes a negative interval; redis-cell takes it and limits.
  EXPECT_EQ(Throttle({"b", "1", "-1", "1"}), (Reply{1, 2, 0, -1, 0}));
  // An interval under 1 us (100 ns): "remaining" divides by 0 us, which saturates.
  EXPECT_EQ(Throttle({"c", "20", "10000000", "1"}), (Reply{0, 21, INT64_MAX, -1, 0}));
  EXPECT_EQ(Throttle({"d", "5", "10000000", "1"}), (Reply{0, 6, 0, -1, 0}));
}

TEST_F(ThrottleFamilyTest, WriteTouchesWatchedKeyAndRunsInMulti) {
  Throttle({"k", "5", "1", "60"});
  EXPECT_TRUE(IsOk(Run({"watch", "k"})));
  client2().Run({"cl.throttle", "k", "5", "1", "60"});
  EXPECT_TRUE(IsOk(Run({"multi"})));
  Run({"cl.throttle", "k", "5", "1", "60"});
  EXPECT_TRUE(IsNull(Run({"exec"})));
  // Inside MULTI a wrong count is queued and fails at EXEC, as a module command in Redis.
  EXPECT_TRUE(IsOk(Run({"multi"})));
  Run({"cl.throttle", "k"});
  Run({"cl.throttle", "k", "5", "1", "60"});
  RespValue exec = Run({"exec"});
  ASSERT_EQ(exec.elements.size(), 2u);
  EXPECT_TRUE(IsError(exec.elements[0], kUsage));
  EXPECT_EQ(Ints(exec.elements[1]), (Reply{0, 6, 3, -1, 180}));
}

TEST_F(ThrottleFamilyTest, CommandInfo) {
  RespValue v = Run({"command", "info", "cl.throttle"});
  ASSERT_EQ(v.elements.size(), 1u);
  const RespValue& info = v.elements[0];
  EXPECT_TRUE(IsBulk(info.elements[0], "cl.throttle"));
  EXPECT_TRUE(IsInt(info.elements[1], -1));
  EXPECT_EQ(
      Ints(RespValue{Type::kArray, "", 0, {info.elements[3], info.elements[4], info.elements[5]}}),
      (Reply{1, 1, 1}));
}

}  // namespace
}  // namespace stockd::testing
