// CURVE from a service's config (shared/service/curve_config.h) and the service host serving
// with it: the secret from the environment (a Kubernetes Secret as env), the allowed clients from
// a file (a Secret as a volume); an unauthenticated client refused, an authenticated one served;
// incomplete configurations refused with the key to fix.
#include "shared/service/curve_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "parley/v1/echo.pb.h"
#include "shared/config/base_schema.h"
#include "shared/service/host.h"
#include "shared/transport/client.h"

namespace parley::service {
namespace {

using namespace std::chrono_literals;

config::Config load(std::vector<std::string> args) {
  config::Schema schema = config::service_base_schema("curve-test", "test");
  auto cfg = config::load(schema, std::nullopt, {}, args);
  EXPECT_TRUE(cfg.ok()) << cfg.status().to_string();
  return std::move(*cfg);
}

class CurveConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!transport::curve_available()) GTEST_SKIP() << "libzmq built without CURVE";
    dir_ = std::filesystem::temp_directory_path() / ("parley-curve-cfg-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    ::unsetenv("PARLEY_TRANSPORT_CURVE_SECRET_KEY");
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

TEST_F(CurveConfigTest, IncompleteSettingsNameWhatIsMissing) {
  auto server = transport::generate_curve_keypair();
  auto client = transport::generate_curve_keypair();
  ASSERT_TRUE(server.ok() && client.ok());
  auto off = curve_settings(load({}));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->server.has_value());
  EXPECT_FALSE(off->client.has_value());
  auto no_clients = curve_settings(load({"--transport.curve_secret_key=" + server->secret_key}));
  ASSERT_FALSE(no_clients.ok());
  EXPECT_NE(no_clients.status().message().find("transport.curve_clients"), std::string::npos);
  auto bad = curve_settings(load({"--transport.curve_secret_key=" + server->secret_key, "--transport.curve_clients=xyz"}));
  EXPECT_FALSE(bad.ok());
  auto no_client_keys = curve_settings(load({"--transport.curve_server_key=" + server->public_key}));
  ASSERT_FALSE(no_client_keys.ok());
  EXPECT_NE(no_client_keys.status().message().find("client keypair"), std::string::npos);
  auto ok = curve_settings(load({"--transport.curve_server_key=" + server->public_key,
                                 "--transport.curve_client_secret_key=" + client->secret_key}));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  ASSERT_TRUE(ok->client.has_value());
  EXPECT_EQ(ok->client->client_keys.public_key, client->public_key) << "the public key is derived";
}

TEST_F(CurveConfigTest, AHostWithKeysServesOnlyItsClients) {
  auto server = transport::generate_curve_keypair();
  auto client = transport::generate_curve_keypair();
  auto stranger = transport::generate_curve_keypair();
  ASSERT_TRUE(server.ok() && client.ok() && stranger.ok());
  // The secret as a Kubernetes Secret passed in the environment; the allowed clients as a
  // Secret mounted as a directory of key files.
  ::setenv("PARLEY_TRANSPORT_CURVE_SECRET_KEY", server->secret_key.c_str(), 1);
  std::filesystem::create_directories(dir_ / "clients");
  ASSERT_TRUE(transport::write_curve_key_file((dir_ / "clients" / "dialog.pub").string(), {client->public_key, ""}).is_ok());
  std::string clients_arg = "--transport.curve_clients_file=" + (dir_ / "clients").string();
  const char* argv[] = {"curve-test", "--transport.bind=tcp://127.0.0.1:*", "--http.port=0", clients_arg.c_str()};
  auto host = Host::create("curve-test", config::service_base_schema("curve-test", "test"), 4, argv);
  host->unary<v1::EchoRequest, v1::EchoReply>("parley.v1.Echo/Echo", [](const v1::EchoRequest& r, CallContext&) -> Result<v1::EchoReply> {
    v1::EchoReply reply;
    reply.set_text(r.text());
    return reply;
  });
  ASSERT_TRUE(host->start().is_ok());
  const std::string endpoint = host->endpoints().at(0);
  auto call = [&](std::optional<transport::CurveClientOptions> curve, std::chrono::milliseconds timeout) {
    transport::ClientOptions co;
    co.targets = {endpoint};
    co.name = "curve-test";
    co.curve = std::move(curve);
    auto c = transport::Client::create(co);
    EXPECT_TRUE(c.ok());
    v1::EchoRequest req;
    req.set_text("hello");
    v1::Envelope env;
    env.set_method("parley.v1.Echo/Echo");
    env.mutable_payload()->PackFrom(req);
    return (*c)->call_sync(std::move(env), {.timeout = timeout});
  };
  EXPECT_FALSE(call(std::nullopt, 300ms).ok()) << "plaintext refused";
  EXPECT_FALSE(call(transport::CurveClientOptions{server->public_key, *stranger}, 300ms).ok()) << "unknown key refused";
  auto served = call(transport::CurveClientOptions{server->public_key, *client}, 5s);
  ASSERT_TRUE(served.ok()) << served.status().to_string();
  v1::EchoReply reply;
  ASSERT_TRUE(served->payload().UnpackTo(&reply));
  EXPECT_EQ(reply.text(), "hello");
  host->stop();
}

}  // namespace
}  // namespace parley::service
