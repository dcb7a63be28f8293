// `fmserve serve`: the HTTP API over the configured models.
#include <iostream>
#include <stdexcept>

#include "api/http_server.h"
#include "api/metrics.h"
#include "api/openai_api.h"
#include "cli/commands.h"
#include "service/model_manager.h"
#include "store/key_store.h"

namespace fm::cli {

int run_serve(const ServeOptions& opt) {
  if (opt.config.empty()) throw std::invalid_argument("--config is required");
  ServiceConfig config = load_service_config(opt.config);
  if (opt.max_body_bytes > 0) config.max_body_bytes = opt.max_body_bytes;
  auto keys = KeyStore::open(opt.data_dir);
  SchedulerOptions so;
  so.threads = default_threads(opt.threads > 0 ? opt.threads : config.threads);
  so.max_queue = config.max_queue;
  so.max_running = config.max_running;
  so.kv_budget_bytes = config.kv_budget_bytes;
  ModelManager models(config, so);
  Metrics metrics;
  OpenAiApi api(models, *keys, metrics);
  HttpServerOptions ho;
  ho.host = opt.host;
  ho.port = opt.port;
  ho.max_body_bytes = config.max_body_bytes;
  HttpServer server(ho, [&api](const HttpRequest& req, std::shared_ptr<Responder> res) { api.handle(req, std::move(res)); });
  std::clog << "fmserve: listening on http://" << opt.host << ":" << server.port() << " (" << config.models.size()
            << " models configured)" << std::endl;
  server.run(true);
  models.shutdown();  // scheduler threads end while the server, metrics and models they call back into still exist
  std::clog << "fmserve: stopped" << std::endl;
  return 0;
}

}  // namespace fm::cli
