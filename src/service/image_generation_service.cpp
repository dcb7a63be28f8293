#include "service/image_generation_service.h"

#include <chrono>
#include <cmath>
#include <iostream>
#include <random>

#include "diffusion/checkpoint.h"
#include "diffusion/txt2img.h"
#include "image/encode.h"
#include "service/model_manager.h"
#include "util/base64.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "tokenizer/clip_tokenizer.h"

namespace fm {
namespace {

constexpr size_t kMaxPromptChars = 500;
constexpr int kMaxSide = 2048;

size_t utf8_chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A side for the ratio near the model's native area, rounded to a multiple of 64.
int round64(double v) { return std::max(64, static_cast<int>(std::lround(v / 64.0)) * 64); }

struct CancelledJob {};  // thrown from the step callback when the caller gave up

std::string join_prompts(const std::vector<ImagePromptPart>& parts, bool negative) {
  std::string out;
  for (const auto& p : parts) {
    if ((p.weight < 0) != negative) continue;
    if (!out.empty()) out += ", ";
    out += p.text;
  }
  return out;
}

}  // namespace

nlohmann::json ImageGenerationRequest::to_json() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : messages) parts.push_back({{"text", p.text}, {"weight", p.weight}});
  return {{"model", model}, {"branch", branch}, {"messages", parts}, {"mimeType", mime_type}, {"seed", seed},
          {"widthRatio", width_ratio}, {"heightRatio", height_ratio}, {"width", width}, {"height", height},
          {"steps", steps}};
}

ImageGenerationRequest ImageGenerationRequest::from_json(const nlohmann::json& j) {
  ImageGenerationRequest r;
  r.model = j.at("model").get<std::string>();
  r.branch = j.at("branch").get<std::string>();
  for (const auto& p : j.at("messages")) r.messages.push_back({p.at("text").get<std::string>(), p.at("weight").get<double>()});
  r.mime_type = j.at("mimeType").get<std::string>();
  r.seed = j.at("seed").get<uint64_t>();
  r.width_ratio = j.at("widthRatio").get<int64_t>();
  r.height_ratio = j.at("heightRatio").get<int64_t>();
  r.width = j.at("width").get<int>();
  r.height = j.at("height").get<int>();
  r.steps = j.at("steps").get<int>();
  return r;
}

struct ImageGenerationService::Loaded {
  std::string name, branch, version;
  SdCheckpoint checkpoint;
  std::unique_ptr<SdPipeline> pipeline;
  std::unique_ptr<ClipTokenizer> tokenizer;
};

ImageGenerationService::ImageGenerationService(const ServiceConfig& config, OperationRunner& runner, int threads)
    : config_(config), runner_(runner), threads_(std::max(1, threads)) {
  worker_ = std::thread([this] { worker_loop(); });
}

ImageGenerationService::~ImageGenerationService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

ImageGenerationRequest ImageGenerationService::validate(ImageGenerationRequest r) const {
  const ModelConfig* m = config_.find(r.model);
  if (!m || !m->branches.count(r.branch))
    throw ServiceError(ErrorCode::kNotFound, "model '" + r.model + "/" + r.branch + "' does not exist", "model_not_found");
  if (m->kind != ModelKind::kImage)
    throw invalid_argument("model '" + r.model + "' is a " + std::string(model_kind_name(m->kind)) +
                           " model, not an image generation model", "invalid_model");
  if (r.messages.empty()) throw invalid_argument("messages: at least one message is required");
  for (size_t i = 0; i < r.messages.size(); ++i) {
    if (r.messages[i].text.find_first_not_of(" \t\r\n") == std::string::npos)
      throw invalid_argument("messages[" + std::to_string(i) + "].text must not be empty");
    if (!std::isfinite(r.messages[i].weight)) throw invalid_argument("messages[" + std::to_string(i) + "].weight must be a number");
  }
  const std::string prompt = join_prompts(r.messages, false);
  if (prompt.empty()) throw invalid_argument("messages: at least one message needs a positive weight (negative weights are the negative prompt)");
  if (utf8_chars(prompt) > kMaxPromptChars || utf8_chars(join_prompts(r.messages, true)) > kMaxPromptChars)
    throw invalid_argument("the prompt is longer than " + std::to_string(kMaxPromptChars) + " characters");
  if (r.mime_type != "image/jpeg" && r.mime_type != "image/png")
    throw invalid_argument("generationOptions.mimeType must be image/jpeg or image/png");
  if (r.steps < 0 || r.steps > 150) throw invalid_argument("steps must be 1..150");
  if (r.width != 0 || r.height != 0) {
    if (r.width < 64 || r.height < 64 || r.width % 64 || r.height % 64 || r.width > kMaxSide || r.height > kMaxSide)
      throw invalid_argument("the size must be multiples of 64 from 64 to " + std::to_string(kMaxSide));
  } else {
    if (r.width_ratio < 1 || r.height_ratio < 1)
      throw invalid_argument("generationOptions.aspectRatio: widthRatio and heightRatio must be positive");
    const double ratio = static_cast<double>(r.width_ratio) / static_cast<double>(r.height_ratio);
    const double max = m->image.max_aspect_ratio;
    if (ratio > max * (1 + 1e-9) || ratio < 1 / max * (1 - 1e-9))
      throw invalid_argument("generationOptions.aspectRatio " + std::to_string(r.width_ratio) + ":" +
                             std::to_string(r.height_ratio) + " is outside the model's range (1:" + std::to_string(max) +
                             " to " + std::to_string(max) + ":1)");
    const double area = static_cast<double>(m->image.native_size) * m->image.native_size;
    r.width = std::min(kMaxSide, round64(std::sqrt(area * ratio)));
    r.height = std::min(kMaxSide, round64(std::sqrt(area / ratio)));
  }
  if (r.seed == 0) {
    std::random_device rd;
    std::uniform_int_distribution<uint64_t> dist(1, (uint64_t{1} << 63) - 1);
    r.seed = dist(rd);
  }
  if (r.steps == 0) r.steps = m->image.steps;
  return r;
}

Operation ImageGenerationService::submit(const std::string& folder, const std::string& created_by,
                                         const ImageGenerationRequest& request) {
  return runner_.submit(folder, kImageGenerationOperation, "Image generation", created_by, request.to_json());
}

void ImageGenerationService::generate(ImageGenerationRequest request, Done done, Cancelled cancelled) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({std::move(request), std::move(done), std::move(cancelled)});
    ++stats_.queued;
  }
  wake_.notify_all();
}

void ImageGenerationService::start(std::shared_ptr<OperationRun> run) {
  ImageGenerationRequest request;
  try {
    request = ImageGenerationRequest::from_json(run->operation().request);
  } catch (const std::exception& e) {
    runner_.store().fail(run->operation().id, {static_cast<int>(ErrorCode::kInternal), std::string("stored request unreadable: ") + e.what()});
    run->finish();
    return;
  }
  generate(
      std::move(request),
      [this, run](const ImageGenerationResult* result, const ServiceError* error) {
        const std::string& id = run->operation().id;
        if (run->stopping()) {  // left pending: the next start runs it again
        } else if (result) {
          const std::string b64 =
              base64_encode(std::string_view(reinterpret_cast<const char*>(result->image.data()), result->image.size()));
          runner_.store().complete(id, {{"@type", kImageGenerationResponseType}, {"image", b64},
                                        {"modelVersion", result->model_version}, {"seed", std::to_string(result->seed)}});
        } else if (error && !run->cancelled()) {
          runner_.store().fail(id, {static_cast<int>(error->code()), error->what()});
        }
        run->finish();
      },
      [run] { return run->cancelled(); });
}

ImageGenerationStats ImageGenerationService::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void ImageGenerationService::worker_loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        for (Job& j : queue_) {
          const ServiceError e(ErrorCode::kUnavailable, "the server is stopping");
          j.done(nullptr, &e);
        }
        queue_.clear();
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      --stats_.queued;
      ++stats_.running;
    }
    ImageGenerationResult result;
    std::optional<ServiceError> error;
    try {
      result = run(job);
    } catch (const CancelledJob&) {
      error.emplace(ErrorCode::kCancelled, "the image generation was cancelled");
    } catch (const ServiceError& e) {
      error = e;
    } catch (const std::exception& e) {
      error.emplace(ErrorCode::kInternal, std::string("image generation failed: ") + e.what());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --stats_.running;
      ++(error ? stats_.failed : stats_.images);
    }
    job.done(error ? nullptr : &result, error ? &*error : nullptr);
  }
}

const ImageGenerationService::Loaded& ImageGenerationService::model(const ModelConfig& config, const std::string& branch) {
  if (loaded_ && loaded_->name == config.name && loaded_->branch == branch) return *loaded_;
  loaded_.reset();  // one checkpoint at a time
  const std::string& path = config.branches.at(branch);
  auto m = std::make_unique<Loaded>();
  m->name = config.name;
  m->branch = branch;
  const auto v = config.versions.find(branch);
  m->version = v != config.versions.end() ? v->second : file_date(path);
  std::clog << "fmserve: loading image model " << config.name << "/" << branch << " from " << path << std::endl;
  m->checkpoint = open_sd_checkpoint(path);
  if (const auto prediction = prediction_from_name(config.image.prediction); prediction && *prediction != Prediction::kAuto)
    m->checkpoint.config.prediction = *prediction;
  m->pipeline = std::make_unique<SdPipeline>(m->checkpoint.config, *m->checkpoint.tensors);
  const std::string dir = config.image.tokenizer.empty() ? ClipTokenizer::directory_beside(path) : config.image.tokenizer;
  if (dir.empty())
    throw ServiceError(ErrorCode::kFailedPrecondition, "image model '" + config.name +
                       "' has no CLIP tokenizer (vocab.json and merges.txt beside the checkpoint, or image.tokenizer)");
  m->tokenizer = std::make_unique<ClipTokenizer>(ClipTokenizer::from_directory(dir));
  loaded_ = std::move(m);
  return *loaded_;
}

ImageGenerationResult ImageGenerationService::run(const Job& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const ImageGenerationRequest& r = job.request;
  const ModelConfig* config = config_.find(r.model);
  if (!config || !config->branches.count(r.branch))
    throw ServiceError(ErrorCode::kNotFound, "model '" + r.model + "/" + r.branch + "' does not exist", "model_not_found");
  const Loaded& m = model(*config, r.branch);
  Txt2ImgRequest t;
  const int context = static_cast<int>(m.checkpoint.config.clip.n_pos);
  const int32_t pad = m.checkpoint.config.clip.pad_token();
  for (const auto& w : m.tokenizer->windows(join_prompts(r.messages, false), context, pad))
    t.tokens.insert(t.tokens.end(), w.begin(), w.end());
  for (const auto& w : m.tokenizer->windows(join_prompts(r.messages, true), context, pad))
    t.negative_tokens.insert(t.negative_tokens.end(), w.begin(), w.end());
  t.seed = r.seed;
  t.steps = r.steps;
  t.width = r.width;
  t.height = r.height;
  t.cfg_scale = config->image.cfg_scale;
  t.sampler = *sampler_from_name(config->image.sampler);
  if (job.cancelled && job.cancelled()) throw CancelledJob{};
  ThreadPool pool(threads_);
  ScratchBuffer scratch;
  Compute c;
  c.pool = &pool;
  c.kernels = &best_kernels();
  c.scratch = &scratch;
  const StepProgress progress = [&](int, int, double seconds) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.steps;
      stats_.step_seconds += seconds;
    }
    if (job.cancelled && job.cancelled()) throw CancelledJob{};
  };
  const Txt2ImgResult out = m.pipeline->generate(c, t, {}, progress);
  ImageGenerationResult result;
  result.image = r.mime_type == "image/png" ? encode_png(out.image) : encode_jpeg(out.image);
  result.mime_type = r.mime_type;
  result.model_version = m.version;
  result.seed = r.seed;
  result.width = r.width;
  result.height = r.height;
  result.steps = r.steps;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace fm
