#include "storage/hash.h"

namespace stockd::storage {
namespace {

// Heap bytes a std::string owns beyond its own object (none while it fits the inline buffer).
size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > kEmbeddedStringBytesMax ? s.capacity() + 1 : 0;
}

}  // namespace

size_t HashValue::size() const { return is_listpack() ? listpack_.size() : dict_->size(); }

const char* HashValue::EncodingName() const { return is_listpack() ? "listpack" : "hashtable"; }

size_t HashValue::HeapBytes() const {
  size_t bytes = sizeof(HashValue);
  if (is_listpack()) {
    bytes += listpack_.capacity() * sizeof(listpack_[0]);
  } else {
    bytes += sizeof(*dict_) + dict_->buckets() * sizeof(void*) +
             dict_->size() * sizeof(Dict<std::string>::Node);
  }
  if (is_listpack()) {
    for (const auto& [f, v] : listpack_) bytes += StringHeapBytes(f) + StringHeapBytes(v);
  } else {
    dict_->ForEach([&](Dict<std::string>::Node* n) {
      bytes += StringHeapBytes(n->key) + StringHeapBytes(n->val);
    });
  }
  return bytes;
}

const std::string* HashValue::Find(std::string_view field) {
  if (is_listpack()) {
    for (const auto& [f, v] : listpack_) {
      if (f == field) return &v;
    }
    return nullptr;
  }
  Dict<std::string>::Node* n = dict_->Find(field);
  return n == nullptr ? nullptr : &n->val;
}

bool HashValue::Set(std::string_view field, std::string_view value) {
  if (is_listpack() &&
      (field.size() > kListpackValueBytesMax || value.size() > kListpackValueBytesMax)) {
    ConvertToHashtable();
  }
  if (!is_listpack()) {
    auto [n, inserted] = dict_->FindOrInsert(field);
    n->val.assign(value);
    return inserted;
  }
  for (auto& [f, v] : listpack_) {
    if (f == field) {
      v.assign(value);
      return false;
    }
  }
  listpack_.emplace_back(std::string(field), std::string(value));
  if (listpack_.size() > kListpackEntriesMax) ConvertToHashtable();
  return true;
}

bool HashValue::Erase(std::string_view field) {
  if (!is_listpack()) {
    if (!dict_->Erase(field)) return false;
    dict_->ShrinkIfNeeded();  // nested tables get no cron, so shrink as Redis does on delete
    return true;
  }
  for (auto it = listpack_.begin(); it != listpack_.end(); ++it) {
    if (it->first == field) {
      listpack_.erase(it);
      return true;
    }
  }
  return false;
}

void HashValue::ConvertToHashtable() {
  assert(is_listpack());
  auto dict = std::make_unique<Dict<std::string>>();
  for (auto& [f, v] : listpack_) dict->FindOrInsert(f).first->val = std::move(v);
  listpack_.clear();
  listpack_.shrink_to_fit();
  dict_ = std::move(dict);
  assert(!is_listpack());
}

}  // namespace stockd::storage
