#pragma once
// The encoding of one value for snapshots (issue 5): a snapshot is the whole keyspace at a known
// WAL LSN, and recovery loads the newest one and replays the log after it. The byte layout, its
// version and what the decoder validates are specified in docs/wal.md, "Value encoding
// (snapshots)"; this header and that section change together.
//
// Every encoding of every type round-trips exactly: a string keeps its integer or byte form, a
// collection its members and its encoding (OBJECT ENCODING answers the same), a SKU everything
// that influences a future reply (Sku::Encode). Two equal values need not encode to equal bytes
// (hash tables are written in their iteration order).
//
// Thread: these only read (encode) or build (decode) the value passed; the caller keeps the
// value's shard paused or owns the value.
#include <string>
#include <string_view>

#include "storage/value.h"

namespace stockd::storage {

// The format version written at the front of every value; a decoder refuses any other.
inline constexpr uint8_t kValueCodecVersion = 1;

// Appends the encoding of `v` (any ValueType: string incl. integer-encoded, list, set, zset,
// hash, sku) to *out.
void EncodeValue(const Value& v, std::string* out);

// Decodes one value from the front of *in and advances *in past it. On malformed input returns
// false with *error set to a short sentence (never crashes, never allocates more than the bytes
// remaining could describe), and leaves *in and *v as they were. On success *v holds the value.
bool DecodeValue(std::string_view* in, Value* v, std::string* error);

}  // namespace stockd::storage
