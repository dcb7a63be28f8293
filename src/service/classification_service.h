#pragma once
// Text classification behind every entry point (native fewShotTextClassification / textClassification, later the
// workflow steps): few-shot classification scores each label as the model's answer to a prompt built from the task,
// the labels and the examples (teacher forcing, all labels in one pass over a shared prompt cache), and normalises
// the label probabilities. Wire-free like the other services.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "service/model_manager.h"
#include "service/service_error.h"

namespace fm {

struct FewShotRequest {
  std::string model, branch = "latest";
  std::string task_description;
  std::vector<std::string> labels;                            // 1..20, distinct, non-empty
  std::string text;
  std::vector<std::pair<std::string, std::string>> samples;  // (text, label), labels among `labels`
};

struct ClassificationResult {
  std::vector<std::pair<std::string, double>> predictions;  // label, confidence (in label order)
  int64_t input_tokens = 0;
  std::string model_version;
};

// The token ids a few-shot request is scored with: the rendered prompt (ending with the assistant's turn opened)
// and, per label, the tokens that write exactly that label as the answer and close the turn.
struct FewShotPrompt {
  std::vector<int32_t> prompt;
  std::vector<std::vector<int32_t>> labels;
};
// Throws ServiceError (invalid argument) for bad requests.
void check_few_shot_request(const FewShotRequest& request);
FewShotPrompt build_few_shot_prompt(const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                                    const std::vector<int32_t>& stop_tokens, const FewShotRequest& request);
// Confidences from label log-probabilities: softmax over the labels (in double).
std::vector<double> normalise_label_logprobs(const std::vector<double>& logprobs);

inline constexpr size_t kMaxLabels = 20;
inline constexpr int64_t kMaxClassificationTokens = 8000;

struct TextClassificationRequest {
  std::string model, branch = "latest";
  std::string text;
};

class ClassificationService {
 public:
  ClassificationService(ModelManager& models, int threads) : models_(models), threads_(threads) {}
  using Done = std::function<void(const ClassificationResult* result, const ServiceError* error)>;
  // Every outcome reaches `done` exactly once (on this thread or the model loader's).
  void few_shot(FewShotRequest request, Done done);
  // A fine-tuned classifier (a model with a classification head): one confidence per label of the head.
  void classify(TextClassificationRequest request, Done done);

 private:
  ModelManager& models_;
  int threads_;
};

}  // namespace fm
