#pragma once
// The native dialect's (de)serialisation, all in one place (shapes: shared/reference/foundation-models-api.md):
// CompletionRequest -> GenerationRequest; GenerationResult -> CompletionResponse; Operations; tokens.
// proto3 JSON: camelCase out, camelCase or snake_case in, int64 as decimal strings, enums by name.
#include <string>

#include "api/http_server.h"
#include "api/json_input.h"
#include "service/generation.h"
#include "service/classification_service.h"
#include "service/embedding_service.h"
#include "service/generation_service.h"
#include "service/model_registry.h"
#include "store/key_store.h"
#include "store/operation_store.h"

namespace fm::native {

struct CompletionCall {
  GenerationRequest request;
  bool stream = false;
};

// Validates and converts a CompletionRequest (folder and scopes checked against `key`); throws ApiError 400
// naming the field.
CompletionCall parse_completion(const ojson& body, const RequestLimits& limits, const HttpRequest& http,
                                const ApiKeyRecord& key);

struct BatchCompletionCall {
  std::string model_uri, source_dataset_id;
  GenerationRequest base;  // model and options; each dataset row brings the messages
};
// Validates a BatchCompletionRequest (modelUri, completionOptions, sourceDatasetId, jsonObject | jsonSchema).
BatchCompletionCall parse_batch_completion(const ojson& body, const RequestLimits& limits, const HttpRequest& http,
                                           const ApiKeyRecord& key);

// CompletionResponse (the sync response wraps it in {"result": …}; an Operation's response is it plus @type).
ojson completion_response(const GenerationResult& result);
// A streamed line's CompletionResponse: the whole text so far, status PARTIAL.
ojson partial_response(const std::string& text_so_far, int64_t prompt_tokens, int64_t completion_tokens,
                       const std::string& model_version);

ojson operation_json(const Operation& op);
ojson tokens_json(const TokenizeResult& tokens);
// FewShotTextClassificationResponse / TextClassificationResponse.
ojson classification_json(const ClassificationResult& result);
// TextEmbeddingResponse of the first (only) input.
ojson embedding_json(const EmbeddingResult& result);

// RFC 3339 UTC ("2025-06-01T09:30:00Z", milliseconds when not zero).
std::string timestamp(int64_t unix_ms);

inline constexpr const char* kCompletionResponseType = "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.CompletionResponse";

}  // namespace fm::native
