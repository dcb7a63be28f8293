#include "support/api_harness.h"

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/api_server.h"
#include "support/tiny_model.h"

namespace fm::test {
namespace {

class CapturingResponder final : public Responder {
 public:
  void respond(int status, const std::string& content_type, std::string body,
               const std::map<std::string, std::string>&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (answered_) return;
    answered_ = true;
    response_.status = status;
    response_.content_type = content_type;
    response_.body = std::move(body);
    response_.completed = true;
    cv_.notify_all();
  }
  void start_stream(int status, const std::string& content_type) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (answered_) return;
    answered_ = true;
    response_.status = status;
    response_.content_type = content_type;
    response_.streamed = true;
  }
  bool write_chunk(std::string data) override {
    std::lock_guard<std::mutex> lock(mutex_);
    response_.body += data;
    return true;
  }
  void end_stream() override {
    std::lock_guard<std::mutex> lock(mutex_);
    response_.completed = true;
    cv_.notify_all();
  }
  bool client_gone() const override { return false; }
  void on_disconnect(std::function<void()>) override {}

  ApiResponse wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return response_.completed; });
    return response_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool answered_ = false;
  ApiResponse response_;
};

}  // namespace

struct ApiHarness::Impl {
  std::filesystem::path dir;
  std::unique_ptr<KeyStore> keys;
  std::unique_ptr<OperationStore> operation_store;
  std::unique_ptr<ModelManager> models;
  std::unique_ptr<GenerationService> generation;
  std::unique_ptr<EmbeddingService> embeddings;
  std::unique_ptr<ClassificationService> classification;
  std::unique_ptr<OperationRunner> operations;
  std::unique_ptr<DatasetStore> dataset_store;
  std::unique_ptr<DatasetService> datasets;
  std::unique_ptr<BatchStore> batch_store;
  std::unique_ptr<BatchService> batches;
  Metrics metrics;
  std::unique_ptr<Api> api;
  std::string secret;

  Impl() {
    dir = std::filesystem::temp_directory_path() / ("fmserve-api-" + std::to_string(getpid()) + "-" +
                                                    std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir);
    const std::vector<uint8_t> model = build_tiny_llama();
    std::ofstream((dir / "tiny.gguf").string(), std::ios::binary)
        .write(reinterpret_cast<const char*>(model.data()), static_cast<std::streamsize>(model.size()));
    ServiceConfig config = parse_service_config("models:\n"
                                                "  - name: tiny\n"
                                                "    context: 64\n"
                                                "    branches: {latest: " + (dir / "tiny.gguf").string() + "}\n"
                                                "  - name: tiny-embed\n"
                                                "    kind: embedding\n"
                                                "    context: 64\n"
                                                "    branches: {latest: " + (dir / "tiny.gguf").string() + "}\n"
                                                "  - name: broken\n"
                                                "    branches: {latest: " + (dir / "missing.gguf").string() + "}\n",
                                                "harness");
    keys = KeyStore::open(dir.string());
    secret = keys->create("f1", {}, 0).secret;
    operation_store = open_sqlite_operation_store(dir.string());
    SchedulerOptions so;
    so.threads = 1;
    so.max_batch_tokens = 32;
    models = std::make_unique<ModelManager>(config, so);
    generation = std::make_unique<GenerationService>(*models);
    embeddings = std::make_unique<EmbeddingService>(*models);
    classification = std::make_unique<ClassificationService>(*models, 1);
    operations = std::make_unique<OperationRunner>(*operation_store, *generation, OperationRunnerOptions{});
    dataset_store = open_sqlite_dataset_store(dir.string());
    datasets = std::make_unique<DatasetService>(*dataset_store, *operations, dir.string());
    batch_store = open_sqlite_batch_store(dir.string());
    batches = std::make_unique<BatchService>(*batch_store, *datasets, BatchEngines{*generation, embeddings.get()}, *operations, BatchOptions{4});
    operations->add_kind(kDatasetValidationOperation, *datasets, OperationKind{1, 3});
    operations->add_kind(kBatchOperation, *batches, OperationKind{1, 0});
    api = std::make_unique<Api>(ApiContext{*models, *generation, *embeddings, *classification, *operations, *datasets, *batches,
                                           *operation_store, *keys, metrics, config.limits});
    operations->start();  // after the API has registered its batch formats
  }

  ~Impl() {
    operations->stop();
    models->shutdown();
    api.reset();
    batches.reset();
    datasets.reset();
    operations.reset();
    classification.reset();
    embeddings.reset();
    generation.reset();
    models.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

ApiHarness::ApiHarness() : impl_(std::make_unique<Impl>()) {}
ApiHarness::~ApiHarness() = default;

const std::string& ApiHarness::key() const { return impl_->secret; }

std::string ApiHarness::metrics_text() const {
  return impl_->metrics.render(impl_->models->stats(), impl_->models->loaded_count());
}

ApiResponse ApiHarness::call(const std::string& method, const std::string& path, const std::string& body,
                             const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  HttpRequest req;
  req.method = method;
  req.target = path;
  req.path = path.substr(0, path.find('?'));
  for (const auto& header : headers) {
    std::string name = header.first, value = header.second;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = value.find("$KEY");
    if (at != std::string::npos) value.replace(at, 4, impl_->secret);
    req.headers[name] = value;
  }
  req.body = body;
  auto responder = std::make_shared<CapturingResponder>();
  impl_->api->handle(req, responder);
  return responder->wait(timeout);
}

bool is_error_body(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return false;
  const auto& m = j["error"]["message"];
  return m.is_string() && !m.get<std::string>().empty();
}

}  // namespace fm::test
