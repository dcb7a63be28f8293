#pragma once
// Matrix products of a weight matrix in its stored (quantized) type with f32 activations. The activations
// are converted once per call to the weight type's activation format, then every output is one vec_dot.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "gguf/tensor_type.h"
#include "tensor/stage_profile.h"

namespace fm {

struct KernelTable;
class ThreadPool;
class PackedMatrix;

// A 2-D weight matrix as laid out in the file: n_rows rows of n_cols elements each.
struct MatrixView {
  TensorType type = TensorType::F32;
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  // The same matrix repacked for the GEMM kernels, if the model packed it; used when the kernel table can.
  const PackedMatrix* packed = nullptr;

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

// Reusable byte buffer, 64-byte aligned; grows only when a larger size is first requested.
class ScratchBuffer {
 public:
  void* reserve(size_t bytes);

 private:
  std::vector<uint64_t> storage_;
  size_t offset_ = 0;
};

struct Compute {
  ThreadPool* pool = nullptr;
  const KernelTable* kernels = nullptr;
  ScratchBuffer* scratch = nullptr;  // activation conversion buffer
  // The first n_decode_rows input rows of a product are decode tokens (one per sequence, just sampled); the rest
  // are prompt tokens. Kernels may route the two kinds differently: decode through the kernels that stream the
  // weights, prompts through the fastest batched ones. Each route is exact to f32 rounding but the two are not
  // bit-identical, so a token's route depends only on its kind, never on the batch it shares.
  int64_t n_decode_rows = 0;
  StageProfile* profile = nullptr;  // `fmserve bench --profile`: the layers time their stages into it
};

// y[t, r] = sum_k W[r, k] * x[t, k]   x: [n_tok, n_cols] f32, y: [n_tok, n_rows] f32.
void matmul(const Compute& c, const MatrixView& w, const float* x, int64_t n_tok, float* y);

// y[i] = W[i] x for up to 8 matrices with the same number of columns applied to one input: the input is converted
// once and all products run in one parallel pass (the attention projections, the FFN gate and up).
void matmul_shared_input(const Compute& c, std::initializer_list<const MatrixView*> w, std::initializer_list<float*> y,
                         const float* x, int64_t n_tok);

// Copies row `r` of w into dst as f32 (embedding look-up).
void dequantize_row(const KernelTable& k, const MatrixView& w, int64_t r, float* dst);

}  // namespace fm
