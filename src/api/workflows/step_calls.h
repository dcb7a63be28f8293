#pragma once
// The side effects of workflow steps: foundationModelsCall answered by the generation and classification services
// directly (no HTTP round trip), shaped as the native API's responses without their `result` wrapper; httpCall
// by workflow/http_call.
#include "service/classification_service.h"
#include "service/generation_service.h"
#include "workflow/engine.h"

namespace fm {

class ServiceStepCalls final : public workflow::StepCalls {
 public:
  ServiceStepCalls(GenerationService& generation, ClassificationService& classification, ImageFetchConfig fetch)
      : generation_(generation), classification_(classification), fetch_(std::move(fetch)) {}
  workflow::json foundation_models_call(const workflow::json& call, const workflow::CallContext& ctx) override;
  workflow::json http_call(const workflow::json& call, const workflow::CallContext& ctx) override;

 private:
  workflow::json generate(const ModelUri& uri, const workflow::json& spec, bool vision, const workflow::CallContext& ctx);
  workflow::json classify(const ModelUri& uri, const workflow::json& call, const workflow::CallContext& ctx);

  GenerationService& generation_;
  ClassificationService& classification_;
  ImageFetchConfig fetch_;
};

}  // namespace fm
