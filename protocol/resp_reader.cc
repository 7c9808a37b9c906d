// RESP2/RESP3 reply reader: a recursive-descent parser over one complete reply. Unlike the request
// parser it is not incremental: a partial reply is read again from its start once more bytes
// arrive, which is fine for tests, tools and replication handshakes.
#include "protocol/resp_reader.h"

#include <algorithm>
#include <charconv>
#include <system_error>

namespace stockd::protocol {
namespace {

// Deepest nesting of aggregates accepted. Redis's deepest replies (COMMAND DOCS) nest about 6
// levels; the bound keeps a hostile or corrupt stream from exhausting the stack.
constexpr int kNestingDepthMax = 128;
// Element slots reserved up front for an aggregate; beyond this, memory grows with the elements
// that actually arrive rather than with a count the peer announced.
constexpr int64_t kElementsReserveMax = 64;
// A verbatim string starts with a 3-byte format and ':' ("txt:"), which str does not keep.
constexpr size_t kVerbatimPrefixBytes = 4;

enum class Outcome { kOk, kPartial, kError };

class Reader {
 public:
  explicit Reader(std::string_view input) : input_(input) {}

  Outcome Value(int depth, RespValue* out);
  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  Outcome Line(std::string_view* line);
  Outcome Integer(int64_t* value);
  Outcome Blob(int64_t length, std::string_view* body);
  Outcome Elements(int depth, int64_t count, RespValue* out);
  Outcome Fail(std::string message) {
    error_ = std::move(message);
    return Outcome::kError;
  }

  std::string_view input_;
  size_t pos_ = 0;
  std::string error_;
};

// Parses an optionally signed decimal int64 ("+5" is allowed, as RESP3 permits).
bool ParseInt64(std::string_view text, int64_t* value) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text[0] == '+') return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), *value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

bool IsValidDouble(std::string_view text) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text[0] == '+') return false;
  double value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  // Out-of-range text still names a double (it rounds to inf or 0), so only syntax matters.
  return (result.ec == std::errc() || result.ec == std::errc::result_out_of_range) &&
         result.ptr == text.data() + text.size();
}

bool IsValidBigNumber(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The line from pos_ up to CRLF, which is consumed.
Outcome Reader::Line(std::string_view* line) {
  const size_t newline = input_.find('\n', pos_);
  if (newline == std::string_view::npos) return Outcome::kPartial;
  if (newline == pos_ || input_[newline - 1] != '\r') return Fail("line not ended by CRLF");
  *line = input_.substr(pos_, newline - 1 - pos_);
  pos_ = newline + 1;
  return Outcome::kOk;
}

Outcome Reader::Integer(int64_t* value) {
  std::string_view line;
  if (const Outcome o = Line(&line); o != Outcome::kOk) return o;
  if (!ParseInt64(line, value)) return Fail("invalid integer '" + std::string(line) + "'");
  return Outcome::kOk;
}

// `length` bytes from pos_ followed by CRLF.
Outcome Reader::Blob(int64_t length, std::string_view* body) {
  if (length < 0) return Fail("invalid length " + std::to_string(length));
  const uint64_t needed = static_cast<uint64_t>(length) + 2;
  if (input_.size() - pos_ < needed) return Outcome::kPartial;
  const size_t end = pos_ + static_cast<size_t>(length);
  if (input_[end] != '\r' || input_[end + 1] != '\n') return Fail("bulk not ended by CRLF");
  *body = input_.substr(pos_, static_cast<size_t>(length));
  pos_ = end + 2;
  return Outcome::kOk;
}

Outcome Reader::Elements(int depth, int64_t count, RespValue* out) {
  if (count < 0) return Fail("invalid aggregate length " + std::to_string(count));
  out->elements.reserve(static_cast<size_t>(std::min(count, kElementsReserveMax)));
  for (int64_t i = 0; i < count; ++i) {
    RespValue element;
    if (const Outcome o = Value(depth + 1, &element); o != Outcome::kOk) return o;
    out->elements.push_back(std::move(element));
  }
  return Outcome::kOk;
}

Outcome Reader::Value(int depth, RespValue* out) {
  if (depth > kNestingDepthMax) return Fail("aggregates nested too deep");
  if (pos_ >= input_.size()) return Outcome::kPartial;
  const char type = input_[pos_++];
  std::string_view text;
  int64_t n = 0;
  Outcome o = Outcome::kOk;
  switch (type) {
    case '+':
    case '-':
      if ((o = Line(&text)) != Outcome::kOk) return o;
      out->type = type == '+' ? RespValue::Type::kSimpleString : RespValue::Type::kError;
      out->str.assign(text);
      return Outcome::kOk;
    case ':':
      if ((o = Integer(&n)) != Outcome::kOk) return o;
      out->type = RespValue::Type::kInteger;
      out->integer = n;
      return Outcome::kOk;
    case '$':
    case '!':  // RESP3 blob error
    case '=':
      if ((o = Integer(&n)) != Outcome::kOk) return o;
      if (type == '$' && n == -1) {
        out->type = RespValue::Type::kNull;
        return Outcome::kOk;
      }
      if ((o = Blob(n, &text)) != Outcome::kOk) return o;
      if (type == '=') {
        if (text.size() < kVerbatimPrefixBytes || text[kVerbatimPrefixBytes - 1] != ':') {
          return Fail("verbatim string without a format prefix");
        }
        text.remove_prefix(kVerbatimPrefixBytes);
      }
      out->type = type == '$'   ? RespValue::Type::kBulk
                  : type == '!' ? RespValue::Type::kError
                                : RespValue::Type::kVerbatim;
      out->str.assign(text);
      return Outcome::kOk;
    case '*':
    case '~':
    case '>':
      if ((o = Integer(&n)) != Outcome::kOk) return o;
      if (type == '*' && n == -1) {
        out->type = RespValue::Type::kNull;
        return Outcome::kOk;
      }
      out->type = type == '*'   ? RespValue::Type::kArray
                  : type == '~' ? RespValue::Type::kSet
                                : RespValue::Type::kPush;
      return Elements(depth, n, out);
    case '%':
    case '|':
      if ((o = Integer(&n)) != Outcome::kOk) return o;
      if (n < 0 || n > INT64_MAX / 2) return Fail("invalid map length " + std::to_string(n));
      out->type = type == '%' ? RespValue::Type::kMap : RespValue::Type::kAttribute;
      return Elements(depth, n * 2, out);
    case ',':
      if ((o = Line(&text)) != Outcome::kOk) return o;
      if (!IsValidDouble(text)) return Fail("invalid double '" + std::string(text) + "'");
      out->type = RespValue::Type::kDouble;
      out->str.assign(text);
      return Outcome::kOk;
    case '#':
      if ((o = Line(&text)) != Outcome::kOk) return o;
      if (text != "t" && text != "f") return Fail("invalid boolean '" + std::string(text) + "'");
      out->type = RespValue::Type::kBool;
      out->integer = text == "t" ? 1 : 0;
      return Outcome::kOk;
    case '(':
      if ((o = Line(&text)) != Outcome::kOk) return o;
      if (!IsValidBigNumber(text)) return Fail("invalid big number '" + std::string(text) + "'");
      out->type = RespValue::Type::kBigNumber;
      out->str.assign(text);
      return Outcome::kOk;
    case '_':
      if ((o = Line(&text)) != Outcome::kOk) return o;
      if (!text.empty()) return Fail("null with a payload");
      out->type = RespValue::Type::kNull;
      return Outcome::kOk;
    default:
      return Fail(std::string("unknown reply type byte '") + type + "'");
  }
}

// redis-cli's quoting of a binary string (sdscatrepr).
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (const char c : s) {
    switch (c) {
      case '\\':
        quoted += "\\\\";
        break;
      case '"':
        quoted += "\\\"";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\r':
        quoted += "\\r";
        break;
      case '\t':
        quoted += "\\t";
        break;
      case '\a':
        quoted += "\\a";
        break;
      case '\b':
        quoted += "\\b";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          quoted += c;
        } else {
          const auto byte = static_cast<unsigned char>(c);
          quoted += "\\x";
          quoted += kHex[byte >> 4];
          quoted += kHex[byte & 0xf];
        }
    }
  }
  quoted += '"';
  return quoted;
}

// "[a, b]" for sequences, "{k: v, ...}" for pairs, or "(empty <noun>)".
std::string JoinElements(const RespValue& value, bool pairs, std::string_view noun) {
  if (value.elements.empty()) return "(empty " + std::string(noun) + ")";
  std::string joined = pairs ? "{" : "[";
  for (size_t i = 0; i < value.elements.size(); ++i) {
    if (i > 0) joined += (pairs && i % 2 == 1) ? ": " : ", ";
    joined += value.elements[i].ToString();
  }
  joined += pairs ? "}" : "]";
  return joined;
}

}  // namespace

std::string RespValue::ToString() const {
  switch (type) {
    case Type::kSimpleString:
      return str;
    case Type::kError:
      return "(error) " + str;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer);
    case Type::kBulk:
      return Quote(str);
    case Type::kNull:
      return "(nil)";
    case Type::kArray:
      return JoinElements(*this, false, "array");
    case Type::kMap:
      return JoinElements(*this, true, "map");
    case Type::kSet:
      return "(set) " + JoinElements(*this, false, "set");
    case Type::kDouble:
      return "(double) " + str;
    case Type::kBool:
      return integer != 0 ? "(true)" : "(false)";
    case Type::kVerbatim:
      return "(verbatim) " + Quote(str);
    case Type::kBigNumber:
      return "(big number) " + str;
    case Type::kPush:
      return "(push) " + JoinElements(*this, false, "push");
    case Type::kAttribute:
      return "(attribute) " + JoinElements(*this, true, "attribute");
  }
  return "(unknown)";
}

std::optional<RespValue> RespReader::Read(std::string_view input, size_t* consumed,
                                          std::string* error) {
  *consumed = 0;
  if (error != nullptr) error->clear();
  Reader reader(input);
  RespValue value;
  switch (reader.Value(0, &value)) {
    case Outcome::kOk:
      *consumed = reader.pos();
      return value;
    case Outcome::kPartial:
      return std::nullopt;
    case Outcome::kError:
      if (error != nullptr) *error = reader.error();
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace stockd::protocol
