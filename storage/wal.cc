#include "storage/wal.h"

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <utility>

namespace stockd::storage {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t Micros(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

}  // namespace

uint64_t WalStats::SyncUsQuantile(double q) const {
  if (syncs == 0) return 0;
  // The rank of the q-quantile sample, 1-based, at least 1.
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(q * static_cast<double>(syncs)));
  uint64_t seen = 0;
  for (size_t i = 0; i < sync_us_histogram.size(); ++i) {
    seen += sync_us_histogram[i];
    if (seen >= rank) return std::min(uint64_t{1} << (i + 1), sync_us_max);
  }
  return sync_us_max;
}

std::string_view WalReadProblemName(WalReadProblem problem) {
  switch (problem) {
    case WalReadProblem::kNone:
      return "none";
    case WalReadProblem::kGap:
      return "gap";
    case WalReadProblem::kBadKey:
      return "bad key";
    case WalReadProblem::kTornTail:
      return "torn tail";
    case WalReadProblem::kCorrupt:
      return "corrupt record";
    case WalReadProblem::kIo:
      return "io error";
    case WalReadProblem::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::unique_ptr<Wal> Wal::Open(const WalOptions& o, std::string* error) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  if (o.env != nullptr) options.env = o.env;
  // How RocksDB replays its own log file at Open. Under always every acknowledged batch was synced,
  // so the only damage a crash can leave is an incomplete last record (an unacknowledged batch):
  // tolerate that and refuse anything else, rather than silently stopping at the first damaged
  // record and opening a shorter log (kPointInTimeRecovery, RocksDB's default). Under everysec and
  // no, an unsynced tail may reach the disk in any order after a power loss, and losing it is the
  // promise: point-in-time recovery keeps everything before the first damage.
  options.wal_recovery_mode = o.fsync == WalFsync::kAlways
                                  ? rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords
                                  : rocksdb::WALRecoveryMode::kPointInTimeRecovery;

  // RocksDB refuses to open a database without naming every column family it has, so open
  // whatever exists plus "wal" and "snapshot" (storage/snapshot.h).
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, o.dir, &names);
  if (!s.ok()) names = {rocksdb::kDefaultColumnFamilyName};  // a new database.
  for (std::string_view name : {kWalColumnFamily, kSnapshotColumnFamily}) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  size_t wal_index = 0, snapshot_index = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kWalColumnFamily) wal_index = i;
    if (names[i] == kSnapshotColumnFamily) snapshot_index = i;
    descriptors.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  s = rocksdb::DB::Open(options, o.dir, descriptors, &handles, &db);
  if (!s.ok()) {
    *error = "cannot open the WAL database in " + o.dir + ": " + s.ToString();
    return nullptr;
  }
  rocksdb::ColumnFamilyHandle* wal_cf = handles[wal_index];
  rocksdb::ColumnFamilyHandle* snapshot_cf = handles[snapshot_index];

  // The last key is the last LSN: appends continue contiguously after it.
  uint64_t last_lsn = 0;
  std::string problem;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), wal_cf));
    it->SeekToLast();
    if (it->Valid()) {
      std::optional<uint64_t> lsn =
          DecodeLsnKey(std::string_view(it->key().data(), it->key().size()));
      if (!lsn) {
        problem = "the last key of the WAL in " + o.dir + " is not an LSN (" +
                  std::to_string(it->key().size()) + " bytes): the log is corrupt";
      } else {
        last_lsn = *lsn;
      }
    } else if (!it->status().ok()) {
      problem = "cannot read the WAL in " + o.dir + ": " + it->status().ToString();
    }
  }
  if (!problem.empty()) {
    *error = problem;
    for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
    return nullptr;
  }
  return std::unique_ptr<Wal>(new Wal(o, db, std::move(handles), wal_cf, snapshot_cf, last_lsn));
}

Wal::Wal(const WalOptions& o, rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
         rocksdb::ColumnFamilyHandle* wal_cf, rocksdb::ColumnFamilyHandle* snapshot_cf,
         uint64_t last_lsn)
    : options_(o),
      db_(db),
      handles_(std::move(handles)),
      wal_cf_(wal_cf),
      snapshot_cf_(snapshot_cf),
      queue_first_lsn_(last_lsn + 1),
      last_assigned_lsn_(last_lsn),
      written_lsn_(last_lsn),
      durable_lsn_(last_lsn) {
  stats_.written_lsn = last_lsn;
  stats_.durable_lsn = last_lsn;
  writer_ = std::thread([this] { WriterLoop(); });
}

Wal::~Wal() { Close(); }

bool Wal::WaitForSpace(std::unique_lock<std::mutex>& lock, uint64_t bytes) {
  // Back-pressure: records larger than the limit are still admitted into an empty queue.
  space_cv_.wait(lock, [&] {
    return stopping_ || failed_.load(std::memory_order_relaxed) || queue_.empty() ||
           queue_bytes_ + bytes <= options_.queue_bytes_max;
  });
  return !stopping_ && !failed_.load(std::memory_order_relaxed);
}

uint64_t Wal::Append(std::string record) {
  const uint64_t bytes = record.size();
  uint64_t lsn;
  {
    std::unique_lock lock(mu_);
    if (!WaitForSpace(lock, bytes)) return kWalNoLsn;
    lsn = ++last_assigned_lsn_;
    appended_since_open_ = true;
    queue_.push_back(std::move(record));
    queue_bytes_ += bytes;
  }
  work_cv_.notify_one();
  return lsn;
}

uint64_t Wal::AppendGroup(std::vector<std::string> records) {
  if (records.empty()) return kWalNoLsn;
  uint64_t bytes = 0;
  for (const std::string& r : records) bytes += r.size();
  uint64_t lsn;
  {
    std::unique_lock lock(mu_);
    if (!WaitForSpace(lock, bytes)) return kWalNoLsn;
    last_assigned_lsn_ += records.size();
    lsn = last_assigned_lsn_;
    appended_since_open_ = true;
    for (std::string& r : records) queue_.push_back(std::move(r));
    queue_bytes_ += bytes;
  }
  work_cv_.notify_one();
  return lsn;
}

void Wal::SetOnDurable(std::function<void(uint64_t)> on_durable) {
  std::lock_guard lock(mu_);
  on_durable_ = std::move(on_durable);
}

void Wal::SetOnBatch(
    std::function<void(uint64_t first_lsn, const std::vector<std::string>& batch)> on_batch) {
  std::lock_guard lock(mu_);
  on_batch_ = std::move(on_batch);
}

void Wal::SetOnWritten(std::function<void(uint64_t)> on_written) {
  std::lock_guard lock(mu_);
  on_written_ = std::move(on_written);
}

void Wal::SetOnFailed(std::function<void(const std::string&)> on_failed) {
  std::lock_guard lock(mu_);
  on_failed_ = std::move(on_failed);
}

uint64_t Wal::last_assigned_lsn() const {
  std::lock_guard lock(mu_);
  return last_assigned_lsn_;
}

std::string Wal::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

WalStats Wal::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

bool Wal::TakeBatch(std::vector<std::string>* batch, uint64_t* first_lsn) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (failed_.load(std::memory_order_relaxed)) return false;
    if (!queue_.empty()) break;
    if (stopping_) return false;
    // everysec: wake for the sync deadline even with nothing new, if something is unsynced.
    if (options_.fsync == WalFsync::kEverySec && written_lsn() > durable_lsn()) {
      lock.unlock();
      return true;  // an empty batch: the loop syncs if the interval has passed.
    }
    work_cv_.wait(lock);
  }
  *first_lsn = queue_first_lsn_;
  uint64_t bytes = 0;
  // Stop growing past batch_bytes_max; the record that crosses it is included, so any record,
  // however large, forms a batch.
  while (!queue_.empty() && bytes < options_.batch_bytes_max) {
    bytes += queue_.front().size();
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queue_bytes_ -= bytes;
  queue_first_lsn_ += batch->size();
  lock.unlock();
  space_cv_.notify_all();
  return true;
}

void Wal::WriterLoop() {
  std::vector<std::string> batch;
  Clock::time_point last_sync = Clock::now();
  for (;;) {
    batch.clear();
    uint64_t first_lsn = 0;
    if (!TakeBatch(&batch, &first_lsn)) break;
    if (!batch.empty() && on_batch_) on_batch_(first_lsn, batch);
    if (!batch.empty() && !WriteBatch(batch, first_lsn)) return;
    if (options_.fsync != WalFsync::kEverySec) continue;
    const Clock::time_point now = Clock::now();
    if (now - last_sync >= kWalEverySecInterval) {
      if (written_lsn() > durable_lsn() && !SyncWal()) return;
      last_sync = now;
    } else if (batch.empty()) {
      // Idle with unsynced records: sleep until the sync is due or records arrive.
      std::unique_lock lock(mu_);
      work_cv_.wait_until(lock, last_sync + kWalEverySecInterval,
                          [&] { return !queue_.empty() || stopping_; });
    }
  }
  // Stopping with the queue drained (or failed): a clean shutdown syncs what was written without
  // sync, so that everysec and no lose nothing on Close.
  if (!failed() && options_.fsync != WalFsync::kAlways) SyncWal();
}

bool Wal::WriteBatch(const std::vector<std::string>& batch, uint64_t first_lsn) {
  rocksdb::WriteBatch wb;
  uint64_t bytes = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::string key = EncodeLsnKey(first_lsn + i);
    rocksdb::Status s = wb.Put(wal_cf_, key, batch[i]);
    if (!s.ok()) {
      Fail(s, "building a WAL batch");
      return false;
    }
    bytes += batch[i].size();
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.fsync == WalFsync::kAlways;
  const Clock::time_point start = Clock::now();
  rocksdb::Status s = db_->Write(wo, &wb);
  const Clock::duration took = Clock::now() - start;
  if (!s.ok()) {
    Fail(s, "writing a WAL batch");
    return false;
  }
  const uint64_t last_lsn = first_lsn + batch.size() - 1;
  written_lsn_.store(last_lsn, std::memory_order_release);
  {
    std::lock_guard lock(stats_mu_);
    stats_.batches++;
    stats_.records += batch.size();
    stats_.bytes += bytes;
    stats_.batch_records_last = batch.size();
    stats_.batch_records_max = std::max<uint64_t>(stats_.batch_records_max, batch.size());
    stats_.written_lsn = last_lsn;
  }
  if (options_.fsync == WalFsync::kAlways) RecordSync(took);
  RunCallback(&Wal::on_written_, last_lsn);
  // always: the write was synced. no: durable means "handed to the OS", by the operator's choice.
  if (options_.fsync != WalFsync::kEverySec) PublishDurable(last_lsn);
  return true;
}

bool Wal::SyncWal() {
  // Only this thread writes, so everything up to written_lsn is covered by this sync.
  const uint64_t lsn = written_lsn();
  const Clock::time_point start = Clock::now();
  rocksdb::Status s = db_->SyncWAL();
  const Clock::duration took = Clock::now() - start;
  if (!s.ok()) {
    Fail(s, "syncing the WAL");
    return false;
  }
  RecordSync(took);
  if (lsn > durable_lsn()) PublishDurable(lsn);
  return true;
}

void Wal::PublishDurable(uint64_t lsn) {
  durable_lsn_.store(lsn, std::memory_order_release);
  {
    std::lock_guard lock(stats_mu_);
    stats_.durable_lsn = lsn;
  }
  RunCallback(&Wal::on_durable_, lsn);
}

void Wal::RunCallback(std::function<void(uint64_t)> Wal::*callback, uint64_t lsn) {
  std::function<void(uint64_t)> fn;
  {
    std::lock_guard lock(mu_);  // the setters may run on other threads
    fn = this->*callback;
  }
  if (fn) fn(lsn);
}

void Wal::RecordSync(Clock::duration took) {
  const uint64_t us = Micros(took);
  // Bucket i holds [2^i, 2^(i+1)) us: the index of the highest set bit.
  const size_t bucket =
      std::min<size_t>(us == 0 ? 0 : std::bit_width(us) - 1, kWalSyncHistogramBuckets - 1);
  std::lock_guard lock(stats_mu_);
  stats_.syncs++;
  stats_.sync_us_sum += us;
  stats_.sync_us_max = std::max(stats_.sync_us_max, us);
  stats_.sync_us_histogram[bucket]++;
}

void Wal::Fail(const rocksdb::Status& status, std::string_view what) {
  std::function<void(const std::string&)> on_failed;
  std::string failure;
  {
    std::lock_guard lock(mu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    failure_ = std::string(what) + ": " + status.ToString();
    failure = failure_;
    failed_.store(true, std::memory_order_release);
    on_failed = on_failed_;
  }
  space_cv_.notify_all();  // blocked appenders return kWalNoLsn.
  {
    std::lock_guard lock(stats_mu_);
    stats_.failures++;
  }
  if (on_failed) on_failed(failure);
}

void Wal::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  // A failed database may also fail to close; the failure is already latched, so ignore it.
  db_->Close().PermitUncheckedError();
  delete db_;
  db_ = nullptr;
}

WalReadResult Wal::ForEach(uint64_t from_lsn, const RecordFn& fn) const {
  WalReadResult result;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // read once, in order: caching the blocks would only evict others
  ro.readahead_size = kWalReadaheadBytes;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, wal_cf_));
  uint64_t expected = from_lsn;  // 0: take the first LSN as it is.
  WalRecord record;
  std::string detail;
  for (it->Seek(EncodeLsnKey(from_lsn)); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const std::optional<uint64_t> lsn = DecodeLsnKey(key);
    if (!lsn) {
      result.problem = WalReadProblem::kBadKey;
      result.problem_lsn = result.last_lsn;
      result.detail = "a key of " + std::to_string(key.size()) + " bytes after LSN " +
                      std::to_string(result.last_lsn) + " is not an LSN";
      return result;
    }
    if (expected != 0 && *lsn != expected) {
      result.problem = WalReadProblem::kGap;
      result.problem_lsn = expected;
      result.detail = "LSN " + std::to_string(expected) + " is missing: the next record is LSN " +
                      std::to_string(*lsn);
      return result;
    }
    const std::string_view value(it->value().data(), it->value().size());
    const DecodeResult decoded = Decode(value, &record, &detail);
    if (decoded != DecodeResult::kOk) {
      result.problem_lsn = *lsn;
      result.decode = decoded;
      // Torn only if truncated AND the last record (docs/wal.md): a write that died mid-record
      // can only be the last one written; anything else changed after it was written.
      it->Next();
      const bool last = !it->Valid() && it->status().ok();
      result.problem = decoded == DecodeResult::kTruncated && last ? WalReadProblem::kTornTail
                                                                   : WalReadProblem::kCorrupt;
      result.detail = "LSN " + std::to_string(*lsn) + ": " +
                      std::string(DecodeResultName(decoded)) + ": " + detail;
      return result;
    }
    result.records++;
    result.last_lsn = *lsn;
    expected = *lsn + 1;
    if (!fn(*lsn, value, record)) {
      result.problem = WalReadProblem::kStopped;
      return result;
    }
  }
  if (!it->status().ok()) {
    result.problem = WalReadProblem::kIo;
    result.problem_lsn = expected;
    result.detail = it->status().ToString();
  }
  return result;
}

bool Wal::Trim(uint64_t upto_lsn) {
  // Keep the last durable record: Open finds where LSNs continue from the last key.
  upto_lsn = std::min(upto_lsn, durable_lsn());
  if (upto_lsn <= 1 || failed()) return !failed();
  rocksdb::WriteOptions wo;
  wo.sync = options_.fsync == WalFsync::kAlways;
  rocksdb::Status s = db_->DeleteRange(wo, wal_cf_, EncodeLsnKey(0), EncodeLsnKey(upto_lsn));
  if (!s.ok()) {
    Fail(s, "trimming the WAL");
    return false;
  }
  return true;
}

bool Wal::DrainForCut(std::unique_lock<std::mutex>& lock) {
  // The caller appends nothing meanwhile (the contract), so the queue only empties; waiting on
  // the writer's progress by polling keeps the writer's hot path free of another notification.
  while (!failed_.load(std::memory_order_relaxed) && !stopping_ &&
         written_lsn_.load(std::memory_order_acquire) < last_assigned_lsn_) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
  }
  return !failed_.load(std::memory_order_relaxed) && !stopping_;
}

bool Wal::SetEnd(uint64_t delete_from_lsn, uint64_t last_lsn) {
  rocksdb::WriteOptions wo;
  wo.sync = true;  // the decision to drop these records must survive a crash.
  if (delete_from_lsn <= last_assigned_lsn_) {
    rocksdb::Status s = db_->DeleteRange(wo, wal_cf_, EncodeLsnKey(delete_from_lsn),
                                         EncodeLsnKey(last_assigned_lsn_ + 1));
    if (!s.ok()) return false;
  }
  last_assigned_lsn_ = last_lsn;
  queue_first_lsn_ = last_lsn + 1;
  const uint64_t written = std::min(written_lsn_.load(std::memory_order_relaxed), last_lsn);
  const uint64_t durable = std::min(durable_lsn_.load(std::memory_order_relaxed), last_lsn);
  written_lsn_.store(written, std::memory_order_release);
  durable_lsn_.store(durable, std::memory_order_release);
  std::lock_guard stats_lock(stats_mu_);
  stats_.written_lsn = written;
  stats_.durable_lsn = durable;
  return true;
}

bool Wal::CutTail(uint64_t from_lsn) {
  std::unique_lock lock(mu_);
  if (from_lsn == 0 || !DrainForCut(lock)) return false;
  if (from_lsn > last_assigned_lsn_) return true;
  return SetEnd(from_lsn, from_lsn - 1);
}

bool Wal::ResetAfter(uint64_t lsn) {
  std::unique_lock lock(mu_);
  if (!DrainForCut(lock)) return false;
  return SetEnd(1, lsn);
}

bool Wal::ContinueAfter(uint64_t lsn) {
  std::lock_guard lock(mu_);
  if (appended_since_open_ || stopping_) return false;
  if (lsn <= last_assigned_lsn_) return true;
  last_assigned_lsn_ = lsn;
  queue_first_lsn_ = lsn + 1;
  written_lsn_.store(lsn, std::memory_order_release);
  durable_lsn_.store(lsn, std::memory_order_release);
  std::lock_guard stats_lock(stats_mu_);
  stats_.written_lsn = lsn;
  stats_.durable_lsn = lsn;
  return true;
}

}  // namespace stockd::storage
