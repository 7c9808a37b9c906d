#pragma once
// Incremental RESP request parser: a pure state machine over bytes, no sockets and no engine.
//
// Contract. The caller owns a byte buffer. It calls Parse() with a view that starts at the first
// byte of the request being parsed (the first unconsumed byte) and ends at the last byte received.
// Between calls the caller may append bytes and may move the buffer (for example grow or compact
// it), but the view it passes must keep starting at that same request's first byte. The parser
// keeps its progress as offsets relative to that start, so it never rescans what it has accepted.
//
// Parse() returns:
//  - kCommand: one complete request. `args()` then holds views into the view passed to this
//    call (valid until that buffer changes), and `consumed()` is the request's length in bytes;
//    the caller advances its start by that much. Empty inline lines are skipped and reported as
//    consumed bytes with zero args (kCommand with args().empty()), which the caller just drops.
//  - kNeedMore: the request is incomplete; call again with more bytes.
//  - kError: a protocol error; `error()` is the Redis text without the leading "-ERR "
//    (for example "Protocol error: invalid bulk length"). The caller replies and closes the
//    connection: the parser is not usable afterwards until Reset().
//
// Both RESP multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ("GET k\r\n", with Redis's
// quoting rules) requests are accepted.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/limits.h"

namespace stockd::protocol {

class RespParser {
 public:
  enum class Status { kCommand, kNeedMore, kError };

  struct Limits {
    int64_t bulk_length_bytes_max = kBulkLengthBytesMaxDefault;
    int64_t multibulk_length_max = kMultibulkLengthMax;
    size_t inline_bytes_max = kInlineBytesMax;
    // The client has not authenticated: kUnauthenticated*Max apply, with Redis's
    // "unauthenticated multibulk length" / "unauthenticated bulk length" errors.
    bool unauthenticated = false;
  };

  RespParser() = default;
  explicit RespParser(Limits limits) : limits_(limits) {}

  Status Parse(std::string_view input);

  const std::vector<std::string_view>& args() const { return args_; }
  size_t consumed() const { return consumed_; }
  const std::string& error() const { return error_; }

  // When kNeedMore is returned while reading a bulk string, the number of bytes the caller's view
  // must hold for this request to complete (so a connection can reserve once for a large value).
  // Zero when unknown.
  size_t bytes_needed_hint() const { return bytes_needed_hint_; }

  void set_limits(const Limits& limits) { limits_ = limits; }
  // Forgets any partial request.
  void Reset();

 private:
  // Implementation state. Every offset is relative to the first byte of the current request, so
  // the caller may move its buffer between calls; bytes before pos_ are never examined again.
  enum class State {
    kStart,           // nothing accepted yet: the first byte decides inline or multibulk
    kInline,          // searching for the '\n' that ends an inline request
    kMultibulkCount,  // searching for the '\r' that ends "*<count>"
    kBulkLength,      // searching for the '\r' that ends "$<length>"
    kBulkBody,        // waiting for bulk_length_ bytes plus the 2-byte terminator
    kFailed,          // a protocol error was reported; only Reset() leaves this state
  };
  // Result of looking for the end of a header or inline line.
  enum class LineSearch { kFound, kNeedMore, kTooBig };

  Status ParseInline(std::string_view input);
  Status ParseMultibulk(std::string_view input);
  LineSearch FindLineEnd(std::string_view input, char terminator, size_t* end);
  Status Complete(std::string_view input);
  Status Fail(std::string_view message);

  Limits limits_;
  State state_ = State::kStart;
  size_t pos_ = 0;             // next byte to examine
  size_t line_start_ = 0;      // first byte of the header line being searched
  int64_t args_expected_ = 0;  // bulk strings still to read in this multibulk request
  int64_t bulk_length_ = -1;   // length of the bulk being read
  std::vector<std::pair<size_t, size_t>> arg_spans_;  // (offset, length) of accepted bulk args
  std::vector<std::string_view> args_;
  // Decoded inline arguments that contained quotes or escapes, so differ from the input bytes;
  // args_ then points here (valid until the next Parse() or Reset()).
  std::string inline_storage_;
  size_t consumed_ = 0;
  size_t bytes_needed_hint_ = 0;
  std::string error_;
};

}  // namespace stockd::protocol
