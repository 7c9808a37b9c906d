#pragma once
// Writes RESP2 or RESP3 replies into a caller-owned std::string. Pure: no sockets, no engine.
//
// Each method appends one complete RESP element (or an aggregate header, after which the caller
// appends exactly the announced number of elements; a map header of n announces n key-value pairs,
// that is 2n elements). Where RESP2 has no such type the RESP2 form Redis uses is written:
//   map -> flat array of 2n, set -> array, double -> bulk string, null -> "$-1" (or "*-1" for
//   NullArray), boolean -> integer 1/0, push -> array, verbatim -> bulk string, big number -> bulk.
#include <cstdint>
#include <string>
#include <string_view>

namespace stockd::protocol {

class ReplyBuilder {
 public:
  explicit ReplyBuilder(std::string* out, int resp_version = 2) : out_(out), resp_(resp_version) {}

  int resp_version() const { return resp_; }
  void set_resp_version(int version) { resp_ = version; }
  std::string* out() { return out_; }
  void set_out(std::string* out) { out_ = out; }
  // A discarding builder appends nothing: every method below returns at once and out() stays as
  // it was. For replies nobody reads (recovery runs the log's commands through their handlers),
  // which would otherwise cost more than the command itself.
  bool discard() const { return discard_; }
  void set_discard(bool discard) { discard_ = discard; }

  void SimpleString(std::string_view s);  // "+OK\r\n"; s must not contain CR or LF
  void Ok() { SimpleString("OK"); }
  // Error: `message` is the full text after '-', e.g. "ERR syntax error" or "WRONGTYPE ...".
  // CR and LF inside it are replaced by spaces, as Redis does.
  void Error(std::string_view message);
  void Integer(int64_t value);
  void Bulk(std::string_view s);
  void Null();       // RESP3 "_", RESP2 "$-1" (a null bulk string)
  void NullArray();  // RESP3 "_", RESP2 "*-1" (a null multibulk, as EXEC abort and BLPOP timeout)
  void Double(double value);  // RESP3 ",<repr>", RESP2 bulk with Redis's formatting
  void Bool(bool value);      // RESP3 "#t"/"#f", RESP2 integer 1/0
  void Verbatim(std::string_view format3, std::string_view text);  // RESP3 "=", RESP2 bulk
  void ArrayHeader(int64_t n);
  void MapHeader(int64_t pairs);
  void SetHeader(int64_t n);
  void PushHeader(int64_t n);  // RESP3 ">", RESP2 "*"
  void EmptyArray() { ArrayHeader(0); }

  // Appends bytes that are already valid RESP (for example a reply produced by another builder).
  void Raw(std::string_view resp) {
    if (!discard_) out_->append(resp);
  }

  // Formats a double the way Redis 7 replies with one (%.17g, "inf", "-inf", "nan").
  static std::string FormatDouble(double value);

 private:
  std::string* out_;
  int resp_;
  bool discard_ = false;
};

}  // namespace stockd::protocol
