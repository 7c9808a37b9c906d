#pragma once
// The value of a key. Strings that are canonical 64-bit integers are kept as integers (Redis's
// "int" encoding) so INCR and friends need no parsing or formatting.
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace stockd::storage {

enum class ValueType : uint8_t { kString, kList, kSet, kZSet, kHash, kSku };

// A collection value (list, set, sorted set, hash, and stockd's SKU). Each type lives in its own file in storage/
// and chooses its own encodings (small ones compact, large ones indexed). Virtual only for the
// few questions every type must answer; the command families use the concrete type.
class Collection {
 public:
  virtual ~Collection() = default;
  virtual size_t size() const = 0;
  // The honest name of the current encoding, for OBJECT ENCODING ("listpack", "hashtable", ...).
  virtual const char* EncodingName() const = 0;
  // Approximate heap bytes owned, for MEMORY USAGE.
  virtual size_t HeapBytes() const = 0;
};

// Strings up to this many bytes live inside std::string's own storage (libstdc++'s small string
// buffer), which OBJECT ENCODING reports as "embstr"; longer ones are "raw".
inline constexpr size_t kEmbeddedStringBytesMax = 15;

// Parses a canonical integer as Redis's string2ll does: no leading '+', no leading zeros, no
// spaces, fits in int64. Returns false otherwise.
bool ParseCanonicalInt64(std::string_view s, int64_t* out);

class Value {
 public:
  Value() : data_(std::string()) {}
  // A new collection value of `type` (not kString) holding `c`.
  static Value Of(ValueType type, std::unique_ptr<Collection> c) {
    Value v;
    v.type_ = type;
    v.data_ = std::move(c);
    return v;
  }
  static Value String(std::string_view s) {
    int64_t v;
    if (s.size() <= 20 && ParseCanonicalInt64(s, &v)) return Value(v);
    return Value(std::string(s));
  }
  static Value Integer(int64_t v) { return Value(v); }

  ValueType type() const { return type_; }
  // The collection of a non-string value, as its concrete type (the caller checked type()).
  template <typename T>
  T& As() {
    return static_cast<T&>(*std::get<std::unique_ptr<Collection>>(data_));
  }
  template <typename T>
  const T& As() const {
    return static_cast<const T&>(*std::get<std::unique_ptr<Collection>>(data_));
  }
  // String accessors: valid only when type() is kString.
  bool is_int() const { return std::holds_alternative<int64_t>(data_); }
  int64_t int_value() const { return std::get<int64_t>(data_); }
  // The raw bytes of a non-integer string.
  const std::string& raw() const { return std::get<std::string>(data_); }
  // Mutable bytes: converts an integer to its string form first.
  std::string& MutableRaw();

  // The string form, written into `buf` when the value is an integer (buf must hold 20 bytes).
  std::string_view View(char* buf) const {
    if (is_int()) {
      auto r = std::to_chars(buf, buf + 20, int_value());
      return std::string_view(buf, r.ptr - buf);
    }
    return raw();
  }
  std::string ToString() const {
    char buf[20];
    return std::string(View(buf));
  }
  size_t StringLength() const {
    char buf[20];
    return View(buf).size();
  }
  const char* EncodingName() const;
  // Approximate heap bytes this value owns (for MEMORY USAGE and INFO).
  size_t HeapBytes() const;

 private:
  explicit Value(int64_t v) : data_(v) {}
  explicit Value(std::string s) : data_(std::move(s)) {}
  ValueType type_ = ValueType::kString;
  std::variant<std::string, int64_t, std::unique_ptr<Collection>> data_;
};

const char* TypeName(ValueType t);

}  // namespace stockd::storage
