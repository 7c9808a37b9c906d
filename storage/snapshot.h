#pragma once
// Snapshots: the whole keyspace at a known LSN, kept in the "snapshot" column family of the WAL's
// RocksDB database, so that recovery loads the newest one and replays only the log after it, and
// the log before it can be trimmed. Spec: docs/wal.md ("Snapshots").
//
// A snapshot is written as one SST file and ingested (IngestExternalFile): it appears in the
// database whole or not at all, so a crash while writing one leaves the previous snapshot in
// place. Its keys are [LSN: 8 bytes big-endian][part: 8 bytes big-endian]: part 0 is the header,
// parts 1..n the chunks of entries, part 2^64-1 the trailer (the header again). Newer snapshots
// sort after older ones, so the newest is found with one seek from the end.
//
// An entry is one key: varint db, varint key length, key bytes, varint expire_at_ms (0: none),
// then the value (storage/value_codec.h). A chunk is whole entries followed by the XXH3-64 of
// them (8 bytes, little-endian), checked on load on top of RocksDB's own block checksums.
#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/db.h"
#include "storage/wal.h"  // kSnapshotColumnFamily

namespace stockd::storage {

// A chunk is closed once it holds this many bytes of entries (one large value makes a larger
// chunk). Bounds the memory one chunk needs on load, and keeps RocksDB values moderate.
inline constexpr size_t kSnapshotChunkBytes = 1 << 20;  // bytes
// The header's format version.
inline constexpr uint8_t kSnapshotFormatVersion = 1;

struct SnapshotInfo {
  uint64_t lsn = 0;        // every record at or below it is in the snapshot, none above
  int64_t created_ms = 0;  // Unix ms when the keyspace was captured
  uint64_t keys = 0;       // entries
  uint64_t chunks = 0;     // parts 1..chunks
  uint64_t bytes = 0;      // entry bytes over all chunks
  uint32_t databases = 0;  // `databases` of the server that wrote it (db indexes are below it)
};

// Serializes entries into chunks. Used while the shards are paused: appends only, no I/O.
class SnapshotBuilder {
 public:
  void Add(int db, std::string_view key, const Slot& slot);
  // Closes the last chunk and hands over every chunk (each ending with its checksum).
  std::vector<std::string> Finish();
  uint64_t keys() const { return keys_; }
  uint64_t bytes() const { return bytes_; }

 private:
  void CloseChunk();
  std::vector<std::string> chunks_;
  std::string current_;
  uint64_t keys_ = 0;
  uint64_t bytes_ = 0;
};

// Writes a snapshot (its chunks, in order, from one or more builders) as an SST file in
// `scratch_dir` and ingests it into `cf`. info.chunks and info.bytes are filled in here. False with
// *error if RocksDB refuses; the database is then unchanged.
bool WriteSnapshot(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& scratch_dir,
                   SnapshotInfo* info, const std::vector<std::vector<std::string>>& chunk_lists,
                   std::string* error);

// Deletes every snapshot with an LSN below `lsn` (their files are dropped at once).
bool DropSnapshotsBefore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t lsn,
                         std::string* error);

// The newest complete snapshot (header and trailer present), or nullopt when there is none.
// False with *error on a read error or a malformed header. `view`: read as of this RocksDB
// snapshot (nullptr: now), so that a reader can go on reading a snapshot a newer one drops.
bool FindNewestSnapshot(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                        std::optional<SnapshotInfo>* out, std::string* error,
                        const rocksdb::Snapshot* view = nullptr);

// Passes each chunk of the snapshot `info` (parts 1..chunks, in order, each with its checksum,
// as WriteSnapshot takes them) to fn, after checking the checksum; false with *error on the
// first missing or damaged chunk, a read error, or when fn returns false. A standby's full sync
// ships these bytes as they are.
bool ReadSnapshotChunks(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const SnapshotInfo& info,
                        const rocksdb::Snapshot* view,
                        const std::function<bool(uint64_t part, std::string_view chunk)>& fn,
                        std::string* error);

// Reads every entry of the snapshot `info` in order and passes it to fn (the key is valid only
// during the call). Checks every chunk's checksum, the chunk and key counts, and each value's
// encoding; false with *error naming the chunk on the first problem (or when fn returns false).
using SnapshotEntryFn = std::function<bool(int db, std::string_view key, Slot slot)>;
bool LoadSnapshot(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const SnapshotInfo& info,
                  const SnapshotEntryFn& fn, std::string* error);

}  // namespace stockd::storage
