#include "storage/snapshot.h"

#include <fmt/format.h>
#include <rocksdb/convenience.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>

#include "storage/byte_codec.h"
#include "storage/value_codec.h"
#include "storage/wal_record.h"

namespace stockd::storage {
namespace {

using codec::PutVarint;

constexpr uint64_t kHeaderPart = 0;
constexpr uint64_t kTrailerPart = UINT64_MAX;
constexpr size_t kChecksumBytes = 8;

std::string PartKey(uint64_t lsn, uint64_t part) {
  std::string key = EncodeLsnKey(lsn);
  key += EncodeLsnKey(part);
  return key;
}

bool ParsePartKey(const rocksdb::Slice& key, uint64_t* lsn, uint64_t* part) {
  if (key.size() != 16) return false;
  std::optional<uint64_t> l = DecodeLsnKey(std::string_view(key.data(), 8));
  std::optional<uint64_t> p = DecodeLsnKey(std::string_view(key.data() + 8, 8));
  if (!l || !p) return false;
  *lsn = *l;
  *part = *p;
  return true;
}

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out->append(buf, 8);
}

uint64_t GetFixed64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

std::string EncodeInfo(const SnapshotInfo& info) {
  std::string out;
  out.push_back(static_cast<char>(kSnapshotFormatVersion));
  PutVarint(&out, info.lsn);
  PutVarint(&out, static_cast<uint64_t>(info.created_ms));
  PutVarint(&out, info.keys);
  PutVarint(&out, info.chunks);
  PutVarint(&out, info.bytes);
  PutVarint(&out, info.databases);
  PutFixed64(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}

bool DecodeInfo(std::string_view in, SnapshotInfo* info, std::string* error) {
  if (in.size() < 1 + kChecksumBytes || XXH3_64bits(in.data(), in.size() - kChecksumBytes) !=
                                            GetFixed64(in.substr(in.size() - kChecksumBytes))) {
    *error = "the snapshot header is damaged (checksum mismatch)";
    return false;
  }
  if (static_cast<uint8_t>(in[0]) != kSnapshotFormatVersion) {
    *error = fmt::format("the snapshot has format version {}, this stockd reads {}",
                         static_cast<uint8_t>(in[0]), kSnapshotFormatVersion);
    return false;
  }
  in.remove_prefix(1);
  in.remove_suffix(kChecksumBytes);
  uint64_t created = 0, databases = 0;
  std::string detail;
  codec::Reader r(in, &detail);
  r.Varint("lsn", &info->lsn);
  r.Varint("created", &created);
  r.Varint("keys", &info->keys);
  r.Varint("chunks", &info->chunks);
  r.Varint("bytes", &info->bytes);
  r.Varint("databases", &databases);
  if (!r.ok() || r.remaining() != 0 || databases > UINT32_MAX) {
    *error = "the snapshot header is malformed" + (detail.empty() ? "" : ": " + detail);
    return false;
  }
  info->created_ms = static_cast<int64_t>(created);
  info->databases = static_cast<uint32_t>(databases);
  return true;
}

}  // namespace

void SnapshotBuilder::Add(int db, std::string_view key, const Slot& slot) {
  size_t before = current_.size();
  PutVarint(&current_, static_cast<uint64_t>(db));
  PutVarint(&current_, key.size());
  current_.append(key);
  PutVarint(&current_, static_cast<uint64_t>(slot.expire_at_ms));
  EncodeValue(slot.value, &current_);
  bytes_ += current_.size() - before;
  ++keys_;
  if (current_.size() >= kSnapshotChunkBytes) CloseChunk();
}

void SnapshotBuilder::CloseChunk() {
  if (current_.empty()) return;
  PutFixed64(&current_, XXH3_64bits(current_.data(), current_.size()));
  chunks_.push_back(std::move(current_));
  current_.clear();
}

std::vector<std::string> SnapshotBuilder::Finish() {
  CloseChunk();
  return std::move(chunks_);
}

bool WriteSnapshot(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& scratch_dir,
                   SnapshotInfo* info, const std::vector<std::vector<std::string>>& chunk_lists,
                   std::string* error) {
  info->chunks = 0;
  info->bytes = 0;
  for (const auto& list : chunk_lists) {
    info->chunks += list.size();
    for (const std::string& c : list) info->bytes += c.size() - kChecksumBytes;
  }
  const std::string path =
      fmt::format("{}/snapshot-{:020}-{}.sst.tmp", scratch_dir, info->lsn, getpid());
  rocksdb::Options options;
  // One big file of values that are mostly unique bytes: no compression to spend CPU on, and
  // the block cache is not worth filling with a file read once at startup.
  options.compression = rocksdb::kNoCompression;
  rocksdb::EnvOptions env_options;
  rocksdb::SstFileWriter writer(env_options, options, cf);
  auto fail = [&](std::string_view what, const rocksdb::Status& s) {
    *error = fmt::format("{} {}: {}", what, path, s.ToString());
    ::unlink(path.c_str());
    return false;
  };
  rocksdb::Status s = writer.Open(path);
  if (!s.ok()) return fail("cannot create", s);
  const std::string header = EncodeInfo(*info);
  s = writer.Put(PartKey(info->lsn, kHeaderPart), header);
  uint64_t part = 0;
  for (const auto& list : chunk_lists) {
    for (const std::string& chunk : list) {
      if (s.ok()) s = writer.Put(PartKey(info->lsn, ++part), chunk);
    }
  }
  if (s.ok()) s = writer.Put(PartKey(info->lsn, kTrailerPart), header);
  if (!s.ok()) return fail("cannot write", s);
  s = writer.Finish();  // syncs the file
  if (!s.ok()) return fail("cannot finish", s);
  rocksdb::IngestExternalFileOptions ingest;
  ingest.move_files = true;  // a hard link into the database: no second copy of the bytes
  s = db->IngestExternalFile(cf, {path}, ingest);
  ::unlink(path.c_str());  // moved (linked) on success; a leftover on failure
  if (!s.ok()) {
    *error = fmt::format("cannot ingest the snapshot file: {}", s.ToString());
    return false;
  }
  return true;
}

bool DropSnapshotsBefore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t lsn,
                         std::string* error) {
  const std::string begin = PartKey(0, 0), end = PartKey(lsn, 0);
  rocksdb::Slice b(begin), e(end);
  // Whole files first (each snapshot is one file), then a range tombstone for anything left in
  // files that straddle the boundary.
  rocksdb::Status s = rocksdb::DeleteFilesInRange(db, cf, &b, &e, /*include_end=*/false);
  if (s.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->DeleteRange(wo, cf, b, e);
  }
  if (!s.ok()) {
    *error = fmt::format("cannot drop snapshots below LSN {}: {}", lsn, s.ToString());
    return false;
  }
  return true;
}

bool FindNewestSnapshot(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                        std::optional<SnapshotInfo>* out, std::string* error,
                        const rocksdb::Snapshot* view) {
  out->reset();
  rocksdb::ReadOptions ro;
  ro.snapshot = view;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  // Walk back over snapshots until one has its trailer and header: ingestion is atomic, so in
  // practice the newest one does.
  for (it->SeekToLast(); it->Valid();) {
    uint64_t lsn = 0, part = 0;
    if (!ParsePartKey(it->key(), &lsn, &part)) {
      *error = fmt::format(
          "the snapshot column family holds a key of {} bytes that is not a "
          "snapshot part",
          it->key().size());
      return false;
    }
    if (part == kTrailerPart) {
      std::string header;
      rocksdb::Status s = db->Get(ro, cf, PartKey(lsn, kHeaderPart), &header);
      if (s.ok()) {
        SnapshotInfo info;
        if (!DecodeInfo(header, &info, error)) {
          *error = fmt::format("snapshot at LSN {}: {}", lsn, *error);
          return false;
        }
        if (info.lsn != lsn) {
          *error = fmt::format("snapshot at LSN {} has a header for LSN {}", lsn, info.lsn);
          return false;
        }
        *out = info;
        return true;
      }
      if (!s.IsNotFound()) {
        *error = fmt::format("cannot read the snapshot at LSN {}: {}", lsn, s.ToString());
        return false;
      }
    }
    // Incomplete: skip to the snapshot before it.
    it->SeekForPrev(PartKey(lsn, 0));
    if (it->Valid()) it->Prev();
  }
  if (!it->status().ok()) {
    *error = fmt::format("cannot read snapshots: {}", it->status().ToString());
    return false;
  }
  return true;
}

bool ReadSnapshotChunks(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const SnapshotInfo& info,
                        const rocksdb::Snapshot* view,
                        const std::function<bool(uint64_t part, std::string_view chunk)>& fn,
                        std::string* error) {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // read once
  ro.readahead_size = 4 << 20;
  ro.snapshot = view;
  const std::string upper = PartKey(info.lsn, kTrailerPart);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  uint64_t expected = 1;
  for (it->Seek(PartKey(info.lsn, 1)); it->Valid(); it->Next(), ++expected) {
    uint64_t lsn = 0, part = 0;
    if (!ParsePartKey(it->key(), &lsn, &part) || lsn != info.lsn || part != expected) {
      *error = fmt::format("snapshot at LSN {}: chunk {} is missing", info.lsn, expected);
      return false;
    }
    std::string_view chunk(it->value().data(), it->value().size());
    if (chunk.size() < kChecksumBytes ||
        XXH3_64bits(chunk.data(), chunk.size() - kChecksumBytes) !=
            GetFixed64(chunk.substr(chunk.size() - kChecksumBytes))) {
      *error = fmt::format("snapshot at LSN {}: chunk {} is damaged (checksum mismatch)", info.lsn,
                           part);
      return false;
    }
    if (!fn(part, chunk)) {
      *error = fmt::format("snapshot at LSN {}: reading stopped at chunk {}", info.lsn, part);
      return false;
    }
  }
  if (!it->status().ok()) {
    *error =
        fmt::format("cannot read the snapshot at LSN {}: {}", info.lsn, it->status().ToString());
    return false;
  }
  if (expected - 1 != info.chunks) {
    *error = fmt::format("snapshot at LSN {} is incomplete: {} of {} chunks", info.lsn,
                         expected - 1, info.chunks);
    return false;
  }
  return true;
}

bool LoadSnapshot(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const SnapshotInfo& info,
                  const SnapshotEntryFn& fn, std::string* error) {
  uint64_t keys = 0;
  std::string entry_error;
  auto load_chunk = [&](uint64_t part, std::string_view chunk) {
    chunk.remove_suffix(kChecksumBytes);
    std::string detail;
    codec::Reader r(chunk, &detail);
    while (r.ok() && r.remaining() != 0) {
      uint64_t db_index = 0, expire = 0;
      std::string_view key;
      Slot slot;
      if (r.Varint("db", &db_index) && db_index >= info.databases) {
        r.Fail("db", "is not below the snapshot's databases");
      }
      r.Bytes("key", SIZE_MAX, &key);
      if (r.Varint("expiry", &expire) && expire > static_cast<uint64_t>(INT64_MAX)) {
        r.Fail("expiry", "is out of range");
      }
      if (r.ok()) {
        std::string_view rest = r.rest();
        const size_t before = rest.size();
        if (DecodeValue(&rest, &slot.value, &detail)) {
          r.Skip(before - rest.size());
        } else {
          r.Fail("value", detail.c_str());
        }
      }
      if (!r.ok()) {
        entry_error = fmt::format("snapshot at LSN {}: entry {} in chunk {} is malformed: {}",
                                  info.lsn, keys + 1, part, detail);
        return false;
      }
      slot.expire_at_ms = static_cast<int64_t>(expire);
      ++keys;
      if (!fn(static_cast<int>(db_index), key, std::move(slot))) {
        entry_error =
            fmt::format("snapshot at LSN {}: loading stopped at entry {}", info.lsn, keys);
        return false;
      }
    }
    return true;
  };
  if (!ReadSnapshotChunks(db, cf, info, nullptr, load_chunk, error)) {
    if (!entry_error.empty()) *error = entry_error;
    return false;
  }
  if (keys != info.keys) {
    *error =
        fmt::format("snapshot at LSN {} is incomplete: {} of {} keys", info.lsn, keys, info.keys);
    return false;
  }
  return true;
}

}  // namespace stockd::storage
