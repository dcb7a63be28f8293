#include "service/batch_lines.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

#include "service/dataset_rows.h"
#include "service/service_error.h"
#include "util/file_io.h"
#include "util/line_reader.h"

namespace fm {

namespace {

using json = nlohmann::json;

bool blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

// What the lines in flight share: a slot count, the progress, and the first store failure.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  BatchLinesProgress progress;
  std::string store_failure;
};

class LineObserver final : public GenerationObserver {
 public:
  LineObserver(BatchStore& store, std::string task, int64_t line, std::shared_ptr<Shared> shared,
               std::function<bool()> cancelled, const std::function<void(const BatchLinesProgress&)>& progress)
      : store_(store), task_(std::move(task)), line_(line), shared_(std::move(shared)), cancelled_(std::move(cancelled)),
        progress_(progress) {}

  void on_finished(const GenerationResult& result) override {
    LineResult r;
    r.line = line_;
    r.response = result.choices.empty() ? std::string() : result.choices[0].text;
    r.prompt_tokens = result.usage.prompt_tokens;
    r.completion_tokens = result.usage.completion_tokens;
    r.result = to_json(result).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    record(r);
  }

  // An embedding line's outcome (EmbeddingService::Done).
  void on_embedded(const EmbeddingResult* result, const ServiceError* error) {
    if (error) return on_failed(*error);
    LineResult r;
    r.line = line_;
    r.response = "";  // a result without text: the embeddings are in r.result
    r.prompt_tokens = result->total_tokens();
    r.result = embedding_result_json(*result).dump();
    record(r);
  }

  void on_failed(const ServiceError& error) override {
    // A line cancelled with its task (or because the process stops) gets no result: a resumed run does it again.
    if (error.code() == ErrorCode::kCancelled || cancelled_()) return record(std::nullopt);
    LineResult r;
    r.line = line_;
    r.error = error.what();
    r.error_code = static_cast<int>(error.code());
    record(r);
  }

 private:
  void record(const std::optional<LineResult>& r) {
    std::string failure;
    bool stored = false;
    if (r) {
      try {
        stored = store_.put_result(task_, *r);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (!failure.empty() && shared_->store_failure.empty()) shared_->store_failure = failure;
    if (stored) {
      ++shared_->progress.done;
      if (!r->response) ++shared_->progress.failed;
      shared_->progress.completion_tokens += r->completion_tokens;
      if (progress_) progress_(shared_->progress);
    }
    --shared_->in_flight;
    shared_->changed.notify_all();
  }

  BatchStore& store_;
  std::string task_;
  int64_t line_;
  std::shared_ptr<Shared> shared_;
  std::function<bool()> cancelled_;
  const std::function<void(const BatchLinesProgress&)>& progress_;
};

}  // namespace

int64_t count_rows(const std::string& source_path, size_t max_line_bytes) {
  LineReader reader(source_path, max_line_bytes);
  std::string line;
  bool too_long;
  int64_t rows = 0;
  while (reader.next(line, too_long)) rows += !blank(line);
  return rows;
}

json embedding_result_json(const EmbeddingResult& result) {
  return {{"embeddings", result.embeddings}, {"tokens", result.tokens}, {"model_version", result.model_version}};
}

EmbeddingResult embedding_result_from_json(const json& j) {
  EmbeddingResult r;
  r.embeddings = j.at("embeddings").get<std::vector<std::vector<float>>>();
  r.tokens = j.at("tokens").get<std::vector<int64_t>>();
  r.model_version = j.value("model_version", "");
  return r;
}

BatchLinesEnd run_batch_lines(BatchStore& store, const BatchEngines& engines, const BatchLinesJob& job,
                              const std::function<bool()>& cancelled,
                              const std::function<void(const BatchLinesProgress&)>& progress) {
  const std::vector<int64_t> finished = store.finished_lines(job.task_id);
  const std::unordered_set<int64_t> done(finished.begin(), finished.end());
  auto shared = std::make_shared<Shared>();
  shared->progress.rows = count_rows(job.source_path, job.max_line_bytes);
  shared->progress.done = static_cast<int64_t>(done.size());
  store.each_result(job.task_id, [&](const LineResult& r) { shared->progress.failed += !r.response; });
  const GenerationRequest base = generation_request_from_json(job.base);
  const int slots = std::max(1, job.in_flight);
  std::vector<std::shared_ptr<GenerationHandle>> handles;  // of the lines started (cancelled together)

  auto wait_for_slot = [&](int limit) {
    std::unique_lock<std::mutex> lock(shared->mutex);
    for (bool cancelling = false;;) {
      if (shared->in_flight < limit) return;
      if (!cancelling && cancelled()) {
        cancelling = true;
        lock.unlock();
        for (auto& h : handles) h->cancel();
        lock.lock();
      }
      shared->changed.wait_for(lock, std::chrono::milliseconds(200));
    }
  };

  LineReader reader(job.source_path, job.max_line_bytes);
  std::string line;
  bool too_long;
  bool stopped = false;
  while (reader.next(line, too_long)) {
    const int64_t number = reader.line_number();
    if (blank(line) || done.count(number)) continue;
    wait_for_slot(slots);
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      if (!shared->store_failure.empty()) break;
    }
    if (cancelled()) {
      stopped = true;
      break;
    }
    handles.erase(std::remove_if(handles.begin(), handles.end(), [](const auto& h) { return h.use_count() == 1; }), handles.end());
    LineRequest request;
    auto observer = std::make_shared<LineObserver>(store, job.task_id, number, shared, cancelled, progress);
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      ++shared->in_flight;
    }
    try {
      if (too_long) throw RowError("row_too_long", "the row exceeds " + std::to_string(job.max_line_bytes) + " bytes");
      GenerationRequest line_base = base;
      line_base.priority = Priority::kBackground;
      request = job.format->request(line, line_base);
    } catch (const RowError& e) {
      observer->on_failed(ServiceError(ErrorCode::kInvalidArgument, e.what()));
      continue;
    }
    if (auto* embedding = std::get_if<EmbeddingRequest>(&request)) {
      if (!engines.embeddings) {
        observer->on_failed(ServiceError(ErrorCode::kUnimplemented, "embedding lines cannot run here"));
        continue;
      }
      engines.embeddings->embed(std::move(*embedding), [observer](const EmbeddingResult* result, const ServiceError* error) {
        observer->on_embedded(result, error);
      });
      continue;
    }
    GenerationRequest generation = std::get<GenerationRequest>(std::move(request));
    generation.priority = Priority::kBackground;
    auto handle = std::make_shared<GenerationHandle>();
    handles.push_back(handle);
    engines.generation.start(std::move(generation), observer, handle);
  }
  wait_for_slot(1);  // every line started has ended
  std::lock_guard<std::mutex> lock(shared->mutex);
  if (!shared->store_failure.empty()) throw std::runtime_error("storing a batch result failed: " + shared->store_failure);
  return stopped || cancelled() ? BatchLinesEnd::kCancelled : BatchLinesEnd::kFinished;
}

int64_t write_batch_results(const BatchStore& store, const BatchLinesJob& job, const std::string& out_path, BatchOutput which) {
  const std::string tmp = out_path + ".writing";
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (!out) throw std::runtime_error("cannot create '" + tmp + "'");
  LineReader reader(job.source_path, job.max_line_bytes);
  std::string line;
  bool too_long;
  int64_t written = 0;
  bool write_failed = false;
  store.each_result(job.task_id, [&](const LineResult& r) {
    // Results come in line order: advance the source to the result's line.
    while (reader.line_number() < r.line && reader.next(line, too_long)) {}
    if (reader.line_number() != r.line) return;
    std::string text = which == BatchOutput::kResults ? job.format->output_line(too_long ? std::string() : line, r)
                                                      : job.format->error_line(too_long ? std::string() : line, r);
    if (text.empty()) return;
    text += '\n';
    write_failed |= std::fwrite(text.data(), 1, text.size(), out) != text.size();
    ++written;
  });
  write_failed |= std::fflush(out) != 0 || ::fsync(::fileno(out)) != 0;
  std::fclose(out);
  if (write_failed) throw std::runtime_error("cannot write '" + tmp + "'");
  rename_durably(tmp, out_path);
  return written;
}

LineRequest DatasetRowsFormat::request(const std::string& line, const GenerationRequest& base) const {
  GenerationRequest r = base;
  r.messages = parse_generation_row(task_type_, line);
  return r;
}

namespace {
json row_request(const std::string& source_line) {
  const json source = json::parse(source_line, nullptr, false);
  return source.is_object() && source.contains("request") ? source["request"] : json(nullptr);
}
std::string dump_row(const json& row) { return row.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

std::string DatasetRowsFormat::output_line(const std::string& source_line, const LineResult& r) const {
  if (!r.response) return errors_inline_ ? error_line(source_line, r) : std::string();
  return dump_row({{"request", row_request(source_line)}, {"response", *r.response}});
}

std::string DatasetRowsFormat::error_line(const std::string& source_line, const LineResult& r) const {
  if (r.response) return "";
  return dump_row({{"request", row_request(source_line)}, {"error", r.error}});
}

}  // namespace fm
