#include "model/batch.h"

#include <stdexcept>
#include <vector>

#include "model/kv_cache.h"

namespace fm {

void Batch::add(KvCache& cache, const int32_t* ids, int64_t n, bool all_logits, bool want_logits) {
  SequenceSlice s;
  s.cache = &cache;
  s.begin = n_tokens();
  s.n = n;
  s.pos0 = cache.n_used();
  s.all_logits = all_logits;
  s.want_logits = want_logits;
  tokens.insert(tokens.end(), ids, ids + n);
  if (want_logits) {
    for (int64_t t = all_logits ? 0 : n - 1; t < n; ++t) logit_rows.push_back(s.begin + t);
  }
  seqs.push_back(s);
}

void Batch::add_image(KvCache& cache, const float* embd, int64_t n, int64_t grid_nx, bool all_logits, bool want_logits) {
  const std::vector<int32_t> placeholders(static_cast<size_t>(n), 0);
  add(cache, placeholders.data(), n, all_logits, want_logits);
  seqs.back().embd = embd;
  seqs.back().causal = false;
  seqs.back().grid_nx = grid_nx;
}

void Batch::add_decode(KvCache& cache, int32_t token) {
  if (n_decode != n_tokens()) throw std::logic_error("Batch: decode tokens must precede prompt tokens");
  add(cache, &token, 1, false);
  seqs.back().decode = true;
  ++n_decode;
}

}  // namespace fm
