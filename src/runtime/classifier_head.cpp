#include "runtime/classifier_head.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gguf/gguf_file.h"
#include "tensor/fp16.h"

namespace fm {
namespace {

std::vector<float> to_f32(const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  if (t.type == TensorType::F32) {
    std::memcpy(out.data(), t.data, out.size() * sizeof(float));
  } else if (t.type == TensorType::F16) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(t.data);
    for (size_t i = 0; i < out.size(); ++i) out[i] = fp16_to_fp32(h[i]);
  } else {
    throw GgufError("tensor '" + t.name + "' must be F32 or F16 for a classifier head");
  }
  return out;
}

}  // namespace

std::optional<ClassifierHead> ClassifierHead::load(const GgufFile& file, int64_t n_embd) {
  const GgufTensorInfo* w = file.find_tensor("cls.output.weight");
  if (!w) return std::nullopt;
  if (w->n_dims != 2 || w->ne[0] != n_embd || w->ne[1] < 1 || w->ne[1] > 4096)
    throw GgufError("cls.output.weight has shape " + w->shape_string() + ", expected [" + std::to_string(n_embd) + ", n_labels]");
  ClassifierHead head;
  head.n_embd = n_embd;
  const int64_t n_labels = w->ne[1];
  head.weight = to_f32(*w);
  if (const GgufTensorInfo* b = file.find_tensor("cls.output.bias")) {
    if (b->n_elements() != n_labels) throw GgufError("cls.output.bias must hold one value per label");
    head.bias = to_f32(*b);
  }
  const std::string arch = file.get_string_or("general.architecture", "");
  if (const GgufValue* labels = file.find(arch + ".classifier.output_labels")) {
    const GgufArray& arr = labels->as_array();
    if (arr.elem_type != GgufValueType::STRING || static_cast<int64_t>(arr.count) != n_labels)
      throw GgufError(arch + ".classifier.output_labels must hold one string per row of cls.output.weight");
    for (auto s : arr.strings) head.labels.emplace_back(s);
  } else {
    for (int64_t i = 0; i < n_labels; ++i) head.labels.push_back("LABEL_" + std::to_string(i));
  }
  head.multi_label = file.get_bool_or(arch + ".classifier.multi_label", false);
  return head;
}

std::vector<double> ClassifierHead::confidences(const float* pooled) const {
  const size_t n_labels = labels.size();
  std::vector<double> scores(n_labels);
  for (size_t l = 0; l < n_labels; ++l) {
    double s = bias.empty() ? 0.0 : bias[l];
    for (int64_t d = 0; d < n_embd; ++d) s += static_cast<double>(weight[l * n_embd + d]) * pooled[d];
    scores[l] = s;
  }
  if (multi_label) {
    for (double& s : scores) s = 1.0 / (1.0 + std::exp(-s));
    return scores;
  }
  const double top = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (double& s : scores) sum += (s = std::exp(s - top));
  for (double& s : scores) s /= sum;
  return scores;
}

}  // namespace fm
