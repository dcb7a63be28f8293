// `fmserve embed`: the pooled embedding of a text or of token ids, computed as the server computes it.
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/embedder.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

int run_embed(const EmbedOptions& opt) {
  if (opt.text_given == !opt.tokens.empty()) throw std::invalid_argument("give exactly one of --text and --tokens");
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  EmbeddingOptions options = embedding_defaults(*file);
  if (!opt.pooling.empty() && !parse_pooling(opt.pooling, &options.pooling))
    throw std::invalid_argument("--pooling must be mean, last or cls");
  if (opt.non_causal) options.causal = false;
  options.normalize = opt.normalize;
  std::vector<int32_t> ids = opt.tokens;
  if (opt.text_given) ids = make_tokenizer(*file)->encode(opt.text, /*add_special=*/true, /*parse_special=*/false);
  if (ids.empty()) throw std::invalid_argument("the input has no tokens");
  EmbedderOptions eo;
  eo.max_input = static_cast<int64_t>(ids.size());
  eo.kv_type = parse_kv_type(opt.kv_type);
  eo.threads = default_threads(opt.threads);
  Embedder embedder(*model, eo);
  const std::vector<float> e = embedder.embed_all({ids}, options).at(0);
  std::cout << nlohmann::json{{"embedding", e}, {"n_tokens", ids.size()}}.dump() << std::endl;
  return 0;
}

}  // namespace fm::cli
