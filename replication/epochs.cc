#include "replication/epochs.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace stockd::replication {
namespace {

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

bool EpochHistory::Begin(uint64_t epoch, uint64_t first_lsn) {
  if (epoch <= current()) return false;
  if (!terms_.empty() && first_lsn <= terms_.back().first_lsn) return false;
  terms_.push_back({epoch, first_lsn});
  return true;
}

size_t EpochHistory::CutAfter(uint64_t lsn) {
  size_t before = terms_.size();
  while (!terms_.empty() && terms_.back().first_lsn > lsn) terms_.pop_back();
  return before - terms_.size();
}

std::optional<uint64_t> EpochHistory::ForkLsn(const EpochHistory& standby,
                                              uint64_t standby_last_lsn,
                                              uint64_t my_last_lsn) const {
  if (standby.current() > current()) return std::nullopt;
  // Both logs begin in the implicit term 0 at LSN 1; count the terms after it both went through.
  size_t shared = 0;
  while (shared < terms_.size() && shared < standby.terms_.size() &&
         terms_[shared] == standby.terms_[shared]) {
    ++shared;
  }
  // Where a log left the last shared term: the LSN before its next term, or its end.
  auto left = [shared](const std::vector<EpochTerm>& terms, uint64_t last_lsn) {
    return shared < terms.size() ? std::min(last_lsn, terms[shared].first_lsn - 1) : last_lsn;
  };
  return std::min(left(terms_, my_last_lsn), left(standby.terms_, standby_last_lsn));
}

std::string EpochHistory::Encode() const {
  std::string s;
  for (const EpochTerm& t : terms_) {
    if (!s.empty()) s += ',';
    s += fmt::format("{}:{}", t.epoch, t.first_lsn);
  }
  return s;
}

std::optional<EpochHistory> EpochHistory::Decode(std::string_view s) {
  EpochHistory h;
  while (!s.empty()) {
    if (h.terms_.size() >= kEpochTermsMax) return std::nullopt;
    size_t comma = s.find(',');
    std::string_view term = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    if (comma != std::string_view::npos && s.empty()) return std::nullopt;  // trailing comma
    size_t colon = term.find(':');
    uint64_t epoch = 0, first_lsn = 0;
    if (colon == std::string_view::npos || !ParseU64(term.substr(0, colon), &epoch) ||
        !ParseU64(term.substr(colon + 1), &first_lsn) || !h.Begin(epoch, first_lsn)) {
      return std::nullopt;
    }
  }
  return h;
}

bool EpochHistory::Load(rocksdb::DB* db, EpochHistory* out, std::string* error) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), std::string(kEpochHistoryKey), &value);
  if (s.IsNotFound()) {
    *out = EpochHistory();
    return true;
  }
  if (!s.ok()) {
    *error = fmt::format("reading the epoch history: {}", s.ToString());
    return false;
  }
  std::optional<EpochHistory> h = Decode(value);
  if (!h) {
    *error = fmt::format("the epoch history '{}' is malformed", value.substr(0, 200));
    return false;
  }
  *out = std::move(*h);
  return true;
}

bool EpochHistory::Save(rocksdb::DB* db, std::string* error) const {
  rocksdb::WriteOptions w;
  w.sync = true;
  rocksdb::Status s = db->Put(w, std::string(kEpochHistoryKey), Encode());
  if (!s.ok()) {
    *error = fmt::format("writing the epoch history: {}", s.ToString());
    return false;
  }
  return true;
}

}  // namespace stockd::replication
