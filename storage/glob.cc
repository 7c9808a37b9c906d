#include "storage/glob.h"

#include <cctype>

namespace stockd::storage {
namespace {

// Bound on recursion for '*' (Redis uses nesting limit 1000 to stop stack exhaustion on
// patterns like "a*a*a*...").
constexpr int kGlobNestingMax = 1000;

bool Match(const char* p, const char* pend, const char* s, const char* send, bool nocase,
           int nesting, bool* skip_longer) {
  if (nesting > kGlobNestingMax) return false;
  auto fold = [nocase](char c) {
    return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
  };
  while (p < pend && s < send) {
    switch (*p) {
      case '*': {
        while (p + 1 < pend && p[1] == '*') ++p;
        if (p + 1 == pend) return true;
        while (s < send) {
          if (Match(p + 1, pend, s, send, nocase, nesting + 1, skip_longer)) return true;
          if (*skip_longer) return false;
          ++s;
        }
        *skip_longer = true;  // no suffix matched: a longer subject cannot either
        return false;
      }
      case '?':
        ++s;
        break;
      case '[': {
        ++p;
        bool negate = p < pend && *p == '^';
        if (negate) ++p;
        bool matched = false;
        while (p < pend && *p != ']') {
          if (*p == '\\' && p + 1 < pend) {
            ++p;
            if (*p == *s) matched = true;
          } else if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
            char lo = fold(p[0]), hi = fold(p[2]), c = fold(*s);
            if (lo > hi) std::swap(lo, hi);
            if (c >= lo && c <= hi) matched = true;
            p += 2;
          } else if (fold(*p) == fold(*s)) {
            matched = true;
          }
          ++p;
        }
        if (p == pend) --p;  // unterminated class: Redis treats the end as the closing bracket
        if (negate) matched = !matched;
        if (!matched) return false;
        ++s;
        break;
      }
      case '\\':
        if (p + 1 < pend) ++p;
        [[fallthrough]];
      default:
        if (fold(*p) != fold(*s)) return false;
        ++s;
        break;
    }
    ++p;
  }
  while (p < pend && *p == '*') ++p;
  return p == pend && s == send;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view subject, bool nocase) {
  bool skip_longer = false;
  return Match(pattern.data(), pattern.data() + pattern.size(), subject.data(),
               subject.data() + subject.size(), nocase, 0, &skip_longer);
}

}  // namespace stockd::storage
