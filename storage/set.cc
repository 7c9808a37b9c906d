#include "storage/set.h"

#include <algorithm>

namespace stockd::storage {
namespace {

size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > kEmbeddedStringBytesMax ? s.capacity() + 1 : 0;
}

}  // namespace

std::unique_ptr<SetValue> SetValue::ForMembers(std::string_view first, size_t size_hint) {
  auto set = std::make_unique<SetValue>();
  int64_t v;
  if (ParseCanonicalInt64(first, &v) && size_hint <= kIntsetEntriesMax) return set;
  if (size_hint <= kListpackEntriesMax) {
    set->encoding_ = Encoding::kListpack;
  } else {
    set->encoding_ = Encoding::kHashtable;
    set->dict_ = std::make_unique<Table>();
  }
  return set;
}

size_t SetValue::size() const {
  switch (encoding_) {
    case Encoding::kIntset:
      return intset_.size();
    case Encoding::kListpack:
      return listpack_.size();
    case Encoding::kHashtable:
      return dict_->size();
  }
  return 0;
}

const char* SetValue::EncodingName() const {
  switch (encoding_) {
    case Encoding::kIntset:
      return "intset";
    case Encoding::kListpack:
      return "listpack";
    case Encoding::kHashtable:
      return "hashtable";
  }
  return "unknown";
}

size_t SetValue::HeapBytes() const {
  size_t bytes = sizeof(SetValue) + intset_.capacity() * sizeof(int64_t) +
                 listpack_.capacity() * sizeof(std::string);
  for (const std::string& m : listpack_) bytes += StringHeapBytes(m);
  if (dict_) {
    bytes +=
        sizeof(*dict_) + dict_->buckets() * sizeof(void*) + dict_->size() * sizeof(Table::Node);
    dict_->ForEach([&](Table::Node* n) { bytes += StringHeapBytes(n->key); });
  }
  return bytes;
}

bool SetValue::Add(std::string_view member) {
  if (encoding_ == Encoding::kIntset) {
    int64_t v;
    if (ParseCanonicalInt64(member, &v)) {
      auto it = std::lower_bound(intset_.begin(), intset_.end(), v);
      if (it != intset_.end() && *it == v) return false;
      intset_.insert(it, v);
      if (intset_.size() > kIntsetEntriesMax) ConvertToHashtable();
      return true;
    }
    // Not an integer, so not a member: the set must change encoding to take it.
    if (intset_.size() < kListpackEntriesMax && member.size() <= kListpackValueBytesMax) {
      ConvertToListpack();
    } else {
      ConvertToHashtable();
    }
  }
  if (encoding_ == Encoding::kListpack) {
    if (std::find(listpack_.begin(), listpack_.end(), member) != listpack_.end()) return false;
    if (listpack_.size() < kListpackEntriesMax && member.size() <= kListpackValueBytesMax) {
      listpack_.emplace_back(member);
      return true;
    }
    ConvertToHashtable();
  }
  return AddToHashtable(member);
}

bool SetValue::AddToHashtable(std::string_view member) {
  assert(encoding_ == Encoding::kHashtable);
  return dict_->FindOrInsert(member).second;
}

bool SetValue::Remove(std::string_view member) {
  switch (encoding_) {
    case Encoding::kIntset: {
      int64_t v;
      if (!ParseCanonicalInt64(member, &v)) return false;
      auto it = std::lower_bound(intset_.begin(), intset_.end(), v);
      if (it == intset_.end() || *it != v) return false;
      intset_.erase(it);
      return true;
    }
    case Encoding::kListpack: {
      auto it = std::find(listpack_.begin(), listpack_.end(), member);
      if (it == listpack_.end()) return false;
      listpack_.erase(it);
      return true;
    }
    case Encoding::kHashtable:
      if (!dict_->Erase(member)) return false;
      dict_->ShrinkIfNeeded();  // nested tables get no cron, so shrink as Redis does on delete
      return true;
  }
  return false;
}

bool SetValue::Contains(std::string_view member) {
  switch (encoding_) {
    case Encoding::kIntset: {
      int64_t v;
      return ParseCanonicalInt64(member, &v) &&
             std::binary_search(intset_.begin(), intset_.end(), v);
    }
    case Encoding::kListpack:
      return std::find(listpack_.begin(), listpack_.end(), member) != listpack_.end();
    case Encoding::kHashtable:
      return dict_->Find(member) != nullptr;
  }
  return false;
}

void SetValue::ConvertToListpack() {
  assert(encoding_ == Encoding::kIntset);
  listpack_.reserve(intset_.size() + 1);
  ForEach([&](std::string_view m) { listpack_.emplace_back(m); });
  intset_.clear();
  intset_.shrink_to_fit();
  encoding_ = Encoding::kListpack;
}

void SetValue::ConvertToHashtable() {
  assert(encoding_ != Encoding::kHashtable);
  auto dict = std::make_unique<Table>();
  ForEach([&](std::string_view m) { dict->FindOrInsert(m); });
  intset_.clear();
  intset_.shrink_to_fit();
  listpack_.clear();
  listpack_.shrink_to_fit();
  dict_ = std::move(dict);
  encoding_ = Encoding::kHashtable;
}

}  // namespace stockd::storage
