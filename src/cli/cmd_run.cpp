// `fmserve run`: tokenize a prompt, then stream the sampled continuation to stdout.
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "cli/commands.h"
#include "cli/media_input.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

int default_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

TensorType parse_kv_type(const std::string& name) {
  if (name == "f16") return TensorType::F16;
  if (name == "f32") return TensorType::F32;
  throw std::invalid_argument("--kv-type must be f16 or f32, not '" + name + "'");
}

int run_generate(const RunOptions& opt) {
  if (opt.n_predict < 0) throw std::invalid_argument("-n must be >= 0");
  const TensorType kv_type = parse_kv_type(opt.kv_type);
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  auto tokenizer = make_tokenizer(*file);
  ThreadPool pool(default_threads(opt.threads));
  MediaPrompt media;
  std::unique_ptr<GgufFile> projector_file;
  if (!opt.mmproj.empty()) {
    projector_file = GgufFile::open(opt.mmproj);
    const auto encoder = load_vision_encoder(*projector_file);
    if (encoder->n_embd_text() != model->hparams().n_embd)
      throw std::invalid_argument("the projector does not fit the model: its embeddings are " +
                                  std::to_string(encoder->n_embd_text()) + " wide, the model's " +
                                  std::to_string(model->hparams().n_embd));
    std::string text = opt.prompt;
    if (count_media_markers(text) == 0)
      for (size_t i = 0; i < opt.images.size(); ++i) text.insert(0, std::string(kMediaMarker) + "\n");
    media = tokenize_media_prompt(*tokenizer, text, image_framing(encoder->projector_type()),
                                  encode_image_files(*encoder, opt.images, pool));
  } else {
    if (!opt.images.empty()) throw std::invalid_argument("--image needs --mmproj");
    media.tokens = tokenizer->encode(opt.prompt, true);
  }
  const std::vector<int32_t>& prompt = media.tokens;
  if (prompt.empty()) throw std::invalid_argument("the prompt produced no tokens");
  const int64_t n_ctx_train = model->hparams().n_ctx_train;
  if (static_cast<int64_t>(prompt.size()) >= n_ctx_train)
    throw std::invalid_argument("prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " +
                                std::to_string(n_ctx_train));
  const int64_t n_ctx = std::min<int64_t>(n_ctx_train, static_cast<int64_t>(prompt.size()) + opt.n_predict);

  Session session(*model, n_ctx, 512, pool, kv_type);
  SamplingParams sp;
  sp.temperature = opt.sampling.temperature;
  sp.top_k = opt.sampling.top_k;
  sp.top_p = opt.sampling.top_p;
  sp.min_p = opt.sampling.min_p;
  sp.seed = opt.sampling.seed;
  Sampler sampler(sp);
  Utf8StreamDecoder decoder;

  const float* logits = cli::eval_media_prompt(session, media);
  for (int i = 0; i < opt.n_predict; ++i) {
    const int32_t token = sampler.sample(logits, session.n_vocab());
    if (tokenizer->is_end_of_generation(token)) break;
    std::cout << decoder.push(tokenizer->token_to_piece(token)) << std::flush;
    if (session.n_past() >= session.n_ctx()) {
      std::cerr << "\nfmserve: context of " << session.n_ctx() << " positions is full\n";
      break;
    }
    logits = session.decode(token);
  }
  std::cout << decoder.flush() << std::endl;
  return 0;
}

}  // namespace fm::cli
