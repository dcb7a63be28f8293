#include "runtime/session.h"

#include <algorithm>

#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

Session::Session(const Model& model, int64_t n_ctx, int64_t max_batch, ThreadPool& pool, TensorType kv_type)
    : model_(model),
      cache_(model.hparams().n_layer, n_ctx, model.hparams().kv_dim(), model.hparams().v_dim(), kv_type,
             model.kv_layer_rows(n_ctx, max_batch)),
      state_(model.hparams(), max_batch, n_ctx, pool.size()),
      last_logits_(static_cast<size_t>(model.hparams().n_vocab)) {
  compute_.pool = &pool;
  compute_.kernels = &best_kernels();
  compute_.scratch = &state_.act;
}

const float* Session::eval(const int32_t* tokens, int64_t n) {
  for (int64_t done = 0; done < n;) {
    const int64_t chunk = std::min(n - done, state_.max_tokens);
    batch_.clear();
    batch_.add(cache_, tokens + done, chunk, false);
    model_.forward(compute_, state_, batch_, last_logits_.data());
    done += chunk;
  }
  return last_logits_.data();
}

const float* Session::decode(int32_t token) {
  batch_.clear();
  batch_.add_decode(cache_, token);
  model_.forward(compute_, state_, batch_, last_logits_.data());
  return last_logits_.data();
}

void Session::eval_image(const float* embd, int64_t n, int64_t grid_nx, float* out) {
  ForwardState* st = &state_;
  if (n > state_.max_tokens) {
    if (!image_state_ || image_state_->max_tokens < n)
      image_state_ = std::make_unique<ForwardState>(model_.hparams(), n, state_.n_ctx, compute_.pool->size());
    st = image_state_.get();
  }
  Compute c = compute_;
  c.scratch = &st->act;
  batch_.clear();
  batch_.add_image(cache_, embd, n, grid_nx, /*all_logits=*/true, /*want_logits=*/true);
  const int64_t n_vocab = model_.hparams().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n * n_vocab));
  model_.forward(c, *st, batch_, logits.data());
  if (out) std::copy(logits.begin(), logits.end(), out);
  std::copy(logits.end() - n_vocab, logits.end(), last_logits_.begin());
}

void Session::eval_all(const int32_t* tokens, int64_t n, float* out) {
  const int64_t n_vocab = model_.hparams().n_vocab;
  for (int64_t done = 0; done < n;) {
    const int64_t chunk = std::min(n - done, state_.max_tokens);
    batch_.clear();
    batch_.add(cache_, tokens + done, chunk, true);
    model_.forward(compute_, state_, batch_, out + done * n_vocab);
    done += chunk;
  }
  if (n > 0) std::copy(out + (n - 1) * n_vocab, out + n * n_vocab, last_logits_.begin());
}

}  // namespace fm
