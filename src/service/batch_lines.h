#pragma once
// The engine of batch work, shared by batch tasks (BatchService) and `fmserve batch run`: runs the lines of a
// JSON Lines file that have no stored result yet through the generation service, several at a time and at
// background priority, storing each line's result as it finishes; and writes the stored results out in input order.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "service/generation_service.h"
#include "store/batch_store.h"

namespace fm {

struct BatchLinesJob {
  std::string task_id;      // results are stored under this id
  std::string source_path;  // the rows, one per line (blank lines are skipped)
  std::string task_type;    // the rows' dataset task type
  nlohmann::json base;      // the GenerationRequest (service JSON) every line starts from; its messages come from the row
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
BatchLinesEnd run_batch_lines(BatchStore& store, GenerationService& generation, const BatchLinesJob& job,
                              const std::function<bool()>& cancelled,
                              const std::function<void(const BatchLinesProgress&)>& progress);

// Counts the non-blank lines of a source file.
int64_t count_rows(const std::string& source_path, size_t max_line_bytes);

// Writes the task's stored results in input order as JSON Lines {"request": <the row's request>, "response": "…"}
// to `out_path` (durably); failed lines are written as {"request": …, "error": "…"} when `with_errors`, else
// left out. Returns the rows written.
int64_t write_batch_results(const BatchStore& store, const BatchLinesJob& job, const std::string& out_path, bool with_errors);

}  // namespace fm
