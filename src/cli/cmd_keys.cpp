// `fmserve keys create|list|revoke`: folders' API keys in the data directory's key store.
#include <ctime>
#include <iomanip>
#include <iostream>
#include <stdexcept>

#include "cli/commands.h"
#include "store/key_store.h"

namespace fm::cli {
namespace {
std::string format_time(int64_t t) {
  if (t == 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

int run_keys(const KeysOptions& opt) {
  if (opt.data_dir.empty()) throw std::invalid_argument("--data-dir is required");
  auto store = KeyStore::open(opt.data_dir);
  if (opt.action == "create") {
    const int64_t expires_in = opt.expires_in.empty() ? 0 : parse_duration_seconds(opt.expires_in);
    const KeyStore::Created c = store->create(opt.folder, opt.scopes, expires_in);
    std::string scopes;
    for (const auto& s : c.record.scopes) scopes += (scopes.empty() ? "" : ",") + s;
    std::cout << "id: " << c.record.id << "\nfolder: " << c.record.folder << "\nscopes: " << scopes
              << "\nexpires: " << format_time(c.record.expires_at)
              << "\nThe secret is shown only now; store it safely:\n"
              << c.secret << std::endl;
    return 0;
  }
  if (opt.action == "list") {
    const int64_t now = std::time(nullptr);
    std::cout << std::left << std::setw(18) << "ID" << std::setw(24) << "FOLDER" << std::setw(10) << "STATUS"
              << std::setw(22) << "CREATED" << std::setw(22) << "EXPIRES" << "SCOPES\n";
    for (const ApiKeyRecord& r : store->list()) {
      std::string scopes;
      for (const auto& s : r.scopes) scopes += (scopes.empty() ? "" : ",") + s;
      const char* status = r.revoked_at ? "revoked" : (r.expires_at && r.expires_at <= now) ? "expired" : "active";
      std::cout << std::left << std::setw(18) << r.id << std::setw(24) << r.folder << std::setw(10) << status
                << std::setw(22) << format_time(r.created_at) << std::setw(22) << format_time(r.expires_at) << scopes
                << "\n";
    }
    return 0;
  }
  if (opt.action == "revoke") {
    if (!store->revoke(opt.key)) throw std::invalid_argument("no active key matches '" + opt.key.substr(0, 24) + "'");
    std::cout << "revoked" << std::endl;
    return 0;
  }
  throw std::invalid_argument("unknown keys action '" + opt.action + "'");
}

}  // namespace fm::cli
