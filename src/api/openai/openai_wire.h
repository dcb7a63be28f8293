#pragma once
// The OpenAI dialect's (de)serialisation, all in one place: /v1/chat/completions and /v1/completions request
// bodies -> GenerationRequest, and GenerationResult / streamed text -> OpenAI's response and chunk objects.
#include <string>

#include "api/http_server.h"
#include "api/json_input.h"
#include "service/embedding_service.h"
#include "service/generation.h"
#include "service/model_registry.h"
#include "store/key_store.h"

namespace fm::openai {

// A parsed request and the response options that stay on the API side.
struct Call {
  GenerationRequest request;
  bool chat = true;
  int n = 1;  // choices
  bool stream = false, include_usage = false, logprobs = false;
  std::string model_id;  // the model as the client named it, echoed in responses
  std::string id;        // chatcmpl-… / cmpl-…
  int64_t created = 0;   // unix seconds
};

// Validates and converts a request body (the folder and scopes are checked against `key`). Throws ApiError 400
// naming the offending field.
Call parse_request(const ojson& body, bool chat, const RequestLimits& limits, const HttpRequest& http,
                   const ApiKeyRecord& key);

// Whole response (stream: false).
ojson response(const Call& call, const GenerationResult& result);

// Streaming: the first chunk (roles), a text delta, the last chunk of a choice, and the usage chunk.
ojson first_chunk(const Call& call);
ojson delta_chunk(const Call& call, const TextEvent& event);
// A streamed choice's tool calls, whole (id, name and arguments in one delta).
ojson tool_calls_chunk(const Call& call, int choice, const std::vector<ToolCall>& calls);
// OpenAI's tool_calls array (with "index" in stream deltas).
ojson tool_calls_json(const std::vector<ToolCall>& calls, bool indexed);
ojson finish_chunk(const Call& call, int choice, FinishStatus finish);
ojson usage_chunk(const Call& call, const GenerationUsage& usage);
// "data: {…}\n\n"
std::string sse_event(const ojson& j);

// /v1/embeddings (embeddings.cpp): a parsed body, and the response for its result.
struct EmbeddingCall {
  EmbeddingRequest request;
  std::string model_id;  // as the client named it
  bool base64 = false;   // encoding_format
};
EmbeddingCall parse_embedding_request(const ojson& body, const HttpRequest& http, const ApiKeyRecord& key);
ojson embedding_response(const EmbeddingCall& call, const EmbeddingResult& result);

}  // namespace fm::openai
