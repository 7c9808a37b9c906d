#include "storage/sku.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace stockd::storage {

const char* OrderStateName(OrderState s) {
  switch (s) {
    case OrderState::kReserved:
      return "reserved";
    case OrderState::kCommitted:
      return "committed";
    case OrderState::kCancelled:
      return "cancelled";
    case OrderState::kExpired:
      return "expired";
    case OrderState::kFailed:
      return "failed";
  }
  return "?";
}

const char* OrderKindName(OrderKind k) {
  switch (k) {
    case OrderKind::kReserve:
      return "reserve";
    case OrderKind::kDeduct:
      return "deduct";
    case OrderKind::kMulti:
      return "mreserve";
  }
  return "?";
}

const char* SkuErrorCode(SkuError e) {
  switch (e) {
    case SkuError::kNone:
      return "";
    case SkuError::kSoldOut:
      return "SOLDOUT";
    case SkuError::kFull:
      return "FULL";
    case SkuError::kLimit:
      return "LIMIT";
    case SkuError::kConflict:
      return "CONFLICT";
    case SkuError::kExpired:
      return "EXPIRED";
    case SkuError::kCancelled:
      return "CANCELLED";
    case SkuError::kCommitted:
      return "COMMITTED";
    case SkuError::kNoOrder:
      return "NOORDER";
    case SkuError::kBadToken:
      return "BADTOKEN";
    case SkuError::kNeedUser:
    case SkuError::kTooMany:
    case SkuError::kRange:
    case SkuError::kPromised:
      return "ERR";
  }
  return "ERR";
}

const char* JournalOpName(JournalOp op) {
  switch (op) {
    case JournalOp::kSet:
      return "set";
    case JournalOp::kRestock:
      return "restock";
    case JournalOp::kReserve:
      return "reserve";
    case JournalOp::kDeduct:
      return "deduct";
    case JournalOp::kCommit:
      return "commit";
    case JournalOp::kCancel:
      return "cancel";
    case JournalOp::kExpire:
      return "expire";
    case JournalOp::kEnter:
      return "enter";
    case JournalOp::kLeave:
      return "leave";
    case JournalOp::kHoldExpire:
      return "hold-expire";
  }
  return "?";
}

const Sku::Book Sku::kEmptyBook;
const SkuSettings Sku::kDefaultSettings;

namespace {

size_t StringHeap(const std::string& s) {
  return s.capacity() > kEmbeddedStringBytesMax ? s.capacity() + 1 : 0;
}

}  // namespace

size_t Sku::HeapBytes() const {
  // Node containers allocate one node per element plus a slot (a pointer and a control byte).
  constexpr size_t kSlotBytes = sizeof(void*) + 1;
  size_t n = sizeof(Sku) + (book_ ? sizeof(Book) : 0);
  for (const auto& [id, o] : Bk().orders) {
    n += sizeof(OrderMap::value_type) + kSlotBytes + StringHeap(id);
  }
  n += Bk().order_deadlines.size() * sizeof(std::tuple<int64_t, uint64_t, OrderRef>);
  for (const auto& [user, units] : Bk().users) {
    n += sizeof(IdNodeMap<int64_t>::value_type) + kSlotBytes + StringHeap(user);
  }
  n += Bk().deadline_fifo.size() * sizeof(OrderRef);
  n += Bk().admissions.size() * (sizeof(AdmissionMap::value_type) + kSlotBytes +
                                 sizeof(std::tuple<int64_t, uint64_t, AdmissionRef>));
  n += Bk().queue.capacity() * sizeof(Bk().queue[0]);
  n += Bk().tokens.size() * (sizeof(TokenMap::value_type) + kSlotBytes +
                             sizeof(std::tuple<int64_t, uint64_t, TokenRef>));
  n += Bk().restocks.size() * (sizeof(std::pair<std::string, std::pair<int64_t, int64_t>>) + 1);
  for (const JournalRecord& r : journal_) n += r.order_len + r.user_len;
  n += s_ ? sizeof(SkuSettings) : 0;
  n += journal_.capacity() * sizeof(JournalRecord);
  return n;
}

int64_t Sku::UserUnits(std::string_view user) const {
  auto it = Bk().users.find(user);
  return it == Bk().users.end() ? 0 : it->second;
}

int64_t Sku::AdmissionRoom() const {
  int64_t room = std::min(c_.available(), kSkuAdmissionsMax - c_.held);
  if (settings().queue_capacity != kSkuQueueAuto)
    room = std::min(room, settings().queue_capacity - c_.held);
  return room;
}

Sku::OrderRef Sku::NextOrderDeadline() const {
  const Book& b = Bk();
  OrderRef fifo = b.deadline_fifo.empty() ? nullptr : b.deadline_fifo.front();
  if (b.order_deadlines.empty()) return fifo;
  OrderRef indexed = std::get<2>(*b.order_deadlines.begin());
  if (fifo == nullptr) return indexed;
  auto key = [](OrderRef o) { return std::make_pair(o->second.deadline_ms, o->second.seq); };
  return key(fifo) < key(indexed) ? fifo : indexed;
}

int64_t Sku::NextDeadline() const {
  if (!book_) return 0;
  int64_t next = 0;
  auto consider = [&](int64_t at) {
    if (next == 0 || at < next) next = at;
  };
  if (OrderRef o = NextOrderDeadline()) consider(o->second.deadline_ms);
  if (!Bk().admission_deadlines.empty()) consider(std::get<0>(*Bk().admission_deadlines.begin()));
  if (!Bk().token_deadlines.empty()) consider(std::get<0>(*Bk().token_deadlines.begin()));
  return next;
}

size_t Sku::Advance(int64_t now_ms, size_t max_changes) {
  if (!book_ || now_ms < due_floor_ms_) return 0;  // nothing can be due
  size_t changes = 0;
  // Due items in deadline order; on a tie, orders (by creation) before admissions before
  // tokens. Replay runs the same loop on the same state, so it expires the same items in the
  // same order.
  while (changes < max_changes) {
    int64_t best = std::numeric_limits<int64_t>::max();
    int kind = -1;
    OrderRef order = NextOrderDeadline();
    if (order != nullptr && order->second.deadline_ms <= now_ms) {
      best = order->second.deadline_ms;
      kind = 0;
    }
    if (!Bk().admission_deadlines.empty()) {
      int64_t at = std::get<0>(*Bk().admission_deadlines.begin());
      if (at <= now_ms && at < best) {
        best = at;
        kind = 1;
      }
    }
    if (!Bk().token_deadlines.empty()) {
      int64_t at = std::get<0>(*Bk().token_deadlines.begin());
      if (at <= now_ms && at < best) {
        best = at;
        kind = 2;
      }
    }
    if (kind < 0) {
      // Nothing is due at now_ms, so nothing pending is due before the next deadline.
      int64_t next = NextDeadline();
      due_floor_ms_ = next == 0 ? std::numeric_limits<int64_t>::max() : next;
      break;
    }
    ++changes;
    if (kind == 0) {
      EndOrder(order, OrderState::kExpired, now_ms);
    } else if (kind == 1) {
      AdmissionRef a = std::get<2>(*Bk().admission_deadlines.begin());
      std::string user = a->first;
      SkuCounters c = c_;
      c.held -= 1;
      Apply(c);
      RemoveAdmission(Bk().admissions.find(user));
      Record(JournalOp::kHoldExpire, now_ms, "", user, 1);
    } else {
      TokenRef t = std::get<2>(*Bk().token_deadlines.begin());
      RemoveToken(Bk().tokens.find(t->first));
    }
  }
  return changes;
}

SkuError Sku::Apply(const SkuCounters& c) {
  if (c.reserved < 0 || c.held < 0 || c.safety < 0 || c.on_hand < 0 || c.sold < c_.sold ||
      c.available() < 0 || c.on_hand > kSkuUnitsMax ||
      c.sold > std::numeric_limits<int64_t>::max() - kSkuUnitsMax) {
    return SkuError::kRange;
  }
  c_ = c;
  return SkuError::kNone;
}

void Sku::Record(JournalOp op, int64_t now_ms, std::string_view order, std::string_view user,
                 int64_t qty) {
  ++version_;
  JournalRecord r;
  r.id = next_journal_id_++;
  r.time_ms = now_ms;
  r.op = op;
  if (!order.empty() || !user.empty()) {
    // Both are at most kSkuIdBytesMax (checked by the commands), so they fit the u16 lengths.
    r.order_len = static_cast<uint16_t>(order.size());
    r.user_len = static_cast<uint16_t>(user.size());
    r.ids = std::make_unique<char[]>(order.size() + user.size());
    std::copy(order.begin(), order.end(), r.ids.get());
    std::copy(user.begin(), user.end(), r.ids.get() + order.size());
  }
  r.qty = qty;
  r.after = c_;
  if (journal_.size() < kSkuJournalRecordsMax) {
    journal_.push_back(std::move(r));
  } else {
    journal_[(r.id - 1) % kSkuJournalRecordsMax] = std::move(r);
  }
}

void Sku::AddUserUnits(std::string_view user, int64_t delta) {
  if (user.empty() || delta == 0) return;
  Bk().users.try_emplace(user, 0).first->second += delta;
}

const std::string* Sku::InternUser(std::string_view user) {
  if (user.empty()) return nullptr;
  return &Bk().users.try_emplace(user, 0).first->first;
}

void Sku::TrimDeadlineFifo() {
  auto& fifo = Bk().deadline_fifo;
  while (!fifo.empty() && fifo.front()->second.state != OrderState::kReserved) fifo.pop_front();
}

void Sku::EndOrder(OrderRef o, OrderState state, int64_t now_ms) {
  Order& order = o->second;
  if (order.in_fifo) {
    order.in_fifo = false;  // the FIFO drops it when it reaches the front
  } else if (order.deadline_ms != 0) {
    Bk().order_deadlines.erase({order.deadline_ms, order.seq, o});
  }
  --Bk().open_orders;
  SkuCounters c = c_;
  c.reserved -= order.qty;
  JournalOp op;
  if (state == OrderState::kCommitted) {
    c.on_hand -= order.qty;
    c.sold += order.qty;
    op = JournalOp::kCommit;
  } else {
    AddUserUnits(order.user_name(), -order.qty);
    op = state == OrderState::kCancelled ? JournalOp::kCancel : JournalOp::kExpire;
  }
  Apply(c);
  order.state = state;
  order.ended_ms = now_ms;
  Record(op, now_ms, o->first, order.user_name(), order.qty);
  TrimDeadlineFifo();
}

void Sku::RemoveAdmission(AdmissionMap::iterator it) {
  Bk().admission_deadlines.erase({it->second.deadline_ms, it->second.ticket, &*it});
  if (!it->second.taken) --Bk().untaken;
  Bk().admissions.erase(it);
}

void Sku::RemoveToken(TokenMap::iterator it) {
  ++version_;
  Bk().token_deadlines.erase({it->second.deadline_ms, it->second.seq, &*it});
  Bk().tokens.erase(it);
}

SkuError Sku::Set(const SkuSetArgs& a, int64_t now_ms) {
  Advance(now_ms);
  SkuCounters c = c_;
  c.on_hand = a.on_hand;
  if (a.safety) c.safety = *a.safety;
  SkuSettings s = settings();
  if (a.limit) s.limit = *a.limit;
  if (a.ttl_ms) s.ttl_ms = *a.ttl_ms;
  if (a.queue_capacity) s.queue_capacity = *a.queue_capacity;
  if (a.hold_ms) s.hold_ms = *a.hold_ms;
  if (a.tokens) s.tokens = *a.tokens;
  // Units already promised (reserved, held) must stay covered: never oversell to reconfigure.
  if (c.available() < 0) return SkuError::kPromised;
  if (s.queue_capacity != kSkuQueueAuto && s.queue_capacity < c.held) return SkuError::kPromised;
  if (SkuError e = Apply(c); e != SkuError::kNone) return e;
  if (s == kDefaultSettings) {
    s_.reset();
  } else if (s_) {
    *s_ = s;
  } else {
    s_ = std::make_unique<SkuSettings>(s);
  }
  Record(JournalOp::kSet, now_ms, "", "", c.on_hand);
  return SkuError::kNone;
}

SkuError Sku::Restock(std::string_view id, int64_t qty, int64_t now_ms, int64_t* on_hand_after) {
  Advance(now_ms);
  if (auto it = Bk().restocks.find(id); it != Bk().restocks.end()) {
    if (it->second.first != qty) return SkuError::kConflict;
    *on_hand_after = it->second.second;
    return SkuError::kNone;
  }
  SkuCounters c = c_;
  c.on_hand += qty;
  if (SkuError e = Apply(c); e != SkuError::kNone) return e;
  Bk().restocks.emplace(id, std::make_pair(qty, c_.on_hand));
  *on_hand_after = c_.on_hand;
  Record(JournalOp::kRestock, now_ms, id, "", qty);
  return SkuError::kNone;
}

SkuError Sku::RetryOutcome(const Order& o, int64_t qty, std::string_view user, OrderKind kind) {
  if (o.qty != qty || o.user_name() != user || o.kind != kind) return SkuError::kConflict;
  return o.state == OrderState::kFailed ? o.reason : SkuError::kNone;
}

SkuError Sku::Refuse(std::string_view order_id, int64_t qty, std::string_view user, OrderKind kind,
                     SkuError reason, int64_t now_ms, const Order** order) {
  // Remembered, so that a retry stays refused even after a restock (a stale retry must not
  // succeed where the original failed).
  ++version_;
  Order o;
  o.user = InternUser(user);
  o.qty = qty;
  o.created_ms = now_ms;
  o.ended_ms = now_ms;
  o.seq = next_seq_++;
  o.state = OrderState::kFailed;
  o.kind = kind;
  o.reason = reason;
  auto [it, inserted] = Bk().orders.emplace(order_id, std::move(o));
  if (order) *order = &it->second;
  return reason;
}

void Sku::RecordFailure(std::string_view order_id, int64_t qty, std::string_view user,
                        OrderKind kind, SkuError reason, int64_t now_ms) {
  if (Bk().orders.contains(order_id)) return;
  Refuse(order_id, qty, user, kind, reason, now_ms, nullptr);
}

SkuError Sku::CheckReserve(std::string_view order_id, int64_t qty, std::string_view user,
                           OrderKind kind, int64_t now_ms, bool* retry) {
  Advance(now_ms);
  *retry = false;
  if (auto it = Bk().orders.find(order_id); it != Bk().orders.end()) {
    *retry = true;
    return RetryOutcome(it->second, qty, user, kind);
  }
  if (settings().limit > 0 && user.empty()) return SkuError::kNeedUser;
  if (settings().limit > 0 && UserUnits(user) + qty > settings().limit) return SkuError::kLimit;
  int64_t from_hold = !user.empty() && Bk().admissions.contains(user) ? 1 : 0;
  if (c_.available() + from_hold < qty) return SkuError::kSoldOut;
  return SkuError::kNone;
}

SkuError Sku::Reserve(std::string_view order_id, int64_t qty, std::string_view user, int64_t ttl_ms,
                      OrderKind kind, int64_t now_ms, const Order** order) {
  Advance(now_ms);
  if (auto it = Bk().orders.find(order_id); it != Bk().orders.end()) {
    *order = &it->second;
    return RetryOutcome(it->second, qty, user, kind);
  }
  if (settings().limit > 0 && user.empty()) return SkuError::kNeedUser;
  if (settings().limit > 0 && UserUnits(user) + qty > settings().limit) {
    return Refuse(order_id, qty, user, kind, SkuError::kLimit, now_ms, order);
  }
  // An admitted user's held unit becomes part of the order instead of being counted twice.
  auto admission = user.empty() ? Bk().admissions.end() : Bk().admissions.find(user);
  SkuCounters c = c_;
  if (admission != Bk().admissions.end()) c.held -= 1;
  if (kind == OrderKind::kDeduct) {
    c.on_hand -= qty;
    c.sold += qty;
  } else {
    c.reserved += qty;
  }
  if (c.available() < 0)
    return Refuse(order_id, qty, user, kind, SkuError::kSoldOut, now_ms, order);
  if (SkuError e = Apply(c); e != SkuError::kNone) return e;
  if (admission != Bk().admissions.end()) RemoveAdmission(admission);
  AddUserUnits(user, qty);

  Order o;
  o.user = InternUser(user);
  o.qty = qty;
  o.created_ms = now_ms;
  o.seq = next_seq_++;
  o.kind = kind;
  auto [it, inserted] = Bk().orders.emplace(order_id, std::move(o));
  Order& stored = it->second;
  if (kind == OrderKind::kDeduct) {
    stored.state = OrderState::kCommitted;
    stored.ended_ms = now_ms;
    Record(JournalOp::kDeduct, now_ms, order_id, user, qty);
  } else {
    int64_t ttl = ttl_ms < 0 ? settings().ttl_ms : ttl_ms;
    ++Bk().open_orders;
    if (ttl > 0) {
      stored.deadline_ms = now_ms + ttl;
      NoteDeadline(stored.deadline_ms);
      auto& fifo = Bk().deadline_fifo;
      // In order behind the FIFO's last deadline (the common case: one TTL, a clock that moves
      // forward), the FIFO keeps it; otherwise the ordered index does.
      if (fifo.empty() || fifo.back()->second.deadline_ms <= stored.deadline_ms) {
        stored.in_fifo = true;
        fifo.push_back(&*it);
      } else {
        Bk().order_deadlines.insert({stored.deadline_ms, stored.seq, &*it});
      }
    }
    Record(JournalOp::kReserve, now_ms, order_id, user, qty);
  }
  *order = &stored;
  return SkuError::kNone;
}

namespace {

// What Commit (commit == true) or Cancel does to an order in each state.
SkuError EndOutcome(const Order& o, bool commit) {
  switch (o.state) {
    case OrderState::kReserved:
      return SkuError::kNone;
    case OrderState::kCommitted:
      return commit ? SkuError::kNone : SkuError::kCommitted;
    case OrderState::kCancelled:
      return commit ? SkuError::kCancelled : SkuError::kNone;
    case OrderState::kExpired:
      return SkuError::kExpired;
    case OrderState::kFailed:
      return o.reason;
  }
  return SkuError::kNoOrder;
}

}  // namespace

SkuError Sku::CheckCommit(std::string_view order_id, int64_t now_ms) {
  Advance(now_ms);
  auto it = Bk().orders.find(order_id);
  return it == Bk().orders.end() ? SkuError::kNoOrder : EndOutcome(it->second, /*commit=*/true);
}

SkuError Sku::CheckCancel(std::string_view order_id, int64_t now_ms) {
  Advance(now_ms);
  auto it = Bk().orders.find(order_id);
  return it == Bk().orders.end() ? SkuError::kNoOrder : EndOutcome(it->second, /*commit=*/false);
}

SkuError Sku::Commit(std::string_view order_id, int64_t now_ms, const Order** order) {
  // Advance first: a commit at or after the deadline loses to the expiry, whether or not the
  // timer has fired yet, so the outcome depends only on the times.
  Advance(now_ms);
  auto it = Bk().orders.find(order_id);
  if (it == Bk().orders.end()) return SkuError::kNoOrder;
  *order = &it->second;
  SkuError e = EndOutcome(it->second, /*commit=*/true);
  if (e == SkuError::kNone && it->second.state == OrderState::kReserved) {
    EndOrder(&*it, OrderState::kCommitted, now_ms);
  }
  return e;
}

SkuError Sku::Cancel(std::string_view order_id, int64_t now_ms, const Order** order) {
  Advance(now_ms);
  auto it = Bk().orders.find(order_id);
  if (it == Bk().orders.end()) return SkuError::kNoOrder;
  *order = &it->second;
  SkuError e = EndOutcome(it->second, /*commit=*/false);
  if (e == SkuError::kNone && it->second.state == OrderState::kReserved) {
    EndOrder(&*it, OrderState::kCancelled, now_ms);
  }
  return e;
}

const Order* Sku::FindOrder(std::string_view order_id) const {
  auto it = Bk().orders.find(order_id);
  return it == Bk().orders.end() ? nullptr : &it->second;
}

const Admission* Sku::FindAdmission(std::string_view user) const {
  auto it = Bk().admissions.find(user);
  return it == Bk().admissions.end() ? nullptr : &it->second;
}

SkuError Sku::Enter(std::string_view user, const std::string_view* token, int64_t now_ms,
                    const Admission** admission) {
  Advance(now_ms);
  if (auto it = Bk().admissions.find(user); it != Bk().admissions.end()) {
    *admission = &it->second;
    return SkuError::kNone;
  }
  if (settings().limit > 0 && UserUnits(user) >= settings().limit) return SkuError::kLimit;
  TokenMap::iterator tok = Bk().tokens.end();
  if (settings().tokens) {
    if (token != nullptr) tok = Bk().tokens.find(*token);
    if (tok == Bk().tokens.end() || tok->second.user != user) return SkuError::kBadToken;
  }
  if (AdmissionRoom() < 1) {
    // Nothing promised and nothing left: sold out, not merely full.
    return c_.reserved + c_.held > 0 || c_.available() > 0 ? SkuError::kFull : SkuError::kSoldOut;
  }
  SkuCounters c = c_;
  c.held += 1;
  if (SkuError e = Apply(c); e != SkuError::kNone) return e;
  if (tok != Bk().tokens.end()) RemoveToken(tok);  // used once, and only by a new admission
  Admission a;
  a.ticket = Bk().next_ticket++;
  a.admitted_ms = now_ms;
  a.deadline_ms = now_ms + settings().hold_ms;
  auto [it, inserted] = Bk().admissions.emplace(user, a);
  Bk().admission_deadlines.insert({a.deadline_ms, a.ticket, &*it});
  NoteDeadline(a.deadline_ms);
  Bk().queue.emplace_back(a.ticket, std::string(user));
  ++Bk().untaken;
  Record(JournalOp::kEnter, now_ms, "", user, 1);
  *admission = &it->second;
  return SkuError::kNone;
}

std::vector<std::pair<std::string, Admission>> Sku::Take(size_t count, int64_t now_ms) {
  Advance(now_ms);
  std::vector<std::pair<std::string, Admission>> out;
  while (out.size() < count && Bk().queue_head < Bk().queue.size()) {
    auto& [ticket, user] = Bk().queue[Bk().queue_head++];
    auto it = Bk().admissions.find(user);
    // Entries of admissions that ended (converted, left, expired) are skipped here.
    if (it == Bk().admissions.end() || it->second.ticket != ticket || it->second.taken) continue;
    it->second.taken = true;
    ++version_;
    --Bk().untaken;
    out.emplace_back(user, it->second);
  }
  // Drop the consumed prefix once it is most of the vector (amortised O(1) per entry).
  if (Bk().queue_head > 64 && Bk().queue_head * 2 > Bk().queue.size()) {
    Bk().queue.erase(Bk().queue.begin(),
                     Bk().queue.begin() + static_cast<ptrdiff_t>(Bk().queue_head));
    Bk().queue_head = 0;
  }
  return out;
}

bool Sku::Leave(std::string_view user, int64_t now_ms) {
  Advance(now_ms);
  auto it = Bk().admissions.find(user);
  if (it == Bk().admissions.end()) return false;
  SkuCounters c = c_;
  c.held -= 1;
  Apply(c);
  RemoveAdmission(it);
  Record(JournalOp::kLeave, now_ms, "", user, 1);
  return true;
}

SkuError Sku::IssueToken(std::string_view token, std::string_view user, int64_t ttl_ms,
                         int64_t now_ms) {
  Advance(now_ms);
  if (Bk().tokens.size() >= kSkuTokensMax) return SkuError::kTooMany;
  Token t;
  t.user = user;
  t.deadline_ms = now_ms + ttl_ms;
  t.seq = next_seq_++;
  auto [it, inserted] = Bk().tokens.emplace(token, std::move(t));
  if (!inserted) return SkuError::kConflict;
  ++version_;
  Bk().token_deadlines.insert({it->second.deadline_ms, it->second.seq, &*it});
  NoteDeadline(it->second.deadline_ms);
  return SkuError::kNone;
}

std::vector<const JournalRecord*> Sku::Journal(uint64_t after, size_t count) const {
  std::vector<const JournalRecord*> out;
  uint64_t first = next_journal_id_ - journal_.size();
  uint64_t id = std::max(after + 1, first);
  // after + 1 overflows only for after == UINT64_MAX, which is past every id anyway.
  if (after == std::numeric_limits<uint64_t>::max()) return out;
  for (; id < next_journal_id_ && out.size() < count; ++id) {
    out.push_back(&journal_[(id - 1) % kSkuJournalRecordsMax]);
  }
  return out;
}

std::string Sku::CheckInvariants() const {
  const SkuCounters& c = c_;
  if (c.available() < 0) return fmt::format("available {} < 0", c.available());
  if (c.reserved < 0 || c.held < 0 || c.sold < 0 || c.safety < 0 || c.on_hand < 0) {
    return "a counter is negative";
  }
  int64_t reserved = 0;
  size_t open = 0, indexed = 0, in_fifo = 0;
  // Keyed by the interned user id (an order's user points at its key in Bk().users), so the
  // recount copies no ids: it runs on every SKU a snapshot loads.
  absl::flat_hash_map<const std::string*, int64_t> units;
  units.reserve(Bk().users.size());
  for (const auto& [id, o] : Bk().orders) {
    if (o.state == OrderState::kReserved) {
      reserved += o.qty;
      ++open;
      if (o.deadline_ms != 0) (o.in_fifo ? in_fifo : indexed)++;
      if (o.ended_ms != 0) return fmt::format("open order '{}' has an end time", id);
    } else if (o.ended_ms == 0) {
      return fmt::format("order '{}' in state {} has no end time", id, OrderStateName(o.state));
    }
    if ((o.state == OrderState::kReserved || o.state == OrderState::kCommitted) && o.user) {
      units[o.user] += o.qty;
    }
  }
  if (reserved != c.reserved) {
    return fmt::format("reserved {} != sum of open reservations {}", c.reserved, reserved);
  }
  if (open != Bk().open_orders) return "open orders miscounted";
  size_t fifo_open = 0;
  int64_t last = 0;
  for (OrderRef o : Bk().deadline_fifo) {
    if (o->second.deadline_ms < last) return "the deadline FIFO is out of order";
    last = o->second.deadline_ms;
    fifo_open += o->second.state == OrderState::kReserved ? 1 : 0;
  }
  if (indexed != Bk().order_deadlines.size() || in_fifo != fifo_open) {
    return "the deadline index does not match the open reservations";
  }
  size_t counted_users = 0;
  for (const auto& [user, n] : Bk().users) {
    auto it = units.find(&user);
    int64_t expected = 0;
    if (it != units.end()) {
      expected = it->second;
      ++counted_users;
    }
    if (n != expected) {
      return fmt::format("user '{}' holds {} units by orders but {} by count", user, expected, n);
    }
  }
  if (counted_users != units.size()) return "an order names a user missing from the user table";
  if (static_cast<int64_t>(Bk().admissions.size()) != c.held) {
    return fmt::format("held {} != live admissions {}", c.held, Bk().admissions.size());
  }
  if (Bk().admission_deadlines.size() != Bk().admissions.size()) return "admission index mismatch";
  size_t untaken = 0;
  for (const auto& [user, a] : Bk().admissions) untaken += a.taken ? 0 : 1;
  if (untaken != Bk().untaken) return "untaken admissions miscounted";
  if (Bk().token_deadlines.size() != Bk().tokens.size()) return "token index mismatch";
  if (int64_t next = NextDeadline(); due_floor_ms_ != 0 && next != 0 && next < due_floor_ms_) {
    return "a pending deadline is earlier than the due floor";
  }
  return "";
}

}  // namespace stockd::storage
