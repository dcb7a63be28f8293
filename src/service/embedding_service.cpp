#include "service/embedding_service.h"

#include <condition_variable>
#include <mutex>

#include "service/model_access.h"

namespace fm {

int64_t EmbeddingResult::total_tokens() const {
  int64_t n = 0;
  for (int64_t t : tokens) n += t;
  return n;
}

namespace {

// Gathers the inputs' embeddings as the embedder finishes them (on its thread).
struct Gather {
  std::mutex mutex;
  EmbeddingResult result;
  size_t left = 0;
  bool failed = false, busy = false;
  std::optional<int64_t> dimensions;
  EmbeddingService::Done done;
};

std::vector<int32_t> input_tokens(const LoadedModel& model, const std::variant<std::string, std::vector<int32_t>>& input,
                                  size_t index) {
  const std::string which = "input " + std::to_string(index);
  std::vector<int32_t> ids;
  if (const auto* text = std::get_if<std::string>(&input)) {
    if (text->empty()) throw invalid_argument(which + " is empty");
    ids = model.tokenizer->encode(*text, /*add_special=*/true, /*parse_special=*/false);
  } else {
    ids = std::get<std::vector<int32_t>>(input);
    const int64_t n_vocab = model.model->hparams().n_vocab;
    for (int32_t id : ids)
      if (id < 0 || id >= n_vocab) throw invalid_argument(which + " has token id " + std::to_string(id) + " outside the vocabulary");
  }
  if (ids.empty()) throw invalid_argument(which + " has no tokens");
  if (static_cast<int64_t>(ids.size()) > model.context)
    throw ServiceError(ErrorCode::kInvalidArgument, which + " has " + std::to_string(ids.size()) +
                       " tokens; the model takes at most " + std::to_string(model.context), "context_length_exceeded");
  return ids;
}

void submit_all(const std::shared_ptr<LoadedModel>& model, EmbeddingRequest& request, const EmbeddingService::Done& done) {
  if (!model->embedder)
    throw ServiceError(ErrorCode::kInvalidArgument, "model '" + model->name + "' (kind " + model_kind_name(model->config->kind) +
                       ") is not an embedding model", "wrong_model_kind");
  if (request.inputs.empty()) throw invalid_argument("there is nothing to embed");
  const int64_t width = model->embedder->width();
  if (request.dimensions && (*request.dimensions < 1 || *request.dimensions > width))
    throw invalid_argument("dimensions must be between 1 and the model's " + std::to_string(width));
  std::vector<std::vector<int32_t>> all;
  for (size_t i = 0; i < request.inputs.size(); ++i) all.push_back(input_tokens(*model, request.inputs[i], i));
  auto gather = std::make_shared<Gather>();
  gather->result.embeddings.resize(all.size());
  gather->result.model_version = model->version;
  gather->left = all.size();
  gather->dimensions = request.dimensions;
  gather->done = done;
  for (const auto& ids : all) gather->result.tokens.push_back(static_cast<int64_t>(ids.size()));
  for (size_t i = 0; i < all.size(); ++i) {
    // The model stays loaded while its inputs run: the callback holds it.
    auto on_done = [gather, i, model](std::vector<float> e) {
      std::unique_lock<std::mutex> lock(gather->mutex);
      if (e.empty()) gather->failed = true;
      if (!e.empty() && gather->dimensions) {
        e.resize(static_cast<size_t>(*gather->dimensions));
        l2_normalize(e.data(), static_cast<int64_t>(e.size()));
      }
      gather->result.embeddings[i] = std::move(e);
      if (--gather->left > 0) return;
      lock.unlock();
      if (gather->busy) {
        const ServiceError error(ErrorCode::kResourceExhausted, "the server is busy; retry later", "queue_full", 1);
        gather->done(nullptr, &error);
      } else if (gather->failed) {
        const ServiceError error(ErrorCode::kInternal, "the embedding failed", "internal_error");
        gather->done(nullptr, &error);
      } else {
        gather->done(&gather->result, nullptr);
      }
    };
    const Embedder::Admission a = model->embedder->submit(all[i], model->embedding, on_done);
    if (a != Embedder::Admission::kQueued) {  // the others still finish; the request then answers "busy"
      {
        std::lock_guard<std::mutex> lock(gather->mutex);
        gather->busy = true;
      }
      on_done({});
    }
  }
}

}  // namespace

void EmbeddingService::embed(EmbeddingRequest request, Done done) {
  const std::string name = request.model, branch = request.branch;
  auto shared = std::make_shared<EmbeddingRequest>(std::move(request));
  with_model(
      models_, name, branch, [shared, done](const std::shared_ptr<LoadedModel>& model) { submit_all(model, *shared, done); },
      [done](const ServiceError& e) { done(nullptr, &e); });
}

EmbeddingResult EmbeddingService::embed_sync(EmbeddingRequest request) {
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  EmbeddingResult out;
  std::optional<ServiceError> failure;
  embed(std::move(request), [&](const EmbeddingResult* r, const ServiceError* e) {
    std::lock_guard<std::mutex> lock(m);
    if (r) out = *r;
    if (e) failure = *e;
    finished = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return finished; });
  if (failure) throw *failure;
  return out;
}

}  // namespace fm
