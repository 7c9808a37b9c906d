// Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB. The registry is
// server/pubsub.h; these run on the client's own thread.
#include "server/command_context.h"
#include "server/commands/families.h"
#include "server/connection.h"
#include "server/server.h"

namespace stockd::server {
namespace {

PubSub& Registry(CommandContext& ctx) { return Server::FromEngine(ctx.engine())->pubsub(); }

void PublishCounts(Connection* c) {
  c->info().channels.store(c->channels().size(), std::memory_order_relaxed);
  c->info().patterns.store(c->patterns().size(), std::memory_order_relaxed);
  c->info().subscribed.store(c->subscriptions() != 0, std::memory_order_relaxed);
}

// One confirmation per channel: [kind, name, subscriptions now] (a push in RESP3).
void Confirm(CommandContext& ctx, std::string_view kind, const std::string* name) {
  auto& r = ctx.reply();
  r.PushHeader(3);
  r.Bulk(kind);
  if (name) {
    r.Bulk(*name);
  } else {
    r.Null();
  }
  r.Integer(static_cast<int64_t>(ctx.conn()->subscriptions()));
}

void SubscribeAll(CmdArgs args, CommandContext& ctx, bool patterns) {
  Connection* c = ctx.conn();
  auto self = c->shared_from_this();
  for (size_t i = 1; i < args.size(); ++i) {
    std::string name(args[i]);
    auto& mine = patterns ? c->patterns() : c->channels();
    if (mine.insert(name).second) {
      if (patterns) {
        Registry(ctx).PSubscribe(self, name);
      } else {
        Registry(ctx).Subscribe(self, name);
      }
    }
    PublishCounts(c);
    Confirm(ctx, patterns ? "psubscribe" : "subscribe", &name);
  }
}

void UnsubscribeAll(CmdArgs args, CommandContext& ctx, bool patterns) {
  Connection* c = ctx.conn();
  auto& mine = patterns ? c->patterns() : c->channels();
  std::string_view kind = patterns ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> names;
  if (args.size() > 1) {
    names.assign(args.begin() + 1, args.end());
  } else {
    names.assign(mine.begin(), mine.end());
    if (names.empty()) {
      Confirm(ctx, kind, nullptr);  // nothing to leave: one reply with a null name
      return;
    }
  }
  for (const std::string& name : names) {
    if (mine.erase(name) != 0) {
      if (patterns) {
        Registry(ctx).PUnsubscribe(c, name);
      } else {
        Registry(ctx).Unsubscribe(c, name);
      }
    }
    PublishCounts(c);
    Confirm(ctx, kind, &name);
  }
}

}  // namespace

void CmdSubscribe(CmdArgs args, CommandContext& ctx) { SubscribeAll(args, ctx, false); }
void CmdPSubscribe(CmdArgs args, CommandContext& ctx) { SubscribeAll(args, ctx, true); }
void CmdUnsubscribe(CmdArgs args, CommandContext& ctx) { UnsubscribeAll(args, ctx, false); }
void CmdPUnsubscribe(CmdArgs args, CommandContext& ctx) { UnsubscribeAll(args, ctx, true); }

void CmdPublish(CmdArgs args, CommandContext& ctx) {
  ctx.reply().Integer(Registry(ctx).Publish(args[1], args[2]));
}

void CmdPubSubChannels(CmdArgs args, CommandContext& ctx) {
  if (args.size() > 3)
    return ctx.reply().Error("ERR wrong number of arguments for 'pubsub|channels' command");
  auto channels = Registry(ctx).Channels(args.size() == 3 ? args[2] : std::string_view());
  ctx.reply().ArrayHeader(static_cast<int64_t>(channels.size()));
  for (const auto& ch : channels) ctx.reply().Bulk(ch);
}

void CmdPubSubNumSub(CmdArgs args, CommandContext& ctx) {
  ctx.reply().ArrayHeader(static_cast<int64_t>(args.size() - 2) * 2);
  for (size_t i = 2; i < args.size(); ++i) {
    ctx.reply().Bulk(args[i]);
    ctx.reply().Integer(Registry(ctx).NumSubscribers(args[i]));
  }
}

void CmdPubSubNumPat(CmdArgs, CommandContext& ctx) {
  ctx.reply().Integer(Registry(ctx).NumPatterns());
}

void CmdPubSubHelp(CmdArgs, CommandContext& ctx) {
  auto& r = ctx.reply();
  r.ArrayHeader(9);
  r.SimpleString("PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  r.SimpleString("CHANNELS [<pattern>]");
  r.SimpleString("    Return the currently active channels matching a <pattern> (default: '*').");
  r.SimpleString("NUMPAT");
  r.SimpleString("    Return number of subscriptions to patterns.");
  r.SimpleString("NUMSUB [<channel> ...]");
  r.SimpleString("    Return the number of subscribers for the specified channels.");
  r.SimpleString("HELP");
  r.SimpleString("    Print this help.");
}

}  // namespace stockd::server
