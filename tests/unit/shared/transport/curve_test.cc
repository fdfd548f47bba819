// CURVE: key generation and key files, an encrypted round trip, and a client holding the wrong
// server key (no answer by the deadline, no crash, the service never sees the call).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/unit/shared/transport/transport_test_util.h"

namespace parley::transport::testing {
namespace {

class CurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!curve_available()) GTEST_SKIP() << "libzmq built without CURVE";
    char tmpl[] = "/tmp/parley-curve-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
  }

  std::string dir_;
};

TEST_F(CurveTest, KeyFilesRoundTrip) {
  auto keys = generate_curve_key_files(path("server.key"), path("server.pub"));
  ASSERT_TRUE(keys.ok()) << keys.status().to_string();
  EXPECT_EQ(keys->public_key.size(), 40u);
  EXPECT_EQ(keys->secret_key.size(), 40u);

  auto secret = read_curve_key_file(path("server.key"));
  ASSERT_TRUE(secret.ok()) << secret.status().to_string();
  EXPECT_EQ(secret->public_key, keys->public_key);
  EXPECT_EQ(secret->secret_key, keys->secret_key);
  auto pub = read_curve_key_file(path("server.pub"));
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->public_key, keys->public_key);
  EXPECT_TRUE(pub->secret_key.empty());

  struct stat st {};
  ASSERT_EQ(::stat(path("server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "a secret key file is private";

  // No silent overwrite.
  EXPECT_EQ(write_curve_key_file(path("server.key"), *keys).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(write_curve_key_file(path("server.key"), *keys, /*overwrite=*/true).is_ok());
}

TEST_F(CurveTest, KeyFileFormatErrorsNameTheLine) {
  auto keys = generate_curve_keypair();
  ASSERT_TRUE(keys.ok());
  write("comments.key", "# comment\n\n  public = " + keys->public_key + "  \nsecret=" + keys->secret_key + "\n");
  EXPECT_TRUE(read_curve_key_file(path("comments.key")).ok());

  write("short.key", "public=abc\n");
  auto r = read_curve_key_file(path("short.key"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("short.key:1"), std::string::npos) << r.status().message();

  write("unknown.key", "# x\nprivate=" + keys->secret_key + "\n");
  r = read_curve_key_file(path("unknown.key"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown.key:2"), std::string::npos) << r.status().message();

  auto other = generate_curve_keypair();
  write("mismatch.key", "public=" + other->public_key + "\nsecret=" + keys->secret_key + "\n");
  r = read_curve_key_file(path("mismatch.key"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos);

  write("empty.key", "# nothing\n");
  EXPECT_FALSE(read_curve_key_file(path("empty.key")).ok());
  EXPECT_EQ(read_curve_key_file(path("missing.key")).status().code(), StatusCode::kNotFound);

  std::string bad_z85 = keys->public_key;
  bad_z85[5] = '"';  // not in the Z85 alphabet
  EXPECT_FALSE(validate_curve_key(bad_z85, "k").is_ok());
}

TEST_F(CurveTest, EncryptedRoundTrip) {
  auto server_keys = generate_curve_key_files(path("server.key"), path("server.pub"));
  ASSERT_TRUE(server_keys.ok());
  auto secret = read_curve_key_file(path("server.key"));
  auto pub = read_curve_key_file(path("server.pub"));
  ASSERT_TRUE(secret.ok() && pub.ok());

  TestService service;
  ServerOptions so;
  so.curve = *secret;
  auto server = start_server(service.handler(), so);
  ClientOptions co = test_client_options({server->endpoints()[0]});
  co.curve = CurveClientOptions{pub->public_key, {}};  // ephemeral client keys
  auto client = make_client(co);
  Result<Envelope> reply = client->call_sync(echo_request("t/Echo", "secret message"), {.timeout = 3s});
  ASSERT_TRUE(reply.ok()) << reply.status().to_string();
  EXPECT_EQ(reply_text(*reply), "secret message");

  // With an explicit client keypair too.
  auto client_keys = generate_curve_keypair();
  co.curve = CurveClientOptions{pub->public_key, *client_keys};
  auto client2 = make_client(co);
  EXPECT_TRUE(client2->call_sync(echo_request("t/Echo", "again"), {.timeout = 3s}).ok());
}

TEST_F(CurveTest, WrongServerKeyGetsNoAnswer) {
  auto server_keys = generate_curve_keypair();
  auto wrong = generate_curve_keypair();
  ASSERT_TRUE(server_keys.ok() && wrong.ok());
  TestService service;
  ServerOptions so;
  so.curve = *server_keys;
  auto server = start_server(service.handler(), so);

  ClientOptions co = test_client_options({server->endpoints()[0]});
  co.curve = CurveClientOptions{wrong->public_key, {}};
  auto client = make_client(co);
  auto start = Clock::now();
  Result<Envelope> reply = client->call_sync(echo_request("t/Echo", "x"), {.timeout = 300ms});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable) << reply.status().to_string();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(client->stats().replicas_live.load(), 0u);

  // A plaintext client gets nowhere either.
  auto plain = make_client(test_client_options({server->endpoints()[0]}));
  EXPECT_FALSE(plain->call_sync(echo_request("t/Echo", "x"), {.timeout = 200ms}).ok());
  EXPECT_EQ(service.calls.load(), 0);
  EXPECT_EQ(server->stats().received.load(), 0u) << "nothing decrypts, nothing is read";
}

TEST_F(CurveTest, OnlyAllowedClientKeysAreServed) {
  // Issue 15: with CURVE on, anyone who knew the server's public key could still call. Now the
  // server lists its clients: an unlisted key fails the handshake and is never served.
  auto server_keys = generate_curve_keypair();
  auto allowed = generate_curve_keypair();
  auto stranger = generate_curve_keypair();
  ASSERT_TRUE(server_keys.ok() && allowed.ok() && stranger.ok());
  TestService service;
  ServerOptions so;
  so.curve = *server_keys;
  so.curve_allowed_clients = {allowed->public_key};
  auto server = start_server(service.handler(), so);

  ClientOptions co = test_client_options({server->endpoints()[0]});
  co.curve = CurveClientOptions{server_keys->public_key, *stranger};
  auto refused = make_client(co);
  Result<Envelope> r = refused->call_sync(echo_request("t/Echo", "let me in"), {.timeout = 300ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
  // Ephemeral client keys (what a client without a configured keypair uses) are strangers too.
  co.curve = CurveClientOptions{server_keys->public_key, {}};
  auto ephemeral = make_client(co);
  EXPECT_FALSE(ephemeral->call_sync(echo_request("t/Echo", "x"), {.timeout = 300ms}).ok());
  auto plain = make_client(test_client_options({server->endpoints()[0]}));
  EXPECT_FALSE(plain->call_sync(echo_request("t/Echo", "x"), {.timeout = 300ms}).ok());
  EXPECT_EQ(service.calls.load(), 0) << "no unauthenticated call reached the service";

  co.curve = CurveClientOptions{server_keys->public_key, *allowed};
  auto member = make_client(co);
  r = member->call_sync(echo_request("t/Echo", "authenticated"), {.timeout = 3s});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(reply_text(*r), "authenticated");
  EXPECT_EQ(service.calls.load(), 1);

  // Two servers in one process (one ZAP handler, a domain each) keep their own lists.
  TestService service2;
  ServerOptions so2;
  so2.curve = *server_keys;
  so2.curve_allowed_clients = {stranger->public_key};
  auto server2 = start_server(service2.handler(), so2);
  ClientOptions co2 = test_client_options({server2->endpoints()[0]});
  co2.curve = CurveClientOptions{server_keys->public_key, *stranger};
  auto c2 = make_client(co2);
  EXPECT_TRUE(c2->call_sync(echo_request("t/Echo", "y"), {.timeout = 3s}).ok());
  co2.curve = CurveClientOptions{server_keys->public_key, *allowed};
  auto c3 = make_client(co2);
  EXPECT_FALSE(c3->call_sync(echo_request("t/Echo", "z"), {.timeout = 300ms}).ok());
}

TEST_F(CurveTest, BadKeysAreRejectedAtStart) {
  TestService service;
  ServerOptions so;
  so.curve = CurveKeyPair{"", "too-short"};
  EXPECT_FALSE(Server::start(so, service.handler()).ok());
  ClientOptions co;
  co.targets = {"tcp://127.0.0.1:1"};
  co.curve = CurveClientOptions{"nope", {}};
  EXPECT_FALSE(Client::create(co).ok());
  auto keys = generate_curve_keypair();
  so.curve = *keys;
  so.curve_allowed_clients = {"not-a-key"};
  EXPECT_FALSE(Server::start(so, service.handler()).ok());
}

}  // namespace
}  // namespace parley::transport::testing
