#pragma once
// Random-weight GGUF models with the exact tensor names, shapes, metadata and quantization mixtures of real ones:
// speed can be measured without the real weights.
#include <cstdint>
#include <string>
#include <vector>

namespace fm {

struct SynthRequest {
  std::string arch;   // must match the shape's architecture when given
  std::string shape;  // see synth_shapes(): real decoder and encoder shapes, and tiny ones for tests
  std::string type;   // F16, Q8_0, Q4_0, Q4_K_M, Q6_K
  std::string output;
  uint64_t seed = 1;
  // A classification head (cls.output.weight [n_embd, n_labels] + bias) with these labels, when not empty.
  std::vector<std::string> classifier_labels;
  bool multi_label = false;
  std::string pooling;  // mean, last or cls: written as <arch>.pooling_type when given
  // A GGUF whose tokenizer (tokenizer.* keys) the model takes instead of a synthetic one; its token count becomes
  // the model's vocabulary size (decoders only).
  std::string vocab;
  // Projector shapes: the text model's width the projector writes (0: the real model's).
  int64_t text_width = 0;
};

std::vector<std::string> synth_shapes();
std::vector<std::string> synth_types();
// Writes the model; throws std::invalid_argument for unknown shapes/types, std::runtime_error on I/O errors.
void synthesize_model(const SynthRequest& request);

// Vision projectors (mmproj files readable by llama.cpp's mtmd): gemma3-siglip-896, qwen2.5-vl-7b-vit; types F16 and
// Q8_0 (the patch kernel stays F16 and the position embeddings F32, as llama.cpp computes them).
std::vector<std::string> projector_shapes();
void synthesize_projector(const SynthRequest& request);

}  // namespace fm
