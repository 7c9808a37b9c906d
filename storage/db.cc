#include "storage/db.h"

#include <cassert>

namespace stockd::storage {

int64_t Db::AverageTtlMs(int64_t now_ms) const {
  if (by_expiry_.empty()) return 0;
  Int128 mean = expire_at_sum_ / static_cast<Int128>(by_expiry_.size());
  int64_t ttl = static_cast<int64_t>(mean) - now_ms;
  return ttl > 0 ? ttl : 0;
}

Db::Entry* Db::Find(std::string_view key, int64_t now_ms) {
  Entry* e = table_.Find(key);
  if (e && IsExpired(e, now_ms)) {
    if (listener_) listener_->OnKeyExpired(index_, e->key);
    EraseEntry(e);
    return nullptr;
  }
  return e;
}

std::pair<Db::Entry*, bool> Db::FindOrInsert(std::string_view key, int64_t now_ms) {
  if (Entry* e = Find(key, now_ms)) return {e, false};
  return table_.FindOrInsert(key);
}

bool Db::Erase(std::string_view key, int64_t now_ms) {
  Entry* e = Find(key, now_ms);
  if (!e) return false;
  EraseEntry(e);
  return true;
}

void Db::EraseEntry(Entry* e) {
  RemoveFromExpiryIndex(e);
  table_.EraseNode(e);
}

void Db::SetExpire(Entry* e, int64_t at_ms) {
  RemoveFromExpiryIndex(e);
  e->val.expire_at_ms = at_ms;
  if (at_ms != 0) {
    by_expiry_.insert({at_ms, e});
    expire_at_sum_ += at_ms;
  }
}

void Db::RemoveFromExpiryIndex(Entry* e) {
  if (e->val.expire_at_ms == 0) return;
  size_t n = by_expiry_.erase({e->val.expire_at_ms, e});
  assert(n == 1);
  (void)n;
  expire_at_sum_ -= e->val.expire_at_ms;
  e->val.expire_at_ms = 0;
}

size_t Db::ExpireDue(int64_t now_ms, size_t keys_max) {
  size_t expired = 0;
  while (expired < keys_max && !by_expiry_.empty()) {
    auto [at, e] = *by_expiry_.begin();
    if (at > now_ms) break;
    if (listener_) listener_->OnKeyExpired(index_, e->key);
    EraseEntry(e);
    ++expired;
  }
  return expired;
}

size_t Db::Clear() {
  size_t n = table_.size();
  by_expiry_.clear();
  expire_at_sum_ = 0;
  table_.Clear();
  return n;
}

}  // namespace stockd::storage
