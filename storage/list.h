#pragma once
// The list value: a std::deque of strings.
//
// Why a deque and not Redis's quicklist (a linked list of listpacks): a deque gives O(1) push and
// pop at both ends like quicklist, and O(1) LINDEX/LSET/LRANGE-start where quicklist walks nodes.
// It costs more memory per small element (a 32-byte std::string slot, against a few bytes in a
// listpack); lists in stockd are queues of ids, where access time matters more than bytes.
// OBJECT ENCODING reports "deque", the truth.
#include <deque>
#include <string>
#include <string_view>

#include "storage/value.h"

namespace stockd::storage {

class ListValue final : public Collection {
 public:
  size_t size() const override { return items_.size(); }
  const char* EncodingName() const override { return "deque"; }
  size_t HeapBytes() const override;

  std::deque<std::string>& items() { return items_; }
  const std::deque<std::string>& items() const { return items_; }

 private:
  std::deque<std::string> items_;
};

}  // namespace stockd::storage
