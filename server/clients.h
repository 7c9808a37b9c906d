#pragma once
// Every live client connection, for CLIENT LIST/KILL, INFO clients, maxclients and shutdown.
// Thread-safe (a mutex; only connect, disconnect and admin commands take it).
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace stockd::server {

class Connection;

class ClientRegistry {
 public:
  uint64_t NextId() { return next_id_.fetch_add(1) + 1; }
  void Add(std::shared_ptr<Connection> c);
  void Remove(uint64_t id);
  size_t count() const;
  std::vector<std::shared_ptr<Connection>> Snapshot() const;
  std::shared_ptr<Connection> Find(uint64_t id) const;

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Connection>> clients_;  // ordered by id, as CLIENT LIST
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace stockd::server
