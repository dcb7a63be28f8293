// /health (the process answers), /ready (the configured models can serve: for orchestrators' readiness probes)
// and /metrics (Prometheus). None of them needs a key, and none waits for a model to load.
#include "api/routes.h"
#include "workflow/workflow_service.h"

namespace fm {

void add_system_routes(Router& router, const ApiContext& ctx) {
  router.add("GET", "/health", Dialect::kNative, [](const HttpRequest&, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    reply->json(200, {{"status", "ok"}});
  });

  router.add("GET", "/ready", Dialect::kNative, [&ctx](const HttpRequest&, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    bool ready = true;
    ojson models = ojson::array();
    for (const ModelStatus& m : ctx.models.status()) {
      ready &= m.state != ModelStatus::State::kFailed;
      ojson entry = {{"model", m.name}, {"branch", m.branch}, {"state", model_state_name(m.state)}};
      if (!m.error.empty()) entry["error"] = m.error;
      models.push_back(std::move(entry));
    }
    reply->json(ready ? 200 : 503, {{"ready", ready}, {"models", models}});
  });

  router.add("GET", "/metrics", Dialect::kNative, [&ctx](const HttpRequest&, const RouteParams&, const std::shared_ptr<Reply>& reply) {
    std::string text = ctx.metrics.render(ctx.models.stats(), ctx.models.loaded_count(), ctx.models.image_cache_stats());
    if (ctx.workflows) {
      const workflow::WorkflowCallCounts c = ctx.workflows->counts();
      text += "# TYPE fmserve_workflow_calls_total counter\nfmserve_workflow_calls_total{type=\"foundationModelsCall\"} " +
              std::to_string(c.model_calls) + "\nfmserve_workflow_calls_total{type=\"httpCall\"} " + std::to_string(c.http_calls) + "\n";
      text += "# TYPE fmserve_workflow_executions_total counter\nfmserve_workflow_executions_total{status=\"FINISHED\"} " +
              std::to_string(c.executions_finished) + "\nfmserve_workflow_executions_total{status=\"FAILED\"} " +
              std::to_string(c.executions_failed) + "\n";
    }
    if (ctx.images) {
      const ImageGenerationStats s = ctx.images->stats();
      text += "# TYPE fmserve_imagegen_queue gauge\nfmserve_imagegen_queue{state=\"queued\"} " + std::to_string(s.queued) +
              "\nfmserve_imagegen_queue{state=\"running\"} " + std::to_string(s.running) + "\n";
      text += "# TYPE fmserve_imagegen_images_total counter\nfmserve_imagegen_images_total{status=\"done\"} " + std::to_string(s.images) +
              "\nfmserve_imagegen_images_total{status=\"failed\"} " + std::to_string(s.failed) + "\n";
      text += "# TYPE fmserve_imagegen_step_seconds summary\nfmserve_imagegen_step_seconds_sum " + std::to_string(s.step_seconds) +
              "\nfmserve_imagegen_step_seconds_count " + std::to_string(s.steps) + "\n";
    }
    reply->text(200, "text/plain; version=0.0.4", text);
  });
}

}  // namespace fm
