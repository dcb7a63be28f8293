#pragma once
// Prompts with images: the text holds a marker where each image goes; it is tokenized as llama.cpp's mtmd does
// (text on each side of a marker tokenized on its own with special tokens recognised, the encoder's begin/end
// strings glued to the neighbouring text, BOS first when the vocabulary adds it). Image token rows hold
// placeholder ids (0) and are evaluated from the image's embeddings.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/scheduler.h"

namespace fm {

class Tokenizer;
struct ImageEmbedding;

inline constexpr std::string_view kMediaMarker = "<__media__>";

// The strings around an image for a projector type ("gemma3": <start_of_image> / <end_of_image>; Qwen:
// <|vision_start|> / <|vision_end|>).
struct ImageFraming {
  std::string begin, end;
};
ImageFraming image_framing(const std::string& projector_type);

// Counts the markers in a text.
size_t count_media_markers(std::string_view text);

// Tokens of `text` with images[i] at the i-th marker; images.size() must equal the number of markers.
// add_bos: BOS first when the vocabulary adds it (raw prompts; a chat template writes its own).
struct MediaPrompt {
  std::vector<int32_t> tokens;     // placeholders (0) at image rows
  std::vector<PromptImage> images;
};
MediaPrompt tokenize_media_prompt(const Tokenizer& tok, std::string_view text, const ImageFraming& framing,
                                  const std::vector<std::shared_ptr<const ImageEmbedding>>& images, bool add_bos = true);

}  // namespace fm
