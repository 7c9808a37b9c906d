#include "server/server.h"

#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <random>

#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "server/replay.h"
#include "storage/log.h"

namespace stockd::server {
namespace {

std::string RandomHex(size_t n) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n, '0');
  for (char& c : s) c = kHex[rng() % 16];
  return s;
}

// How often shard 0 checks whether the log has grown enough for an automatic snapshot.
constexpr std::chrono::milliseconds kAutoSnapshotCheckInterval{100};

Server* g_server_for_engine = nullptr;  // one Server per process (tests run one at a time)

}  // namespace

Server* Server::FromEngine(Engine&) { return g_server_for_engine; }

Server::Server(Config* config) : config_(config), run_id_(RandomHex(40)) {
  engine_ = std::make_unique<Engine>(config, static_cast<uint32_t>(config->EffectiveShards()));
  engine_->set_deadline_handler(&RunSkuDeadlines);
  g_server_for_engine = this;
}

Server::~Server() {
  // Replication's threads wait on the shard threads (a standby applies with every shard locked).
  if (replication_) replication_->Stop();
  engine_->Stop();
  snapshotter_.reset();  // waits for a background snapshot, which writes through the WAL's db
  // After the shard threads: nothing appends any more, and the writer's last callbacks only post.
  if (wal_) wal_->Close();
  if (g_server_for_engine == this) g_server_for_engine = nullptr;
}

bool Server::OpenWal(std::string* error) {
  if (!config_->appendonly) return true;
  storage::WalOptions o;
  o.dir = config_->WalDir();
  o.env = wal_env_;
  switch (config_->appendfsync) {
    case AppendFsync::kAlways:
      o.fsync = storage::WalFsync::kAlways;
      break;
    case AppendFsync::kEverySec:
      o.fsync = storage::WalFsync::kEverySec;
      break;
    case AppendFsync::kNo:
      o.fsync = storage::WalFsync::kNo;
      break;
  }
  std::string open_error;
  wal_ = storage::Wal::Open(o, &open_error);
  if (!wal_) {
    *error = fmt::format(
        "Can't open the write-ahead log in {}: {}. Restore {} from a backup or a replica.", o.dir,
        open_error, o.dir);
    return false;
  }
  snapshotter_ = std::make_unique<Snapshotter>(*engine_, *config_, *wal_);
  const int64_t recovery_start_us = Engine::NowUs();
  uint64_t snapshot_lsn = 0;
  std::string snapshot_error;
  if (!snapshotter_->Load(&snapshot_lsn, &snapshot_error)) {
    *error =
        fmt::format("Can't load the snapshot in {}: {}. Restore {} from a backup or a replica.",
                    o.dir, snapshot_error, o.dir);
    return false;
  }
  if (wal_->last_assigned_lsn() < snapshot_lsn) {
    // Only possible when records the snapshot covers were never synced (appendfsync no): the
    // snapshot has them, so the log continues after it.
    log::Warning(
        "Write-ahead log ends at LSN {}, before the snapshot at LSN {}: continuing "
        "after the snapshot",
        wal_->last_assigned_lsn(), snapshot_lsn);
    wal_->ContinueAfter(snapshot_lsn);
  }
  if (!ReplayWal(snapshot_lsn + 1, error)) return false;
  // Neither the load nor the replay filed SKU deadlines (replay would re-file a SKU at every
  // change): each SKU is filed once now, every shard on its own thread.
  RunOnEveryShard(*engine_, [this](uint32_t shard) { FileSkuDeadlines(*engine_, shard); });
  recovery_.snapshot_lsn = snapshot_lsn;
  recovery_.snapshot_keys = snapshotter_->status().keys;
  recovery_.ms = (Engine::NowUs() - recovery_start_us) / 1000;
  Engine* engine = engine_.get();
  replication_ = std::make_unique<Replication>(*engine_, *config_, *wal_, *snapshotter_);
  if (!replication_->Load(error)) return false;
  Replication* repl = replication_.get();
  snapshotter_->set_retain_from([repl] { return repl->RetainFrom(); });
  wal_->SetOnBatch([repl](uint64_t first_lsn, const std::vector<std::string>& batch) {
    repl->OnBatch(first_lsn, batch);
  });
  // Replies wait for their records in every mode (Engine::ReplyGate): synced under always,
  // handed to RocksDB under everysec and no. Replication sends what is written, and a standby
  // acknowledges what its own gate counts as logged.
  const bool always = config_->appendfsync == AppendFsync::kAlways;
  auto notify = [engine, repl](uint64_t) {
    engine->NotifyLogged();
    repl->OnWritten();
  };
  if (always) {
    wal_->SetOnDurable(notify);
    wal_->SetOnWritten([repl](uint64_t) { repl->OnWritten(); });
  } else {
    wal_->SetOnWritten(notify);
  }
  wal_->SetOnFailed([engine](const std::string& failure) {
    log::Warning("Write-ahead log failed: {}. Writes are refused from now on; reads are served.",
                 failure);
    engine->NotifyLogged();  // waiting replies learn they will never be durable
  });
  engine_->set_wal(wal_.get(), always ? Engine::ReplyGate::kDurable : Engine::ReplyGate::kWritten);
  return true;
}

bool Server::ReplayWal(uint64_t from_lsn, std::string* error) {
  int64_t start_us = Engine::NowUs();
  std::string replay_error;
  uint64_t replayed_bytes = 0;
  Replayer replayer(*engine_, config_->databases, /*workers=*/true);
  GroupApplier applier(*engine_, config_->databases, replayer);
  storage::Wal::RecordFn replay = [&](uint64_t lsn, std::string_view bytes,
                                      const storage::WalRecord& record) {
    replayed_bytes += bytes.size();
    std::string detail;
    if (!applier.Add(lsn, record, &detail)) {
      replay_error = fmt::format("record at LSN {} could not be replayed: {}", lsn, detail);
      return false;
    }
    return true;
  };
  auto result = wal_->ForEach(from_lsn, replay);
  replayer.Finish();  // every record read is applied before the log is cut or the server starts
  const uint64_t multi_lsn = applier.open_group_lsn();
  if (multi_lsn != 0 && (result.ok() || result.problem == storage::WalReadProblem::kTornTail)) {
    // The log ends inside a transaction: it was never acknowledged (EXEC's reply waits for the
    // EXEC record), so it is cut whole, as redis-check-aof cuts an unfinished MULTI.
    log::Warning("Write-ahead log: cutting the unfinished MULTI group from LSN {} ({} records)",
                 multi_lsn, applier.open_group_records() + 1);
    if (!wal_->CutTail(multi_lsn)) {
      *error = fmt::format("Can't cut the unfinished MULTI group at LSN {} in {}: {}", multi_lsn,
                           config_->WalDir(), wal_->failure());
      return false;
    }
    result.records -= applier.open_group_records() + 1;
    result.problem = storage::WalReadProblem::kNone;  // the torn tail, if any, went with it
  }
  std::string dir = config_->WalDir();
  auto refuse = [&](const std::string& what, uint64_t lsn) {
    *error = fmt::format(
        "Can't recover from the write-ahead log in {}: {}. Restore {} from a backup or a replica; "
        "or, knowingly losing every write from LSN {} on, cut the log there with: "
        "stockd-wal truncate {} --from {} --yes",
        dir, what, dir, lsn, dir, lsn);
    return false;
  };
  switch (result.problem) {
    case storage::WalReadProblem::kNone:
      break;
    case storage::WalReadProblem::kStopped:
      return refuse(replay_error, result.last_lsn);  // the record fn refused: cut from it
    case storage::WalReadProblem::kTornTail:
      // The writer died mid-record: that record was never acknowledged, so it is cut.
      log::Warning("Write-ahead log: cutting the torn last record at LSN {} ({}: {})",
                   result.problem_lsn, storage::DecodeResultName(result.decode), result.detail);
      if (!wal_->CutTail(result.problem_lsn)) {
        return refuse(fmt::format("cutting the torn record at LSN {} failed: {}",
                                  result.problem_lsn, wal_->failure()),
                      result.problem_lsn);
      }
      break;
    default:
      return refuse(fmt::format("{} at LSN {}: {}", storage::WalReadProblemName(result.problem),
                                result.problem_lsn, result.detail),
                    result.problem_lsn);
  }
  snapshotter_->NoteReplayed(replayed_bytes);
  recovery_.replayed_records = result.records;
  log::Notice("Write-ahead log: replayed {} records from LSN {} in {} ms", result.records, from_lsn,
              (Engine::NowUs() - start_us) / 1000);
  return true;
}

bool Server::Start(std::string* error) {
  if (!OpenWal(error)) return false;
  asio::io_context& io0 = engine_->shard(0).io();
  uint16_t port = static_cast<uint16_t>(config_->port);
  for (const std::string& raw : config_->bind) {
    // Redis marks optional addresses with a leading '-': skip them if unavailable.
    bool optional = raw.starts_with("-");
    std::string addr = optional ? raw.substr(1) : raw;
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(addr == "*" ? "0.0.0.0" : addr, ec);
    if (ec) {
      *error = fmt::format("Invalid bind address '{}'", addr);
      return false;
    }
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io0);
    asio::ip::tcp::endpoint ep(ip, port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(config_->tcp_backlog, ec);
    if (ec) {
      if (optional) continue;
      *error = fmt::format("Could not create server TCP listening socket {}:{}: {}", addr, port,
                           ec.message());
      return false;
    }
    // With port 0 the first listener picks the port and the others reuse it.
    if (port == 0) port = acceptor->local_endpoint().port();
    acceptors_.push_back(std::move(acceptor));
  }
  if (acceptors_.empty()) {
    *error = "No address to listen on";
    return false;
  }
  port_ = port;
  for (size_t i = 0; i < acceptors_.size(); ++i) Accept(i);

  signals_ = std::make_unique<asio::signal_set>(io0, SIGTERM, SIGINT);
  signals_->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    RequestShutdown(sig == SIGTERM ? "Received SIGTERM scheduling shutdown..."
                                   : "Received SIGINT scheduling shutdown...");
  });
  ops_timer_ = std::make_unique<asio::steady_timer>(io0);
  SampleOps();
  idle_timer_ = std::make_unique<asio::steady_timer>(io0);
  CloseIdleClients();
  if (snapshotter_) {
    snapshot_timer_ = std::make_unique<asio::steady_timer>(io0);
    CheckAutoSnapshot();
  }
  engine_->Start();
  if (replication_) {
    replication_->set_listening_port(port_);
    replication_->Start();
  }
  return true;
}

void Server::Accept(size_t listener) {
  uint32_t thread = next_thread_++ % engine_->shard_count();
  acceptors_[listener]->async_accept(
      engine_->shard(thread).io(),
      [this, listener, thread](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) OnAccepted(listener, std::move(s), thread);
        Accept(listener);
      });
}

void Server::OnAccepted(size_t, asio::ip::tcp::socket socket, uint32_t thread) {
  ShardThread& home = engine_->shard(thread);
  ThreadStats& stats = engine_->shard(0).stats();  // the accepting thread's counters
  stats.total_connections_received.Add();
  auto refuse = [&](std::string_view message) {
    stats.rejected_connections.Add();
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(message), ec);  // best effort, like Redis
    socket.close(ec);
  };
  if (clients_.count() >= static_cast<size_t>(config_->maxclients.load())) {
    refuse("-ERR max number of clients reached\r\n");
    return;
  }
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (config_->protected_mode.load() && config_->requirepass().empty() && !ec &&
      !remote.address().is_loopback()) {
    refuse(
        "-DENIED Running in protected mode because protected mode is enabled and no password is "
        "set for the default user. In this mode connections are only accepted from the loopback "
        "interface. Set a password with 'requirepass', or disable protected mode with "
        "'protected-mode no'.\r\n");
    return;
  }
  auto conn = std::make_shared<Connection>(*engine_, home, std::move(socket), clients_);
  clients_.Add(conn);
  asio::post(home.io(), [conn] { conn->Start(); });
}

void Server::SampleOps() {
  uint64_t total = 0;
  for (uint32_t i = 0; i < engine_->shard_count(); ++i) {
    total += engine_->shard(i).stats().total_commands_processed.Get();
  }
  int64_t now = Engine::NowMs();
  if (ops_last_ms_ != 0 && now > ops_last_ms_) {
    int64_t ops = static_cast<int64_t>((total - ops_last_total_) * 1000 / (now - ops_last_ms_));
    ops_samples_[ops_sample_index_].store(ops, std::memory_order_relaxed);
    ops_sample_index_ = (ops_sample_index_ + 1) % kOpsSamples;
  }
  ops_last_total_ = total;
  ops_last_ms_ = now;
  ops_timer_->expires_after(std::chrono::milliseconds(100));
  ops_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) SampleOps();
  });
}

void Server::CloseIdleClients() {
  int timeout_s = config_->timeout.load(std::memory_order_relaxed);
  if (timeout_s > 0) {
    int64_t now = Engine::NowMs();
    for (auto& c : clients_.Snapshot()) {
      int64_t idle_ms = now - c->info().last_interaction_ms.load(std::memory_order_relaxed);
      if (idle_ms > static_cast<int64_t>(timeout_s) * 1000) {
        log::Verbose("Closing idle client id={} addr={}", c->id(), c->info().addr);
        c->Kill();
      }
    }
  }
  idle_timer_->expires_after(std::chrono::seconds(1));
  idle_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) CloseIdleClients();
  });
}

void Server::CheckAutoSnapshot() {
  if (!auto_snapshot_pending_.load() && snapshotter_->Due()) {
    auto_snapshot_pending_.store(true);
    engine_->RunLocked(
        engine_->AllShards(),
        [this] {
          std::string error;
          if (snapshotter_->Take(/*background=*/true, &error)) return;
          // Another one started meanwhile (BGSAVE): nothing to do. Any other refusal is a WAL
          // failure, which INFO already reports.
          log::Verbose("Automatic snapshot not taken: {}", error);
        },
        engine_->shard(0).io(), [this] { auto_snapshot_pending_.store(false); });
  }
  snapshot_timer_->expires_after(kAutoSnapshotCheckInterval);
  snapshot_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) CheckAutoSnapshot();
  });
}

int64_t Server::InstantaneousOps() const {
  int64_t sum = 0;
  for (const auto& s : ops_samples_) sum += s.load(std::memory_order_relaxed);
  return sum / kOpsSamples;
}

void Server::RequestShutdown(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_requested_) return;
    shutdown_requested_ = true;
  }
  log::Warning("{}", reason);
  // Stop accepting and close clients on shard 0's thread (the acceptors live there), then let
  // the main thread stop the engine.
  asio::post(engine_->shard(0).io(), [this] {
    boost::system::error_code ec;
    for (auto& a : acceptors_) a->close(ec);
    if (signals_) signals_->cancel(ec);
    if (ops_timer_) ops_timer_->cancel();
    if (idle_timer_) idle_timer_->cancel();
    if (snapshot_timer_) snapshot_timer_->cancel();
    for (auto& c : clients_.Snapshot()) c->Kill();
    std::lock_guard lock(mu_);
    shutdown_done_ = true;
    cv_.notify_all();
  });
}

void Server::WaitForShutdown() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return shutdown_done_; });
  lock.unlock();
  if (replication_) replication_->Stop();
  engine_->Stop();
  // A clean shutdown writes and syncs whatever is queued.
  if (wal_) wal_->Close();
  log::Notice("stockd is now ready to exit, bye bye...");
}

}  // namespace stockd::server
