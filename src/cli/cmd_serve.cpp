// `fmserve serve`: the HTTP API over the configured models.
#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>
#include <stdexcept>

#include "api/api_server.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "cli/commands.h"
#include "service/batch_service.h"
#include "service/classification_service.h"
#include "service/dataset_service.h"
#include "service/embedding_service.h"
#include "service/generation_service.h"
#include "service/image_generation_service.h"
#include "service/model_manager.h"
#include "service/operation_runner.h"
#include "store/batch_store.h"
#include "store/dataset_store.h"
#include "store/key_store.h"
#include "store/operation_store.h"
#include "api/workflows/step_calls.h"
#include "store/workflow_store.h"
#include "util/memory.h"
#include "workflow/jq_worker.h"
#include "workflow/workflow_service.h"

namespace fm::cli {

namespace {
constexpr size_t kMaxFileUploadBytes = (size_t{128} << 20) + (size_t{1} << 20);  // OpenAI's 128 MB files, with the form around them
}  // namespace

int run_serve(const ServeOptions& opt) {
  if (opt.config.empty()) throw std::invalid_argument("--config is required");
  limit_allocator_arenas(1);  // before any thread starts
  ServiceConfig config = load_service_config(opt.config);
  if (opt.max_body_bytes > 0) config.max_body_bytes = opt.max_body_bytes;
  auto keys = KeyStore::open(opt.data_dir);
  auto operation_store = open_sqlite_operation_store(opt.data_dir);
  SchedulerOptions so;
  so.threads = default_threads(opt.threads > 0 ? opt.threads : config.threads);
  so.max_queue = config.max_queue;
  so.max_running = config.max_running;
  so.kv_budget_bytes = config.kv_budget_bytes;
  ModelManager models(config, so);
  GenerationService generation(models);
  EmbeddingService embeddings(models);
  ClassificationService classification(models, so.threads);
  OperationRunnerOptions ro;
  ro.concurrency = config.operation_concurrency;
  ro.retention = std::chrono::seconds(config.operation_retention_s);
  OperationRunner operations(*operation_store, generation, ro);
  auto dataset_store = open_sqlite_dataset_store(opt.data_dir);
  DatasetLimits dl;
  dl.max_dataset_bytes = config.max_dataset_bytes;
  DatasetService datasets(*dataset_store, operations, opt.data_dir, dl);
  auto batch_store = open_sqlite_batch_store(opt.data_dir);
  BatchService batches(*batch_store, datasets, BatchEngines{generation, &embeddings}, operations, BatchOptions{config.batch_lines_in_flight});
  operations.add_kind(kDatasetValidationOperation, datasets, OperationKind{1, 3});
  operations.add_kind(kBatchOperation, batches, OperationKind{config.batch_concurrency, 0});  // a batch resumes: no attempt limit
  auto workflow_store = open_sqlite_workflow_store(opt.data_dir);
  workflow::set_jq_time_limit_ms(config.workflow_template_timeout_s * 1000);
  ServiceStepCalls step_calls(generation, classification, config.image_fetch);
  workflow::WorkflowService workflows(*workflow_store, operations, step_calls);
  // Executions resume from their last finished step: no attempt limit.
  operations.add_kind(workflow::kExecutionOperation, workflows, OperationKind{config.workflow_concurrency, 0});
  // Image jobs have their own queue (one at a time, the kind's concurrency) and worker: they never wait behind text
  // generation's scheduler, nor it behind them.
  ImageGenerationService images(config, operations, so.threads);
  operations.add_kind(kImageGenerationOperation, images, OperationKind{1, 3});
  Metrics metrics;
  const Api api(ApiContext{models, generation, embeddings, classification, operations, datasets, batches, *operation_store, *keys,
                           metrics, config.limits, &workflows, &images});

  HttpServerOptions ho;
  ho.host = opt.host;
  ho.port = opt.port;
  ho.max_body_bytes = config.max_body_bytes;
  // Dataset uploads go to a spool file as they arrive, never whole into memory; what a killed process left there is
  // cleared at start. Only a URL naming a DRAFT dataset's upload gets the upload limit: any other body on those
  // paths has the ordinary limit and is refused with 404 once read.
  ho.spool_dir = opt.data_dir + "/spool";
  std::filesystem::remove_all(ho.spool_dir);
  std::filesystem::create_directories(ho.spool_dir);
  const auto upload_url = [&datasets](const std::string& path) {
    static const std::string prefix = "/datasets/v1/uploads/";
    if (path.rfind(prefix, 0) != 0) return false;
    const std::string token = path.substr(prefix.size(), path.find('/', prefix.size()) - prefix.size());
    return datasets.accepts_upload(token);
  };
  ho.spool_body_for = [upload_url](const std::string& method, const std::string& path) { return method == "PUT" && upload_url(path); };
  ho.max_special_body_bytes = std::max(config.max_upload_body_bytes, kMaxFileUploadBytes);
  ho.body_limit_for = [&config, upload_url](const std::string& path) -> size_t {
    if (upload_url(path)) return config.max_upload_body_bytes;
    return path == "/v1/files" ? std::max(config.max_body_bytes, kMaxFileUploadBytes) : 0;
  };
  ho.header_timeout_s = config.limits.header_timeout_s;
  ho.body_timeout_s = config.limits.body_timeout_s;
  ho.max_pending_output_bytes = config.limits.max_stream_buffer_bytes;
  ho.error_body = [&api](const std::string& path, int status, const std::string& message) {
    return api.transport_error(path, status, message);
  };
  ho.on_stream_dropped = [&metrics] { metrics.stream_dropped(); };
  HttpServer server(ho, [&api](const HttpRequest& req, std::shared_ptr<Responder> res) { api.handle(req, std::move(res)); });
  operations.start();  // resumes operations a previous process left unfinished
  // Housekeeping: when nothing is generating, hand freed memory back to the system.
  std::atomic<bool> serving{true};
  std::thread housekeeping([&] {
    while (serving.load()) {
      for (int i = 0; i < 10 && serving.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const SchedulerStats st = models.stats();
      if (st.running == 0 && st.queued == 0) release_free_memory();
    }
  });
  std::clog << "fmserve: listening on http://" << opt.host << ":" << server.port() << " (" << config.models.size()
            << " models configured)" << std::endl;
  server.run(true);
  serving = false;
  housekeeping.join();
  operations.stop();  // runs in flight stay stored as pending: the next start finishes them
  models.shutdown();  // scheduler threads end while the server, metrics and models they call back into still exist
  std::clog << "fmserve: stopped" << std::endl;
  return 0;
}

}  // namespace fm::cli
