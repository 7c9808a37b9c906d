#pragma once
// Pub/sub: who is subscribed to which channel or pattern, for every connection on every thread.
//
// One registry for the process, guarded by a mutex: SUBSCRIBE/UNSUBSCRIBE and PUBLISH take it
// briefly. PUBLISH copies the matching subscribers under the lock and delivers outside it, by
// posting each message to the subscriber's own thread; messages from one publisher therefore
// reach each subscriber in the order they were published (posts from one thread to one
// io_context run in order).
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace stockd::server {

class Connection;

class PubSub {
 public:
  // Returns true if the subscription is new.
  bool Subscribe(const std::shared_ptr<Connection>& c, std::string_view channel);
  bool Unsubscribe(const Connection* c, std::string_view channel);
  bool PSubscribe(const std::shared_ptr<Connection>& c, std::string_view pattern);
  bool PUnsubscribe(const Connection* c, std::string_view pattern);

  // Delivers `message` on `channel` to every subscriber (by channel, and by each matching
  // pattern: a client subscribed both ways gets it twice, as in Redis). Returns the count.
  int64_t Publish(std::string_view channel, std::string_view message);

  // Active channels (with at least one subscriber) matching `pattern` (empty: all).
  std::vector<std::string> Channels(std::string_view pattern) const;
  int64_t NumSubscribers(std::string_view channel) const;
  int64_t NumPatterns() const;  // distinct patterns with a subscriber

 private:
  using Subscribers = std::map<const Connection*, std::weak_ptr<Connection>>;
  mutable std::mutex mu_;
  std::map<std::string, Subscribers, std::less<>> channels_;
  std::map<std::string, Subscribers, std::less<>> patterns_;
};

}  // namespace stockd::server
