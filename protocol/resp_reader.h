#pragma once
// Parses RESP2/RESP3 *replies* (what a server sends) into a tree. Used by tests, tools and, later,
// replication; never on the server's request path. Pure: no sockets.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stockd::protocol {

struct RespValue {
  enum class Type {
    kSimpleString,  // +
    kError,         // -
    kInteger,       // :
    kBulk,          // $
    kNull,          // $-1, *-1, _
    kArray,         // *
    kMap,           // %   (elements hold key, value, key, value, ...)
    kSet,           // ~
    kDouble,        // ,
    kBool,          // #
    kVerbatim,      // =   (str holds the text without the "txt:" prefix)
    kBigNumber,     // (
    kPush,          // >
    kAttribute,     // |
  };
  Type type = Type::kNull;
  std::string str;   // simple string, error, bulk, verbatim, double text, big number
  int64_t integer = 0;  // integer; bool as 0/1
  std::vector<RespValue> elements;  // array, map, set, push, attribute

  // A short human form for test failure messages: "OK", "(error) ERR ...", "(integer) 1", ...
  std::string ToString() const;
};

class RespReader {
 public:
  // Parses one complete reply from the front of `input`. Returns the value and sets *consumed to
  // its byte length, or returns nullopt if the input holds only part of a reply (consumed = 0).
  // Malformed input sets *error and returns nullopt.
  static std::optional<RespValue> Read(std::string_view input, size_t* consumed,
                                       std::string* error = nullptr);
};

}  // namespace stockd::protocol
