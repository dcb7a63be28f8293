// `fmserve classify`: few-shot classification of a text as the server computes it, with the token ids it scores
// (the prompt and each label's continuation), so that another path can check the confidences.
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/continuation_scorer.h"
#include "service/classification_service.h"
#include "tensor/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace fm::cli {

int run_classify(const ClassifyOptions& opt) {
  FewShotRequest request;
  request.task_description = opt.task;
  request.labels = opt.labels;
  request.text = opt.text;
  for (const std::string& s : opt.samples) {
    const size_t eq = s.rfind('=');
    if (eq == std::string::npos) throw std::invalid_argument("--sample takes TEXT=LABEL");
    request.samples.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  check_few_shot_request(request);
  auto file = GgufFile::open(opt.model);
  auto model = load_model(*file);
  auto tokenizer = make_tokenizer(*file);
  auto chat_template = make_chat_template(*file, tokenizer->vocab(), opt.chat_template);
  const FewShotPrompt p = build_few_shot_prompt(*tokenizer, *chat_template, end_of_generation_tokens(tokenizer->vocab()), request);
  ThreadPool pool(default_threads(opt.threads));
  const std::vector<double> logprobs = score_continuations(*model, p.prompt, p.labels, pool, parse_kv_type(opt.kv_type));
  const std::vector<double> confidences = normalise_label_logprobs(logprobs);
  nlohmann::json predictions = nlohmann::json::array();
  for (size_t i = 0; i < request.labels.size(); ++i)
    predictions.push_back({{"label", request.labels[i]}, {"confidence", confidences[i]}, {"logprob", logprobs[i]}});
  std::cout << nlohmann::json{{"prompt", p.prompt}, {"labels", p.labels}, {"predictions", predictions},
                              {"input_tokens", p.prompt.size()}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
            << std::endl;
  return 0;
}

}  // namespace fm::cli
