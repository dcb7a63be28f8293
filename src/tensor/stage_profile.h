#pragma once
// Where a forward pass spends its time, for `fmserve bench --profile`: wall time per stage of the layers, summed
// over calls. Stages are timed on the calling thread around whole parallel loops, so their sum is the pass's wall
// time; the thread pool separately reports how long that thread waited for the workers at the loops' ends.
#include <array>
#include <chrono>
#include <cstdint>

namespace fm {

enum class Stage : uint8_t {
  kEmbed,          // token embedding rows
  kNorm,           // RMS norms (block inputs, q/k norms, post norms)
  kQkv,            // the q, k and v products
  kRope,           // rotary position embedding and the q scale
  kAttention,      // KV cache writes, scores, softmax, weighted values
  kAttnOutput,     // the attention output product
  kFfnGateUp,      // the FFN gate and up products (MoE: the experts' too)
  kFfnActivation,  // SwiGLU / GeGLU
  kFfnDown,        // the FFN down product (MoE: the experts' too)
  kMoeRouting,     // router product, expert choice and gathering
  kResidual,       // residual additions and biases
  kLogits,         // final norm and the output product
  kCount
};

const char* stage_name(Stage s);

struct StageProfile {
  std::array<double, static_cast<size_t>(Stage::kCount)> seconds{};
  std::array<int64_t, static_cast<size_t>(Stage::kCount)> calls{};
  void clear() { *this = StageProfile{}; }
};

// Adds the scope's wall time to `profile` (nothing at all when it is null).
class StageTimer {
 public:
  StageTimer(StageProfile* profile, Stage stage) : profile_(profile), stage_(stage) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~StageTimer() {
    if (!profile_) return;
    const auto i = static_cast<size_t>(stage_);
    profile_->seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    ++profile_->calls[i];
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageProfile* profile_;
  Stage stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fm
