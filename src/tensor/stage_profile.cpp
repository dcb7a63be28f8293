#include "tensor/stage_profile.h"

namespace fm {

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::kEmbed: return "embed";
    case Stage::kNorm: return "norms";
    case Stage::kQkv: return "matmul_qkv";
    case Stage::kRope: return "rope";
    case Stage::kAttention: return "attention";
    case Stage::kAttnOutput: return "matmul_attn_output";
    case Stage::kFfnGateUp: return "matmul_ffn_gate_up";
    case Stage::kFfnActivation: return "ffn_activation";
    case Stage::kFfnDown: return "matmul_ffn_down";
    case Stage::kMoeRouting: return "moe_routing";
    case Stage::kResidual: return "residual_and_bias";
    case Stage::kLogits: return "logits";
    case Stage::kCount: break;
  }
  return "other";
}

}  // namespace fm
