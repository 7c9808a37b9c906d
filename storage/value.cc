#include "storage/value.h"

namespace stockd::storage {

bool ParseCanonicalInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool negative = s[0] == '-';
  if (negative) {
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] == '0' && s.size() > i + 1) return false;  // leading zero
  if (s[i] == '0' && negative) return false;          // "-0"
  int64_t v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  *out = v;
  return true;
}

std::string& Value::MutableRaw() {
  if (is_int()) data_ = ToString();
  return std::get<std::string>(data_);
}

const char* Value::EncodingName() const {
  if (type_ != ValueType::kString) return As<Collection>().EncodingName();
  if (is_int()) return "int";
  return raw().size() <= kEmbeddedStringBytesMax ? "embstr" : "raw";
}

size_t Value::HeapBytes() const {
  if (type_ != ValueType::kString) return As<Collection>().HeapBytes();
  if (is_int()) return 0;
  return raw().capacity() > kEmbeddedStringBytesMax ? raw().capacity() + 1 : 0;
}

const char* TypeName(ValueType t) {
  switch (t) {
    case ValueType::kString:
      return "string";
    case ValueType::kList:
      return "list";
    case ValueType::kSet:
      return "set";
    case ValueType::kZSet:
      return "zset";
    case ValueType::kHash:
      return "hash";
    case ValueType::kSku:
      return "sku";
  }
  return "none";
}

}  // namespace stockd::storage
