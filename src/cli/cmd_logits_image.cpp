// `fmserve logits --mmproj MMPROJ --image FILE --prompt TEXT`: a prompt with images evaluated as llama.cpp's mtmd
// does (text chunk, image block, text chunk …), logits rows in chunk order, the image embeddings on request, and a
// greedy continuation. The layouts match the vision fixtures.
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "cli/commands.h"
#include "cli/media_input.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/session.h"
#include "service/media_prompt.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"
#include "vision/vision_encoder.h"

namespace fm::cli {
namespace {

void write_floats(const std::string& path, const std::vector<float>& v) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

}  // namespace

int run_image_logits(const LogitsOptions& opt) {
  if (opt.images.empty()) throw std::invalid_argument("--mmproj needs at least one --image");
  if (opt.greedy < 0) throw std::invalid_argument("--greedy must be >= 0");
  const TensorType kv_type = parse_kv_type(opt.kv_type);
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  auto tokenizer = make_tokenizer(*file);
  auto projector_file = GgufFile::open(opt.mmproj);
  auto encoder = load_vision_encoder(*projector_file);
  if (encoder->n_embd_text() != model->hparams().n_embd)
    throw std::invalid_argument("the projector writes " + std::to_string(encoder->n_embd_text()) +
                                "-wide embeddings but the model's width is " + std::to_string(model->hparams().n_embd));

  ThreadPool pool(default_threads(opt.threads));
  const auto images = encode_image_files(*encoder, opt.images, pool);
  if (!opt.embd_output.empty()) {
    std::vector<float> all_embd;
    for (const auto& e : images) all_embd.insert(all_embd.end(), e->data.begin(), e->data.end());
    write_floats(opt.embd_output, all_embd);
  }

  const MediaPrompt prompt = tokenize_media_prompt(*tokenizer, opt.prompt, image_framing(encoder->projector_type()), images);
  const int64_t n_rows = static_cast<int64_t>(prompt.tokens.size()), n_vocab = model->hparams().n_vocab;
  Session session(*model, n_rows + opt.greedy, 512, pool, kv_type);
  std::vector<float> logits(static_cast<size_t>(n_rows * n_vocab));
  eval_media_prompt(session, prompt, logits.data());
  if (!opt.output.empty()) write_floats(opt.output, logits);

  if (opt.greedy > 0) print_greedy(session, logits.data() + (n_rows - 1) * n_vocab, opt.greedy);
  return 0;
}

}  // namespace fm::cli
