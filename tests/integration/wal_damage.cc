// wal_damage: changes a stopped stockd's write-ahead log behind the WAL's back, through RocksDB, as
// a damaged disk or a writer bug would, for tests/integration/test_recovery.py. stockd itself has
// no switch for this: the damage is made from outside, as in production.
//   wal_damage WALDIR delete LSN              leaves a gap at LSN
//   wal_damage WALDIR put LSN DB ARG...       writes a valid kCommand record of ARG... at LSN
#include <rocksdb/db.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/wal.h"
#include "storage/wal_record.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "Usage: wal_damage WALDIR delete LSN\n"
               "       wal_damage WALDIR put LSN DB ARG...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stockd::storage;
  if (argc < 4) return Usage();
  const std::string dir = argv[1];
  const std::string_view op = argv[2];
  const uint64_t lsn = std::strtoull(argv[3], nullptr, 10);
  if (!(op == "delete" && argc == 4) && !(op == "put" && argc >= 6)) return Usage();

  rocksdb::DBOptions options;
  // Every column family stockd makes: RocksDB refuses to open a database without naming each.
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}},
      {std::string(kWalColumnFamily), {}},
      {std::string(kSnapshotColumnFamily), {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, families, &handles, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "wal_damage: %s\n", s.ToString().c_str());
    return 1;
  }
  rocksdb::WriteOptions synced;
  synced.sync = true;
  if (op == "delete") {
    s = db->Delete(synced, handles[1], EncodeLsnKey(lsn));
  } else {
    const int database = std::atoi(argv[4]);
    const std::vector<std::string_view> args(argv + 5, argv + argc);
    const std::optional<std::string> record = EncodeCommandRecord(database, 0, args);
    s = record ? db->Put(synced, handles[1], EncodeLsnKey(lsn), *record)
               : rocksdb::Status::InvalidArgument("the record breaks a limit");
  }
  if (!s.ok()) std::fprintf(stderr, "wal_damage: %s\n", s.ToString().c_str());
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return s.ok() ? 0 : 1;
}
