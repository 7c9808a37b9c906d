#pragma once
// The WAL record format: how one write's effect is framed as bytes in the log. The spec is
// docs/wal.md ("Record format"); this header and that section change together.
//
// A record is a command to replay (Redis's AOF propagation model) plus the absolute clock it ran
// under, so that replay makes the same expiry and deadline decisions. The LSN is not part of the
// record: it is the RocksDB key (EncodeLsnKey), so a record never has to be rewritten to move.
//
// Encode checks every limit before writing anything and returns std::nullopt instead of a record
// that Decode would refuse: an oversized write is an operating error (a client may send one when
// client-query-buffer-limit is raised past 1 GiB), and the caller must refuse it before it
// applies. Decode never trusts the bytes: every length is checked against the limits and against
// the bytes present before anything is allocated. Pure functions, no state: thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stockd::storage {

// The first byte of every record. Any incompatible change to the layout, the checksum or a payload
// takes a new value; a reader refuses a version it does not know (DecodeResult::kBadVersion).
inline constexpr uint8_t kWalRecordVersion = 1;

// Record types. The values are on disk: never renumber, only append.
enum class WalRecordType : uint8_t {
  kCommand = 1,         // db, now_ms, argv: replay argv as a command on db with clock now_ms.
  kExpireSweep = 2,     // db, now_ms, {key, items_max}: a shard's timer expired what was due.
  kEpoch = 3,           // the replication epoch (uint64).
  kSnapshotMarker = 4,  // reserved: the LSN of a complete snapshot (uint64).
};

// Framing: [version u8][type u8][reserved u16 = 0][payload length u32 LE] payload [XXH3-64 u64 LE]
// where the checksum covers the header and the payload.
inline constexpr size_t kWalRecordHeaderBytes = 8;
inline constexpr size_t kWalRecordChecksumBytes = 8;
// kCommand / kExpireSweep payload: [db u32][now_ms i64][argc u32] then argc x ([length u32] bytes).
inline constexpr size_t kWalCommandFixedBytes = 4 + 8 + 4;
inline constexpr size_t kWalArgumentLengthBytes = 4;
// kEpoch / kSnapshotMarker payload: one u64.
inline constexpr size_t kWalU64PayloadBytes = 8;
// The LSN key: 8 bytes, big-endian, so RocksDB's bytewise order is LSN order.
inline constexpr size_t kWalLsnKeyBytes = 8;

// Largest payload. A kCommand record carries a whole client request, and a request is bounded by
// the query buffer (client-query-buffer-limit, default 1 GiB), not by proto-max-bulk-len (512 MB
// per argument: MSET k1 <500MB> k2 <500MB> is one legal request). The payload of a request is at
// most its RESP size + 12 bytes (4 bytes per argument against RESP's 6 or more, plus the 16 fixed
// bytes against "*<argc>\r\n"), so 1 GiB + 1 MiB of slack holds every request the default
// configuration accepts. A larger one (only after raising client-query-buffer-limit) is refused
// by Encode. Fits the u32 length field with room, and RocksDB values up to 4 GiB.
inline constexpr uint64_t kWalRecordPayloadBytesMax = (1ULL << 30) + (1ULL << 20);
// Most arguments in one kCommand record: 2^28. A request within the default 1 GiB query buffer has
// at most ~179M arguments (each is at least 6 RESP bytes: "$0\r\n\r\n"), so this refuses nothing
// that the byte limit admits in practice; Redis's own cap (INT_MAX, protocol::kMultibulkLengthMax)
// could not be reached within the byte limit anyway (4 bytes per argument). It bounds the argv
// vector Decode reserves; Decode also checks argc against the payload bytes actually present.
inline constexpr uint64_t kWalRecordArgsMax = 1ULL << 28;
// Database indexes are < this. Far above the server's `databases` bound (1024) so the format
// never constrains the configuration; stored as u32.
inline constexpr uint64_t kWalDatabasesMax = 1ULL << 16;

static_assert(kWalRecordHeaderBytes == 1 + 1 + 2 + 4, "header: version, type, reserved, length");
static_assert(kWalRecordPayloadBytesMax <=
                  UINT32_MAX - kWalRecordHeaderBytes - kWalRecordChecksumBytes,
              "a whole record must stay addressable with the u32 length field");
static_assert(kWalRecordArgsMax * kWalArgumentLengthBytes + kWalCommandFixedBytes <=
                  kWalRecordPayloadBytesMax,
              "a record at the argument limit (all arguments empty) must fit the byte limit");
static_assert(static_cast<uint8_t>(WalRecordType::kCommand) == 1 &&
                  static_cast<uint8_t>(WalRecordType::kExpireSweep) == 2 &&
                  static_cast<uint8_t>(WalRecordType::kEpoch) == 3 &&
                  static_cast<uint8_t>(WalRecordType::kSnapshotMarker) == 4,
              "record type values are on disk");

enum class DecodeResult {
  kOk,
  kTruncated,  // fewer bytes than the header or than the header says: a torn write if at the tail.
  kBadChecksum,  // the XXH3-64 of header + payload does not match the stored one.
  kBadVersion,   // unknown version byte, or nonzero reserved bytes under a valid checksum.
  kBadType,      // unknown type byte under a valid checksum.
  kBadLength,    // payload length over kWalRecordPayloadBytesMax, or bytes after the checksum.
  kBadPayload,   // the payload does not parse for its type or breaks a limit.
};

// "ok", "truncated", "bad checksum", ... for log and error messages.
std::string_view DecodeResultName(DecodeResult result);

// A decoded record. Which fields are meaningful depends on type:
//   kCommand:        db, now_ms, argv (argv.size() >= 1, argv[0] is the command name).
//   kExpireSweep:    db, now_ms, argv = {key, items_max in decimal}, and items_max parsed.
//   kEpoch:          epoch.
//   kSnapshotMarker: snapshot_lsn.
// argv holds views into the bytes passed to Decode (replay passes them on as CmdArgs without a
// copy): they are valid only as long as those bytes are, e.g. until a RocksDB iterator moves.
struct WalRecord {
  WalRecordType type = WalRecordType::kCommand;
  uint32_t db = 0;
  int64_t now_ms = 0;
  std::vector<std::string_view> argv;
  uint64_t items_max = 0;
  uint64_t epoch = 0;
  uint64_t snapshot_lsn = 0;
};

// True when a command-shaped record (kCommand or kExpireSweep) with this database index, this
// many arguments and this many payload bytes is within every limit. The one place the limits are
// applied: Encode and Decode both call it, and the write path may call it before applying a write.
bool CommandRecordWithinLimits(int64_t db, uint64_t argc, uint64_t payload_bytes);

// Bytes of the payload of a command-shaped record with these arguments.
uint64_t CommandPayloadBytes(std::span<const std::string_view> argv);

// std::nullopt when db is outside [0, kWalDatabasesMax), argv is empty, or a limit is exceeded.
std::optional<std::string> EncodeCommandRecord(int db, int64_t now_ms,
                                               std::span<const std::string_view> argv);
// std::nullopt under the same conditions as EncodeCommandRecord.
std::optional<std::string> EncodeExpireSweepRecord(int db, int64_t now_ms, std::string_view key,
                                                   uint64_t items_max);
std::string EncodeEpochRecord(uint64_t epoch);
std::string EncodeSnapshotMarkerRecord(uint64_t snapshot_lsn);

// Decodes exactly one record: bytes must be the whole record and nothing else (one RocksDB
// value). On kOk *out is filled; otherwise *out is unspecified and, if detail is not null, *detail
// says what is wrong and at which byte offset, for the recovery message.
DecodeResult Decode(std::string_view bytes, WalRecord* out, std::string* detail = nullptr);

// The RocksDB key of a record: the LSN as 8 big-endian bytes.
std::string EncodeLsnKey(uint64_t lsn);
// std::nullopt unless key is exactly kWalLsnKeyBytes long.
std::optional<uint64_t> DecodeLsnKey(std::string_view key);

}  // namespace stockd::storage
