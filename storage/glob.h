#pragma once
#include <string_view>

namespace stockd::storage {

// Glob-style matching with Redis's rules (KEYS, SCAN MATCH, CONFIG GET): '*', '?', '[abc]',
// '[^abc]', '[a-z]', and '\' to escape. `nocase` folds ASCII case.
bool GlobMatch(std::string_view pattern, std::string_view subject, bool nocase = false);

}  // namespace stockd::storage
