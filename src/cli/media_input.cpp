#include "cli/media_input.h"

#include "image/image.h"
#include "tensor/kernels/kernel_table.h"
#include "tensor/thread_pool.h"
#include "util/read_file.h"

namespace fm::cli {

std::vector<std::shared_ptr<const ImageEmbedding>> encode_image_files(const VisionEncoder& encoder,
                                                                      const std::vector<std::string>& paths, ThreadPool& pool) {
  ScratchBuffer scratch;
  Compute c{&pool, &best_kernels(), &scratch};
  std::vector<std::shared_ptr<const ImageEmbedding>> out;
  for (const std::string& path : paths) {
    const std::string bytes = read_file(path);
    RgbImage rgb;
    try {
      rgb = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const ImageError& e) {
      throw ImageError("'" + path + "': " + e.what());
    }
    out.push_back(std::make_shared<const ImageEmbedding>(encoder.encode(c, encoder.preprocess(rgb))));
  }
  return out;
}

const float* eval_media_prompt(Session& session, const MediaPrompt& prompt, float* all_logits) {
  const int64_t n_rows = static_cast<int64_t>(prompt.tokens.size()), n_vocab = session.n_vocab();
  const float* last = nullptr;
  auto text = [&](int64_t from, int64_t to) {
    if (to <= from) return;
    if (all_logits) {
      session.eval_all(prompt.tokens.data() + from, to - from, all_logits + from * n_vocab);
      last = all_logits + (to - 1) * n_vocab;
    } else {
      last = session.eval(prompt.tokens.data() + from, to - from);
    }
  };
  int64_t row = 0;
  for (const PromptImage& image : prompt.images) {
    text(row, image.at);
    const ImageEmbedding& e = *image.embedding;
    session.eval_image(e.data.data(), e.n_tokens, e.grid_nx, all_logits ? all_logits + image.at * n_vocab : nullptr);
    last = all_logits ? all_logits + (image.at + e.n_tokens - 1) * n_vocab : session.last_logits();
    row = image.at + e.n_tokens;
  }
  text(row, n_rows);
  return last;
}

}  // namespace fm::cli
