#include "service/dataset_service.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "service/dataset_rows.h"
#include "service/service_error.h"
#include "util/file_io.h"
#include "util/line_reader.h"

namespace fm {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr size_t kMaxRowNumbersPerError = 100;

ServiceError not_found(const std::string& id) {
  return ServiceError(ErrorCode::kNotFound, "dataset '" + id + "' not found", "not_found");
}

ServiceError precondition(const std::string& message) {
  return ServiceError(ErrorCode::kFailedPrecondition, message, "failed_precondition");
}

// A part's ETag: a 64-bit FNV-1a of its bytes, quoted as HTTP entity tags are.
constexpr uint64_t kFnvBasis = 1469598103934665603ull;
uint64_t fnv(uint64_t h, const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 1099511628211ull;
  return h;
}
std::string etag_text(uint64_t h) {
  char hex[24];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string("\"") + hex + "\"";
}
std::string etag_of(const std::string& body) { return etag_text(fnv(kFnvBasis, body.data(), body.size())); }

// Streams `path` through `visit` in 1 MiB pieces.
template <typename F>
void each_block(const std::string& path, F&& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::string block(size_t{1} << 20, '\0');
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    if (in.gcount() > 0) visit(block.data(), static_cast<size_t>(in.gcount()));
  }
}

std::string etag_of_file(const std::string& path) {
  uint64_t h = kFnvBasis;
  each_block(path, [&](const char* data, size_t n) { h = fnv(h, data, n); });
  return etag_text(h);
}

std::string unquote(const std::string& s) {
  return s.size() >= 2 && s.front() == '"' && s.back() == '"' ? s.substr(1, s.size() - 2) : s;
}

void check_draft(const DatasetDraft& d) {
  if (d.name.empty()) throw invalid_argument("name is required");
  if (d.name.size() > 63) throw invalid_argument("name must be at most 63 characters");
  if (d.upload_format != "jsonlines") throw invalid_argument("uploadFormat must be \"jsonlines\"");
  const auto& types = dataset_task_types();
  if (std::find(types.begin(), types.end(), d.task_type) == types.end())
    throw invalid_argument("unknown taskType '" + d.task_type + "'");
}

// The row checks of task types this server does not run: each row must still be a JSON object.
void check_plain_row(const std::string& line) {
  const json row = json::parse(line, nullptr, false);
  if (row.is_discarded()) throw RowError("invalid_json", "the row is not valid JSON");
  if (!row.is_object()) throw RowError("bad_row", "the row is not a JSON object");
}

}  // namespace

DatasetService::DatasetService(DatasetStore& store, OperationRunner& runner, std::string data_dir, DatasetLimits limits)
    : store_(store), runner_(runner), dir_(std::move(data_dir)), limits_(limits) {
  fs::create_directories(fs::path(dir_) / "datasets");
}

DatasetService::~DatasetService() {
  if (worker_.joinable()) worker_.join();
}

std::string DatasetService::scratch_dir(const std::string& id) const { return (fs::path(dir_) / "datasets" / id).string(); }
std::string DatasetService::content_path(const std::string& id) const { return scratch_dir(id) + "/content.jsonl"; }

Dataset DatasetService::owned(const std::string& folder, const std::string& id) const {
  std::optional<Dataset> d = store_.get(id);
  if (!d || d->folder != folder) throw not_found(id);
  return *d;
}

Dataset DatasetService::create(const std::string& folder, const std::string& created_by, const DatasetDraft& draft) {
  check_draft(draft);
  Dataset d;
  d.folder = folder;
  d.created_by = created_by;
  d.name = draft.name;
  d.description = draft.description;
  d.metadata = draft.metadata;
  d.task_type = draft.task_type;
  d.upload_format = draft.upload_format;
  d.labels = draft.labels;
  d.allow_data_log = draft.allow_data_log;
  return store_.create(std::move(d));
}

Dataset DatasetService::create_file(const std::string& folder, const std::string& created_by, const std::string& filename,
                                    const std::string& purpose, std::string_view content) {
  if (filename.empty() || filename.size() > 255) throw invalid_argument("the file name must be 1 to 255 characters");
  if (static_cast<int64_t>(content.size()) > limits_.max_dataset_bytes) throw invalid_argument("the file exceeds the size limit");
  Dataset d;
  d.folder = folder;
  d.created_by = created_by;
  d.name = filename;
  d.metadata = purpose;
  d.task_type = kFileTaskType;
  d = store_.create(std::move(d));
  const std::string file = scratch_dir(d.id) + "/upload.jsonl";
  fs::create_directories(scratch_dir(d.id));
  write_file_durably(file, std::string(content));
  d.rows = count_lines(file);
  return publish(std::move(d), file);
}

Dataset DatasetService::reserve(const std::string& folder, const std::string& created_by, const DatasetDraft& draft) {
  if (draft.task_type != kFileTaskType) return create(folder, created_by, draft);
  Dataset d;  // a batch's output file
  d.folder = folder;
  d.created_by = created_by;
  d.name = draft.name;
  d.metadata = draft.metadata;
  d.task_type = kFileTaskType;
  d.labels = draft.labels;
  return store_.create(std::move(d));
}

Dataset DatasetService::get(const std::string& folder, const std::string& id) const { return owned(folder, id); }

DatasetPage DatasetService::list(const DatasetQuery& query) const {
  try {
    return store_.list(query);
  } catch (const std::invalid_argument& e) {
    throw invalid_argument(e.what());
  }
}

Dataset DatasetService::update(const std::string& folder, const std::string& id, const std::string& updated_by,
                               const DatasetUpdate& update) {
  Dataset d = owned(folder, id);
  if (update.name) {
    if (update.name->empty() || update.name->size() > 63) throw invalid_argument("name must be 1 to 63 characters");
    d.name = *update.name;
  }
  if (update.description) d.description = *update.description;
  if (update.labels) d.labels = *update.labels;
  d.updated_by = updated_by;
  if (!store_.put(d)) throw not_found(id);
  return d;
}

void DatasetService::remove(const std::string& folder, const std::string& id) {
  owned(folder, id);
  store_.remove(id);
  std::error_code ignored;
  fs::remove_all(scratch_dir(id), ignored);
}

Dataset DatasetService::prepare_upload(const std::string& folder, const std::string& id, int64_t size_bytes) {
  return prepare_multipart(folder, id, size_bytes, 0);
}

Dataset DatasetService::prepare_multipart(const std::string& folder, const std::string& id, int64_t size_bytes, int parts) {
  Dataset d = owned(folder, id);
  if (d.status != kDatasetDraft) throw precondition("dataset '" + id + "' is " + d.status + ": only a DRAFT takes uploads");
  if (size_bytes < 0) throw invalid_argument("sizeBytes must not be negative");
  if (size_bytes > limits_.max_dataset_bytes)
    throw invalid_argument("sizeBytes exceeds the dataset size limit of " + std::to_string(limits_.max_dataset_bytes) + " bytes");
  if (parts < 0 || parts > limits_.max_parts)
    throw invalid_argument("parts must be between 1 and " + std::to_string(limits_.max_parts));
  d.upload_parts = parts;
  store_.put(d);
  return d;
}

Dataset DatasetService::upload_target(const std::string& token, int part, int64_t size) const {
  std::optional<Dataset> d = store_.by_upload_token(token);
  if (!d) throw ServiceError(ErrorCode::kNotFound, "no upload at this URL", "not_found");
  if (d->status != kDatasetDraft) throw precondition("dataset '" + d->id + "' is " + d->status + ": only a DRAFT takes uploads");
  if (part < 0 || part > d->upload_parts || (part == 0) != (d->upload_parts == 0))
    throw invalid_argument(d->upload_parts == 0 ? "this dataset takes one upload, not parts"
                                                : "part numbers run from 1 to " + std::to_string(d->upload_parts));
  if (size > limits_.max_dataset_bytes)
    throw invalid_argument("the upload exceeds the dataset size limit of " + std::to_string(limits_.max_dataset_bytes) + " bytes");
  return *d;
}

bool DatasetService::accepts_upload(const std::string& token) const {
  try {
    const std::optional<Dataset> d = store_.by_upload_token(token);
    return d && d->status == kDatasetDraft;
  } catch (const std::exception&) {
    return false;
  }
}

std::string DatasetService::store_upload(const std::string& token, int part, const std::string& body) {
  Dataset d = upload_target(token, part, static_cast<int64_t>(body.size()));
  fs::create_directories(scratch_dir(d.id));
  if (part == 0) {
    write_file_durably(content_path(d.id), body);
    d.size_bytes = static_cast<int64_t>(body.size());
    store_.put_if_status(d, kDatasetDraft);
  } else {
    write_file_durably(scratch_dir(d.id) + "/part-" + std::to_string(part), body);
  }
  return etag_of(body);
}

std::string DatasetService::store_upload_file(const std::string& token, int part, const std::string& file) {
  try {
    const int64_t size = static_cast<int64_t>(fs::file_size(file));
    Dataset d = upload_target(token, part, size);
    const std::string etag = etag_of_file(file);
    fs::create_directories(scratch_dir(d.id));
    rename_durably(file, part == 0 ? content_path(d.id) : scratch_dir(d.id) + "/part-" + std::to_string(part));
    if (part == 0) {
      d.size_bytes = size;
      store_.put_if_status(d, kDatasetDraft);
    }
    return etag;
  } catch (...) {
    std::error_code ignored;
    fs::remove(file, ignored);
    throw;
  }
}

Dataset DatasetService::finish_multipart(const std::string& folder, const std::string& id,
                                         const std::vector<std::pair<int, std::string>>& parts) {
  Dataset d = owned(folder, id);
  if (d.status != kDatasetDraft) throw precondition("dataset '" + id + "' is " + d.status + ": only a DRAFT takes uploads");
  if (d.upload_parts == 0) throw precondition("no multipart upload was started for dataset '" + id + "'");
  if (static_cast<int>(parts.size()) != d.upload_parts)
    throw invalid_argument("uploadedParts lists " + std::to_string(parts.size()) + " parts; the upload has " + std::to_string(d.upload_parts));
  const std::string joined = content_path(id) + ".joining";
  int64_t total = 0;
  {
    std::ofstream out(joined, std::ios::binary | std::ios::trunc);
    for (int expected = 1; const auto& [num, etag] : parts) {
      if (num != expected++) throw invalid_argument("uploadedParts must list parts 1.." + std::to_string(d.upload_parts) + " in order");
      const std::string path = scratch_dir(id) + "/part-" + std::to_string(num);
      if (!fs::exists(path)) throw precondition("part " + std::to_string(num) + " was not uploaded");
      if (unquote(etag_of_file(path)) != unquote(etag)) throw invalid_argument("part " + std::to_string(num) + ": the ETag does not match the uploaded part");
      total += static_cast<int64_t>(fs::file_size(path));
      if (total > limits_.max_dataset_bytes) throw invalid_argument("the upload exceeds the dataset size limit");
      each_block(path, [&](const char* data, size_t n) { out.write(data, static_cast<std::streamsize>(n)); });
    }
    out.flush();
    if (!out) throw ServiceError(ErrorCode::kInternal, "cannot write the dataset's content");
  }
  sync_path(joined);
  rename_durably(joined, content_path(id));
  for (const auto& [num, etag] : parts) fs::remove(scratch_dir(id) + "/part-" + std::to_string(num));
  d.size_bytes = total;
  d.upload_parts = 0;
  store_.put(d);
  return d;
}

Operation DatasetService::validate(const std::string& folder, const std::string& id, const std::string& created_by) {
  Dataset d = owned(folder, id);
  if (d.status != kDatasetDraft) throw precondition("dataset '" + id + "' is " + d.status + ": only a DRAFT is validated");
  if (!fs::exists(content_path(id))) throw precondition("dataset '" + id + "' has no uploaded content");
  d.status = kDatasetValidating;
  if (!store_.put_if_status(d, kDatasetDraft)) throw precondition("dataset '" + id + "' is no longer a DRAFT");
  return runner_.submit(folder, kDatasetValidationOperation, "Dataset validation", created_by, {{"datasetId", id}});
}

std::vector<std::string> DatasetService::preview(const std::string& folder, const std::string& id, size_t count) const {
  owned(folder, id);
  std::vector<std::string> lines;
  if (!fs::exists(content_path(id))) return lines;
  LineReader reader(content_path(id), limits_.max_line_bytes);
  std::string line;
  bool too_long;
  while (lines.size() < count && reader.next(line, too_long)) lines.push_back(line);
  return lines;
}

std::pair<Dataset, std::string> DatasetService::download(const std::string& token) const {
  std::optional<Dataset> d = store_.by_upload_token(token);
  if (!d || !fs::exists(content_path(d->id))) throw ServiceError(ErrorCode::kNotFound, "no download at this URL", "not_found");
  return {*d, content_path(d->id)};
}

Dataset DatasetService::publish(Dataset d, const std::string& file) {
  fs::create_directories(scratch_dir(d.id));
  rename_durably(file, content_path(d.id));
  d.size_bytes = static_cast<int64_t>(fs::file_size(content_path(d.id)));
  d.status = kDatasetReady;
  store_.put(d);
  return d;
}

void DatasetService::start(std::shared_ptr<OperationRun> run) {
  if (worker_.joinable()) worker_.join();  // one validation at a time: the previous one has finished
  worker_ = std::thread([this, run] {
    try {
      run_validation(run);
    } catch (const std::exception& e) {  // the store or the disk failed: the operation stays pending
      std::clog << "fmserve: validating for operation " << run->operation().id << " failed: " << e.what() << std::endl;
    }
    run->finish();
  });
}

void DatasetService::cancelled(const Operation& op) {
  std::optional<Dataset> d = store_.get(op.request.value("datasetId", ""));
  if (!d || d->status != kDatasetValidating) return;
  d->status = kDatasetDraft;
  store_.put_if_status(*d, kDatasetValidating);
}

void DatasetService::run_validation(std::shared_ptr<OperationRun> run) {
  const Operation& op = run->operation();
  const std::string id = op.request.value("datasetId", "");
  std::optional<Dataset> found = store_.get(id);
  if (!found || found->status != kDatasetValidating) {
    runner_.store().fail(op.id, {static_cast<int>(ErrorCode::kFailedPrecondition), "dataset '" + id + "' is no longer being validated"});
    return;
  }
  Dataset d = *found;
  const int64_t total = count_lines(content_path(id));
  std::map<std::string, DatasetValidationError> errors;  // by kind, in the order met
  std::vector<std::string> order;
  auto report = [&](int64_t row, const std::string& kind, const std::string& message) {
    auto [it, fresh] = errors.try_emplace(kind, DatasetValidationError{kind, message, {}});
    if (fresh) order.push_back(kind);
    if (it->second.rows.size() < kMaxRowNumbersPerError) it->second.rows.push_back(row);
  };
  int64_t valid = 0, processed = 0;
  auto progress = [&] {
    runner_.store().set_metadata(op.id, {{"@type", "type.googleapis.com/yandex.cloud.ai.dataset.v1.ValidateDatasetMetadata"},
                                         {"datasetId", id}, {"validRows", std::to_string(valid)},
                                         {"processedRows", std::to_string(processed)}, {"totalRows", std::to_string(total)}});
  };
  LineReader reader(content_path(id), limits_.max_line_bytes);
  std::string line;
  bool too_long;
  auto last_report = std::chrono::steady_clock::now();
  while (reader.next(line, too_long)) {
    if (run->cancelled()) return;  // cancelled: the dataset went back to DRAFT; stopping: validated again at start
    ++processed;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are no rows
    try {
      if (too_long) throw RowError("row_too_long", "a row exceeds " + std::to_string(limits_.max_line_bytes) + " bytes");
      if (is_generation_task_type(d.task_type)) check_row_images(parse_generation_row(d.task_type, line));
      else check_plain_row(line);
      ++valid;
    } catch (const RowError& e) {
      report(reader.line_number(), e.kind(), e.what());
    }
    if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(1)) {
      progress();
      last_report = std::chrono::steady_clock::now();
    }
  }
  if (valid == 0 && errors.empty()) report(0, "empty_dataset", "the dataset has no rows");
  progress();
  d.rows = valid;
  d.validation_errors.clear();
  for (const auto& kind : order) d.validation_errors.push_back(errors[kind]);
  d.status = d.validation_errors.empty() ? kDatasetReady : kDatasetInvalid;
  if (!store_.put_if_status(d, kDatasetValidating)) return;  // deleted or cancelled meanwhile
  json list = json::array();
  for (const auto& e : d.validation_errors) {
    json rows = json::array();
    for (int64_t r : e.rows) rows.push_back(std::to_string(r));
    list.push_back({{"error", e.error}, {"errorDescription", e.description}, {"rowNumbers", rows}});
  }
  runner_.store().complete(op.id, {{"@type", "type.googleapis.com/yandex.cloud.ai.dataset.v1.ValidateDatasetResponse"},
                                   {"datasetId", id}, {"isValid", d.status == kDatasetReady}, {"errors", list}});
}

}  // namespace fm
