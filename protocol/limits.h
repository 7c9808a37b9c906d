#pragma once
// Protocol limits. Each is a named constant with its unit; the configurable ones are defaults that
// the server may override per its config (proto-max-bulk-len, client-query-buffer-limit).
#include <cstddef>
#include <cstdint>

namespace stockd::protocol {

// Largest bulk string a client may send (Redis's proto-max-bulk-len default: 512 MB).
inline constexpr int64_t kBulkLengthBytesMaxDefault = 512LL * 1024 * 1024;
// Largest element count of a multibulk request (Redis: INT_MAX).
inline constexpr int64_t kMultibulkLengthMax = 2147483647LL;
// Longest inline command line, and longest "*<count>" / "$<len>" header line (Redis:
// PROTO_INLINE_MAX_SIZE, 64 KB).
inline constexpr size_t kInlineBytesMax = 64 * 1024;
// Requests from clients that have not authenticated (when a password is set) are held to far
// smaller sizes, as Redis does, so an unauthenticated client cannot make the server buffer much.
inline constexpr int64_t kUnauthenticatedMultibulkLengthMax = 10;         // elements
inline constexpr int64_t kUnauthenticatedBulkLengthBytesMax = 16 * 1024;  // bytes
// Default per-client query buffer cap (Redis's client-query-buffer-limit default: 1 GB).
inline constexpr size_t kQueryBufferBytesMaxDefault = 1024ULL * 1024 * 1024;

}  // namespace stockd::protocol
