// API keys (api/api_keys.h): entry formats with scopes and tenants, Secret directories (the file
// name is the tenant), lookup, the per-address limit of failed attempts, client addresses.
#include "services/dialog/api/api_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace parley::dialog {
namespace {

TEST(ApiKeysTest, EntriesCarryScopesAndTenants) {
  auto plain = parse_api_key("0123456789abcdef0123");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->client);
  EXPECT_FALSE(plain->admin) << "a plain key only talks: managing bots needs the admin scope";
  EXPECT_EQ(plain->tenant.rfind("key:", 0), 0u);
  EXPECT_EQ(plain->tenant.size(), 16u);
  EXPECT_EQ(parse_api_key("0123456789abcdef0123")->tenant, plain->tenant) << "stable across restarts";
  EXPECT_NE(parse_api_key("another-secret-key-0001")->tenant, plain->tenant);
  auto admin = parse_api_key("admin+client:acme:s3cr3t:with:colons");
  ASSERT_TRUE(admin.ok());
  EXPECT_TRUE(admin->admin && admin->client);
  EXPECT_EQ(admin->tenant, "acme");
  EXPECT_EQ(admin->secret, "s3cr3t:with:colons");
  auto client = parse_api_key("client:acme-web:xyz");
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(client->admin);
  EXPECT_EQ(parse_api_key("admin,client:ops:k")->admin, true);
  EXPECT_FALSE(parse_api_key("admin:bad tenant:k").ok());
  EXPECT_FALSE(parse_api_key("").ok());
  EXPECT_FALSE(parse_api_key("admin:acme:").ok());
}

TEST(ApiKeysTest, SecretDirectoriesAndLookup) {
  auto dir = std::filesystem::temp_directory_path() / ("parley-keys-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "mobile-app") << "a-plain-secret-for-the-app\n";
  std::ofstream(dir / "ops") << "admin:ops:the-ops-secret-000000\n";
  std::ofstream(dir / ".hidden") << "ignored";
  auto keys = read_api_keys_file(dir.string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(keys.ok()) << keys.status().to_string();
  ASSERT_EQ(keys->size(), 2u);
  auto app = find_api_key(*keys, "a-plain-secret-for-the-app");
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->tenant, "mobile-app");
  EXPECT_TRUE(app->client);
  auto ops = find_api_key(*keys, "the-ops-secret-000000");
  ASSERT_TRUE(ops.has_value());
  EXPECT_TRUE(ops->admin);
  EXPECT_FALSE(find_api_key(*keys, "the-ops-secret-00000").has_value());
  EXPECT_FALSE(find_api_key(*keys, "").has_value());
}

TEST(ApiKeysTest, FailedAttemptsLockAnAddressOutForAWindow) {
  using Clock = FailedAuthLimiter::Clock;
  FailedAuthLimiter limiter(3, std::chrono::seconds(60), 2);
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.locked("10.0.0.1", t0));
    limiter.failed("10.0.0.1", t0);
  }
  int retry = 0;
  EXPECT_TRUE(limiter.locked("10.0.0.1", t0 + std::chrono::seconds(10), &retry));
  EXPECT_EQ(retry, 50);
  EXPECT_FALSE(limiter.locked("10.0.0.2", t0)) << "per address";
  EXPECT_FALSE(limiter.locked("10.0.0.1", t0 + std::chrono::seconds(61))) << "the window passed";
  // Memory is bounded: a flood of addresses keeps at most max_addresses windows.
  for (int i = 0; i < 100; ++i) limiter.failed("192.0.2." + std::to_string(i), t0);
  EXPECT_EQ(client_address("10.1.2.3:5555"), "10.1.2.3");
  EXPECT_EQ(client_address("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64");
}

}  // namespace
}  // namespace parley::dialog
