#pragma once
// Models loaded on demand from the registry (one progress line in the log per load), each with its tokenizer,
// chat template and continuous-batching scheduler; least recently used models unload beyond the memory budget.
// Loads run on a loader thread outside the manager's lock: a first load never stalls requests for models that
// are already loaded, nor /health or /metrics.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/classifier_head.h"
#include "runtime/embedder.h"
#include "runtime/scheduler.h"
#include "service/image_input.h"
#include "service/model_registry.h"
#include "tokenizer/tokenizer.h"
#include "vision/vision_encoder.h"

namespace fm {

class TokenTrie;

struct LoadedModel {
  std::string name, branch;
  std::string version;  // modelVersion: the branch's `version`, else the file's modification date (DD.MM.YYYY)
  const ModelConfig* config = nullptr;
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatTemplate> chat_template;
  std::vector<int32_t> stop_tokens;  // end of generation: EOS, end of turn
  // The engine of the model's kind: text models generate through a scheduler; embedding and classifier models
  // run through an embedder (with the pooling and attention the file or the configuration gives).
  std::unique_ptr<Scheduler> scheduler;
  // Vision models: the projector and the encoder turning a request's images into embeddings.
  std::unique_ptr<GgufFile> mmproj_file;
  std::unique_ptr<VisionEncoder> vision;
  std::unique_ptr<ImageEncoder> images;
  std::unique_ptr<Embedder> embedder;
  EmbeddingOptions embedding;
  std::optional<ClassifierHead> head;  // a fine-tuned classifier's head, when the file has one
  int64_t context = 0;  // longest input the engine takes
  size_t bytes = 0;  // file size plus KV budget
  std::chrono::steady_clock::time_point last_used;
  // The vocabulary as a byte trie for structured output, built on first use (vocabulary_trie()).
  std::mutex trie_mutex;
  std::shared_ptr<const TokenTrie> trie;

  ~LoadedModel();  // the engine stops (cancelling its requests) before the weights go
};

// The service's modelVersion format, from a model file's modification time (UTC): DD.MM.YYYY.
std::string file_date(const std::string& path);

class ModelNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where one configured model branch stands, for readiness probes.
struct ModelStatus {
  std::string name, branch;
  enum class State { kNotLoaded, kLoading, kLoaded, kFailed } state = State::kNotLoaded;
  std::string error;  // the last failed load's reason, or why the file cannot be served
};
const char* model_state_name(ModelStatus::State state);

class ModelManager {
 public:
  ModelManager(ServiceConfig config, SchedulerOptions scheduler_options);
  ~ModelManager();  // shutdown()

  // Called with the model, or with the error that stopped it loading (model is null then).
  using Ready = std::function<void(std::shared_ptr<LoadedModel> model, std::exception_ptr error)>;
  // Delivers the model to `ready`: at once on this thread when it is loaded; otherwise on the loader thread once
  // it is. Throws ModelNotFound (before anything else) for unknown names or branches.
  void acquire(const std::string& name, const std::string& branch, Ready ready);
  // Blocking form for command-line tools and tests: the model, or the load's exception.
  std::shared_ptr<LoadedModel> get(const std::string& name, const std::string& branch);

  const ServiceConfig& config() const { return config_; }
  SchedulerStats stats() const;  // summed over loaded models
  ImageCacheStats image_cache_stats() const;  // vision models' image embedding caches, summed over loaded models
  size_t loaded_count() const;
  std::vector<ModelStatus> status() const;  // every configured branch
  // Stops every scheduler (cancelling their requests) while the models are still referenced here, then unloads;
  // waiting acquirers get an error.
  void shutdown();

 private:
  void loader_loop();
  std::shared_ptr<LoadedModel> load(const ModelConfig& cfg, const std::string& branch) const;
  void evict_for(size_t incoming);

  ServiceConfig config_;
  SchedulerOptions scheduler_options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<LoadedModel>> loaded_;
  std::map<std::pair<std::string, std::string>, std::vector<Ready>> loading_;  // waiters per branch being loaded
  std::vector<std::pair<std::string, std::string>> load_queue_;
  std::map<std::pair<std::string, std::string>, std::string> failures_;  // last load error per branch
  bool stopping_ = false;
  std::thread loader_;
};

// ChatML, used when neither the GGUF file nor the configuration gives a chat template.
extern const char* const kDefaultChatTemplate;

// A model's chat template: the file's, else the one in `fallback_file` (may be empty), else ChatML.
std::unique_ptr<ChatTemplate> make_chat_template(const GgufFile& file, const Vocab& vocab, const std::string& fallback_file);
// Tokens that end generation: EOS, end of turn, and the end-of-turn texts of the common template families.
std::vector<int32_t> end_of_generation_tokens(const Vocab& vocab);

}  // namespace fm
