#include "storage/db.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace stockd::storage {
namespace {

struct Recorder : ExpiryListener {
  std::vector<std::string> expired;
  void OnKeyExpired(int, std::string_view key) override { expired.emplace_back(key); }
};

TEST(DbTest, LazyExpiryRemovesOnAccess) {
  Recorder r;
  Db db(0, &r);
  auto [e, created] = db.FindOrInsert("k", 1000);
  ASSERT_TRUE(created);
  db.SetExpire(e, 2000);
  EXPECT_NE(db.Find("k", 1999), nullptr);
  EXPECT_EQ(db.Find("k", 2000), nullptr);
  EXPECT_EQ(db.size(), 0u);
  EXPECT_EQ(db.expires_count(), 0u);
  EXPECT_EQ(r.expired, std::vector<std::string>{"k"});
}

TEST(DbTest, ActiveExpiryIsExactAndBounded) {
  Recorder r;
  Db db(0, &r);
  for (int i = 0; i < 100; ++i) {
    auto [e, _] = db.FindOrInsert("k" + std::to_string(i), 0);
    db.SetExpire(e, 1000 + i);
  }
  db.FindOrInsert("forever", 0);
  EXPECT_EQ(db.ExpireDue(1049, 1000), 50u);  // exactly the keys due at 1000..1049
  EXPECT_EQ(db.ExpireDue(5000, 10), 10u);    // bounded by keys_max
  EXPECT_EQ(db.size(), 41u);
  EXPECT_EQ(db.expires_count(), 40u);
}

TEST(DbTest, AverageTtlIsExact) {
  Db db(0, nullptr);
  auto [a, _a] = db.FindOrInsert("a", 0);
  auto [b, _b] = db.FindOrInsert("b", 0);
  db.SetExpire(a, 10000);
  db.SetExpire(b, 20000);
  EXPECT_EQ(db.AverageTtlMs(5000), 10000);
  db.SetExpire(a, 0);
  EXPECT_EQ(db.AverageTtlMs(5000), 15000);
}

TEST(DbTest, ClearEmptiesEverything) {
  Db db(0, nullptr);
  for (int i = 0; i < 10; ++i) db.SetExpire(db.FindOrInsert(std::to_string(i), 0).first, 99);
  EXPECT_EQ(db.Clear(), 10u);
  EXPECT_EQ(db.size(), 0u);
  EXPECT_EQ(db.expires_count(), 0u);
  EXPECT_EQ(db.ExpireDue(100, 100), 0u);
}

TEST(ValueTest, IntegerEncodingOnlyForCanonicalIntegers) {
  EXPECT_TRUE(Value::String("123").is_int());
  EXPECT_TRUE(Value::String("-9223372036854775808").is_int());
  EXPECT_FALSE(Value::String("9223372036854775808").is_int());
  EXPECT_FALSE(Value::String("0123").is_int());
  EXPECT_FALSE(Value::String("+1").is_int());
  EXPECT_FALSE(Value::String(" 1").is_int());
  EXPECT_FALSE(Value::String("-0").is_int());
  EXPECT_TRUE(Value::String("0").is_int());
  EXPECT_EQ(Value::String("-42").ToString(), "-42");
  EXPECT_STREQ(Value::String("hello").EncodingName(), "embstr");
  EXPECT_STREQ(Value::String(std::string(100, 'x')).EncodingName(), "raw");
}

}  // namespace
}  // namespace stockd::storage
