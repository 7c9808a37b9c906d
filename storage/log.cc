#include "storage/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace stockd::log {
namespace {

std::atomic<int> g_fd{STDOUT_FILENO};
std::atomic<Level> g_level{Level::kNotice};
std::atomic<char> g_role{'M'};

}  // namespace

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug")
    *out = Level::kDebug;
  else if (name == "verbose")
    *out = Level::kVerbose;
  else if (name == "notice")
    *out = Level::kNotice;
  else if (name == "warning")
    *out = Level::kWarning;
  else
    return false;
  return true;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kVerbose:
      return "verbose";
    case Level::kNotice:
      return "notice";
    case Level::kWarning:
      return "warning";
  }
  return "notice";
}

bool SetOutput(const std::string& path, std::string* error) {
  if (path.empty()) {
    g_fd.store(STDOUT_FILENO);
    return true;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = fmt::format("Can't open the log file: {}", std::strerror(errno));
    return false;
  }
  int old = g_fd.exchange(fd);
  if (old != STDOUT_FILENO) ::close(old);
  return true;
}

void SetLevel(Level level) { g_level.store(level); }
Level GetLevel() { return g_level.load(std::memory_order_relaxed); }
void SetRole(char role) { g_role.store(role); }

void Write(Level level, std::string_view message) {
  static constexpr char kMarks[] = {'.', '-', '*', '#'};
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char when[64];
  size_t n = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S", &tm);
  std::string line =
      fmt::format("{}:{} {}.{:03d} {} {}\n", getpid(), g_role.load(), std::string_view(when, n),
                  static_cast<int>(tv.tv_usec / 1000), kMarks[static_cast<int>(level)], message);
  ssize_t w = ::write(g_fd.load(), line.data(), line.size());
  (void)w;  // nowhere to report a failed log write
}

}  // namespace stockd::log
