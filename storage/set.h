#pragma once
// The set value type (Redis's t_set.c encodings).
//
// Three encodings, as Redis 7.2 (7.0 had no set listpack; stockd takes the later, smaller form):
// - "intset": a sorted vector of int64, while every member is a canonical integer and there are
//   at most kIntsetEntriesMax. Binary search, 8 bytes a member, and SMEMBERS in numeric order.
// - "listpack": a contiguous vector of strings searched linearly, for small sets of
//   non-integers (at most kListpackEntriesMax members of at most kListpackValueBytesMax bytes).
// - "hashtable": a storage::Dict with empty values otherwise; it gives SSCAN its guarantee and
//   resizes incrementally.
// Encodings only grow (intset -> listpack -> hashtable, or intset -> hashtable), as Redis.
//
// Not thread-safe: a value belongs to the shard that owns its key.
#include <cassert>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/dict.h"
#include "storage/value.h"

namespace stockd::storage {

class SetValue final : public Collection {
 public:
  // Redis's set-max-intset-entries, set-max-listpack-entries and set-max-listpack-value defaults.
  static constexpr size_t kIntsetEntriesMax = 512;
  static constexpr size_t kListpackEntriesMax = 128;
  static constexpr size_t kListpackValueBytesMax = 64;

  enum class Encoding : uint8_t { kIntset, kListpack, kHashtable };
  struct NoValue {};
  using Table = Dict<NoValue>;

  // An empty intset: what SINTERSTORE and friends start their result from, as Redis.
  SetValue() = default;
  // The encoding Redis's setTypeCreate picks for a new set whose first member is `first` and
  // that is about to receive `size_hint` members (SADD's member count).
  static std::unique_ptr<SetValue> ForMembers(std::string_view first, size_t size_hint);

  size_t size() const override;
  const char* EncodingName() const override;
  size_t HeapBytes() const override;
  Encoding encoding() const { return encoding_; }

  // Adds `member`; returns true when it is new. Converts first when the member does not fit the
  // current encoding, or after when the set has grown past its encoding's limit.
  bool Add(std::string_view member);
  // Removes `member`; returns whether it was present.
  bool Remove(std::string_view member);
  bool Contains(std::string_view member);

  // Calls fn(member) for every member, in the encoding's order (numeric for an intset). The view
  // is valid only during the call. fn must not modify the set.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    switch (encoding_) {
      case Encoding::kIntset:
        for (int64_t v : intset_) {
          char buf[20];
          fn(FormatInt(v, buf));
        }
        return;
      case Encoding::kListpack:
        for (const std::string& m : listpack_) fn(std::string_view(m));
        return;
      case Encoding::kHashtable:
        dict_->ForEach([&](Table::Node* n) { fn(std::string_view(n->key)); });
        return;
    }
  }

  // A random member (the set must not be empty), as a copy.
  template <typename Rng>
  std::string Random(Rng& rng) {
    assert(size() > 0);
    switch (encoding_) {
      case Encoding::kIntset:
        return std::to_string(intset_[rng() % intset_.size()]);
      case Encoding::kListpack:
        return listpack_[rng() % listpack_.size()];
      case Encoding::kHashtable:
        return dict_->Random(rng)->key;
    }
    return {};
  }

  // One step of SSCAN: calls fn(member) and returns the next cursor (0: done). An intset or a
  // listpack returns everything in one call with cursor 0, as Redis; a hashtable follows
  // Dict::Scan.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    if (encoding_ != Encoding::kHashtable) {
      ForEach(fn);
      return 0;
    }
    return dict_->Scan(cursor, [&](Table::Node* n) { fn(std::string_view(n->key)); });
  }

 private:
  static std::string_view FormatInt(int64_t v, char* buf) {
    auto r = std::to_chars(buf, buf + 20, v);
    return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
  }
  void ConvertToListpack();
  void ConvertToHashtable();
  bool AddToHashtable(std::string_view member);

  // The snapshot codec (storage/value_codec.cc) writes and rebuilds each encoding as it is.
  friend struct ValueCodecAccess;

  Encoding encoding_ = Encoding::kIntset;
  std::vector<int64_t> intset_;        // sorted, no duplicates
  std::vector<std::string> listpack_;  // insertion order, no duplicates
  std::unique_ptr<Table> dict_;        // set once converted to a hashtable
};

}  // namespace stockd::storage
