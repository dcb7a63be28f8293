#include "service/classification_service.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "runtime/continuation_scorer.h"
#include "service/model_access.h"
#include "tensor/thread_pool.h"

namespace fm {

void check_few_shot_request(const FewShotRequest& r) {
  if (r.labels.empty()) throw invalid_argument("labels must not be empty");
  if (r.labels.size() > kMaxLabels) throw invalid_argument("at most " + std::to_string(kMaxLabels) + " labels");
  std::set<std::string> seen;
  for (const auto& l : r.labels) {
    if (l.empty()) throw invalid_argument("a label is empty");
    if (!seen.insert(l).second) throw invalid_argument("label '" + l.substr(0, 64) + "' is given twice");
  }
  if (r.text.empty()) throw invalid_argument("text is empty");
  for (const auto& [text, label] : r.samples) {
    if (text.empty()) throw invalid_argument("a sample's text is empty");
    if (!seen.count(label)) throw invalid_argument("sample label '" + label.substr(0, 64) + "' is not among the labels");
  }
}

namespace {

std::string system_prompt(const FewShotRequest& r) {
  std::string s = r.task_description.empty() ? "Classify the text." : r.task_description;
  s += "\nAnswer with exactly one of these labels and nothing else: ";
  for (size_t i = 0; i < r.labels.size(); ++i) s += (i ? ", " : "") + r.labels[i];
  return s;
}

std::vector<int32_t> render(const Tokenizer& tok, const ChatTemplate& tpl, const nlohmann::ordered_json& messages, bool open_turn) {
  ChatRequest chat;
  chat.messages = messages;
  chat.add_generation_prompt = open_turn;
  std::string text;
  try {
    text = tpl.render(chat);
  } catch (const std::exception& e) {
    throw ServiceError(ErrorCode::kInvalidArgument, std::string("the model's chat template rejected the request: ") + e.what(),
                       "template_error");
  }
  return tok.encode(text, false, true);
}

}  // namespace

FewShotPrompt build_few_shot_prompt(const Tokenizer& tok, const ChatTemplate& tpl, const std::vector<int32_t>& stop_tokens,
                                    const FewShotRequest& r) {
  // The examples are earlier turns of the conversation: the model has answered them with their labels.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "system"}, {"content", system_prompt(r)}});
  for (const auto& [text, label] : r.samples) {
    messages.push_back({{"role", "user"}, {"content", text}});
    messages.push_back({{"role", "assistant"}, {"content", label}});
  }
  messages.push_back({{"role", "user"}, {"content", r.text}});
  FewShotPrompt out;
  out.prompt = render(tok, tpl, messages, true);
  for (const auto& label : r.labels) {
    // The label's tokens are what the conversation with that answer adds to the prompt, up to the end of the turn:
    // tokenizing the whole text keeps merges across the boundary exactly as the model would see them.
    nlohmann::ordered_json answered = messages;
    answered.push_back({{"role", "assistant"}, {"content", label}});
    const std::vector<int32_t> full = render(tok, tpl, answered, false);
    std::vector<int32_t> cont;
    if (full.size() > out.prompt.size() && std::equal(out.prompt.begin(), out.prompt.end(), full.begin())) {
      for (size_t i = out.prompt.size(); i < full.size(); ++i) {
        cont.push_back(full[i]);
        if (std::find(stop_tokens.begin(), stop_tokens.end(), full[i]) != stop_tokens.end()) break;
      }
    } else {  // a template that rewrites earlier turns: the label's own tokens and the end of the turn
      cont = tok.encode(label, false, false);
      if (!stop_tokens.empty()) cont.push_back(stop_tokens[0]);
    }
    if (cont.empty()) throw invalid_argument("label '" + label.substr(0, 64) + "' has no tokens");
    out.labels.push_back(std::move(cont));
  }
  return out;
}

std::vector<double> normalise_label_logprobs(const std::vector<double>& logprobs) {
  const double top = *std::max_element(logprobs.begin(), logprobs.end());
  double sum = 0;
  std::vector<double> out;
  for (double lp : logprobs) sum += std::exp(lp - top);
  for (double lp : logprobs) out.push_back(std::exp(lp - top) / sum);
  return out;
}

void ClassificationService::few_shot(FewShotRequest request, Done done) {
  try {
    check_few_shot_request(request);
  } catch (const ServiceError& e) {
    return done(nullptr, &e);
  }
  const std::string name = request.model, branch = request.branch;
  auto shared = std::make_shared<FewShotRequest>(std::move(request));
  const int threads = threads_;
  with_model(
      models_, name, branch,
      [shared, done, threads](const std::shared_ptr<LoadedModel>& model) {
        if (!model->scheduler)
          throw ServiceError(ErrorCode::kInvalidArgument, "model '" + model->name + "' (kind " + model_kind_name(model->config->kind) +
                             ") is not a text model", "wrong_model_kind");
        const FewShotPrompt p = build_few_shot_prompt(*model->tokenizer, *model->chat_template, model->stop_tokens, *shared);
        size_t longest = 0;
        for (const auto& l : p.labels) longest = std::max(longest, l.size());
        const int64_t limit = std::min(model->context, kMaxClassificationTokens);
        const int64_t need = static_cast<int64_t>(p.prompt.size() + longest);
        if (need > limit)
          throw ServiceError(ErrorCode::kInvalidArgument, "the request needs " + std::to_string(need) + " tokens; the limit is " +
                             std::to_string(limit), "context_length_exceeded");
        ThreadPool pool(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
        const std::vector<double> confidences =
            normalise_label_logprobs(score_continuations(*model->model, p.prompt, p.labels, pool, model->scheduler->options().kv_type));
        ClassificationResult result;
        result.input_tokens = static_cast<int64_t>(p.prompt.size());
        result.model_version = model->version;
        for (size_t i = 0; i < shared->labels.size(); ++i) result.predictions.emplace_back(shared->labels[i], confidences[i]);
        done(&result, nullptr);
      },
      [done](const ServiceError& e) { done(nullptr, &e); });
}

void ClassificationService::classify(TextClassificationRequest request, Done done) {
  if (request.text.empty()) {
    const ServiceError e = invalid_argument("text is empty");
    return done(nullptr, &e);
  }
  const std::string name = request.model, branch = request.branch;
  auto shared = std::make_shared<TextClassificationRequest>(std::move(request));
  with_model(
      models_, name, branch,
      [shared, done](const std::shared_ptr<LoadedModel>& model) {
        if (!model->embedder || !model->head)
          throw ServiceError(ErrorCode::kInvalidArgument, "model '" + model->name + "' has no classification head", "wrong_model_kind");
        std::vector<int32_t> ids = model->tokenizer->encode(shared->text, /*add_special=*/true, /*parse_special=*/false);
        const int64_t limit = std::min(model->context, kMaxClassificationTokens);
        if (ids.empty()) throw invalid_argument("text has no tokens");
        if (static_cast<int64_t>(ids.size()) > limit)
          throw ServiceError(ErrorCode::kInvalidArgument, "text has " + std::to_string(ids.size()) + " tokens; the limit is " +
                             std::to_string(limit), "context_length_exceeded");
        EmbeddingOptions options = model->embedding;
        options.normalize = false;  // the head reads the pooled state itself
        const int64_t n_tokens = static_cast<int64_t>(ids.size());
        const auto admission = model->embedder->submit(std::move(ids), options, [model, done, n_tokens](std::vector<float> pooled) {
          if (pooled.empty()) {
            const ServiceError failure(ErrorCode::kInternal, "the classification failed", "internal_error");
            return done(nullptr, &failure);
          }
          const std::vector<double> confidences = model->head->confidences(pooled.data());
          ClassificationResult result;
          result.input_tokens = n_tokens;
          result.model_version = model->version;
          for (size_t i = 0; i < confidences.size(); ++i) result.predictions.emplace_back(model->head->labels[i], confidences[i]);
          done(&result, nullptr);
        });
        if (admission == Embedder::Admission::kQueueFull)
          throw ServiceError(ErrorCode::kResourceExhausted, "the server is busy; retry later", "queue_full", 1);
      },
      [done](const ServiceError& e) { done(nullptr, &e); });
}

}  // namespace fm
