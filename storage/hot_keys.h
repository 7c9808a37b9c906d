#pragma once
// Hot-item detection (SKU.HOT): the recent request rate of each SKU a shard serves.
//
// Each touched key keeps an exponentially decaying count: every request adds 1, and the count
// halves every kHalfLifeMs. For a steady rate r (requests per second) the count settles at
// r * half-life / ln 2, so rate = count * ln 2 / half-life. Memory is bounded: past
// 2 * kTrackedMax keys per database the coldest are dropped down to kTrackedMax, so a key that
// gets a burst after a cold spell is tracked again from its first new request.
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/sku.h"

namespace stockd::storage {

class HotKeys {
 public:
  static constexpr int64_t kHalfLifeMs = 10'000;  // ms
  static constexpr size_t kTrackedMax = 1024;     // keys per database per shard

  explicit HotKeys(int databases) : dbs_(databases) {}

  void Touch(int db, std::string_view key, int64_t now_ms);
  // The `n` keys of `db` with the highest rate, highest first, with their rate in requests per
  // second.
  std::vector<std::pair<std::string, double>> Top(int db, size_t n, int64_t now_ms) const;
  void Clear(int db);  // db < 0: every database
  size_t tracked(int db) const { return dbs_[db].size(); }

 private:
  struct Count {
    double value = 0;
    int64_t at_ms = 0;  // when value was last decayed
  };
  static double Decayed(const Count& c, int64_t now_ms);

  std::vector<IdMap<Count>> dbs_;
};

}  // namespace stockd::storage
