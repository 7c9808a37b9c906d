#pragma once
// stockd's RocksDB database (the log and the snapshots, storage/wal.h) opened directly, with every
// column family stockd makes, while no Wal has it open: to inspect or damage it behind stockd's
// back, as a disk or a bug would. Used by the WAL's tests and the server's durability tests.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <string>
#include <string_view>
#include <vector>

#include "storage/wal.h"
#include "storage/wal_record.h"

namespace stockd::testing {

class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {std::string(storage::kWalColumnFamily), {}},
        {std::string(storage::kSnapshotColumnFamily), {}}};
    rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles_, &db_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool ok() const { return db_ != nullptr; }
  rocksdb::DB* db() { return db_; }
  rocksdb::ColumnFamilyHandle* wal() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* snapshot() { return handles_[2]; }

  // The log's record at `lsn`.
  void Put(uint64_t lsn, std::string_view value) {
    ASSERT_TRUE(db_->Put({}, wal(), storage::EncodeLsnKey(lsn), value).ok());
  }
  void Delete(uint64_t lsn) {
    ASSERT_TRUE(db_->Delete({}, wal(), storage::EncodeLsnKey(lsn)).ok());
  }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace stockd::testing
