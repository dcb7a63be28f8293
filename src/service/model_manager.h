#pragma once
// Models loaded on demand from the registry (one progress line in the log per load), each with its tokenizer,
// chat template and continuous-batching scheduler; least recently used models unload beyond the memory budget.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/scheduler.h"
#include "service/model_registry.h"
#include "tokenizer/tokenizer.h"

namespace fm {

struct LoadedModel {
  std::string name, branch;
  const ModelConfig* config = nullptr;
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatTemplate> chat_template;
  std::vector<int32_t> stop_tokens;  // end of generation: EOS, end of turn
  std::unique_ptr<Scheduler> scheduler;
  size_t bytes = 0;  // file size plus KV budget
  std::chrono::steady_clock::time_point last_used;

  ~LoadedModel();  // the scheduler stops (cancelling its requests) before the weights go
};

class ModelNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ModelManager {
 public:
  ModelManager(ServiceConfig config, SchedulerOptions scheduler_options);
  // The model, loading it first if needed. Throws ModelNotFound for unknown names or branches, std::runtime_error
  // when the file cannot be loaded.
  std::shared_ptr<LoadedModel> get(const std::string& name, const std::string& branch);
  const ServiceConfig& config() const { return config_; }
  // Scheduler statistics summed over loaded models.
  SchedulerStats stats() const;
  size_t loaded_count() const;
  // Stops every scheduler (cancelling their requests) while the models are still referenced here, then unloads.
  void shutdown();

 private:
  void evict_for(size_t incoming);
  ServiceConfig config_;
  SchedulerOptions scheduler_options_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<LoadedModel>> loaded_;
};

// ChatML, used when neither the GGUF file nor the configuration gives a chat template.
extern const char* const kDefaultChatTemplate;

}  // namespace fm
