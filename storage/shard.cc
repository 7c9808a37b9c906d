#include "storage/shard.h"

#include <algorithm>

namespace stockd::storage {

Shard::Shard(int index, int databases)
    : hot_skus(databases), index_(index), watched_(databases), blocked_(databases) {
  dbs_.reserve(databases);
  for (int i = 0; i < databases; ++i) dbs_.push_back(std::make_unique<Db>(i, this));
}

void Shard::Watch(int db, std::string_view key, std::shared_ptr<WatchFlag> flag) {
  watched_[db][std::string(key)].push_back(std::move(flag));
  ++watch_count_;
}

void Shard::Unwatch(int db, std::string_view key, const WatchFlag* flag) {
  auto it = watched_[db].find(absl::string_view(key.data(), key.size()));
  if (it == watched_[db].end()) return;
  Watchers& w = it->second;
  auto pos = std::find_if(w.begin(), w.end(), [flag](const auto& p) { return p.get() == flag; });
  if (pos == w.end()) return;
  w.erase(pos);
  --watch_count_;
  if (w.empty()) watched_[db].erase(it);
}

void Shard::MarkWatchersDirty(int db, std::string_view key) {
  auto it = watched_[db].find(absl::string_view(key.data(), key.size()));
  if (it == watched_[db].end()) return;
  for (auto& flag : it->second) flag->dirty.store(true, std::memory_order_relaxed);
  watch_count_ -= it->second.size();
  watched_[db].erase(it);
}

void Shard::AllKeysModified(int db) {
  for (int i = 0; i < databases(); ++i) {
    if (db >= 0 && i != db) continue;
    for (auto& [key, flags] : watched_[i]) {
      for (auto& flag : flags) flag->dirty.store(true, std::memory_order_relaxed);
      watch_count_ -= flags.size();
    }
    watched_[i].clear();
  }
}

int64_t Shard::ScheduleSku(int db, std::string_view key, Sku& sku) {
  int64_t next = sku.NextDeadline();
  if (next == sku.scheduled_deadline_ms) return next;
  if (sku.scheduled_deadline_ms != 0) {
    sku_deadlines_.erase({sku.scheduled_deadline_ms, db, std::string(key)});
  }
  if (next != 0) sku_deadlines_.insert({next, db, std::string(key)});
  sku.scheduled_deadline_ms = next;
  return next;
}

std::vector<std::pair<int, std::string>> Shard::TakeDueSkus(int64_t now_ms, size_t max) {
  std::vector<std::pair<int, std::string>> due;
  while (!sku_deadlines_.empty() && due.size() < max) {
    auto it = sku_deadlines_.begin();
    if (std::get<0>(*it) > now_ms) break;
    auto node = sku_deadlines_.extract(it);
    due.emplace_back(std::get<1>(node.value()), std::move(std::get<2>(node.value())));
  }
  return due;
}

void Shard::OnKeyExpired(int db_index, std::string_view key) {
  expired_keys.Add();
  KeyModified(db_index, key);
}

size_t Shard::Cron(int64_t now_ms, bool expire) {
  size_t expired = 0;
  for (auto& db : dbs_) {
    if (db->size() == 0) continue;
    if (expire) expired += db->ExpireDue(now_ms, kActiveExpireKeysPerPassMax);
    db->Maintain(kCronRehashStepsPerPass);
  }
  return expired;
}

}  // namespace stockd::storage

namespace stockd::storage {

void Shard::Block(int db, std::string_view key, std::shared_ptr<BlockedClient> client) {
  auto [it, inserted] = blocked_[db].try_emplace(std::string(key));
  if (inserted) ++blocked_count_;
  it->second.push_back(std::move(client));
}

void Shard::Unblock(int db, std::string_view key, const BlockedClient* client) {
  auto it = blocked_[db].find(absl::string_view(key.data(), key.size()));
  if (it == blocked_[db].end()) return;
  auto& q = it->second;
  q.erase(std::remove_if(q.begin(), q.end(), [client](const auto& c) { return c.get() == client; }),
          q.end());
  if (q.empty()) {
    blocked_[db].erase(it);
    --blocked_count_;
  }
}

std::deque<std::shared_ptr<BlockedClient>>* Shard::BlockedOn(int db, std::string_view key) {
  auto it = blocked_[db].find(absl::string_view(key.data(), key.size()));
  return it == blocked_[db].end() ? nullptr : &it->second;
}

void Shard::PruneBlocked(int db, std::string_view key) {
  auto it = blocked_[db].find(absl::string_view(key.data(), key.size()));
  if (it == blocked_[db].end()) return;
  auto& q = it->second;
  while (!q.empty() && q.front()->claimed()) q.pop_front();
  if (q.empty()) {
    blocked_[db].erase(it);
    --blocked_count_;
  }
}

void Shard::MarkReady(int db, std::string_view key) {
  if (blocked_[db].find(absl::string_view(key.data(), key.size())) == blocked_[db].end()) return;
  for (const auto& [d, k] : ready_) {
    if (d == db && k == key) return;
  }
  ready_.emplace_back(db, std::string(key));
}

}  // namespace stockd::storage
