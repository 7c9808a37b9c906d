// stockd-wal: the operator's tool for stockd's write-ahead log (docs/wal.md, "Operating the log").
//   stockd-wal info DIR
//   stockd-wal dump DIR [--from LSN] [--count N]
//   stockd-wal verify DIR [--databases N]
//   stockd-wal truncate DIR --from LSN [--yes]
// DIR is the log's RocksDB directory (<dir>/wal, as stockd's messages name it) or stockd's `dir`.
//
// The log is opened with storage::Wal::Open, as stockd opens it, so the tool holds RocksDB's LOCK
// for as long as it runs: it never reads a log that a running stockd is writing, and stockd
// cannot start while it runs. verify makes the checks recovery makes (Server::ReplayWal and
// ApplyRecord), in the same order, so it names the LSN stockd's refusal names.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "server/command.h"
#include "server/command_context.h"
#include "server/config.h"
#include "storage/snapshot.h"
#include "storage/wal.h"
#include "storage/wal_record.h"

namespace stockd::tools {
namespace {

using storage::DecodeResult;
using storage::Wal;
using storage::WalReadProblem;
using storage::WalReadResult;
using storage::WalRecord;
using storage::WalRecordType;

// Exit codes.
constexpr int kExitOk = 0;
// verify: stockd would refuse to start; dump: stopped at a damaged record; truncate: refused
// without --yes.
constexpr int kExitProblem = 1;
// Bad arguments, or the log cannot be opened (missing, locked by a running stockd).
constexpr int kExitUsage = 2;
// verify: stockd would start, but first cut the tail (a torn last record or an unfinished MULTI
// group: never acknowledged, so nothing acknowledged is lost).
constexpr int kExitTailCut = 3;

// dump shows at most this many bytes of one argument and this many arguments of one record, then
// says how much it left out: one record may carry a 1 GiB request (kWalRecordPayloadBytesMax).
constexpr size_t kDumpArgumentBytesShownMax = 4096;
constexpr size_t kDumpArgumentsShownMax = 256;
// truncate shows this many of the records it is about to drop.
constexpr uint64_t kTruncateRecordsShownMax = 10;
// A record's command name is quoted in messages up to this many bytes (as ApplyRecord does).
constexpr size_t kCommandNameShownBytesMax = 128;

void Usage() {
  std::fprintf(stderr,
               "Usage: stockd-wal info DIR\n"
               "       stockd-wal dump DIR [--from LSN] [--count N]\n"
               "       stockd-wal verify DIR [--databases N]\n"
               "       stockd-wal truncate DIR --from LSN [--yes]\n\n"
               "DIR is the write-ahead log's RocksDB directory (<dir>/wal) or stockd's dir.\n"
               "stockd must not be running: the tool takes the log's lock.\n"
               "verify's --databases is stockd's 'databases' directive (default: stockd's).\n"
               "verify exits 0 when stockd would replay the whole log, 1 when it would refuse to\n"
               "start, 3 when it would start after cutting a torn or unfinished tail.\n");
}

// Appends arg quoted as redis-cli prints a bulk string (sdscatrepr): in double quotes, with
// \\ \" \n \r \t \a \b escaped and every other unprintable byte as \xHH.
void AppendQuoted(std::string* out, std::string_view arg) {
  const size_t shown = std::min(arg.size(), kDumpArgumentBytesShownMax);
  out->push_back('"');
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(arg[i]);
    switch (c) {
      case '\\':
      case '"':
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out->push_back(static_cast<char>(c));
        } else {
          char hex[5];
          std::snprintf(hex, sizeof(hex), "\\x%02x", c);
          out->append(hex);
        }
    }
  }
  out->push_back('"');
  if (shown < arg.size()) out->append("...(" + std::to_string(arg.size()) + " bytes)");
}

// now_ms as UTC, "2024-05-01T12:00:00.123Z"; empty when it is not a representable time.
std::string FormatUtc(int64_t now_ms) {
  const int64_t ms = ((now_ms % 1000) + 1000) % 1000;
  const time_t seconds = static_cast<time_t>((now_ms - ms) / 1000);
  tm t{};
  if (gmtime_r(&seconds, &t) == nullptr) return "";
  char text[64];
  if (std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &t) == 0) return "";
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(ms));
  return std::string(text) + millis;
}

// One line per record: LSN, type, then what the type carries.
std::string FormatRecord(uint64_t lsn, const WalRecord& r) {
  std::string line = std::to_string(lsn) + " ";
  switch (r.type) {
    case WalRecordType::kEpoch:
      return line + "epoch " + std::to_string(r.epoch);
    case WalRecordType::kSnapshotMarker:
      return line + "snapshot-marker lsn=" + std::to_string(r.snapshot_lsn);
    case WalRecordType::kCommand:
      line += "command";
      break;
    case WalRecordType::kExpireSweep:
      line += "expire-sweep";
      break;
  }
  line += " db=" + std::to_string(r.db) + " now_ms=" + std::to_string(r.now_ms);
  const std::string utc = FormatUtc(r.now_ms);
  if (!utc.empty()) line += " (" + utc + ")";
  const size_t shown = std::min(r.argv.size(), kDumpArgumentsShownMax);
  for (size_t i = 0; i < shown; ++i) {
    line.push_back(' ');
    AppendQuoted(&line, r.argv[i]);
  }
  if (shown < r.argv.size()) {
    line += " ...(" + std::to_string(r.argv.size() - shown) + " more arguments)";
  }
  return line;
}

bool ParseUint64(std::string_view text, uint64_t* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end && !text.empty();
}

// The process holding an fcntl lock on path (how RocksDB locks DIR/LOCK), or 0 if none is held
// or it cannot be told.
pid_t LockHolder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool got = ::fcntl(fd, F_GETLK, &lock) == 0;
  ::close(fd);
  return got && lock.l_type != F_UNLCK ? lock.l_pid : 0;
}

std::string LockedMessage(const std::string& dir, pid_t holder) {
  std::string who = holder != 0 ? " by process " + std::to_string(holder) : "";
  return "the write-ahead log in " + dir + " is locked" + who +
         ": is stockd running? Stop it first (stockd-wal takes the log's lock, as stockd does, so "
         "that it never reads or changes a log being written).";
}

// DIR itself when it is a RocksDB directory, else DIR/wal (stockd's `dir` given instead).
std::optional<std::string> ResolveWalDir(const std::string& dir, std::string* error) {
  std::error_code ec;
  for (const std::filesystem::path& p :
       {std::filesystem::path(dir), std::filesystem::path(dir) / "wal"}) {
    if (std::filesystem::exists(p / "CURRENT", ec)) return p.lexically_normal().string();
  }
  *error = "no write-ahead log in " + dir + " (neither " + dir + "/CURRENT nor " + dir +
           "/wal/CURRENT exists)";
  return std::nullopt;
}

// Opens the log as stockd does, without creating one: nullptr with *error set.
std::unique_ptr<Wal> OpenLog(const std::string& dir, std::string* wal_dir, std::string* error) {
  std::optional<std::string> resolved = ResolveWalDir(dir, error);
  if (!resolved) return nullptr;
  *wal_dir = *resolved;
  std::vector<std::string> families;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), *wal_dir, &families);
  if (!s.ok()) {
    *error = "cannot read " + *wal_dir + ": " + s.ToString();
    return nullptr;
  }
  if (std::find(families.begin(), families.end(), storage::kWalColumnFamily) == families.end()) {
    *error = *wal_dir + " is a RocksDB database without a '" +
             std::string(storage::kWalColumnFamily) + "' column family: not a stockd log";
    return nullptr;
  }
  const std::string lock_path = *wal_dir + "/LOCK";
  if (pid_t holder = LockHolder(lock_path); holder != 0) {
    *error = LockedMessage(*wal_dir, holder);
    return nullptr;
  }
  storage::WalOptions o;
  o.dir = *wal_dir;
  std::unique_ptr<Wal> wal = Wal::Open(o, error);
  // Between the check above and Open, stockd may have started: RocksDB's refusal names the lock.
  if (!wal && error->find("lock") != std::string::npos) {
    *error = LockedMessage(*wal_dir, LockHolder(lock_path)) + " (" + *error + ")";
  }
  return wal;
}

// Recovery's checks on each record beyond what Wal::ForEach checks: Server::ReplayWal's MULTI
// grouping and ApplyRecord's database and command checks, with the LSN each reports. Grouped
// records are checked when their EXEC is read, as ReplayWal replays them then, so a bad command
// inside a group is reported at the EXEC's LSN, as stockd reports it.
class RecoveryChecks {
 public:
  // databases: records must name a database below it (stockd's `databases`).
  explicit RecoveryChecks(uint32_t databases) : databases_(databases) {}

  // Empty when recovery would accept the record at lsn; otherwise why it refuses.
  std::string Check(uint64_t lsn, const WalRecord& r) {
    if (IsBare(r, "MULTI")) {
      if (multi_lsn_ != 0) return "MULTI inside a MULTI group";
      multi_lsn_ = lsn;
      return "";
    }
    if (IsBare(r, "EXEC")) {
      if (multi_lsn_ == 0) return "EXEC without MULTI";
      multi_lsn_ = 0;
      std::string why;
      for (const Kept& k : group_) {
        why = CheckOne(k.record);
        if (!why.empty()) {
          why = "in the MULTI group, LSN " + std::to_string(k.lsn) + ": " + why;
          break;
        }
      }
      group_.clear();
      return why;
    }
    if (multi_lsn_ != 0) {
      Kept& k = group_.emplace_back();
      k.lsn = lsn;
      k.record = r;
      k.argv.assign(r.argv.begin(), r.argv.end());
      k.record.argv.assign(k.argv.begin(), k.argv.end());
      return "";
    }
    return CheckOne(r);
  }
  // Nonzero when the records so far end inside a MULTI group: its MULTI's LSN.
  uint64_t open_multi_lsn() const { return multi_lsn_; }

 private:
  struct Kept {
    uint64_t lsn = 0;
    WalRecord record;               // argv points into argv below.
    std::vector<std::string> argv;  // a copy: ForEach's bytes live only during the callback.
  };

  static bool IsBare(const WalRecord& r, std::string_view name) {
    return r.type == WalRecordType::kCommand && r.argv.size() == 1 &&
           server::EqualsIgnoreCase(r.argv[0], name);
  }

  // As ApplyRecord (server/replay.cc), without running the command.
  std::string CheckOne(const WalRecord& r) const {
    if (r.type != WalRecordType::kCommand && r.type != WalRecordType::kExpireSweep) return "";
    if (r.db >= databases_) {
      return "database " + std::to_string(r.db) + " is outside 'databases' (" +
             std::to_string(databases_) + ")";
    }
    if (r.type == WalRecordType::kExpireSweep) return "";
    server::CmdArgs args(r.argv);
    bool unknown_subcommand = false;
    const server::CommandSpec* spec = server::CommandTable::Get().Find(args, &unknown_subcommand);
    if (spec == nullptr || !spec->ArityOk(args.size())) {
      return "'" + std::string(args[0].substr(0, kCommandNameShownBytesMax)) +
             "' is not a command this stockd can run";
    }
    return "";
  }

  const uint32_t databases_;
  uint64_t multi_lsn_ = 0;
  std::vector<Kept> group_;
};

std::string TruncateCommand(const std::string& wal_dir, uint64_t lsn) {
  return "stockd-wal truncate " + wal_dir + " --from " + std::to_string(lsn) + " --yes";
}

// Where recovery starts reading the log: after the newest snapshot (Server::OpenWal), or at LSN 1
// when there is none. Sets *snapshot when there is one. False with *error if the snapshots cannot
// be read (stockd would refuse to start too).
bool RecoveryFromLsn(Wal& wal, std::optional<storage::SnapshotInfo>* snapshot, uint64_t* from,
                     std::string* error) {
  if (!storage::FindNewestSnapshot(wal.db(), wal.snapshot_cf(), snapshot, error)) return false;
  *from = *snapshot ? (*snapshot)->lsn + 1 : 1;
  return true;
}

int Info(const std::string& dir) {
  std::string wal_dir, error;
  std::unique_ptr<Wal> wal = OpenLog(dir, &wal_dir, &error);
  if (!wal) {
    std::fprintf(stderr, "stockd-wal: %s\n", error.c_str());
    return kExitUsage;
  }
  uint64_t first_lsn = 0, bytes = 0;
  WalReadResult read = wal->ForEach(0, [&](uint64_t lsn, std::string_view record) {
    if (first_lsn == 0) first_lsn = lsn;
    bytes += record.size();
    return true;
  });
  const uint64_t last_lsn = wal->last_assigned_lsn();
  // The last record alone: whether the tail is torn, even when a problem stopped the read above.
  WalReadResult tail;
  if (last_lsn != 0) {
    tail = wal->ForEach(last_lsn, [](uint64_t, std::string_view) { return true; });
  }
  uint64_t disk_bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(wal_dir, ec)) {
    if (entry.is_regular_file(ec)) disk_bytes += entry.file_size(ec);
  }
  std::printf("wal directory: %s\n", wal_dir.c_str());
  std::optional<storage::SnapshotInfo> snapshot;
  uint64_t from = 1;
  if (!RecoveryFromLsn(*wal, &snapshot, &from, &error)) {
    std::printf("snapshot:      unreadable: %s\n", error.c_str());
  } else if (snapshot) {
    std::printf("snapshot:      LSN %llu, %llu keys, %llu bytes (recovery replays from LSN %llu)\n",
                static_cast<unsigned long long>(snapshot->lsn),
                static_cast<unsigned long long>(snapshot->keys),
                static_cast<unsigned long long>(snapshot->bytes),
                static_cast<unsigned long long>(from));
  } else {
    std::printf("snapshot:      none\n");
  }
  std::printf("first LSN:     %llu\n", static_cast<unsigned long long>(first_lsn));
  std::printf("last LSN:      %llu\n", static_cast<unsigned long long>(last_lsn));
  std::printf("records:       %llu%s\n", static_cast<unsigned long long>(read.records),
              read.ok() || read.problem == WalReadProblem::kTornTail
                  ? ""
                  : " (read up to the problem below)");
  std::printf("record bytes:  %llu\n", static_cast<unsigned long long>(bytes));
  std::printf("disk bytes:    %llu (every file in the directory)\n",
              static_cast<unsigned long long>(disk_bytes));
  if (last_lsn == 0) {
    std::printf("tail:          empty log\n");
  } else if (tail.problem == WalReadProblem::kTornTail) {
    std::printf("tail:          torn: %s (stockd cuts it at startup)\n", tail.detail.c_str());
  } else {
    std::printf("tail:          complete\n");
  }
  if (!read.ok() && read.problem != WalReadProblem::kTornTail) {
    std::printf("problem:       %s at LSN %llu: %s (stockd-wal verify tells what stockd does)\n",
                std::string(storage::WalReadProblemName(read.problem)).c_str(),
                static_cast<unsigned long long>(read.problem_lsn), read.detail.c_str());
  }
  return kExitOk;
}

int Dump(const std::string& dir, uint64_t from_lsn, std::optional<uint64_t> count) {
  std::string wal_dir, error;
  std::unique_ptr<Wal> wal = OpenLog(dir, &wal_dir, &error);
  if (!wal) {
    std::fprintf(stderr, "stockd-wal: %s\n", error.c_str());
    return kExitUsage;
  }
  uint64_t shown = 0;
  if (count && *count == 0) return kExitOk;
  WalReadResult read = wal->ForEach(from_lsn, [&](uint64_t lsn, std::string_view bytes) {
    WalRecord record;
    storage::Decode(bytes, &record);  // ForEach has checked it: always kOk here.
    std::printf("%s\n", FormatRecord(lsn, record).c_str());
    ++shown;
    return !count || shown < *count;
  });
  if (read.ok() || read.problem == WalReadProblem::kStopped) return kExitOk;
  if (read.problem == WalReadProblem::kGap && read.records == 0 && from_lsn != 0) {
    std::fprintf(stderr, "stockd-wal: LSN %llu is not in the log (%s)\n",
                 static_cast<unsigned long long>(from_lsn), read.detail.c_str());
    return kExitProblem;
  }
  std::fprintf(stderr, "stockd-wal: %s at LSN %llu: %s\n",
               std::string(storage::WalReadProblemName(read.problem)).c_str(),
               static_cast<unsigned long long>(read.problem_lsn), read.detail.c_str());
  return kExitProblem;
}

// databases_given: --databases was passed; otherwise a database refusal says the default was
// assumed.
int Verify(const std::string& dir, uint32_t databases, bool databases_given) {
  std::string wal_dir, error;
  std::unique_ptr<Wal> wal = OpenLog(dir, &wal_dir, &error);
  if (!wal) {
    std::fprintf(stderr, "stockd-wal: %s\n", error.c_str());
    return kExitUsage;
  }
  std::optional<storage::SnapshotInfo> snapshot;
  uint64_t from = 1;
  if (!RecoveryFromLsn(*wal, &snapshot, &from, &error)) {
    std::printf("%s\nstockd refuses to start. Restore %s from a backup or a replica.\n",
                error.c_str(), wal_dir.c_str());
    return kExitProblem;
  }
  if (snapshot) {
    std::printf("snapshot at LSN %llu (%llu keys); the log is replayed from LSN %llu\n",
                static_cast<unsigned long long>(snapshot->lsn),
                static_cast<unsigned long long>(snapshot->keys),
                static_cast<unsigned long long>(from));
  }
  RecoveryChecks checks(databases);
  std::string refused;
  WalReadResult read = wal->ForEach(from, [&](uint64_t lsn, std::string_view bytes) {
    WalRecord record;
    storage::Decode(bytes, &record);  // ForEach has checked it: always kOk here.
    refused = checks.Check(lsn, record);
    return refused.empty();
  });
  const uint64_t multi_lsn = checks.open_multi_lsn();
  std::string what;
  uint64_t lsn = 0;
  if (read.problem == WalReadProblem::kStopped) {
    what = "record at LSN " + std::to_string(read.last_lsn) + " could not be replayed: " + refused;
    if (!databases_given && refused.find("'databases'") != std::string::npos) {
      what += " (stockd's default; if stockd runs with more, pass --databases as configured)";
    }
    lsn = read.last_lsn;
  } else if (!read.ok() && read.problem != WalReadProblem::kTornTail) {
    what = std::string(storage::WalReadProblemName(read.problem)) + " at LSN " +
           std::to_string(read.problem_lsn) + ": " + read.detail;
    lsn = read.problem_lsn;
  }
  if (!what.empty()) {
    std::printf(
        "%s\nstockd refuses to start. Restore %s from a backup or a replica; or, knowingly "
        "losing every write from LSN %llu on, run:\n  %s\n",
        what.c_str(), wal_dir.c_str(), static_cast<unsigned long long>(lsn),
        TruncateCommand(wal_dir, lsn).c_str());
    return kExitProblem;
  }
  // What recovery cuts: an unfinished group whole (a torn record inside it goes with it), else a
  // torn last record. Neither was acknowledged.
  if (multi_lsn != 0) {
    std::printf(
        "the log ends inside a MULTI group from LSN %llu: stockd cuts the group at "
        "startup (never acknowledged) and replays the %llu records before it\n",
        static_cast<unsigned long long>(multi_lsn),
        static_cast<unsigned long long>(multi_lsn - from));
    return kExitTailCut;
  }
  if (read.problem == WalReadProblem::kTornTail) {
    std::printf(
        "torn last record: %s. stockd cuts it at startup (never acknowledged) and "
        "replays the %llu records before it\n",
        read.detail.c_str(), static_cast<unsigned long long>(read.records));
    return kExitTailCut;
  }
  std::printf("OK: %llu records", static_cast<unsigned long long>(read.records));
  if (read.records > 0) {
    std::printf(", LSN %llu..%llu", static_cast<unsigned long long>(from),
                static_cast<unsigned long long>(read.last_lsn));
  }
  std::printf("; stockd replays them all\n");
  return kExitOk;
}

int Truncate(const std::string& dir, uint64_t from_lsn, bool yes) {
  std::string wal_dir, error;
  std::unique_ptr<Wal> wal = OpenLog(dir, &wal_dir, &error);
  if (!wal) {
    std::fprintf(stderr, "stockd-wal: %s\n", error.c_str());
    return kExitUsage;
  }
  const uint64_t last_lsn = wal->last_assigned_lsn();
  if (from_lsn > last_lsn) {
    std::printf("nothing to drop: the log ends at LSN %llu\n",
                static_cast<unsigned long long>(last_lsn));
    return kExitOk;
  }
  std::printf("%s every record from LSN %llu to LSN %llu (%llu LSNs). The first of them:\n",
              yes ? "Dropping" : "Would drop", static_cast<unsigned long long>(from_lsn),
              static_cast<unsigned long long>(last_lsn),
              static_cast<unsigned long long>(last_lsn - from_lsn + 1));
  WalReadResult read = wal->ForEach(from_lsn, [&](uint64_t lsn, std::string_view bytes) {
    WalRecord record;
    storage::Decode(bytes, &record);
    std::printf("  %s\n", FormatRecord(lsn, record).c_str());
    return lsn - from_lsn + 1 < kTruncateRecordsShownMax;
  });
  if (!read.ok() && read.problem != WalReadProblem::kStopped) {
    std::printf("  %s at LSN %llu: %s\n",
                std::string(storage::WalReadProblemName(read.problem)).c_str(),
                static_cast<unsigned long long>(read.problem_lsn), read.detail.c_str());
  }
  if (!yes) {
    std::printf("Nothing was changed: run again with --yes to drop them.\n");
    return kExitProblem;
  }
  if (!wal->CutTail(from_lsn)) {
    std::fprintf(stderr, "stockd-wal: RocksDB refused to delete the records in %s\n",
                 wal_dir.c_str());
    return kExitUsage;
  }
  std::printf("Dropped. The log now ends at LSN %llu; new writes continue from LSN %llu.\n",
              static_cast<unsigned long long>(from_lsn - 1),
              static_cast<unsigned long long>(from_lsn));
  return kExitOk;
}

// The options after DIR: each "--name value" or a bare "--yes". False after printing why.
struct Options {
  std::optional<uint64_t> from;
  std::optional<uint64_t> count;
  std::optional<uint64_t> databases;
  bool yes = false;
};

bool ParseOptions(const std::vector<std::string_view>& args, std::string_view command, Options* o) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view name = args[i];
    if (name == "--yes" && command == "truncate") {
      o->yes = true;
      continue;
    }
    std::optional<uint64_t>* slot = nullptr;
    if (name == "--from" && (command == "dump" || command == "truncate")) slot = &o->from;
    if (name == "--count" && command == "dump") slot = &o->count;
    if (name == "--databases" && command == "verify") slot = &o->databases;
    uint64_t value = 0;
    if (slot == nullptr || i + 1 >= args.size() || !ParseUint64(args[i + 1], &value)) {
      std::fprintf(stderr, "stockd-wal %s: bad option '%s'\n", std::string(command).c_str(),
                   std::string(name).c_str());
      return false;
    }
    *slot = value;
    ++i;
  }
  return true;
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    Usage();
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  const std::string dir = argv[2];
  const std::vector<std::string_view> rest(argv + 3, argv + argc);
  Options o;
  if (!ParseOptions(rest, command, &o)) return kExitUsage;
  if (command == "info" && rest.empty()) return Info(dir);
  if (command == "dump") return Dump(dir, o.from.value_or(0), o.count);
  if (command == "verify") {
    // Without --databases, stockd's default, as a stockd started without the directive checks.
    const uint64_t databases = o.databases.value_or(server::Config().databases);
    if (databases < 1 || databases > static_cast<uint64_t>(server::kDatabasesMax)) {
      std::fprintf(stderr, "stockd-wal verify: --databases must be 1..%d\n", server::kDatabasesMax);
      return kExitUsage;
    }
    return Verify(dir, static_cast<uint32_t>(databases), o.databases.has_value());
  }
  if (command == "truncate") {
    if (!o.from || *o.from == 0) {
      std::fprintf(stderr, "stockd-wal truncate: --from LSN (1 or more) is required\n");
      return kExitUsage;
    }
    return Truncate(dir, *o.from, o.yes);
  }
  Usage();
  return kExitUsage;
}

}  // namespace
}  // namespace stockd::tools

int main(int argc, char** argv) { return stockd::tools::Main(argc, argv); }
