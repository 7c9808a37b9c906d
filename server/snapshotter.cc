#include "server/snapshotter.h"

#include <fmt/format.h>

#include <chrono>

#include "server/engine.h"
#include "storage/log.h"
#include "storage/sku.h"

namespace stockd::server {

namespace {
// A snapshot waits at most this long for its LSN to become durable (under everysec the writer
// syncs at least once a second; under always it already is). Longer means the log is stuck.
constexpr std::chrono::milliseconds kSnapshotDurableWaitMax{10'000};
}  // namespace

Snapshotter::Snapshotter(Engine& engine, Config& config, storage::Wal& wal)
    : engine_(engine), config_(config), wal_(wal) {
  status_.last_save_ms = engine.start_time_ms();  // as Redis: at startup the data counts as saved
}

Snapshotter::~Snapshotter() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    t = std::move(writer_);
  }
  if (t.joinable()) t.join();
}

uint64_t Snapshotter::Changes() const {
  uint64_t changes = 0;
  for (uint32_t i = 0; i < engine_.shard_count(); ++i) {
    changes += engine_.shard(i).data().changes.Get();
  }
  return changes;
}

bool Snapshotter::Load(uint64_t* lsn, std::string* error) {
  *lsn = 0;
  std::optional<storage::SnapshotInfo> found;
  if (!storage::FindNewestSnapshot(wal_.db(), wal_.snapshot_cf(), &found, error)) return false;
  if (!found) return true;
  const storage::SnapshotInfo& info = *found;
  if (info.databases > static_cast<uint32_t>(config_.databases)) {
    // Loading only the databases that fit would silently drop keys.
    *error = fmt::format(
        "the snapshot at LSN {} was written with databases {}, more than this "
        "configuration's {}",
        info.lsn, info.databases, config_.databases);
    return false;
  }
  int64_t start_us = Engine::NowUs();
  bool ok = storage::LoadSnapshot(
      wal_.db(), wal_.snapshot_cf(), info,
      [this](int db, std::string_view key, storage::Slot slot) {
        storage::Shard& shard = engine_.shard(engine_.ShardOf(key)).data();
        storage::Db& d = shard.db(db);
        // Time 0: nothing is expired yet, so an entry whose TTL passed while the server was down
        // is loaded as it was captured and expires as the log's records say (replay uses their
        // clocks).
        auto [e, created] = d.FindOrInsert(key, 0);
        if (!created) return false;  // a key twice: the snapshot is corrupt
        int64_t expire = slot.expire_at_ms;
        e->val.value = std::move(slot.value);
        if (expire != 0) d.SetExpire(e, expire);
        // SKUs are filed in their shard's deadline index after the log is replayed, once each
        // (FileSkuDeadlines), not here and again at each replayed change.
        return true;
      },
      error);
  if (!ok) return false;
  // The shards' deadline timers are set by Engine::Start from the deadlines recovery files once
  // the replay that follows is done.
  log::Notice("Snapshot: loaded {} keys at LSN {} ({} bytes) in {} ms", info.keys, info.lsn,
              info.bytes, (Engine::NowUs() - start_us) / 1000);
  std::lock_guard lock(mu_);
  status_.lsn = info.lsn;
  status_.keys = info.keys;
  status_.bytes = info.bytes;
  *lsn = info.lsn;
  return true;
}

bool Snapshotter::Take(bool background, std::string* error) {
  {
    std::lock_guard lock(mu_);
    if (status_.in_progress) {
      *error = "ERR Background save already in progress";
      return false;
    }
  }
  if (wal_.failed()) {
    *error = fmt::format("MISCONF Errors writing to the WAL: {}. Snapshots are refused.",
                         wal_.failure());
    return false;
  }
  scheduled_.store(false, std::memory_order_relaxed);
  // The pause: every shard is locked, so no write runs and none is half-logged.
  int64_t start_us = Engine::NowUs();
  Image image;
  image.info.lsn = wal_.last_assigned_lsn();
  image.info.created_ms = Engine::NowMs();
  image.info.databases = static_cast<uint32_t>(config_.databases);
  image.chunks.resize(engine_.shard_count());
  for (uint32_t i = 0; i < engine_.shard_count(); ++i) {
    storage::Shard& shard = engine_.shard(i).data();
    storage::SnapshotBuilder builder;
    for (int db = 0; db < shard.databases(); ++db) {
      shard.db(db).ForEach([&](storage::Db::Entry* e) { builder.Add(db, e->key, e->val); });
    }
    image.info.keys += builder.keys();
    image.chunks[i] = builder.Finish();
  }
  const uint64_t pause_us = static_cast<uint64_t>(Engine::NowUs() - start_us);
  {
    std::lock_guard lock(mu_);
    status_.in_progress = true;
    status_.current_started_ms = image.info.created_ms;
    status_.last_pause_us = pause_us;
    status_.changes_at_snapshot = Changes();
    status_.wal_bytes_at_snapshot = WalBytes();
  }
  log::Notice("Snapshot: captured {} keys at LSN {} in {} us", image.info.keys, image.info.lsn,
              pause_us);
  if (!background) return Write(std::move(image), error);
  std::thread previous;
  {
    std::lock_guard lock(mu_);
    previous = std::move(writer_);
  }
  if (previous.joinable()) previous.join();  // finished: in_progress was false
  std::thread t([this, image = std::move(image)]() mutable {
    std::string ignored;
    Write(std::move(image), &ignored);
  });
  std::lock_guard lock(mu_);
  writer_ = std::move(t);
  return true;
}

bool Snapshotter::Write(Image image, std::string* error) {
  int64_t start_us = Engine::NowUs();
  storage::SnapshotInfo& info = image.info;
  bool ok = true;
  // A snapshot must not be newer than the durable log: after a crash the log would continue
  // from an LSN the snapshot already covers.
  auto deadline = std::chrono::steady_clock::now() + kSnapshotDurableWaitMax;
  while (ok && wal_.durable_lsn() < info.lsn) {
    if (wal_.failed()) {
      *error = fmt::format("MISCONF Errors writing to the WAL: {}. Snapshots are refused.",
                           wal_.failure());
      ok = false;
    } else if (std::chrono::steady_clock::now() > deadline) {
      *error = fmt::format("ERR the log did not reach LSN {} within {} ms", info.lsn,
                           kSnapshotDurableWaitMax.count());
      ok = false;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::string detail;
  if (ok && !storage::WriteSnapshot(wal_.db(), wal_.snapshot_cf(), wal_.options().dir, &info,
                                    image.chunks, &detail)) {
    *error = "ERR " + detail;
    ok = false;
  }
  image.chunks.clear();  // the memory of the image, before the slower steps below
  if (ok && !storage::DropSnapshotsBefore(wal_.db(), wal_.snapshot_cf(), info.lsn, &detail)) {
    // The new snapshot is in place; an old one left behind costs disk, not correctness.
    log::Warning("Snapshot: {}", detail);
  }
  // Records up to the snapshot's LSN are no longer needed for recovery; standbys may still need
  // some of them.
  const uint64_t trim_to = std::min(info.lsn + 1, retain_from_ ? retain_from_() : UINT64_MAX);
  if (ok && !wal_.Trim(trim_to)) {
    *error = fmt::format("MISCONF Errors writing to the WAL: {}", wal_.failure());
    ok = false;
  }
  const uint64_t write_ms = static_cast<uint64_t>(Engine::NowUs() - start_us) / 1000;
  std::lock_guard lock(mu_);
  status_.in_progress = false;
  status_.last_ok = ok;
  if (ok) {
    status_.last_error.clear();
    status_.last_save_ms = info.created_ms;
    status_.lsn = info.lsn;
    status_.keys = info.keys;
    status_.bytes = info.bytes;
    status_.last_write_ms = write_ms;
    status_.saves++;
    log::Notice("Snapshot: saved {} keys at LSN {} ({} bytes, {} chunks) in {} ms", info.keys,
                info.lsn, info.bytes, info.chunks, write_ms);
  } else {
    status_.last_error = *error;
    log::Warning("Snapshot at LSN {} failed: {}", info.lsn, *error);
  }
  return ok;
}

void Snapshotter::NoteReplayed(uint64_t bytes) { replayed_bytes_ = bytes; }

bool Snapshotter::Due() const {
  if (wal_.failed()) return false;
  std::lock_guard lock(mu_);
  if (status_.in_progress) return false;
  if (scheduled_.load(std::memory_order_relaxed)) return true;
  const int percentage = config_.auto_aof_rewrite_percentage.load(std::memory_order_relaxed);
  if (percentage <= 0) return false;
  const uint64_t grown = WalBytes() - status_.wal_bytes_at_snapshot;
  const uint64_t min_size =
      static_cast<uint64_t>(config_.auto_aof_rewrite_min_size.load(std::memory_order_relaxed));
  return grown >= min_size && grown * 100 >= status_.bytes * static_cast<uint64_t>(percentage);
}

SnapshotStatus Snapshotter::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace stockd::server
