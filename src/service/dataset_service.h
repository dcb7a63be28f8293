#pragma once
// Datasets: drafts, uploads (one PUT or numbered parts, written to files under DIR/datasets/<id>/, never kept in
// the database), validation as a durable operation (DRAFT -> VALIDATING -> READY | INVALID), preview, download
// and the result datasets batch tasks publish. Every call names the caller's folder: another folder's datasets
// answer NOT_FOUND, as if they did not exist.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "service/operation_runner.h"
#include "store/dataset_store.h"

namespace fm {

inline constexpr const char* kDatasetValidationOperation = "dataset_validation";
// Files of the OpenAI Files API are datasets of this type: name = filename, metadata = purpose.
inline constexpr const char* kFileTaskType = "OpenAIFile";

struct DatasetLimits {
  int64_t max_dataset_bytes = int64_t{5} << 30;  // a dataset's content
  int max_parts = 10000;                        // a multipart upload's parts
  size_t max_line_bytes = size_t{64} << 20;     // one row (a row with images can be large)
};

struct DatasetDraft {
  std::string name, description, metadata, task_type, upload_format = "jsonlines";
  std::map<std::string, std::string> labels;
  bool allow_data_log = false;
};

struct DatasetUpdate {
  std::optional<std::string> name, description;
  std::optional<std::map<std::string, std::string>> labels;
};

class DatasetService final : public OperationExecutor {
 public:
  DatasetService(DatasetStore& store, OperationRunner& runner, std::string data_dir, DatasetLimits limits = {});
  ~DatasetService() override;

  Dataset create(const std::string& folder, const std::string& created_by, const DatasetDraft& draft);
  Dataset get(const std::string& folder, const std::string& id) const;
  DatasetPage list(const DatasetQuery& query) const;
  Dataset update(const std::string& folder, const std::string& id, const std::string& updated_by, const DatasetUpdate& update);
  void remove(const std::string& folder, const std::string& id);

  // A DRAFT dataset's upload token (its URL's secret) for a content of `size_bytes`.
  Dataset prepare_upload(const std::string& folder, const std::string& id, int64_t size_bytes);
  // The same for `parts` numbered parts (1..parts).
  Dataset prepare_multipart(const std::string& folder, const std::string& id, int64_t size_bytes, int parts);
  // Stores an uploaded body: the whole content (part 0) or one part. Returns the part's ETag.
  std::string store_upload(const std::string& token, int part, const std::string& body);
  // Whether `token` names a DRAFT dataset's upload: the HTTP layer asks before it accepts a large body.
  bool accepts_upload(const std::string& token) const;
  // The same for a body the HTTP layer spooled to `file` (moved into place; removed when refused).
  std::string store_upload_file(const std::string& token, int part, const std::string& file);
  // Joins the uploaded parts (each listed with the ETag its upload returned) into the content.
  Dataset finish_multipart(const std::string& folder, const std::string& id, const std::vector<std::pair<int, std::string>>& parts);

  // Stores an uploaded file (OpenAI Files API) as a READY dataset of type kFileTaskType.
  Dataset create_file(const std::string& folder, const std::string& created_by, const std::string& filename,
                      const std::string& purpose, std::string_view content);

  // Starts validating a DRAFT dataset's content; returns the operation.
  Operation validate(const std::string& folder, const std::string& id, const std::string& created_by);
  // The first `count` rows of the content.
  std::vector<std::string> preview(const std::string& folder, const std::string& id, size_t count) const;
  // The dataset whose download token this is, and its content file.
  std::pair<Dataset, std::string> download(const std::string& token) const;

  // Any folder's dataset, for the services that run on stored work (batch tasks).
  std::optional<Dataset> find(const std::string& id) const { return store_.get(id); }
  // The content file of a dataset (READY datasets' rows, one per line).
  std::string content_path(const std::string& id) const;
  // Publishes a READY dataset whose content is the file at `file` (moved into place).
  Dataset publish(Dataset dataset, const std::string& file);
  // A dataset record reserved for content published later (a batch task's result).
  Dataset reserve(const std::string& folder, const std::string& created_by, const DatasetDraft& draft);
  std::string scratch_dir(const std::string& id) const;  // files being written for this dataset

  // OperationExecutor: validation runs.
  void start(std::shared_ptr<OperationRun> run) override;
  void cancelled(const Operation& op) override;  // the dataset goes back to DRAFT

 private:
  void run_validation(std::shared_ptr<OperationRun> run);
  Dataset owned(const std::string& folder, const std::string& id) const;
  Dataset upload_target(const std::string& token, int part, int64_t size) const;

  DatasetStore& store_;
  OperationRunner& runner_;
  std::string dir_;
  DatasetLimits limits_;
  std::thread worker_;  // the validation in progress (the kind runs one at a time)
};

}  // namespace fm
