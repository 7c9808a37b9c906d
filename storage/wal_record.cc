#include "storage/wal_record.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cassert>
#include <charconv>

namespace stockd::storage {
namespace {

// Byte order is spelled out with shifts rather than memcpy of host integers, so the format is
// little-endian (LSN keys big-endian) whatever the host is.
void AppendU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
uint64_t LoadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

uint64_t Checksum(std::string_view header_and_payload) {
  return XXH3_64bits(header_and_payload.data(), header_and_payload.size());
}

// Starts a record: the header with its length, room reserved for payload and checksum.
std::string BeginRecord(WalRecordType type, uint64_t payload_bytes) {
  assert(payload_bytes <= kWalRecordPayloadBytesMax);
  std::string out;
  out.reserve(kWalRecordHeaderBytes + payload_bytes + kWalRecordChecksumBytes);
  out.push_back(static_cast<char>(kWalRecordVersion));
  out.push_back(static_cast<char>(type));
  out.push_back('\0');  // reserved
  out.push_back('\0');
  AppendU32(&out, static_cast<uint32_t>(payload_bytes));
  return out;
}

// Appends the checksum. Checks the record the way a reader will (TigerBeetle's paired
// assertions), in debug builds: Encode and Decode must agree on every record Encode writes.
std::string FinishRecord(std::string out) {
  AppendU64(&out, Checksum(out));
#ifndef NDEBUG
  WalRecord check;
  assert(Decode(out, &check) == DecodeResult::kOk);
#endif
  return out;
}

std::optional<std::string> EncodeCommandShaped(WalRecordType type, int db, int64_t now_ms,
                                               std::span<const std::string_view> argv) {
  const uint64_t payload_bytes = CommandPayloadBytes(argv);
  if (argv.empty() || !CommandRecordWithinLimits(db, argv.size(), payload_bytes)) {
    return std::nullopt;
  }
  std::string out = BeginRecord(type, payload_bytes);
  AppendU32(&out, static_cast<uint32_t>(db));
  AppendU64(&out, static_cast<uint64_t>(now_ms));
  AppendU32(&out, static_cast<uint32_t>(argv.size()));
  for (std::string_view a : argv) {
    AppendU32(&out, static_cast<uint32_t>(a.size()));
    out.append(a);
  }
  return FinishRecord(std::move(out));
}

std::string EncodeU64Record(WalRecordType type, uint64_t v) {
  std::string out = BeginRecord(type, kWalU64PayloadBytes);
  AppendU64(&out, v);
  return FinishRecord(std::move(out));
}

DecodeResult Fail(DecodeResult result, std::string* detail, std::string message) {
  if (detail != nullptr) *detail = std::move(message);
  return result;
}

// Parses a kCommand / kExpireSweep payload that starts at byte `base` of the record. Every
// length is checked against the bytes left before it is used, so no input reads out of bounds
// or makes Decode reserve memory the payload does not back.
DecodeResult DecodeCommandPayload(std::string_view payload, size_t base, WalRecord* out,
                                  std::string* detail) {
  if (payload.size() < kWalCommandFixedBytes) {
    return Fail(DecodeResult::kBadPayload, detail,
                fmt::format("payload of {} bytes is shorter than the {} fixed bytes at offset {}",
                            payload.size(), kWalCommandFixedBytes, base));
  }
  const uint32_t db = LoadU32(payload.data());
  const int64_t now_ms = static_cast<int64_t>(LoadU64(payload.data() + 4));
  const uint32_t argc = LoadU32(payload.data() + 12);
  size_t pos = kWalCommandFixedBytes;
  if (argc == 0 || !CommandRecordWithinLimits(db, argc, payload.size())) {
    return Fail(DecodeResult::kBadPayload, detail,
                fmt::format("db {} / argc {} outside the limits (db < {}, 1 <= argc <= {}) at "
                            "offset {}",
                            db, argc, kWalDatabasesMax, kWalRecordArgsMax, base));
  }
  if (argc > (payload.size() - pos) / kWalArgumentLengthBytes) {
    return Fail(DecodeResult::kBadPayload, detail,
                fmt::format("argc {} at offset {} needs more than the {} payload bytes left", argc,
                            base + 12, payload.size() - pos));
  }
  out->db = db;
  out->now_ms = now_ms;
  out->argv.clear();
  out->argv.reserve(argc);
  for (uint32_t i = 0; i < argc; ++i) {
    if (payload.size() - pos < kWalArgumentLengthBytes) {
      return Fail(
          DecodeResult::kBadPayload, detail,
          fmt::format("argument {} length at offset {} runs past the payload end", i, base + pos));
    }
    const uint32_t length = LoadU32(payload.data() + pos);
    pos += kWalArgumentLengthBytes;
    if (length > payload.size() - pos) {
      return Fail(DecodeResult::kBadPayload, detail,
                  fmt::format("argument {} of {} bytes at offset {} runs past the payload end", i,
                              length, base + pos));
    }
    out->argv.push_back(payload.substr(pos, length));
    pos += length;
  }
  if (pos != payload.size()) {
    return Fail(DecodeResult::kBadPayload, detail,
                fmt::format("{} trailing bytes after the last argument at offset {}",
                            payload.size() - pos, base + pos));
  }
  return DecodeResult::kOk;
}

DecodeResult DecodeExpireSweepPayload(std::string_view payload, size_t base, WalRecord* out,
                                      std::string* detail) {
  DecodeResult r = DecodeCommandPayload(payload, base, out, detail);
  if (r != DecodeResult::kOk) return r;
  if (out->argv.size() != 2) {
    return Fail(
        DecodeResult::kBadPayload, detail,
        fmt::format("expire sweep has {} arguments, not 2 (key, items_max)", out->argv.size()));
  }
  std::string_view max = out->argv[1];
  auto [end, ec] = std::from_chars(max.data(), max.data() + max.size(), out->items_max);
  if (max.empty() || ec != std::errc() || end != max.data() + max.size()) {
    return Fail(DecodeResult::kBadPayload, detail,
                "expire sweep items_max is not a decimal unsigned 64-bit integer");
  }
  return DecodeResult::kOk;
}

DecodeResult DecodeU64Payload(std::string_view payload, size_t base, uint64_t* out,
                              std::string* detail) {
  if (payload.size() != kWalU64PayloadBytes) {
    return Fail(DecodeResult::kBadPayload, detail,
                fmt::format("payload of {} bytes at offset {}, expected {}", payload.size(), base,
                            kWalU64PayloadBytes));
  }
  *out = LoadU64(payload.data());
  return DecodeResult::kOk;
}

}  // namespace

std::string_view DecodeResultName(DecodeResult result) {
  switch (result) {
    case DecodeResult::kOk:
      return "ok";
    case DecodeResult::kTruncated:
      return "truncated";
    case DecodeResult::kBadChecksum:
      return "bad checksum";
    case DecodeResult::kBadVersion:
      return "bad version";
    case DecodeResult::kBadType:
      return "bad type";
    case DecodeResult::kBadLength:
      return "bad length";
    case DecodeResult::kBadPayload:
      return "bad payload";
  }
  return "unknown";
}

bool CommandRecordWithinLimits(int64_t db, uint64_t argc, uint64_t payload_bytes) {
  return db >= 0 && static_cast<uint64_t>(db) < kWalDatabasesMax && argc <= kWalRecordArgsMax &&
         payload_bytes <= kWalRecordPayloadBytesMax;
}

uint64_t CommandPayloadBytes(std::span<const std::string_view> argv) {
  // Cannot overflow: every argument is in memory, so the sum of sizes fits size_t, and the
  // per-argument overhead adds at most 4 bytes per string_view (16 bytes each).
  uint64_t bytes = kWalCommandFixedBytes;
  for (std::string_view a : argv) bytes += kWalArgumentLengthBytes + a.size();
  return bytes;
}

std::optional<std::string> EncodeCommandRecord(int db, int64_t now_ms,
                                               std::span<const std::string_view> argv) {
  return EncodeCommandShaped(WalRecordType::kCommand, db, now_ms, argv);
}

std::optional<std::string> EncodeExpireSweepRecord(int db, int64_t now_ms, std::string_view key,
                                                   uint64_t items_max) {
  const std::string max = std::to_string(items_max);
  const std::string_view argv[] = {key, max};
  return EncodeCommandShaped(WalRecordType::kExpireSweep, db, now_ms, argv);
}

std::string EncodeEpochRecord(uint64_t epoch) {
  return EncodeU64Record(WalRecordType::kEpoch, epoch);
}

std::string EncodeSnapshotMarkerRecord(uint64_t snapshot_lsn) {
  return EncodeU64Record(WalRecordType::kSnapshotMarker, snapshot_lsn);
}

DecodeResult Decode(std::string_view bytes, WalRecord* out, std::string* detail) {
  // Framing first (size, version, length), then the checksum, then what it covers (reserved
  // bytes, type, payload): a corrupted type or payload byte reports as a checksum mismatch,
  // while a record from a newer writer reports as kBadVersion before its checksum is trusted.
  if (bytes.size() < kWalRecordHeaderBytes) {
    return Fail(DecodeResult::kTruncated, detail,
                fmt::format("{} bytes, fewer than the {}-byte header", bytes.size(),
                            kWalRecordHeaderBytes));
  }
  const uint8_t version = static_cast<uint8_t>(bytes[0]);
  if (version != kWalRecordVersion) {
    return Fail(
        DecodeResult::kBadVersion, detail,
        fmt::format("version {} at offset 0, this reader knows {}", version, kWalRecordVersion));
  }
  const uint32_t payload_bytes = LoadU32(bytes.data() + 4);
  if (payload_bytes > kWalRecordPayloadBytesMax) {
    return Fail(DecodeResult::kBadLength, detail,
                fmt::format("payload length {} at offset 4 is over the limit {}", payload_bytes,
                            kWalRecordPayloadBytesMax));
  }
  const size_t checksum_at = kWalRecordHeaderBytes + payload_bytes;
  const size_t record_bytes = checksum_at + kWalRecordChecksumBytes;
  if (bytes.size() < record_bytes) {
    return Fail(DecodeResult::kTruncated, detail,
                fmt::format("{} bytes, the header says {}", bytes.size(), record_bytes));
  }
  if (bytes.size() > record_bytes) {
    return Fail(DecodeResult::kBadLength, detail,
                fmt::format("{} bytes after the checksum at offset {}", bytes.size() - record_bytes,
                            record_bytes));
  }
  const uint64_t stored = LoadU64(bytes.data() + checksum_at);
  const uint64_t computed = Checksum(bytes.substr(0, checksum_at));
  if (stored != computed) {
    return Fail(DecodeResult::kBadChecksum, detail,
                fmt::format("checksum at offset {} is {:016x}, the bytes hash to {:016x}",
                            checksum_at, stored, computed));
  }
  if (bytes[2] != '\0' || bytes[3] != '\0') {
    return Fail(DecodeResult::kBadVersion, detail,
                "reserved bytes at offset 2 are not zero: not a version 1 record");
  }
  const std::string_view payload = bytes.substr(kWalRecordHeaderBytes, payload_bytes);
  const uint8_t type = static_cast<uint8_t>(bytes[1]);
  out->type = static_cast<WalRecordType>(type);
  switch (out->type) {
    case WalRecordType::kCommand:
      return DecodeCommandPayload(payload, kWalRecordHeaderBytes, out, detail);
    case WalRecordType::kExpireSweep:
      return DecodeExpireSweepPayload(payload, kWalRecordHeaderBytes, out, detail);
    case WalRecordType::kEpoch:
      return DecodeU64Payload(payload, kWalRecordHeaderBytes, &out->epoch, detail);
    case WalRecordType::kSnapshotMarker:
      return DecodeU64Payload(payload, kWalRecordHeaderBytes, &out->snapshot_lsn, detail);
  }
  return Fail(DecodeResult::kBadType, detail, fmt::format("type {} at offset 1", type));
}

std::string EncodeLsnKey(uint64_t lsn) {
  std::string key(kWalLsnKeyBytes, '\0');
  for (size_t i = 0; i < kWalLsnKeyBytes; ++i) {
    key[i] = static_cast<char>((lsn >> (8 * (kWalLsnKeyBytes - 1 - i))) & 0xff);
  }
  return key;
}

std::optional<uint64_t> DecodeLsnKey(std::string_view key) {
  if (key.size() != kWalLsnKeyBytes) return std::nullopt;
  uint64_t lsn = 0;
  for (char c : key) lsn = (lsn << 8) | static_cast<uint8_t>(c);
  return lsn;
}

}  // namespace stockd::storage
