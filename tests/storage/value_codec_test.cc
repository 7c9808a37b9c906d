// The snapshot value encoding (storage/value_codec.h, docs/wal.md "Value encoding (snapshots)"):
// every type and encoding round-trips, a decoded SKU behaves exactly as the original under any
// continuation, and corrupt input is refused without crashing.
#include "storage/value_codec.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "storage/hash.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/sku.h"
#include "storage/zset.h"

namespace stockd::storage {
namespace {

std::string Encode(const Value& v) {
  std::string out;
  EncodeValue(v, &out);
  return out;
}

// Decodes `bytes`, which must hold exactly one value.
Value Decode(const std::string& bytes) {
  std::string_view in = bytes;
  Value v;
  std::string error;
  EXPECT_TRUE(DecodeValue(&in, &v, &error)) << error;
  EXPECT_TRUE(in.empty()) << in.size() << " bytes left over";
  return v;
}

Value RoundTrip(const Value& v) { return Decode(Encode(v)); }

std::string Hex(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += fmt::format("{:02x}", c);
  return out;
}

// Everything a client can observe of a non-SKU value, including the encoding's order where
// commands expose it (a listpack's insertion order, a list's order, a zset's rank order).
std::string Describe(const Value& v) {
  std::string d = fmt::format("{} {} ", TypeName(v.type()), v.EncodingName());
  switch (v.type()) {
    case ValueType::kString:
      return d + (v.is_int() ? fmt::format("int {}", v.int_value()) : "raw " + Hex(v.raw()));
    case ValueType::kList:
      for (const std::string& s : v.As<ListValue>().items()) d += Hex(s) + ",";
      return d;
    case ValueType::kSet: {
      std::vector<std::string> members;
      v.As<SetValue>().ForEach([&](std::string_view m) { members.push_back(Hex(m)); });
      if (v.As<SetValue>().encoding() == SetValue::Encoding::kHashtable) {
        std::sort(members.begin(), members.end());
      }
      for (const std::string& m : members) d += m + ",";
      return d;
    }
    case ValueType::kZSet: {
      const ZSetValue& z = v.As<ZSetValue>();
      z.Visit(0, z.size(), false, [&](std::string_view m, double score) {
        d += fmt::format("{}={:016x},", Hex(m), std::bit_cast<uint64_t>(score));
      });
      return d;
    }
    case ValueType::kHash: {
      std::vector<std::string> fields;
      v.As<HashValue>().ForEach([&](std::string_view f, std::string_view val) {
        fields.push_back(Hex(f) + "=" + Hex(val));
      });
      if (!v.As<HashValue>().is_listpack()) std::sort(fields.begin(), fields.end());
      for (const std::string& f : fields) d += f + ",";
      return d;
    }
    case ValueType::kSku:
      return d;
  }
  return d;
}

void ExpectRoundTrip(const Value& v) {
  Value copy = RoundTrip(v);
  EXPECT_EQ(Describe(copy), Describe(v));
}

Value RawString(std::string_view bytes) {
  Value v;
  v.MutableRaw().assign(bytes);
  return v;
}

TEST(ValueCodecTest, StringsKeepTheirBytesOrTheirInteger) {
  std::string binary("\0\x01\xff\x80 \r\n", 7);
  std::string long_bytes(1 << 20, 'x');
  for (size_t i = 0; i < long_bytes.size(); i += 97) long_bytes[i] = static_cast<char>(i);
  for (const std::string& s :
       {std::string(""), std::string("abc"), binary, long_bytes, std::string("-0"),
        std::string("007"), std::string("+1"), std::string(" 1"), std::string("1.5"),
        std::string("99999999999999999999"), std::string("-9223372036854775809")}) {
    Value v = Value::String(s);
    ASSERT_FALSE(v.is_int()) << s;
    Value copy = RoundTrip(v);
    ASSERT_FALSE(copy.is_int());
    EXPECT_EQ(copy.raw(), s);
    EXPECT_STREQ(copy.EncodingName(), v.EncodingName());
  }
  for (int64_t i : {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{1} << 40,
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    Value copy = RoundTrip(Value::Integer(i));
    ASSERT_TRUE(copy.is_int());
    EXPECT_EQ(copy.int_value(), i);
  }
  // Canonical digits kept as bytes (as APPEND leaves them) stay bytes: OBJECT ENCODING says so.
  Value digits = RawString("12");
  Value copy = RoundTrip(digits);
  EXPECT_FALSE(copy.is_int());
  EXPECT_EQ(copy.raw(), "12");
  EXPECT_STREQ(copy.EncodingName(), "embstr");
}

TEST(ValueCodecTest, ListsKeepOrderAndBytes) {
  auto list = [](std::vector<std::string> items) {
    auto l = std::make_unique<ListValue>();
    for (std::string& s : items) l->items().push_back(std::move(s));
    return Value::Of(ValueType::kList, std::move(l));
  };
  ExpectRoundTrip(list({}));
  ExpectRoundTrip(list({""}));
  ExpectRoundTrip(list({"b", "a", "b", std::string("\0\xff", 2), std::string(300, 'k')}));
  std::vector<std::string> many;
  for (int i = 0; i < 10'000; ++i) many.push_back(std::to_string(i * 7919 % 10'007));
  ExpectRoundTrip(list(many));
}

Value SetOf(const std::vector<std::string>& members, size_t size_hint = 0) {
  std::unique_ptr<SetValue> s =
      members.empty() ? std::make_unique<SetValue>()
                      : SetValue::ForMembers(members[0], std::max(size_hint, members.size()));
  for (const std::string& m : members) s->Add(m);
  return Value::Of(ValueType::kSet, std::move(s));
}

TEST(ValueCodecTest, SetsKeepEveryEncoding) {
  ExpectRoundTrip(SetOf({}));
  Value intset = SetOf({"5", "-3", "9223372036854775807", "-9223372036854775808", "0"});
  ASSERT_STREQ(intset.EncodingName(), "intset");
  ExpectRoundTrip(intset);

  // A listpack of integer-looking members (the string that made it a listpack removed): it must
  // not come back as an intset.
  Value listpack = SetOf({"1", "x", "2", "-0", "007"});
  listpack.As<SetValue>().Remove("x");
  ASSERT_STREQ(listpack.EncodingName(), "listpack");
  ExpectRoundTrip(listpack);
  EXPECT_STREQ(RoundTrip(listpack).EncodingName(), "listpack");

  // A hashtable that shrank back to a few members stays a hashtable.
  Value small_table = SetOf({"a", "b", std::string(65, 'l')});
  ASSERT_STREQ(small_table.EncodingName(), "hashtable");
  ExpectRoundTrip(small_table);

  std::vector<std::string> many;
  for (int i = 0; i < 5000; ++i) many.push_back(fmt::format("member:{}", i));
  many.push_back(std::string("\0bin\xfe", 5));
  Value large = SetOf(many);
  ExpectRoundTrip(large);
  Value copy = RoundTrip(large);
  EXPECT_TRUE(copy.As<SetValue>().Contains("member:4999"));
  EXPECT_FALSE(copy.As<SetValue>().Contains("member:5000"));

  std::vector<std::string> ints;
  for (int i = 0; i < 600; ++i) ints.push_back(std::to_string(i * 3 - 900));
  Value int_table = SetOf(ints);
  ASSERT_STREQ(int_table.EncodingName(), "hashtable");
  ExpectRoundTrip(int_table);
}

TEST(ValueCodecTest, SortedSetsKeepScoresExactlyAndTheirEncoding) {
  const double inf = std::numeric_limits<double>::infinity();
  auto zset = [](const std::vector<std::pair<std::string, double>>& entries) {
    auto z = std::make_unique<ZSetValue>();
    for (const auto& [m, s] : entries) z->Insert(m, s);
    return Value::Of(ValueType::kZSet, std::move(z));
  };
  ExpectRoundTrip(zset({}));
  Value small = zset({{"a", 1.5},
                      {"b", -inf},
                      {"c", inf},
                      {"d", -0.0},
                      {"e", 0.1 + 0.2},
                      {"f", 1.5},
                      {"", 1e308},
                      {std::string("\0z", 2), 5e-324}});
  ASSERT_STREQ(small.EncodingName(), "listpack");
  ExpectRoundTrip(small);
  Value copy = RoundTrip(small);
  EXPECT_EQ(std::bit_cast<uint64_t>(*copy.As<ZSetValue>().Score("d")),
            std::bit_cast<uint64_t>(-0.0));
  EXPECT_EQ(*copy.As<ZSetValue>().Score("e"), 0.1 + 0.2);

  std::vector<std::pair<std::string, double>> many;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    many.emplace_back(fmt::format("m{}", i), static_cast<double>(rng() % 100) / 7.0);
  }
  many.emplace_back(std::string(200, 'L'), inf);
  Value large = zset(many);
  ASSERT_STREQ(large.EncodingName(), "skiplist");
  ExpectRoundTrip(large);
  Value large_copy = RoundTrip(large);
  ZSetValue& z = large_copy.As<ZSetValue>();
  for (int i = 0; i < 3000; i += 131) {
    const auto& [m, s] = many[static_cast<size_t>(i)];
    EXPECT_EQ(*z.Score(m), s);
    EXPECT_EQ(z.Rank(m, s), large.As<ZSetValue>().Rank(m, s));
  }
  // The decoded skip list takes changes like any other.
  z.Insert("new", -1);
  EXPECT_EQ(z.Rank("new", -1), 0u);
}

TEST(ValueCodecTest, HashesKeepTheirEncodingAndOrder) {
  auto hash = [](const std::vector<std::pair<std::string, std::string>>& fields) {
    auto h = std::make_unique<HashValue>();
    for (const auto& [f, v] : fields) h->Set(f, v);
    return Value::Of(ValueType::kHash, std::move(h));
  };
  ExpectRoundTrip(hash({}));
  Value small = hash({{"z", "1"}, {"a", ""}, {std::string("\0", 1), std::string("\xff", 1)}});
  ASSERT_STREQ(small.EncodingName(), "listpack");
  ExpectRoundTrip(small);
  Value long_value = hash({{"f", std::string(1000, 'v')}});
  ASSERT_STREQ(long_value.EncodingName(), "hashtable");
  ExpectRoundTrip(long_value);
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 2000; ++i) many.emplace_back(fmt::format("f{}", i), std::to_string(i));
  Value large = hash(many);
  ExpectRoundTrip(large);
  EXPECT_EQ(*RoundTrip(large).As<HashValue>().Find("f1999"), "1999");
}

TEST(ValueCodecTest, ValuesFollowEachOtherInOneBuffer) {
  std::string buf;
  EncodeValue(Value::Integer(42), &buf);
  EncodeValue(Value::String("hello"), &buf);
  EncodeValue(SetOf({"a", "b"}), &buf);
  std::string_view in = buf;
  std::string error;
  std::vector<std::string> got;
  while (!in.empty()) {
    Value v;
    ASSERT_TRUE(DecodeValue(&in, &v, &error)) << error;
    got.push_back(Describe(v));
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], Describe(Value::Integer(42)));
  EXPECT_EQ(got[2], Describe(SetOf({"a", "b"})));
}

// ---------------------------------------------------------------------------------------------
// SKUs.

std::string OrderText(std::string_view id, const Order* o) {
  if (o == nullptr) return fmt::format("{}: none", id);
  return fmt::format(
      "{}: {} {} qty={} user='{}' created={} deadline={} ended={} seq={} reason={} "
      "fifo={}",
      id, OrderStateName(o->state), OrderKindName(o->kind), o->qty, o->user_name(), o->created_ms,
      o->deadline_ms, o->ended_ms, o->seq, SkuErrorCode(o->reason), o->in_fifo);
}

std::string AdmissionText(const Admission* a) {
  if (a == nullptr) return "none";
  return fmt::format("ticket={} admitted={} deadline={} taken={}", a->ticket, a->admitted_ms,
                     a->deadline_ms, a->taken);
}

std::string JournalText(const Sku& sku) {
  std::string out;
  for (const JournalRecord* r : sku.Journal(0, SIZE_MAX)) {
    const SkuCounters& c = r->after;
    out += fmt::format("{} {} {} '{}' '{}' {} [{} {} {} {} {}]\n", r->id, r->time_ms,
                       JournalOpName(r->op), r->order(), r->user(), r->qty, c.on_hand, c.safety,
                       c.reserved, c.sold, c.held);
  }
  return out;
}

// The random operations draw ids from these pools, so every id the SKU knows is observable.
constexpr int kOrderIds = 60;
constexpr int kUsers = 12;
constexpr int kRestockIds = 20;

std::string OrderId(int i) { return fmt::format("order-{}", i); }
std::string UserId(int i) { return fmt::format("user-{}", i); }

// Everything observable about a SKU through its public interface.
std::string Observe(const Sku& sku) {
  const SkuCounters& c = sku.counters();
  const SkuSettings& s = sku.settings();
  std::string out = fmt::format(
      "on_hand={} safety={} reserved={} sold={} held={} limit={} ttl={} queue={} hold={} "
      "tokens={} open={} orders={} admissions={} outstanding_tokens={} last_journal={} "
      "version={} next_deadline={} untaken={} room={} check='{}'\n",
      c.on_hand, c.safety, c.reserved, c.sold, c.held, s.limit, s.ttl_ms, s.queue_capacity,
      s.hold_ms, s.tokens, sku.open_orders(), sku.orders(), sku.admissions(), sku.tokens(),
      sku.last_journal_id(), sku.version(), sku.NextDeadline(), sku.HasUntaken(),
      sku.AdmissionRoom(), sku.CheckInvariants());
  for (int i = 0; i < kOrderIds; ++i) {
    out += OrderText(OrderId(i), sku.FindOrder(OrderId(i))) + "\n";
  }
  for (int i = 0; i < kUsers; ++i) {
    out += fmt::format("{}: units={} admission={}\n", UserId(i), sku.UserUnits(UserId(i)),
                       AdmissionText(sku.FindAdmission(UserId(i))));
  }
  return out + JournalText(sku);
}

// Compares two descriptions line by line and reports the first difference: a SKU's description
// holds its whole journal, too long for gtest's diff of two strings.
void ExpectSameText(const std::string& got, const std::string& want) {
  if (got == want) return;
  size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  size_t line = want.rfind('\n', at == 0 ? 0 : at - 1);
  line = line == std::string::npos ? 0 : line + 1;
  auto line_at = [&](const std::string& s) { return s.substr(line, s.find('\n', line) - line); };
  ADD_FAILURE() << "first difference at byte " << at << "\n  got:  " << line_at(got)
                << "\n  want: " << line_at(want);
}

// The state of a random operation sequence apart from the SKU: copied to run the same
// continuation on an original and its decoded copy.
struct World {
  explicit World(uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
  int64_t now_ms = 1'700'000'000'000;
  int next_token = 0;
  std::vector<std::string> tokens;  // issued, maybe used or expired

  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }
  bool OneIn(int n) { return Uniform(0, n - 1) == 0; }
  std::string AnyUser() { return OneIn(8) ? "" : UserId(static_cast<int>(Uniform(0, kUsers - 1))); }
};

std::string Err(SkuError e) { return e == SkuError::kNone ? "ok" : SkuErrorCode(e); }

// One random operation at a random time; returns everything it answered.
std::string Step(Sku& sku, World& w) {
  // Time mostly creeps (so reservations and admissions overlap), sometimes jumps past every
  // deadline.
  w.now_ms += w.OneIn(40) ? w.Uniform(5'000, 60'000) : w.Uniform(0, 400);
  int64_t now = w.now_ms;
  std::string order = OrderId(static_cast<int>(w.Uniform(0, kOrderIds - 1)));
  int64_t qty = w.Uniform(1, 4);
  switch (w.Uniform(0, 15)) {
    case 0: {
      SkuSetArgs a;
      a.on_hand = w.Uniform(0, 80);
      if (w.OneIn(2)) a.safety = w.Uniform(0, 3);
      if (w.OneIn(3)) a.limit = w.Uniform(0, 6);
      if (w.OneIn(3)) a.ttl_ms = w.OneIn(6) ? 0 : w.Uniform(500, 4000);
      if (w.OneIn(3)) a.queue_capacity = w.OneIn(2) ? kSkuQueueAuto : w.Uniform(0, 8);
      if (w.OneIn(3)) a.hold_ms = w.Uniform(300, 3000);
      if (w.OneIn(4)) a.tokens = w.OneIn(2);
      return "set " + Err(sku.Set(a, now));
    }
    case 1: {
      int64_t after = -1;
      std::string id = fmt::format("restock-{}", w.Uniform(0, kRestockIds - 1));
      SkuError e = sku.Restock(id, w.Uniform(1, 20), now, &after);
      return fmt::format("restock {} {}", Err(e), after);
    }
    case 2:
    case 3:
    case 4: {
      // Default TTL (the FIFO) or a custom one (the ordered index, or the FIFO when later).
      int64_t ttl = w.OneIn(2) ? -1 : (w.OneIn(5) ? 0 : w.Uniform(100, 6000));
      OrderKind kind = w.OneIn(5) ? OrderKind::kDeduct : OrderKind::kReserve;
      const Order* o = nullptr;
      SkuError e = sku.Reserve(order, qty, w.AnyUser(), ttl, kind, now, &o);
      return fmt::format("reserve {} {}", Err(e), OrderText(order, o));
    }
    case 5: {
      bool retry = false;
      std::string user = w.AnyUser();
      SkuError e = sku.CheckReserve(order, qty, user, OrderKind::kMulti, now, &retry);
      std::string out = fmt::format("check-reserve {} {}", Err(e), retry);
      if (e == SkuError::kNone && !retry) {
        const Order* o = nullptr;
        e = sku.Reserve(order, qty, user, -1, OrderKind::kMulti, now, &o);
        out += fmt::format(" multi {} {}", Err(e), OrderText(order, o));
      } else if (e == SkuError::kSoldOut || e == SkuError::kLimit || w.OneIn(3)) {
        sku.RecordFailure(order, qty, user, OrderKind::kMulti,
                          w.OneIn(2) ? SkuError::kSoldOut : SkuError::kLimit, now);
        out += " recorded " + OrderText(order, sku.FindOrder(order));
      }
      return out;
    }
    case 6:
    case 7: {
      const Order* o = nullptr;
      bool commit = w.OneIn(2);
      SkuError check = commit ? sku.CheckCommit(order, now) : sku.CheckCancel(order, now);
      SkuError e = commit ? sku.Commit(order, now, &o) : sku.Cancel(order, now, &o);
      return fmt::format("{} {} {} {}", commit ? "commit" : "cancel", Err(check), Err(e),
                         OrderText(order, o));
    }
    case 8:
      return fmt::format(
          "advance {}",
          sku.Advance(now, w.OneIn(2) ? SIZE_MAX : static_cast<size_t>(w.Uniform(0, 3))));
    case 9:
    case 10: {
      std::string user = UserId(static_cast<int>(w.Uniform(0, kUsers - 1)));
      std::string_view token;
      bool with_token = !w.tokens.empty() && !w.OneIn(4);
      if (with_token) token = w.tokens[static_cast<size_t>(w.Uniform(0, w.tokens.size() - 1))];
      const Admission* a = nullptr;
      SkuError e = sku.Enter(user, with_token ? &token : nullptr, now, &a);
      return fmt::format("enter {} {}", Err(e), AdmissionText(e == SkuError::kNone ? a : nullptr));
    }
    case 11: {
      std::string out = "take";
      for (const auto& [user, a] : sku.Take(static_cast<size_t>(w.Uniform(0, 3)), now)) {
        out += " " + user + " " + AdmissionText(&a);
      }
      return out;
    }
    case 12:
      return fmt::format("leave {}",
                         sku.Leave(UserId(static_cast<int>(w.Uniform(0, kUsers - 1))), now));
    case 13: {
      // Tokens mostly for the user who will use them; sometimes a duplicate value (CONFLICT).
      std::string token = w.OneIn(10) && !w.tokens.empty() ? w.tokens.back()
                                                           : fmt::format("tok-{}", w.next_token++);
      std::string user = UserId(static_cast<int>(w.Uniform(0, kUsers - 1)));
      SkuError e = sku.IssueToken(token, user, w.Uniform(200, 5000), now);
      w.tokens.push_back(token);
      return fmt::format("token {}", Err(e));
    }
    case 14:
      return OrderText(order, sku.FindOrder(order));
    default:
      return fmt::format("next {} untaken {}", sku.NextDeadline(), sku.HasUntaken());
  }
}

std::unique_ptr<Sku> SkuRoundTrip(const Sku& sku) {
  std::string bytes;
  sku.Encode(&bytes);
  std::string_view in = bytes;
  std::string error;
  std::unique_ptr<Sku> copy = Sku::Decode(&in, &error);
  EXPECT_NE(copy, nullptr) << error;
  EXPECT_TRUE(in.empty());
  return copy;
}

// Runs `steps` random operations on the original and each copy from the same world and compares
// every answer, and everything observable at the end.
void ExpectSameContinuation(Sku& original, const std::vector<Sku*>& copies, const World& world,
                            int steps) {
  World w = world;
  std::vector<World> copy_worlds(copies.size(), world);
  for (int i = 0; i < steps; ++i) {
    std::string want = Step(original, w);
    for (size_t k = 0; k < copies.size(); ++k) {
      ASSERT_EQ(Step(*copies[k], copy_worlds[k]), want)
          << "copy " << k << ", step " << i << " of the continuation";
    }
  }
  for (Sku* copy : copies) ExpectSameText(Observe(*copy), Observe(original));
}

TEST(SkuCodecTest, RandomHistoriesRoundTripAndBehaveIdentically) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    World w(seed);
    Sku sku;
    SkuSetArgs init;
    init.on_hand = 40;
    if (seed % 3 == 0) init.ttl_ms = 2000;  // non-default settings on some SKUs
    ASSERT_EQ(sku.Set(init, w.now_ms), SkuError::kNone);
    int steps = static_cast<int>(w.Uniform(0, 400));
    for (int i = 0; i < steps; ++i) Step(sku, w);
    ASSERT_EQ(sku.CheckInvariants(), "");

    std::unique_ptr<Sku> copy = SkuRoundTrip(sku);
    ASSERT_NE(copy, nullptr);
    ExpectSameText(Observe(*copy), Observe(sku));
    EXPECT_EQ(copy->scheduled_deadline_ms, 0);
    // A copy of a copy is a copy too.
    std::unique_ptr<Sku> copy2 = SkuRoundTrip(*copy);
    ASSERT_NE(copy2, nullptr);
    ExpectSameText(Observe(*copy2), Observe(sku));

    ExpectSameContinuation(sku, {copy.get(), copy2.get()}, w, 600);
    if (HasFatalFailure()) return;
  }
}

TEST(SkuCodecTest, ASkuWithoutABookOrSettingsStaysSmall) {
  Sku sku;
  SkuSetArgs a;
  a.on_hand = 10;
  a.limit = 2;
  ASSERT_EQ(sku.Set(a, 1000), SkuError::kNone);
  a.limit = 0;  // back to the defaults: the settings are dropped
  ASSERT_EQ(sku.Set(a, 1001), SkuError::kNone);
  std::unique_ptr<Sku> copy = SkuRoundTrip(sku);
  ASSERT_NE(copy, nullptr);
  ExpectSameText(Observe(*copy), Observe(sku));
  // Neither a Book nor stored settings: the same bytes as the original (HeapBytes counts both).
  EXPECT_EQ(copy->HeapBytes(), sku.HeapBytes());

  Sku empty;
  copy = SkuRoundTrip(empty);
  ASSERT_NE(copy, nullptr);
  ExpectSameText(Observe(*copy), Observe(empty));
  EXPECT_EQ(copy->HeapBytes(), empty.HeapBytes());
}

TEST(SkuCodecTest, AnEndedOrderAtTheBackOfTheDeadlineFifoStillDecidesPlacement) {
  Sku sku;
  SkuSetArgs a;
  a.on_hand = 10;
  a.ttl_ms = 10'000;
  ASSERT_EQ(sku.Set(a, 0), SkuError::kNone);
  const Order* o = nullptr;
  ASSERT_EQ(sku.Reserve("first", 1, "", -1, OrderKind::kReserve, 0, &o), SkuError::kNone);
  ASSERT_EQ(sku.Reserve("second", 1, "", -1, OrderKind::kReserve, 5000, &o), SkuError::kNone);
  ASSERT_EQ(sku.Cancel("second", 5001, &o), SkuError::kNone);  // still at the FIFO's back
  std::unique_ptr<Sku> copy = SkuRoundTrip(sku);
  ASSERT_NE(copy, nullptr);
  // Deadline 12,000: after the open order's (10,000), before the ended back's (15,000), so the
  // original files it in the ordered index. The copy must too.
  for (Sku* s : {&sku, copy.get()}) {
    ASSERT_EQ(s->Reserve("third", 1, "", 10'000, OrderKind::kReserve, 2000, &o), SkuError::kNone);
    EXPECT_FALSE(o->in_fifo);
  }
  ExpectSameText(Observe(*copy), Observe(sku));
  EXPECT_EQ(copy->Advance(20'000), sku.Advance(20'000));
  ExpectSameText(Observe(*copy), Observe(sku));
}

TEST(SkuCodecTest, TheJournalRingWrappedPastItsCapacityRoundTrips) {
  Sku sku;
  SkuSetArgs a;
  a.on_hand = 1;
  ASSERT_EQ(sku.Set(a, 0), SkuError::kNone);
  const size_t records = kSkuJournalRecordsMax + kSkuJournalRecordsMax / 4 + 3;
  int64_t on_hand;
  for (size_t i = 1; i < records; ++i) {
    ASSERT_EQ(sku.Restock(fmt::format("r{}", i), 1, static_cast<int64_t>(i), &on_hand),
              SkuError::kNone);
  }
  ASSERT_EQ(sku.last_journal_id(), records);
  std::unique_ptr<Sku> copy = SkuRoundTrip(sku);
  ASSERT_NE(copy, nullptr);
  auto first = copy->Journal(0, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]->id, records - kSkuJournalRecordsMax + 1);
  ExpectSameText(JournalText(*copy), JournalText(sku));
  World w(99);
  w.now_ms = static_cast<int64_t>(records) + 1;
  ExpectSameContinuation(sku, {copy.get()}, w, 3000);
  ExpectSameText(JournalText(*copy), JournalText(sku));
}

TEST(SkuCodecTest, IdsAtTheirLimitRoundTripAndOneByteMoreIsRefused) {
  // The commands refuse ids over kSkuIdBytesMax; the decoder holds a snapshot to the same limit.
  for (size_t bytes : {kSkuIdBytesMax, kSkuIdBytesMax + 1}) {
    SCOPED_TRACE(bytes);
    std::string order(bytes, 'o'), user(bytes, 'u'), restock(bytes, 'r'), token(bytes, 't');
    user.back() = '\xff';  // any bytes
    Sku sku;
    SkuSetArgs a;
    a.on_hand = 10;
    ASSERT_EQ(sku.Set(a, 0), SkuError::kNone);
    const Order* o;
    int64_t on_hand;
    ASSERT_EQ(sku.Reserve(order, 2, user, -1, OrderKind::kReserve, 1, &o), SkuError::kNone);
    ASSERT_EQ(sku.Restock(restock, 1, 2, &on_hand), SkuError::kNone);
    ASSERT_EQ(sku.IssueToken(token, user, 1000, 3), SkuError::kNone);
    std::string encoded;
    sku.Encode(&encoded);
    std::string_view in = encoded;
    std::string error;
    std::unique_ptr<Sku> copy = Sku::Decode(&in, &error);
    if (bytes == kSkuIdBytesMax) {
      ASSERT_NE(copy, nullptr) << error;
      ExpectSameText(OrderText("o", copy->FindOrder(order)), OrderText("o", sku.FindOrder(order)));
      EXPECT_EQ(copy->UserUnits(user), 2);
      EXPECT_EQ(copy->Restock(restock, 1, 4, &on_hand), SkuError::kNone);  // a retry
      EXPECT_EQ(on_hand, 11);
      EXPECT_EQ(copy->tokens(), 1u);
    } else {
      EXPECT_EQ(copy, nullptr);
      EXPECT_NE(error.find("longer than its limit"), std::string::npos) << error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Corrupt input.

// A SKU with something in every part of its state.
std::unique_ptr<Sku> RichSku() {
  auto sku = std::make_unique<Sku>();
  World w(12345);
  SkuSetArgs a;
  a.on_hand = 60;
  a.limit = 5;
  a.hold_ms = 10'000;
  sku->Set(a, w.now_ms);
  for (int i = 0; i < 300; ++i) Step(*sku, w);
  const Admission* adm;
  int64_t on_hand;
  sku->Restock("late", 5, w.now_ms, &on_hand);
  sku->Enter("user-1", nullptr, w.now_ms, &adm);
  sku->IssueToken("tok-late", "user-2", 60'000, w.now_ms);
  EXPECT_GT(sku->orders(), 0u);
  EXPECT_GT(sku->tokens(), 0u);
  return sku;
}

std::vector<std::string> ValidEncodings() {
  std::vector<std::string> out;
  out.push_back(Encode(Value::Integer(-123456789)));
  out.push_back(Encode(Value::String("bytes\xff")));
  auto list = std::make_unique<ListValue>();
  list->items() = {"a", "bb", ""};
  out.push_back(Encode(Value::Of(ValueType::kList, std::move(list))));
  out.push_back(Encode(SetOf({"1", "2", "3"})));
  out.push_back(Encode(SetOf({"a", "b", "c"})));
  out.push_back(Encode(SetOf({"a", "b", "c"}, 1000)));
  auto z = std::make_unique<ZSetValue>();
  z->Insert("a", 1);
  z->Insert("b", 2);
  out.push_back(Encode(Value::Of(ValueType::kZSet, std::move(z))));
  auto big_z = std::make_unique<ZSetValue>();
  for (int i = 0; i < 130; ++i) big_z->Insert(std::to_string(i), i % 5);
  out.push_back(Encode(Value::Of(ValueType::kZSet, std::move(big_z))));
  auto h = std::make_unique<HashValue>();
  h->Set("f", "v");
  h->Set("g", "w");
  out.push_back(Encode(Value::Of(ValueType::kHash, std::move(h))));
  auto big_h = std::make_unique<HashValue>();
  big_h->Set("f", std::string(100, 'v'));
  big_h->Set("g", "w");
  out.push_back(Encode(Value::Of(ValueType::kHash, std::move(big_h))));
  out.push_back(Encode(Value::Of(ValueType::kSku, RichSku())));
  return out;
}

// What a decoded value must survive: the operations a server could run on it next.
void Exercise(Value& v) {
  if (v.type() != ValueType::kSku) {
    Describe(v);
    return;
  }
  Sku& sku = v.As<Sku>();
  ASSERT_EQ(sku.CheckInvariants(), "");
  World w(5);
  w.now_ms = 1'700'000'000'000;
  for (int i = 0; i < 200; ++i) Step(sku, w);
  sku.Advance(std::numeric_limits<int64_t>::max() / 2);
  sku.Take(SIZE_MAX, std::numeric_limits<int64_t>::max() / 2);
  EXPECT_EQ(sku.CheckInvariants(), "");
  std::string again;
  sku.Encode(&again);
  std::string_view in = again;
  std::string error;
  EXPECT_NE(Sku::Decode(&in, &error), nullptr) << error;
}

TEST(ValueCodecCorruptionTest, EveryTruncationIsRefused) {
  for (const std::string& bytes : ValidEncodings()) {
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::string cut = bytes.substr(0, n);  // its own allocation, so ASan sees any overread
      std::string_view in = cut;
      Value v = Value::String("untouched");
      std::string error;
      ASSERT_FALSE(DecodeValue(&in, &v, &error)) << "prefix of " << n << " of " << bytes.size();
      EXPECT_FALSE(error.empty());
      EXPECT_EQ(in.size(), n);  // not advanced
      EXPECT_EQ(v.raw(), "untouched");
    }
  }
}

TEST(ValueCodecCorruptionTest, RandomByteFlipsNeverCrash) {
  std::mt19937_64 rng(2024);
  size_t refused = 0, accepted = 0;
  for (const std::string& bytes : ValidEncodings()) {
    const int trials = bytes.size() > 2000 ? 10'000 : 2'000;
    for (int t = 0; t < trials; ++t) {
      std::string bad = bytes;
      int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        size_t at = rng() % bad.size();
        bad[at] = static_cast<char>(rng() % 2 ? bad[at] ^ (1 << (rng() % 8)) : rng());
      }
      std::string_view in = bad;
      Value v;
      std::string error;
      if (DecodeValue(&in, &v, &error)) {
        ++accepted;
        Exercise(v);
        if (HasFatalFailure()) return;
      } else {
        ++refused;
        ASSERT_FALSE(error.empty());
      }
    }
  }
  EXPECT_GT(refused, 0u);
  fmt::print("flips: {} refused, {} accepted (and exercised)\n", refused, accepted);
}

TEST(ValueCodecCorruptionTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(77);
  for (int t = 0; t < 50'000; ++t) {
    std::string garbage(rng() % 64, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    // Mostly plausible headers, so the type decoders see the garbage.
    if (garbage.size() >= 2 && t % 4 != 0) {
      garbage[0] = static_cast<char>(kValueCodecVersion);
      garbage[1] = static_cast<char>(1 + rng() % 11);
      if (garbage[1] == 11 && garbage.size() >= 3) garbage[2] = 1;  // the SKU's version
    }
    std::string_view in = garbage;
    Value v;
    std::string error;
    if (DecodeValue(&in, &v, &error)) {
      Exercise(v);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(ValueCodecCorruptionTest, VersionsAndTypesAreChecked) {
  std::string good = Encode(Value::String("x"));
  std::string error;
  Value v;
  std::string bad = good;
  bad[0] = static_cast<char>(kValueCodecVersion + 1);
  std::string_view in = bad;
  EXPECT_FALSE(DecodeValue(&in, &v, &error));
  EXPECT_NE(error.find("version"), std::string::npos) << error;

  bad = good;
  bad[1] = 0;
  in = bad;
  EXPECT_FALSE(DecodeValue(&in, &v, &error));
  EXPECT_NE(error.find("type"), std::string::npos) << error;

  Sku sku;
  std::string sku_bytes;
  sku.Encode(&sku_bytes);
  sku_bytes[0] = 2;  // the SKU layout's own version
  in = sku_bytes;
  EXPECT_EQ(Sku::Decode(&in, &error), nullptr);
  EXPECT_NE(error.find("version"), std::string::npos) << error;
}

TEST(ValueCodecCorruptionTest, ACountLargerThanTheInputIsRefusedBeforeAllocating) {
  // A list claiming 2^62 items in a few bytes: refused by the count check, not by running out
  // of memory reserving for it.
  std::string bad;
  bad.push_back(static_cast<char>(kValueCodecVersion));
  bad.push_back(3);  // list
  for (int i = 0; i < 8; ++i) bad.push_back(static_cast<char>(0xff));
  bad.push_back(0x3f);
  std::string_view in = bad;
  Value v;
  std::string error;
  EXPECT_FALSE(DecodeValue(&in, &v, &error));
  EXPECT_NE(error.find("bytes left"), std::string::npos) << error;
}

TEST(ValueCodecCorruptionTest, AStateThatBreaksAnInvariantIsRefused) {
  // Counters that promise more than on_hand: every field in range, the whole inconsistent.
  Sku sku;
  SkuSetArgs a;
  a.on_hand = 5;
  ASSERT_EQ(sku.Set(a, 0), SkuError::kNone);
  std::string bytes;
  sku.Encode(&bytes);
  ASSERT_EQ(bytes[2], 5);  // on_hand, right after the version and flags bytes
  bytes[4] = 6;            // reserved = 6 with no orders
  std::string_view in = bytes;
  std::string error;
  EXPECT_EQ(Sku::Decode(&in, &error), nullptr);
  EXPECT_NE(error.find("invariant"), std::string::npos) << error;
}

}  // namespace
}  // namespace stockd::storage
