// Sku::Encode and Sku::Decode: the SKU's part of the snapshot value encoding. The byte layout is
// specified in docs/wal.md, "Value encoding (snapshots)"; this file and that section change
// together.
//
// What is written is the state that decides future replies: counters, settings, sequence
// numbers, the journal ring, and the Book's orders, users, admissions, tokens and restocks.
// What is derived is rebuilt on decode instead of written: the deadline FIFO and the ordered
// deadline indexes, open_orders, and the Take queue (from the untaken admissions, which are
// written in queue order). Fields are written in the order the decoder needs them, so decoding is
// one pass with no sorting.
#include <fmt/format.h>

#include <cassert>
#include <limits>

#include "storage/byte_codec.h"
#include "storage/sku.h"

namespace stockd::storage {
namespace {

using codec::PutByte;
using codec::PutBytes;
using codec::PutDelta;
using codec::PutVarint;

// The SKU layout's own version, after the value's (a SKU layout can change alone).
constexpr uint8_t kSkuCodecVersion = 1;

// Header flags.
constexpr uint8_t kHasSettings = 1 << 0;
constexpr uint8_t kHasBook = 1 << 1;
constexpr uint8_t kHeaderFlagsAll = kHasSettings | kHasBook;

// Order flags: the state in bits 0-2, the kind in bits 3-4, then two markers.
constexpr uint8_t kOrderStateMask = 0x07;
constexpr int kOrderKindShift = 3;
constexpr uint8_t kOrderKindMask = 0x03;
constexpr uint8_t kOrderHasDeadline = 1 << 5;
// The ended order at the back of the deadline FIFO (see EncodeBook).
constexpr uint8_t kOrderFifoTail = 1 << 6;
constexpr uint8_t kOrderFlagsAll = 0x7f;

// The fewest bytes each item can take, which bounds the counts a decoder will believe.
constexpr size_t kJournalRecordBytesMin = 10;  // op, time, qty, 5 counters, 2 empty ids
constexpr size_t kUserBytesMin = 3;            // 1-byte id, units
constexpr size_t kOrderBytesMin = 8;           // 1-byte id, user, qty, created, flags, reason, seq
constexpr size_t kAdmissionBytesMin = 5;       // 1-byte user, ticket, admitted, deadline
constexpr size_t kTokenBytesMin = 6;           // 1-byte token, 1-byte user, deadline, seq
constexpr size_t kRestockBytesMin = 4;         // 1-byte id, qty, on_hand after

// The largest sold: Apply keeps room for one more kSkuUnitsMax.
constexpr int64_t kSkuSoldMax = std::numeric_limits<int64_t>::max() - kSkuUnitsMax;

void PutCounterDeltas(std::string* out, const SkuCounters& prev, const SkuCounters& c) {
  PutDelta(out, prev.on_hand, c.on_hand);
  PutDelta(out, prev.safety, c.safety);
  PutDelta(out, prev.reserved, c.reserved);
  PutDelta(out, prev.sold, c.sold);
  PutDelta(out, prev.held, c.held);
}

// Counters as Apply admits them, so that no sum of them overflows (available(), replies).
bool CountersInRange(const SkuCounters& c) {
  auto units = [](int64_t v) { return v >= 0 && v <= kSkuUnitsMax; };
  return units(c.on_hand) && units(c.safety) && units(c.reserved) && units(c.held) && c.sold >= 0 &&
         c.sold <= kSkuSoldMax;
}

bool GetCounterDeltas(codec::Reader& r, const SkuCounters& prev, SkuCounters* c) {
  int64_t d[5];
  for (int64_t& x : d) {
    if (!r.Signed("journal counter", &x)) return false;
  }
  c->on_hand = codec::AddWrapping(prev.on_hand, d[0]);
  c->safety = codec::AddWrapping(prev.safety, d[1]);
  c->reserved = codec::AddWrapping(prev.reserved, d[2]);
  c->sold = codec::AddWrapping(prev.sold, d[3]);
  c->held = codec::AddWrapping(prev.held, d[4]);
  if (!CountersInRange(*c)) return r.Fail("journal counters", "are out of range");
  return true;
}

void EncodeOrder(std::string_view id, const Order& o, bool fifo_tail, int64_t* prev_created,
                 std::string* out) {
  PutBytes(out, id);
  PutBytes(out, o.user_name());
  PutVarint(out, static_cast<uint64_t>(o.qty));
  PutDelta(out, *prev_created, o.created_ms);
  *prev_created = o.created_ms;
  uint8_t flags = static_cast<uint8_t>(o.state) |
                  static_cast<uint8_t>(static_cast<uint8_t>(o.kind) << kOrderKindShift);
  if (o.deadline_ms != 0) flags |= kOrderHasDeadline;
  if (fifo_tail) flags |= kOrderFifoTail;
  PutByte(out, flags);
  PutByte(out, static_cast<uint8_t>(o.reason));
  if (o.deadline_ms != 0) PutDelta(out, o.created_ms, o.deadline_ms);
  if (o.terminal()) PutDelta(out, o.created_ms, o.ended_ms);
  PutVarint(out, o.seq);
}

bool ReadUsers(codec::Reader& r, IdNodeMap<int64_t>* users) {
  size_t n;
  if (!r.Count("users", kUserBytesMin, SIZE_MAX, &n)) return false;
  users->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view name;
    int64_t units;
    if (!r.Bytes("user", kSkuIdBytesMax, &name) ||
        !r.NonNegative("user units", std::numeric_limits<int64_t>::max(), &units)) {
      return false;
    }
    if (name.empty()) return r.Fail("user", "is empty");
    if (!users->try_emplace(name, units).second) return r.Fail("user", "is a duplicate");
  }
  return true;
}

// Reads one order's fields (EncodeOrder's layout) and checks those that need no other state.
// o->user and o->in_fifo are left for the caller.
bool ReadOrder(codec::Reader& r, uint64_t next_seq, int64_t* prev_created, std::string_view* id,
               std::string_view* user, Order* o, bool* fifo_tail) {
  int64_t created_delta, deadline_delta = 0, ended_delta = 0;
  uint8_t flags, reason;
  if (!r.Bytes("order id", kSkuIdBytesMax, id) || !r.Bytes("order user", kSkuIdBytesMax, user) ||
      !r.NonNegative("order qty", kSkuUnitsMax, &o->qty) ||
      !r.Signed("order created_ms", &created_delta) || !r.Byte("order flags", &flags) ||
      !r.Byte("order reason", &reason)) {
    return false;
  }
  uint8_t state = flags & kOrderStateMask;
  uint8_t kind = (flags >> kOrderKindShift) & kOrderKindMask;
  if ((flags & ~kOrderFlagsAll) != 0 || state > static_cast<uint8_t>(OrderState::kFailed) ||
      kind > static_cast<uint8_t>(OrderKind::kMulti)) {
    return r.Fail("order flags", "are out of range");
  }
  o->state = static_cast<OrderState>(state);
  o->kind = static_cast<OrderKind>(kind);
  if (reason > static_cast<uint8_t>(SkuError::kPromised) ||
      (o->state == OrderState::kFailed) != (reason != 0)) {
    return r.Fail("order reason", "does not fit the order's state");
  }
  o->reason = static_cast<SkuError>(reason);
  bool has_deadline = (flags & kOrderHasDeadline) != 0;
  if ((has_deadline && !r.Signed("order deadline_ms", &deadline_delta)) ||
      (o->terminal() && !r.Signed("order ended_ms", &ended_delta)) ||
      !r.Varint("order seq", &o->seq)) {
    return false;
  }
  o->created_ms = codec::AddWrapping(*prev_created, created_delta);
  *prev_created = o->created_ms;
  if (has_deadline) o->deadline_ms = codec::AddWrapping(o->created_ms, deadline_delta);
  if (o->terminal()) o->ended_ms = codec::AddWrapping(o->created_ms, ended_delta);
  if (id->empty() || o->qty == 0) return r.Fail("order", "has an empty id or no quantity");
  if (o->seq >= next_seq) return r.Fail("order seq", "is not below next_seq");
  *fifo_tail = (flags & kOrderFifoTail) != 0;
  return true;
}

// Whether `o` may not follow `back` in the deadline FIFO: Reserve appends in creation order
// (seq) with nondecreasing deadlines.
bool FifoOutOfOrder(const Order& back, const Order& o) {
  return o.deadline_ms < back.deadline_ms || o.seq <= back.seq;
}

void EncodeAdmission(std::string_view user, const Admission& a, int64_t* prev_admitted,
                     std::string* out) {
  PutBytes(out, user);
  PutVarint(out, a.ticket);
  PutDelta(out, *prev_admitted, a.admitted_ms);
  *prev_admitted = a.admitted_ms;
  PutDelta(out, a.admitted_ms, a.deadline_ms);
}

}  // namespace

void Sku::Encode(std::string* out) const {
  PutByte(out, kSkuCodecVersion);
  PutByte(out, static_cast<uint8_t>((s_ ? kHasSettings : 0) | (book_ ? kHasBook : 0)));
  for (int64_t v : {c_.on_hand, c_.safety, c_.reserved, c_.sold, c_.held}) {
    PutVarint(out, static_cast<uint64_t>(v));
  }
  if (s_) {
    PutVarint(out, static_cast<uint64_t>(s_->limit));
    PutVarint(out, static_cast<uint64_t>(s_->ttl_ms));
    codec::PutSigned(out, s_->queue_capacity);
    PutVarint(out, static_cast<uint64_t>(s_->hold_ms));
    PutByte(out, s_->tokens ? 1 : 0);
  }
  PutVarint(out, next_seq_);
  PutVarint(out, version_);
  PutVarint(out, next_journal_id_);
  EncodeJournal(out);
  if (book_) EncodeBook(out);
}

void Sku::EncodeJournal(std::string* out) const {
  // Oldest first; ids are implied (contiguous, ending at next_journal_id_ - 1), and times and
  // counters are deltas from the record before, which are small within a sale.
  PutVarint(out, journal_.size());
  SkuCounters prev;
  int64_t prev_time = 0;
  for (uint64_t id = next_journal_id_ - journal_.size(); id < next_journal_id_; ++id) {
    const JournalRecord& rec = journal_[(id - 1) % kSkuJournalRecordsMax];
    PutByte(out, static_cast<uint8_t>(rec.op));
    PutDelta(out, prev_time, rec.time_ms);
    prev_time = rec.time_ms;
    PutVarint(out, static_cast<uint64_t>(rec.qty));
    PutCounterDeltas(out, prev, rec.after);
    prev = rec.after;
    PutBytes(out, rec.order());
    PutBytes(out, rec.user());
  }
}

void Sku::EncodeBook(std::string* out) const {
  const Book& b = *book_;
  PutVarint(out, b.users.size());
  for (const auto& [name, units] : b.users) {
    PutBytes(out, name);
    PutVarint(out, static_cast<uint64_t>(units));
  }

  // Orders: first the reserved ones in the deadline FIFO, in FIFO order, so the decoder rebuilds
  // the FIFO by appending; then every other order. Ended orders still in the FIFO are not
  // written as such, except the one at its back: Reserve compares a new deadline with the
  // back's, so keeping that one (marked kOrderFifoTail) makes later orders land in the FIFO or
  // the ordered index exactly as they would have.
  size_t fifo_open = 0;
  for (OrderRef o : b.deadline_fifo) fifo_open += o->second.state == OrderState::kReserved;
  OrderRef tail = nullptr;
  // (The FIFO's front is always open, so an ended back comes with an open order before it; the
  // decoder requires that.)
  if (fifo_open != 0 && b.deadline_fifo.back()->second.terminal()) {
    tail = b.deadline_fifo.back();
  }
  PutVarint(out, b.orders.size());
  PutVarint(out, fifo_open);
  int64_t prev_created = 0;
  for (OrderRef o : b.deadline_fifo) {
    if (!o->second.terminal()) EncodeOrder(o->first, o->second, false, &prev_created, out);
  }
  for (const auto& entry : b.orders) {
    const Order& o = entry.second;
    if (o.state == OrderState::kReserved && o.in_fifo) continue;  // written above
    EncodeOrder(entry.first, o, &entry == tail, &prev_created, out);
  }

  // Admissions: the untaken ones in Take's queue order (live entries of queue[queue_head..],
  // which are exactly the untaken admissions by ticket), then the taken ones.
  PutVarint(out, b.admissions.size());
  PutVarint(out, b.untaken);
  PutVarint(out, b.next_ticket);
  int64_t prev_admitted = 0;
  size_t untaken = 0;
  for (size_t i = b.queue_head; i < b.queue.size(); ++i) {
    const auto& [ticket, user] = b.queue[i];
    auto it = b.admissions.find(user);
    if (it == b.admissions.end() || it->second.ticket != ticket || it->second.taken) continue;
    EncodeAdmission(user, it->second, &prev_admitted, out);
    ++untaken;
  }
  assert(untaken == b.untaken);
  (void)untaken;
  for (const auto& [user, a] : b.admissions) {
    if (a.taken) EncodeAdmission(user, a, &prev_admitted, out);
  }

  PutVarint(out, b.tokens.size());
  int64_t prev_deadline = 0;
  for (const auto& [token, t] : b.tokens) {
    PutBytes(out, token);
    PutBytes(out, t.user);
    PutDelta(out, prev_deadline, t.deadline_ms);
    prev_deadline = t.deadline_ms;
    PutVarint(out, t.seq);
  }
  PutVarint(out, b.restocks.size());
  for (const auto& [id, restock] : b.restocks) {
    PutBytes(out, id);
    PutVarint(out, static_cast<uint64_t>(restock.first));
    PutVarint(out, static_cast<uint64_t>(restock.second));
  }
}

std::unique_ptr<Sku> Sku::Decode(std::string_view* in, std::string* error) {
  codec::Reader r(*in, error);
  auto sku = std::make_unique<Sku>();
  if (!sku->DecodeFrom(r)) return nullptr;
  if (std::string broken = sku->CheckInvariants(); !broken.empty()) {
    *error = "the decoded sku breaks an invariant: " + broken;
    return nullptr;
  }
  *in = r.rest();
  return sku;
}

bool Sku::DecodeFrom(codec::Reader& r) {
  uint8_t version, flags;
  if (!r.Byte("sku version", &version)) return false;
  if (version != kSkuCodecVersion) {
    return r.Fail(fmt::format("sku format version {} is not {}", version, kSkuCodecVersion));
  }
  if (!r.Byte("sku flags", &flags)) return false;
  if ((flags & ~kHeaderFlagsAll) != 0) return r.Fail("sku flags", "has unknown bits");
  // Each counter within its range, so that no sum of them overflows (CheckInvariants adds them).
  if (!r.NonNegative("on_hand", kSkuUnitsMax, &c_.on_hand) ||
      !r.NonNegative("safety", kSkuUnitsMax, &c_.safety) ||
      !r.NonNegative("reserved", kSkuUnitsMax, &c_.reserved) ||
      !r.NonNegative("sold", kSkuSoldMax, &c_.sold) ||
      !r.NonNegative("held", kSkuUnitsMax, &c_.held)) {
    return false;
  }
  if (flags & kHasSettings) {
    SkuSettings s;
    uint8_t tokens;
    if (!r.NonNegative("limit", kSkuUnitsMax, &s.limit) ||
        !r.NonNegative("ttl_ms", kSkuDurationMsMax, &s.ttl_ms) ||
        !r.Ranged("queue capacity", kSkuQueueAuto, kSkuAdmissionsMax, &s.queue_capacity) ||
        !r.NonNegative("hold_ms", kSkuDurationMsMax, &s.hold_ms) || !r.Byte("tokens", &tokens)) {
      return false;
    }
    if (tokens > 1) return r.Fail("tokens", "is neither 0 nor 1");
    s.tokens = tokens == 1;
    // Stored only when not the defaults, as Set keeps it.
    if (!(s == kDefaultSettings)) s_ = std::make_unique<SkuSettings>(s);
  }
  if (!r.Varint("next_seq", &next_seq_) || !r.Varint("version", &version_) ||
      !r.Varint("next_journal_id", &next_journal_id_) || !DecodeJournal(r)) {
    return false;
  }
  if (!(flags & kHasBook)) return true;
  book_ = std::make_unique<Book>();
  return DecodeOrders(r) && DecodeAdmissions(r) && DecodeTokensAndRestocks(r);
}

bool Sku::DecodeJournal(codec::Reader& r) {
  size_t n;
  if (!r.Count("journal records", kJournalRecordBytesMin, kSkuJournalRecordsMax, &n)) {
    return false;
  }
  // The ring grows by appending until it is full, so a ring that is not full holds ids 1..n.
  if (n < kSkuJournalRecordsMax ? next_journal_id_ != n + 1 : next_journal_id_ <= n) {
    return r.Fail(
        fmt::format("next_journal_id {} does not fit {} journal records", next_journal_id_, n));
  }
  if (n < kSkuJournalRecordsMax) {
    journal_.resize(n);
  } else {
    journal_.resize(kSkuJournalRecordsMax);
  }
  SkuCounters prev;
  int64_t prev_time = 0;
  for (uint64_t id = next_journal_id_ - n; id < next_journal_id_; ++id) {
    JournalRecord& rec = journal_[(id - 1) % kSkuJournalRecordsMax];
    uint8_t op;
    int64_t time_delta;
    std::string_view order, user;
    if (!r.Byte("journal op", &op) || !r.Signed("journal time", &time_delta) ||
        !r.NonNegative("journal qty", kSkuUnitsMax, &rec.qty) ||
        !GetCounterDeltas(r, prev, &rec.after) ||
        !r.Bytes("journal order id", kSkuIdBytesMax, &order) ||
        !r.Bytes("journal user", kSkuIdBytesMax, &user)) {
      return false;
    }
    if (op > static_cast<uint8_t>(JournalOp::kHoldExpire))
      return r.Fail("journal op", "is unknown");
    rec.id = id;
    rec.op = static_cast<JournalOp>(op);
    rec.time_ms = codec::AddWrapping(prev_time, time_delta);
    prev_time = rec.time_ms;
    prev = rec.after;
    rec.order_len = static_cast<uint16_t>(order.size());
    rec.user_len = static_cast<uint16_t>(user.size());
    if (!order.empty() || !user.empty()) {
      rec.ids = std::make_unique_for_overwrite<char[]>(order.size() + user.size());
      std::copy(order.begin(), order.end(), rec.ids.get());
      std::copy(user.begin(), user.end(), rec.ids.get() + order.size());
    }
  }
  return true;
}

bool Sku::DecodeOrders(codec::Reader& r) {
  Book& b = *book_;
  if (!ReadUsers(r, &b.users)) return false;
  size_t n, fifo_n;
  if (!r.Count("orders", kOrderBytesMin, SIZE_MAX, &n) ||
      !r.Count("deadline FIFO orders", 1, n, &fifo_n)) {
    return false;
  }
  b.orders.reserve(n);
  int64_t prev_created = 0;
  // Sums CheckInvariants makes too, checked here first so that its sums cannot overflow.
  int64_t reserved_qty = 0, committed_qty = 0;
  OrderRef tail = nullptr;
  for (size_t i = 0; i < n; ++i) {
    std::string_view id, user;
    Order o;
    bool fifo_tail = false;
    if (!ReadOrder(r, next_seq_, &prev_created, &id, &user, &o, &fifo_tail)) return false;
    if (!user.empty()) {
      auto u = b.users.find(user);
      if (u == b.users.end()) return r.Fail("order user", "is not in the user table");
      o.user = &u->first;
    }
    if ((o.state == OrderState::kReserved &&
         __builtin_add_overflow(reserved_qty, o.qty, &reserved_qty)) ||
        (o.state == OrderState::kCommitted &&
         __builtin_add_overflow(committed_qty, o.qty, &committed_qty))) {
      return r.Fail("order qty", "makes the quantities overflow");
    }
    o.in_fifo = i < fifo_n;
    if (o.in_fifo && (o.state != OrderState::kReserved || o.deadline_ms == 0)) {
      return r.Fail("order", "is in the deadline FIFO but not reserved with a deadline");
    }
    if (fifo_tail && (o.in_fifo || !o.terminal() || tail != nullptr || fifo_n == 0)) {
      return r.Fail("order", "cannot be the deadline FIFO's tail");
    }
    auto [it, inserted] = b.orders.try_emplace(id, o);
    if (!inserted) return r.Fail("order id", "is a duplicate");
    OrderRef ref = &*it;
    if (o.state == OrderState::kReserved) ++b.open_orders;
    if (o.in_fifo) {
      // Reserve appends in creation order with nondecreasing deadlines: keep it that way.
      if (!b.deadline_fifo.empty() && FifoOutOfOrder(b.deadline_fifo.back()->second, o)) {
        return r.Fail("order", "is out of order in the deadline FIFO");
      }
      b.deadline_fifo.push_back(ref);
    } else if (o.state == OrderState::kReserved && o.deadline_ms != 0) {
      b.order_deadlines.insert({o.deadline_ms, o.seq, ref});
    }
    if (fifo_tail) tail = ref;
  }
  // Every committed unit was sold (sold grows only by commits and deductions), so a user's
  // units, reserved plus committed, stay within reserved + sold.
  if (committed_qty > c_.sold) return r.Fail("committed orders hold more units than were sold");
  if (tail != nullptr) {
    if (FifoOutOfOrder(b.deadline_fifo.back()->second, tail->second)) {
      return r.Fail("the deadline FIFO's tail is out of order");
    }
    b.deadline_fifo.push_back(tail);
  }
  return true;
}

bool Sku::DecodeAdmissions(codec::Reader& r) {
  Book& b = *book_;
  size_t n, untaken;
  if (!r.Count("admissions", kAdmissionBytesMin, kSkuAdmissionsMax, &n) ||
      !r.Count("untaken admissions", 1, n, &untaken) || !r.Varint("next_ticket", &b.next_ticket)) {
    return false;
  }
  b.admissions.reserve(n);
  b.queue.reserve(untaken);
  b.untaken = untaken;
  int64_t prev_admitted = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string_view user;
    Admission a;
    int64_t admitted_delta, deadline_delta;
    if (!r.Bytes("admission user", kSkuIdBytesMax, &user) ||
        !r.Varint("admission ticket", &a.ticket) ||
        !r.Signed("admission admitted_ms", &admitted_delta) ||
        !r.Signed("admission deadline_ms", &deadline_delta)) {
      return false;
    }
    a.admitted_ms = codec::AddWrapping(prev_admitted, admitted_delta);
    prev_admitted = a.admitted_ms;
    a.deadline_ms = codec::AddWrapping(a.admitted_ms, deadline_delta);
    a.taken = i >= untaken;
    if (user.empty()) return r.Fail("admission user", "is empty");
    if (a.ticket == 0 || a.ticket >= b.next_ticket) {
      return r.Fail("admission ticket", "is not below next_ticket");
    }
    if (!a.taken) {
      // Take's queue: untaken admissions, oldest ticket first.
      if (!b.queue.empty() && a.ticket <= b.queue.back().first) {
        return r.Fail("admission ticket", "is out of queue order");
      }
      b.queue.emplace_back(a.ticket, std::string(user));
    }
    auto [it, inserted] = b.admissions.try_emplace(user, a);
    if (!inserted) return r.Fail("admission user", "is a duplicate");
    b.admission_deadlines.insert({a.deadline_ms, a.ticket, &*it});
  }
  return true;
}

bool Sku::DecodeTokensAndRestocks(codec::Reader& r) {
  Book& b = *book_;
  size_t n;
  if (!r.Count("tokens", kTokenBytesMin, kSkuTokensMax, &n)) return false;
  b.tokens.reserve(n);
  int64_t prev_deadline = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string_view token, user;
    int64_t deadline_delta;
    Token t;
    if (!r.Bytes("token", kSkuIdBytesMax, &token) ||
        !r.Bytes("token user", kSkuIdBytesMax, &user) ||
        !r.Signed("token deadline_ms", &deadline_delta) || !r.Varint("token seq", &t.seq)) {
      return false;
    }
    if (token.empty() || user.empty()) return r.Fail("token", "or its user is empty");
    if (t.seq >= next_seq_) return r.Fail("token seq", "is not below next_seq");
    t.user = user;
    t.deadline_ms = codec::AddWrapping(prev_deadline, deadline_delta);
    prev_deadline = t.deadline_ms;
    auto [it, inserted] = b.tokens.try_emplace(token, std::move(t));
    if (!inserted) return r.Fail("token", "is a duplicate");
    b.token_deadlines.insert({it->second.deadline_ms, it->second.seq, &*it});
  }
  if (!r.Count("restocks", kRestockBytesMin, SIZE_MAX, &n)) return false;
  b.restocks.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view id;
    int64_t qty, on_hand_after;
    if (!r.Bytes("restock id", kSkuIdBytesMax, &id) ||
        !r.NonNegative("restock qty", kSkuUnitsMax, &qty) ||
        !r.NonNegative("restock on_hand", kSkuUnitsMax, &on_hand_after)) {
      return false;
    }
    if (id.empty() || qty == 0) return r.Fail("restock", "has an empty id or no quantity");
    if (!b.restocks.try_emplace(id, qty, on_hand_after).second) {
      return r.Fail("restock id", "is a duplicate");
    }
  }
  return true;
}

}  // namespace stockd::storage
