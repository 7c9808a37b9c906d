// Server commands: INFO DBSIZE FLUSHDB FLUSHALL TIME CONFIG SHUTDOWN COMMAND DEBUG (digests).
#include <fmt/format.h>
#include <jemalloc/jemalloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>

#include "server/clients.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "server/server.h"
#include "storage/digest.h"
#include "storage/glob.h"
#include "storage/wal.h"

namespace stockd::server {
namespace {

std::string HumanBytes(uint64_t n) {
  double d = static_cast<double>(n);
  if (n < 1024) return fmt::format("{}B", n);
  if (n < 1024 * 1024) return fmt::format("{:.2f}K", d / 1024);
  if (n < 1024ULL * 1024 * 1024) return fmt::format("{:.2f}M", d / (1024 * 1024));
  return fmt::format("{:.2f}G", d / (1024.0 * 1024 * 1024));
}

uint64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::atomic<uint64_t> g_peak_memory{0};

template <typename F>
uint64_t SumThreads(Engine& e, F f) {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < e.shard_count(); ++i) sum += f(e.shard(i).stats());
  return sum;
}

using Lines = std::vector<std::pair<std::string, std::string>>;

Lines ServerSection(Server& s) {
  struct utsname u;
  uname(&u);
  int64_t uptime = (Engine::NowMs() - s.start_time_ms()) / 1000;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string executable = n > 0 ? std::string(exe, n) : "";
  return {{"redis_version", STOCKD_REDIS_VERSION},
          {"stockd_version", STOCKD_VERSION},
          {"redis_git_sha1", "00000000"},
          {"redis_git_dirty", "0"},
          {"redis_build_id", "0"},
          {"redis_mode", "standalone"},
          {"os", fmt::format("{} {} {}", u.sysname, u.release, u.machine)},
          {"arch_bits", "64"},
          {"monotonic_clock", "POSIX clock_gettime"},
          {"multiplexing_api", "epoll"},
          {"atomicvar_api", "c11-builtin"},
          {"gcc_version", fmt::format("{}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__)},
          {"process_id", std::to_string(getpid())},
          {"process_supervised", "no"},
          {"run_id", s.run_id()},
          {"tcp_port", std::to_string(s.port())},
          {"server_time_usec", std::to_string(Engine::NowUs())},
          {"uptime_in_seconds", std::to_string(uptime)},
          {"uptime_in_days", std::to_string(uptime / 86400)},
          {"hz", std::to_string(s.config().hz.load())},
          {"configured_hz", std::to_string(s.config().hz.load())},
          {"executable", executable},
          {"config_file", s.config().config_file},
          {"shards", std::to_string(s.engine().shard_count())}};
}

Lines ClientsSection(Server& s) {
  return {
      {"connected_clients", std::to_string(s.clients().count())},
      {"cluster_connections", "0"},
      {"maxclients", std::to_string(s.config().maxclients.load())},
      {"client_recent_max_input_buffer", "0"},
      {"client_recent_max_output_buffer", "0"},
      {"blocked_clients", std::to_string(SumThreads(
                              s.engine(), [](ThreadStats& t) { return t.blocked_clients.Get(); }))},
      {"tracking_clients", "0"},
      {"clients_in_timeout_table", "0"}};
}

Lines MemorySection(uint64_t maxmemory) {
  uint64_t used = Engine::AllocatorStat("stats.allocated");
  uint64_t peak = std::max(g_peak_memory.load(), used);
  g_peak_memory.store(peak);
  uint64_t rss = RssBytes();
  const char* version = nullptr;
  size_t sz = sizeof(version);
  mallctl("version", &version, &sz, nullptr, 0);
  std::string ver = version ? version : "";
  ver = ver.substr(0, ver.find('-'));
  return {{"used_memory", std::to_string(used)},
          {"used_memory_human", HumanBytes(used)},
          {"used_memory_rss", std::to_string(rss)},
          {"used_memory_rss_human", HumanBytes(rss)},
          {"used_memory_peak", std::to_string(peak)},
          {"used_memory_peak_human", HumanBytes(peak)},
          {"allocator_allocated", std::to_string(used)},
          {"allocator_active", std::to_string(Engine::AllocatorStat("stats.active"))},
          {"allocator_resident", std::to_string(Engine::AllocatorStat("stats.resident"))},
          {"mem_fragmentation_ratio",
           fmt::format("{:.2f}", used ? static_cast<double>(rss) / used : 0.0)},
          {"maxmemory", std::to_string(maxmemory)},
          {"maxmemory_human", HumanBytes(maxmemory)},
          {"maxmemory_policy", "noeviction"},
          {"mem_allocator", "jemalloc-" + ver}};
}

Lines PersistenceSection(Server& s) {
  uint64_t changes = 0;
  for (uint32_t i = 0; i < s.engine().shard_count(); ++i) {
    changes += s.engine().shard(i).data().changes.Get();
  }
  // Snapshots in Redis's rdb fields (and its AOF-rewrite fields, since a snapshot is also what
  // compacts the log), the WAL in its AOF fields; then stockd's own counters (docs/durability.md).
  storage::Wal* wal = s.engine().wal();
  SnapshotStatus snap;
  if (s.snapshotter() != nullptr) {
    snap = s.snapshotter()->status();
  } else {
    snap.last_save_ms = s.start_time_ms();
  }
  const int64_t now_ms = Engine::NowMs();
  const std::string current_sec =
      snap.in_progress ? std::to_string((now_ms - snap.current_started_ms) / 1000) : "-1";
  const std::string last_sec = snap.saves != 0 ? std::to_string(snap.last_write_ms / 1000) : "-1";
  const char* last_status = snap.last_ok ? "ok" : "err";
  Lines lines = {
      {"loading", "0"},
      {"async_loading", "0"},
      {"rdb_changes_since_last_save", std::to_string(changes - snap.changes_at_snapshot)},
      {"rdb_bgsave_in_progress", snap.in_progress ? "1" : "0"},
      {"rdb_last_save_time", std::to_string(snap.last_save_ms / 1000)},
      {"rdb_last_bgsave_status", last_status},
      {"rdb_last_bgsave_time_sec", last_sec},
      {"rdb_current_bgsave_time_sec", current_sec},
      {"rdb_saves", std::to_string(snap.saves)},
      {"aof_enabled", wal != nullptr ? "1" : "0"},
      {"aof_rewrite_in_progress", snap.in_progress ? "1" : "0"},
      {"aof_last_rewrite_time_sec", last_sec},
      {"aof_current_rewrite_time_sec", current_sec},
      {"aof_last_bgrewrite_status", last_status},
      {"aof_last_write_status", wal != nullptr && wal->failed() ? "err" : "ok"}};
  if (wal != nullptr) {
    lines.push_back({"snapshot_lsn", std::to_string(snap.lsn)});
    lines.push_back({"snapshot_keys", std::to_string(snap.keys)});
    lines.push_back({"snapshot_bytes", std::to_string(snap.bytes)});
    lines.push_back({"snapshot_last_pause_us", std::to_string(snap.last_pause_us)});
    lines.push_back({"snapshot_last_write_ms", std::to_string(snap.last_write_ms)});
    if (!snap.last_ok) lines.push_back({"snapshot_last_error", snap.last_error});
    const Server::Recovery& r = s.recovery();
    lines.push_back({"recovery_snapshot_lsn", std::to_string(r.snapshot_lsn)});
    lines.push_back({"recovery_snapshot_keys", std::to_string(r.snapshot_keys)});
    lines.push_back({"recovery_replayed_records", std::to_string(r.replayed_records)});
    lines.push_back({"recovery_ms", std::to_string(r.ms)});
    storage::WalStats st = wal->stats();
    lines.push_back({"wal_written_lsn", std::to_string(st.written_lsn)});
    lines.push_back({"wal_durable_lsn", std::to_string(st.durable_lsn)});
    lines.push_back({"wal_batches", std::to_string(st.batches)});
    lines.push_back({"wal_records", std::to_string(st.records)});
    lines.push_back({"wal_bytes", std::to_string(st.bytes)});
    lines.push_back({"wal_batch_records_max", std::to_string(st.batch_records_max)});
    lines.push_back({"wal_syncs", std::to_string(st.syncs)});
    // Quantiles are histogram bucket bounds (within 2x); the sum and max are exact.
    lines.push_back({"wal_sync_us_sum", std::to_string(st.sync_us_sum)});
    lines.push_back({"wal_sync_us_max", std::to_string(st.sync_us_max)});
    lines.push_back({"wal_sync_p50_us", std::to_string(st.SyncUsQuantile(0.5))});
    lines.push_back({"wal_sync_p99_us", std::to_string(st.SyncUsQuantile(0.99))});
    lines.push_back({"wal_failures", std::to_string(st.failures)});
  }
  return lines;
}

Lines StatsSection(Server& s) {
  Engine& e = s.engine();
  uint64_t expired = 0;
  for (uint32_t i = 0; i < e.shard_count(); ++i) expired += e.shard(i).data().expired_keys.Get();
  auto sum = [&](storage::RelaxedCounter ThreadStats::*field) {
    return std::to_string(SumThreads(e, [field](ThreadStats& t) { return (t.*field).Get(); }));
  };
  return {{"total_connections_received", sum(&ThreadStats::total_connections_received)},
          {"total_commands_processed", sum(&ThreadStats::total_commands_processed)},
          {"instantaneous_ops_per_sec", std::to_string(s.InstantaneousOps())},
          {"total_net_input_bytes", sum(&ThreadStats::net_input_bytes)},
          {"total_net_output_bytes", sum(&ThreadStats::net_output_bytes)},
          {"rejected_connections", sum(&ThreadStats::rejected_connections)},
          {"expired_keys", std::to_string(expired)},
          {"evicted_keys", "0"},
          {"keyspace_hits", sum(&ThreadStats::keyspace_hits)},
          {"keyspace_misses", sum(&ThreadStats::keyspace_misses)},
          {"pubsub_channels", std::to_string(s.pubsub().Channels("").size())},
          {"pubsub_patterns", std::to_string(s.pubsub().NumPatterns())},
          {"total_error_replies", sum(&ThreadStats::total_error_replies)}};
}

Lines ReplicationSection(Server& s) {
  // Redis's fields (offsets are LSNs: docs/replication.md), then stockd's own.
  Replication* repl = s.replication();
  ReplicationStatus st = repl != nullptr ? repl->status() : ReplicationStatus();
  const std::string offset = std::to_string(st.last_lsn);
  Lines lines;
  const int64_t now = Engine::NowMs();
  if (st.standby) {
    const bool up = st.link_state == "connected";
    lines = {{"role", "slave"},
             {"master_host", st.master_host},
             {"master_port", std::to_string(st.master_port)},
             {"master_link_status", up ? "up" : "down"},
             {"master_last_io_seconds_ago",
              std::to_string(st.last_io_ms == 0 ? -1 : (now - st.last_io_ms) / 1000)},
             {"master_sync_in_progress", st.link_state == "sync" ? "1" : "0"},
             {"slave_read_repl_offset", offset},
             {"slave_repl_offset", offset},
             {"slave_priority", "100"},
             {"slave_read_only", "1"},
             {"replica_announced", "1"}};
  } else {
    lines = {{"role", "master"}};
  }
  lines.push_back({"connected_slaves", std::to_string(st.standbys.size())});
  for (size_t i = 0; i < st.standbys.size(); ++i) {
    const StandbyStatus& sb = st.standbys[i];
    lines.push_back({fmt::format("slave{}", i),
                     fmt::format("ip={},port={},state={},offset={},lag={}", sb.ip, sb.port,
                                 sb.streaming ? "online" : "wait_bgsave", sb.acked_lsn,
                                 sb.last_ack_ms == 0 ? 0 : (now - sb.last_ack_ms) / 1000)});
  }
  Lines rest = {{"master_failover_state", st.failover_state},
                {"master_replid", s.run_id()},
                {"master_replid2", std::string(40, '0')},
                {"master_repl_offset", offset},
                {"second_repl_offset", "-1"},
                {"repl_backlog_active", repl != nullptr ? "1" : "0"},
                {"repl_backlog_size", "0"},
                {"repl_backlog_first_byte_offset", "0"},
                {"repl_backlog_histlen", "0"},
                {"repl_epoch", std::to_string(st.epoch)},
                {"repl_ack", s.config().repl_ack.load() == ReplAck::kSync ? "sync" : "async"},
                {"repl_sync_state", std::string(SyncStateName(st.sync_state))},
                {"repl_acked_lsn", std::to_string(st.acked_lsn)},
                {"repl_fenced_by_epoch", std::to_string(st.fenced_by)},
                {"repl_cut_records", std::to_string(st.cut_records)},
                {"repl_full_syncs", std::to_string(st.full_syncs)}};
  lines.insert(lines.end(), rest.begin(), rest.end());
  return lines;
}

Lines CpuSection() {
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  auto secs = [](const timeval& tv) {
    return fmt::format("{}.{:06d}", tv.tv_sec, static_cast<int>(tv.tv_usec));
  };
  return {{"used_cpu_sys", secs(self.ru_stime)},
          {"used_cpu_user", secs(self.ru_utime)},
          {"used_cpu_sys_children", "0.000000"},
          {"used_cpu_user_children", "0.000000"}};
}

Lines KeyspaceSection(Engine& e, int64_t now_ms) {
  Lines out;
  for (int db = 0; db < e.config().databases; ++db) {
    uint64_t keys = 0, expires = 0;
    int64_t ttl_sum = 0;
    for (uint32_t i = 0; i < e.shard_count(); ++i) {
      storage::Db& d = e.shard(i).data().db(db);
      keys += d.size();
      expires += d.expires_count();
      ttl_sum += d.AverageTtlMs(now_ms) * static_cast<int64_t>(d.expires_count());
    }
    if (keys == 0) continue;
    out.push_back({fmt::format("db{}", db),
                   fmt::format("keys={},expires={},avg_ttl={}", keys, expires,
                               expires ? ttl_sum / static_cast<int64_t>(expires) : 0)});
  }
  return out;
}

Lines CommandStatsSection(Engine& e) {
  Lines out;
  const CommandTable& table = CommandTable::Get();
  for (uint32_t id = 0; id < table.id_count(); ++id) {
    uint64_t calls = 0, usec = 0, rejected = 0, failed = 0;
    for (uint32_t i = 0; i < e.shard_count(); ++i) {
      CommandStats& c = e.shard(i).stats().commands[id];
      calls += c.calls.Get();
      usec += c.usec.Get();
      rejected += c.rejected_calls.Get();
      failed += c.failed_calls.Get();
    }
    if (calls == 0 && rejected == 0 && failed == 0) continue;
    out.push_back({"cmdstat_" + table.ById(id)->FullName(),
                   fmt::format("calls={},usec={},usec_per_call={:.2f},rejected_calls={},"
                               "failed_calls={}",
                               calls, usec, calls ? static_cast<double>(usec) / calls : 0.0,
                               rejected, failed)});
  }
  return out;
}

constexpr std::string_view kDefaultSections[] = {"server", "clients",     "memory", "persistence",
                                                 "stats",  "replication", "cpu",    "keyspace"};
constexpr std::string_view kAllSections[] = {"server",      "clients",      "memory",
                                             "persistence", "stats",        "replication",
                                             "cpu",         "commandstats", "keyspace"};

}  // namespace

void CmdInfo(CmdArgs args, CommandContext& ctx) {
  Server& s = *Server::FromEngine(ctx.engine());
  std::vector<std::string> wanted;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a(args[i]);
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    if (a == "all" || a == "everything") {
      wanted.assign(std::begin(kAllSections), std::end(kAllSections));
    } else if (a == "default") {
      wanted.insert(wanted.end(), std::begin(kDefaultSections), std::end(kDefaultSections));
    } else {
      wanted.push_back(a);
    }
  }
  if (args.size() == 1) wanted.assign(std::begin(kDefaultSections), std::end(kDefaultSections));
  std::string text;
  // Sections print in the canonical order, each once.
  for (std::string_view name : kAllSections) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    Lines lines;
    if (name == "server")
      lines = ServerSection(s);
    else if (name == "clients")
      lines = ClientsSection(s);
    else if (name == "memory")
      lines = MemorySection(static_cast<uint64_t>(s.config().maxmemory.load()));
    else if (name == "persistence")
      lines = PersistenceSection(s);
    else if (name == "stats")
      lines = StatsSection(s);
    else if (name == "replication")
      lines = ReplicationSection(s);
    else if (name == "cpu")
      lines = CpuSection();
    else if (name == "commandstats")
      lines = CommandStatsSection(ctx.engine());
    else if (name == "keyspace")
      lines = KeyspaceSection(ctx.engine(), ctx.now_ms());
    if (!text.empty()) text += "\r\n";
    std::string title(name);
    title[0] = static_cast<char>(std::toupper(title[0]));
    if (name == "cpu") title = "CPU";
    if (name == "commandstats") title = "Commandstats";
    text += "# " + title + "\r\n";
    for (auto& [k, v] : lines) text += k + ":" + v + "\r\n";
  }
  ctx.reply().Verbatim("txt", text);
}

void CmdDbSize(CmdArgs, CommandContext& ctx) {
  int64_t n = 0;
  for (uint32_t i = 0; i < ctx.engine().shard_count(); ++i) {
    n += static_cast<int64_t>(ctx.DbOnShard(i).size());
  }
  ctx.reply().Integer(n);
}

namespace {
// SAVE, BGSAVE and BGREWRITEAOF: the snapshotter, or an error when there is none.
Snapshotter* SnapshotterOrReply(CommandContext& ctx) {
  Snapshotter* snapshotter = Server::FromEngine(ctx.engine())->snapshotter();
  if (snapshotter == nullptr) {
    ctx.reply().Error(
        "ERR snapshots are kept with the write-ahead log, which is off (appendonly no)");
  }
  return snapshotter;
}
}  // namespace

// These run with every shard locked (flag global): the capture is the pause. SAVE then writes
// before answering, with the shards still locked, as Redis's SAVE blocks the server.
void CmdSave(CmdArgs, CommandContext& ctx) {
  Snapshotter* snapshotter = SnapshotterOrReply(ctx);
  if (snapshotter == nullptr) return;
  std::string error;
  if (!snapshotter->Take(/*background=*/false, &error)) return ctx.reply().Error(error);
  ctx.reply().Ok();
}

void CmdBgSave(CmdArgs args, CommandContext& ctx) {
  bool schedule = false;
  if (args.size() == 2 && EqualsIgnoreCase(args[1], "SCHEDULE")) {
    schedule = true;
  } else if (args.size() > 1) {
    return ctx.reply().Error(reply::kSyntaxError);
  }
  Snapshotter* snapshotter = SnapshotterOrReply(ctx);
  if (snapshotter == nullptr) return;
  if (snapshotter->status().in_progress) {
    if (!schedule) {
      return ctx.reply().Error(
          "ERR Background save already in progress. Use BGSAVE SCHEDULE in order to schedule a "
          "BGSAVE whenever possible.");
    }
    snapshotter->Schedule();
    return ctx.reply().SimpleString("Background saving scheduled");
  }
  std::string error;
  if (!snapshotter->Take(/*background=*/true, &error)) return ctx.reply().Error(error);
  ctx.reply().SimpleString("Background saving started");
}

// A snapshot is what compacts the log, so stockd's AOF rewrite is a snapshot.
void CmdBgRewriteAof(CmdArgs, CommandContext& ctx) {
  Snapshotter* snapshotter = SnapshotterOrReply(ctx);
  if (snapshotter == nullptr) return;
  if (snapshotter->status().in_progress) {
    snapshotter->Schedule();
    return ctx.reply().SimpleString("Background append only file rewriting scheduled");
  }
  std::string error;
  if (!snapshotter->Take(/*background=*/true, &error)) return ctx.reply().Error(error);
  ctx.reply().SimpleString("Background append only file rewriting started");
}

void CmdLastSave(CmdArgs, CommandContext& ctx) {
  Server& s = *Server::FromEngine(ctx.engine());
  int64_t ms =
      s.snapshotter() != nullptr ? s.snapshotter()->status().last_save_ms : s.start_time_ms();
  ctx.reply().Integer(ms / 1000);
}

namespace {
// FLUSHDB/FLUSHALL [ASYNC|SYNC]: both modes free synchronously (the shards are locked anyway).
bool FlushModeOk(CmdArgs args, CommandContext& ctx) {
  if (args.size() > 2 || (args.size() == 2 && !EqualsIgnoreCase(args[1], "ASYNC") &&
                          !EqualsIgnoreCase(args[1], "SYNC"))) {
    ctx.reply().Error(reply::kSyntaxError);
    return false;
  }
  return true;
}
}  // namespace

void CmdFlushDb(CmdArgs args, CommandContext& ctx) {
  if (!FlushModeOk(args, ctx)) return;
  for (uint32_t i = 0; i < ctx.engine().shard_count(); ++i) {
    storage::Shard& s = ctx.ShardAt(i);
    s.changes.Add(s.db(ctx.db_index()).Clear());
    s.AllKeysModified(ctx.db_index());
  }
  ctx.AllKeysModified();
  ctx.reply().Ok();
}

void CmdFlushAll(CmdArgs args, CommandContext& ctx) {
  if (!FlushModeOk(args, ctx)) return;
  for (uint32_t i = 0; i < ctx.engine().shard_count(); ++i) {
    storage::Shard& s = ctx.ShardAt(i);
    for (int db = 0; db < s.databases(); ++db) s.changes.Add(s.db(db).Clear());
    s.AllKeysModified(-1);
  }
  ctx.AllKeysModified();
  ctx.reply().Ok();
}

void CmdTime(CmdArgs, CommandContext& ctx) {
  int64_t us = Engine::NowUs();
  ctx.reply().ArrayHeader(2);
  ctx.reply().Bulk(std::to_string(us / 1000000));
  ctx.reply().Bulk(std::to_string(us % 1000000));
}

void CmdConfigGet(CmdArgs args, CommandContext& ctx) {
  std::vector<std::pair<std::string, std::string>> found;
  for (size_t i = 2; i < args.size(); ++i) {
    for (auto& kv : ctx.engine().config().Get(args[i])) {
      bool dup = std::any_of(found.begin(), found.end(),
                             [&](const auto& f) { return f.first == kv.first; });
      if (!dup) found.push_back(std::move(kv));
    }
  }
  ctx.reply().MapHeader(static_cast<int64_t>(found.size()));
  for (auto& [k, v] : found) {
    ctx.reply().Bulk(k);
    ctx.reply().Bulk(v);
  }
}

void CmdConfigSet(CmdArgs args, CommandContext& ctx) {
  if ((args.size() - 2) % 2 != 0) {
    ctx.reply().Error("ERR wrong number of arguments for 'config|set' command");
    return;
  }
  // All or nothing: validate every pair on a scratch copy of the runtime values first.
  Config& config = ctx.engine().config();
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 2; i < args.size(); i += 2) {
      std::string name(args[i]);
      std::vector<std::string> value{std::string(args[i + 1])};
      if (pass == 0) {
        auto existing = config.Get(name);
        bool known = std::any_of(existing.begin(), existing.end(),
                                 [&](const auto& kv) { return EqualsIgnoreCase(kv.first, name); });
        if (!known) {
          ctx.reply().Error(
              fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}'", name));
          return;
        }
        Config scratch;
        std::string error;
        bool ok = scratch.Apply(name, value, true, &error);
        if (!ok) {
          ctx.reply().Error(fmt::format(
              "ERR CONFIG SET failed (possibly related to argument '{}') - {}", name, error));
          return;
        }
      } else {
        std::string error;
        config.Apply(name, value, true, &error);
      }
    }
  }
  ctx.reply().Ok();
}

void CmdConfigResetStat(CmdArgs, CommandContext& ctx) {
  Engine& e = ctx.engine();
  for (uint32_t i = 0; i < e.shard_count(); ++i) {
    ThreadStats& t = e.shard(i).stats();
    for (CommandStats& c : t.commands) {
      c.calls.Reset();
      c.usec.Reset();
      c.rejected_calls.Reset();
      c.failed_calls.Reset();
    }
    for (storage::RelaxedCounter* c :
         {&t.total_commands_processed, &t.total_connections_received, &t.rejected_connections,
          &t.net_input_bytes, &t.net_output_bytes, &t.keyspace_hits, &t.keyspace_misses,
          &t.total_error_replies, &t.unexpected_error_replies}) {
      c->Reset();
    }
    e.shard(i).data().expired_keys.Reset();
  }
  ctx.reply().Ok();
}

void CmdConfigHelp(CmdArgs, CommandContext& ctx) {
  auto& r = ctx.reply();
  r.ArrayHeader(9);
  r.SimpleString("CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  r.SimpleString("GET <pattern>");
  r.SimpleString("    Return parameters matching the glob-like <pattern> and their values.");
  r.SimpleString("SET <directive> <value>");
  r.SimpleString("    Set the configuration <directive> to <value>.");
  r.SimpleString("RESETSTAT");
  r.SimpleString("    Reset statistics reported by the INFO command.");
  r.SimpleString("HELP");
  r.SimpleString("    Print this help.");
}

// DEBUG DIGEST: the keyspace's digest (storage/digest.h), every database, live keys only (a key
// past its expiry is gone to every client, whether or not it was reclaimed yet). Runs with every
// shard locked, so it is one consistent cut.
void CmdDebugDigest(CmdArgs, CommandContext& ctx) {
  storage::Digest digest;
  for (uint32_t i = 0; i < ctx.engine().shard_count(); ++i) {
    storage::Shard& shard = ctx.ShardAt(i);
    for (int db = 0; db < shard.databases(); ++db) {
      shard.db(db).ForEach([&](storage::Db::Entry* e) {
        if (!storage::Db::IsExpired(e, ctx.now_ms())) {
          digest.Xor(storage::KeyDigest(db, e->key, e->val));
        }
      });
    }
  }
  ctx.reply().Bulk(digest.Hex());
}

// DEBUG DIGEST-VALUE key [key ...]: each value's digest; 40 zeros for a missing key, as Redis.
void CmdDebugDigestValue(CmdArgs args, CommandContext& ctx) {
  ctx.reply().ArrayHeader(static_cast<int64_t>(args.size() - 2));
  for (size_t i = 2; i < args.size(); ++i) {
    storage::Db::Entry* e = ctx.DbFor(args[i]).Peek(args[i], ctx.now_ms());
    ctx.reply().Bulk(e == nullptr ? storage::Digest().Hex()
                                  : storage::ValueDigest(e->val.value).Hex());
  }
}

void CmdDebugHelp(CmdArgs, CommandContext& ctx) {
  auto& r = ctx.reply();
  r.ArrayHeader(7);
  r.SimpleString("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  r.SimpleString("DIGEST");
  r.SimpleString("    Output a hex signature representing the current DB content.");
  r.SimpleString("DIGEST-VALUE <key> [<key> ...]");
  r.SimpleString("    Output a hex signature of the values of all the specified keys.");
  r.SimpleString("HELP");
  r.SimpleString("    Print this help.");
}

void CmdShutdown(CmdArgs args, CommandContext& ctx) {
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (EqualsIgnoreCase(a, "ABORT")) {
      ctx.reply().Error("ERR No shutdown in progress.");
      return;
    }
    if (!EqualsIgnoreCase(a, "NOSAVE") && !EqualsIgnoreCase(a, "SAVE") &&
        !EqualsIgnoreCase(a, "NOW") && !EqualsIgnoreCase(a, "FORCE")) {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
  }
  // As in Redis, a successful SHUTDOWN sends no reply: the connection just closes.
  Server::FromEngine(ctx.engine())->RequestShutdown("User requested shutdown...");
}

// --- COMMAND -----------------------------------------------------------------------------------

namespace {

std::vector<std::string_view> FlagNames(const CommandSpec& c) {
  std::vector<std::string_view> f;
  if (c.has(kWrite)) f.push_back("write");
  if (c.has(kReadOnly)) f.push_back("readonly");
  if (c.has(kDenyOom)) f.push_back("denyoom");
  if (c.has(kAdmin)) f.push_back("admin");
  if (c.has(kNoScript)) f.push_back("noscript");
  if (c.has(kLoading)) f.push_back("loading");
  if (c.has(kStale)) f.push_back("stale");
  if (c.has(kFast)) f.push_back("fast");
  if (c.has(kNoAuth)) f.push_back("no_auth");
  if (c.has(kNoMulti)) f.push_back("no_multi");
  if (c.has(kBlocking)) f.push_back("blocking");
  return f;
}

void ReplyCommandInfo(protocol::ReplyBuilder& r, const CommandSpec& c) {
  r.ArrayHeader(10);
  r.Bulk(c.FullName());
  r.Integer(c.arity);
  auto flags = FlagNames(c);
  r.SetHeader(static_cast<int64_t>(flags.size()));
  for (auto f : flags) r.SimpleString(f);
  r.Integer(c.first_key);
  r.Integer(c.last_key);
  r.Integer(c.key_step);
  r.SetHeader(1);
  r.SimpleString(fmt::format("@{}", c.group == "generic" ? "keyspace" : c.group));
  r.SetHeader(0);    // tips
  r.ArrayHeader(0);  // key specs: the legacy (first, last, step) above describes the keys
  r.ArrayHeader(static_cast<int64_t>(c.subcommands.size()));
  for (const CommandSpec& sub : c.subcommands) ReplyCommandInfo(r, sub);
}

// One argument of COMMAND DOCS, parsed from a CommandSpec's syntax.
struct DocArg {
  std::string name, type, token;
  bool optional = false, multiple = false;
  std::vector<DocArg> children;  // for "oneof" and "block"
};

std::string ArgType(std::string_view word) {
  if (word == "key" || word == "newkey") return "key";
  if (word.starts_with("unix-time")) return "unix-time";
  if (word == "pattern") return "pattern";
  for (std::string_view n : {"seconds", "milliseconds", "count", "index", "offset", "start", "end",
                             "increment", "decrement", "protover", "cursor", "client-id"}) {
    if (word == n) return "integer";
  }
  return "string";
}

// Recursive descent over the notation documented at CommandSpec::syntax.
class SyntaxParser {
 public:
  explicit SyntaxParser(std::string_view s) : s_(s) {}
  std::vector<DocArg> Parse() { return Sequence(); }

 private:
  void SkipSpaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool AtStop() {
    SkipSpaces();
    return i_ >= s_.size() || s_[i_] == ']' || s_[i_] == ')' || s_[i_] == '|';
  }
  std::string_view Word() {
    size_t b = i_;
    while (i_ < s_.size() && std::string_view(" []()|").find(s_[i_]) == std::string_view::npos)
      ++i_;
    return s_.substr(b, i_ - b);
  }
  static bool IsToken(std::string_view w) {
    return std::any_of(w.begin(), w.end(), ::isupper) &&
           std::none_of(w.begin(), w.end(), ::islower);
  }
  std::vector<DocArg> Sequence() {
    std::vector<DocArg> items;
    while (!AtStop()) {
      char c = s_[i_];
      if (c == '[' || c == '(') {
        ++i_;
        DocArg a = Alternatives();
        SkipSpaces();
        if (i_ < s_.size()) ++i_;  // the closing bracket
        if (c == '[') a.optional = true;
        items.push_back(std::move(a));
        continue;
      }
      std::string_view w = Word();
      if (w == "...") {
        if (!items.empty()) items.back().multiple = true;
        continue;
      }
      DocArg a;
      if (IsToken(w)) {
        a.token = std::string(w);
        size_t save = i_;
        SkipSpaces();
        std::string_view next = AtStop() ? std::string_view() : Word();
        if (!next.empty() && next != "..." && !IsToken(next)) {
          a.name = std::string(next);
          a.type = ArgType(next);
        } else {
          i_ = save;
          a.name = std::string(w);
          std::transform(a.name.begin(), a.name.end(), a.name.begin(), ::tolower);
          a.type = "pure-token";
        }
      } else {
        a.name = std::string(w);
        a.type = ArgType(w);
      }
      items.push_back(std::move(a));
    }
    return items;
  }
  // seq ('|' seq)*: one item stays itself, several items make a block, several choices a oneof.
  DocArg Alternatives() {
    std::vector<DocArg> choices;
    while (true) {
      std::vector<DocArg> seq = Sequence();
      if (seq.size() == 1) {
        choices.push_back(std::move(seq[0]));
      } else {
        DocArg block;
        block.type = "block";
        for (auto& x : seq) block.name += (block.name.empty() ? "" : "-") + x.name;
        block.children = std::move(seq);
        choices.push_back(std::move(block));
      }
      SkipSpaces();
      if (i_ < s_.size() && s_[i_] == '|') {
        ++i_;
        continue;
      }
      break;
    }
    if (choices.size() == 1) return std::move(choices[0]);
    DocArg oneof;
    oneof.type = "oneof";
    for (auto& x : choices) oneof.name += (oneof.name.empty() ? "" : "-") + x.name;
    oneof.children = std::move(choices);
    return oneof;
  }

  std::string_view s_;
  size_t i_ = 0;
};

void ReplyDocArgs(protocol::ReplyBuilder& r, const std::vector<DocArg>& args) {
  r.ArrayHeader(static_cast<int64_t>(args.size()));
  for (const DocArg& a : args) {
    bool key = a.type == "key";
    int64_t fields = 2 + (key ? 1 : 0) + (a.token.empty() ? 0 : 1) +
                     ((a.optional || a.multiple) ? 1 : 0) + (a.children.empty() ? 0 : 1);
    r.MapHeader(fields);
    r.Bulk("name");
    r.Bulk(a.name);
    r.Bulk("type");
    r.Bulk(a.type);
    if (key) {
      r.Bulk("key_spec_index");
      r.Integer(0);
    }
    if (!a.token.empty()) {
      r.Bulk("token");
      r.Bulk(a.token);
    }
    if (a.optional || a.multiple) {
      r.Bulk("flags");
      r.SetHeader((a.optional ? 1 : 0) + (a.multiple ? 1 : 0));
      if (a.optional) r.SimpleString("optional");
      if (a.multiple) r.SimpleString("multiple");
    }
    if (!a.children.empty()) {
      r.Bulk("arguments");
      ReplyDocArgs(r, a.children);
    }
  }
}

void ReplyCommandDocs(protocol::ReplyBuilder& r, const CommandSpec& c) {
  bool subs = !c.subcommands.empty();
  std::vector<DocArg> args = SyntaxParser(c.syntax).Parse();
  r.MapHeader(4 + (subs ? 1 : 0) + (args.empty() ? 0 : 1));
  r.Bulk("summary");
  r.Bulk(c.summary);
  r.Bulk("since");
  r.Bulk(c.since);
  r.Bulk("group");
  r.Bulk(c.group);
  r.Bulk("complexity");
  r.Bulk(c.complexity);
  if (!args.empty()) {
    r.Bulk("arguments");
    ReplyDocArgs(r, args);
  }
  if (subs) {
    r.Bulk("subcommands");
    r.MapHeader(static_cast<int64_t>(c.subcommands.size()));
    for (const CommandSpec& sub : c.subcommands) {
      r.Bulk(sub.FullName());
      ReplyCommandDocs(r, sub);
    }
  }
}

// Resolves "get" or "client|list" (COMMAND INFO/DOCS names).
const CommandSpec* Lookup(std::string_view name) {
  const CommandTable& t = CommandTable::Get();
  size_t bar = name.find('|');
  if (bar == std::string_view::npos) return t.FindTop(name);
  const CommandSpec* top = t.FindTop(name.substr(0, bar));
  if (!top) return nullptr;
  for (const CommandSpec& s : top->subcommands) {
    if (EqualsIgnoreCase(s.name, name.substr(bar + 1))) return &s;
  }
  return nullptr;
}

}  // namespace

void CmdCommand(CmdArgs, CommandContext& ctx) {
  auto all = CommandTable::Get().all();
  ctx.reply().ArrayHeader(static_cast<int64_t>(all.size()));
  for (const CommandSpec& c : all) ReplyCommandInfo(ctx.reply(), c);
}

void CmdCommandCount(CmdArgs, CommandContext& ctx) {
  ctx.reply().Integer(static_cast<int64_t>(CommandTable::Get().all().size()));
}

void CmdCommandInfo(CmdArgs args, CommandContext& ctx) {
  if (args.size() == 2) {
    CmdCommand(args, ctx);
    return;
  }
  ctx.reply().ArrayHeader(static_cast<int64_t>(args.size() - 2));
  for (size_t i = 2; i < args.size(); ++i) {
    const CommandSpec* c = Lookup(args[i]);
    if (c) {
      ReplyCommandInfo(ctx.reply(), *c);
    } else {
      ctx.reply().NullArray();
    }
  }
}

void CmdCommandDocs(CmdArgs args, CommandContext& ctx) {
  std::vector<const CommandSpec*> specs;
  if (args.size() == 2) {
    for (const CommandSpec& c : CommandTable::Get().all()) specs.push_back(&c);
  } else {
    for (size_t i = 2; i < args.size(); ++i) {
      if (const CommandSpec* c = Lookup(args[i])) specs.push_back(c);
    }
  }
  ctx.reply().MapHeader(static_cast<int64_t>(specs.size()));
  for (const CommandSpec* c : specs) {
    ctx.reply().Bulk(c->FullName());
    ReplyCommandDocs(ctx.reply(), *c);
  }
}

void CmdCommandList(CmdArgs args, CommandContext& ctx) {
  std::string_view pattern, category;
  if (args.size() > 2) {
    if (args.size() != 5 || !EqualsIgnoreCase(args[2], "FILTERBY")) {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
    if (EqualsIgnoreCase(args[3], "PATTERN")) {
      pattern = args[4];
    } else if (EqualsIgnoreCase(args[3], "ACLCAT")) {
      category = args[4];
    } else if (EqualsIgnoreCase(args[3], "MODULE")) {
      ctx.reply().EmptyArray();  // no modules
      return;
    } else {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
  }
  std::vector<std::string> names;
  for (const CommandSpec& c : CommandTable::Get().all()) {
    auto consider = [&](const CommandSpec& s) {
      std::string name = s.FullName();
      if (!pattern.empty() && !storage::GlobMatch(pattern, name, true)) return;
      std::string_view cat = s.group == "generic" ? "keyspace" : s.group;
      if (!category.empty() && !EqualsIgnoreCase(category, cat)) return;
      names.push_back(name);
    };
    consider(c);
    for (const CommandSpec& sub : c.subcommands) consider(sub);
  }
  ctx.reply().ArrayHeader(static_cast<int64_t>(names.size()));
  for (auto& n : names) ctx.reply().Bulk(n);
}

void CmdCommandHelp(CmdArgs, CommandContext& ctx) {
  auto& r = ctx.reply();
  r.ArrayHeader(11);
  r.SimpleString("COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  r.SimpleString("(no subcommand)");
  r.SimpleString("    Return details about all commands.");
  r.SimpleString("COUNT");
  r.SimpleString("    Return the total number of commands in this server.");
  r.SimpleString("LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]");
  r.SimpleString("    Return a list of all commands in this server.");
  r.SimpleString("INFO [<command-name> ...]");
  r.SimpleString("    Return details about multiple commands.");
  r.SimpleString("DOCS [<command-name> ...]");
  r.SimpleString("    Return documentation details about multiple commands.");
}

}  // namespace stockd::server
