#include "tests/server/test_server.h"

namespace stockd::testing {
namespace {

class ConnectionFamilyTest : public ServerTest {};

TEST_F(ConnectionFamilyTest, PingEcho) {
  EXPECT_EQ(Run({"ping"}).type, RespValue::Type::kSimpleString);
  EXPECT_EQ(Run({"ping", "hi"}).str, "hi");
  EXPECT_EQ(Run({"ping", "hi"}).type, RespValue::Type::kBulk);
  EXPECT_TRUE(IsError(Run({"ping", "a", "b"}), "ERR wrong number of arguments for 'ping' command"));
  EXPECT_EQ(Run({"echo", "x y"}).str, "x y");
}

TEST_F(ConnectionFamilyTest, HelloSwitchesProtocol) {
  auto v = Run({"hello", "3"});
  ASSERT_EQ(v.type, RespValue::Type::kMap);
  EXPECT_EQ(v.elements.size(), 14u);
  EXPECT_EQ(v.elements[4].str, "proto");
  EXPECT_EQ(v.elements[5].integer, 3);
  EXPECT_EQ(Run({"get", "missing"}).type, RespValue::Type::kNull);
  v = Run({"hello", "2"});
  EXPECT_EQ(v.type, RespValue::Type::kArray);
  EXPECT_TRUE(IsError(Run({"hello", "4"}), "NOPROTO unsupported protocol version"));
  EXPECT_TRUE(
      IsError(Run({"hello", "x"}), "ERR Protocol version is not an integer or out of range"));
  EXPECT_TRUE(IsError(Run({"hello", "3", "bogus"}), "ERR Syntax error in HELLO option 'bogus'"));
  Run({"hello", "3", "setname", "me"});
  EXPECT_EQ(Run({"client", "getname"}).str, "me");
}

TEST_F(ConnectionFamilyTest, SelectIsolatesDatabases) {
  Run({"set", "k", "db0"});
  EXPECT_EQ(Run({"select", "15"}).str, "OK");
  EXPECT_EQ(Run({"get", "k"}).type, RespValue::Type::kNull);
  Run({"set", "k", "db15"});
  EXPECT_TRUE(IsError(Run({"select", "16"}), "ERR DB index is out of range"));
  EXPECT_TRUE(IsError(Run({"select", "x"}), "ERR value is not an integer or out of range"));
  EXPECT_EQ(Run({"get", "k"}).str, "db15");
  Run({"select", "0"});
  EXPECT_EQ(Run({"get", "k"}).str, "db0");
}

TEST_F(ConnectionFamilyTest, AuthWithoutPassword) {
  EXPECT_TRUE(IsErrorPrefix(Run({"auth", "x"}), "ERR AUTH <password> called without any password"));
  EXPECT_TRUE(IsError(Run({"auth", "bob", "x"}),
                      "WRONGPASS invalid username-password pair or user is disabled."));
}

class AuthTest : public ServerTest {
  void Configure(server::Config& c) override { c.set_requirepass("s3cret"); }
};

TEST_F(AuthTest, RequirePass) {
  EXPECT_TRUE(IsError(Run({"get", "k"}), "NOAUTH Authentication required."));
  EXPECT_TRUE(IsError(Run({"auth", "nope"}),
                      "WRONGPASS invalid username-password pair or user is disabled."));
  EXPECT_TRUE(IsErrorPrefix(Run({"hello", "3"}), "NOAUTH HELLO must be called"));
  EXPECT_EQ(Run({"auth", "s3cret"}).str, "OK");
  EXPECT_EQ(Run({"set", "k", "v"}).str, "OK");
  EXPECT_EQ(client2().Run({"hello", "3", "auth", "default", "s3cret"}).type, RespValue::Type::kMap);
  EXPECT_EQ(client2().Run({"get", "k"}).str, "v");
  EXPECT_EQ(Run({"reset"}).str, "RESET");
  EXPECT_TRUE(IsError(Run({"get", "k"}), "NOAUTH Authentication required."));
}

TEST_F(AuthTest, UnauthenticatedClientsAreHeldToSmallRequests) {
  // At the edge: 10 elements and 16384-byte bulks are fine before AUTH (answered NOAUTH)...
  std::vector<std::string> ten(10, "x");
  ten[0] = "del";
  EXPECT_TRUE(IsError(Run(ten), "NOAUTH Authentication required."));
  EXPECT_TRUE(IsError(Run({"echo", std::string(16384, 'x')}), "NOAUTH Authentication required."));
  // ...one more is a protocol error that closes the connection.
  std::vector<std::string> eleven(11, "x");
  EXPECT_TRUE(IsError(Run(eleven), "ERR Protocol error: unauthenticated multibulk length"));
  EXPECT_TRUE(client().IsClosed());
  EXPECT_TRUE(IsError(client2().Run({"echo", std::string(16385, 'x')}),
                      "ERR Protocol error: unauthenticated bulk length"));
  // A pipelined AUTH lifts the limits for the very next request.
  auto c3 = NewClient();
  c3->SendRaw(TestClient::Encode({"auth", "s3cret"}) +
              TestClient::Encode({"set", "big", std::string(100000, 'y')}));
  EXPECT_EQ(c3->Read().str, "OK");
  EXPECT_EQ(c3->Read().str, "OK");
}

TEST_F(ConnectionFamilyTest, QuitClosesAfterReply) {
  EXPECT_EQ(client2().Run({"quit"}).str, "OK");
  EXPECT_TRUE(client2().IsClosed());
}

TEST_F(ConnectionFamilyTest, ClientCommands) {
  auto id = Run({"client", "id"});
  ASSERT_EQ(id.type, RespValue::Type::kInteger);
  EXPECT_EQ(Run({"client", "setname", "app"}).str, "OK");
  EXPECT_TRUE(IsError(Run({"client", "setname", "a b"}),
                      "ERR Client names cannot contain spaces, newlines or special characters."));
  EXPECT_EQ(Run({"client", "setinfo", "lib-name", "redis-py"}).str, "OK");
  EXPECT_TRUE(IsError(Run({"client", "setinfo", "x", "y"}), "ERR Unrecognized option 'x'"));
  auto info = Run({"client", "info"}).str;
  EXPECT_NE(info.find("id=" + std::to_string(id.integer) + " "), std::string::npos) << info;
  EXPECT_NE(info.find("name=app "), std::string::npos);
  EXPECT_NE(info.find("lib-name=redis-py"), std::string::npos);
  client2().Run({"ping"});
  auto list = Run({"client", "list"}).str;
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 2) << list;
  auto other = client2().Run({"client", "id"}).integer;
  EXPECT_EQ(Run({"client", "kill", "id", std::to_string(other)}).integer, 1);
  EXPECT_TRUE(client2().IsClosed());
  EXPECT_EQ(Run({"client", "kill", "id", std::to_string(id.integer)}).integer, 0);  // SKIPME yes
  EXPECT_TRUE(IsError(Run({"client", "kill", "1.2.3.4:5"}), "ERR No such client"));
  EXPECT_GT(Run({"client", "help"}).elements.size(), 5u);
}

}  // namespace
}  // namespace stockd::testing
