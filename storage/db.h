#pragma once
// One logical database (SELECT n) within one shard: the keys this shard owns, their values and
// their expiry times.
//
// Expiry is exact: every key with a TTL is also in an ordered index by expiry time, so active
// expiry deletes keys precisely when due instead of sampling (a reservation that times out must
// time out on time), and lazy expiry removes an expired key when it is touched.
#include <absl/container/btree_set.h>

#include <cstdint>
#include <functional>
#include <string_view>

#include "storage/dict.h"
#include "storage/value.h"

namespace stockd::storage {

__extension__ using Int128 = __int128;  // GCC/Clang extension: exact sums of ms times

struct Slot {
  Value value;
  int64_t expire_at_ms = 0;  // absolute Unix time in ms; 0 means no expiry
};

// Told about keys the Db deletes by itself (expiry), before they are gone.
class ExpiryListener {
 public:
  virtual ~ExpiryListener() = default;
  virtual void OnKeyExpired(int db_index, std::string_view key) = 0;
};

class Db {
 public:
  using Table = Dict<Slot>;
  using Entry = Table::Node;

  Db(int index, ExpiryListener* listener) : index_(index), listener_(listener) {}
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  int index() const { return index_; }
  size_t size() const { return table_.size(); }
  size_t expires_count() const { return by_expiry_.size(); }
  // Mean remaining TTL in ms over keys with a TTL (0 when none), as INFO keyspace's avg_ttl.
  int64_t AverageTtlMs(int64_t now_ms) const;

  // The live entry for `key`, or nullptr. An expired key is deleted here (lazy expiry).
  Entry* Find(std::string_view key, int64_t now_ms);
  // The same, but an expired key is only hidden, not deleted: a standby's reads, which must not
  // change what its primary's records will find (as a Redis replica's reads).
  Entry* Peek(std::string_view key, int64_t now_ms) {
    Entry* e = table_.Find(key);
    return e != nullptr && IsExpired(e, now_ms) ? nullptr : e;
  }
  // The live entry for `key`, created empty (a string "") when absent; second is true if created.
  std::pair<Entry*, bool> FindOrInsert(std::string_view key, int64_t now_ms);
  // Deletes `key`; returns whether a live key was deleted. An expired key counts as absent.
  bool Erase(std::string_view key, int64_t now_ms);
  // Deletes an entry obtained from Find/FindOrInsert.
  void EraseEntry(Entry* e);

  // Sets or clears (at_ms == 0) the expiry of an entry.
  void SetExpire(Entry* e, int64_t at_ms);
  static bool IsExpired(const Entry* e, int64_t now_ms) {
    return e->val.expire_at_ms != 0 && e->val.expire_at_ms <= now_ms;
  }

  // See Dict::PrefetchBucket / PrefetchNode: hints for a batch of lookups, no effect otherwise.
  void PrefetchBucket(uint64_t hash) const { table_.PrefetchBucket(hash); }
  void PrefetchNode(uint64_t hash) const { table_.PrefetchNode(hash); }

  // Deletes up to `keys_max` keys that are due at `now_ms`, telling the listener about each.
  // Returns the number deleted.
  size_t ExpireDue(int64_t now_ms, size_t keys_max);

  // Redis SCAN over this db's table; fn(Entry*) sees live and not-yet-collected expired entries,
  // the caller filters with IsExpired.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    return table_.Scan(cursor, std::forward<Fn>(fn));
  }
  template <typename Fn>
  void ForEach(Fn&& fn) {
    table_.ForEach(std::forward<Fn>(fn));
  }
  template <typename Rng>
  Entry* Random(Rng& rng) {
    return table_.Random(rng);
  }

  // Drops every key. Returns how many there were.
  size_t Clear();
  // Incremental table maintenance; call from the shard's cron.
  void Maintain(size_t rehash_steps) {
    table_.Rehash(rehash_steps);
    table_.ShrinkIfNeeded();
  }

 private:
  void RemoveFromExpiryIndex(Entry* e);

  int index_;
  ExpiryListener* listener_;
  Table table_;
  absl::btree_set<std::pair<int64_t, Entry*>> by_expiry_;
  // Sum of expire_at_ms over by_expiry_, for an exact average TTL without a scan.
  Int128 expire_at_sum_ = 0;
};

}  // namespace stockd::storage
