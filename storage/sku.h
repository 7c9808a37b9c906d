#pragma once
// A SKU: the inventory object stockd exists for (docs/inventory.md). It lives in the keyspace as
// a value of type "sku" and owns, besides its counters and settings, everything whose
// consistency with the counters must be atomic: the orders (reservations, deductions and the
// outcome of every order id ever seen, for idempotency), per-user unit counts, the admission
// queue, one-time tokens, restock ids and the journal of changes.
//
// Every operation is a pure function of (state, arguments, now_ms): no clock reads, no
// randomness (a token's value is chosen by the caller). That is what lets the write-ahead log
// and a standby replay an operation and reach the same state. Expiry is an operation too:
// Advance(now_ms) expires everything due, and every operation calls it first, so the outcome of
// an operation never depends on whether a timer happened to fire before it.
//
// Invariants (CheckInvariants verifies all of them; the O(1) ones are checked after every
// change):
//   available = on_hand - safety - reserved - held >= 0   (no oversell)
//   reserved >= 0, held >= 0, sold never decreases
//   reserved == sum of qty over orders in state reserved
//   held == number of live admissions
//   user units == sum of qty over that user's reserved and committed orders
//   each order reaches at most one terminal state (states only move reserved -> terminal)
#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "storage/dict.h"
#include "storage/value.h"

namespace stockd::storage {

namespace codec {
class Reader;
}  // namespace codec
class DigestHasher;

// Limits (docs/configuration.md lists each with its test).
// Any unit count (on_hand, safety, a quantity, a restock): far below INT64_MAX, so no sum of
// counters can overflow.
inline constexpr int64_t kSkuUnitsMax = 1'000'000'000'000'000;  // units
// Order ids, user ids, restock ids and tokens.
inline constexpr size_t kSkuIdBytesMax = 256;  // bytes
// Any duration argument (TTL, HOLD): one year.
inline constexpr int64_t kSkuDurationMsMax = 365LL * 24 * 3600 * 1000;  // ms
// Journal records kept per SKU; older ones are dropped (ids stay contiguous, so a reader sees
// the gap).
inline constexpr size_t kSkuJournalRecordsMax = 100'000;  // records
// Live admissions per SKU (QUEUE AUTO is bounded by this too).
inline constexpr int64_t kSkuAdmissionsMax = 10'000'000;  // admissions
// Outstanding (unused, unexpired) tokens per SKU.
inline constexpr size_t kSkuTokensMax = 1'000'000;  // tokens

// Defaults of the per-SKU settings.
inline constexpr int64_t kSkuReserveTtlDefaultMs = 15 * 60 * 1000;  // ms: unpaid order timeout
inline constexpr int64_t kSkuHoldDefaultMs = 60 * 1000;             // ms: admission hold
inline constexpr int64_t kSkuTokenTtlDefaultMs = 60 * 1000;         // ms: token lifetime
inline constexpr int64_t kSkuQueueAuto = -1;  // queue capacity: as much as is sellable

// Outcome codes; the server layer turns each into an error whose first word is the code.
// The numeric values of SkuError, OrderState, OrderKind and JournalOp are stored in snapshots
// (docs/wal.md, "Value encoding"): append new values, never renumber.
enum class SkuError : uint8_t {
  kNone,
  kSoldOut,    // not enough available units
  kFull,       // admission queue full: every sellable unit is held or reserved
  kLimit,      // per-user limit reached
  kConflict,   // same id, different arguments
  kExpired,    // the order expired
  kCancelled,  // the order was cancelled
  kCommitted,  // the order is committed (cannot be cancelled)
  kNoOrder,    // no such order
  kBadToken,   // token missing, unknown, used, expired, or another user's
  kNeedUser,   // the SKU has a per-user limit, so USER is required
  kTooMany,    // a per-SKU limit (admissions, tokens) is reached
  kRange,      // a counter would leave its range
  kPromised,   // SKU.SET would promise fewer units than are reserved and held
};

enum class OrderState : uint8_t { kReserved, kCommitted, kCancelled, kExpired, kFailed };
// How the order was made: a retry must match.
enum class OrderKind : uint8_t { kReserve, kDeduct, kMulti };

const char* OrderStateName(OrderState s);
const char* OrderKindName(OrderKind k);
const char* SkuErrorCode(SkuError e);  // "SOLDOUT", ...

struct Order {
  const std::string* user = nullptr;  // the SKU's copy of the user id; null when none was named
  int64_t qty = 0;
  int64_t created_ms = 0;
  int64_t deadline_ms = 0;  // while reserved: when it expires (0: never)
  int64_t ended_ms = 0;     // when it reached its terminal state (0 while reserved)
  uint64_t seq = 0;         // creation order, breaks deadline ties deterministically
  OrderState state = OrderState::kReserved;
  OrderKind kind = OrderKind::kReserve;
  SkuError reason = SkuError::kNone;  // kFailed: why
  bool in_fifo = false;  // its deadline is in the SKU's deadline FIFO, not the ordered index
  bool terminal() const { return state != OrderState::kReserved; }
  std::string_view user_name() const { return user ? std::string_view(*user) : std::string_view(); }
};

struct Admission {
  uint64_t ticket = 0;  // FIFO position, unique per SKU
  int64_t admitted_ms = 0;
  int64_t deadline_ms = 0;  // the held unit returns at this time unless converted
  bool taken = false;       // handed to the order service by SKU.TAKE
};

struct Token {
  std::string user;
  int64_t deadline_ms = 0;
  uint64_t seq = 0;
};

struct SkuCounters {
  int64_t on_hand = 0;
  int64_t safety = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
  int64_t held = 0;
  int64_t available() const { return on_hand - safety - reserved - held; }
};

struct SkuSettings {
  int64_t limit = 0;                         // units per user (reserved + committed); 0: no limit
  int64_t ttl_ms = kSkuReserveTtlDefaultMs;  // 0: reservations never expire
  int64_t queue_capacity = kSkuQueueAuto;    // admissions held at once; kSkuQueueAuto or >= 0
  int64_t hold_ms = kSkuHoldDefaultMs;
  bool tokens = false;  // SKU.ENTER requires a one-time token
  bool operator==(const SkuSettings&) const = default;
};

// SKU.SET's arguments: what is not given keeps its value (or its default, on creation).
struct SkuSetArgs {
  int64_t on_hand = 0;
  std::optional<int64_t> safety, limit, ttl_ms, queue_capacity, hold_ms;
  std::optional<bool> tokens;
};

enum class JournalOp : uint8_t {
  kSet,
  kRestock,
  kReserve,
  kDeduct,
  kCommit,
  kCancel,
  kExpire,
  kEnter,
  kLeave,
  kHoldExpire,
};
const char* JournalOpName(JournalOp op);

struct JournalRecord {
  uint64_t id = 0;  // contiguous per SKU, from 1
  int64_t time_ms = 0;
  int64_t qty = 0;
  SkuCounters after;
  JournalOp op = JournalOp::kSet;
  // The order id (or restock id) and the user, in one allocation (null when both are empty):
  // records are kept by the hundred thousand, so each saves two std::string headers.
  uint16_t order_len = 0, user_len = 0;
  std::unique_ptr<char[]> ids;
  std::string_view order() const { return {ids.get(), order_len}; }
  std::string_view user() const { return {ids.get() + order_len, user_len}; }
};
static_assert(kSkuIdBytesMax <= UINT16_MAX, "journal ids store their lengths in 16 bits");

// Hash and equality for the SKU's maps, keyed by std::string and looked up by std::string_view
// without a copy (this Abseil's own string_view is not std::string_view).
struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return HashBytes(s); }
};
struct IdEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};
template <typename V>
using IdMap = absl::flat_hash_map<std::string, V, IdHash, IdEq>;
template <typename V>
using IdNodeMap = absl::node_hash_map<std::string, V, IdHash, IdEq>;

class Sku final : public Collection {
 public:
  using OrderMap = IdNodeMap<Order>;
  using AdmissionMap = IdNodeMap<Admission>;
  using TokenMap = IdNodeMap<Token>;

  Sku() = default;

  size_t size() const override { return Bk().orders.size(); }
  const char* EncodingName() const override { return "sku"; }
  size_t HeapBytes() const override;

  const SkuCounters& counters() const { return c_; }
  // Settings are stored only when they differ from the defaults (most SKUs use the defaults).
  const SkuSettings& settings() const { return s_ ? *s_ : kDefaultSettings; }
  size_t open_orders() const { return Bk().open_orders; }
  size_t orders() const { return Bk().orders.size(); }
  size_t admissions() const { return Bk().admissions.size(); }
  size_t tokens() const { return Bk().tokens.size(); }
  uint64_t last_journal_id() const { return next_journal_id_ - 1; }
  // Moves with every change of state (counters, orders, admissions, tokens), so a caller can
  // tell whether an operation changed anything.
  uint64_t version() const { return version_; }
  // Units this user holds in reserved and committed orders.
  int64_t UserUnits(std::string_view user) const;
  // Sellable units an admission may still claim (the queue's capacity left right now).
  int64_t AdmissionRoom() const;

  // Expires what is due at now_ms (reservations, admissions, tokens), in deadline order, at
  // most `max_changes` items, recording a journal entry for each change. Returns the number of
  // items expired.
  size_t Advance(int64_t now_ms, size_t max_changes = SIZE_MAX);
  // The earliest pending deadline (0: none): when Advance next has work.
  int64_t NextDeadline() const;

  // The operations. Each first calls Advance(now_ms). On an error nothing changes, except
  // where noted (a refused order is remembered as failed, so that a retry stays refused).
  SkuError Set(const SkuSetArgs& a, int64_t now_ms);
  // *on_hand_after: on_hand right after this restock (the same on a retry).
  SkuError Restock(std::string_view id, int64_t qty, int64_t now_ms, int64_t* on_hand_after);
  // Reserve (kReserve, ttl_ms as given or the SKU's default) or deduct (kDeduct). A retry with
  // the same arguments returns the stored outcome; *order is the order afterwards (also on a
  // remembered failure). ttl_ms < 0: the SKU's default.
  SkuError Reserve(std::string_view order_id, int64_t qty, std::string_view user, int64_t ttl_ms,
                   OrderKind kind, int64_t now_ms, const Order** order);
  // Checks, changing nothing but Advance, whether Reserve(kMulti...) would succeed. Returns
  // kNone when it would (or when it is a retry of an order that succeeded: *retry is then set),
  // otherwise the error Reserve would give.
  SkuError CheckReserve(std::string_view order_id, int64_t qty, std::string_view user,
                        OrderKind kind, int64_t now_ms, bool* retry);
  // Remembers order_id as failed with `reason` (a multi-SKU order refused by another SKU).
  void RecordFailure(std::string_view order_id, int64_t qty, std::string_view user, OrderKind kind,
                     SkuError reason, int64_t now_ms);
  SkuError Commit(std::string_view order_id, int64_t now_ms, const Order** order);
  SkuError Cancel(std::string_view order_id, int64_t now_ms, const Order** order);
  // What Commit/Cancel would return, changing nothing but Advance.
  SkuError CheckCommit(std::string_view order_id, int64_t now_ms);
  SkuError CheckCancel(std::string_view order_id, int64_t now_ms);
  const Order* FindOrder(std::string_view order_id) const;

  // Admission. Enter admits `user` (or returns their live admission) holding one unit. `token`
  // is required when settings().tokens (null: none given) and is consumed by a new admission.
  SkuError Enter(std::string_view user, const std::string_view* token, int64_t now_ms,
                 const Admission** admission);
  // Hands up to `count` admitted, not yet taken users to the order service, oldest first.
  std::vector<std::pair<std::string, Admission>> Take(size_t count, int64_t now_ms);
  bool HasUntaken() const { return Bk().untaken != 0; }
  // Releases the user's admission and its unit. Returns whether there was one.
  bool Leave(std::string_view user, int64_t now_ms);
  const Admission* FindAdmission(std::string_view user) const;
  // Issues `token` (chosen by the caller, unique) to `user` until now_ms + ttl_ms.
  SkuError IssueToken(std::string_view token, std::string_view user, int64_t ttl_ms,
                      int64_t now_ms);

  // Records with id > after, at most `count`, oldest first.
  std::vector<const JournalRecord*> Journal(uint64_t after, size_t count) const;

  // Verifies every invariant in the file comment by recounting. Returns "" or what is wrong.
  std::string CheckInvariants() const;

  // Snapshot encoding (storage/sku_codec.cc; docs/wal.md, "Value encoding (snapshots)").
  // Appends everything that influences a future reply or behaviour, except what is derived:
  // scheduled_deadline_ms (recovery files the decoded SKU in its shard's deadline index) and
  // the due floor (Advance finds it again).
  void Encode(std::string* out) const;
  // Feeds what Encode writes, minus index placement, into a digest (storage/digest.cc), with
  // the unordered maps combined independently of their iteration order.
  void HashInto(DigestHasher& h) const;
  // Decodes one SKU from the front of *in and advances *in past it. On malformed input,
  // including a state that fails CheckInvariants, returns nullptr with *error set to a sentence
  // and leaves *in as it was.
  static std::unique_ptr<Sku> Decode(std::string_view* in, std::string* error);

  // The deadline this SKU is filed under in its shard's deadline index (see Shard).
  int64_t scheduled_deadline_ms = 0;

 private:
  using OrderRef = OrderMap::value_type*;
  using AdmissionRef = AdmissionMap::value_type*;
  using TokenRef = TokenMap::value_type*;

  // Applies `c` if it keeps the invariants; kRange otherwise (nothing changes).
  SkuError Apply(const SkuCounters& c);
  void Record(JournalOp op, int64_t now_ms, std::string_view order, std::string_view user,
              int64_t qty);
  // Ends a reserved order (commit, cancel or expiry): counters, user units, deadline index.
  void EndOrder(OrderRef o, OrderState state, int64_t now_ms);
  void AddUserUnits(std::string_view user, int64_t delta);
  void RemoveAdmission(AdmissionMap::iterator it);
  void RemoveToken(TokenMap::iterator it);
  SkuError Refuse(std::string_view order_id, int64_t qty, std::string_view user, OrderKind kind,
                  SkuError reason, int64_t now_ms, const Order** order);
  // The stored outcome of a retried order, or kConflict when the arguments differ.
  static SkuError RetryOutcome(const Order& o, int64_t qty, std::string_view user, OrderKind kind);

  // Everything a SKU needs only once it has orders, admissions, tokens or restocks, allocated on
  // first use: a SKU that is only configured stays small (docs/inventory.md, memory).
  struct Book {
    OrderMap orders;  // every order id ever seen, for idempotency
    // Deadlines of reserved orders. Orders with the SKU's default TTL arrive with nondecreasing
    // deadlines, so they go in a FIFO (8 bytes each; ended ones are dropped when they reach the
    // front); any other deadline goes in the ordered index.
    std::deque<OrderRef> deadline_fifo;
    absl::btree_set<std::tuple<int64_t, uint64_t, OrderRef>> order_deadlines;
    size_t open_orders = 0;  // orders in state reserved
    // Users named by orders: units held in reserved and committed orders. Kept while the SKU
    // exists (orders point at the key), so each user id is stored once per SKU.
    IdNodeMap<int64_t> users;
    AdmissionMap admissions;
    absl::btree_set<std::tuple<int64_t, uint64_t, AdmissionRef>> admission_deadlines;
    std::vector<std::pair<uint64_t, std::string>> queue;  // FIFO (ticket, user) for Take
    size_t queue_head = 0;  // queue[queue_head..] not yet taken or dropped
    size_t untaken = 0;     // live admissions not yet taken
    uint64_t next_ticket = 1;
    TokenMap tokens;
    absl::btree_set<std::tuple<int64_t, uint64_t, TokenRef>> token_deadlines;
    IdMap<std::pair<int64_t, int64_t>> restocks;  // id -> qty, on_hand after
  };
  Book& Bk() {
    if (!book_) book_ = std::make_unique<Book>();
    return *book_;
  }
  const Book& Bk() const { return book_ ? *book_ : kEmptyBook; }
  static const Book kEmptyBook;
  // The reserved order with the earliest (deadline, seq), or null.
  OrderRef NextOrderDeadline() const;
  // Drops ended orders from the front of the deadline FIFO.
  void TrimDeadlineFifo();
  // A deadline was added: the due floor may not be above it.
  void NoteDeadline(int64_t at_ms) { due_floor_ms_ = std::min(due_floor_ms_, at_ms); }
  // The user's entry (created when new), or null for "".
  const std::string* InternUser(std::string_view user);

  // Parts of Encode and Decode (storage/sku_codec.cc).
  void EncodeJournal(std::string* out) const;
  void EncodeBook(std::string* out) const;
  bool DecodeFrom(codec::Reader& r);
  bool DecodeJournal(codec::Reader& r);
  bool DecodeOrders(codec::Reader& r);
  bool DecodeAdmissions(codec::Reader& r);
  bool DecodeTokensAndRestocks(codec::Reader& r);

  SkuCounters c_;
  std::unique_ptr<SkuSettings> s_;
  static const SkuSettings kDefaultSettings;
  std::unique_ptr<Book> book_;
  // Ring of the last kSkuJournalRecordsMax records: journal_[(id - 1) % capacity].
  std::vector<JournalRecord> journal_;
  uint64_t next_journal_id_ = 1;
  uint64_t next_seq_ = 1;
  uint64_t version_ = 0;
  // No pending deadline (order, admission, token) is earlier than this, so Advance(now_ms) has
  // nothing to do while now_ms < due_floor_ms_, and returns without looking: looking costs a
  // cache miss (the oldest open order's node) on every operation, and almost every operation
  // finds nothing due. 0: not known (a decoded SKU); Advance then looks. Every added deadline
  // lowers it (NoteDeadline); only Advance raises it, to NextDeadline() when it has just found
  // nothing more due. Derived state: not encoded.
  int64_t due_floor_ms_ = 0;
};

}  // namespace stockd::storage
