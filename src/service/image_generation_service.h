#pragma once
// Image generation behind every entry point (native imageGenerationAsync operations, OpenAI /v1/images/generations):
// validates a request against the model's configuration, turns an aspect ratio into a size near the model's native
// area, and runs Stable Diffusion jobs one at a time on their own worker thread and thread pool, so image jobs
// queue among themselves and never hold up text generation's scheduler. Checkpoints load on first use; the most
// recently used one stays loaded. Wire-free like the GenerationService.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "service/model_registry.h"
#include "service/operation_runner.h"
#include "service/service_error.h"

namespace fm {

inline constexpr const char* kImageGenerationOperation = "image_generation";
inline constexpr const char* kImageGenerationResponseType =
    "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.image_generation.ImageGenerationResponse";

struct ImagePromptPart {
  std::string text;
  double weight = 1.0;  // negative: part of the negative prompt
};

struct ImageGenerationRequest {
  std::string model, branch = "latest";
  std::vector<ImagePromptPart> messages;
  std::string mime_type = "image/jpeg";  // image/jpeg or image/png
  uint64_t seed = 0;                     // 0: random (chosen when the request is accepted, then reported)
  int64_t width_ratio = 1, height_ratio = 1;
  int width = 0, height = 0;             // an exact size (multiples of 64) instead of the ratio; 0: from the ratio
  int steps = 0;                         // 0: the model's default

  nlohmann::json to_json() const;
  static ImageGenerationRequest from_json(const nlohmann::json& j);
};

struct ImageGenerationResult {
  std::vector<uint8_t> image;  // encoded as mime_type
  std::string mime_type, model_version;
  uint64_t seed = 0;
  int width = 0, height = 0, steps = 0;
  double seconds = 0;
};

struct ImageGenerationStats {
  int64_t queued = 0, running = 0, images = 0, failed = 0, steps = 0;
  double step_seconds = 0;  // total over `steps`
};

class ImageGenerationService final : public OperationExecutor {
 public:
  ImageGenerationService(const ServiceConfig& config, OperationRunner& runner, int threads);
  ~ImageGenerationService() override;

  // Checks the request (400 with what is wrong, 404 for an unknown model or branch) and fills in the random seed
  // and the size; the result is what runs.
  ImageGenerationRequest validate(ImageGenerationRequest request) const;
  // Stores the validated request as an operation of kImageGenerationOperation and queues it.
  Operation submit(const std::string& folder, const std::string& created_by, const ImageGenerationRequest& request);

  using Done = std::function<void(const ImageGenerationResult* result, const ServiceError* error)>;
  using Cancelled = std::function<bool()>;
  // Queues one validated request; `done` is called once, on the worker thread.
  void generate(ImageGenerationRequest request, Done done, Cancelled cancelled = {});

  void start(std::shared_ptr<OperationRun> run) override;
  ImageGenerationStats stats() const;

 private:
  struct Job {
    ImageGenerationRequest request;
    Done done;
    Cancelled cancelled;
  };
  struct Loaded;
  void worker_loop();
  ImageGenerationResult run(const Job& job);
  const Loaded& model(const ModelConfig& config, const std::string& branch);

  const ServiceConfig& config_;
  OperationRunner& runner_;
  int threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::unique_ptr<Loaded> loaded_;  // worker thread only
  ImageGenerationStats stats_;
  std::thread worker_;
};

}  // namespace fm
