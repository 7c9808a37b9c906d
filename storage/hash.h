#pragma once
// The hash value type (Redis's t_hash.c encodings).
//
// Two encodings, as Redis:
// - "listpack": a contiguous vector of field/value pairs, searched linearly. Small hashes are the
//   common case and a few cache lines scanned in order beat a table's pointer chasing, at a
//   fraction of the memory.
// - "hashtable": a storage::Dict, once the hash outgrows the listpack limits below. The Dict
//   gives SCAN its guarantee (every field present for the whole scan is returned) and resizes
//   incrementally.
// A hash is converted to "hashtable" once and never back, as Redis.
//
// Not thread-safe: a value belongs to the shard that owns its key.
#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/dict.h"
#include "storage/value.h"

namespace stockd::storage {

class HashValue final : public Collection {
 public:
  // Redis's hash-max-listpack-entries and hash-max-listpack-value defaults: a hash stays a
  // listpack while it has at most this many fields and every field and value is at most this
  // many bytes.
  static constexpr size_t kListpackEntriesMax = 128;
  static constexpr size_t kListpackValueBytesMax = 64;

  size_t size() const override;
  const char* EncodingName() const override;
  size_t HeapBytes() const override;

  bool is_listpack() const { return dict_ == nullptr; }

  // The value of `field`, or nullptr. The pointer is valid until the hash is next modified.
  const std::string* Find(std::string_view field);
  // Sets `field` to `value`; returns true when the field is new. Converts to "hashtable" first
  // when the field or value is too long for a listpack, or after when the entries are too many.
  bool Set(std::string_view field, std::string_view value);
  // Removes `field`; returns whether it was present.
  bool Erase(std::string_view field);

  // Calls fn(field, value) for every field, in the encoding's order. fn must not modify the hash.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (is_listpack()) {
      for (const auto& [f, v] : listpack_) fn(std::string_view(f), std::string_view(v));
    } else {
      dict_->ForEach([&](Dict<std::string>::Node* n) {
        fn(std::string_view(n->key), std::string_view(n->val));
      });
    }
  }

  // A random field and its value (the hash must not be empty). Views are valid until the hash is
  // next modified.
  template <typename Rng>
  std::pair<std::string_view, std::string_view> Random(Rng& rng) {
    assert(size() > 0);
    if (is_listpack()) {
      const auto& [f, v] = listpack_[rng() % listpack_.size()];
      return {f, v};
    }
    Dict<std::string>::Node* n = dict_->Random(rng);
    return {n->key, n->val};
  }

  // One step of HSCAN: calls fn(field, value) and returns the next cursor (0: done). A listpack
  // returns everything in one call with cursor 0, as Redis; a hashtable follows Dict::Scan.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, Fn&& fn) {
    if (is_listpack()) {
      ForEach(fn);
      return 0;
    }
    return dict_->Scan(cursor, [&](Dict<std::string>::Node* n) {
      fn(std::string_view(n->key), std::string_view(n->val));
    });
  }

 private:
  void ConvertToHashtable();

  // The snapshot codec (storage/value_codec.cc) writes and rebuilds each encoding as it is.
  friend struct ValueCodecAccess;

  std::vector<std::pair<std::string, std::string>> listpack_;
  std::unique_ptr<Dict<std::string>> dict_;  // set once converted; listpack_ is then empty
};

}  // namespace stockd::storage
