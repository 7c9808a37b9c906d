#include "server/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <thread>

#include "storage/glob.h"
#include "storage/log.h"

namespace stockd::server {
namespace {

bool ParseInt64(std::string_view s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Memory amounts as Redis accepts them: "512mb", "1gb", "64k", plain bytes.
bool ParseMemory(std::string_view s, int64_t* out) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  struct Unit {
    const char* suffix;
    int64_t mul;
  };
  static constexpr Unit kUnits[] = {{"gb", 1LL << 30}, {"mb", 1LL << 20}, {"kb", 1LL << 10},
                                    {"g", 1000000000}, {"m", 1000000},    {"k", 1000},
                                    {"b", 1}};
  for (const Unit& u : kUnits) {
    std::string_view suf(u.suffix);
    if (lower.size() > suf.size() && std::string_view(lower).ends_with(suf)) {
      int64_t v;
      if (!ParseInt64(std::string_view(lower).substr(0, lower.size() - suf.size()), &v)) {
        return false;
      }
      if (v < 0 || v > INT64_MAX / u.mul) return false;
      *out = v * u.mul;
      return true;
    }
  }
  return ParseInt64(lower, out);
}

bool ParseYesNo(std::string_view s, bool* out) {
  if (s == "yes")
    *out = true;
  else if (s == "no")
    *out = false;
  else
    return false;
  return true;
}

struct Directive {
  const char* name;
  bool runtime;  // CONFIG SET may change it
  std::function<std::string(const Config&)> get;
  // Sets the value from one argument (or several, for multi-value directives).
  std::function<bool(Config&, std::span<const std::string>, std::string*)> set;
  bool multi_value = false;
};

template <typename T>
Directive IntDirective(const char* name, bool runtime, T Config::*field, int64_t lo, int64_t hi) {
  return Directive{name, runtime,
                   [field](const Config& c) {
                     if constexpr (std::is_same_v<T, int>)
                       return std::to_string(c.*field);
                     else
                       return std::to_string((c.*field).load());
                   },
                   [field, lo, hi](Config& c, std::span<const std::string> v, std::string* err) {
                     int64_t x;
                     if (!ParseInt64(v[0], &x)) {
                       *err = "argument couldn't be parsed into an integer";
                       return false;
                     }
                     if (x < lo || x > hi) {
                       *err = fmt::format("argument must be between {} and {} inclusive", lo, hi);
                       return false;
                     }
                     c.*field = static_cast<int>(x);
                     return true;
                   }};
}

Directive MemoryDirective(const char* name, std::atomic<int64_t> Config::*field, int64_t lo) {
  return Directive{name, true,
                   [field](const Config& c) { return std::to_string((c.*field).load()); },
                   [field, lo](Config& c, std::span<const std::string> v, std::string* err) {
                     int64_t x;
                     if (!ParseMemory(v[0], &x)) {
                       *err = "argument must be a memory value";
                       return false;
                     }
                     if (x < lo) {
                       *err = fmt::format("argument must be at least {}", lo);
                       return false;
                     }
                     (c.*field).store(x);
                     return true;
                   }};
}

Directive StringDirective(const char* name, std::string Config::*field) {
  return Directive{name, false, [field](const Config& c) { return c.*field; },
                   [field](Config& c, std::span<const std::string> v, std::string*) {
                     c.*field = v[0];
                     return true;
                   }};
}

// A runtime directive that takes one of `names`; the value stored is the name's index.
template <typename E>
Directive ChoiceDirective(const char* name, std::atomic<E> Config::*field,
                          std::vector<std::string_view> names) {
  return Directive{name, true,
                   [field, names](const Config& c) {
                     return std::string(names[static_cast<size_t>((c.*field).load())]);
                   },
                   [field, names](Config& c, std::span<const std::string> v, std::string* err) {
                     for (size_t i = 0; i < names.size(); ++i) {
                       if (v[0] == names[i]) {
                         (c.*field).store(static_cast<E>(i));
                         return true;
                       }
                     }
                     *err = fmt::format("argument(s) must be one of the following: {}",
                                        fmt::join(names, ", "));
                     return false;
                   }};
}

const std::vector<Directive>& Directives() {
  static const std::vector<Directive> table = [] {
    std::vector<Directive> d;
    d.push_back(Directive{"bind", false,
                          [](const Config& c) {
                            std::string s;
                            for (const auto& b : c.bind) s += (s.empty() ? "" : " ") + b;
                            return s;
                          },
                          [](Config& c, std::span<const std::string> v, std::string* err) {
                            if (v.empty()) {
                              *err = "bind needs at least one address";
                              return false;
                            }
                            c.bind.assign(v.begin(), v.end());
                            return true;
                          },
                          true});
    d.push_back(IntDirective("port", false, &Config::port, 0, 65535));
    d.push_back(StringDirective("dir", &Config::dir));
    d.push_back(Directive{"appendonly", false,
                          [](const Config& c) { return std::string(c.appendonly ? "yes" : "no"); },
                          [](Config& c, std::span<const std::string> v, std::string* err) {
                            if (!ParseYesNo(v[0], &c.appendonly)) {
                              *err = "argument must be 'yes' or 'no'";
                              return false;
                            }
                            return true;
                          }});
    d.push_back(Directive{"appendfsync", false,
                          [](const Config& c) {
                            switch (c.appendfsync) {
                              case AppendFsync::kAlways:
                                return std::string("always");
                              case AppendFsync::kEverySec:
                                return std::string("everysec");
                              case AppendFsync::kNo:
                                return std::string("no");
                            }
                            return std::string("always");
                          },
                          [](Config& c, std::span<const std::string> v, std::string* err) {
                            if (v[0] == "always") {
                              c.appendfsync = AppendFsync::kAlways;
                            } else if (v[0] == "everysec") {
                              c.appendfsync = AppendFsync::kEverySec;
                            } else if (v[0] == "no") {
                              c.appendfsync = AppendFsync::kNo;
                            } else {
                              *err =
                                  "argument(s) must be one of the following: always, everysec, no";
                              return false;
                            }
                            return true;
                          }});
    d.push_back(IntDirective("databases", false, &Config::databases, 1, kDatabasesMax));
    d.push_back(IntDirective("shards", false, &Config::shards, 0, kShardsMax));
    d.push_back(StringDirective("logfile", &Config::logfile));
    d.push_back(StringDirective("pidfile", &Config::pidfile));
    d.push_back(IntDirective("tcp-backlog", false, &Config::tcp_backlog, 0, 65535));
    d.push_back(Directive{
        "loglevel", true,
        [](const Config&) { return std::string(log::LevelName(log::GetLevel())); },
        [](Config&, std::span<const std::string> v, std::string* err) {
          log::Level level;
          if (!log::ParseLevel(v[0], &level)) {
            *err = "argument(s) must be one of the following: debug, verbose, notice, warning";
            return false;
          }
          log::SetLevel(level);
          return true;
        }});
    d.push_back(Directive{"requirepass", true, [](const Config& c) { return c.requirepass(); },
                          [](Config& c, std::span<const std::string> v, std::string*) {
                            c.set_requirepass(v[0]);
                            return true;
                          }});
    d.push_back(IntDirective("maxclients", true, &Config::maxclients, 1, kMaxClientsMax));
    d.push_back(
        Directive{"protected-mode", true,
                  [](const Config& c) { return std::string(c.protected_mode ? "yes" : "no"); },
                  [](Config& c, std::span<const std::string> v, std::string* err) {
                    bool b;
                    if (!ParseYesNo(v[0], &b)) {
                      *err = "argument must be 'yes' or 'no'";
                      return false;
                    }
                    c.protected_mode = b;
                    return true;
                  }});
    d.push_back(MemoryDirective("proto-max-bulk-len", &Config::proto_max_bulk_len, 1024 * 1024));
    d.push_back(MemoryDirective("client-query-buffer-limit", &Config::client_query_buffer_limit,
                                1024 * 1024));
    d.push_back(MemoryDirective("maxmemory", &Config::maxmemory, 0));
    d.push_back(Directive{"maxmemory-policy", true,
                          [](const Config&) { return std::string("noeviction"); },
                          [](Config&, std::span<const std::string> v, std::string* err) {
                            if (v[0] != "noeviction") {
                              *err =
                                  "only the noeviction policy is supported: stock data is "
                                  "never evicted";
                              return false;
                            }
                            return true;
                          }});
    d.push_back(IntDirective("hz", true, &Config::hz, 1, kHzMax));
    d.push_back(IntDirective("auto-aof-rewrite-percentage", true,
                             &Config::auto_aof_rewrite_percentage, 0,
                             kAutoAofRewritePercentageMax));
    d.push_back(
        MemoryDirective("auto-aof-rewrite-min-size", &Config::auto_aof_rewrite_min_size, 0));
    d.push_back(
        IntDirective("shard-busy-poll-us", true, &Config::shard_busy_poll_us, 0, kBusyPollUsMax));
    d.push_back(IntDirective("timeout", true, &Config::timeout, 0, INT32_MAX));
    d.push_back(Directive{"replicaof", false,
                          [](const Config& c) {
                            return c.replicaof_host.empty()
                                       ? std::string()
                                       : fmt::format("{} {}", c.replicaof_host, c.replicaof_port);
                          },
                          [](Config& c, std::span<const std::string> v, std::string* err) {
                            int64_t port = 0;
                            if (v.size() != 2 || v[0].empty() || !ParseInt64(v[1], &port) ||
                                port < 1 || port > 65535) {
                              *err = "replicaof needs a host and a port (1..65535)";
                              return false;
                            }
                            c.replicaof_host = v[0];
                            c.replicaof_port = static_cast<int>(port);
                            return true;
                          },
                          true});
    d.push_back(ChoiceDirective("repl-ack", &Config::repl_ack, {"async", "sync"}));
    d.push_back(IntDirective("repl-sync-timeout", true, &Config::repl_sync_timeout, 1, INT32_MAX));
    d.push_back(
        ChoiceDirective("repl-sync-fallback", &Config::repl_sync_fallback, {"refuse", "async"}));
    d.push_back(IntDirective("repl-timeout", true, &Config::repl_timeout, 1, INT32_MAX));
    d.push_back(IntDirective("tcp-keepalive", true, &Config::tcp_keepalive, 0, INT32_MAX));
    d.push_back(Directive{"daemonize", false, [](const Config&) { return std::string("no"); },
                          [](Config&, std::span<const std::string> v, std::string* err) {
                            bool b;
                            if (!ParseYesNo(v[0], &b)) {
                              *err = "argument must be 'yes' or 'no'";
                              return false;
                            }
                            if (b) {
                              *err =
                                  "daemonize yes is not supported: run stockd under a supervisor";
                              return false;
                            }
                            return true;
                          }});
    return d;
  }();
  return table;
}

const Directive* FindDirective(std::string_view name) {
  for (const Directive& d : Directives()) {
    if (name.size() == std::strlen(d.name) &&
        std::equal(name.begin(), name.end(), d.name,
                   [](char a, char b) { return std::tolower(a) == b; })) {
      return &d;
    }
  }
  return nullptr;
}

}  // namespace

bool Config::Apply(std::string_view name, std::span<const std::string> values, bool at_runtime,
                   std::string* error) {
  const Directive* d = FindDirective(name);
  if (!d) {
    *error = "Bad directive or wrong number of arguments";
    return false;
  }
  if (values.empty() || (!d->multi_value && values.size() != 1)) {
    *error = "wrong number of arguments";
    return false;
  }
  if (at_runtime && !d->runtime) {
    *error = "can't set immutable config";
    return false;
  }
  return d->set(*this, values, error);
}

std::vector<std::pair<std::string, std::string>> Config::Get(std::string_view pattern) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Directive& d : Directives()) {
    if (storage::GlobMatch(pattern, d.name, true)) out.emplace_back(d.name, d.get(*this));
  }
  return out;
}

int Config::EffectiveShards() const {
  if (shards > 0) return shards;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, kShardsMax));
}

bool SplitConfigLine(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0;
  auto hex = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
  };
  while (true) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) return true;
    std::string cur;
    bool in_dq = false, in_sq = false, done = false;
    while (!done) {
      if (in_dq) {
        if (i >= line.size()) return false;
        if (line[i] == '\\' && i + 3 < line.size() && line[i + 1] == 'x' &&
            std::isxdigit(static_cast<unsigned char>(line[i + 2])) &&
            std::isxdigit(static_cast<unsigned char>(line[i + 3]))) {
          cur.push_back(static_cast<char>(hex(line[i + 2]) * 16 + hex(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          char c = line[i];
          cur.push_back(c == 'n'   ? '\n'
                        : c == 'r' ? '\r'
                        : c == 't' ? '\t'
                        : c == 'b' ? '\b'
                        : c == 'a' ? '\a'
                                   : c);
        } else if (line[i] == '"') {
          if (i + 1 < line.size() && !std::isspace(static_cast<unsigned char>(line[i + 1])))
            return false;
          done = true;
        } else {
          cur.push_back(line[i]);
        }
      } else if (in_sq) {
        if (i >= line.size()) return false;
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
          ++i;
          cur.push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < line.size() && !std::isspace(static_cast<unsigned char>(line[i + 1])))
            return false;
          done = true;
        } else {
          cur.push_back(line[i]);
        }
      } else {
        if (i >= line.size()) break;
        char c = line[i];
        if (std::isspace(static_cast<unsigned char>(c)))
          done = true;
        else if (c == '"')
          in_dq = true;
        else if (c == '\'')
          in_sq = true;
        else
          cur.push_back(c);
      }
      if (i < line.size()) ++i;
    }
    out->push_back(std::move(cur));
  }
}

bool Config::LoadFromArgs(std::span<const std::string> args, std::string* error) {
  // Lines: the config file's, then one per "--directive value..." group.
  struct Line {
    std::string text;
    int number;
  };
  std::vector<Line> lines;
  size_t i = 0;
  if (!args.empty() && !args[0].starts_with("--")) {
    std::string path = args[0];
    std::ifstream in(path);
    if (!in) {
      *error = fmt::format("Fatal error, can't open config file '{}'", path);
      return false;
    }
    char cwd[4096];
    config_file =
        (path.starts_with("/") || !getcwd(cwd, sizeof(cwd))) ? path : std::string(cwd) + "/" + path;
    std::string text;
    int n = 0;
    while (std::getline(in, text)) lines.push_back({text, ++n});
    i = 1;
  }
  int number = static_cast<int>(lines.size());
  while (i < args.size()) {
    if (!args[i].starts_with("--") || args[i].size() == 2) {
      *error = fmt::format("Invalid argument '{}': directives are given as --name value", args[i]);
      return false;
    }
    std::string text = args[i].substr(2);
    ++i;
    while (i < args.size() && !args[i].starts_with("--")) {
      // Quote each value so empty strings and spaces survive the split below.
      std::string quoted = "\"";
      for (char c : args[i]) {
        if (c == '"' || c == '\\') quoted.push_back('\\');
        quoted.push_back(c);
      }
      text += " " + quoted + "\"";
      ++i;
    }
    lines.push_back({text, ++number});
  }
  for (const Line& line : lines) {
    std::string_view t = line.text;
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    if (t.empty() || t.front() == '#') continue;
    std::vector<std::string> words;
    std::string why;
    if (!SplitConfigLine(t, &words)) {
      why = "Unbalanced quotes in configuration line";
    } else if (!words.empty()) {
      std::span<const std::string> values(words.begin() + 1, words.end());
      Apply(words[0], values, false, &why);
    }
    if (!why.empty()) {
      *error = fmt::format(
          "\n*** FATAL CONFIG FILE ERROR (stockd {}) ***\nReading the configuration file, at line "
          "{}\n>>> '{}'\n{}",
          STOCKD_VERSION, line.number, t, why);
      return false;
    }
  }
  return true;
}

}  // namespace stockd::server
