#include "store/dataset_store.h"

#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "store/operation_store.h"
#include "store/random_id.h"
#include "store/sqlite_db.h"

namespace fm {
namespace {

using json = nlohmann::json;

// The record is one JSON document; the columns beside it are what queries filter and order on.
json to_doc(const Dataset& d) {
  json errors = json::array();
  for (const auto& e : d.validation_errors) errors.push_back({{"error", e.error}, {"description", e.description}, {"rows", e.rows}});
  return {{"id", d.id}, {"folder", d.folder}, {"name", d.name}, {"description", d.description}, {"metadata", d.metadata},
          {"task_type", d.task_type}, {"upload_format", d.upload_format}, {"status", d.status},
          {"created_by", d.created_by}, {"updated_by", d.updated_by}, {"labels", d.labels},
          {"created_at_ms", d.created_at_ms}, {"updated_at_ms", d.updated_at_ms}, {"rows", d.rows},
          {"size_bytes", d.size_bytes}, {"validation_errors", errors}, {"allow_data_log", d.allow_data_log},
          {"upload_token", d.upload_token}, {"upload_parts", d.upload_parts}};
}

Dataset from_doc(const std::string& text) {
  const json j = json::parse(text);
  Dataset d;
  d.id = j.at("id");
  d.folder = j.at("folder");
  d.name = j.value("name", "");
  d.description = j.value("description", "");
  d.metadata = j.value("metadata", "");
  d.task_type = j.value("task_type", "");
  d.upload_format = j.value("upload_format", "jsonlines");
  d.status = j.value("status", kDatasetDraft);
  d.created_by = j.value("created_by", "");
  d.updated_by = j.value("updated_by", "");
  d.labels = j.value("labels", std::map<std::string, std::string>{});
  d.created_at_ms = j.value("created_at_ms", int64_t{0});
  d.updated_at_ms = j.value("updated_at_ms", int64_t{0});
  d.rows = j.value("rows", int64_t{0});
  d.size_bytes = j.value("size_bytes", int64_t{0});
  for (const auto& e : j.value("validation_errors", json::array()))
    d.validation_errors.push_back({e.value("error", ""), e.value("description", ""), e.value("rows", std::vector<int64_t>{})});
  d.allow_data_log = j.value("allow_data_log", false);
  d.upload_token = j.value("upload_token", "");
  d.upload_parts = j.value("upload_parts", 0);
  return d;
}

bool contains(const std::vector<std::string>& set, const std::string& value) {
  if (set.empty()) return true;
  for (const auto& s : set)
    if (s == value) return true;
  return false;
}

class SqliteDatasetStore final : public DatasetStore {
 public:
  explicit SqliteDatasetStore(const std::string& data_dir)
      : db_(data_dir, "datasets.sqlite3",
            "CREATE TABLE IF NOT EXISTS datasets (id TEXT PRIMARY KEY, folder TEXT NOT NULL, status TEXT NOT NULL,"
            " upload_token TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, doc TEXT NOT NULL);"
            "CREATE INDEX IF NOT EXISTS datasets_by_folder ON datasets (folder, created_at);") {}

  Dataset create(Dataset d) override {
    d.id = random_id("fds");
    d.upload_token = random_hex(24);
    d.created_at_ms = d.updated_at_ms = now_ms();
    if (d.updated_by.empty()) d.updated_by = d.created_by;
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "INSERT INTO datasets (id, folder, status, upload_token, created_at, doc) VALUES (?,?,?,?,?,?)");
    st.bind(1, d.id).bind(2, d.folder).bind(3, d.status).bind(4, d.upload_token).bind(5, d.created_at_ms).bind(6, to_doc(d).dump());
    st.step();
    return d;
  }

  std::optional<Dataset> get(const std::string& id) const override { return one("SELECT doc FROM datasets WHERE id = ?", id); }

  std::optional<Dataset> by_upload_token(const std::string& token) const override {
    return one("SELECT doc FROM datasets WHERE upload_token = ?", token);
  }

  DatasetPage list(const DatasetQuery& q) const override {
    size_t offset = 0;
    if (!q.page_token.empty()) {
      try {
        offset = std::stoull(q.page_token);
      } catch (const std::exception&) {
        throw std::invalid_argument("pageToken is not a token this server issued");
      }
    }
    const size_t page = q.page_size == 0 ? 100 : q.page_size;
    DatasetPage out;
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "SELECT doc FROM datasets WHERE folder = ? ORDER BY created_at, rowid");
    st.bind(1, q.folder);
    size_t matched = 0;
    while (st.step()) {
      Dataset d = from_doc(st.text(0));
      if (!contains(q.statuses, d.status) || !contains(q.task_types, d.task_type) || !contains(q.ids, d.id)) continue;
      if (!q.name_pattern.empty() && d.name.find(q.name_pattern) == std::string::npos) continue;
      if (matched++ < offset) continue;
      if (out.datasets.size() == page) {
        out.next_page_token = std::to_string(offset + page);
        break;
      }
      out.datasets.push_back(std::move(d));
    }
    return out;
  }

  bool put(Dataset& d) override {
    d.updated_at_ms = now_ms();
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE datasets SET status = ?, doc = ? WHERE id = ?");
    st.bind(1, d.status).bind(2, to_doc(d).dump()).bind(3, d.id);
    st.step();
    return db_.changes() > 0;
  }

  bool put_if_status(Dataset& d, const std::string& expected) override {
    d.updated_at_ms = now_ms();
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "UPDATE datasets SET status = ?, doc = ? WHERE id = ? AND status = ?");
    st.bind(1, d.status).bind(2, to_doc(d).dump()).bind(3, d.id).bind(4, expected);
    st.step();
    return db_.changes() > 0;
  }

  bool remove(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, "DELETE FROM datasets WHERE id = ?");
    st.bind(1, id);
    st.step();
    return db_.changes() > 0;
  }

 private:
  std::optional<Dataset> one(const char* sql, const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement st(db_, sql);
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return from_doc(st.text(0));
  }

  mutable std::mutex mutex_;
  SqliteDb db_;
};

}  // namespace

std::unique_ptr<DatasetStore> open_sqlite_dataset_store(const std::string& data_dir) {
  return std::make_unique<SqliteDatasetStore>(data_dir);
}

}  // namespace fm
