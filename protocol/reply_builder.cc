// RESP2/RESP3 reply writer. Formats like Redis 7.0 networking.c (addReplyLongLongWithPrefix,
// addReplyBulk, addReplyDouble, addReplyErrorLength, addReplyNull, addReplyBool,
// addReplyVerbatim, addReplyMapLen, addReplySetLen, addReplyPushLen).
#include "protocol/reply_builder.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace stockd::protocol {
namespace {

// "<type byte><int64 in decimal>\r\n": 1 + 20 (19 digits and a sign) + 2.
constexpr size_t kLengthLineBytesMax = 1 + 20 + 2;
// "%.17g" of a double: sign, 17 significant digits, point, "e-308": 24; rounded up.
constexpr size_t kDoubleTextBytesMax = 32;
// RESP3 verbatim strings carry a format of exactly three bytes ("txt", "mkd") before a ':'.
constexpr size_t kVerbatimFormatBytes = 3;

// Appends "<type><value>\r\n" with one append and no snprintf: this is the hot path for every
// integer reply, bulk header and aggregate header.
void AppendLengthLine(std::string* out, char type, int64_t value) {
  char line[kLengthLineBytesMax];
  line[0] = type;
  const auto result = std::to_chars(line + 1, line + sizeof(line) - 2, value);
  assert(result.ec == std::errc());
  char* end = result.ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(line, static_cast<size_t>(end - line));
}

// Writes Redis 7.0's text for `value` into `text` and returns its length.
size_t FormatDoubleInto(double value, char (&text)[kDoubleTextBytesMax]) {
  // Spelled out rather than left to the formatter, as Redis does: libc spellings vary, and glibc
  // prints "-nan" for a NaN with its sign bit set.
  if (std::isinf(value)) {
    const std::string_view repr = value > 0 ? "inf" : "-inf";
    repr.copy(text, repr.size());
    return repr.size();
  }
  if (std::isnan(value)) {
    const std::string_view repr = "nan";
    repr.copy(text, repr.size());
    return repr.size();
  }
  // std::to_chars with a precision is specified to match printf("%.17g") in the C locale, without
  // snprintf's locale lookup and format parsing.
  constexpr int kSignificantDigits = 17;
  const auto result = std::to_chars(text, text + kDoubleTextBytesMax, value,
                                    std::chars_format::general, kSignificantDigits);
  assert(result.ec == std::errc());
  return static_cast<size_t>(result.ptr - text);
}

// Appends `s` with every CR and LF turned into a space, so that the line cannot end early and
// desynchronize the client.
void AppendOneLine(std::string* out, std::string_view s) {
  if (s.find_first_of("\r\n") == std::string_view::npos) {
    out->append(s);
    return;
  }
  const size_t start = out->size();
  out->append(s);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
}

}  // namespace

void ReplyBuilder::SimpleString(std::string_view s) {
  // The contract forbids CR and LF; should one slip through in a release build, the line is still
  // made safe rather than letting a value end the reply early.
  assert(s.find_first_of("\r\n") == std::string_view::npos);
  if (discard_) return;
  out_->push_back('+');
  AppendOneLine(out_, s);
  out_->append("\r\n");
}

void ReplyBuilder::Error(std::string_view message) {
  if (discard_) return;
  out_->push_back('-');
  AppendOneLine(out_, message);
  out_->append("\r\n");
}

void ReplyBuilder::Integer(int64_t value) {
  if (discard_) return;
  AppendLengthLine(out_, ':', value);
}

void ReplyBuilder::Bulk(std::string_view s) {
  if (discard_) return;
  AppendLengthLine(out_, '$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Null() {
  if (discard_) return;
  out_->append(resp_ >= 3 ? "_\r\n" : "$-1\r\n");
}

void ReplyBuilder::NullArray() {
  if (discard_) return;
  out_->append(resp_ >= 3 ? "_\r\n" : "*-1\r\n");
}

void ReplyBuilder::Double(double value) {
  if (discard_) return;
  char text[kDoubleTextBytesMax];
  const size_t length = FormatDoubleInto(value, text);
  if (resp_ >= 3) {
    out_->push_back(',');
    out_->append(text, length);
    out_->append("\r\n");
  } else {
    Bulk(std::string_view(text, length));
  }
}

void ReplyBuilder::Bool(bool value) {
  if (discard_) return;
  if (resp_ >= 3) {
    out_->append(value ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(value ? ":1\r\n" : ":0\r\n");
  }
}

void ReplyBuilder::Verbatim(std::string_view format3, std::string_view text) {
  if (discard_) return;
  if (resp_ < 3) {
    Bulk(text);
    return;
  }
  // A format is always a literal in our code ("txt", "mkd"): a wrong one is a programmer error,
  // and writing it would corrupt the stream for the client, so stop even under NDEBUG.
  if (format3.size() != kVerbatimFormatBytes) {
    std::fprintf(stderr, "ReplyBuilder::Verbatim: format must be 3 bytes, got %zu\n",
                 format3.size());
    std::abort();
  }
  AppendLengthLine(out_, '=', static_cast<int64_t>(kVerbatimFormatBytes + 1 + text.size()));
  out_->append(format3);
  out_->push_back(':');
  out_->append(text);
  out_->append("\r\n");
}

void ReplyBuilder::ArrayHeader(int64_t n) {
  assert(n >= 0);  // a null array is NullArray()
  if (discard_) return;
  AppendLengthLine(out_, '*', n);
}

void ReplyBuilder::MapHeader(int64_t pairs) {
  assert(pairs >= 0);
  if (discard_) return;
  if (resp_ >= 3) {
    AppendLengthLine(out_, '%', pairs);
  } else {
    AppendLengthLine(out_, '*', pairs * 2);
  }
}

void ReplyBuilder::SetHeader(int64_t n) {
  assert(n >= 0);
  if (discard_) return;
  AppendLengthLine(out_, resp_ >= 3 ? '~' : '*', n);
}

void ReplyBuilder::PushHeader(int64_t n) {
  assert(n >= 0);
  if (discard_) return;
  AppendLengthLine(out_, resp_ >= 3 ? '>' : '*', n);
}

std::string ReplyBuilder::FormatDouble(double value) {
  char text[kDoubleTextBytesMax];
  const size_t length = FormatDoubleInto(value, text);
  return std::string(text, length);
}

}  // namespace stockd::protocol
