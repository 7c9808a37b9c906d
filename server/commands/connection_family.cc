// Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT. They run on the client's own
// thread and touch no shard data.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "server/clients.h"
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "server/server.h"

namespace stockd::server {
namespace {

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// Checks a password for the default user (the only user until ACLs exist).
bool CheckPassword(CommandContext& ctx, std::string_view user, std::string_view pass) {
  std::string required = ctx.engine().config().requirepass();
  if (!EqualsIgnoreCase(user, "default")) return false;
  return required.empty() || pass == required;
}

void ReplyHelp(CommandContext& ctx, std::string_view container,
               std::initializer_list<std::string_view> lines) {
  auto& r = ctx.reply();
  r.ArrayHeader(static_cast<int64_t>(lines.size()) + 3);
  r.SimpleString(
      fmt::format("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", container));
  for (std::string_view l : lines) r.SimpleString(l);
  r.SimpleString("HELP");
  r.SimpleString("    Print this help.");
}

// Client names and library info: printable ASCII without spaces (Redis's rule).
bool ValidClientString(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c <= '~'; });
}

}  // namespace

void CmdPing(CmdArgs args, CommandContext& ctx) {
  if (args.size() > 2) {
    ctx.reply().Error("ERR wrong number of arguments for 'ping' command");
    return;
  }
  if (ctx.conn()->resp_version() == 2 && ctx.conn()->subscriptions() != 0) {
    // In RESP2 subscribed mode a reply must look like a message: ["pong", message or ""].
    ctx.reply().ArrayHeader(2);
    ctx.reply().Bulk("pong");
    ctx.reply().Bulk(args.size() == 2 ? args[1] : "");
    return;
  }
  if (args.size() == 2) {
    ctx.reply().Bulk(args[1]);
  } else {
    ctx.reply().SimpleString("PONG");
  }
}

void CmdEcho(CmdArgs args, CommandContext& ctx) { ctx.reply().Bulk(args[1]); }

void CmdHello(CmdArgs args, CommandContext& ctx) {
  Connection* c = ctx.conn();
  int64_t version = c->resp_version();
  size_t i = 1;
  if (args.size() >= 2) {
    if (!ParseInt64Arg(args[1], &version)) {
      ctx.reply().Error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (version < 2 || version > 3) {
      ctx.reply().Error("NOPROTO unsupported protocol version");
      return;
    }
    i = 2;
  }
  std::string_view user, pass, name;
  bool has_auth = false, has_name = false;
  for (; i < args.size(); ++i) {
    size_t left = args.size() - i - 1;
    if (EqualsIgnoreCase(args[i], "AUTH") && left >= 2) {
      user = args[i + 1];
      pass = args[i + 2];
      has_auth = true;
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "SETNAME") && left >= 1) {
      name = args[i + 1];
      has_name = true;
      i += 1;
    } else {
      ctx.reply().Error(fmt::format("ERR Syntax error in HELLO option '{}'", args[i]));
      return;
    }
  }
  if (has_auth) {
    if (!CheckPassword(ctx, user, pass)) {
      ctx.reply().Error(kWrongPass);
      return;
    }
    c->set_authenticated(true);
  }
  if (!c->authenticated()) {
    ctx.reply().Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
    return;
  }
  if (has_name) {
    if (!ValidClientString(name) && !name.empty()) {
      ctx.reply().Error("ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    std::lock_guard lock(c->info().mu);
    c->info().name = std::string(name);
  }
  c->set_resp_version(static_cast<int>(version));
  auto& r = ctx.reply();
  r.set_resp_version(static_cast<int>(version));
  r.MapHeader(7);
  r.Bulk("server");
  r.Bulk("stockd");
  r.Bulk("version");
  r.Bulk(STOCKD_REDIS_VERSION);
  r.Bulk("proto");
  r.Integer(version);
  r.Bulk("id");
  r.Integer(static_cast<int64_t>(c->id()));
  r.Bulk("mode");
  r.Bulk("standalone");
  r.Bulk("role");
  r.Bulk("master");
  r.Bulk("modules");
  r.EmptyArray();
}

void CmdAuth(CmdArgs args, CommandContext& ctx) {
  if (args.size() > 3) {
    ctx.reply().Error(reply::kSyntaxError);
    return;
  }
  std::string_view user = args.size() == 3 ? args[1] : "default";
  std::string_view pass = args.back();
  if (args.size() == 2 && ctx.engine().config().requirepass().empty()) {
    ctx.reply().Error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
    return;
  }
  if (!CheckPassword(ctx, user, pass)) {
    ctx.reply().Error(kWrongPass);
    return;
  }
  ctx.conn()->set_authenticated(true);
  ctx.reply().Ok();
}

void CmdSelect(CmdArgs args, CommandContext& ctx) {
  int64_t db;
  if (!ParseInt64Arg(args[1], &db)) {
    ctx.reply().Error(reply::kNotInteger);
    return;
  }
  if (db < 0 || db >= ctx.engine().config().databases) {
    ctx.reply().Error("ERR DB index is out of range");
    return;
  }
  ctx.conn()->set_db_index(static_cast<int>(db));
  ctx.set_db_index(static_cast<int>(db));
  ctx.reply().Ok();
}

void CmdQuit(CmdArgs, CommandContext& ctx) {
  ctx.reply().Ok();
  ctx.conn()->CloseAfterReply();
}

void CmdReset(CmdArgs, CommandContext& ctx) {
  Connection* c = ctx.conn();
  if (c->in_multi()) c->EndMulti();
  c->UnwatchAll();
  c->LeavePubSub();
  c->set_db_index(0);
  c->set_resp_version(2);
  ctx.reply().set_resp_version(2);
  c->set_authenticated(ctx.engine().config().requirepass().empty());
  {
    std::lock_guard lock(c->info().mu);
    c->info().name.clear();
  }
  ctx.reply().SimpleString("RESET");
}

void CmdClientId(CmdArgs, CommandContext& ctx) {
  ctx.reply().Integer(static_cast<int64_t>(ctx.conn()->id()));
}

void CmdClientSetName(CmdArgs args, CommandContext& ctx) {
  if (!ValidClientString(args[2])) {
    ctx.reply().Error("ERR Client names cannot contain spaces, newlines or special characters.");
    return;
  }
  std::lock_guard lock(ctx.conn()->info().mu);
  ctx.conn()->info().name = std::string(args[2]);
  ctx.reply().Ok();
}

void CmdClientGetName(CmdArgs, CommandContext& ctx) {
  std::string name;
  {
    std::lock_guard lock(ctx.conn()->info().mu);
    name = ctx.conn()->info().name;
  }
  if (name.empty()) {
    ctx.reply().Null();
  } else {
    ctx.reply().Bulk(name);
  }
}

void CmdClientInfo(CmdArgs, CommandContext& ctx) {
  ctx.reply().Verbatim("txt", ctx.conn()->DescribeForList() + "\n");
}

void CmdClientList(CmdArgs args, CommandContext& ctx) {
  std::vector<uint64_t> ids;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
    if (EqualsIgnoreCase(args[i], "TYPE")) {
      std::string_view t = args[i + 1];
      if (!EqualsIgnoreCase(t, "normal") && !EqualsIgnoreCase(t, "master") &&
          !EqualsIgnoreCase(t, "replica") && !EqualsIgnoreCase(t, "slave") &&
          !EqualsIgnoreCase(t, "pubsub")) {
        ctx.reply().Error(fmt::format("ERR Unknown client type '{}'", t));
        return;
      }
      if (!EqualsIgnoreCase(t, "normal")) {
        ctx.reply().Verbatim("txt", "");
        return;
      }
    } else if (EqualsIgnoreCase(args[i], "ID")) {
      for (size_t j = i + 1; j < args.size(); ++j) {
        int64_t id;
        if (!ParseInt64Arg(args[j], &id) || id <= 0) {
          ctx.reply().Error("ERR Invalid client ID");
          return;
        }
        ids.push_back(static_cast<uint64_t>(id));
      }
      break;
    } else {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
  }
  std::string out;
  for (auto& c : Server::FromEngine(ctx.engine())->clients().Snapshot()) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), c->id()) == ids.end()) continue;
    out += c->DescribeForList();
    out += '\n';
  }
  ctx.reply().Verbatim("txt", out);
}

void CmdClientKill(CmdArgs args, CommandContext& ctx) {
  ClientRegistry& registry = Server::FromEngine(ctx.engine())->clients();
  if (args.size() == 3) {
    // Old form: CLIENT KILL addr:port.
    for (auto& c : registry.Snapshot()) {
      if (c->info().addr == args[2]) {
        c->Kill();
        ctx.reply().Ok();
        return;
      }
    }
    ctx.reply().Error("ERR No such client");
    return;
  }
  std::optional<uint64_t> id;
  std::string_view addr, laddr;
  bool skipme = true;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
    std::string_view opt = args[i], val = args[i + 1];
    if (EqualsIgnoreCase(opt, "ID")) {
      int64_t v;
      if (!ParseInt64Arg(val, &v) || v <= 0) {
        ctx.reply().Error("ERR client-id should be greater than 0");
        return;
      }
      id = static_cast<uint64_t>(v);
    } else if (EqualsIgnoreCase(opt, "ADDR")) {
      addr = val;
    } else if (EqualsIgnoreCase(opt, "LADDR")) {
      laddr = val;
    } else if (EqualsIgnoreCase(opt, "SKIPME")) {
      if (EqualsIgnoreCase(val, "yes")) {
        skipme = true;
      } else if (EqualsIgnoreCase(val, "no")) {
        skipme = false;
      } else {
        ctx.reply().Error(reply::kSyntaxError);
        return;
      }
    } else if (EqualsIgnoreCase(opt, "TYPE") || EqualsIgnoreCase(opt, "USER") ||
               EqualsIgnoreCase(opt, "MAXAGE")) {
      // Every client is a "normal" client of user "default" until replication and ACLs land;
      // a filter that excludes them kills nothing.
      if ((EqualsIgnoreCase(opt, "TYPE") && !EqualsIgnoreCase(val, "normal")) ||
          (EqualsIgnoreCase(opt, "USER") && val != "default")) {
        ctx.reply().Integer(0);
        return;
      }
    } else {
      ctx.reply().Error(reply::kSyntaxError);
      return;
    }
  }
  int64_t killed = 0;
  for (auto& c : registry.Snapshot()) {
    if (id && c->id() != *id) continue;
    if (!addr.empty() && c->info().addr != addr) continue;
    if (!laddr.empty() && c->info().laddr != laddr) continue;
    if (skipme && c.get() == ctx.conn()) continue;
    if (c.get() == ctx.conn()) {
      ctx.conn()->CloseAfterReply();
    } else {
      c->Kill();
    }
    ++killed;
  }
  ctx.reply().Integer(killed);
}

void CmdClientSetInfo(CmdArgs args, CommandContext& ctx) {
  std::string_view attr = args[2], value = args[3];
  bool name = EqualsIgnoreCase(attr, "LIB-NAME"), ver = EqualsIgnoreCase(attr, "LIB-VER");
  if (!name && !ver) {
    ctx.reply().Error(fmt::format("ERR Unrecognized option '{}'", attr));
    return;
  }
  if (!ValidClientString(value)) {
    ctx.reply().Error(fmt::format("ERR {} cannot contain spaces, newlines or special characters.",
                                  name ? "lib-name" : "lib-ver"));
    return;
  }
  std::lock_guard lock(ctx.conn()->info().mu);
  (name ? ctx.conn()->info().lib_name : ctx.conn()->info().lib_ver) = std::string(value);
  ctx.reply().Ok();
}

void CmdClientHelp(CmdArgs, CommandContext& ctx) {
  ReplyHelp(
      ctx, "CLIENT",
      {"ID", "    Return the ID of the current connection.", "GETNAME",
       "    Return the name of the current connection.", "INFO",
       "    Return information about the current client connection.", "KILL <ip:port>",
       "    Kill connection made from <ip:port>.", "KILL <option> <value> [<option> <value> [...]]",
       "    Kill connections. Options are: ID, ADDR, LADDR, SKIPME, TYPE, USER.",
       "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID id [id ...]]",
       "    Return information about client connections.", "SETINFO <option> <value>",
       "    Set client meta attr. Options are: LIB-NAME, LIB-VER.", "SETNAME <name>",
       "    Assign the name <name> to the current connection."});
}

}  // namespace stockd::server
