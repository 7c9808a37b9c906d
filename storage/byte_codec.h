#pragma once
// The primitives of the snapshot value encoding (docs/wal.md, "Value encoding (snapshots)"):
// LEB128 varints, zigzag signed varints, length-prefixed bytes, raw doubles, and a reader that
// never reads past its input. Shared by storage/value_codec.cc and storage/sku_codec.cc; not an
// interface for anyone else.
//
// Why varints: a snapshot holds millions of small numbers (lengths, counts, quantities, sequence
// numbers) that fit in one or two bytes, and times that fit in six; fixed 8-byte fields would
// double the size of a typical SKU for no gain in decode speed that matters next to building the
// hash maps.
#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace stockd::storage::codec {

// A uint64 takes at most this many LEB128 bytes (7 bits each).
inline constexpr size_t kVarint64BytesMax = 10;

inline void PutByte(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

inline void PutVarint(std::string* out, uint64_t v) {
  char buf[kVarint64BytesMax];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Zigzag maps small negative and positive numbers alike to small unsigned ones.
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
inline void PutSigned(std::string* out, int64_t v) { PutVarint(out, ZigZag(v)); }

// b - a as a zigzag varint, computed with wrapping arithmetic so that no pair of times can
// overflow; the reader adds it back the same way (AddWrapping).
inline void PutDelta(std::string* out, int64_t a, int64_t b) {
  PutSigned(out, static_cast<int64_t>(static_cast<uint64_t>(b) - static_cast<uint64_t>(a)));
}
inline int64_t AddWrapping(int64_t a, int64_t delta) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(delta));
}

inline void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// The IEEE 754 bits, little-endian: exact for every double, infinities and -0.0 included.
inline void PutDouble(std::string* out, double d) {
  uint64_t bits = std::bit_cast<uint64_t>(d);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(bits >> (8 * i));
  out->append(buf, 8);
}

// Reads from a byte range; every read checks the bytes remaining first, and sets its output
// (to zero or empty when it fails). The first failure is
// kept in *error as a sentence naming the field and its byte offset (from the start of the
// range), and every read after it fails too, so a decoder may check only where it must stop.
// Not thread-safe; *error must outlive the reader.
class Reader {
 public:
  Reader(std::string_view in, std::string* error)
      : begin_(in.data()), p_(in.data()), end_(in.data() + in.size()), error_(error) {}

  bool ok() const { return ok_; }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  // The bytes not read yet.
  std::string_view rest() const { return std::string_view(p_, remaining()); }
  void Skip(size_t n) { p_ += n; }  // n <= remaining(), checked by the caller

  bool Byte(const char* what, uint8_t* v) {
    *v = 0;
    if (!ok_ || p_ == end_) return Truncated(what);
    *v = static_cast<uint8_t>(*p_++);
    return true;
  }

  bool Varint(const char* what, uint64_t* v) {
    *v = 0;
    if (!ok_) return false;
    uint64_t result = 0;
    for (size_t i = 0; i < kVarint64BytesMax; ++i) {
      if (p_ == end_) return Truncated(what);
      uint64_t byte = static_cast<uint8_t>(*p_++);
      // The tenth byte carries only the top bit of a uint64.
      if (i == kVarint64BytesMax - 1 && byte > 1) return Fail(what, "is a varint over 64 bits");
      result |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        *v = result;
        return true;
      }
    }
    return Fail(what, "is a varint over 64 bits");
  }

  bool Signed(const char* what, int64_t* v) {
    uint64_t u;
    *v = 0;
    if (!Varint(what, &u)) return false;
    *v = UnZigZag(u);
    return true;
  }

  bool Double(const char* what, double* v) {
    *v = 0;
    if (!ok_ || remaining() < 8) return Truncated(what);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(p_[i])) << (8 * i);
    p_ += 8;
    *v = std::bit_cast<double>(bits);
    return true;
  }

  // A length-prefixed byte string of at most bytes_max bytes, viewed in place.
  bool Bytes(const char* what, size_t bytes_max, std::string_view* s) {
    *s = {};
    uint64_t n;
    if (!Varint(what, &n)) return false;
    if (n > bytes_max) return Fail(what, "is longer than its limit");
    if (n > remaining()) return Truncated(what);
    *s = std::string_view(p_, n);
    p_ += n;
    return true;
  }

  // A count of items that each take at least item_bytes_min bytes: refused above count_max or
  // when the remaining bytes could not hold that many items, so that a caller may reserve
  // memory for it without trusting a corrupt length.
  bool Count(const char* what, size_t item_bytes_min, uint64_t count_max, size_t* n) {
    *n = 0;
    uint64_t v;
    if (!Varint(what, &v)) return false;
    if (v > count_max) return Fail(what, "is over its limit");
    if (v > remaining() / item_bytes_min) return Fail(what, "is more than the bytes left can hold");
    *n = static_cast<size_t>(v);
    return true;
  }

  // An integer that must lie in [lo, hi].
  bool Ranged(const char* what, int64_t lo, int64_t hi, int64_t* v) {
    if (!Signed(what, v)) return false;
    if (*v < lo || *v > hi) return Fail(what, "is out of range");
    return true;
  }
  // A non-negative integer at most hi, stored unsigned (one bit shorter than zigzag).
  bool NonNegative(const char* what, int64_t hi, int64_t* v) {
    *v = 0;
    uint64_t u;
    if (!Varint(what, &u)) return false;
    if (u > static_cast<uint64_t>(hi)) return Fail(what, "is out of range");
    *v = static_cast<int64_t>(u);
    return true;
  }

  // Records a failure (the first one wins) and returns false.
  bool Fail(const char* what, const char* problem) {
    return ok_ ? Fail(fmt::format("{} at byte {} {}", what, offset(), problem)) : false;
  }
  bool Fail(std::string sentence) {
    if (ok_) *error_ = std::move(sentence);
    ok_ = false;
    return false;
  }

 private:
  bool Truncated(const char* what) { return Fail(what, "is truncated"); }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::string* error_;
  bool ok_ = true;
};

}  // namespace stockd::storage::codec
