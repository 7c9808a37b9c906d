#include "storage/digest.h"

#include <fmt/format.h>

#include <cstring>

#include "storage/hash.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/sku.h"
#include "storage/zset.h"

namespace stockd::storage {

namespace {
// Seeds the second hash that extends XXH3's 128 bits to the 160 of a Redis digest.
constexpr XXH64_hash_t kDigestTailSeed = 0x5354434b44494745ULL;  // "STCKDIGE"

// The digest of one unordered element, to XOR with its siblings'.
template <typename Fn>
Digest ElementDigest(Fn&& add) {
  DigestHasher h;
  add(h);
  return h.Finish();
}
}  // namespace

std::string Digest::Hex() const {
  std::string out;
  out.reserve(kBytes * 2);
  for (uint8_t b : bytes) fmt::format_to(std::back_inserter(out), "{:02x}", b);
  return out;
}

DigestHasher::DigestHasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_); }

DigestHasher::~DigestHasher() { XXH3_freeState(state_); }

void DigestHasher::Raw(const void* data, size_t size) { XXH3_128bits_update(state_, data, size); }

void DigestHasher::Bytes(std::string_view s) {
  const uint64_t n = s.size();
  Raw(&n, sizeof(n));
  Raw(s.data(), s.size());
}

void DigestHasher::Int(int64_t v) { Raw(&v, sizeof(v)); }

void DigestHasher::Double(double v) { Bytes(fmt::format("{:.17g}", v)); }

void DigestHasher::Sub(const Digest& d) { Raw(d.bytes.data(), d.bytes.size()); }

Digest DigestHasher::Finish() const {
  const XXH128_hash_t h = XXH3_128bits_digest(state_);
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, h);
  Digest d;
  std::memcpy(d.bytes.data(), canonical.digest, sizeof(canonical.digest));
  // The last 4 bytes: a second hash, of the first 16 (the state is not at hand twice).
  const XXH64_hash_t tail =
      XXH3_64bits_withSeed(canonical.digest, sizeof(canonical.digest), kDigestTailSeed);
  std::memcpy(d.bytes.data() + sizeof(canonical.digest), &tail, Digest::kBytes - 16);
  return d;
}

Digest ValueDigest(const Value& v) {
  DigestHasher h;
  h.Int(static_cast<int64_t>(v.type()));
  switch (v.type()) {
    case ValueType::kString: {
      char buf[20];
      h.Bytes(v.View(buf));  // an integer and its digits are the same string to a client
      break;
    }
    case ValueType::kList: {
      const auto& items = v.As<ListValue>().items();
      h.Int(static_cast<int64_t>(items.size()));
      for (const std::string& item : items) h.Bytes(item);
      break;
    }
    case ValueType::kSet: {
      Digest members;
      v.As<SetValue>().ForEach([&](std::string_view m) {
        members.Xor(ElementDigest([&](DigestHasher& e) { e.Bytes(m); }));
      });
      h.Int(static_cast<int64_t>(v.As<SetValue>().size()));
      h.Sub(members);
      break;
    }
    case ValueType::kZSet: {
      const ZSetValue& z = v.As<ZSetValue>();
      h.Int(static_cast<int64_t>(z.size()));
      z.Visit(0, z.size(), false, [&](std::string_view member, double score) {
        h.Bytes(member);
        h.Double(score);
      });
      break;
    }
    case ValueType::kHash: {
      Digest fields;
      v.As<HashValue>().ForEach([&](std::string_view f, std::string_view val) {
        fields.Xor(ElementDigest([&](DigestHasher& e) {
          e.Bytes(f);
          e.Bytes(val);
        }));
      });
      h.Int(static_cast<int64_t>(v.As<HashValue>().size()));
      h.Sub(fields);
      break;
    }
    case ValueType::kSku:
      v.As<Sku>().HashInto(h);
      break;
  }
  return h.Finish();
}

Digest KeyDigest(int db, std::string_view key, const Slot& slot) {
  DigestHasher h;
  h.Int(db);
  h.Bytes(key);
  h.Int(slot.expire_at_ms);
  h.Sub(ValueDigest(slot.value));
  return h.Finish();
}

// Sku::HashInto lives here rather than in sku.cc: it is the digest's view of the SKU, and it
// must change with the codec (storage/sku_codec.cc) whenever a field is added.
void Sku::HashInto(DigestHasher& h) const {
  for (int64_t v : {c_.on_hand, c_.safety, c_.reserved, c_.sold, c_.held}) h.Int(v);
  h.Int(s_ ? 1 : 0);
  if (s_) {
    for (int64_t v : {s_->limit, s_->ttl_ms, s_->queue_capacity, s_->hold_ms}) h.Int(v);
    h.Int(s_->tokens ? 1 : 0);
  }
  h.Int(static_cast<int64_t>(next_seq_));
  h.Int(static_cast<int64_t>(version_));
  h.Int(static_cast<int64_t>(next_journal_id_));
  // The journal, oldest first.
  h.Int(static_cast<int64_t>(journal_.size()));
  for (uint64_t id = next_journal_id_ - journal_.size(); id < next_journal_id_; ++id) {
    const JournalRecord& rec = journal_[(id - 1) % kSkuJournalRecordsMax];
    h.Int(static_cast<int64_t>(rec.op));
    h.Int(rec.time_ms);
    h.Int(rec.qty);
    for (int64_t v : {rec.after.on_hand, rec.after.safety, rec.after.reserved, rec.after.sold,
                      rec.after.held}) {
      h.Int(v);
    }
    h.Bytes(rec.order());
    h.Bytes(rec.user());
  }
  h.Int(book_ ? 1 : 0);
  if (!book_) return;
  const Book& b = *book_;
  // Unordered parts. Where an order's deadline is indexed (FIFO or ordered index) is left out:
  // it decides no reply, and a decoded SKU may hold an ended order in a different one.
  Digest users, orders, admissions, tokens, restocks;
  for (const auto& [name, units] : b.users) {
    users.Xor(ElementDigest([&](DigestHasher& e) {
      e.Bytes(name);
      e.Int(units);
    }));
  }
  for (const auto& [id, o] : b.orders) {
    orders.Xor(ElementDigest([&](DigestHasher& e) {
      e.Bytes(id);
      e.Bytes(o.user_name());
      for (int64_t v : {o.qty, o.created_ms, o.deadline_ms, o.ended_ms}) e.Int(v);
      e.Int(static_cast<int64_t>(o.seq));
      e.Int(static_cast<int64_t>(o.state));
      e.Int(static_cast<int64_t>(o.kind));
      e.Int(static_cast<int64_t>(o.reason));
    }));
  }
  // An admission's place in Take's queue is its ticket.
  for (const auto& [user, a] : b.admissions) {
    admissions.Xor(ElementDigest([&](DigestHasher& e) {
      e.Bytes(user);
      e.Int(static_cast<int64_t>(a.ticket));
      e.Int(a.admitted_ms);
      e.Int(a.deadline_ms);
      e.Int(a.taken ? 1 : 0);
    }));
  }
  for (const auto& [token, t] : b.tokens) {
    tokens.Xor(ElementDigest([&](DigestHasher& e) {
      e.Bytes(token);
      e.Bytes(t.user);
      e.Int(t.deadline_ms);
      e.Int(static_cast<int64_t>(t.seq));
    }));
  }
  for (const auto& [id, restock] : b.restocks) {
    restocks.Xor(ElementDigest([&](DigestHasher& e) {
      e.Bytes(id);
      e.Int(restock.first);
      e.Int(restock.second);
    }));
  }
  for (size_t n : {b.users.size(), b.orders.size(), b.admissions.size(), b.tokens.size(),
                   b.restocks.size(), b.untaken}) {
    h.Int(static_cast<int64_t>(n));
  }
  h.Int(static_cast<int64_t>(b.next_ticket));
  for (const Digest* d : {&users, &orders, &admissions, &tokens, &restocks}) h.Sub(*d);
}

}  // namespace stockd::storage
