#pragma once
// A digest of the data, for DEBUG DIGEST and DEBUG DIGEST-VALUE: two servers (a primary and its
// standby, or a server before and after a restart) hold the same data exactly when their
// digests are equal, whatever the order their tables happen to hold things in.
//
// As Redis's DEBUG DIGEST: 20 bytes, shown as 40 hex digits, all zeros for an empty keyspace.
// The keyspace digest is the XOR of one digest per key (over its db, name, expiry and value),
// so the order keys are visited in does not matter. Within a value, ordered parts (list
// elements, sorted-set ranks, an SKU's journal) are hashed in order; unordered ones (set
// members, hash fields, an SKU's orders, users, admissions, tokens and restocks) are XORed.
// Encodings (listpack or hashtable, int or bytes) do not enter it: only what a client can
// observe, or what decides a future reply (an order's deadline, a token's owner), does.
// The hash is XXH3 (128-bit, extended to 160 with a second, seeded 64-bit hash).
#include <xxhash.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/db.h"
#include "storage/value.h"

namespace stockd::storage {

struct Digest {
  static constexpr size_t kBytes = 20;
  std::array<uint8_t, kBytes> bytes{};

  void Xor(const Digest& other) {
    for (size_t i = 0; i < kBytes; ++i) bytes[i] ^= other.bytes[i];
  }
  std::string Hex() const;
};

// Hashes a sequence of fields in order. Each field is length-prefixed, so ("ab", "c") and
// ("a", "bc") differ.
class DigestHasher {
 public:
  DigestHasher();
  ~DigestHasher();
  DigestHasher(const DigestHasher&) = delete;
  DigestHasher& operator=(const DigestHasher&) = delete;

  void Bytes(std::string_view s);
  void Int(int64_t v);
  void Double(double v);  // as Redis formats it (%.17g), so -0.0 and 0.0 stay apart as in replies
  void Sub(const Digest& d);  // an unordered part, already combined
  Digest Finish() const;

 private:
  void Raw(const void* data, size_t size);
  XXH3_state_t* state_;
};

// The digest of one value (DEBUG DIGEST-VALUE).
Digest ValueDigest(const Value& v);
// The digest of one key: its db, name, expiry and value.
Digest KeyDigest(int db, std::string_view key, const Slot& slot);

}  // namespace stockd::storage
