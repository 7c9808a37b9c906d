#include "server/engine.h"

#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <sys/time.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <chrono>

#include "storage/log.h"
#include "storage/wal.h"

namespace stockd::server {

thread_local ShardThread* ShardThread::current_ = nullptr;

ShardThread::ShardThread(uint32_t index, int databases, uint32_t command_ids)
    : index_(index),
      io_(1),
      data_(static_cast<int>(index), databases),
      stats_(command_ids),
      deadline_timer_(std::make_unique<asio::steady_timer>(io_)) {}

void ShardThread::Submit(Task task) {
  asio::post(io_, [this, task = std::move(task)]() mutable { RunOrDefer(std::move(task)); });
}

void ShardThread::RunOrDefer(Task task) {
  assert(IsCurrent());
  if (locked_) {
    deferred_.push_back(std::move(task));
    return;
  }
  task();
}

void ShardThread::Lock() {
  assert(IsCurrent());
  assert(!locked_);
  locked_ = true;
}

void ShardThread::Unlock() {
  assert(IsCurrent());
  assert(locked_);
  locked_ = false;
  // A deferred task may lock the shard again (it is the next RunLocked's acquire); then the
  // rest keep waiting, in order.
  while (!locked_ && !deferred_.empty()) {
    Task t = std::move(deferred_.front());
    deferred_.pop_front();
    t();
  }
}

struct Engine::LockedRun {
  std::vector<uint32_t> shards;
  size_t next = 0;
  Task body;
  asio::io_context* reply_to;
  Task done;
};

Engine::Engine(Config* config, uint32_t shards) : config_(config), start_time_ms_(NowMs()) {
  assert(shards >= 1);
  uint32_t ids = CommandTable::Get().id_count();
  for (uint32_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<ShardThread>(i, config->databases, ids));
  }
}

Engine::~Engine() { Stop(); }

std::vector<uint32_t> Engine::AllShards() const {
  std::vector<uint32_t> all(shard_count());
  for (uint32_t i = 0; i < shard_count(); ++i) all[i] = i;
  return all;
}

void Engine::Start() {
  started_.store(true, std::memory_order_release);
  for (auto& s : shards_) StartCron(*s);
  // Deadlines filed before Start (by recovery) did not wake the timers: set each for its earliest.
  for (auto& s : shards_) {
    ShardThread* st = s.get();
    st->Submit([this, st] { ArmDeadlineTimer(*st); });
  }
  for (auto& s : shards_) {
    ShardThread* st = s.get();
    threads_.emplace_back([this, st] {
      ShardThread::current_ = st;
      std::string name = "stockd-shard" + std::to_string(st->index());
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      auto guard = asio::make_work_guard(st->io());
      RunLoop(*st);
    });
  }
}

void Engine::RunLoop(ShardThread& s) {
  // Runs handlers until stopped. When a thread runs out of work it keeps polling for
  // shard-busy-poll-us before it blocks in epoll: a cross-shard reply or request that arrives
  // within that window is picked up without a sleep and a wake-up (two context switches on the
  // hop's critical path). The spin only follows activity; an idle server sleeps.
  asio::io_context& io = s.io();
  while (!io.stopped()) {
    if (io.poll() > 0) continue;
    int64_t spin_us = config_->shard_busy_poll_us.load(std::memory_order_relaxed);
    bool ran = false;
    if (spin_us > 0) {
      int64_t until = NowUs() + spin_us;
      while (!ran && NowUs() < until && !io.stopped()) ran = io.poll() > 0;
    }
    if (!ran) io.run_one();
  }
}

void Engine::Stop() {
  if (threads_.empty()) return;
  stopping_ = true;
  for (auto& s : shards_) s->io().stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Engine::StartCron(ShardThread& s) {
  crons_.push_back(std::make_unique<asio::steady_timer>(s.io()));
  asio::steady_timer* timer = crons_.back().get();
  asio::post(s.io(), [this, &s, timer] { ArmCron(s, *timer); });
}

void Engine::ArmCron(ShardThread& s, asio::steady_timer& timer) {
  int hz = config_->hz.load(std::memory_order_relaxed);
  timer.expires_after(std::chrono::milliseconds(1000 / hz));
  timer.async_wait([this, &s, &timer](const boost::system::error_code& ec) {
    if (ec) return;
    // Data work only when the shard is not locked: a locked shard's data belongs to the holder.
    if (!s.locked()) s.data().Cron(NowMs(), /*expire=*/!standby());
    if (s.index() == 0) {
      used_memory_bytes_.store(AllocatorStat("stats.allocated"), std::memory_order_relaxed);
    }
    ArmCron(s, timer);
  });
}

void Engine::WakeDeadlineTimer(uint32_t i, int64_t at_ms) {
  if (!started_.load(std::memory_order_acquire)) return;  // Start arms every timer
  ShardThread& s = shard(i);
  int64_t armed = s.deadline_armed_ms_.load(std::memory_order_relaxed);
  if (at_ms == 0 || (armed != 0 && armed <= at_ms)) return;  // it fires in time anyway
  s.Submit([this, &s] { ArmDeadlineTimer(s); });
}

void Engine::ArmDeadlineTimer(ShardThread& s) {
  int64_t next = s.data().next_sku_deadline_ms();
  int64_t armed = s.deadline_armed_ms_.load(std::memory_order_relaxed);
  if (next == 0 || next == armed) return;
  s.deadline_armed_ms_.store(next, std::memory_order_relaxed);
  // The steady clock paces the wait; the handler compares deadlines with the wall clock the
  // commands use, and a deadline not yet due is simply filed again, so a timer that fires early
  // (clock steps) expires nothing early.
  s.deadline_timer_->expires_after(std::chrono::milliseconds(std::max<int64_t>(0, next - NowMs())));
  s.deadline_timer_->async_wait([this, &s](const boost::system::error_code& ec) {
    if (ec) return;  // re-set for an earlier deadline: that wait will run the handler
    s.RunOrDefer([this, &s] {
      s.deadline_armed_ms_.store(0, std::memory_order_relaxed);
      if (deadline_handler_ != nullptr) deadline_handler_(*this, s.index(), NowMs());
      ArmDeadlineTimer(s);
    });
  });
}

void Engine::RunLocked(std::vector<uint32_t> shards, Task body, asio::io_context& reply_to,
                       Task done) {
  assert(!shards.empty());
  auto run = std::make_shared<LockedRun>();
  run->shards = std::move(shards);
  run->body = std::move(body);
  run->reply_to = &reply_to;
  run->done = std::move(done);
  AcquireNext(std::move(run));
}

void Engine::AcquireNext(std::shared_ptr<LockedRun> run) {
  ShardThread& s = shard(run->shards[run->next]);
  s.Submit([this, run, &s]() mutable {
    s.Lock();
    if (++run->next < run->shards.size()) {
      AcquireNext(std::move(run));
      return;
    }
    run->body();
    asio::post(*run->reply_to, std::move(run->done));
    for (uint32_t i : run->shards) {
      if (i == s.index()) continue;
      ShardThread& other = shard(i);
      asio::post(other.io(), [&other] { other.Unlock(); });
    }
    s.Unlock();
  });
}

uint64_t Engine::AllocatorStat(const char* name) {
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  mallctl("epoch", &epoch, &size, &epoch, size);  // refresh jemalloc's cached statistics
  size_t value = 0;
  size = sizeof(value);
  if (mallctl(name, &value, &size, nullptr, 0) != 0) return 0;
  return value;
}

int64_t Engine::NowMs() { return NowUs() / 1000; }

int64_t Engine::NowUs() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

}  // namespace stockd::server

namespace stockd::server {

uint64_t Engine::logged_lsn() const {
  uint64_t local = reply_gate_ == ReplyGate::kDurable ? wal_->durable_lsn() : wal_->written_lsn();
  return std::min(local, repl_gate_lsn_.load(std::memory_order_acquire));
}

void Engine::DropLoggedWaiters() {
  for (auto& s : shards_) {
    ShardThread* shard = s.get();
    asio::post(shard->io(), [shard] {
      std::vector<ShardThread::LoggedWaiter> waiters;
      waiters.swap(shard->logged_waiters_);
      for (auto& w : waiters) w.task(false);
    });
  }
}

std::string Engine::write_refusal() const {
  std::lock_guard lock(refusal_mu_);
  return write_refusal_;
}

void Engine::set_write_refusal(std::string error) {
  std::lock_guard lock(refusal_mu_);
  writes_refused_.store(!error.empty(), std::memory_order_relaxed);
  write_refusal_ = std::move(error);
}

void Engine::WaitLogged(ShardThread& s, uint64_t lsn, LoggedTask task) {
  s.logged_waiters_.push_back({lsn, std::move(task)});
  s.logged_waiting_.store(true, std::memory_order_seq_cst);
  // Pairs with the fence in NotifyLogged: either the writer sees the flag and posts, or this
  // thread sees the LSN it published and posts itself, so no wake-up is lost.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (logged_lsn() >= lsn || wal_->failed()) {
    asio::post(s.io(), [this, &s] { RunLoggedWaiters(s); });
  }
}

void Engine::NotifyLogged() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (auto& s : shards_) {
    if (s->logged_waiting_.exchange(false, std::memory_order_seq_cst)) {
      ShardThread* shard = s.get();
      asio::post(shard->io(), [this, shard] { RunLoggedWaiters(*shard); });
    }
  }
}

void Engine::RunLoggedWaiters(ShardThread& s) {
  uint64_t logged = logged_lsn();
  bool failed = wal_->failed();
  std::vector<ShardThread::LoggedWaiter> ready;
  auto& waiters = s.logged_waiters_;
  for (size_t i = 0; i < waiters.size();) {
    if (waiters[i].lsn <= logged || failed) {
      ready.push_back(std::move(waiters[i]));
      waiters[i] = std::move(waiters.back());
      waiters.pop_back();
    } else {
      ++i;
    }
  }
  if (!waiters.empty()) {
    s.logged_waiting_.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (logged_lsn() != logged || wal_->failed()) {
      asio::post(s.io(), [this, &s] { RunLoggedWaiters(s); });
    }
  }
  for (auto& w : ready) w.task(w.lsn <= logged);
}

}  // namespace stockd::server
