#include "server/replay.h"

#include <fmt/format.h>
#include <pthread.h>

#include <cassert>

#include "protocol/reply_builder.h"
#include "server/command_context.h"
#include "server/commands/families.h"

namespace stockd::server {
namespace {

// Checks what ApplyRecord checks; *spec is the command's (null for an expire sweep). False with
// *error set when the record cannot be replayed; true with *applies false for records that change
// no data (epochs, snapshot markers).
bool CheckRecord(int databases, const storage::WalRecord& record, const CommandSpec** spec,
                 bool* applies, std::string* error) {
  *spec = nullptr;
  *applies = record.type == storage::WalRecordType::kCommand ||
             record.type == storage::WalRecordType::kExpireSweep;
  if (!*applies) return true;
  if (record.db >= static_cast<uint32_t>(databases)) {
    *error = fmt::format("database {} is outside 'databases' ({})", record.db, databases);
    return false;
  }
  if (record.type == storage::WalRecordType::kExpireSweep) return true;
  CmdArgs args(record.argv);
  bool unknown_subcommand = false;
  *spec = CommandTable::Get().Find(args, &unknown_subcommand);
  if (*spec == nullptr || !(*spec)->ArityOk(args.size())) {
    *error = fmt::format("'{}' is not a command this stockd can run", args[0].substr(0, 128));
    return false;
  }
  return true;
}

// Applies a checked record. No reply is written: the client that sent the command was answered
// before the crash.
void Apply(Engine& engine, const CommandSpec* spec, CmdArgs args, int db, int64_t now_ms,
           uint64_t items_max) {
  if (spec == nullptr) {
    ReplaySkuSweep(engine, db, now_ms, args[0], items_max);
    return;
  }
  std::string sink;
  protocol::ReplyBuilder rb(&sink, 2);
  rb.set_discard(true);
  CommandContext ctx(engine, nullptr, &rb, db, now_ms, spec);
  ctx.set_recovering(true);
  spec->handler(args, ctx);
}

}  // namespace

bool ApplyRecord(Engine& engine, int databases, const storage::WalRecord& record,
                 std::string* error) {
  const CommandSpec* spec = nullptr;
  bool applies = false;
  if (!CheckRecord(databases, record, &spec, &applies, error)) return false;
  if (applies) {
    Apply(engine, spec, record.argv, static_cast<int>(record.db), record.now_ms, record.items_max);
  }
  return true;
}

bool GroupApplier::Add(uint64_t lsn, const storage::WalRecord& record, std::string* error) {
  auto is = [&](std::string_view name) {
    return record.type == storage::WalRecordType::kCommand && record.argv.size() == 1 &&
           EqualsIgnoreCase(record.argv[0], name);
  };
  if (is("MULTI")) {
    if (multi_lsn_ != 0) {
      *error = "MULTI inside a MULTI group";
      return false;
    }
    multi_lsn_ = lsn;
    return true;
  }
  if (is("EXEC")) {
    if (multi_lsn_ == 0) {
      *error = "EXEC without MULTI";
      return false;
    }
    replayer_.Barrier();
    bool ok = true;
    for (Kept& k : group_) {
      k.record.argv.assign(k.argv.begin(), k.argv.end());
      if (ok) ok = ApplyRecord(engine_, databases_, k.record, error);
    }
    group_.clear();
    multi_lsn_ = 0;
    return ok;
  }
  if (multi_lsn_ != 0) {
    Kept& k = group_.emplace_back();
    k.record = record;
    k.argv.assign(record.argv.begin(), record.argv.end());
    return true;
  }
  return replayer_.Add(record, error);
}

void RunOnEveryShard(Engine& engine, const std::function<void(uint32_t shard)>& fn) {
  std::vector<std::thread> threads;
  for (uint32_t i = 1; i < engine.shard_count(); ++i) threads.emplace_back([&fn, i] { fn(i); });
  fn(0);
  for (std::thread& t : threads) t.join();
}

Replayer::Replayer(Engine& engine, int databases, bool workers)
    : engine_(engine), databases_(databases) {
  if (!workers || engine.shard_count() == 1) return;
  for (uint32_t i = 0; i < engine.shard_count(); ++i) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->open = std::make_unique<Batch>();
  }
  for (uint32_t i = 0; i < engine.shard_count(); ++i) {
    workers_[i]->thread = std::thread([this, i] {
      std::string name = "stockd-replay" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      Run(i);
    });
  }
}

Replayer::~Replayer() { Finish(); }

bool Replayer::Add(const storage::WalRecord& record, std::string* error) {
  if (workers_.empty()) return ApplyRecord(engine_, databases_, record, error);
  const CommandSpec* spec = nullptr;
  bool applies = false;
  if (!CheckRecord(databases_, record, &spec, &applies, error)) {
    Barrier();  // the records before it are applied, as a sequential replay would have
    return false;
  }
  if (!applies) return true;
  int64_t shard = ShardOf(record, spec);
  if (shard < 0) {
    Barrier();
    Apply(engine_, spec, record.argv, static_cast<int>(record.db), record.now_ms, record.items_max);
    return true;
  }
  Queue(static_cast<uint32_t>(shard), record, spec);
  return true;
}

int64_t Replayer::ShardOf(const storage::WalRecord& record, const CommandSpec* spec) const {
  if (spec == nullptr) return engine_.ShardOf(record.argv[0]);  // a sweep names its SKU
  // The routing of live dispatch (Connection::ShardsOf): a global command needs every shard, and
  // a keyless one runs with no shard of its own; neither is worth a worker.
  if (spec->has(kGlobal)) return -1;
  CmdArgs args(record.argv);
  int64_t shard = -1;
  bool several = false;
  spec->ForEachKey(args, [&](size_t i) {
    int64_t s = engine_.ShardOf(args[i]);
    if (shard >= 0 && s != shard) several = true;
    shard = s;
  });
  return several ? -1 : shard;
}

void Replayer::Queue(uint32_t shard, const storage::WalRecord& record, const CommandSpec* spec) {
  Batch& b = *workers_[shard]->open;
  b.items.push_back({spec, record.now_ms, record.items_max, record.db,
                     static_cast<uint32_t>(record.argv.size())});
  for (std::string_view arg : record.argv) {
    b.arg_bytes.push_back(static_cast<uint32_t>(arg.size()));
    b.bytes.append(arg);
  }
  if (b.items.size() >= kReplayBatchRecordsMax || b.bytes.size() >= kReplayBatchBytesMax) {
    HandOver(shard);
  }
}

void Replayer::HandOver(uint32_t shard) {
  Worker& w = *workers_[shard];
  std::unique_lock lock(w.mu);
  w.idle_cv.wait(lock, [&] { return w.queue.size() < kReplayBatchesQueuedMax; });
  w.queue.push_back(std::move(w.open));
  if (w.free.empty()) {
    w.open = std::make_unique<Batch>();
  } else {
    w.open = std::move(w.free.back());
    w.free.pop_back();
  }
  lock.unlock();
  w.cv.notify_one();
}

void Replayer::Barrier() {
  for (auto& worker : workers_) {
    Worker& w = *worker;
    std::unique_lock lock(w.mu);
    w.idle_cv.wait(lock, [&] { return w.queue.empty() && !w.running; });
  }
  // The workers are idle and everything handed over is applied: what is left of each shard's
  // records comes after it, so this thread applies it now rather than waking a worker for a
  // short batch (a log dense with barriers then costs no hand-overs at all).
  for (uint32_t i = 0; i < workers_.size(); ++i) {
    Batch& open = *workers_[i]->open;
    if (open.items.empty()) continue;
    ApplyBatch(i, open);
    open.Clear();
  }
}

void Replayer::Finish() {
  if (workers_.empty() || !workers_[0]->thread.joinable()) return;
  Barrier();
  for (auto& worker : workers_) {
    {
      std::lock_guard lock(worker->mu);
      worker->stop = true;
    }
    worker->cv.notify_one();
  }
  for (auto& worker : workers_) worker->thread.join();
}

void Replayer::Run(uint32_t shard) {
  Worker& w = *workers_[shard];
  std::unique_lock lock(w.mu);
  while (true) {
    w.cv.wait(lock, [&] { return !w.queue.empty() || w.stop; });
    if (w.queue.empty()) return;  // stopped
    std::unique_ptr<Batch> batch = std::move(w.queue.front());
    w.queue.pop_front();
    w.running = true;
    lock.unlock();
    w.idle_cv.notify_all();  // room in the queue
    ApplyBatch(shard, *batch);
    batch->Clear();
    lock.lock();
    w.free.push_back(std::move(batch));
    w.running = false;
    w.idle_cv.notify_all();
  }
}

void Replayer::ApplyBatch(uint32_t shard, const Batch& batch) {
  std::vector<std::string_view> argv;
  size_t arg = 0, byte = 0;
  for (const Batch::Item& item : batch.items) {
    argv.clear();
    for (uint32_t a = 0; a < item.argc; ++a) {
      argv.emplace_back(batch.bytes.data() + byte, batch.arg_bytes[arg]);
      byte += batch.arg_bytes[arg++];
    }
    Apply(engine_, item.spec, argv, static_cast<int>(item.db), item.now_ms, item.items_max);
  }
}

}  // namespace stockd::server
