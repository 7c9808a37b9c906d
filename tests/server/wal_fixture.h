#pragma once
// A test server with the write-ahead log on, in a fresh directory, that can be restarted on that
// directory (so everything it knows comes from the log and the snapshots): the fixture of the
// durability tests (wal_wiring_test.cc, snapshot_test.cc).
#include <rocksdb/env.h>

#include <memory>
#include <string>

#include "tests/server/test_server.h"
#include "tests/storage/raw_db.h"

namespace stockd::testing {

class WalWiringTest : public ServerTest {
 protected:
  void Configure(server::Config& c) override {
    c.appendonly = true;
    c.dir = TempDir();
  }
  // Stops the server (a clean shutdown) and starts a new one on the same configuration and
  // directory, so everything it knows comes from the log.
  void Restart(rocksdb::Env* env = nullptr) {
    std::string error;
    ASSERT_TRUE(TryRestart(env, &error)) << error;
  }
  bool TryRestart(rocksdb::Env* env, std::string* error) {
    Stop();
    return TryStart(env, error);
  }
  // Stops the server; TryStart starts a new one on the same directory.
  void Stop() {
    client_.reset();
    client2_.reset();
    server_->RequestShutdown("restart");
    server_->WaitForShutdown();
    server_.reset();
  }
  bool TryStart(rocksdb::Env* env, std::string* error) {
    config_.port = 0;
    server_ = std::make_unique<server::Server>(&config_);
    server_->set_wal_env(env);
    if (!server_->Start(error)) return false;
    client_ = std::make_unique<TestClient>(server_->port());
    return true;
  }
};

}  // namespace stockd::testing
