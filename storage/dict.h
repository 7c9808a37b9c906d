#pragma once
// A chained hash table with incremental rehashing and Redis's reverse-binary SCAN cursor.
//
// Why not absl::flat_hash_map: SCAN must return every element that is present for the whole
// scan, even while the table grows or shrinks, and a resize must not stall the shard for the
// length of a full rehash. Redis's dict (two tables, one bucket moved per operation, a cursor
// that increments its reversed bits) gives both; this is that design.
//
// Nodes never move once inserted (rehashing relinks them), so a Node* stays valid until the
// element is erased. Not thread-safe: a Dict belongs to one shard.
#include <xxhash.h>

#include <bit>
#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace stockd::storage {

inline uint64_t HashBytes(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

template <typename V>
class Dict {
 public:
  struct Node {
    Node* next;
    uint64_t hash;
    std::string key;
    V val;
  };

  // Smallest table, in buckets; a power of two.
  static constexpr size_t kBucketsMin = 4;
  // Empty buckets one rehash step may skip before it returns (bounds the step's cost).
  static constexpr size_t kRehashEmptyVisitsMax = 10;

  Dict() = default;
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  ~Dict() { Clear(); }

  size_t size() const { return t_[0].used + t_[1].used; }
  bool empty() const { return size() == 0; }
  size_t buckets() const { return t_[0].size() + t_[1].size(); }
  bool rehashing() const { return rehash_index_ >= 0; }

  Node* Find(std::string_view key) {
    if (size() == 0) return nullptr;
    if (rehashing()) RehashStep();
    uint64_t h = HashBytes(key);
    for (int t = 0; t < 2; ++t) {
      if (t_[t].size() == 0) continue;
      for (Node* n = t_[t].buckets[h & t_[t].mask]; n; n = n->next) {
        if (n->hash == h && n->key == key) return n;
      }
      if (!rehashing()) break;
    }
    return nullptr;
  }

  // Prefetching for a batch of lookups: the cost of a lookup in a large table is two cache misses
  // (the bucket, then the node), and a batch's lookups are independent, so issuing every
  // bucket's load first and then every node's lets the misses overlap instead of queueing.
  // PrefetchBucket(h) for each key, then PrefetchNode(h) for each, then the lookups.
  void PrefetchBucket(uint64_t hash) const {
    for (const Table& t : t_) {
      if (t.size() != 0) __builtin_prefetch(&t.buckets[hash & t.mask]);
    }
  }
  void PrefetchNode(uint64_t hash) const {
    for (const Table& t : t_) {
      if (t.size() != 0) {
        if (const Node* n = t.buckets[hash & t.mask]) __builtin_prefetch(n);
      }
    }
  }

  // Returns the node for `key`, inserting a value-initialised one if absent; second is true when
  // inserted.
  std::pair<Node*, bool> FindOrInsert(std::string_view key) {
    if (Node* n = Find(key)) return {n, false};
    ExpandIfNeeded();
    uint64_t h = HashBytes(key);
    Table& t = rehashing() ? t_[1] : t_[0];
    Node*& head = t.buckets[h & t.mask];
    Node* n = new Node{head, h, std::string(key), V{}};
    head = n;
    ++t.used;
    return {n, true};
  }

  bool Erase(std::string_view key) {
    if (size() == 0) return false;
    if (rehashing()) RehashStep();
    uint64_t h = HashBytes(key);
    for (int t = 0; t < 2; ++t) {
      if (t_[t].size() == 0) continue;
      Node** link = &t_[t].buckets[h & t_[t].mask];
      for (Node* n = *link; n; link = &n->next, n = n->next) {
        if (n->hash == h && n->key == key) {
          *link = n->next;
          delete n;
          --t_[t].used;
          return true;
        }
      }
      if (!rehashing()) break;
    }
    return false;
  }

  // Erases a node obtained from this table (no key comparison, no rehash step).
  void EraseNode(Node* node) {
    for (int t = 0; t < 2; ++t) {
      if (t_[t].size() == 0) continue;
      Node** link = &t_[t].buckets[node->hash & t_[t].mask];
      for (Node* n = *link; n; link = &n->next, n = n->next) {
        if (n == node) {
          *link = n->next;
          delete n;
          --t_[t].used;
          return;
        }
      }
    }
    assert(false && "EraseNode: node not in table");
  }

  void Clear() {
    for (Table& t : t_) {
      for (size_t i = 0; i < t.size(); ++i) {
        Node* n = t.buckets[i];
        while (n) {
          Node* next = n->next;
          delete n;
          n = next;
        }
      }
      t = Table{};
    }
    rehash_index_ = -1;
  }

  // Calls fn(Node*) for the elements of the buckets at `cursor` and returns the next cursor; 0
  // means the scan is complete. Guarantee (as Redis's dictScan): an element present from the
  // start to the end of a full scan is returned at least once. fn must not modify the table.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    if (size() == 0) return 0;
    uint64_t v = cursor;
    if (!rehashing()) {
      const Table& t0 = t_[0];
      EmitBucket(t0, v & t0.mask, fn);
      v |= ~t0.mask;
      v = NextReverse(v);
    } else {
      const Table* small = &t_[0];
      const Table* large = &t_[1];
      if (small->size() > large->size()) std::swap(small, large);
      uint64_t m0 = small->mask, m1 = large->mask;
      EmitBucket(*small, v & m0, fn);
      // Visit every bucket of the larger table that expands the smaller table's bucket.
      do {
        EmitBucket(*large, v & m1, fn);
        v |= ~m1;
        v = NextReverse(v);
      } while (v & (m0 ^ m1));
    }
    return v;
  }

  // A random element, or nullptr when empty. Picks a random non-empty bucket, then a random
  // element of its chain (close to uniform for short chains).
  template <typename Rng>
  Node* Random(Rng& rng) {
    if (size() == 0) return nullptr;
    if (rehashing()) RehashStep();
    Node* head = nullptr;
    // Bounded: with load factor <= 1 after growth a non-empty bucket is found quickly; the
    // bound keeps a pathological shrink-pending table from looping long.
    for (int attempt = 0; attempt < 1 << 20 && !head; ++attempt) {
      size_t total = t_[0].size() + t_[1].size();
      size_t i = rng() % total;
      head = i < t_[0].size() ? t_[0].buckets[i] : t_[1].buckets[i - t_[0].size()];
      if (rehashing() && i < t_[0].size() && static_cast<int64_t>(i) < rehash_index_) {
        head = nullptr;  // already moved: always empty
      }
    }
    if (!head) return First();
    size_t len = 0;
    for (Node* n = head; n; n = n->next) ++len;
    size_t pick = rng() % len;
    Node* n = head;
    while (pick--) n = n->next;
    return n;
  }

  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (Table& t : t_) {
      for (size_t i = 0; i < t.size(); ++i) {
        for (Node* n = t.buckets[i]; n;) {
          Node* next = n->next;  // fn may not erase, but reading next first is cheap insurance
          fn(n);
          n = next;
        }
      }
    }
  }

  // Moves up to `steps` buckets to the new table; returns true while rehashing remains. Called
  // from the shard's cron so an idle table still finishes its rehash.
  bool Rehash(size_t steps) {
    while (steps-- && rehashing()) RehashStep();
    return rehashing();
  }

  // Shrinks the table when it is under 10% full (as Redis's HASHTABLE_MIN_FILL); call from cron.
  void ShrinkIfNeeded() {
    if (rehashing() || t_[0].size() <= kBucketsMin) return;
    if (t_[0].used * 10 >= t_[0].size()) return;
    StartResize(std::max(kBucketsMin, std::bit_ceil(std::max<size_t>(t_[0].used, 1))));
  }

 private:
  struct Table {
    std::unique_ptr<Node*[]> buckets;
    uint64_t mask = 0;
    size_t used = 0;
    size_t size() const { return buckets ? mask + 1 : 0; }
  };

  static uint64_t NextReverse(uint64_t v) {
    v = ReverseBits(v);
    ++v;
    return ReverseBits(v);
  }
  static uint64_t ReverseBits(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return __builtin_bswap64(v);
  }

  template <typename Fn>
  static void EmitBucket(const Table& t, uint64_t index, Fn& fn) {
    for (Node* n = t.buckets[index]; n; n = n->next) fn(n);
  }

  Node* First() {
    for (Table& t : t_) {
      for (size_t i = 0; i < t.size(); ++i) {
        if (t.buckets[i]) return t.buckets[i];
      }
    }
    return nullptr;
  }

  void ExpandIfNeeded() {
    if (rehashing()) return;
    if (t_[0].size() == 0) {
      t_[0].buckets = std::make_unique<Node*[]>(kBucketsMin);
      t_[0].mask = kBucketsMin - 1;
      return;
    }
    if (t_[0].used >= t_[0].size()) StartResize(t_[0].size() * 2);
  }

  void StartResize(size_t new_size) {
    assert(!rehashing());
    assert(std::has_single_bit(new_size));
    t_[1].buckets = std::make_unique<Node*[]>(new_size);
    t_[1].mask = new_size - 1;
    t_[1].used = 0;
    rehash_index_ = 0;
  }

  void RehashStep() {
    size_t empty_visits = kRehashEmptyVisitsMax;
    Table& from = t_[0];
    Table& to = t_[1];
    while (static_cast<size_t>(rehash_index_) < from.size() &&
           from.buckets[rehash_index_] == nullptr) {
      ++rehash_index_;
      if (--empty_visits == 0) return;
    }
    if (static_cast<size_t>(rehash_index_) < from.size()) {
      Node* n = from.buckets[rehash_index_];
      while (n) {
        Node* next = n->next;
        Node*& head = to.buckets[n->hash & to.mask];
        n->next = head;
        head = n;
        --from.used;
        ++to.used;
        n = next;
      }
      from.buckets[rehash_index_] = nullptr;
      ++rehash_index_;
    }
    if (from.used == 0) {
      t_[0] = std::move(t_[1]);
      t_[1] = Table{};
      rehash_index_ = -1;
    }
  }

  Table t_[2];
  int64_t rehash_index_ = -1;  // next bucket of t_[0] to move, or -1 when not rehashing
};

}  // namespace stockd::storage
