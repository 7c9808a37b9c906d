#include "server/replication.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <future>
#include <optional>

#include "protocol/resp_reader.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/engine.h"
#include "server/replay.h"
#include "server/snapshotter.h"
#include "storage/log.h"
#include "storage/snapshot.h"
#include "storage/wal_record.h"

namespace stockd::server {
namespace {

using replication::EpochHistory;

constexpr std::string_view kReadOnlyReplica =
    "READONLY You can't write against a read only replica.";
constexpr std::string_view kNoReplicas = "NOREPLICAS Not enough good replicas to write.";
// Bytes one read of a link asks for.
constexpr size_t kReplReadChunkBytes = 64 << 10;

void NameThread(const char* name) { pthread_setname_np(pthread_self(), name); }

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// A RESP array of bulk strings: every frame of the protocol, both ways.
void AppendFrame(std::string* out, std::initializer_list<std::string_view> parts) {
  *out += fmt::format("*{}\r\n", parts.size());
  for (std::string_view p : parts) {
    *out += fmt::format("${}\r\n", p.size());
    out->append(p);
    *out += "\r\n";
  }
}

// Blocking I/O on a socket with the timeouts set on it (SO_RCVTIMEO / SO_SNDTIMEO).
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

}  // namespace

// Reads RESP values from a blocking socket.
class ReplFrameReader {
 public:
  ReplFrameReader(int fd, size_t frame_bytes_max) : fd_(fd), frame_bytes_max_(frame_bytes_max) {}
  // The next value, or nullopt (with *error) on EOF, a timeout, a protocol error or a frame
  // over frame_bytes_max.
  std::optional<protocol::RespValue> Next(std::string* error) {
    while (true) {
      if (pos_ < buf_.size()) {
        size_t consumed = 0;
        std::string parse_error;
        auto v = protocol::RespReader::Read(std::string_view(buf_).substr(pos_), &consumed,
                                            &parse_error);
        if (v) {
          pos_ += consumed;
          return v;
        }
        if (!parse_error.empty()) {
          *error = "protocol error: " + parse_error;
          return std::nullopt;
        }
        if (buf_.size() - pos_ > frame_bytes_max_) {
          *error = fmt::format("a frame over {} bytes", frame_bytes_max_);
          return std::nullopt;
        }
      }
      if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
      } else if (pos_ > (1 << 20)) {
        buf_.erase(0, pos_);
        pos_ = 0;
      }
      size_t old = buf_.size();
      buf_.resize(old + kReplReadChunkBytes);
      ssize_t n;
      do {
        n = ::recv(fd_, buf_.data() + old, kReplReadChunkBytes, 0);
      } while (n < 0 && errno == EINTR);
      buf_.resize(old + std::max<ssize_t>(n, 0));
      if (n == 0) {
        *error = "connection closed";
        return std::nullopt;
      }
      if (n < 0) {
        *error = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno);
        return std::nullopt;
      }
    }
  }
  // True when a complete value may be buffered (no read needed to try).
  bool buffered() const { return pos_ < buf_.size(); }

 private:
  int fd_;
  size_t frame_bytes_max_;
  std::string buf_;
  size_t pos_ = 0;
};

namespace {

// Connects to host:port within kReplConnectTimeout; -1 with *error otherwise.
int Connect(const std::string& host, int port, std::string* error) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    *error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      *error = strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (::poll(&p, 1, static_cast<int>(kReplConnectTimeout.count())) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
      *error = soerr != 0 ? strerror(soerr) : "connect timed out";
      ::close(fd);
      fd = -1;
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  }
  freeaddrinfo(res);
  return fd;
}

// Runs fn with every shard locked, from a thread that is not a shard thread, and waits for it.
template <typename Fn>
auto RunLockedAndWait(Engine& engine, Fn fn) {
  using R = decltype(fn());
  std::promise<R> done;
  auto result = done.get_future();
  engine.RunLocked(
      engine.AllShards(), [&] { done.set_value(fn()); }, engine.shard(0).io(), [] {});
  return result.get();
}

// "+WORD a b c" -> {"WORD", "a", "b", "c"} (an empty trailing field is kept: an empty history).
std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> words;
  size_t start = 0;
  while (true) {
    size_t space = s.find(' ', start);
    words.push_back(s.substr(start, space - start));
    if (space == std::string::npos) return words;
    start = space + 1;
  }
}

}  // namespace

std::string_view SyncStateName(SyncState s) {
  switch (s) {
    case SyncState::kAsync:
      return "async";
    case SyncState::kSync:
      return "sync";
    case SyncState::kRefusing:
      return "refusing";
    case SyncState::kDegraded:
      return "degraded";
  }
  return "async";
}

struct Replication::Link {
  int fd = -1;
  std::string ip;
  int port = 0;
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> retain_from{0};  // the first LSN it may still need
  std::atomic<int64_t> last_ack_ms{0};
  std::atomic<bool> streaming{false};
  std::atomic<bool> closed{false};
  // The sender and reader threads still running. The cron joins and frees a link only once both
  // have finished, so that a thread never holds the last reference to its own link (it would
  // join itself).
  std::atomic<int> running{0};
  std::thread sender;
  std::thread reader;

  void Close() {
    if (!closed.exchange(true)) ::shutdown(fd, SHUT_RDWR);
  }
  ~Link() {
    Close();
    if (sender.joinable()) sender.join();
    if (reader.joinable()) reader.join();
    ::close(fd);
  }
};

Replication::Replication(Engine& engine, Config& config, storage::Wal& wal,
                         Snapshotter& snapshotter)
    : engine_(engine), config_(config), wal_(wal), snapshotter_(snapshotter) {}

Replication::~Replication() { Stop(); }

bool Replication::Load(std::string* error) {
  std::lock_guard lock(mu_);
  if (!EpochHistory::Load(wal_.db(), &history_, error)) return false;
  if (!config_.replicaof_host.empty()) {
    standby_ = true;
    master_host_ = config_.replicaof_host;
    master_port_ = config_.replicaof_port;
    engine_.set_standby(true);
  }
  ApplyRoleLocked();
  return true;
}

void Replication::Start() {
  cron_ = std::thread([this] {
    NameThread("stockd-repl");
    RunCron();
  });
  std::lock_guard lock(mu_);
  if (standby_) {
    uint64_t generation = ++generation_;
    followers_.emplace_back([this, generation] {
      NameThread("stockd-follow");
      RunFollower(generation);
    });
  }
}

void Replication::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    ++generation_;
    for (auto& link : links_) link->Close();
    if (follower_fd_ >= 0) ::shutdown(follower_fd_, SHUT_RDWR);
  }
  OnWritten();
  if (cron_.joinable()) cron_.join();
  std::vector<std::thread> followers, fencers;
  std::list<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(mu_);
    followers.swap(followers_);
    fencers.swap(fencers_);
    links.swap(links_);
  }
  for (auto& t : followers) t.join();
  for (auto& t : fencers) t.join();
  links.clear();  // joins each link's threads
}

bool Replication::following(uint64_t generation) const {
  std::lock_guard lock(mu_);
  return standby_ && generation_ == generation && !stopping_.load();
}

void Replication::ApplyRoleLocked() {
  std::string refusal;
  uint64_t gate = UINT64_MAX;
  if (standby_) {
    refusal = kReadOnlyReplica;
  } else if (failover_link_ != nullptr) {
    refusal = "READONLY A planned failover is in progress: write to the new primary once it ends.";
  } else if (fenced_by_ != 0) {
    refusal = fmt::format(
        "READONLY This primary is stale: epoch {} is newer than its epoch {}. Make it a standby "
        "with REPLICAOF.",
        fenced_by_, history_.current());
  } else if (sync_state_ == SyncState::kRefusing) {
    refusal = kNoReplicas;
  }
  if (!standby_ && (sync_state_ == SyncState::kSync || sync_state_ == SyncState::kRefusing)) {
    gate = acked_lsn_.load();
  }
  engine_.set_write_refusal(std::move(refusal));
  engine_.set_repl_gate_lsn(gate);
  engine_.NotifyLogged();
}

// ---------------------------------------------------------------------------------------------
// Role changes (REPLICAOF runs with every shard locked: nothing applies or appends meanwhile)

std::string Replication::Follow(const std::string& host, int port) {
  std::lock_guard lock(mu_);
  if (standby_ && master_host_ == host && master_port_ == port) return "";
  const bool was_primary = !standby_;
  standby_ = true;
  ++fence_generation_;  // a standby tells nobody it is newer
  fenced_by_ = 0;
  master_host_ = host;
  master_port_ = port;
  link_state_ = "connect";
  engine_.set_standby(true);
  if (was_primary) {
    // Replies still waiting for a standby's acknowledgement (sync mode) must not go out once the
    // gate opens below: their records may be cut by the handshake. Their clients are closed.
    engine_.DropLoggedWaiters();
    for (auto& link : links_) link->Close();
    log::Notice("Becoming a standby of {}:{} (epoch {})", host, port, history_.current());
  } else {
    log::Notice("Following {}:{} instead", host, port);
  }
  ApplyRoleLocked();
  if (follower_fd_ >= 0) ::shutdown(follower_fd_, SHUT_RDWR);  // the old follower stops at once
  uint64_t generation = ++generation_;
  followers_.emplace_back([this, generation] {
    NameThread("stockd-follow");
    RunFollower(generation);
  });
  return "";
}

std::string Replication::Promote() {
  std::lock_guard lock(mu_);
  if (!standby_) return "";
  ++generation_;  // the follower stops before its next batch (it waits for these locks)
  if (follower_fd_ >= 0) ::shutdown(follower_fd_, SHUT_RDWR);
  const uint64_t epoch = std::max(history_.current(), fenced_by_) + 1;
  const uint64_t lsn = wal_.last_assigned_lsn() + 1;
  EpochHistory next = history_;
  std::string error;
  if (!next.Begin(epoch, lsn) || !next.Save(wal_.db(), &error)) {
    return fmt::format("ERR cannot start epoch {}: {}", epoch, error);
  }
  if (wal_.Append(storage::EncodeEpochRecord(epoch)) != lsn) {
    return fmt::format("MISCONF cannot log epoch {}: {}", epoch, wal_.failure());
  }
  history_ = std::move(next);
  standby_ = false;
  fenced_by_ = 0;
  engine_.set_standby(false);
  // Everything before the epoch record came from the former primary: no reply waits on it.
  acked_lsn_.store(lsn - 1);
  last_progress_ms_ = Engine::NowMs();
  // Deadlines: a standby keeps none filed (its primary's records expire things); a primary must.
  for (uint32_t i = 0; i < engine_.shard_count(); ++i) {
    FileSkuDeadlines(engine_, i);
    engine_.WakeDeadlineTimer(i, engine_.shard(i).data().next_sku_deadline_ms());
  }
  ApplyRoleLocked();
  log::Notice("Promoted: primary in epoch {} from LSN {} (formerly a standby of {}:{})", epoch, lsn,
              master_host_, master_port_);
  // A former primary that was only paused must learn it is stale as soon as it can hear it.
  // Never joined here (it may be waiting on a peer, and every shard is locked): an older
  // fencer sees the generation move and ends by itself; Stop joins them all.
  const uint64_t fence_generation = ++fence_generation_;
  fencers_.emplace_back([this, host = master_host_, port = master_port_, epoch, fence_generation] {
    NameThread("stockd-fence");
    RunFencer(host, port, epoch, fence_generation);
  });
  master_host_.clear();
  master_port_ = 0;
  return "";
}

void Replication::NoteEpoch(uint64_t epoch) { Fence(epoch); }

std::string Replication::StartFailover(const std::string& host, int port, int64_t timeout_ms,
                                       bool force) {
  std::lock_guard lock(mu_);
  if (standby_) return "ERR FAILOVER is not valid when server is a replica.";
  if (failover_link_ != nullptr) return "ERR FAILOVER already in progress.";
  if (fenced_by_ != 0) return "ERR FAILOVER is not valid on a fenced (stale) primary.";
  Link* target = nullptr;
  for (auto& link : links_) {
    if (!link->streaming || link->closed) continue;
    if (!host.empty() && (link->ip != host || link->port != port)) continue;
    target = link.get();
    break;
  }
  if (target == nullptr) {
    return host.empty() ? "ERR FAILOVER requires connected replicas."
                        : "ERR FAILOVER target HOST and PORT is not a replica.";
  }
  failover_link_ = target;
  failover_deadline_ms_ = timeout_ms > 0 ? Engine::NowMs() + timeout_ms : 0;
  failover_force_ = force;
  failover_promote_sent_ = false;
  failover_pending_ = true;
  // No new records from now on: writes are refused, and the timers that write (SKU deadlines,
  // active expiry) stop as on a standby.
  engine_.set_standby(true);
  ApplyRoleLocked();
  log::Notice("FAILOVER to {}:{}: writes stopped at LSN {}; waiting for the standby", target->ip,
              target->port, wal_.last_assigned_lsn());
  OnWritten();
  return "";
}

std::string Replication::AbortFailover() {
  std::lock_guard lock(mu_);
  if (failover_link_ == nullptr) return "ERR No failover in progress.";
  if (failover_promote_sent_) return "ERR Failover is past the point where it can be aborted.";
  EndFailoverLocked("aborted");
  return "";
}

void Replication::EndFailoverLocked(std::string_view why) {
  log::Notice("FAILOVER {}: accepting writes again", why);
  failover_link_ = nullptr;
  failover_pending_ = false;
  engine_.set_standby(false);
  ApplyRoleLocked();
}

bool Replication::FailoverReady(Link& link, uint64_t sent_lsn) {
  if (!failover_pending_.load()) return false;
  std::lock_guard lock(mu_);
  if (failover_link_ != &link || failover_promote_sent_) return false;
  const uint64_t last = wal_.last_assigned_lsn();
  const bool forced =
      failover_force_ && failover_deadline_ms_ != 0 && Engine::NowMs() >= failover_deadline_ms_;
  if (!forced && (sent_lsn < last || link.acked.load() < last)) return false;
  failover_promote_sent_ = true;
  log::Notice("FAILOVER: standby {}:{} has LSN {}{}: telling it to take over", link.ip, link.port,
              link.acked.load(), forced ? " (FORCE at the timeout)" : "");
  return true;
}

void Replication::UpdateFailover() {
  std::string host;
  int port = 0;
  {
    std::lock_guard lock(mu_);
    if (failover_link_ == nullptr) return;
    if (failover_promote_sent_) {
      // The standby promotes itself on PROMOTE; this node follows it from now on.
      host = failover_link_->ip;
      port = failover_link_->port;
      failover_link_ = nullptr;
      failover_pending_ = false;
    } else if (failover_link_->closed) {
      EndFailoverLocked("aborted: the standby's link was lost");
      return;
    } else if (failover_deadline_ms_ != 0 && Engine::NowMs() >= failover_deadline_ms_ &&
               !failover_force_) {
      EndFailoverLocked("timed out before the standby caught up");
      return;
    } else {
      return;
    }
  }
  log::Notice("FAILOVER: following the new primary {}:{}", host, port);
  Follow(host, port);
}

void Replication::Fence(uint64_t epoch) {
  std::lock_guard lock(mu_);
  if (standby_ || epoch <= history_.current() || epoch <= fenced_by_) return;
  fenced_by_ = epoch;
  log::Warning("Fenced: epoch {} is newer than this primary's epoch {}; writes are refused", epoch,
               history_.current());
  ApplyRoleLocked();
}

void Replication::RunFencer(std::string host, int port, uint64_t epoch, uint64_t generation) {
  const auto until = std::chrono::steady_clock::now() + kReplFenceRetry;
  while (!stopping_.load() && fence_generation_.load() == generation &&
         std::chrono::steady_clock::now() < until) {
    std::string error;
    int fd = Connect(host, port, &error);
    if (fd >= 0) {
      // A paused former primary accepts the connection (its kernel does) but answers only when
      // it resumes: wait long enough for that, so it is fenced the moment it runs again.
      SetTimeouts(fd, kReplFenceReplyTimeout);
      std::string frame;
      AppendFrame(&frame, {"REPLCONF", "EPOCH", std::to_string(epoch)});
      ReplFrameReader reader(fd, kReplAckFrameBytesMax);
      std::optional<protocol::RespValue> reply;
      if (WriteAll(fd, frame)) reply = reader.Next(&error);
      ::close(fd);
      if (reply && reply->type == protocol::RespValue::Type::kSimpleString) {
        log::Notice("Told the former primary {}:{} of epoch {}", host, port, epoch);
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// ---------------------------------------------------------------------------------------------
// Primary side

void Replication::ServeStandby(int fd, std::string ip, int listening_port, EpochHistory standby,
                               uint64_t standby_last_lsn) {
  auto link = std::make_shared<Link>();
  link->fd = fd;
  link->ip = std::move(ip);
  link->port = listening_port;
  link->retain_from = std::min(standby_last_lsn + 1, wal_.last_assigned_lsn() + 1);
  SetTimeouts(fd, std::chrono::seconds(config_.repl_timeout.load()));
  std::lock_guard lock(mu_);
  std::string refusal;
  if (standby_) refusal = "-ERR this node is a standby: replicate from its primary\r\n";
  if (stopping_.load()) refusal = "-ERR shutting down\r\n";
  size_t live = std::count_if(links_.begin(), links_.end(), [](auto& l) { return !l->closed; });
  if (live >= kReplStandbysMax) {
    refusal = fmt::format("-ERR this primary already serves {} standbys\r\n", kReplStandbysMax);
  }
  if (!refusal.empty()) {
    WriteAll(fd, refusal);
    link->closed = true;
    return;  // the link closes the socket
  }
  links_.push_back(link);
  has_links_ = true;
  link->running = 1;
  link->sender =
      std::thread([this, l = link.get(), standby = std::move(standby), standby_last_lsn] {
        NameThread("stockd-send");
        RunSender(*l, standby, standby_last_lsn);
        l->Close();
        l->running--;
      });
}

void Replication::RunSender(Link& l, EpochHistory standby, uint64_t standby_last_lsn) {
  Link* link = &l;
  uint64_t next = 0;
  std::string out;
  {
    std::unique_lock lock(mu_);
    const uint64_t last = wal_.last_assigned_lsn();
    std::optional<uint64_t> fork = history_.ForkLsn(standby, standby_last_lsn, last);
    if (!fork) {
      lock.unlock();
      WriteAll(link->fd,
               fmt::format("-STALE the standby is in epoch {}, newer than this node's {}\r\n",
                           standby.current(), history_.current()));
      Fence(standby.current());
      return;
    }
    std::string history = history_.Encode();
    lock.unlock();
    // The log must still hold the record after the fork (snapshots trim it); otherwise the
    // standby starts again from the newest snapshot.
    bool have_next = *fork >= last;
    if (!have_next) {
      storage::WalReadResult probe =
          wal_.ForEach(*fork + 1, [](uint64_t, std::string_view) { return false; });
      have_next = probe.problem == storage::WalReadProblem::kStopped;
    }
    if (have_next) {
      next = *fork + 1;
      link->retain_from = next;
      out = fmt::format("+CONTINUE {} {}\r\n", *fork, history);
    } else {
      std::string error;
      if (!WriteAll(link->fd, fmt::format("+FULLSYNC {}\r\n", history)) ||
          !SendSnapshot(*link, &next, &error)) {
        log::Warning("Standby {}:{}: full sync failed: {}", link->ip, link->port, error);
        return;
      }
    }
  }
  log::Notice("Standby {}:{} connected: streaming from LSN {}", link->ip, link->port, next);
  link->streaming = true;
  link->running++;
  link->reader = std::thread([this, link] {
    NameThread("stockd-acks");
    RunReader(*link);
    link->Close();
    OnWritten();  // the sender stops waiting
    link->running--;
  });
  auto last_send = std::chrono::steady_clock::now();
  while (!link->closed.load() && !stopping_.load()) {
    uint64_t seq;
    {
      std::lock_guard lock(wake_mu_);
      seq = wake_seq_;
    }
    if (uint64_t after = CopyFromTail(next, &out); after != next) {
      next = after;
    } else if (wal_.written_lsn() >= next) {
      std::string error;
      storage::WalReadResult r = wal_.ForEach(next, [&](uint64_t lsn, std::string_view bytes) {
        AppendFrame(&out, {"LOG", std::to_string(lsn), bytes});
        next = lsn + 1;
        if (out.size() >= kReplSendBufferBytes) {
          if (!WriteAll(link->fd, out)) return false;
          out.clear();
        }
        return true;
      });
      if (!r.ok()) {
        if (!link->closed.load()) {
          log::Warning("Standby {}:{}: stopped streaming at LSN {}: {}", link->ip, link->port, next,
                       r.problem == storage::WalReadProblem::kStopped ? "write failed" : r.detail);
        }
        return;
      }
    }
    if (out.empty() && std::chrono::steady_clock::now() - last_send >= kReplHeartbeatInterval) {
      AppendFrame(&out, {"PING", std::to_string(next - 1)});
    }
    if (FailoverReady(*link, next - 1)) AppendFrame(&out, {"PROMOTE"});
    // A full buffer means the tail may hold more: look again at once.
    const bool more = out.size() >= kReplSendBufferBytes;
    if (!out.empty()) {
      if (!WriteAll(link->fd, out)) return;
      out.clear();
      last_send = std::chrono::steady_clock::now();
    }
    if (more) continue;
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, kReplHeartbeatInterval,
                      [&] { return wake_seq_ != seq || link->closed.load() || stopping_.load(); });
  }
}

bool Replication::SendSnapshot(Link& link, uint64_t* next_lsn, std::string* error) {
  const rocksdb::Snapshot* view = wal_.db()->GetSnapshot();
  auto release = [&] { wal_.db()->ReleaseSnapshot(view); };
  std::optional<storage::SnapshotInfo> info;
  if (!storage::FindNewestSnapshot(wal_.db(), wal_.snapshot_cf(), &info, error, view)) {
    release();
    return false;
  }
  if (!info) {
    release();
    *error = "the log is trimmed but there is no snapshot";
    return false;
  }
  // Keep the log after the snapshot while it is sent (the snapshot itself is read as of `view`).
  link.retain_from = info->lsn + 1;
  full_syncs_++;
  log::Notice("Standby {}:{}: full sync from the snapshot at LSN {} ({} keys, {} bytes)", link.ip,
              link.port, info->lsn, info->keys, info->bytes);
  std::string out;
  AppendFrame(&out, {"SNAPSHOT", std::to_string(info->lsn), std::to_string(info->created_ms),
                     std::to_string(info->keys), std::to_string(info->chunks),
                     std::to_string(info->databases)});
  bool ok = storage::ReadSnapshotChunks(
      wal_.db(), wal_.snapshot_cf(), *info, view,
      [&](uint64_t, std::string_view chunk) {
        AppendFrame(&out, {"CHUNK", chunk});
        if (out.size() < kReplSendBufferBytes) return true;
        bool sent = WriteAll(link.fd, out);
        out.clear();
        return sent;
      },
      error);
  release();
  if (!ok) return false;
  AppendFrame(&out, {"SNAPEND"});
  if (!WriteAll(link.fd, out)) {
    *error = "write failed";
    return false;
  }
  *next_lsn = info->lsn + 1;
  return true;
}

void Replication::RunReader(Link& l) {
  Link* link = &l;
  ReplFrameReader reader(link->fd, kReplAckFrameBytesMax);
  while (!link->closed.load()) {
    std::string error;
    std::optional<protocol::RespValue> v = reader.Next(&error);
    if (!v) {
      if (!link->closed.load()) {
        log::Warning("Standby {}:{}: link lost: {}", link->ip, link->port, error);
      }
      return;
    }
    uint64_t lsn = 0;
    if (v->type != protocol::RespValue::Type::kArray || v->elements.size() != 3 ||
        !EqualsIgnoreCase(v->elements[0].str, "REPLCONF") ||
        !EqualsIgnoreCase(v->elements[1].str, "ACK") || !ParseU64(v->elements[2].str, &lsn)) {
      log::Warning("Standby {}:{}: unexpected frame {}", link->ip, link->port, v->ToString());
      return;
    }
    link->acked = lsn;
    link->retain_from = lsn + 1;
    if (failover_pending_.load()) OnWritten();  // the sender checks whether it caught up
    link->last_ack_ms = Engine::NowMs();
    uint64_t best = acked_lsn_.load();
    while (best < lsn && !acked_lsn_.compare_exchange_weak(best, lsn)) {
    }
    SyncState state = sync_state_.load();
    if (lsn > best && (state == SyncState::kSync || state == SyncState::kRefusing)) {
      engine_.set_repl_gate_lsn(acked_lsn_.load());
      engine_.NotifyLogged();
    }
  }
}

int Replication::AckedCount(uint64_t lsn) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& link : links_) {
    if (link->streaming && !link->closed && link->acked >= lsn) ++n;
  }
  return n;
}

uint64_t Replication::RetainFrom() const {
  std::lock_guard lock(mu_);
  uint64_t from = UINT64_MAX;
  for (const auto& link : links_) {
    if (!link->closed) from = std::min(from, link->retain_from.load());
  }
  return from;
}

void Replication::OnWritten() {
  {
    std::lock_guard lock(wake_mu_);
    ++wake_seq_;
  }
  wake_cv_.notify_all();
}

void Replication::OnBatch(uint64_t first_lsn, const std::vector<std::string>& batch) {
  if (!has_links_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(tail_mu_);
    if (!tail_.empty() && tail_.back().first + 1 != first_lsn) {
      tail_.clear();  // not contiguous (a cut): start again
      tail_bytes_ = 0;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      tail_.emplace_back(first_lsn + i, batch[i]);
      tail_bytes_ += batch[i].size();
    }
    while (tail_bytes_ > kReplTailBytesMax && tail_.size() > 1) {
      tail_bytes_ -= tail_.front().second.size();
      tail_.pop_front();
    }
  }
  OnWritten();
}

uint64_t Replication::CopyFromTail(uint64_t next, std::string* out) {
  std::lock_guard lock(tail_mu_);
  if (tail_.empty() || next < tail_.front().first || next > tail_.back().first) return next;
  for (size_t i = next - tail_.front().first; i < tail_.size(); ++i) {
    AppendFrame(out, {"LOG", std::to_string(tail_[i].first), tail_[i].second});
    next = tail_[i].first + 1;
    if (out->size() >= kReplSendBufferBytes) break;
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
// The cron thread: sync mode and reaping

void Replication::RunCron() {
  while (!stopping_.load()) {
    std::this_thread::sleep_for(kReplCronInterval);
    UpdateSyncState();
    UpdateFailover();
    std::list<std::shared_ptr<Link>> closed;
    {
      std::lock_guard lock(mu_);
      for (auto it = links_.begin(); it != links_.end();) {
        if ((*it)->closed.load() && (*it)->running.load() == 0) {
          closed.push_back(std::move(*it));
          it = links_.erase(it);
        } else {
          ++it;
        }
      }
      if (links_.empty() && has_links_.exchange(false)) {
        std::lock_guard tail_lock(tail_mu_);
        tail_.clear();
        tail_bytes_ = 0;
      }
    }
    closed.clear();  // joins their threads, outside mu_
  }
}

void Replication::UpdateSyncState() {
  std::lock_guard lock(mu_);
  if (standby_) return;
  const SyncState before = sync_state_.load();
  SyncState state = before;
  const int64_t now = Engine::NowMs();
  const uint64_t written = wal_.last_assigned_lsn();
  const uint64_t acked = acked_lsn_.load();
  if (config_.repl_ack.load() == ReplAck::kAsync) {
    state = SyncState::kAsync;
  } else {
    if (acked >= written) last_progress_ms_ = now;
    const bool stalled =
        acked < written && now - last_progress_ms_ > config_.repl_sync_timeout.load();
    // Caught up: a streaming standby has everything that was written a cron tick ago (under load
    // the very latest records are always in flight).
    bool streaming = std::any_of(links_.begin(), links_.end(),
                                 [](auto& l) { return l->streaming && !l->closed; });
    const bool caught_up = streaming && acked >= written_at_last_tick_;
    switch (state) {
      case SyncState::kAsync:
        state = SyncState::kSync;
        last_progress_ms_ = now;
        break;
      case SyncState::kSync:
        if (stalled) {
          state = config_.repl_sync_fallback.load() == ReplSyncFallback::kRefuse
                      ? SyncState::kRefusing
                      : SyncState::kDegraded;
        }
        break;
      case SyncState::kRefusing:
      case SyncState::kDegraded:
        if (caught_up) {
          state = SyncState::kSync;
          last_progress_ms_ = now;
        }
        break;
    }
  }
  written_at_last_tick_ = written;
  if (state == before) return;
  sync_state_.store(state);
  if (state == SyncState::kRefusing || state == SyncState::kDegraded) {
    log::Warning(
        "Sync replication: no standby acknowledged LSN {} within {} ms: {}", acked + 1,
        config_.repl_sync_timeout.load(),
        state == SyncState::kRefusing ? "refusing writes" : "acknowledging asynchronously");
  } else if (before != SyncState::kAsync && state == SyncState::kSync) {
    log::Notice("Sync replication: a standby caught up (LSN {}); acknowledging synchronously",
                acked);
  }
  ApplyRoleLocked();
}

ReplicationStatus Replication::status() const {
  std::lock_guard lock(mu_);
  ReplicationStatus s;
  s.standby = standby_;
  s.epoch = history_.current();
  s.last_lsn = wal_.last_assigned_lsn();
  for (const auto& link : links_) {
    if (link->closed) continue;
    s.standbys.push_back({link->ip, link->port, link->acked.load(), link->last_ack_ms.load(),
                          link->streaming.load()});
  }
  s.sync_state = sync_state_.load();
  s.acked_lsn = acked_lsn_.load();
  s.fenced_by = fenced_by_;
  if (failover_link_ != nullptr) {
    s.failover_state = failover_promote_sent_ ? "failover-in-progress" : "waiting-for-sync";
  }
  s.master_host = master_host_;
  s.master_port = master_port_;
  s.link_state = link_state_;
  s.last_io_ms = last_io_ms_.load();
  s.cut_records = cut_records_.load();
  s.full_syncs = full_syncs_.load();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Standby side

void Replication::set_listening_port(int port) { listening_port_.store(port); }

bool Replication::RebuildLocked(std::string* error) {
  for (uint32_t i = 0; i < engine_.shard_count(); ++i) {
    storage::Shard& data = engine_.shard(i).data();
    for (int db = 0; db < data.databases(); ++db) data.db(db).Clear();
    data.AllKeysModified(-1);
    data.last_write_lsn = 0;
  }
  uint64_t snapshot_lsn = 0;
  if (!snapshotter_.Load(&snapshot_lsn, error)) return false;
  Replayer replayer(engine_, config_.databases, /*workers=*/false);
  GroupApplier applier(engine_, config_.databases, replayer);
  std::string apply_error;
  storage::WalReadResult r = wal_.ForEach(
      snapshot_lsn + 1, [&](uint64_t lsn, std::string_view, const storage::WalRecord& record) {
        return applier.Add(lsn, record, &apply_error);
      });
  if (!r.ok()) {
    *error = apply_error.empty() ? r.detail : apply_error;
    return false;
  }
  log::Notice("Rebuilt the state from the snapshot at LSN {} and {} records of the log",
              snapshot_lsn, r.records);
  return true;
}

bool Replication::Handshake(uint64_t generation, int fd, ReplFrameReader& reader,
                            const std::string& host, int port, std::string* error) {
  uint64_t last_lsn = 0;
  EpochHistory own;
  {
    std::lock_guard lock(mu_);
    last_lsn = wal_.last_assigned_lsn();
    own = history_;
  }
  std::string frame;
  AppendFrame(&frame, {"REPLSYNC", std::to_string(listening_port_.load()), std::to_string(last_lsn),
                       own.Encode()});
  if (!WriteAll(fd, frame)) {
    *error = "write failed";
    return false;
  }
  std::optional<protocol::RespValue> reply = reader.Next(error);
  if (!reply) return false;
  if (reply->type != protocol::RespValue::Type::kSimpleString) {
    *error = "the primary refused: " + reply->ToString();
    return false;
  }
  std::vector<std::string> words = SplitWords(reply->str);
  const bool full = words[0] == "FULLSYNC" && words.size() == 2;
  uint64_t fork = 0;
  if (!full && !(words[0] == "CONTINUE" && words.size() == 3 && ParseU64(words[1], &fork))) {
    *error = "unexpected handshake reply: " + reply->str.substr(0, 200);
    return false;
  }
  std::optional<EpochHistory> primary = EpochHistory::Decode(words.back());
  if (!primary || primary->current() < own.current()) {
    *error =
        fmt::format("the primary's epoch history '{}' is older than or not after this node's '{}'",
                    words.back().substr(0, 200), own.Encode());
    return false;
  }
  if (full) return ReceiveFullSync(generation, reader, *primary, error);
  if (fork >= last_lsn) return true;
  // This node has records after the fork that its primary never had: a former primary that kept
  // writing, never acknowledged under sync.
  if (fork < snapshotter_.status().lsn) {
    // Its own snapshot already holds some of them: start over from the primary's data.
    log::Warning(
        "Records after the fork LSN {} are in this node's snapshot: discarding every "
        "record and snapshot to sync from scratch",
        fork);
    cut_records_ += last_lsn - fork;
    return RunLockedAndWait(engine_, [&] {
      std::string detail;
      if (!following(generation) ||
          !storage::DropSnapshotsBefore(wal_.db(), wal_.snapshot_cf(), UINT64_MAX, &detail) ||
          !wal_.ResetAfter(0)) {
        *error = "cannot discard the log and snapshots: " + detail + wal_.failure();
        return false;
      }
      std::lock_guard lock(mu_);
      history_ = EpochHistory();
      if (!history_.Save(wal_.db(), error) || !RebuildLocked(error)) return false;
      *error = "starting over";  // reconnect at once with an empty log
      return false;
    });
  }
  log::Warning("Cutting records {}..{} ({} records) that the primary {}:{} never had", fork + 1,
               last_lsn, last_lsn - fork, host, port);
  cut_records_ += last_lsn - fork;
  return RunLockedAndWait(engine_, [&] {
    if (!following(generation)) return false;
    if (!wal_.CutTail(fork + 1)) {
      *error = "cannot cut the log: " + wal_.failure();
      return false;
    }
    std::lock_guard lock(mu_);
    history_.CutAfter(fork);
    return history_.Save(wal_.db(), error) && RebuildLocked(error);
  });
}

bool Replication::ReceiveFullSync(uint64_t generation, ReplFrameReader& reader,
                                  const EpochHistory& primary, std::string* error) {
  {
    std::lock_guard lock(mu_);
    link_state_ = "sync";
  }
  storage::SnapshotInfo info;
  std::vector<std::string> chunks;
  auto field = [](const protocol::RespValue& v, size_t i, uint64_t* out) {
    return i < v.elements.size() && ParseU64(v.elements[i].str, out);
  };
  std::optional<protocol::RespValue> v = reader.Next(error);
  uint64_t created = 0, databases = 0;
  if (!v || v->elements.empty() || v->elements[0].str != "SNAPSHOT" || !field(*v, 1, &info.lsn) ||
      !field(*v, 2, &created) || !field(*v, 3, &info.keys) || !field(*v, 4, &info.chunks) ||
      !field(*v, 5, &databases)) {
    if (v) *error = "expected SNAPSHOT, got " + v->ToString().substr(0, 200);
    return false;
  }
  info.created_ms = static_cast<int64_t>(created);
  info.databases = static_cast<uint32_t>(databases);
  if (info.databases > static_cast<uint32_t>(config_.databases)) {
    *error = fmt::format("the primary's snapshot has {} databases, more than this node's {}",
                         info.databases, config_.databases);
    return false;
  }
  while (true) {
    v = reader.Next(error);
    if (!v || v->elements.empty()) return false;
    if (v->elements[0].str == "SNAPEND") break;
    if (v->elements[0].str != "CHUNK" || v->elements.size() != 2) {
      *error = "expected CHUNK, got " + v->ToString().substr(0, 200);
      return false;
    }
    chunks.push_back(std::move(v->elements[1].str));
  }
  if (chunks.size() != info.chunks) {
    *error = fmt::format("the snapshot has {} of {} chunks", chunks.size(), info.chunks);
    return false;
  }
  const uint64_t before = wal_.last_assigned_lsn();
  bool ok = RunLockedAndWait(engine_, [&] {
    if (!following(generation)) return false;
    std::string detail;
    if (!storage::WriteSnapshot(wal_.db(), wal_.snapshot_cf(), wal_.options().dir, &info, {chunks},
                                &detail) ||
        !storage::DropSnapshotsBefore(wal_.db(), wal_.snapshot_cf(), info.lsn, &detail) ||
        !wal_.ResetAfter(info.lsn)) {
      *error = "cannot store the primary's snapshot: " + detail + wal_.failure();
      return false;
    }
    std::lock_guard lock(mu_);
    history_ = primary;
    history_.CutAfter(info.lsn);
    return history_.Save(wal_.db(), error) && RebuildLocked(error);
  });
  if (ok) {
    full_syncs_++;
    log::Notice(
        "Full sync: loaded the primary's snapshot at LSN {} ({} keys); this node's log "
        "(up to LSN {}) was replaced",
        info.lsn, info.keys, before);
  }
  return ok;
}

bool Replication::ApplyReceived(uint64_t generation, std::vector<Received>& batch,
                                GroupApplier& applier, std::string* error) {
  return RunLockedAndWait(engine_, [&] {
    if (!following(generation)) {
      *error = "no longer following";
      return false;
    }
    for (Received& r : batch) {
      storage::WalRecord record;
      std::string detail;
      if (storage::Decode(r.bytes, &record, &detail) != storage::DecodeResult::kOk) {
        *error = fmt::format("the record at LSN {} does not decode: {}", r.lsn, detail);
        return false;
      }
      const uint64_t expected = wal_.last_assigned_lsn() + 1;
      if (r.lsn != expected) {
        *error = fmt::format("expected LSN {}, got {}", expected, r.lsn);
        return false;
      }
      if (record.type == storage::WalRecordType::kEpoch) {
        std::lock_guard lock(mu_);
        EpochHistory next = history_;
        if (!next.Begin(record.epoch, r.lsn)) {
          *error = fmt::format("epoch {} at LSN {} is not newer than this node's {}", record.epoch,
                               r.lsn, history_.current());
          return false;
        }
        if (!next.Save(wal_.db(), error)) return false;
        history_ = std::move(next);
      }
      // Applied first: the record's arguments point into its bytes, which the log then takes.
      if (!applier.Add(r.lsn, record, &detail)) {
        *error = fmt::format("the record at LSN {} cannot be applied: {}", r.lsn, detail);
        return false;
      }
      if (wal_.Append(std::move(r.bytes)) != r.lsn) {
        *error = "the write-ahead log failed: " + wal_.failure();
        return false;
      }
    }
    return true;
  });
}

void Replication::RunAcker(int fd, const std::atomic<bool>& alive) {
  uint64_t sent = UINT64_MAX;
  auto last = std::chrono::steady_clock::now() - kReplHeartbeatInterval;
  while (alive.load()) {
    uint64_t seq;
    {
      std::lock_guard lock(wake_mu_);
      seq = wake_seq_;
    }
    // What the standby's own appendfsync counts as logged: synced under always.
    const uint64_t logged = engine_.logged_lsn();
    const auto now = std::chrono::steady_clock::now();
    if (logged != sent || now - last >= kReplHeartbeatInterval) {
      std::string frame;
      AppendFrame(&frame, {"REPLCONF", "ACK", std::to_string(logged)});
      if (!WriteAll(fd, frame)) return;
      sent = logged;
      last = now;
    }
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, kReplHeartbeatInterval,
                      [&] { return wake_seq_ != seq || !alive.load(); });
  }
}

void Replication::RunFollower(uint64_t generation) {
  while (following(generation)) {
    std::string host;
    int port;
    {
      std::lock_guard lock(mu_);
      host = master_host_;
      port = master_port_;
      link_state_ = "connecting";
    }
    std::string error;
    int fd = Connect(host, port, &error);
    if (fd >= 0) {
      {
        std::lock_guard lock(mu_);
        if (generation_ == generation) follower_fd_ = fd;
      }
      FollowLink(generation, fd, host, port);
      std::lock_guard lock(mu_);
      if (follower_fd_ == fd) follower_fd_ = -1;
      ::close(fd);
    } else {
      log::Verbose("Standby: cannot connect to {}:{}: {}", host, port, error);
    }
    {
      std::lock_guard lock(mu_);
      if (generation_ == generation) link_state_ = "connect";
    }
    if (following(generation)) std::this_thread::sleep_for(kReplReconnectInterval);
  }
}

void Replication::FollowLink(uint64_t generation, int fd, const std::string& host, int port) {
  SetTimeouts(fd, std::chrono::seconds(config_.repl_timeout.load()));
  ReplFrameReader reader(fd, kReplFrameBytesMax);
  std::string error;
  if (!Handshake(generation, fd, reader, host, port, &error)) {
    if (following(generation))
      log::Warning("Standby: sync with {}:{} failed: {}", host, port, error);
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (generation_ != generation) return;
    link_state_ = "connected";
  }
  last_io_ms_ = Engine::NowMs();
  log::Notice("Standby: following {}:{} from LSN {}", host, port, wal_.last_assigned_lsn());
  std::atomic<bool> alive{true};
  std::thread acker([&] {
    NameThread("stockd-ack");
    RunAcker(fd, alive);
    ::shutdown(fd, SHUT_RDWR);  // the acks cannot get through: the link is dead
  });
  Replayer replayer(engine_, config_.databases, /*workers=*/false);
  GroupApplier applier(engine_, config_.databases, replayer);
  std::vector<Received> batch;
  while (following(generation)) {
    std::optional<protocol::RespValue> v = reader.Next(&error);
    if (!v) break;
    last_io_ms_ = Engine::NowMs();
    const auto& e = v->elements;
    uint64_t lsn = 0;
    if (v->type == protocol::RespValue::Type::kArray && e.size() == 3 && e[0].str == "LOG" &&
        ParseU64(e[1].str, &lsn)) {
      batch.push_back({lsn, std::move(v->elements[2].str)});
    } else if (v->type == protocol::RespValue::Type::kArray && e.size() == 1 &&
               e[0].str == "PROMOTE") {
      // FAILOVER on the primary: it has stopped writing and everything it wrote is here.
      if (!batch.empty() && !ApplyReceived(generation, batch, applier, &error)) break;
      batch.clear();
      std::string promoted = RunLockedAndWait(engine_, [&] { return Promote(); });
      error = promoted.empty() ? "promoted by the primary's FAILOVER" : promoted;
      log::Notice("Standby: {}", error);
      break;
    } else if (!(v->type == protocol::RespValue::Type::kArray && e.size() == 2 &&
                 e[0].str == "PING")) {
      error = "unexpected frame " + v->ToString().substr(0, 200);
      break;
    }
    // Apply what has arrived: everything already buffered joins this batch, up to its cap.
    if (!batch.empty() && (!reader.buffered() || batch.size() >= kReplApplyBatchRecordsMax)) {
      if (!ApplyReceived(generation, batch, applier, &error)) break;
      batch.clear();
    }
  }
  alive = false;
  OnWritten();  // wakes the acker
  ::shutdown(fd, SHUT_RDWR);
  acker.join();
  if (following(generation) && !error.empty()) {
    log::Warning("Standby: link to {}:{} lost: {}", host, port, error);
  }
}

}  // namespace stockd::server
