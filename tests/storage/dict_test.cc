#include "storage/dict.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

namespace stockd::storage {
namespace {

TEST(DictTest, InsertFindErase) {
  Dict<int> d;
  EXPECT_EQ(d.Find("a"), nullptr);
  auto [n, inserted] = d.FindOrInsert("a");
  EXPECT_TRUE(inserted);
  n->val = 7;
  EXPECT_EQ(d.Find("a")->val, 7);
  EXPECT_FALSE(d.FindOrInsert("a").second);
  EXPECT_TRUE(d.Erase("a"));
  EXPECT_FALSE(d.Erase("a"));
  EXPECT_EQ(d.size(), 0u);
}

TEST(DictTest, GrowsAndShrinksKeepingEveryElement) {
  Dict<int> d;
  constexpr int kCount = 100000;
  for (int i = 0; i < kCount; ++i) d.FindOrInsert("k" + std::to_string(i)).first->val = i;
  EXPECT_EQ(d.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    auto* n = d.Find("k" + std::to_string(i));
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->val, i);
  }
  for (int i = 0; i < kCount - 10; ++i) ASSERT_TRUE(d.Erase("k" + std::to_string(i)));
  d.ShrinkIfNeeded();
  while (d.Rehash(100)) {
  }
  EXPECT_LT(d.buckets(), 64u);
  for (int i = kCount - 10; i < kCount; ++i) EXPECT_NE(d.Find("k" + std::to_string(i)), nullptr);
}

TEST(DictTest, EraseNodeUnlinksThatNode) {
  Dict<int> d;
  for (int i = 0; i < 100; ++i) d.FindOrInsert(std::to_string(i));
  auto* n = d.Find("42");
  d.EraseNode(n);
  EXPECT_EQ(d.Find("42"), nullptr);
  EXPECT_EQ(d.size(), 99u);
}

// The SCAN guarantee: every element present for the whole scan is returned, even when the table
// grows or shrinks between calls.
TEST(DictTest, ScanReturnsEveryElementWhileResizing) {
  for (int mode = 0; mode < 2; ++mode) {
    Dict<int> d;
    for (int i = 0; i < 1000; ++i) d.FindOrInsert("stable" + std::to_string(i));
    if (mode == 1) {
      for (int i = 0; i < 20000; ++i) d.FindOrInsert("temp" + std::to_string(i));
    }
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int step = 0;
    do {
      cursor = d.Scan(cursor, [&](auto* n) { seen.insert(n->key); });
      ++step;
      if (mode == 0 && step % 3 == 0 && step < 300) {
        for (int i = 0; i < 200; ++i) d.FindOrInsert("grow" + std::to_string(step * 1000 + i));
      }
      if (mode == 1 && step % 3 == 0 && step < 300) {
        for (int i = 0; i < 2000; ++i) d.Erase("temp" + std::to_string(step * 100 + i));
        d.ShrinkIfNeeded();
      }
    } while (cursor != 0 && step < 1000000);
    for (int i = 0; i < 1000; ++i) {
      EXPECT_TRUE(seen.count("stable" + std::to_string(i))) << "mode " << mode << " missed " << i;
    }
  }
}

TEST(DictTest, RandomReturnsMembers) {
  Dict<int> d;
  std::mt19937_64 rng(1);
  EXPECT_EQ(d.Random(rng), nullptr);
  for (int i = 0; i < 50; ++i) d.FindOrInsert(std::to_string(i));
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(d.Random(rng)->key);
  EXPECT_GT(seen.size(), 40u);
}

}  // namespace
}  // namespace stockd::storage
