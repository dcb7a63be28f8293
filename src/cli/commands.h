#pragma once
// One function per `fmserve` subcommand; main.cpp only parses arguments into these option structs.
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"

namespace fm {
class Session;
}

namespace fm::cli {

struct InspectOptions {
  std::string model;
  size_t max_items = 8;
  std::string dump_tensor;  // print this F32/F16 tensor's values as JSON instead of the tables
};
int run_inspect(const InspectOptions& opt);

struct SamplingOptions {
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  uint64_t seed = 0xF00D;
};

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string mmproj;               // with images: the projector
  std::vector<std::string> images;  // at the prompt's <__media__> markers, else before its text
  int n_predict = 64;
  int threads = 0;  // 0 = all cores
  std::string kv_type = "f16";
  SamplingOptions sampling;
};
int run_generate(const RunOptions& opt);

struct LogitsOptions {
  std::string model;
  std::vector<int32_t> tokens;
  std::string output;  // raw f32 [positions x vocab]; empty = none
  bool embeddings = false;  // write the final-norm hidden states [positions x n_embd] instead of logits
  bool non_causal = false;  // with embeddings: bidirectional attention
  int greedy = 0;
  int threads = 0;
  std::string kv_type = "f16";
  // Images: --mmproj with --image files and a --prompt holding <__media__> at each image's place.
  std::string mmproj, prompt, embd_output;
  std::vector<std::string> images;
};
int run_logits(const LogitsOptions& opt);
int run_image_logits(const LogitsOptions& opt);  // cmd_logits_image.cpp
// Continues greedily from the logits `last` (after the session's last row) and prints {"tokens":[…]} (cmd_logits.cpp).
void print_greedy(Session& session, const float* last, int n);

struct EmbedOptions {
  std::string model, text, pooling, kv_type = "f16";
  std::vector<int32_t> tokens;  // used as given (no BOS added)
  bool text_given = false, non_causal = false, normalize = false;
  int threads = 0;
};
int run_embed(const EmbedOptions& opt);

struct ClassifyOptions {
  std::string model, task, text, chat_template, kv_type = "f16";
  std::vector<std::string> labels, samples;  // samples: TEXT=LABEL
  int threads = 0;
};
int run_classify(const ClassifyOptions& opt);

struct TokenizeOptions {
  std::string model;  // GGUF file or tokenizer.json
  std::string text, file, jsonl;
  bool text_given = false;  // --text "" is a valid (empty) input
  bool special = false;
  bool with_text = false;  // --jsonl: print {"ids":[...],"text":decoded} per line
};
int run_tokenize(const TokenizeOptions& opt);

struct TemplateOptions {
  std::string template_file, model, messages, tools, kwargs;
  std::string bos_token, eos_token;  // with --template: the special token strings the template may print
  bool add_generation_prompt = false;
};
int run_template(const TemplateOptions& opt);

struct GrammarCheckOptions {
  std::string model, schema, document, jsonl;
  bool no_masks = false;    // walk the matcher only (no mask per token)
  bool mask_times = false;  // print every mask's time ("mask_us": [...])
};
int run_grammar_check(const GrammarCheckOptions& opt);

struct KeysOptions {
  std::string action;  // create, list, revoke
  std::string data_dir, folder, expires_in, key;
  std::vector<std::string> scopes;
};
int run_keys(const KeysOptions& opt);

struct ServeOptions {
  std::string config, data_dir = "fmserve-data", host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 0;
  size_t max_body_bytes = 0;  // 0: the configuration's value (default 32 MiB)
};
int run_serve(const ServeOptions& opt);

struct BatchRunOptions {
  std::string config, model, branch = "latest", input, output, state;  // state: default OUTPUT.state
  int threads = 0, lines_in_flight = 0;  // 0: the configuration's batch.lines_in_flight
  int64_t max_tokens = 0;                // 0: up to the end of the context
  float temperature = 0;
  std::string progress = "auto";         // auto (a bar on a terminal), bar, lines, none
};
int run_batch(const BatchRunOptions& opt);

struct WorkflowRunOptions {
  std::string file, input = "{}", config, folder = "default";
  int threads = 0;
};
// Runs a YaWL document once in this process, printing each step as it finishes and then the result.
int run_workflow(const WorkflowRunOptions& opt);

struct ImagineOptions {
  std::string model, prompt, negative_prompt, tokens_file, tokenizer, output, dump, sampler = "euler", rng = "cuda";
  std::string prediction = "auto";  // eps, v, or auto (the checkpoint's; for SD 2.x as stable-diffusion.cpp decides)
  uint64_t seed = 42;
  int steps = 20, width = 512, height = 512, threads = 0;
  float cfg = 7.0f;
  std::string progress = "auto";  // auto (a bar on a terminal), bar, lines, none
};
// Text to image with a Stable Diffusion checkpoint (cmd_imagine.cpp).
int run_imagine(const ImagineOptions& opt);

struct BenchOptions {
  std::string model;
  int threads = 0, pp = 512, tg = 128, concurrency = 0;
  bool json = false;
  bool profile = false;  // where a decode step's and a prompt pass's time goes, stage by stage
  std::string embed_texts;   // embedding throughput over these texts (one per line) instead of pp/tg
  int64_t embed_batch = 2048;  // tokens per embedding pass
  std::string mmproj, image;   // image encode and image-token prefill speed instead of pp/tg
  int repeat = 3;
};
int run_bench(const BenchOptions& opt);
int run_embed_bench(const BenchOptions& opt);
int run_image_bench(const BenchOptions& opt);  // cmd_bench_image.cpp

struct SynthOptions {
  std::string arch, shape, type, output, pooling, vocab;
  uint64_t seed = 1;
  bool seed_given = false;
  int64_t text_width = 0;
  std::vector<std::string> classifier_labels;
  bool multi_label = false;
};
int run_synth(const SynthOptions& opt);

// "f16" or "f32" as a KV cache element type; throws on anything else.
TensorType parse_kv_type(const std::string& name);
int default_threads(int requested);  // requested, or every core when 0

}  // namespace fm::cli
