#pragma once
// The OpenAI-compatible /v1 API over the model manager: chat completions, completions, models; plus /health and
// /metrics. Authentication by folder API keys (Bearer or Api-Key), folder and scope checks, OpenAI error JSON.
#include <memory>

#include "api/http_server.h"
#include "api/metrics.h"
#include "service/model_manager.h"
#include "store/key_store.h"

namespace fm {

class OpenAiApi {
 public:
  OpenAiApi(ModelManager& models, KeyStore& keys, Metrics& metrics) : models_(models), keys_(keys), metrics_(metrics) {}
  void handle(const HttpRequest& req, std::shared_ptr<Responder> res);

 private:
  ModelManager& models_;
  KeyStore& keys_;
  Metrics& metrics_;
};

}  // namespace fm
