#pragma once
// A fault-injecting RocksDB file system for tests: the real file system, with faults on the
// RocksDB log files (*.log) only. Used by the WAL's own tests (tests/storage/wal_test.cc) and by
// the server's WAL wiring tests (tests/server/wal_wiring_test.cc). No mock: every byte still
// reaches the disk.
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace stockd::testing {

// A real file system with faults on the RocksDB log files (*.log) only: syncs can be slowed (to
// make group commit observable) and made to fail after a number of successes (fail-stop), and
// appends slowed (to hold a record inside the process, between Append and RocksDB's write).
class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  FaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultFs"; }

  // After n more successful syncs of a log file, every later one fails.
  void FailSyncsAfter(int64_t n) { syncs_left_ = n; }
  void FailSyncs() { FailSyncsAfter(0); }
  void SetSyncDelay(std::chrono::microseconds delay) { sync_delay_ = delay; }
  void SetAppendDelay(std::chrono::microseconds delay) { append_delay_ = delay; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, file, dbg);
    if (s.ok() && name.ends_with(".log")) *file = std::make_unique<LogFile>(std::move(*file), this);
    return s;
  }

 private:
  class LogFile : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    LogFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFs* fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      std::this_thread::sleep_for(fs_->append_delay_.load());
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      std::this_thread::sleep_for(fs_->append_delay_.load());
      return target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (!fs_->BeforeSync()) return rocksdb::IOStatus::IOError("injected sync failure");
      return target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (!fs_->BeforeSync()) return rocksdb::IOStatus::IOError("injected fsync failure");
      return target()->Fsync(options, dbg);
    }

   private:
    FaultFs* fs_;
  };

  // False when this sync must fail.
  bool BeforeSync() {
    std::this_thread::sleep_for(sync_delay_.load());
    int64_t left = syncs_left_.load();
    while (left > 0 && !syncs_left_.compare_exchange_weak(left, left - 1)) {
    }
    return left != 0;  // negative: never fail.
  }

  std::atomic<int64_t> syncs_left_{-1};
  std::atomic<std::chrono::microseconds> sync_delay_{std::chrono::microseconds(0)};
  std::atomic<std::chrono::microseconds> append_delay_{std::chrono::microseconds(0)};
};

}  // namespace stockd::testing
