#include "storage/hot_keys.h"

#include <algorithm>
#include <cmath>

namespace stockd::storage {

double HotKeys::Decayed(const Count& c, int64_t now_ms) {
  if (now_ms <= c.at_ms) return c.value;
  return c.value * std::exp2(-static_cast<double>(now_ms - c.at_ms) / kHalfLifeMs);
}

void HotKeys::Touch(int db, std::string_view key, int64_t now_ms) {
  auto& m = dbs_[db];
  auto it = m.find(key);
  if (it == m.end()) {
    if (m.size() >= 2 * kTrackedMax) {
      // Keep the kTrackedMax hottest: one O(n) pass per kTrackedMax new keys.
      std::vector<std::pair<double, std::string>> all;
      all.reserve(m.size());
      for (const auto& [k, c] : m) all.emplace_back(Decayed(c, now_ms), k);
      std::nth_element(all.begin(), all.begin() + kTrackedMax, all.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t i = kTrackedMax; i < all.size(); ++i) m.erase(all[i].second);
    }
    it = m.emplace(std::string(key), Count{0, now_ms}).first;
  }
  it->second.value = Decayed(it->second, now_ms) + 1;
  it->second.at_ms = std::max(it->second.at_ms, now_ms);
}

std::vector<std::pair<std::string, double>> HotKeys::Top(int db, size_t n, int64_t now_ms) const {
  std::vector<std::pair<std::string, double>> all;
  constexpr double kLn2 = 0.69314718055994530942;
  for (const auto& [k, c] : dbs_[db]) {
    all.emplace_back(k, Decayed(c, now_ms) * kLn2 * 1000.0 / kHalfLifeMs);
  }
  auto hotter = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (all.size() > n) {
    std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(), hotter);
    all.resize(n);
  } else {
    std::sort(all.begin(), all.end(), hotter);
  }
  return all;
}

void HotKeys::Clear(int db) {
  if (db >= 0) {
    dbs_[db].clear();
    return;
  }
  for (auto& m : dbs_) m.clear();
}

}  // namespace stockd::storage
