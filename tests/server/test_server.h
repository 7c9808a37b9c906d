#pragma once
// Test harness: a real stockd (Server + Engine + shards) in this process on an ephemeral loopback
// port, and blocking RESP clients over real sockets, so tests go through the whole dispatch path.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "protocol/resp_reader.h"
#include "server/config.h"
#include "server/server.h"
#include "storage/log.h"

namespace stockd::testing {

using protocol::RespValue;

class TestClient {
 public:
  explicit TestClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ADD_FAILURE() << "connect to port " << port << " failed";
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{10, 0};  // a test never waits longer than this for a reply
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~TestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TestClient(const TestClient&) = delete;

  static std::string Encode(const std::vector<std::string>& args) {
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return s;
  }
  void SendRaw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void Send(const std::vector<std::string>& args) { SendRaw(Encode(args)); }
  // Reads one reply; a type kError with str "(connection closed)" when the server closed.
  RespValue Read() {
    while (true) {
      size_t used = 0;
      std::string error;
      auto v = protocol::RespReader::Read(buf_, &used, &error);
      if (v) {
        buf_.erase(0, used);
        return *v;
      }
      if (!error.empty()) {
        ADD_FAILURE() << "bad reply: " << error;
        return Closed();
      }
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) return Closed();
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  RespValue Run(const std::vector<std::string>& args) {
    Send(args);
    return Read();
  }
  // True when the server has closed the connection (reads EOF within the timeout).
  bool IsClosed() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  static RespValue Closed() {
    RespValue v;
    v.type = RespValue::Type::kError;
    v.str = "(connection closed)";
    return v;
  }
  int fd_ = -1;
  std::string buf_;
};

// Reply matchers with readable failure messages: EXPECT_TRUE(IsInt(Run({"incr", "k"}), 1)).
inline ::testing::AssertionResult IsInt(const RespValue& v, int64_t n) {
  if (v.type == RespValue::Type::kInteger && v.integer == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected (integer) " << n << ", got " << v.ToString();
}
inline ::testing::AssertionResult IsBulk(const RespValue& v, std::string_view s) {
  if (v.type == RespValue::Type::kBulk && v.str == s) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected bulk \"" << s << "\", got " << v.ToString();
}
inline ::testing::AssertionResult IsOk(const RespValue& v) {
  if (v.type == RespValue::Type::kSimpleString && v.str == "OK") {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected OK, got " << v.ToString();
}

class ServerTest : public ::testing::Test {
 protected:
  // Shards in the test server: more than one, so cross-shard paths are always exercised.
  virtual int Shards() const { return 2; }
  virtual void Configure(server::Config&) {}

  void SetUp() override {
    log::SetLevel(log::Level::kWarning);
    config_.port = 0;
    config_.shards = Shards();
    // Durability is off unless a test asks for it (Configure: appendonly = true and a fresh
    // directory from TempDir()): most tests are about commands, and an fsync per write would
    // slow them for nothing.
    config_.appendonly = false;
    Configure(config_);
    server_ = std::make_unique<server::Server>(&config_);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    client2_.reset();
    server_->RequestShutdown("test done");
    server_->WaitForShutdown();
    server_.reset();
    for (const std::string& d : temp_dirs_) std::filesystem::remove_all(d);
  }

  RespValue Run(const std::vector<std::string>& args) { return client_->Run(args); }
  TestClient& client() { return *client_; }
  TestClient& client2() {
    if (!client2_) client2_ = std::make_unique<TestClient>(server_->port());
    return *client2_;
  }
  std::unique_ptr<TestClient> NewClient() { return std::make_unique<TestClient>(server_->port()); }
  uint16_t port() const { return server_->port(); }
  server::Server& server() { return *server_; }

  static bool IsError(const RespValue& v, std::string_view message) {
    return v.type == RespValue::Type::kError && v.str == message;
  }
  static bool IsErrorPrefix(const RespValue& v, std::string_view prefix) {
    return v.type == RespValue::Type::kError && v.str.starts_with(prefix);
  }
  static bool IsNull(const RespValue& v) { return v.type == RespValue::Type::kNull; }
  static std::vector<int64_t> Ints(const RespValue& v) {
    std::vector<int64_t> out;
    for (const auto& e : v.elements) out.push_back(e.integer);
    return out;
  }
  static std::vector<std::string> Strs(const RespValue& v) {
    std::vector<std::string> out;
    for (const auto& e : v.elements)
      out.push_back(e.type == RespValue::Type::kNull ? "(nil)" : e.str);
    return out;
  }
  // A fresh directory for this test, removed in TearDown (a test's `dir` for appendonly yes).
  std::string TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "stockd-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    temp_dirs_.push_back(pattern);
    return pattern;
  }
  static void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  server::Config config_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<TestClient> client_, client2_;
  std::vector<std::string> temp_dirs_;
};

}  // namespace stockd::testing
