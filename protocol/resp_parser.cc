// RESP request parser. Follows Redis 7.0 networking.c (processInlineBuffer,
// processMultibulkBuffer, sdssplitargs, string2ll) so that clients see the same errors and the
// same acceptance as with Redis. Deliberate differences are marked "Unlike Redis".
#include "protocol/resp_parser.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace stockd::protocol {
namespace {

// A request may announce up to 2^31 arguments; memory for them is reserved only up to this many,
// and grows with the arguments that actually arrive (Redis reserves min(count, 1024) too).
constexpr int64_t kArgsReserveMax = 1024;

// string2ll rejects any text this long or longer (Redis's LONG_STR_SIZE: 20 digits and a sign
// fit in 20 characters, so 21 cannot be a valid long long).
constexpr size_t kIntegerTextBytesMax = 20;

// A caller that breaks the Parse() contract (view shorter than bytes already accepted) is a
// programmer error; carry on and we would read out of bounds, so stop here, also under NDEBUG.
[[noreturn]] void ContractViolation(const char* what) {
  std::fprintf(stderr, "RespParser contract violation: %s\n", what);
  std::abort();
}

// Redis's string2ll: an optional '-', then either a lone "0" or a digit 1-9 followed by digits,
// with no sign on zero, no leading zeros, no spaces and no overflow.
bool ParseRedisInteger(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > kIntegerTextBytesMax) return false;
  if (text.size() == 1 && text[0] == '0') {
    *value = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (i == text.size()) return false;
  }
  if (text[i] < '1' || text[i] > '9') return false;
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *value = static_cast<int64_t>(0 - v);  // two's complement: -(2^63) wraps to INT64_MIN
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *value = static_cast<int64_t>(v);
  }
  return true;
}

// C's isspace() in the "C" locale, which sdssplitargs uses to skip blanks between arguments.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Bytes that end an unquoted inline argument in sdssplitargs. Note \v and \f are skipped between
// arguments but do not end one.
bool EndsUnquotedArg(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Splits a line without quotes: arguments are runs of bytes between blanks, viewed in place.
void SplitUnquoted(std::string_view line, std::vector<std::string_view>* args) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i == n) return;
    const size_t start = i;
    while (i < n && !EndsUnquotedArg(line[i])) ++i;
    args->push_back(line.substr(start, i - start));
  }
}

// Decodes one double-quoted section starting after the opening quote. Returns false on an
// unterminated quote or a closing quote followed by something other than a blank.
bool DecodeDoubleQuoted(std::string_view line, size_t* pos, std::string* out) {
  size_t i = *pos;
  const size_t n = line.size();
  while (true) {
    if (i >= n) return false;  // unterminated quotes
    const char c = line[i];
    if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && IsHexDigit(line[i + 2]) &&
        IsHexDigit(line[i + 3])) {
      out->push_back(
          static_cast<char>(HexDigitValue(line[i + 2]) * 16 + HexDigitValue(line[i + 3])));
      i += 4;
    } else if (c == '\\' && i + 1 < n) {
      char decoded;
      switch (line[i + 1]) {
        case 'n':
          decoded = '\n';
          break;
        case 'r':
          decoded = '\r';
          break;
        case 't':
          decoded = '\t';
          break;
        case 'b':
          decoded = '\b';
          break;
        case 'a':
          decoded = '\a';
          break;
        default:
          decoded = line[i + 1];
          break;
      }
      out->push_back(decoded);
      i += 2;
    } else if (c == '"') {
      if (i + 1 < n && !IsSpace(line[i + 1])) return false;
      *pos = i + 1;
      return true;
    } else {
      out->push_back(c);
      ++i;
    }
  }
}

// Single quotes: only \' is an escape; everything else is literal.
bool DecodeSingleQuoted(std::string_view line, size_t* pos, std::string* out) {
  size_t i = *pos;
  const size_t n = line.size();
  while (true) {
    if (i >= n) return false;  // unterminated quotes
    const char c = line[i];
    if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
      out->push_back('\'');
      i += 2;
    } else if (c == '\'') {
      if (i + 1 < n && !IsSpace(line[i + 1])) return false;
      *pos = i + 1;
      return true;
    } else {
      out->push_back(c);
      ++i;
    }
  }
}

// sdssplitargs for a line holding quotes. Decoded arguments go to *storage (one reservation:
// decoding never makes text longer) and the views are made once it is complete, so no
// reallocation can leave one dangling. Returns false on unbalanced quotes.
bool SplitQuoted(std::string_view line, std::string* storage, std::vector<std::string_view>* args) {
  storage->clear();
  storage->reserve(line.size());
  std::vector<std::pair<size_t, size_t>> spans;  // rare path: an allocation here is fine
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i == n) break;
    const size_t start = storage->size();
    bool done = false;
    while (!done && i < n) {
      const char c = line[i];
      if (EndsUnquotedArg(c)) {
        ++i;
        done = true;
      } else if (c == '"') {
        ++i;
        if (!DecodeDoubleQuoted(line, &i, storage)) return false;
        done = true;
      } else if (c == '\'') {
        ++i;
        if (!DecodeSingleQuoted(line, &i, storage)) return false;
        done = true;
      } else {
        storage->push_back(c);
        ++i;
      }
    }
    spans.emplace_back(start, storage->size() - start);
  }
  const std::string_view decoded(*storage);
  for (const auto& [offset, length] : spans) args->push_back(decoded.substr(offset, length));
  return true;
}

}  // namespace

void RespParser::Reset() {
  state_ = State::kStart;
  pos_ = 0;
  line_start_ = 0;
  args_expected_ = 0;
  bulk_length_ = -1;
  arg_spans_.clear();
  args_.clear();
  consumed_ = 0;
  bytes_needed_hint_ = 0;
  error_.clear();
}

RespParser::Status RespParser::Parse(std::string_view input) {
  if (state_ == State::kFailed) return Status::kError;
  if (input.size() < pos_) ContractViolation("input shorter than the bytes already accepted");
  args_.clear();
  consumed_ = 0;
  bytes_needed_hint_ = 0;
  if (state_ == State::kStart) {
    if (input.empty()) return Status::kNeedMore;
    if (input[0] == '*') {
      state_ = State::kMultibulkCount;
      line_start_ = 0;
    } else {
      state_ = State::kInline;
    }
  }
  return state_ == State::kInline ? ParseInline(input) : ParseMultibulk(input);
}

// Looks for `terminator` in the line starting at line_start_, from pos_ on. Like Redis, a line
// whose terminator is not within inline_bytes_max bytes of its start is too big. Unlike Redis,
// that holds however the bytes were split into reads: Redis only measures when a read ends before
// the terminator, so a long line arriving in one read can pass. Deciding on the terminator's
// offset gives the same answer for every split (Redis's answer for a byte-at-a-time client).
RespParser::LineSearch RespParser::FindLineEnd(std::string_view input, char terminator,
                                               size_t* end) {
  // Written so that a limit of SIZE_MAX cannot overflow.
  const size_t available = input.size() - line_start_;
  const size_t window =
      limits_.inline_bytes_max < available ? limits_.inline_bytes_max + 1 : available;
  const size_t search_end = line_start_ + window;
  if (pos_ < search_end) {
    const void* found = std::memchr(input.data() + pos_, terminator, search_end - pos_);
    if (found != nullptr) {
      *end = static_cast<size_t>(static_cast<const char*>(found) - input.data());
      return LineSearch::kFound;
    }
  }
  if (available > limits_.inline_bytes_max) return LineSearch::kTooBig;
  pos_ = input.size();
  return LineSearch::kNeedMore;
}

RespParser::Status RespParser::ParseInline(std::string_view input) {
  size_t newline = 0;
  switch (FindLineEnd(input, '\n', &newline)) {
    case LineSearch::kNeedMore:
      return Status::kNeedMore;
    case LineSearch::kTooBig:
      return Fail("Protocol error: too big inline request");
    case LineSearch::kFound:
      break;
  }
  size_t line_end = newline;
  if (line_end > 0 && input[line_end - 1] == '\r') --line_end;
  const std::string_view line = input.substr(0, line_end);
  // Unlike Redis, a NUL byte is an ordinary byte here. Redis searches with strchr, so a line
  // holding NUL never finds its newline and waits until it is "too big"; that only hides errors.
  if (line.find_first_of("\"'") == std::string_view::npos) {
    SplitUnquoted(line, &args_);
  } else if (!SplitQuoted(line, &inline_storage_, &args_)) {
    args_.clear();
    return Fail("Protocol error: unbalanced quotes in request");
  }
  consumed_ = newline + 1;
  state_ = State::kStart;
  pos_ = 0;
  return Status::kCommand;
}

RespParser::Status RespParser::ParseMultibulk(std::string_view input) {
  if (state_ == State::kMultibulkCount) {
    size_t cr = 0;
    switch (FindLineEnd(input, '\r', &cr)) {
      case LineSearch::kNeedMore:
        return Status::kNeedMore;
      case LineSearch::kTooBig:
        return Fail("Protocol error: too big mbulk count string");
      case LineSearch::kFound:
        break;
    }
    // Like Redis, the byte after '\r' must have arrived but is not checked to be '\n'.
    if (cr + 1 >= input.size()) {
      pos_ = cr;
      return Status::kNeedMore;
    }
    int64_t count = 0;
    if (!ParseRedisInteger(input.substr(1, cr - 1), &count) ||
        count > limits_.multibulk_length_max) {
      return Fail("Protocol error: invalid multibulk length");
    }
    if (limits_.unauthenticated && count > kUnauthenticatedMultibulkLengthMax) {
      return Fail("Protocol error: unauthenticated multibulk length");
    }
    pos_ = cr + 2;
    if (count <= 0) return Complete(input);  // "*0" and "*-1": an empty request Redis ignores
    args_expected_ = count;
    arg_spans_.clear();
    arg_spans_.reserve(static_cast<size_t>(std::min(count, kArgsReserveMax)));
    state_ = State::kBulkLength;
    line_start_ = pos_;
  }
  while (args_expected_ > 0) {
    if (state_ == State::kBulkLength) {
      size_t cr = 0;
      switch (FindLineEnd(input, '\r', &cr)) {
        case LineSearch::kNeedMore:
          return Status::kNeedMore;
        case LineSearch::kTooBig:
          return Fail("Protocol error: too big bulk count string");
        case LineSearch::kFound:
          break;
      }
      if (cr + 1 >= input.size()) {
        pos_ = cr;
        return Status::kNeedMore;
      }
      if (input[line_start_] != '$') {
        return Fail(std::string("Protocol error: expected '$', got '") + input[line_start_] + "'");
      }
      int64_t length = 0;
      if (!ParseRedisInteger(input.substr(line_start_ + 1, cr - line_start_ - 1), &length) ||
          length < 0 || length > limits_.bulk_length_bytes_max) {
        return Fail("Protocol error: invalid bulk length");
      }
      if (limits_.unauthenticated && length > kUnauthenticatedBulkLengthBytesMax) {
        return Fail("Protocol error: unauthenticated bulk length");
      }
      bulk_length_ = length;
      pos_ = cr + 2;
      state_ = State::kBulkBody;
    }
    // Like Redis, the two bytes after the body are skipped without checking they are "\r\n".
    const size_t needed = pos_ + static_cast<size_t>(bulk_length_) + 2;
    if (input.size() < needed) {
      bytes_needed_hint_ = needed;
      return Status::kNeedMore;
    }
    arg_spans_.emplace_back(pos_, static_cast<size_t>(bulk_length_));
    pos_ = needed;
    line_start_ = pos_;
    bulk_length_ = -1;
    --args_expected_;
    state_ = State::kBulkLength;
  }
  return Complete(input);
}

// Hands out the finished multibulk request and gets ready for the next one.
RespParser::Status RespParser::Complete(std::string_view input) {
  args_.reserve(arg_spans_.size());
  for (const auto& [offset, length] : arg_spans_) args_.push_back(input.substr(offset, length));
  arg_spans_.clear();
  consumed_ = pos_;
  state_ = State::kStart;
  pos_ = 0;
  line_start_ = 0;
  args_expected_ = 0;
  return Status::kCommand;
}

RespParser::Status RespParser::Fail(std::string_view message) {
  error_.assign(message);
  state_ = State::kFailed;
  args_.clear();
  return Status::kError;
}

}  // namespace stockd::protocol
