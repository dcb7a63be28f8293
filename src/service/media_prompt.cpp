#include "service/media_prompt.h"

#include <stdexcept>

#include "tokenizer/tokenizer.h"
#include "vision/vision_encoder.h"

namespace fm {

ImageFraming image_framing(const std::string& projector_type) {
  if (projector_type == "gemma3") return {"<start_of_image>", "<end_of_image>"};
  if (projector_type == "qwen2vl_merger" || projector_type == "qwen2.5vl_merger")
    return {"<|vision_start|>", "<|vision_end|>"};
  return {};
}

size_t count_media_markers(std::string_view text) {
  size_t n = 0;
  for (size_t p = text.find(kMediaMarker); p != std::string_view::npos; p = text.find(kMediaMarker, p + kMediaMarker.size())) ++n;
  return n;
}

MediaPrompt tokenize_media_prompt(const Tokenizer& tok, std::string_view text, const ImageFraming& framing,
                                  const std::vector<std::shared_ptr<const ImageEmbedding>>& images, bool add_bos) {
  if (count_media_markers(text) != images.size())
    throw std::invalid_argument("the prompt has " + std::to_string(count_media_markers(text)) + " image markers for " +
                                std::to_string(images.size()) + " images");
  MediaPrompt out;
  const Vocab& vocab = tok.vocab();
  if (add_bos && vocab.add_bos() && vocab.bos() >= 0) out.tokens.push_back(vocab.bos());
  auto append = [&](std::string_view piece) {
    if (piece.empty()) return;
    const std::vector<int32_t> ids = tok.encode(piece, /*add_special=*/false, /*parse_special=*/true);
    out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
  };
  size_t start = 0;
  for (const auto& image : images) {
    const size_t at = text.find(kMediaMarker, start);
    append(text.substr(start, at - start));
    append(framing.begin);
    PromptImage slot;
    slot.at = static_cast<int64_t>(out.tokens.size());
    slot.embedding = image;
    out.images.push_back(slot);
    out.tokens.insert(out.tokens.end(), static_cast<size_t>(image->n_tokens), 0);
    append(framing.end);
    start = at + kMediaMarker.size();
  }
  append(text.substr(start));
  return out;
}

}  // namespace fm
