#include "server/pubsub.h"

#include "server/connection.h"
#include "storage/glob.h"

namespace stockd::server {
namespace {

bool Add(
    std::map<std::string, std::map<const Connection*, std::weak_ptr<Connection>>, std::less<>>& m,
    const std::shared_ptr<Connection>& c, std::string_view name) {
  auto it = m.find(name);
  if (it == m.end()) it = m.emplace(std::string(name), decltype(it->second){}).first;
  return it->second.emplace(c.get(), c).second;
}

bool Remove(
    std::map<std::string, std::map<const Connection*, std::weak_ptr<Connection>>, std::less<>>& m,
    const Connection* c, std::string_view name) {
  auto it = m.find(name);
  if (it == m.end() || it->second.erase(c) == 0) return false;
  if (it->second.empty()) m.erase(it);
  return true;
}

}  // namespace

bool PubSub::Subscribe(const std::shared_ptr<Connection>& c, std::string_view channel) {
  std::lock_guard lock(mu_);
  return Add(channels_, c, channel);
}

bool PubSub::Unsubscribe(const Connection* c, std::string_view channel) {
  std::lock_guard lock(mu_);
  return Remove(channels_, c, channel);
}

bool PubSub::PSubscribe(const std::shared_ptr<Connection>& c, std::string_view pattern) {
  std::lock_guard lock(mu_);
  return Add(patterns_, c, pattern);
}

bool PubSub::PUnsubscribe(const Connection* c, std::string_view pattern) {
  std::lock_guard lock(mu_);
  return Remove(patterns_, c, pattern);
}

int64_t PubSub::Publish(std::string_view channel, std::string_view message) {
  struct Target {
    std::shared_ptr<Connection> conn;
    std::string pattern;  // empty for a channel subscription
    bool by_pattern;
  };
  std::vector<Target> targets;
  {
    std::lock_guard lock(mu_);
    if (auto it = channels_.find(channel); it != channels_.end()) {
      for (auto& [raw, weak] : it->second) {
        if (auto c = weak.lock()) targets.push_back({std::move(c), {}, false});
      }
    }
    for (auto& [pattern, subs] : patterns_) {
      if (!storage::GlobMatch(pattern, channel)) continue;
      for (auto& [raw, weak] : subs) {
        if (auto c = weak.lock()) targets.push_back({std::move(c), pattern, true});
      }
    }
  }
  for (Target& t : targets) {
    if (t.by_pattern) {
      t.conn->DeliverPMessage(t.pattern, channel, message);
    } else {
      t.conn->DeliverMessage(channel, message);
    }
  }
  return static_cast<int64_t>(targets.size());
}

std::vector<std::string> PubSub::Channels(std::string_view pattern) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, subs] : channels_) {
    if (pattern.empty() || storage::GlobMatch(pattern, name)) out.push_back(name);
  }
  return out;
}

int64_t PubSub::NumSubscribers(std::string_view channel) const {
  std::lock_guard lock(mu_);
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

int64_t PubSub::NumPatterns() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(patterns_.size());
}

}  // namespace stockd::server
