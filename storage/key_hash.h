#pragma once
// Which shard owns a key: xxh3 of the key, or of its hash tag, modulo the shard count.
#include <cstdint>
#include <string_view>

#include "storage/dict.h"

namespace stockd::storage {

// The hash tag of a key as Redis Cluster defines it: the bytes between the first '{' and the
// first '}' after it, if that is non-empty; otherwise the whole key. Keys with the same tag
// live on the same shard, so commands over them need no cross-shard coordination.
inline std::string_view HashTag(std::string_view key) {
  size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

inline uint32_t ShardOfKey(std::string_view key, uint32_t shards) {
  return static_cast<uint32_t>(HashBytes(HashTag(key)) % shards);
}

}  // namespace stockd::storage
