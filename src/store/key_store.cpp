#include "store/key_store.h"

#include "store/random_id.h"
#include "store/sqlite_db.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace fm {
namespace {

constexpr const char* kSecretPrefix = "fmk_";

std::string hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string salted_hash(const std::string& salt, const std::string& secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string input = salt + ":" + secret;
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 failed");
  return hex(digest, len);
}

// The id embedded in a secret "fmk_<id>_<random>", or "" when the text has another shape.
std::string id_of_secret(const std::string& secret) {
  if (secret.rfind(kSecretPrefix, 0) != 0) return {};
  const size_t sep = secret.find('_', 4);
  if (sep == std::string::npos) return {};
  return secret.substr(4, sep - 4);
}

std::vector<std::string> split_scopes(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string scope; in >> scope;) out.push_back(scope);
  return out;
}

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

ApiKeyRecord record_from(const Statement& st) {
  ApiKeyRecord r;
  r.id = st.text(0);
  r.folder = st.text(1);
  r.scopes = split_scopes(st.text(2));
  r.created_at = st.integer(3);
  r.expires_at = st.integer(4);
  r.revoked_at = st.integer(5);
  return r;
}

}  // namespace

bool is_known_scope(const std::string& scope) {
  return scope == kScopeFoundationModels || scope == kScopeLanguageModels || scope == kScopeImageGeneration;
}

bool ApiKeyRecord::has_scope(const std::string& scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::unique_ptr<KeyStore> KeyStore::open(const std::string& data_dir) {
  auto db = std::make_unique<SqliteDb>(data_dir, "keys.sqlite3",
      "CREATE TABLE IF NOT EXISTS api_keys ("
      " id TEXT PRIMARY KEY, folder TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL,"
      " expires_at INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT NULL DEFAULT 0,"
      " salt TEXT NOT NULL, hash TEXT NOT NULL);");
  return std::unique_ptr<KeyStore>(new KeyStore(std::move(db)));
}

KeyStore::KeyStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
KeyStore::~KeyStore() = default;

KeyStore::Created KeyStore::create(const std::string& folder, std::vector<std::string> scopes, int64_t expires_in) {
  if (folder.empty() || folder.size() > 128 || folder.find_first_of(" /\t\n") != std::string::npos)
    throw std::invalid_argument("folder id must be 1-128 characters without spaces or '/'");
  if (scopes.empty()) scopes.push_back(kScopeFoundationModels);
  for (const auto& s : scopes)
    if (!is_known_scope(s)) throw std::invalid_argument("unknown scope '" + s + "'");
  Created c;
  c.record.id = random_hex(8);
  c.record.folder = folder;
  c.record.scopes = scopes;
  c.record.created_at = std::time(nullptr);
  c.record.expires_at = expires_in > 0 ? c.record.created_at + expires_in : 0;
  c.secret = kSecretPrefix + c.record.id + "_" + random_hex(24);
  const std::string salt = random_hex(16);
  Statement st(*db_, "INSERT INTO api_keys (id, folder, scopes, created_at, expires_at, salt, hash) VALUES (?,?,?,?,?,?,?)");
  st.bind(1, c.record.id).bind(2, folder).bind(3, join_scopes(scopes)).bind(4, c.record.created_at);
  st.bind(5, c.record.expires_at).bind(6, salt).bind(7, salted_hash(salt, c.secret));
  st.step();
  return c;
}

std::vector<ApiKeyRecord> KeyStore::list() const {
  Statement st(*db_, "SELECT id, folder, scopes, created_at, expires_at, revoked_at FROM api_keys ORDER BY created_at, id");
  std::vector<ApiKeyRecord> out;
  while (st.step()) out.push_back(record_from(st));
  return out;
}

std::optional<std::pair<ApiKeyRecord, std::pair<std::string, std::string>>> KeyStore::find(const std::string& id) const {
  Statement st(*db_, "SELECT id, folder, scopes, created_at, expires_at, revoked_at, salt, hash FROM api_keys WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return std::make_pair(record_from(st), std::make_pair(st.text(6), st.text(7)));
}

bool KeyStore::revoke(const std::string& key_or_id) {
  std::string id = id_of_secret(key_or_id);
  if (!id.empty()) {
    if (!authenticate(key_or_id)) return false;  // a secret must match, not just look like one
  } else {
    id = key_or_id;
  }
  Statement st(*db_, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0");
  st.bind(1, static_cast<int64_t>(std::time(nullptr))).bind(2, id);
  st.step();
  return db_->changes() > 0;
}

std::optional<ApiKeyRecord> KeyStore::authenticate(const std::string& secret) const {
  const std::string id = id_of_secret(secret);
  if (id.empty() || secret.size() > 256) return std::nullopt;
  auto found = find(id);
  if (!found) return std::nullopt;
  const auto& [record, salt_hash] = *found;
  const std::string presented = salted_hash(salt_hash.first, secret);
  if (presented.size() != salt_hash.second.size() ||
      CRYPTO_memcmp(presented.data(), salt_hash.second.data(), presented.size()) != 0)
    return std::nullopt;
  if (record.revoked_at != 0) return std::nullopt;
  if (record.expires_at != 0 && record.expires_at <= std::time(nullptr)) return std::nullopt;
  return record;
}

}  // namespace fm
