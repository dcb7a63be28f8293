#pragma once
// What the route handlers work with: the wire-free services, the key store, metrics and the request limits.
#include "api/metrics.h"
#include "service/batch_service.h"
#include "service/classification_service.h"
#include "service/dataset_service.h"
#include "service/embedding_service.h"
#include "service/generation_service.h"
#include "service/image_generation_service.h"
#include "service/model_manager.h"
#include "service/operation_runner.h"
#include "store/key_store.h"
#include "store/operation_store.h"

namespace fm::workflow {
class WorkflowService;
}

namespace fm {

struct ApiContext {
  ModelManager& models;
  GenerationService& generation;
  EmbeddingService& embeddings;
  ClassificationService& classification;
  OperationRunner& operations;
  DatasetService& datasets;
  BatchService& batches;
  const OperationStore& operation_store;
  const KeyStore& keys;
  Metrics& metrics;
  RequestLimits limits;
  workflow::WorkflowService* workflows = nullptr;  // the Workflows API is served when set
  ImageGenerationService* images = nullptr;        // image generation routes answer 501 when unset
};

}  // namespace fm
