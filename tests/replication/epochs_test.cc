// Epoch histories and the fork LSN (replication/epochs.h, docs/replication.md "Epochs").
#include "replication/epochs.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/wal.h"

namespace stockd::replication {
namespace {

EpochHistory Of(std::vector<EpochTerm> terms) {
  EpochHistory h;
  for (const EpochTerm& t : terms) EXPECT_TRUE(h.Begin(t.epoch, t.first_lsn));
  return h;
}

TEST(EpochsTest, BeginOnlyMovesForward) {
  EpochHistory h;
  EXPECT_EQ(h.current(), 0u);
  EXPECT_TRUE(h.Begin(1, 10));
  EXPECT_FALSE(h.Begin(1, 20));  // not newer
  EXPECT_FALSE(h.Begin(2, 10));  // not after the last term's start
  EXPECT_TRUE(h.Begin(3, 11));
  EXPECT_EQ(h.current(), 3u);
  EXPECT_EQ(h.CutAfter(10), 1u);
  EXPECT_EQ(h.current(), 1u);
}

TEST(EpochsTest, SameTermsForkAtTheShorterLog) {
  EpochHistory p = Of({{1, 5}});
  EXPECT_EQ(p.ForkLsn(Of({{1, 5}}), 8, 20), 8u);    // a standby behind: continue after 8
  EXPECT_EQ(p.ForkLsn(Of({{1, 5}}), 25, 20), 20u);  // the primary lost records: cut to 20
  EXPECT_EQ(EpochHistory().ForkLsn(EpochHistory(), 0, 7), 0u);  // a fresh standby
}

TEST(EpochsTest, AFormerPrimaryCutsWhatItWroteAfterThePromotion) {
  // The standby was promoted to epoch 2 at LSN 101 (it had 1..100); the old primary had gone on
  // to LSN 107 in epoch 1, never acknowledged in sync mode.
  EpochHistory new_primary = Of({{1, 1}, {2, 101}});
  EXPECT_EQ(new_primary.ForkLsn(Of({{1, 1}}), 107, 150), 100u);
  EXPECT_EQ(new_primary.ForkLsn(Of({{1, 1}}), 90, 150), 90u);  // it was behind: nothing to cut
}

TEST(EpochsTest, TermsOneSideNeverSawEndTheSharedPrefix) {
  // Two nodes each promoted to epoch 2 without seeing each other (at LSNs 50 and 60): they share
  // epoch 1 up to LSN 49 only.
  EpochHistory a = Of({{1, 1}, {2, 50}, {3, 70}});
  EXPECT_EQ(a.ForkLsn(Of({{1, 1}, {2, 60}}), 65, 80), 49u);
}

TEST(EpochsTest, ANewerStandbyMakesThePrimaryStale) {
  EXPECT_FALSE(Of({{1, 1}}).ForkLsn(Of({{1, 1}, {2, 9}}), 9, 12).has_value());
}

TEST(EpochsTest, EncodeDecodeRoundTripsAndRefusesGarbage) {
  EpochHistory h = Of({{1, 1}, {4, 77}});
  EXPECT_EQ(h.Encode(), "1:1,4:77");
  EXPECT_EQ(EpochHistory::Decode(h.Encode()), h);
  EXPECT_EQ(EpochHistory::Decode(""), EpochHistory());
  for (std::string_view bad : {"1", "1:", ":1", "1:1,", "2:5,1:9", "1:5,2:5", "x:1", "1:1 "}) {
    EXPECT_FALSE(EpochHistory::Decode(bad).has_value()) << bad;
  }
}

TEST(EpochsTest, SavedHistorySurvivesReopen) {
  std::string dir = ::testing::TempDir() + "/epochs_test";
  std::filesystem::remove_all(dir);
  std::string error;
  {
    auto wal = storage::Wal::Open({.dir = dir}, &error);
    ASSERT_TRUE(wal) << error;
    EpochHistory h;
    ASSERT_TRUE(EpochHistory::Load(wal->db(), &h, &error)) << error;
    EXPECT_EQ(h, EpochHistory());
    ASSERT_TRUE(Of({{1, 3}}).Save(wal->db(), &error)) << error;
  }
  auto wal = storage::Wal::Open({.dir = dir}, &error);
  ASSERT_TRUE(wal) << error;
  EpochHistory h;
  ASSERT_TRUE(EpochHistory::Load(wal->db(), &h, &error)) << error;
  EXPECT_EQ(h, Of({{1, 3}}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stockd::replication
