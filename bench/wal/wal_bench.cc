// The WAL writer's group commit on this machine's disk: N threads each append one ~100-byte
// record and wait for it (as a connection waits to reply), for several N, under appendfsync
// always and everysec. Reports records/s, the mean batch, the sync latency from the writer's own
// histogram and the append-to-acknowledged latency measured by the threads.
//
//   build/bench/wal_bench [--dir DIR] [--seconds S] [--threads 1,8,32]
//
// always:   a thread waits until its record is durable (durable_lsn, woken by on_durable).
// everysec: a thread waits until its record is written (handed to RocksDB without sync): durable
//           follows within a second, and nothing would wait for it (the server replies at once).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/wal.h"
#include "storage/wal_record.h"

namespace {

using stockd::storage::Wal;
using stockd::storage::WalFsync;
using Clock = std::chrono::steady_clock;

// Default run length per configuration: long enough for hundreds of fsyncs on a slow disk.
constexpr double kSecondsDefault = 2.0;
// How often an everysec waiter checks written_lsn (there is no written callback).
constexpr std::chrono::microseconds kWrittenPollInterval{20};

struct Result {
  double records_per_second = 0;
  double batch_mean = 0;
  uint64_t batch_max = 0;
  uint64_t sync_p50_us = 0;  // histogram bucket bounds: within 2x
  uint64_t sync_p99_us = 0;
  uint64_t syncs = 0;
  uint64_t ack_p50_us = 0;  // exact, from the threads
  uint64_t ack_p99_us = 0;
};

std::string MakeRecord(int thread, uint64_t i) {
  const std::string key = "sku:" + std::to_string(thread) + ":" + std::to_string(i);
  const std::string order = "order-" + std::to_string(i) + "-0123456789abcdef0123456789";
  const std::string_view argv[] = {"SKU.RESERVE", key, order, "1", "TTL", "30000"};
  return *stockd::storage::EncodeCommandRecord(0, 1700000000000, argv);
}

Result Run(const std::string& dir, WalFsync fsync, int threads, double seconds) {
  std::filesystem::remove_all(dir);
  std::string error;
  std::unique_ptr<Wal> wal = Wal::Open({.dir = dir, .fsync = fsync}, &error);
  if (wal == nullptr) {
    std::fprintf(stderr, "%s\n", error.c_str());
    exit(1);
  }
  std::mutex mu;
  std::condition_variable durable_cv;
  wal->SetOnDurable([&](uint64_t) {
    std::lock_guard lock(mu);
    durable_cv.notify_all();
  });
  wal->SetOnFailed([&](const std::string& failure) {
    std::fprintf(stderr, "WAL failed: %s\n", failure.c_str());
    std::lock_guard lock(mu);
    durable_cv.notify_all();
  });
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::vector<uint64_t>> ack_us(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0; Clock::now() < end; ++i) {
        const Clock::time_point begin = Clock::now();
        const uint64_t lsn = wal->Append(MakeRecord(t, i));
        if (lsn == stockd::storage::kWalNoLsn) return;
        if (fsync == WalFsync::kAlways) {
          std::unique_lock lock(mu);
          durable_cv.wait(lock, [&] { return wal->durable_lsn() >= lsn || wal->failed(); });
        } else {
          while (wal->written_lsn() < lsn && !wal->failed()) {
            std::this_thread::sleep_for(kWrittenPollInterval);
          }
        }
        ack_us[t].push_back(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count()));
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  wal->Close();
  const stockd::storage::WalStats stats = wal->stats();
  std::vector<uint64_t> all;
  for (const auto& v : ack_us) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.records_per_second = static_cast<double>(all.size()) / elapsed;
  r.batch_mean = stats.batches == 0 ? 0 : 1.0 * stats.records / stats.batches;
  r.batch_max = stats.batch_records_max;
  r.sync_p50_us = stats.SyncUsQuantile(0.5);
  r.sync_p99_us = stats.SyncUsQuantile(0.99);
  r.syncs = stats.syncs;
  if (!all.empty()) {
    r.ack_p50_us = all[all.size() / 2];
    r.ack_p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  std::filesystem::remove_all(dir);
  return r;
}

std::vector<int> ParseThreads(const std::string& list) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    out.push_back(std::stoi(list.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/stockd_wal_bench";
  double seconds = kSecondsDefault;
  std::vector<int> threads = {1, 8, 32};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--seconds") {
      seconds = std::stod(argv[i + 1]);
    } else if (flag == "--threads") {
      threads = ParseThreads(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::printf("record %zu bytes, %.1f s per row, dir %s\n", MakeRecord(0, 0).size(), seconds,
              dir.c_str());
  std::printf("%-9s %7s %11s %10s %9s %7s %12s %12s %11s %11s\n", "fsync", "threads", "records/s",
              "batch_mean", "batch_max", "syncs", "sync_p50_us", "sync_p99_us", "ack_p50_us",
              "ack_p99_us");
  for (WalFsync fsync : {WalFsync::kAlways, WalFsync::kEverySec}) {
    for (int n : threads) {
      const Result r = Run(dir, fsync, n, seconds);
      std::printf(
          "%-9s %7d %11.0f %10.1f %9lu %7lu %12lu %12lu %11lu %11lu\n",
          fsync == WalFsync::kAlways ? "always" : "everysec", n, r.records_per_second, r.batch_mean,
          static_cast<unsigned long>(r.batch_max), static_cast<unsigned long>(r.syncs),
          static_cast<unsigned long>(r.sync_p50_us), static_cast<unsigned long>(r.sync_p99_us),
          static_cast<unsigned long>(r.ack_p50_us), static_cast<unsigned long>(r.ack_p99_us));
    }
  }
  return 0;
}
