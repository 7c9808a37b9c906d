#include "storage/zset.h"

#include <algorithm>
#include <new>
#include <random>

namespace stockd::storage {
namespace {

// Random heights only shape the skip list; a per-thread generator needs no locking.
std::mt19937_64& HeightRng() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ZSkipList (Redis's zslCreate, zslInsert, zslDeleteNode, zslGetRank, zslGetElementByRank)

ZSkipList::ZSkipList() { header_ = NewNode(kLevelsMax, 0, std::string_view()); }

ZSkipList::~ZSkipList() {
  Node* n = header_->levels()[0].forward;
  while (n != nullptr) {
    Node* next = n->levels()[0].forward;
    FreeNode(n);
    n = next;
  }
  FreeNode(header_);
}

ZSkipList::Node* ZSkipList::NewNode(int height, double score, std::string_view member) {
  assert(height >= 1 && height <= kLevelsMax);
  size_t bytes = sizeof(Node) + static_cast<size_t>(height) * sizeof(Level);
  static_assert(sizeof(Node) % alignof(Level) == 0, "levels follow the node unpadded");
  void* mem = ::operator new(bytes);
  Node* n = new (mem) Node{member, score, nullptr, height};
  for (int i = 0; i < height; ++i) new (&n->levels()[i]) Level{nullptr, 0};
  heap_bytes_ += bytes;
  return n;
}

void ZSkipList::FreeNode(Node* n) {
  heap_bytes_ -= sizeof(Node) + static_cast<size_t>(n->height) * sizeof(Level);
  n->~Node();
  ::operator delete(n);
}

int ZSkipList::RandomHeight() {
  // Each further level with probability kLevelUpProbability, as Redis's zslRandomLevel.
  constexpr uint64_t kThreshold = static_cast<uint64_t>(kLevelUpProbability * 0xFFFF);
  int height = 1;
  while (height < kLevelsMax && (HeightRng()() & 0xFFFF) < kThreshold) ++height;
  return height;
}

void ZSkipList::Insert(double score, std::string_view member) {
  Node* update[kLevelsMax];
  size_t rank[kLevelsMax];
  // Seek records the rank at each level, so it is redone here with a per-level rank.
  Node* x = header_;
  size_t traversed = 0;
  for (int i = level_ - 1; i >= 0; --i) {
    while (x->levels()[i].forward != nullptr &&
           ZLess(x->levels()[i].forward->score, x->levels()[i].forward->member, score, member)) {
      traversed += x->levels()[i].span;
      x = x->levels()[i].forward;
    }
    update[i] = x;
    rank[i] = traversed;
  }
  int height = RandomHeight();
  if (height > level_) {
    for (int i = level_; i < height; ++i) {
      rank[i] = 0;
      update[i] = header_;
      update[i]->levels()[i].span = length_;
    }
    level_ = height;
  }
  x = NewNode(height, score, member);
  for (int i = 0; i < height; ++i) {
    Level& prev = update[i]->levels()[i];
    x->levels()[i].forward = prev.forward;
    prev.forward = x;
    x->levels()[i].span = prev.span - (rank[0] - rank[i]);
    prev.span = (rank[0] - rank[i]) + 1;
  }
  for (int i = height; i < level_; ++i) update[i]->levels()[i].span++;
  x->backward = update[0] == header_ ? nullptr : update[0];
  if (x->levels()[0].forward != nullptr) {
    x->levels()[0].forward->backward = x;
  } else {
    tail_ = x;
  }
  ++length_;
}

void ZSkipList::Unlink(Node* x, Node** update) {
  for (int i = 0; i < level_; ++i) {
    Level& prev = update[i]->levels()[i];
    if (prev.forward == x) {
      prev.span += x->levels()[i].span - 1;
      prev.forward = x->levels()[i].forward;
    } else {
      prev.span -= 1;
    }
  }
  if (x->levels()[0].forward != nullptr) {
    x->levels()[0].forward->backward = x->backward;
  } else {
    tail_ = x->backward;
  }
  while (level_ > 1 && header_->levels()[level_ - 1].forward == nullptr) --level_;
  --length_;
}

bool ZSkipList::Erase(double score, std::string_view member) {
  Node* update[kLevelsMax];
  Seek([&](const Node* n, size_t) { return ZLess(n->score, n->member, score, member); }, update,
       nullptr);
  Node* x = update[0]->levels()[0].forward;
  if (x == nullptr || x->score != score || x->member != member) return false;
  Unlink(x, update);
  FreeNode(x);
  return true;
}

size_t ZSkipList::Rank(double score, std::string_view member) const {
  size_t rank = 0;
  Node* x = Seek([&](const Node* n, size_t) { return !ZLess(score, member, n->score, n->member); },
                 nullptr, &rank);
  if (x == header_ || x->score != score || x->member != member) return 0;
  return rank;
}

const ZSkipList::Node* ZSkipList::AtRank(size_t rank) const {
  assert(rank >= 1 && rank <= length_);
  Node* x = Seek([&](const Node*, size_t r) { return r <= rank; }, nullptr, nullptr);
  assert(x != header_);
  return x;
}

// ---------------------------------------------------------------------------------------------
// ZSetValue

size_t ZSetValue::size() const { return skiplist_ ? skiplist_->list.size() : entries_.size(); }

const char* ZSetValue::EncodingName() const { return skiplist_ ? "skiplist" : "listpack"; }

size_t ZSetValue::HeapBytes() const {
  if (!skiplist_) {
    size_t bytes = entries_.capacity() * sizeof(ListpackEntry);
    for (const ListpackEntry& e : entries_) {
      if (e.member.size() > kEmbeddedStringBytesMax) bytes += e.member.capacity() + 1;
    }
    return bytes;
  }
  const Dict<double>& d = skiplist_->scores;
  size_t bytes = sizeof(SkipListEncoding) + skiplist_->list.HeapBytes() +
                 d.buckets() * sizeof(void*) + d.size() * sizeof(Dict<double>::Node);
  // Member bytes beyond std::string's own buffer, estimated from a walk of the keys.
  const_cast<Dict<double>&>(d).ForEach([&](Dict<double>::Node* n) {
    if (n->key.size() > kEmbeddedStringBytesMax) bytes += n->key.capacity() + 1;
  });
  return bytes;
}

size_t ZSetValue::ListpackFind(std::string_view member) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].member == member) return i;
  }
  return entries_.size();
}

std::optional<double> ZSetValue::Score(std::string_view member) {
  if (skiplist_) {
    Dict<double>::Node* n = skiplist_->scores.Find(member);
    if (n == nullptr) return std::nullopt;
    return n->val;
  }
  size_t i = ListpackFind(member);
  if (i == entries_.size()) return std::nullopt;
  return entries_[i].score;
}

void ZSetValue::ListpackInsert(std::string_view member, double score) {
  auto it =
      std::lower_bound(entries_.begin(), entries_.end(), std::pair(score, member),
                       [](const ListpackEntry& e, const std::pair<double, std::string_view>& k) {
                         return ZLess(e.score, e.member, k.first, k.second);
                       });
  entries_.insert(it, ListpackEntry{std::string(member), score});
}

void ZSetValue::SkipListInsert(std::string_view member, double score) {
  auto [node, inserted] = skiplist_->scores.FindOrInsert(member);
  assert(inserted);
  node->val = score;
  skiplist_->list.Insert(score, node->key);  // views the Dict node's key, which never moves
}

void ZSetValue::ConvertToSkipList() {
  assert(!skiplist_);
  skiplist_ = std::make_unique<SkipListEncoding>();
  for (const ListpackEntry& e : entries_) SkipListInsert(e.member, e.score);
  entries_.clear();
  entries_.shrink_to_fit();
}

void ZSetValue::Insert(std::string_view member, double score) {
  assert(score == score && "NaN scores are refused by the caller");
  if (!skiplist_ &&
      (entries_.size() + 1 > kListpackEntriesMax || member.size() > kListpackValueBytesMax)) {
    ConvertToSkipList();
  }
  if (skiplist_) return SkipListInsert(member, score);
  assert(ListpackFind(member) == entries_.size());
  ListpackInsert(member, score);
}

void ZSetValue::UpdateScore(std::string_view member, double old_score, double new_score) {
  if (skiplist_) {
    Dict<double>::Node* n = skiplist_->scores.Find(member);
    assert(n != nullptr && n->val == old_score);
    bool erased = skiplist_->list.Erase(old_score, n->key);
    assert(erased);
    (void)erased;
    n->val = new_score;
    skiplist_->list.Insert(new_score, n->key);
    return;
  }
  size_t i = ListpackFind(member);
  assert(i < entries_.size() && entries_[i].score == old_score);
  std::string owned = std::move(entries_[i].member);
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i));
  ListpackInsert(owned, new_score);
}

bool ZSetValue::Erase(std::string_view member) {
  if (skiplist_) {
    Dict<double>::Node* n = skiplist_->scores.Find(member);
    if (n == nullptr) return false;
    bool erased = skiplist_->list.Erase(n->val, n->key);
    assert(erased);
    (void)erased;
    skiplist_->scores.EraseNode(n);
    skiplist_->scores.ShrinkIfNeeded();  // a nested Dict gets no cron step
    return true;
  }
  size_t i = ListpackFind(member);
  if (i == entries_.size()) return false;
  entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i));
  return true;
}

size_t ZSetValue::Rank(std::string_view member, double score) const {
  if (skiplist_) {
    size_t rank = skiplist_->list.Rank(score, member);
    assert(rank != 0);
    return rank - 1;
  }
  size_t i = ListpackFind(member);
  assert(i < entries_.size());
  return i;
}

void ZSetValue::EraseRanks(size_t first, size_t count) {
  assert(first + count <= size());
  if (count == 0) return;
  if (!skiplist_) {
    auto begin = entries_.begin() + static_cast<ptrdiff_t>(first);
    entries_.erase(begin, begin + static_cast<ptrdiff_t>(count));
    return;
  }
  // The skip list hands each member's view back before freeing its node; the Dict node that owns
  // the bytes is erased after, so the view is valid while the skip list uses it.
  std::vector<Dict<double>::Node*> doomed;
  doomed.reserve(count);
  skiplist_->list.EraseRanks(first, count, [&](std::string_view member) {
    doomed.push_back(skiplist_->scores.Find(member));
  });
  for (Dict<double>::Node* n : doomed) skiplist_->scores.EraseNode(n);
  skiplist_->scores.ShrinkIfNeeded();
}

}  // namespace stockd::storage
