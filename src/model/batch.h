#pragma once
// A forward pass over the tokens of one or more sequences (continuous batching): each sequence's tokens are
// contiguous in the batch and continue that sequence's KV cache. Matrix products run once over all tokens, so the
// weights are read once per step for every sequence; attention runs per sequence.
#include <cstdint>
#include <vector>

namespace fm {

class KvCache;

struct SequenceSlice {
  KvCache* cache = nullptr;
  int64_t begin = 0;        // index of the sequence's first token in the batch
  int64_t n = 0;            // its tokens in this batch
  int64_t pos0 = 0;         // position of the first of them (cache->n_used() when the batch is built)
  bool all_logits = false;  // logits after every token, else only after the last
  bool want_logits = true;  // false for a prefill chunk that does not end the prompt
  bool decode = false;      // one token the model just sampled, rather than tokens of a prompt
  bool causal = true;       // false: the slice's tokens attend to each other both ways (all of them in this batch)
  // An image: the slice's inputs are these embeddings [n, n_embd] instead of token embeddings (its token ids are
  // placeholders), and it is evaluated non-causally as one block.
  const float* embd = nullptr;
  // M-RoPE image (grid_nx > 0): token k sits at (t, h, w) = (p, p + k / grid_nx, p + k % grid_nx) and the whole
  // image advances the sequence's positions by one (KvCache::pos_shift).
  int64_t grid_nx = 0;
};

struct Batch {
  std::vector<int32_t> tokens;       // [n_tokens]
  std::vector<SequenceSlice> seqs;
  std::vector<int64_t> logit_rows;   // batch rows whose logits are produced, in order
  // Instead of logits, the output receives the hidden state after the final norm of each logit row:
  // [logit_rows, n_embd] (what embedding models pool).
  bool output_hidden = false;
  // Decode tokens come first (rows [0, n_decode)): products may route them through other kernels than prompt
  // tokens (Compute::n_decode_rows), so a token's kind, not its place in a batch, decides its arithmetic.
  int64_t n_decode = 0;

  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
  void clear() {
    tokens.clear();
    seqs.clear();
    logit_rows.clear();
    n_decode = 0;
    output_hidden = false;
  }
  // Appends a sequence's prompt tokens continuing `cache`.
  void add(KvCache& cache, const int32_t* ids, int64_t n, bool all_logits, bool want_logits = true);
  // Appends an image's embeddings [n, n_embd] continuing `cache` as one non-causal slice; grid_nx as in
  // SequenceSlice. Placeholder token ids (0) fill batch.tokens.
  void add_image(KvCache& cache, const float* embd, int64_t n, int64_t grid_nx, bool all_logits, bool want_logits);
  // Appends the token a sequence just sampled (with its logits); only before any prompt tokens.
  void add_decode(KvCache& cache, int32_t token);
};

}  // namespace fm
