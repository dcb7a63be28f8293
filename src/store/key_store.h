#pragma once
// Folders' API keys in an embedded SQLite database under the data directory. Only a salted SHA-256 of each
// secret is stored; the secret is shown once, at creation. Keys carry scopes and an optional expiry.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/duration.h"


namespace fm {

class SqliteDb;

// Scopes a key may carry (the cloud service's names).
inline constexpr const char* kScopeFoundationModels = "yc.ai.foundationModels.execute";  // every model
inline constexpr const char* kScopeLanguageModels = "yc.ai.languageModels.execute";
inline constexpr const char* kScopeImageGeneration = "yc.ai.imageGeneration.execute";
bool is_known_scope(const std::string& scope);

struct ApiKeyRecord {
  std::string id;      // public identifier, also embedded in the secret
  std::string folder;
  std::vector<std::string> scopes;
  int64_t created_at = 0;  // unix seconds
  int64_t expires_at = 0;  // 0 = never
  int64_t revoked_at = 0;  // 0 = active

  bool has_scope(const std::string& scope) const;
};

class KeyStore {
 public:
  // Opens (creating when needed) DIR/keys.sqlite3; throws std::runtime_error with the reason.
  static std::unique_ptr<KeyStore> open(const std::string& data_dir);
  ~KeyStore();

  struct Created {
    ApiKeyRecord record;
    std::string secret;
  };
  // expires_in_seconds <= 0: never expires. Scopes default to foundationModels.execute.
  Created create(const std::string& folder, std::vector<std::string> scopes, int64_t expires_in_seconds);
  std::vector<ApiKeyRecord> list() const;
  // Revokes by the secret itself or by the id; false when no such active key exists.
  bool revoke(const std::string& key_or_id);
  // The key's record when the secret is valid, active and unexpired (compared in constant time).
  std::optional<ApiKeyRecord> authenticate(const std::string& secret) const;

 private:
  explicit KeyStore(std::unique_ptr<SqliteDb> db);
  std::optional<std::pair<ApiKeyRecord, std::pair<std::string, std::string>>> find(const std::string& id) const;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace fm
