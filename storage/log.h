#pragma once
// Logging in Redis's line format:  "<pid>:<role> 21 Nov 2026 10:47:01.123 * message"
// with level marks '.' debug, '-' verbose, '*' notice, '#' warning. Thread-safe; one write(2)
// per line so lines from different threads never interleave.
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace stockd::log {

enum class Level { kDebug = 0, kVerbose = 1, kNotice = 2, kWarning = 3 };

// Parses "debug|verbose|notice|warning" (Redis's loglevel names). Returns false otherwise.
bool ParseLevel(std::string_view name, Level* out);
const char* LevelName(Level level);

// Configures the sink: an empty path writes to stdout. Returns false with *error set when the
// file cannot be opened.
bool SetOutput(const std::string& path, std::string* error);
void SetLevel(Level level);
Level GetLevel();
// The role letter in every line: 'M' primary, 'S' replica, 'C' child/tool.
void SetRole(char role);

void Write(Level level, std::string_view message);

template <typename... Args>
void Log(Level level, fmt::format_string<Args...> f, Args&&... args) {
  if (level < GetLevel()) return;
  Write(level, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Notice(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kNotice, f, std::forward<Args>(args)...);
}
template <typename... Args>
void Warning(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kWarning, f, std::forward<Args>(args)...);
}
template <typename... Args>
void Verbose(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kVerbose, f, std::forward<Args>(args)...);
}
template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  Log(Level::kDebug, f, std::forward<Args>(args)...);
}

}  // namespace stockd::log
