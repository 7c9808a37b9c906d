#pragma once
// Replication epochs (docs/replication.md, "Epochs"): the primary terms a node's log went through,
// and the fork LSN two logs share. Pure logic plus its persistence in the node's RocksDB database.
//
// Every promotion starts a new epoch at the LSN of its epoch record; a term's records are written
// by one primary only. So two logs agree through every term their histories share (same epoch,
// same first LSN), up to where the first of them left the last shared term: ForkLsn.
#include <rocksdb/db.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stockd::replication {

// The key of the history in the default column family of the WAL's database.
inline constexpr std::string_view kEpochHistoryKey = "replication/epochs";
// Terms kept in the history. A promotion a second for a year stays far below it; the bound keeps
// a corrupt or hostile value from asking for unbounded memory on load.
inline constexpr size_t kEpochTermsMax = 1 << 20;

struct EpochTerm {
  uint64_t epoch = 0;
  uint64_t first_lsn = 0;  // the LSN of the term's epoch record
  bool operator==(const EpochTerm&) const = default;
};

class EpochHistory {
 public:
  // The current epoch: that of the last term, 0 for a node that was never promoted.
  uint64_t current() const { return terms_.empty() ? 0 : terms_.back().epoch; }
  const std::vector<EpochTerm>& terms() const { return terms_; }

  // A new term. False (nothing changes) unless epoch > current() and first_lsn is past the last
  // term's first LSN.
  bool Begin(uint64_t epoch, uint64_t first_lsn);
  // Drops the terms that begin after `lsn` (the log was cut after it). Returns how many.
  size_t CutAfter(uint64_t lsn);

  // The primary's side of the handshake: the last LSN this node's log (this history, ending at
  // my_last_lsn) shares with a standby's (its history, ending at standby_last_lsn). nullopt when
  // the standby is in a newer epoch than this node (this node is the stale one).
  std::optional<uint64_t> ForkLsn(const EpochHistory& standby, uint64_t standby_last_lsn,
                                  uint64_t my_last_lsn) const;

  // "epoch:first_lsn,epoch:first_lsn,..." (empty for no terms): readable with any RocksDB tool.
  std::string Encode() const;
  static std::optional<EpochHistory> Decode(std::string_view s);

  // Reads the history from `db`; an absent key is the empty history. False with *error on a
  // read error or a malformed value.
  static bool Load(rocksdb::DB* db, EpochHistory* out, std::string* error);
  // Writes it with a synced write: a promotion must not be forgotten by a crash.
  bool Save(rocksdb::DB* db, std::string* error) const;

  bool operator==(const EpochHistory&) const = default;

 private:
  std::vector<EpochTerm> terms_;
};

}  // namespace stockd::replication
