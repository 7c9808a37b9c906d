#pragma once
// The sorted set value (Redis's zset): members with a double score, ordered by score and, for
// equal scores, by member bytes (memcmp, a shorter prefix first), exactly as Redis orders them.
//
// Two encodings, as Redis:
// - "listpack": a vector of (member, score) kept sorted; lookups by member are linear, by rank
//   direct. Used while the set has at most kListpackEntriesMax members, each at most
//   kListpackValueBytesMax bytes (Redis's zset-max-listpack-entries / -value defaults).
// - "skiplist": member -> score in a Dict<double> (O(1) ZSCORE, Redis's ZSCAN cursor guarantee)
//   plus a skip list with span counts (Redis's zskiplist), giving O(log n) insert, delete, rank
//   of a member and member at a rank. A set converts once, when an insert would break a
//   listpack limit, and never converts back (as Redis 7.0).
//
// Everything the command family needs is expressed in ranks (0-based, ascending): a score or lex
// range is turned into ranks with CountBefore, then visited or erased by rank.
//
// Not thread-safe: a value belongs to one shard.
#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/dict.h"
#include "storage/value.h"

namespace stockd::storage {

// Redis's order of sorted set elements: by score, then by member bytes.
inline bool ZLess(double a_score, std::string_view a_member, double b_score,
                  std::string_view b_member) {
  if (a_score != b_score) return a_score < b_score;
  return a_member.compare(b_member) < 0;  // char_traits<char>::compare is memcmp: unsigned bytes
}

// Redis's zskiplist: a skip list whose forward links carry spans (how many elements they jump),
// so the rank of any node is the sum of the spans on the path to it. Nodes do not own their
// member bytes: `member` views the key of the owning ZSetValue's Dict node, which never moves
// while the member is present.
class ZSkipList {
 public:
  // Redis's ZSKIPLIST_MAXLEVEL and ZSKIPLIST_P: enough levels for 2^64 elements at p = 1/4.
  static constexpr int kLevelsMax = 32;
  static constexpr double kLevelUpProbability = 0.25;

  struct Node;
  struct Level {
    Node* forward;
    size_t span;  // elements from this node to `forward` (to the end when forward is null)
  };
  struct Node {
    std::string_view member;
    double score;
    Node* backward;
    int height;
    Level* levels() { return reinterpret_cast<Level*>(this + 1); }
    const Level* levels() const { return reinterpret_cast<const Level*>(this + 1); }
  };

  ZSkipList();
  ~ZSkipList();
  ZSkipList(const ZSkipList&) = delete;
  ZSkipList& operator=(const ZSkipList&) = delete;

  size_t size() const { return length_; }
  // Inserts an element that is not present.
  void Insert(double score, std::string_view member);
  // Erases the element (score, member); returns whether it was present.
  bool Erase(double score, std::string_view member);
  // 1-based rank of (score, member), or 0 when absent.
  size_t Rank(double score, std::string_view member) const;
  // The node at 1-based `rank` (1 <= rank <= size()).
  const Node* AtRank(size_t rank) const;

  // Number of leading elements for which before(score, member) holds. `before` must hold for a
  // prefix of the order and not after it (a range's lower or upper edge).
  template <typename Before>
  size_t CountBefore(Before before) const {
    size_t rank = 0;
    Seek([&](const Node* n, size_t) { return before(n->score, n->member); }, nullptr, &rank);
    return rank;
  }

  // Erases the elements at 0-based ranks [first, first + count), calling on_erase(member) for
  // each before it is freed. O(log n + count).
  template <typename OnErase>
  void EraseRanks(size_t first, size_t count, OnErase on_erase) {
    assert(first + count <= length_);
    Node* update[kLevelsMax];
    Node* x = Seek([&](const Node*, size_t rank) { return rank <= first; }, update, nullptr);
    x = x->levels()[0].forward;
    for (size_t i = 0; i < count; ++i) {
      assert(x != nullptr);
      Node* next = x->levels()[0].forward;
      Unlink(x, update);
      on_erase(x->member);
      FreeNode(x);
      x = next;
    }
  }

  size_t HeapBytes() const { return heap_bytes_; }

 private:
  // Walks from the header, at each level moving forward while pred(next, rank of next) holds.
  // Fills update[i] (the last node visited on level i) and *rank (the rank of the returned node)
  // when not null. Returns the last node for which pred held (the header when none did).
  template <typename Pred>
  Node* Seek(Pred pred, Node** update, size_t* rank) const {
    Node* x = header_;
    size_t traversed = 0;
    for (int i = level_ - 1; i >= 0; --i) {
      while (x->levels()[i].forward != nullptr &&
             pred(x->levels()[i].forward, traversed + x->levels()[i].span)) {
        traversed += x->levels()[i].span;
        x = x->levels()[i].forward;
      }
      if (update != nullptr) update[i] = x;
    }
    if (rank != nullptr) *rank = traversed;
    return x;
  }
  Node* NewNode(int height, double score, std::string_view member);
  void FreeNode(Node* n);
  void Unlink(Node* x, Node** update);
  static int RandomHeight();

  Node* header_;
  Node* tail_ = nullptr;
  size_t length_ = 0;
  int level_ = 1;
  size_t heap_bytes_ = 0;
};

class ZSetValue final : public Collection {
 public:
  // Redis's zset-max-listpack-entries default: members a listpack may hold.
  static constexpr size_t kListpackEntriesMax = 128;
  // Redis's zset-max-listpack-value default: bytes of the longest member a listpack may hold.
  static constexpr size_t kListpackValueBytesMax = 64;

  enum class Encoding { kListpack, kSkipList };

  ZSetValue() = default;

  size_t size() const override;
  const char* EncodingName() const override;
  size_t HeapBytes() const override;
  Encoding encoding() const { return skiplist_ ? Encoding::kSkipList : Encoding::kListpack; }

  // The score of `member`, or nullopt when absent.
  std::optional<double> Score(std::string_view member);
  // Inserts a member that is not present (converting to a skip list when a limit would break).
  // `score` must not be NaN.
  void Insert(std::string_view member, double score);
  // Changes the score of a present member from old_score to new_score (not NaN).
  void UpdateScore(std::string_view member, double old_score, double new_score);
  // Removes `member`; returns whether it was present.
  bool Erase(std::string_view member);
  // The 0-based ascending rank of a present member whose score is `score`.
  size_t Rank(std::string_view member, double score) const;

  // See ZSkipList::CountBefore: before(score, member) holds for a prefix of the order.
  template <typename Before>
  size_t CountBefore(Before before) const {
    if (skiplist_) return skiplist_->list.CountBefore(before);
    size_t lo = 0, hi = entries_.size();
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (before(entries_[mid].score, std::string_view(entries_[mid].member))) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  // Calls fn(member, score) for `count` elements starting at 0-based rank `first`, going up the
  // order, or down it when `reverse`. The ranks visited must exist. fn must not modify the set.
  template <typename Fn>
  void Visit(size_t first, size_t count, bool reverse, Fn fn) const {
    if (count == 0) return;
    assert(first < size() && (reverse ? count <= first + 1 : first + count <= size()));
    if (!skiplist_) {
      for (size_t i = 0; i < count; ++i) {
        const ListpackEntry& e = entries_[reverse ? first - i : first + i];
        fn(std::string_view(e.member), e.score);
      }
      return;
    }
    const ZSkipList::Node* n = skiplist_->list.AtRank(first + 1);
    for (size_t i = 0; i < count; ++i) {
      assert(n != nullptr);
      fn(n->member, n->score);
      n = reverse ? n->backward : n->levels()[0].forward;
    }
  }

  // Removes the elements at 0-based ranks [first, first + count).
  void EraseRanks(size_t first, size_t count);

  // ZSCAN. A listpack is returned whole (next cursor 0), as Redis; a skip list set is scanned
  // with its Dict's reverse-binary cursor. fn(member, score) is called per element.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn fn) {
    if (!skiplist_) {
      for (const ListpackEntry& e : entries_) fn(std::string_view(e.member), e.score);
      return 0;
    }
    return skiplist_->scores.Scan(
        cursor, [&](Dict<double>::Node* n) { fn(std::string_view(n->key), n->val); });
  }

 private:
  struct ListpackEntry {
    std::string member;
    double score;
  };
  struct SkipListEncoding {
    Dict<double> scores;  // owns the member bytes the skip list views
    ZSkipList list;
  };

  size_t ListpackFind(std::string_view member) const;  // index, or entries_.size() when absent
  void ListpackInsert(std::string_view member, double score);
  void ConvertToSkipList();
  void SkipListInsert(std::string_view member, double score);

  // The snapshot codec (storage/value_codec.cc) writes and rebuilds each encoding as it is.
  friend struct ValueCodecAccess;

  std::vector<ListpackEntry> entries_;          // the listpack encoding, sorted
  std::unique_ptr<SkipListEncoding> skiplist_;  // the skiplist encoding, when converted
};

}  // namespace stockd::storage
