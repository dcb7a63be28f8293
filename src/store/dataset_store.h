#pragma once
// Datasets' records (status, counts, validation errors, labels) in an embedded database; their content lives in
// files the dataset service manages under the data directory. A record names the unguessable token that its
// upload and download URLs carry in place of an API key.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fm {

// Statuses by their wire names.
inline constexpr const char* kDatasetDraft = "DRAFT";
inline constexpr const char* kDatasetValidating = "VALIDATING";
inline constexpr const char* kDatasetReady = "READY";
inline constexpr const char* kDatasetInvalid = "INVALID";

struct DatasetValidationError {
  std::string error, description;
  std::vector<int64_t> rows;  // 1-based row numbers (a sample when there are many)
};

struct Dataset {
  std::string id, folder, name, description, metadata, task_type, upload_format = "jsonlines";
  std::string status = kDatasetDraft, created_by, updated_by;
  std::map<std::string, std::string> labels;
  int64_t created_at_ms = 0, updated_at_ms = 0;
  int64_t rows = 0, size_bytes = 0;
  std::vector<DatasetValidationError> validation_errors;
  bool allow_data_log = false;
  std::string upload_token;  // the secret in the dataset's upload and download URLs
  int upload_parts = 0;      // a multipart upload in progress: the parts expected (0: none)
};

struct DatasetQuery {
  std::string folder;                     // required: datasets are visible only to their folder
  std::vector<std::string> statuses, task_types, ids;  // empty: any
  std::string name_pattern;               // a substring of the name; empty: any
  size_t page_size = 100;
  std::string page_token;                 // from the previous page
};

struct DatasetPage {
  std::vector<Dataset> datasets;
  std::string next_page_token;  // empty on the last page
};

class DatasetStore {
 public:
  virtual ~DatasetStore() = default;
  // Stores a new dataset (assigning its id, upload token and timestamps) and returns it.
  virtual Dataset create(Dataset dataset) = 0;
  virtual std::optional<Dataset> get(const std::string& id) const = 0;
  virtual std::optional<Dataset> by_upload_token(const std::string& token) const = 0;
  virtual DatasetPage list(const DatasetQuery& query) const = 0;
  // Replaces a stored dataset's record (updated_at is set); false when it is gone.
  virtual bool put(Dataset& dataset) = 0;
  // Replaces the record only while its status is still `expected_status`; false otherwise (someone moved it on).
  virtual bool put_if_status(Dataset& dataset, const std::string& expected_status) = 0;
  virtual bool remove(const std::string& id) = 0;
};

// The embedded default: DIR/datasets.sqlite3.
std::unique_ptr<DatasetStore> open_sqlite_dataset_store(const std::string& data_dir);

}  // namespace fm
