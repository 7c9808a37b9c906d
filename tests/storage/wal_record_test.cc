#include "storage/wal_record.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <limits>
#include <string>
#include <vector>

namespace stockd::storage {
namespace {

// Test-side writers, spelled from docs/wal.md rather than shared with the code under test, so a
// change to the encoder that drifts from the spec fails here.
void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
// A whole record around `payload` with a valid checksum: lets a test reach payload checks with
// bytes the encoder would never write.
std::string Frame(uint8_t type, std::string_view payload, uint8_t version = 1,
                  uint16_t reserved = 0) {
  std::string out;
  out.push_back(static_cast<char>(version));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(reserved & 0xff));
  out.push_back(static_cast<char>(reserved >> 8));
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  PutU64(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}
std::string CommandPayload(uint32_t db, int64_t now_ms, const std::vector<std::string>& argv) {
  std::string p;
  PutU32(&p, db);
  PutU64(&p, static_cast<uint64_t>(now_ms));
  PutU32(&p, static_cast<uint32_t>(argv.size()));
  for (const std::string& a : argv) {
    PutU32(&p, static_cast<uint32_t>(a.size()));
    p.append(a);
  }
  return p;
}
// Sets the length field of an already framed record (the checksum is left stale: the length is
// checked before it).
std::string WithLength(std::string record, uint32_t length) {
  std::string field;
  PutU32(&field, length);
  record.replace(4, 4, field);
  return record;
}

std::string MustEncode(int db, int64_t now_ms, std::span<const std::string_view> argv) {
  std::optional<std::string> r = EncodeCommandRecord(db, now_ms, argv);
  EXPECT_TRUE(r.has_value());
  return r.value_or("");
}

DecodeResult DecodeOnly(std::string_view bytes) {
  WalRecord r;
  return Decode(bytes, &r);
}

std::vector<std::string> SmallRecords() {
  const std::string_view argv[] = {"SET", "k", "v"};
  return {MustEncode(0, 1'700'000'000'000, argv),
          EncodeExpireSweepRecord(3, 42, "key", 128).value(), EncodeEpochRecord(7),
          EncodeSnapshotMarkerRecord(99)};
}

TEST(WalRecordTest, GoldenBytesMatchTheSpec) {
  const std::string_view argv[] = {"INCR", "k"};
  std::string expected = Frame(1, CommandPayload(2, 0x0102030405060708, {"INCR", "k"}));
  EXPECT_EQ(MustEncode(2, 0x0102030405060708, argv), expected);
  // Spelled out once by hand: header, db, now_ms, argc, arguments (little-endian throughout).
  const std::string head(
      "\x01\x01\x00\x00\x1d\x00\x00\x00"
      "\x02\x00\x00\x00"
      "\x08\x07\x06\x05\x04\x03\x02\x01"
      "\x02\x00\x00\x00"
      "\x04\x00\x00\x00INCR"
      "\x01\x00\x00\x00k",
      37);
  EXPECT_EQ(expected.substr(0, head.size()), head);
  EXPECT_EQ(expected.size(), head.size() + kWalRecordChecksumBytes);
  EXPECT_EQ(EncodeEpochRecord(5), Frame(3, std::string("\x05\0\0\0\0\0\0\0", 8)));
  EXPECT_EQ(EncodeSnapshotMarkerRecord(5), Frame(4, std::string("\x05\0\0\0\0\0\0\0", 8)));
  EXPECT_EQ(EncodeExpireSweepRecord(1, 9, "key", 64).value(),
            Frame(2, CommandPayload(1, 9, {"key", "64"})));
}

TEST(WalRecordTest, CommandRoundTrip) {
  const std::string binary("a\0b\r\nc\xff", 7);
  const std::string_view argv[] = {"HSET", "", binary, "\r\n", std::string_view("\0", 1)};
  std::string bytes = MustEncode(5, -1, argv);
  WalRecord r;
  ASSERT_EQ(Decode(bytes, &r), DecodeResult::kOk);
  EXPECT_EQ(r.type, WalRecordType::kCommand);
  EXPECT_EQ(r.db, 5u);
  EXPECT_EQ(r.now_ms, -1);
  ASSERT_EQ(r.argv.size(), 5u);
  for (size_t i = 0; i < r.argv.size(); ++i) EXPECT_EQ(r.argv[i], argv[i]) << i;
  // The views point into the decoded bytes: no copies.
  EXPECT_GE(r.argv[2].data(), bytes.data());
  EXPECT_LT(r.argv[2].data(), bytes.data() + bytes.size());
}

TEST(WalRecordTest, ManyArgumentsRoundTrip) {
  std::vector<std::string> owned;
  for (int i = 0; i < 100'000; ++i) owned.push_back(std::to_string(i));
  std::vector<std::string_view> argv = {"SADD", "set"};
  for (const std::string& s : owned) argv.push_back(s);
  std::string bytes = MustEncode(0, 1, argv);
  WalRecord r;
  ASSERT_EQ(Decode(bytes, &r), DecodeResult::kOk);
  ASSERT_EQ(r.argv.size(), argv.size());
  EXPECT_EQ(r.argv.back(), "99999");
  EXPECT_EQ(r.argv[2], "0");
}

TEST(WalRecordTest, OtherTypesRoundTrip) {
  WalRecord r;
  ASSERT_EQ(Decode(EncodeExpireSweepRecord(7, 1'700'000'000'123, std::string_view("k\0", 2),
                                           std::numeric_limits<uint64_t>::max())
                       .value(),
                   &r),
            DecodeResult::kOk);
  EXPECT_EQ(r.type, WalRecordType::kExpireSweep);
  EXPECT_EQ(r.db, 7u);
  EXPECT_EQ(r.now_ms, 1'700'000'000'123);
  ASSERT_EQ(r.argv.size(), 2u);
  EXPECT_EQ(r.argv[0], std::string_view("k\0", 2));
  EXPECT_EQ(r.items_max, std::numeric_limits<uint64_t>::max());

  for (uint64_t v : {uint64_t{0}, uint64_t{1} << 40, std::numeric_limits<uint64_t>::max()}) {
    ASSERT_EQ(Decode(EncodeEpochRecord(v), &r), DecodeResult::kOk);
    EXPECT_EQ(r.type, WalRecordType::kEpoch);
    EXPECT_EQ(r.epoch, v);
    ASSERT_EQ(Decode(EncodeSnapshotMarkerRecord(v), &r), DecodeResult::kOk);
    EXPECT_EQ(r.type, WalRecordType::kSnapshotMarker);
    EXPECT_EQ(r.snapshot_lsn, v);
  }
}

TEST(WalRecordTest, DatabaseIndexAtAndPastItsLimit) {
  const std::string_view argv[] = {"SET", "k", "v"};
  const int db_max = static_cast<int>(kWalDatabasesMax) - 1;
  WalRecord r;
  ASSERT_EQ(Decode(MustEncode(db_max, 0, argv), &r), DecodeResult::kOk);
  EXPECT_EQ(r.db, static_cast<uint32_t>(db_max));
  EXPECT_FALSE(EncodeCommandRecord(db_max + 1, 0, argv).has_value());
  EXPECT_FALSE(EncodeCommandRecord(-1, 0, argv).has_value());
  EXPECT_FALSE(EncodeExpireSweepRecord(db_max + 1, 0, "k", 1).has_value());
  EXPECT_EQ(DecodeOnly(Frame(1, CommandPayload(db_max + 1, 0, {"SET", "k", "v"}))),
            DecodeResult::kBadPayload);
  EXPECT_EQ(DecodeOnly(Frame(1, CommandPayload(UINT32_MAX, 0, {"SET", "k", "v"}))),
            DecodeResult::kBadPayload);
}

TEST(WalRecordTest, ClockAtItsLimits) {
  const std::string_view argv[] = {"PEXPIREAT", "k", "1"};
  WalRecord r;
  for (int64_t now : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    ASSERT_EQ(Decode(MustEncode(0, now, argv), &r), DecodeResult::kOk);
    EXPECT_EQ(r.now_ms, now);
  }
}

TEST(WalRecordTest, LimitsAtTheirEdges) {
  // The limits themselves, without allocating a record of 1 GiB.
  EXPECT_TRUE(CommandRecordWithinLimits(0, kWalRecordArgsMax, kWalRecordPayloadBytesMax));
  EXPECT_FALSE(CommandRecordWithinLimits(0, kWalRecordArgsMax + 1, kWalCommandFixedBytes));
  EXPECT_FALSE(CommandRecordWithinLimits(0, 1, kWalRecordPayloadBytesMax + 1));
  EXPECT_TRUE(CommandRecordWithinLimits(kWalDatabasesMax - 1, 1, kWalCommandFixedBytes));
  EXPECT_FALSE(CommandRecordWithinLimits(kWalDatabasesMax, 1, kWalCommandFixedBytes));
  EXPECT_FALSE(CommandRecordWithinLimits(-1, 1, kWalCommandFixedBytes));
  const std::string_view argv[] = {"SET", "k", "value"};
  EXPECT_EQ(CommandPayloadBytes(argv), kWalCommandFixedBytes + 3 * 4 + 3 + 1 + 5);
}

TEST(WalRecordTest, PayloadLengthFieldAtAndPastItsLimit) {
  const std::string small = EncodeEpochRecord(1);
  // At the limit the length is accepted, and the missing bytes make it a torn record.
  EXPECT_EQ(DecodeOnly(WithLength(small, kWalRecordPayloadBytesMax)), DecodeResult::kTruncated);
  EXPECT_EQ(DecodeOnly(WithLength(small, kWalRecordPayloadBytesMax + 1)), DecodeResult::kBadLength);
  EXPECT_EQ(DecodeOnly(WithLength(small, UINT32_MAX)), DecodeResult::kBadLength);
}

TEST(WalRecordTest, ArgumentCountAtAndPastItsLimit) {
  // A payload claiming kWalRecordArgsMax arguments passes the limit and is refused only because
  // the bytes are not there; one more is refused by the limit itself.
  std::string at_limit = CommandPayload(0, 0, {});
  at_limit.replace(12, 4, std::string("\x00\x00\x00\x10", 4));  // 2^28
  std::string detail;
  WalRecord r;
  EXPECT_EQ(Decode(Frame(1, at_limit), &r, &detail), DecodeResult::kBadPayload);
  EXPECT_NE(detail.find("needs more than"), std::string::npos) << detail;
  std::string past_limit = CommandPayload(0, 0, {});
  past_limit.replace(12, 4, std::string("\x01\x00\x00\x10", 4));  // 2^28 + 1
  EXPECT_EQ(Decode(Frame(1, past_limit), &r, &detail), DecodeResult::kBadPayload);
  EXPECT_NE(detail.find("outside the limits"), std::string::npos) << detail;
  // argv[0] is the command name: a command record has at least one argument.
  EXPECT_FALSE(EncodeCommandRecord(0, 0, {}).has_value());
  EXPECT_EQ(DecodeOnly(Frame(1, CommandPayload(0, 0, {}))), DecodeResult::kBadPayload);
  const std::string_view one[] = {"PING"};
  EXPECT_EQ(DecodeOnly(MustEncode(0, 0, one)), DecodeResult::kOk);
}

TEST(WalRecordTest, EveryBitFlipIsDetected) {
  for (const std::string& good : SmallRecords()) {
    ASSERT_EQ(DecodeOnly(good), DecodeResult::kOk);
    for (size_t i = 0; i < good.size(); ++i) {
      for (int bit = -1; bit < 8; ++bit) {  // -1: the whole byte inverted
        std::string bad = good;
        bad[i] = static_cast<char>(bad[i] ^ (bit < 0 ? 0xff : 1 << bit));
        EXPECT_NE(DecodeOnly(bad), DecodeResult::kOk) << "byte " << i << " bit " << bit;
      }
    }
  }
}

TEST(WalRecordTest, EveryStrictPrefixIsTruncated) {
  for (const std::string& good : SmallRecords()) {
    for (size_t n = 0; n < good.size(); ++n) {
      EXPECT_EQ(DecodeOnly(std::string_view(good).substr(0, n)), DecodeResult::kTruncated)
          << "prefix " << n << " of " << good.size();
    }
  }
}

TEST(WalRecordTest, BadVersion) {
  std::string record = EncodeEpochRecord(1);
  for (uint8_t v : {0, 2, 255}) {
    record[0] = static_cast<char>(v);
    EXPECT_EQ(DecodeOnly(record), DecodeResult::kBadVersion) << int{v};
  }
  // Nonzero reserved bytes under a valid checksum: written by something that is not version 1.
  EXPECT_EQ(DecodeOnly(Frame(3, std::string(8, '\0'), 1, 1)), DecodeResult::kBadVersion);
  EXPECT_EQ(DecodeOnly(Frame(3, std::string(8, '\0'), 1, 0x100)), DecodeResult::kBadVersion);
}

TEST(WalRecordTest, BadType) {
  for (uint8_t type : {0, 5, 255}) {
    EXPECT_EQ(DecodeOnly(Frame(type, std::string(8, '\0'))), DecodeResult::kBadType) << int{type};
  }
}

TEST(WalRecordTest, TrailingGarbageInsideThePayload) {
  EXPECT_EQ(DecodeOnly(Frame(1, CommandPayload(0, 0, {"SET", "k", "v"}) + "x")),
            DecodeResult::kBadPayload);
  EXPECT_EQ(DecodeOnly(Frame(3, std::string(9, '\0'))), DecodeResult::kBadPayload);
  EXPECT_EQ(DecodeOnly(Frame(4, std::string(7, '\0'))), DecodeResult::kBadPayload);
  EXPECT_EQ(DecodeOnly(Frame(1, std::string(kWalCommandFixedBytes - 1, '\0'))),
            DecodeResult::kBadPayload);
}

TEST(WalRecordTest, BytesAfterTheChecksum) {
  EXPECT_EQ(DecodeOnly(EncodeEpochRecord(1) + "x"), DecodeResult::kBadLength);
}

TEST(WalRecordTest, LengthPointingPastTheEnd) {
  // The record's length field says one byte more than is there.
  const std::string record = EncodeEpochRecord(1);
  EXPECT_EQ(DecodeOnly(WithLength(record, kWalU64PayloadBytes + 1)), DecodeResult::kTruncated);
  // An argument length past the payload end, and an argument count past it.
  std::string payload = CommandPayload(0, 0, {"SET", "k", "v"});
  std::string long_arg = payload;
  long_arg[kWalCommandFixedBytes + 4 + 3] = 2;  // "k" claims 2 bytes: what follows is misaligned
  EXPECT_EQ(DecodeOnly(Frame(1, long_arg)), DecodeResult::kBadPayload);
  std::string last_arg = payload;
  last_arg[last_arg.size() - 1 - 4] = 9;  // "v" claims 9 bytes
  EXPECT_EQ(DecodeOnly(Frame(1, last_arg)), DecodeResult::kBadPayload);
  std::string more_args = payload;
  more_args[12] = 4;  // argc 4, three present
  EXPECT_EQ(DecodeOnly(Frame(1, more_args)), DecodeResult::kBadPayload);
}

TEST(WalRecordTest, ExpireSweepShape) {
  EXPECT_EQ(DecodeOnly(Frame(2, CommandPayload(0, 0, {"k"}))), DecodeResult::kBadPayload);
  EXPECT_EQ(DecodeOnly(Frame(2, CommandPayload(0, 0, {"k", "1", "2"}))), DecodeResult::kBadPayload);
  for (const char* bad : {"", "-1", "+1", "1x", "abc", "18446744073709551616"}) {
    EXPECT_EQ(DecodeOnly(Frame(2, CommandPayload(0, 0, {"k", bad}))), DecodeResult::kBadPayload)
        << bad;
  }
  EXPECT_EQ(DecodeOnly(Frame(2, CommandPayload(0, 0, {"k", "18446744073709551615"}))),
            DecodeResult::kOk);
}

TEST(WalRecordTest, DecodeResultNames) {
  EXPECT_EQ(DecodeResultName(DecodeResult::kOk), "ok");
  EXPECT_EQ(DecodeResultName(DecodeResult::kTruncated), "truncated");
  EXPECT_EQ(DecodeResultName(DecodeResult::kBadChecksum), "bad checksum");
  EXPECT_EQ(DecodeResultName(DecodeResult::kBadVersion), "bad version");
  EXPECT_EQ(DecodeResultName(DecodeResult::kBadType), "bad type");
  EXPECT_EQ(DecodeResultName(DecodeResult::kBadLength), "bad length");
  EXPECT_EQ(DecodeResultName(DecodeResult::kBadPayload), "bad payload");
}

TEST(WalRecordTest, LsnKeyIsBigEndianAndSortsInLsnOrder) {
  EXPECT_EQ(EncodeLsnKey(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  const uint64_t lsns[] = {
      0, 1, 255, 256, 65535, 65536, uint64_t{1} << 56, std::numeric_limits<uint64_t>::max()};
  for (size_t i = 0; i < std::size(lsns); ++i) {
    EXPECT_EQ(DecodeLsnKey(EncodeLsnKey(lsns[i])), lsns[i]);
    if (i > 0) {
      EXPECT_LT(EncodeLsnKey(lsns[i - 1]), EncodeLsnKey(lsns[i]));
    }
  }
  EXPECT_FALSE(DecodeLsnKey(std::string(7, '\0')).has_value());
  EXPECT_FALSE(DecodeLsnKey(std::string(9, '\0')).has_value());
}

}  // namespace
}  // namespace stockd::storage
