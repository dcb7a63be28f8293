#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "store/key_store.h"

namespace fm {
namespace {

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "fmserve_keys_" + std::to_string(::getpid()) + "_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(KeyStore, CreateAuthenticateRevoke) {
  const std::string dir = fresh_dir("basic");
  auto store = KeyStore::open(dir);
  const auto created = store->create("folder-a", {}, 0);
  EXPECT_EQ(created.record.scopes, std::vector<std::string>{kScopeFoundationModels});
  auto who = store->authenticate(created.secret);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->folder, "folder-a");
  EXPECT_FALSE(store->authenticate(created.secret + "x"));
  std::string tampered = created.secret;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(store->authenticate(tampered));
  EXPECT_FALSE(store->authenticate("Bearer nonsense"));
  EXPECT_TRUE(store->revoke(created.record.id));
  EXPECT_FALSE(store->authenticate(created.secret));
  EXPECT_FALSE(store->revoke(created.record.id)) << "already revoked";
  std::filesystem::remove_all(dir);
}

TEST(KeyStore, RevokeBySecretAndPersistAcrossOpens) {
  const std::string dir = fresh_dir("persist");
  std::string secret;
  {
    auto store = KeyStore::open(dir);
    secret = store->create("f", {kScopeLanguageModels, kScopeImageGeneration}, 0).secret;
  }
  auto reopened = KeyStore::open(dir);
  auto who = reopened->authenticate(secret);
  ASSERT_TRUE(who);
  EXPECT_TRUE(who->has_scope(kScopeImageGeneration));
  EXPECT_FALSE(who->has_scope(kScopeFoundationModels));
  EXPECT_TRUE(reopened->revoke(secret));
  EXPECT_FALSE(reopened->authenticate(secret));
  ASSERT_EQ(reopened->list().size(), 1u);
  EXPECT_NE(reopened->list()[0].revoked_at, 0);
  std::filesystem::remove_all(dir);
}

TEST(KeyStore, OnlyASaltedHashIsStored) {
  const std::string dir = fresh_dir("hash");
  std::string secret;
  {
    auto store = KeyStore::open(dir);
    secret = store->create("f", {}, 0).secret;
  }
  std::ifstream in(std::filesystem::path(dir) / "keys.sqlite3", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string random_part = secret.substr(secret.rfind('_') + 1);
  EXPECT_EQ(bytes.str().find(random_part), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(KeyStore, ExpiredKeysAreRejected) {
  const std::string dir = fresh_dir("expiry");
  auto store = KeyStore::open(dir);
  const auto created = store->create("f", {}, 1);
  EXPECT_TRUE(store->authenticate(created.secret));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_FALSE(store->authenticate(created.secret));
  std::filesystem::remove_all(dir);
}

TEST(KeyStore, BadInputIsRejected) {
  const std::string dir = fresh_dir("bad");
  auto store = KeyStore::open(dir);
  EXPECT_THROW(store->create("", {}, 0), std::invalid_argument);
  EXPECT_THROW(store->create("a b", {}, 0), std::invalid_argument);
  EXPECT_THROW(store->create("f", {"yc.ai.everything"}, 0), std::invalid_argument);
  EXPECT_EQ(parse_duration_seconds("30d"), 30 * 86400);
  EXPECT_EQ(parse_duration_seconds("90"), 90);
  EXPECT_THROW(parse_duration_seconds("soon"), std::invalid_argument);
  EXPECT_THROW(parse_duration_seconds("-5h"), std::invalid_argument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fm
