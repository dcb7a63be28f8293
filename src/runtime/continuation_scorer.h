#pragma once
// Teacher-forced log-probabilities of several continuations of one prompt: the prompt is evaluated once, every
// continuation continues a copy of its KV cache, and all continuations run in one batched forward pass. This is how
// few-shot classification scores its labels, without sampling.
#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {

class Model;
class ThreadPool;

// log P(continuation | prompt) for each continuation (natural log, summed over its tokens, in double).
// Throws std::invalid_argument for an empty prompt or continuation, std::length_error beyond the model's context.
std::vector<double> score_continuations(const Model& model, const std::vector<int32_t>& prompt,
                                        const std::vector<std::vector<int32_t>>& continuations, ThreadPool& pool,
                                        TensorType kv_type = TensorType::F16);

// log-softmax(logits)[token] in double.
double token_logprob(const float* logits, int64_t n_vocab, int32_t token);

}  // namespace fm
