#include "runtime/scheduler.h"

#include "runtime/forward_context.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "vision/vision_encoder.h"

namespace fm {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kDeadline: return "deadline";
    case FinishReason::kError: return "error";
  }
  return "error";
}

namespace {

struct Group {  // the choices of one request
  std::shared_ptr<SchedulerRequest> req;
  std::vector<ChoiceResult> results;
  int remaining = 0;
  size_t kv_reserved = 0;
};

struct Sequence {
  std::shared_ptr<Group> group;
  int choice = 0;
  std::unique_ptr<KvCache> cache;
  int64_t prefilled = 0;  // prompt tokens already in the cache
  bool decoding = false;
  int32_t next_token = -1;
  int64_t generated = 0;
  Sampler sampler;
  std::unordered_map<int32_t, int> counts;  // generated token counts for presence/frequency penalties
  std::unique_ptr<TokenConstraint> constraint;  // structured output, when the request has one
  // This step's choice, made in parallel with the other sequences' and delivered afterwards in order. A token of -1
  // means the grammar allowed none. Reused every step (its `top` keeps its capacity).
  TokenEvent picked;
  Sequence(std::shared_ptr<Group> g, int c)
      : group(std::move(g)), choice(c), sampler([&] {
          SamplingParams p = group->req->sampling;
          p.seed += static_cast<uint64_t>(c);
          return p;
        }()) {
    if (group->req->new_constraint) constraint = group->req->new_constraint();
  }
};

}  // namespace

struct Scheduler::Impl {
  const Model& model;
  SchedulerOptions opt;
  ForwardContext ctx;
  // [rows, n_vocab]: one row per sequence of a step at most, grown to the most rows a step has needed (sized for
  // every batch token up front, a 152k vocabulary held 155 MB of pages that were never read).
  std::vector<float> logits;
  std::vector<std::vector<float>> penalized;  // [threads][n_vocab]: each thread's copy of a row it adjusts
  Batch batch;
  // One step's sequences in batch order, and the rows they choose a token from (forks share their parent's row).
  std::vector<Sequence*> order;
  std::vector<std::pair<Sequence*, const float*>> choosers;

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::shared_ptr<SchedulerRequest>> queue;             // interactive, FIFO
  std::deque<std::shared_ptr<SchedulerRequest>> background_queue;  // admitted only when `queue` is empty
  std::vector<std::unique_ptr<Sequence>> running;
  size_t kv_reserved = 0;
  bool stopping = false;
  SchedulerStats counters;
  std::thread thread;

  Impl(const Model& m, const SchedulerOptions& o)
      : model(m),
        opt(o),
        ctx(m, o.threads, o.max_batch_tokens + o.max_image_tokens, o.n_ctx),
        penalized(static_cast<size_t>(ctx.pool.size()), std::vector<float>(static_cast<size_t>(m.hparams().n_vocab))) {
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

  int64_t rows_for(const SchedulerRequest& r) const {
    return std::min<int64_t>(opt.n_ctx, static_cast<int64_t>(r.prompt.size()) + r.max_tokens);
  }
  size_t kv_bytes_for(int64_t rows) const {
    const HParams& hp = model.hparams();
    const size_t elem = opt.kv_type == TensorType::F32 ? 4 : 2;
    return static_cast<size_t>(hp.n_layer) * static_cast<size_t>(rows) * static_cast<size_t>(hp.kv_dim() + hp.v_dim()) * elem;
  }
  std::unique_ptr<KvCache> new_cache(int64_t rows) const {
    const HParams& hp = model.hparams();
    return std::make_unique<KvCache>(hp.n_layer, rows, hp.kv_dim(), hp.v_dim(), opt.kv_type,
                                     model.kv_layer_rows(rows, opt.max_batch_tokens));
  }

  // Moves queued requests into the running set while sequences and KV budget allow (FIFO, no overtaking;
  // interactive requests first).
  void admit() {
    std::lock_guard<std::mutex> lock(mutex);
    for (;;) {
      auto& from = !queue.empty() ? queue : background_queue;
      if (from.empty()) break;
      const auto& req = from.front();
      const size_t need = kv_bytes_for(rows_for(*req)) * static_cast<size_t>(req->n);
      const bool fits_budget = kv_reserved + need <= opt.kv_budget_bytes || running.empty();
      if (static_cast<int>(running.size()) + req->n > opt.max_running || !fits_budget) break;
      auto group = std::make_shared<Group>();
      group->req = req;
      group->results.resize(static_cast<size_t>(req->n));
      group->remaining = 1;  // the other choices join when they fork from choice 0 after the prompt
      group->kv_reserved = need;
      kv_reserved += need;
      auto seq = std::make_unique<Sequence>(group, 0);
      seq->cache = new_cache(rows_for(*req));
      running.push_back(std::move(seq));
      ++counters.running;
      counters.prompt_tokens += static_cast<int64_t>(req->prompt.size());
      from.pop_front();
    }
  }

  void finish(Sequence& seq, FinishReason reason) {
    seq.cache.reset();  // KV freed at once
    Group& g = *seq.group;
    if (!seq.decoding) {
      for (auto& r : g.results) r = {reason, 0};  // ended during the prompt: no choice was forked yet
    }
    g.results[static_cast<size_t>(seq.choice)] = {reason, seq.generated};
    {
      std::lock_guard<std::mutex> lock(mutex);
      --counters.running;  // visible before on_finish runs
    }
    if (--g.remaining == 0) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        kv_reserved -= g.kv_reserved;
      }
      if (g.req->on_finish) g.req->on_finish(g.results, static_cast<int64_t>(g.req->prompt.size()));
    }
  }

  // Chooses seq's next token from its row of logits into seq.picked: penalties and the grammar's mask on a copy
  // (`scratch`, [n_vocab]) when the request has them, then the sampler, then the log-probabilities asked for.
  // Touches only seq's own state, so the sequences of a step choose in parallel.
  void choose(Sequence& seq, const float* row, float* scratch) const {
    const SchedulerRequest& req = *seq.group->req;
    const int64_t n_vocab = model.hparams().n_vocab;
    TokenEvent& ev = seq.picked;
    ev.choice = seq.choice;
    ev.token = -1;
    ev.top.clear();
    const bool penalties = !seq.counts.empty() && (req.presence_penalty != 0.f || req.frequency_penalty != 0.f);
    const float* adjusted = row;
    if (penalties || seq.constraint) {
      std::copy(row, row + n_vocab, scratch);
      if (penalties)
        for (const auto& [token, count] : seq.counts)
          scratch[token] -= req.presence_penalty + req.frequency_penalty * static_cast<float>(count);
      if (seq.constraint && !seq.constraint->mask(scratch, n_vocab, req.stop_tokens)) return;
      adjusted = scratch;
    }
    ev.token = seq.sampler.sample(adjusted, n_vocab);
    if (req.top_logprobs >= 0) log_probabilities(row, n_vocab, req.top_logprobs, ev);
  }

  // ev.logprob of ev.token and the `k` most likely tokens (the lower id first among equals), from the raw logits.
  static void log_probabilities(const float* row, int64_t n_vocab, int k, TokenEvent& ev) {
    float max_logit = row[0];
    for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, row[i]);
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(row[i] - max_logit));
    const float log_z = max_logit + static_cast<float>(std::log(sum));
    ev.logprob = row[ev.token] - log_z;
    // One pass keeping the best k in order: a logit enters only if strictly above the k-th kept.
    const size_t keep = static_cast<size_t>(std::min<int64_t>(k, n_vocab));
    for (int64_t i = 0; i < n_vocab && keep > 0; ++i) {
      if (ev.top.size() == keep && !(row[i] > ev.top.back().logprob)) continue;
      if (ev.top.size() == keep) ev.top.pop_back();
      size_t at = ev.top.size();
      while (at > 0 && row[i] > ev.top[at - 1].logprob) --at;
      ev.top.insert(ev.top.begin() + static_cast<std::ptrdiff_t>(at), TopLogprob{static_cast<int32_t>(i), row[i]});
    }
    for (auto& t : ev.top) t.logprob -= log_z;
  }

  // Delivers the token choose() picked; finishes the sequence when it ends.
  void deliver(Sequence& seq) {
    const SchedulerRequest& req = *seq.group->req;
    const TokenEvent& ev = seq.picked;
    const int32_t token = ev.token;
    if (token < 0) {
      finish(seq, FinishReason::kError);  // the grammar allows nothing: cannot happen for a well-formed grammar
      return;
    }
    if (std::find(req.stop_tokens.begin(), req.stop_tokens.end(), token) != req.stop_tokens.end()) {
      finish(seq, FinishReason::kStop);
      return;
    }
    if (seq.constraint) seq.constraint->accept(token);
    ++seq.generated;
    ++seq.counts[token];
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++counters.tokens_generated;
    }
    const bool keep_going = !req.on_token || req.on_token(ev);
    if (!keep_going || (seq.constraint && seq.constraint->complete())) return finish(seq, FinishReason::kStop);
    if (seq.generated >= req.max_tokens || seq.cache->n_used() >= seq.cache->n_ctx())
      return finish(seq, FinishReason::kLength);
    seq.next_token = token;
  }

  // Adds the next piece of seq's prompt to the batch within `budget` tokens and returns its size (0: nothing fits).
  // Text is chunked up to the next image; an image goes whole, as one non-causal block, even beyond the budget
  // when it is the step's first prefill (the forward state has room for a full batch plus the largest image).
  int64_t add_prefill(Sequence& seq, int64_t budget, bool first_prefill) {
    const SchedulerRequest& req = *seq.group->req;
    const int64_t size = static_cast<int64_t>(req.prompt.size()), p = seq.prefilled;
    int64_t next_image_at = size;
    for (const PromptImage& image : req.images) {
      if (image.at == p) {
        const int64_t n = image.embedding->n_tokens;
        if (n > budget && !first_prefill) return 0;
        batch.add_image(*seq.cache, image.embedding->data.data(), n, image.embedding->grid_nx, false, p + n == size);
        return n;
      }
      if (image.at > p) {
        next_image_at = image.at;
        break;
      }
    }
    const int64_t chunk = std::min(budget, next_image_at - p);
    if (chunk <= 0) return 0;
    batch.add(*seq.cache, req.prompt.data() + p, chunk, false, p + chunk == size);
    return chunk;
  }

  void step() {
    // Drop cancelled and overdue requests before spending compute on them.
    const auto now = std::chrono::steady_clock::now();
    for (auto& seq : running) {
      const SchedulerRequest& req = *seq->group->req;
      if (req.cancelled->load()) finish(*seq, FinishReason::kCancelled);
      else if (now > req.deadline) finish(*seq, FinishReason::kDeadline);
    }
    erase_finished();
    if (running.empty()) return;

    batch.clear();
    int64_t budget = opt.max_batch_tokens;
    order.clear();
    const auto background = [](const Sequence& s) { return s.group->req->priority == Priority::kBackground; };
    // An interactive prompt being read takes the step to itself (with the other interactive decodes): its first
    // token waits for no background work.
    const bool interactive_prefill = std::any_of(running.begin(), running.end(), [&](const auto& s) {
      return !s->decoding && !background(*s);
    });
    for (auto& seq : running) {
      if (!seq->decoding || budget <= 0 || (interactive_prefill && background(*seq))) continue;
      batch.add_decode(*seq->cache, seq->next_token);
      order.push_back(seq.get());
      --budget;
    }
    int64_t background_budget = interactive_prefill ? 0 : opt.background_prefill_tokens;
    bool prefilling = false;
    for (int pass = 0; pass < 2; ++pass) {  // chunked prefill: interactive prompts first, then background ones
      for (auto& seq : running) {
        if (seq->decoding || budget <= 0 || background(*seq) != (pass == 1)) continue;
        const int64_t used = add_prefill(*seq, std::min(budget, pass == 1 ? background_budget : budget), !prefilling);
        if (used == 0) continue;
        prefilling = true;
        order.push_back(seq.get());
        budget -= used;
        if (pass == 1) background_budget -= used;
      }
    }
    if (order.empty()) return;
    try {
      const size_t floats = batch.logit_rows.size() * static_cast<size_t>(model.hparams().n_vocab);
      if (logits.size() < floats) logits.resize(floats);
      model.forward(ctx.compute, ctx.state, batch, logits.data());
    } catch (const std::exception&) {
      for (auto& seq : running) finish(*seq, FinishReason::kError);
      erase_finished();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++counters.steps;
    }
    const int64_t n_vocab = model.hparams().n_vocab;
    size_t row = 0;
    std::vector<std::unique_ptr<Sequence>> forks;
    choosers.clear();
    for (size_t i = 0; i < order.size(); ++i) {
      Sequence& seq = *order[i];
      const SequenceSlice& slice = batch.seqs[i];
      if (!seq.decoding) {
        seq.prefilled += slice.n;
        if (!slice.want_logits) continue;
        seq.decoding = true;
        const float* r = logits.data() + static_cast<int64_t>(row++) * n_vocab;
        // n > 1: the other choices copy the prompt's KV cache and sample from the same logits.
        for (int c = 1; c < seq.group->req->n; ++c) {
          auto fork = std::make_unique<Sequence>(seq.group, c);
          ++seq.group->remaining;
          {
            std::lock_guard<std::mutex> lock(mutex);
            ++counters.running;
          }
          fork->cache = new_cache(rows_for(*seq.group->req));
          fork->cache->copy_prefix(*seq.cache, seq.cache->n_used());
          fork->prefilled = seq.prefilled;
          fork->decoding = true;
          choosers.emplace_back(fork.get(), r);
          forks.push_back(std::move(fork));
        }
        choosers.emplace_back(&seq, r);
      } else {
        choosers.emplace_back(&seq, logits.data() + static_cast<int64_t>(row++) * n_vocab);
      }
    }
    // Sampling (a pass or two over the vocabulary per sequence) runs on every thread; delivery stays in order here.
    ctx.pool.parallel_for(static_cast<int64_t>(choosers.size()), 1, [&](int64_t b, int64_t e) {
      float* scratch = penalized[static_cast<size_t>(ThreadPool::current_thread_index())].data();
      for (int64_t i = b; i < e; ++i) {
        const auto& [seq, r] = choosers[static_cast<size_t>(i)];
        choose(*seq, r, scratch);
      }
    });
    for (const auto& [seq, r] : choosers) deliver(*seq);
    for (auto& f : forks) {
      if (!f->cache) continue;  // finished on its first token
      running.push_back(std::move(f));
    }
    erase_finished();
  }

  void erase_finished() {
    running.erase(std::remove_if(running.begin(), running.end(), [](const auto& s) { return !s->cache; }), running.end());
  }

  void loop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty() || !background_queue.empty() || !running.empty(); });
        if (stopping) break;
      }
      admit();
      step();
    }
    // Shutdown: everything still waiting or running ends as cancelled.
    for (auto& seq : running) finish(*seq, FinishReason::kCancelled);
    running.clear();
    std::deque<std::shared_ptr<SchedulerRequest>> left;
    {
      std::lock_guard<std::mutex> lock(mutex);
      left.swap(queue);
      left.insert(left.end(), background_queue.begin(), background_queue.end());
      background_queue.clear();
    }
    for (auto& req : left)
      if (req->on_finish) req->on_finish(std::vector<ChoiceResult>(static_cast<size_t>(req->n), {FinishReason::kCancelled, 0}), 0);
  }
};

Scheduler::Scheduler(const Model& model, const SchedulerOptions& options)
    : options_(options), impl_(std::make_unique<Impl>(model, options)) {}

Scheduler::~Scheduler() = default;

void Scheduler::stop() { impl_->stop(); }

Scheduler::Admission Scheduler::submit(std::shared_ptr<SchedulerRequest> request) {
  if (request->prompt.empty() || request->n < 1 || request->n > options_.max_running || request->max_tokens < 1 ||
      static_cast<int64_t>(request->prompt.size()) + request->max_tokens > options_.n_ctx)
    return Admission::kTooLong;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (request->priority == Priority::kBackground) {
      impl_->background_queue.push_back(std::move(request));
    } else {
      if (static_cast<int>(impl_->queue.size()) >= options_.max_queue) return Admission::kQueueFull;
      impl_->queue.push_back(std::move(request));
    }
  }
  impl_->wake.notify_all();
  return Admission::kQueued;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  SchedulerStats s = impl_->counters;
  s.queued = static_cast<int64_t>(impl_->queue.size() + impl_->background_queue.size());
  s.kv_bytes_in_use = impl_->kv_reserved;
  s.kv_budget_bytes = options_.kv_budget_bytes;
  return s;
}

}  // namespace fm
