#pragma once
// Images on the command line (`run` and `logits` with --mmproj / --image): decoded and encoded, then evaluated
// with the prompt's text in chunk order.
#include <memory>
#include <string>
#include <vector>

#include "runtime/session.h"
#include "service/media_prompt.h"
#include "vision/vision_encoder.h"

namespace fm::cli {

std::vector<std::shared_ptr<const ImageEmbedding>> encode_image_files(const VisionEncoder& encoder,
                                                                      const std::vector<std::string>& paths, ThreadPool& pool);

// Evaluates the prompt (text chunks and image blocks) in order; writes every row's logits to all_logits
// ([rows, n_vocab]) when given. Returns the logits after the last row.
const float* eval_media_prompt(Session& session, const MediaPrompt& prompt, float* all_logits = nullptr);

}  // namespace fm::cli
