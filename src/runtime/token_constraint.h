#pragma once
// What a sequence may generate next, beyond its sampling parameters: structured output (a grammar over the
// vocabulary) plugs in here without the scheduler knowing how the set of allowed tokens is computed.
#include <cstdint>
#include <memory>
#include <vector>

namespace fm {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logit of every token the constraint forbids now to -infinity. `end_tokens` (end of generation) are
  // allowed only where the output may end. Returns false when no token at all is allowed.
  virtual bool mask(float* logits, int64_t n_vocab, const std::vector<int32_t>& end_tokens) = 0;
  // Records the token the sampler drew (always one mask() allowed).
  virtual void accept(int32_t token) = 0;
  // Nothing but the end of generation may follow.
  virtual bool complete() const = 0;
};

}  // namespace fm
