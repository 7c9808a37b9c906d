#include "storage/value_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "storage/byte_codec.h"
#include "storage/hash.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/sku.h"
#include "storage/zset.h"

namespace stockd::storage {
namespace {

using codec::PutBytes;
using codec::PutVarint;

// One byte after the version: the type and its encoding together. On disk: never renumbered,
// only appended.
enum Tag : uint8_t {
  kTagStringBytes = 1,
  kTagStringInt = 2,
  kTagList = 3,
  kTagSetIntset = 4,
  kTagSetListpack = 5,
  kTagSetHashtable = 6,
  kTagZSetListpack = 7,
  kTagZSetSkipList = 8,
  kTagHashListpack = 9,
  kTagHashHashtable = 10,
  kTagSku = 11,
};

// Every string and member takes at least its length byte; a hash field and value two.
constexpr size_t kMemberBytesMin = 1;
constexpr size_t kHashEntryBytesMin = 2;
constexpr size_t kZSetEntryBytesMin = 9;  // length byte, 8-byte score
// The largest listpack any listpack encoding allows, for the duplicate check's stack buffer.
constexpr size_t kListpackEntriesMax =
    std::max({SetValue::kListpackEntriesMax, HashValue::kListpackEntriesMax,
              ZSetValue::kListpackEntriesMax});

// Whether `n` views (n <= kListpackEntriesMax) are all different, without allocating.
template <typename GetView>
bool AllDifferent(size_t n, GetView view) {
  std::array<std::string_view, kListpackEntriesMax> sorted;
  for (size_t i = 0; i < n; ++i) sorted[i] = view(i);
  std::sort(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(n));
  return std::adjacent_find(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(n)) ==
         sorted.begin() + static_cast<ptrdiff_t>(n);
}

}  // namespace

// Reads and writes the private encodings of the collection types (each declares it a friend).
struct ValueCodecAccess {
  static void EncodeSet(const SetValue& s, std::string* out);
  static bool DecodeSet(uint8_t tag, codec::Reader& r, Value* v);
  static void EncodeZSet(const ZSetValue& z, std::string* out);
  static bool DecodeZSet(uint8_t tag, codec::Reader& r, Value* v);
  static void EncodeHash(const HashValue& h, std::string* out);
  static bool DecodeHash(uint8_t tag, codec::Reader& r, Value* v);
};

void ValueCodecAccess::EncodeSet(const SetValue& s, std::string* out) {
  switch (s.encoding_) {
    case SetValue::Encoding::kIntset:
      codec::PutByte(out, kTagSetIntset);
      PutVarint(out, s.intset_.size());
      for (int64_t v : s.intset_) codec::PutSigned(out, v);
      return;
    case SetValue::Encoding::kListpack:
      codec::PutByte(out, kTagSetListpack);
      break;
    case SetValue::Encoding::kHashtable:
      codec::PutByte(out, kTagSetHashtable);
      break;
  }
  PutVarint(out, s.size());
  s.ForEach([&](std::string_view m) { PutBytes(out, m); });
}

bool ValueCodecAccess::DecodeSet(uint8_t tag, codec::Reader& r, Value* v) {
  auto set = std::make_unique<SetValue>();
  size_t n;
  if (tag == kTagSetIntset) {
    if (!r.Count("intset members", kMemberBytesMin, SetValue::kIntsetEntriesMax, &n)) return false;
    set->intset_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      int64_t m;
      if (!r.Signed("intset member", &m)) return false;
      if (!set->intset_.empty() && m <= set->intset_.back()) {
        return r.Fail("intset member", "is out of order");
      }
      set->intset_.push_back(m);
    }
  } else if (tag == kTagSetListpack) {
    set->encoding_ = SetValue::Encoding::kListpack;
    if (!r.Count("set members", kMemberBytesMin, SetValue::kListpackEntriesMax, &n)) return false;
    set->listpack_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::string_view m;
      if (!r.Bytes("set member", SetValue::kListpackValueBytesMax, &m)) return false;
      set->listpack_.emplace_back(m);
    }
    if (!AllDifferent(n, [&](size_t i) { return std::string_view(set->listpack_[i]); })) {
      return r.Fail("a set listpack holds a member twice");
    }
  } else {
    set->encoding_ = SetValue::Encoding::kHashtable;
    set->dict_ = std::make_unique<SetValue::Table>();
    if (!r.Count("set members", kMemberBytesMin, SIZE_MAX, &n)) return false;
    for (size_t i = 0; i < n; ++i) {
      std::string_view m;
      if (!r.Bytes("set member", SIZE_MAX, &m)) return false;
      if (!set->dict_->FindOrInsert(m).second) return r.Fail("set member", "is a duplicate");
    }
  }
  *v = Value::Of(ValueType::kSet, std::move(set));
  return true;
}

void ValueCodecAccess::EncodeZSet(const ZSetValue& z, std::string* out) {
  // Ascending (score, member) order for both encodings: the skip list is rebuilt by appending
  // in order, and a listpack must be in that order anyway.
  codec::PutByte(out, z.skiplist_ ? kTagZSetSkipList : kTagZSetListpack);
  PutVarint(out, z.size());
  z.Visit(0, z.size(), /*reverse=*/false, [&](std::string_view member, double score) {
    PutBytes(out, member);
    codec::PutDouble(out, score);
  });
}

bool ValueCodecAccess::DecodeZSet(uint8_t tag, codec::Reader& r, Value* v) {
  auto z = std::make_unique<ZSetValue>();
  bool listpack = tag == kTagZSetListpack;
  size_t n;
  if (!r.Count("zset members", kZSetEntryBytesMin,
               listpack ? ZSetValue::kListpackEntriesMax : SIZE_MAX, &n)) {
    return false;
  }
  if (listpack) {
    z->entries_.reserve(n);
  } else {
    z->skiplist_ = std::make_unique<ZSetValue::SkipListEncoding>();
  }
  std::string_view prev_member;
  double prev_score = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string_view member;
    double score;
    if (!r.Bytes("zset member", listpack ? ZSetValue::kListpackValueBytesMax : SIZE_MAX, &member) ||
        !r.Double("zset score", &score)) {
      return false;
    }
    if (std::isnan(score)) return r.Fail("zset score", "is NaN");
    // Strictly ascending, as both encodings keep them: a listpack relies on it for its binary
    // searches, and it rules out a member written twice with the same score.
    if (i > 0 && !ZLess(prev_score, prev_member, score, member)) {
      return r.Fail("zset member", "is out of order");
    }
    prev_member = member;
    prev_score = score;
    if (listpack) {
      z->entries_.push_back(ZSetValue::ListpackEntry{std::string(member), score});
    } else {
      auto [node, inserted] = z->skiplist_->scores.FindOrInsert(member);
      if (!inserted) return r.Fail("zset member", "is a duplicate");
      node->val = score;
      z->skiplist_->list.Insert(score, node->key);  // views the Dict node's key, which stays
    }
  }
  if (listpack &&
      !AllDifferent(n, [&](size_t i) { return std::string_view(z->entries_[i].member); })) {
    return r.Fail("a zset listpack holds a member twice");
  }
  *v = Value::Of(ValueType::kZSet, std::move(z));
  return true;
}

void ValueCodecAccess::EncodeHash(const HashValue& h, std::string* out) {
  codec::PutByte(out, h.is_listpack() ? kTagHashListpack : kTagHashHashtable);
  PutVarint(out, h.size());
  h.ForEach([&](std::string_view field, std::string_view value) {
    PutBytes(out, field);
    PutBytes(out, value);
  });
}

bool ValueCodecAccess::DecodeHash(uint8_t tag, codec::Reader& r, Value* v) {
  auto h = std::make_unique<HashValue>();
  bool listpack = tag == kTagHashListpack;
  size_t bytes_max = listpack ? HashValue::kListpackValueBytesMax : SIZE_MAX;
  size_t n;
  if (!r.Count("hash fields", kHashEntryBytesMin,
               listpack ? HashValue::kListpackEntriesMax : SIZE_MAX, &n)) {
    return false;
  }
  if (listpack) {
    h->listpack_.reserve(n);
  } else {
    h->dict_ = std::make_unique<Dict<std::string>>();
  }
  for (size_t i = 0; i < n; ++i) {
    std::string_view field, value;
    if (!r.Bytes("hash field", bytes_max, &field) || !r.Bytes("hash value", bytes_max, &value)) {
      return false;
    }
    if (listpack) {
      h->listpack_.emplace_back(std::string(field), std::string(value));
    } else {
      auto [node, inserted] = h->dict_->FindOrInsert(field);
      if (!inserted) return r.Fail("hash field", "is a duplicate");
      node->val.assign(value);
    }
  }
  if (listpack &&
      !AllDifferent(n, [&](size_t i) { return std::string_view(h->listpack_[i].first); })) {
    return r.Fail("a hash listpack holds a field twice");
  }
  *v = Value::Of(ValueType::kHash, std::move(h));
  return true;
}

void EncodeValue(const Value& v, std::string* out) {
  codec::PutByte(out, kValueCodecVersion);
  switch (v.type()) {
    case ValueType::kString:
      if (v.is_int()) {
        codec::PutByte(out, kTagStringInt);
        codec::PutSigned(out, v.int_value());
      } else {
        codec::PutByte(out, kTagStringBytes);
        PutBytes(out, v.raw());
      }
      return;
    case ValueType::kList: {
      const auto& items = v.As<ListValue>().items();
      codec::PutByte(out, kTagList);
      PutVarint(out, items.size());
      for (const std::string& item : items) PutBytes(out, item);
      return;
    }
    case ValueType::kSet:
      return ValueCodecAccess::EncodeSet(v.As<SetValue>(), out);
    case ValueType::kZSet:
      return ValueCodecAccess::EncodeZSet(v.As<ZSetValue>(), out);
    case ValueType::kHash:
      return ValueCodecAccess::EncodeHash(v.As<HashValue>(), out);
    case ValueType::kSku:
      codec::PutByte(out, kTagSku);
      return v.As<Sku>().Encode(out);
  }
}

namespace {

bool DecodeString(uint8_t tag, codec::Reader& r, Value* v) {
  if (tag == kTagStringInt) {
    int64_t i;
    if (!r.Signed("integer string", &i)) return false;
    *v = Value::Integer(i);
    return true;
  }
  std::string_view bytes;
  if (!r.Bytes("string", SIZE_MAX, &bytes)) return false;
  // Kept as bytes even when they spell a canonical integer (an APPEND can leave "12" as bytes):
  // OBJECT ENCODING must answer as before.
  Value s;
  s.MutableRaw().assign(bytes);
  *v = std::move(s);
  return true;
}

bool DecodeList(codec::Reader& r, Value* v) {
  size_t n;
  if (!r.Count("list items", kMemberBytesMin, SIZE_MAX, &n)) return false;
  auto list = std::make_unique<ListValue>();
  for (size_t i = 0; i < n; ++i) {
    std::string_view item;
    if (!r.Bytes("list item", SIZE_MAX, &item)) return false;
    list->items().emplace_back(item);
  }
  *v = Value::Of(ValueType::kList, std::move(list));
  return true;
}

bool DecodeSku(codec::Reader& r, Value* v, std::string* error) {
  std::string_view rest = r.rest();
  size_t at = r.offset();
  std::unique_ptr<Sku> sku = Sku::Decode(&rest, error);
  if (!sku) return r.Fail(fmt::format("sku at byte {}: {}", at, *error));
  r.Skip(r.remaining() - rest.size());
  *v = Value::Of(ValueType::kSku, std::move(sku));
  return true;
}

}  // namespace

bool DecodeValue(std::string_view* in, Value* v, std::string* error) {
  codec::Reader r(*in, error);
  uint8_t version, tag;
  if (!r.Byte("value version", &version)) return false;
  if (version != kValueCodecVersion) {
    return r.Fail(fmt::format("value format version {} is not {}", version, kValueCodecVersion));
  }
  if (!r.Byte("value type", &tag)) return false;
  Value out;
  bool ok = false;
  switch (tag) {
    case kTagStringBytes:
    case kTagStringInt:
      ok = DecodeString(tag, r, &out);
      break;
    case kTagList:
      ok = DecodeList(r, &out);
      break;
    case kTagSetIntset:
    case kTagSetListpack:
    case kTagSetHashtable:
      ok = ValueCodecAccess::DecodeSet(tag, r, &out);
      break;
    case kTagZSetListpack:
    case kTagZSetSkipList:
      ok = ValueCodecAccess::DecodeZSet(tag, r, &out);
      break;
    case kTagHashListpack:
    case kTagHashHashtable:
      ok = ValueCodecAccess::DecodeHash(tag, r, &out);
      break;
    case kTagSku:
      ok = DecodeSku(r, &out, error);
      break;
    default:
      return r.Fail(fmt::format("value type {} is unknown", tag));
  }
  if (!ok) return false;
  *in = r.rest();
  *v = std::move(out);
  return true;
}

}  // namespace stockd::storage
