#pragma once
// The engine of batch work, shared by batch tasks (BatchService) and `fmserve batch run`: runs the lines of a
// JSON Lines file that have no stored result yet through the generation service, several at a time and at
// background priority, storing each line's result as it finishes; and writes the stored results out in input order.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "service/embedding_service.h"
#include "service/generation_service.h"
#include "store/batch_store.h"

namespace fm {

// What a line asks for: a generation, or (OpenAI batches to /v1/embeddings) embeddings.
using LineRequest = std::variant<GenerationRequest, EmbeddingRequest>;

// The services batch lines run on. Without an embedding service, embedding lines fail one by one.
struct BatchEngines {
  GenerationService& generation;
  EmbeddingService* embeddings = nullptr;
};

// How a batch reads its lines and writes its results: dataset rows (the native API, the CLI) or the lines of an
// OpenAI Batch API input file.
class BatchFormat {
 public:
  virtual ~BatchFormat() = default;
  // What a line asks for, starting from `base` (the task's model and options); throws RowError. A line's stored
  // result is the service's result as JSON: to_json(GenerationResult), or embedding_result_json for embeddings.
  virtual LineRequest request(const std::string& line, const GenerationRequest& base) const = 0;
  // The output line for a line's stored result (without "\n"); "" leaves the line out of this output.
  virtual std::string output_line(const std::string& source_line, const LineResult& result) const = 0;
  virtual std::string error_line(const std::string& source_line, const LineResult& result) const = 0;
};

// Dataset rows ({"request":[messages]}) of a task type; results are {"request", "response"} rows, and failed lines
// are {"request", "error"} rows when `errors_inline` (the CLI's output), else left out (the API lists them apart).
class DatasetRowsFormat final : public BatchFormat {
 public:
  DatasetRowsFormat(std::string task_type, bool errors_inline) : task_type_(std::move(task_type)), errors_inline_(errors_inline) {}
  LineRequest request(const std::string& line, const GenerationRequest& base) const override;
  std::string output_line(const std::string& source_line, const LineResult& result) const override;
  std::string error_line(const std::string& source_line, const LineResult& result) const override;

 private:
  std::string task_type_;
  bool errors_inline_;
};

struct BatchLinesJob {
  std::string task_id;      // results are stored under this id
  std::string source_path;  // the rows, one per line (blank lines are skipped)
  const BatchFormat* format = nullptr;
  nlohmann::json base;      // the GenerationRequest (service JSON) every line starts from
  int in_flight = 8;
  size_t max_line_bytes = size_t{64} << 20;
};

struct BatchLinesProgress {
  int64_t rows = 0;               // non-blank lines in the source
  int64_t done = 0, failed = 0;   // lines with a stored result (failed: an error result)
  int64_t completion_tokens = 0;  // generated during this call
};

enum class BatchLinesEnd { kFinished, kCancelled };

// Runs the job until every row has a result or `cancelled()` turns true (then the lines in flight are cancelled
// and left without a result). `progress` is called after each stored result (from the scheduler's threads, one
// call at a time). A row that fails (bad shape, the model refused it) gets an error result; a store that cannot
// write throws.
BatchLinesEnd run_batch_lines(BatchStore& store, const BatchEngines& engines, const BatchLinesJob& job,
                              const std::function<bool()>& cancelled,
                              const std::function<void(const BatchLinesProgress&)>& progress);

// An embedding line's stored result: {"embeddings": [[…]], "tokens": [n…], "model_version": "…"}, and back.
nlohmann::json embedding_result_json(const EmbeddingResult& result);
EmbeddingResult embedding_result_from_json(const nlohmann::json& j);

// Counts the non-blank lines of a source file.
int64_t count_rows(const std::string& source_path, size_t max_line_bytes);

enum class BatchOutput { kResults, kErrors };
// Writes the task's stored results in input order, one line each as the job's format shapes it (its output or its
// error lines), to `out_path` (durably). Returns the lines written.
int64_t write_batch_results(const BatchStore& store, const BatchLinesJob& job, const std::string& out_path, BatchOutput which);

}  // namespace fm
