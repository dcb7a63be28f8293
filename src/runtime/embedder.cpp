#include "runtime/embedder.h"

#include "runtime/forward_context.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::kMean: return "mean";
    case Pooling::kLast: return "last";
    case Pooling::kCls: return "cls";
  }
  return "mean";
}

bool parse_pooling(const std::string& name, Pooling* out) {
  for (Pooling p : {Pooling::kMean, Pooling::kLast, Pooling::kCls})
    if (name == pooling_name(p)) return *out = p, true;
  return false;
}

EmbeddingOptions embedding_defaults(const GgufFile& file) {
  const std::string arch = file.get_string_or("general.architecture", "");
  EmbeddingOptions o;
  switch (file.get_int_or(arch + ".pooling_type", 1)) {
    case 2: o.pooling = Pooling::kCls; break;
    case 3: o.pooling = Pooling::kLast; break;
    default: o.pooling = Pooling::kMean; break;
  }
  o.causal = file.get_bool_or(arch + ".attention.causal", true);
  return o;
}

void pool_hidden(const float* hidden, int64_t n, int64_t width, Pooling pooling, float* out) {
  if (pooling == Pooling::kCls || n == 1) {
    std::copy(hidden, hidden + width, out);
  } else if (pooling == Pooling::kLast) {
    std::copy(hidden + (n - 1) * width, hidden + n * width, out);
  } else {
    // Mean in float, summed in position order (as ggml's mean pooling product does).
    std::fill(out, out + width, 0.f);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t d = 0; d < width; ++d) out[d] += hidden[t * width + d];
    const float inv = 1.f / static_cast<float>(n);
    for (int64_t d = 0; d < width; ++d) out[d] *= inv;
  }
}

void l2_normalize(float* x, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  if (sum <= 0) return;
  const double factor = 1.0 / std::sqrt(sum);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] * factor);
}

struct Embedder::Impl {
  struct Job {
    std::vector<int32_t> tokens;
    EmbeddingOptions options;
    Done done;
  };

  const Model& model;
  EmbedderOptions opt;
  ForwardContext ctx;
  std::vector<float> hidden;  // [max_batch_tokens, n_embd]
  Batch batch;

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> queue;
  int64_t running = 0;  // inputs in the pass under way
  bool stopping = false;
  std::thread thread;

  Impl(const Model& m, const EmbedderOptions& o)
      : model(m),
        opt(o),
        ctx(m, o.threads, o.max_batch_tokens, o.max_input),
        hidden(static_cast<size_t>(o.max_batch_tokens * m.hparams().n_embd)) {
    thread = std::thread([this] { loop(); });
  }

  ~Impl() { stop(); }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (thread.joinable()) thread.join();
  }

  // Caches come in power-of-two sizes and are kept for later passes (up to kSpareBytes), so a stream of short
  // inputs does not allocate and zero fresh memory for every one of them.
  static constexpr size_t kSpareBytes = size_t{128} << 20;
  std::vector<std::unique_ptr<KvCache>> spare;
  size_t spare_bytes = 0;

  std::unique_ptr<KvCache> cache_for(int64_t n) {
    int64_t rows = 16;
    while (rows < n) rows *= 2;
    rows = std::min(rows, opt.max_input);
    for (auto it = spare.begin(); it != spare.end(); ++it) {
      if ((*it)->n_ctx() == rows) {
        std::unique_ptr<KvCache> c = std::move(*it);
        spare.erase(it);
        spare_bytes -= c->bytes();
        c->clear();
        return c;
      }
    }
    const HParams& hp = model.hparams();
    const TensorType type = model.is_encoder() ? TensorType::F32 : opt.kv_type;
    return std::make_unique<KvCache>(hp.n_layer, rows, hp.kv_dim(), hp.v_dim(), type, model.kv_layer_rows(rows, rows));
  }

  void give_back(std::unique_ptr<KvCache> c) {
    if (spare_bytes + c->bytes() > kSpareBytes) return;
    spare_bytes += c->bytes();
    spare.push_back(std::move(c));
  }

  // One forward pass over jobs[0..n): every input whole, hidden states of every position, pooled per input.
  void run(std::vector<Job>& jobs) {
    const int64_t width = model.hparams().n_embd;
    std::vector<std::unique_ptr<KvCache>> caches;
    batch.clear();
    batch.output_hidden = true;
    for (Job& j : jobs) {
      caches.push_back(cache_for(static_cast<int64_t>(j.tokens.size())));
      batch.add(*caches.back(), j.tokens.data(), static_cast<int64_t>(j.tokens.size()), /*all_logits=*/true);
      batch.seqs.back().causal = j.options.causal;
    }
    try {
      model.forward(ctx.compute, ctx.state, batch, hidden.data());
    } catch (const std::exception&) {
      for (Job& j : jobs) j.done({});
      return;
    }
    for (size_t i = 0; i < jobs.size(); ++i) {
      const SequenceSlice& s = batch.seqs[i];
      std::vector<float> out(static_cast<size_t>(width));
      pool_hidden(hidden.data() + s.begin * width, s.n, width, jobs[i].options.pooling, out.data());
      if (jobs[i].options.normalize) l2_normalize(out.data(), width);
      jobs[i].done(std::move(out));
    }
    for (auto& c : caches) give_back(std::move(c));
  }

  void loop() {
    for (;;) {
      std::vector<Job> jobs;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) break;
        int64_t tokens = 0;
        while (!queue.empty() && tokens + static_cast<int64_t>(queue.front().tokens.size()) <= opt.max_batch_tokens) {
          tokens += static_cast<int64_t>(queue.front().tokens.size());
          jobs.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        running = static_cast<int64_t>(jobs.size());
      }
      run(jobs);
      std::lock_guard<std::mutex> lock(mutex);
      running = 0;
    }
    std::deque<Job> left;
    {
      std::lock_guard<std::mutex> lock(mutex);
      left.swap(queue);
    }
    for (Job& j : left) j.done({});
  }
};

Embedder::Embedder(const Model& model, const EmbedderOptions& options) : options_(options) {
  if (options_.max_batch_tokens < options_.max_input) options_.max_batch_tokens = options_.max_input;
  impl_ = std::make_unique<Impl>(model, options_);
}

Embedder::~Embedder() = default;

void Embedder::stop() { impl_->stop(); }

Embedder::Stats Embedder::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return {static_cast<int64_t>(impl_->queue.size()), impl_->running};
}

int64_t Embedder::width() const { return impl_->model.hparams().n_embd; }

Embedder::Admission Embedder::submit(std::vector<int32_t> tokens, const EmbeddingOptions& options, Done done) {
  if (tokens.empty() || static_cast<int64_t>(tokens.size()) > options_.max_input) return Admission::kTooLong;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (static_cast<int>(impl_->queue.size()) >= options_.max_queue) return Admission::kQueueFull;
    impl_->queue.push_back({std::move(tokens), options, std::move(done)});
  }
  impl_->wake.notify_all();
  return Admission::kQueued;
}

std::vector<std::vector<float>> Embedder::embed_all(const std::vector<std::vector<int32_t>>& inputs,
                                                    const EmbeddingOptions& options) {
  for (const auto& in : inputs)
    if (in.empty() || static_cast<int64_t>(in.size()) > options_.max_input)
      throw std::runtime_error("an input is empty or longer than " + std::to_string(options_.max_input) + " tokens");
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::vector<float>> out;
    size_t left = 0;
    bool failed = false;
  };
  auto shared = std::make_shared<Shared>();
  shared->out.resize(inputs.size());
  shared->left = inputs.size();
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto done = [shared, i](std::vector<float> e) {
      std::lock_guard<std::mutex> lock(shared->m);
      shared->failed |= e.empty();
      shared->out[i] = std::move(e);
      if (--shared->left == 0) shared->cv.notify_all();
    };
    while (submit(inputs[i], options, done) == Admission::kQueueFull) std::this_thread::yield();  // the queue drains
  }
  std::unique_lock<std::mutex> lock(shared->m);
  shared->cv.wait(lock, [&] { return shared->left == 0; });
  if (shared->failed) throw std::runtime_error("an embedding pass failed");
  return std::move(shared->out);
}

}  // namespace fm
