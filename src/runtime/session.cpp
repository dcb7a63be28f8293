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
