#pragma once
// Commands are data: one table (server/command_table.cc) declares every command's name, arity,
// flags, key positions, documentation and handler. Dispatch checks existence, arity and auth from
// the table before any handler runs, and routes the command to the shards its keys live on.
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stockd::server {

class CommandContext;

using CmdArgs = std::span<const std::string_view>;  // args[0] is the command name
using Handler = void (*)(CmdArgs args, CommandContext& ctx);

// Flags, named as Redis's COMMAND INFO reports them where Redis has the flag.
enum CommandFlag : uint32_t {
  kWrite = 1u << 0,     // may modify data
  kReadOnly = 1u << 1,  // only reads data
  kFast = 1u << 2,      // O(1) or O(log n)
  kAdmin = 1u << 3,     // administrative
  kNoAuth = 1u << 4,    // allowed before AUTH
  kNoScript = 1u << 5,
  kLoading = 1u << 6,  // allowed while loading
  kStale = 1u << 7,    // allowed on a stale replica
  kDenyOom = 1u << 8,  // may grow memory
  kNoMulti = 1u << 9,  // refused inside MULTI (not queued)
  kAllowBusy = 1u << 10,
  // stockd routing flags (not Redis's):
  kConnection = 1u << 16,  // runs on the client's own thread and touches no shard data
  kGlobal = 1u << 17,      // needs every shard: runs with all shards locked
  kTxControl = 1u << 18,   // MULTI/EXEC/DISCARD/WATCH/QUIT/RESET: never queued by MULTI
  kSubscribedOk = 1u << 19,  // allowed to a RESP2 client in subscribed mode
  kBlocking = 1u << 20,      // may block the client (BLPOP...): always runs alone, as a barrier
};

struct CommandSpec {
  std::string_view name;  // lower case, as Redis reports it
  int arity;              // Redis convention: N exact, -N at least N (name included)
  uint32_t flags;
  // Key positions as Redis's legacy (first, last, step): last < 0 counts from the end.
  int first_key = 0;
  int last_key = 0;
  int key_step = 0;
  Handler handler = nullptr;
  std::string_view group;  // "string", "generic", "connection", "server", "transactions"
  std::string_view summary;
  std::string_view since;
  std::string_view complexity;
  // The arguments after the name, in Redis's usage notation: lower-case words are arguments
  // ("key" is a key), UPPER-CASE words are tokens (a token followed by a lower-case word takes
  // that argument), [..] is optional, a|b is one of, (..) groups, and "..." repeats the item
  // before it. COMMAND DOCS derives each command's "arguments" from it.
  std::string_view syntax;
  std::span<CommandSpec> subcommands = {};
  // Index of this command in the stats arrays (assigned by the table).
  uint32_t id = 0;
  const CommandSpec* parent = nullptr;

  bool has(uint32_t f) const { return (flags & f) != 0; }
  // "get", or "client|setname" for a subcommand.
  std::string FullName() const;
  bool ArityOk(size_t argc) const {
    return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
  // Calls fn(index) for each key argument of `args` (0 keys for keyless commands).
  template <typename Fn>
  void ForEachKey(CmdArgs args, Fn&& fn) const {
    if (first_key <= 0 || args.size() <= static_cast<size_t>(first_key)) return;
    int argc = static_cast<int>(args.size());
    int last = last_key >= 0 ? last_key : argc + last_key;
    if (last >= argc) last = argc - 1;
    int step = key_step > 0 ? key_step : 1;
    for (int i = first_key; i <= last; i += step) fn(static_cast<size_t>(i));
  }
};

class CommandTable {
 public:
  static const CommandTable& Get();

  // The spec for args (resolving subcommands), or nullptr for an unknown command.
  // *unknown_subcommand is set when the container exists but its subcommand does not.
  const CommandSpec* Find(CmdArgs args, bool* unknown_subcommand) const;
  const CommandSpec* FindTop(std::string_view name) const;
  std::span<const CommandSpec> all() const { return specs_; }
  // Number of ids (top-level commands and subcommands), for stats arrays.
  uint32_t id_count() const { return id_count_; }
  const CommandSpec* ById(uint32_t id) const { return by_id_[id]; }

 private:
  CommandTable();
  std::span<const CommandSpec> specs_;
  uint32_t id_count_ = 0;
  std::vector<const CommandSpec*> by_id_;
  absl::flat_hash_map<std::string_view, const CommandSpec*> by_name_;
};

}  // namespace stockd::server
