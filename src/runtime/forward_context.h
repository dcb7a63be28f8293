#pragma once
// What an engine's forward passes need besides the model and the batch: its worker threads, scratch sized for its
// largest pass, and the compute context tying them to this CPU's kernels. One per engine (scheduler, embedder).
#include <algorithm>
#include <thread>

#include "model/model.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"

namespace fm {

struct ForwardContext {
  // threads <= 0: every core.
  ForwardContext(const Model& model, int threads, int64_t max_tokens, int64_t n_ctx)
      : pool(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        state(model.hparams(), max_tokens, n_ctx, pool.size()) {
    compute.pool = &pool;
    compute.kernels = &best_kernels();
    compute.scratch = &state.act;
  }
  ForwardContext(const ForwardContext&) = delete;
  ForwardContext& operator=(const ForwardContext&) = delete;

  ThreadPool pool;
  ForwardState state;
  Compute compute;
};

}  // namespace fm
