#include "server/clients.h"

#include "server/connection.h"

namespace stockd::server {

void ClientRegistry::Add(std::shared_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  uint64_t id = c->id();
  clients_.emplace(id, std::move(c));
}

void ClientRegistry::Remove(uint64_t id) {
  std::shared_ptr<Connection> doomed;  // destroyed outside the lock
  std::lock_guard lock(mu_);
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  doomed = std::move(it->second);
  clients_.erase(it);
}

size_t ClientRegistry::count() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

std::vector<std::shared_ptr<Connection>> ClientRegistry::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(clients_.size());
  for (const auto& [id, c] : clients_) out.push_back(c);
  return out;
}

std::shared_ptr<Connection> ClientRegistry::Find(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second;
}

}  // namespace stockd::server
