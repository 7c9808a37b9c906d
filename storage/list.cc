#include "storage/list.h"

namespace stockd::storage {

size_t ListValue::HeapBytes() const {
  size_t bytes = items_.size() * sizeof(std::string);
  for (const std::string& s : items_) {
    if (s.capacity() > kEmbeddedStringBytesMax) bytes += s.capacity() + 1;
  }
  return bytes;
}

}  // namespace stockd::storage
