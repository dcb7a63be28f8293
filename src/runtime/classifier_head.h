#pragma once
// A fine-tuned classifier's head over a model's pooled hidden state: scores = W e + b, then softmax (multi-class:
// the confidences sum to 1) or a sigmoid per label (multi-label: independent). Tensors `cls.output.weight`
// [n_embd, n_labels] (GGUF dims) and optional `cls.output.bias` [n_labels]; labels in
// `<arch>.classifier.output_labels` (else LABEL_0, LABEL_1, …); multi-label when `<arch>.classifier.multi_label`
// (fmserve's key) is true.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fm {

class GgufFile;

struct ClassifierHead {
  std::vector<std::string> labels;
  std::vector<float> weight;  // [n_labels, n_embd], converted to f32
  std::vector<float> bias;    // [n_labels], or empty
  int64_t n_embd = 0;
  bool multi_label = false;

  // nullopt when the file has no cls.output.weight; throws GgufError for a malformed head.
  static std::optional<ClassifierHead> load(const GgufFile& file, int64_t n_embd);
  // Confidences per label from a pooled hidden state [n_embd], computed in double.
  std::vector<double> confidences(const float* pooled) const;
};

}  // namespace fm
