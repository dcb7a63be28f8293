#pragma once
// Text embeddings behind every entry point (native textEmbedding, OpenAI /v1/embeddings, later batch jobs and
// workflow steps): tokenizes, checks each input against the model, runs the model's Embedder and optionally
// truncates to fewer dimensions (renormalised). Wire-free like the GenerationService.
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "service/model_manager.h"
#include "service/service_error.h"

namespace fm {

struct EmbeddingRequest {
  std::string model, branch = "latest";
  // Each input is a text (tokenized with the model's special tokens) or token ids used as given.
  std::vector<std::variant<std::string, std::vector<int32_t>>> inputs;
  std::optional<int64_t> dimensions;  // keep the first N dimensions and renormalise
};

struct EmbeddingResult {
  std::vector<std::vector<float>> embeddings;  // one per input, in order
  std::vector<int64_t> tokens;                 // tokens of each input
  std::string model_version;
  int64_t total_tokens() const;
};

class EmbeddingService {
 public:
  explicit EmbeddingService(ModelManager& models) : models_(models) {}
  using Done = std::function<void(const EmbeddingResult* result, const ServiceError* error)>;
  // Every outcome reaches `done` exactly once, possibly on another thread.
  void embed(EmbeddingRequest request, Done done);
  EmbeddingResult embed_sync(EmbeddingRequest request);  // throws ServiceError

 private:
  ModelManager& models_;
};

}  // namespace fm
