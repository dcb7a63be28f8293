#pragma once
// The models a server offers, from its YAML configuration, and the URIs clients address them by:
// gpt://<folder>/<name>/<branch>, gpt://<folder>/<name> (= latest), or the bare name.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fm {

enum class ModelKind { kText, kVision, kClassifier, kEmbedding, kImage };
const char* model_kind_name(ModelKind kind);

struct ModelConfig {
  std::string name;
  ModelKind kind = ModelKind::kText;
  int64_t context = 4096;
  std::map<std::string, std::string> branches;  // latest / rc / deprecated -> GGUF path
  std::map<std::string, std::string> versions;  // branch -> modelVersion when configured (`version:`)
  std::string chat_template;                     // optional template file used when the GGUF has none
  // Vision models: the projector (mmproj-*.gguf) for every branch, or per branch.
  std::string mmproj;
  std::map<std::string, std::string> branch_mmproj;
  int image_max_side = 0;  // dynamic-resolution encoders: cap on an image's long side in px (0: the projector's)
  std::string mmproj_for(const std::string& branch) const {
    auto it = branch_mmproj.find(branch);
    return it != branch_mmproj.end() ? it->second : mmproj;
  }
  // Embedding and classifier models: overrides of what the file says (empty / unset: the file's).
  std::string pooling;                           // mean, last, cls
  std::optional<bool> causal, normalize;
  std::optional<bool> multi_label;               // classifier heads: sigmoid per label instead of softmax
  // Image models (kind: image): Stable Diffusion checkpoints (.safetensors or .gguf) per branch.
  struct ImageDefaults {
    int steps = 20;
    std::string sampler = "euler_a";  // euler, euler_a, dpmpp2m
    float cfg_scale = 7.0f;
    std::string tokenizer;            // CLIP vocab.json + merges.txt folder (default: beside the checkpoint)
    std::string prediction = "auto";  // eps, v, or auto (SD 1.x eps; SD 2.x decided from the UNet, as sd.cpp does)
    double max_aspect_ratio = 4.0;    // width/height (and height/width) accepted up to this
    int native_size = 512;            // aspect ratios map to sizes of about this side squared (SD 1.x: 512)
  } image;
};

// Bounds on what one request may ask, so no client can exhaust the server (the `limits:` section).
struct RequestLimits {
  int max_json_depth = 64;        // nesting of arrays/objects in a request body
  int max_messages = 1024;        // per request
  int max_content_parts = 64;     // per message
  int max_stop_strings = 4;
  int max_tools = 128;
  size_t max_stream_buffer_bytes = size_t{4} << 20;  // unsent output per connection before a slow reader is dropped
  int header_timeout_s = 10;      // to receive a request's headers
  int body_timeout_s = 120;       // to receive its body
};

// Images given by URL (`image_fetch:`): http(s) fetched with these bounds; loopback, private and link-local
// addresses are refused unless their host (or address) is listed in allow_hosts; s3://bucket/key read from the
// configured S3-compatible endpoint (credentials from here or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL).
struct ImageFetchConfig {
  int64_t connect_timeout_s = 5, timeout_s = 30;
  size_t max_bytes = size_t{20} << 20;
  int max_redirects = 3;
  std::vector<std::string> allow_hosts;
  std::string s3_endpoint, s3_region, s3_access_key_id, s3_secret_access_key;
  size_t cache_bytes = size_t{256} << 20;  // encoded images kept per vision model
};

struct ServiceConfig {
  std::vector<ModelConfig> models;
  size_t memory_budget_bytes = size_t{8} << 30;  // resident models; least recently used ones unload beyond it
  size_t max_body_bytes = size_t{32} << 20;
  int max_queue = 256;           // waiting requests per model beyond which requests get 429
  int max_running = 64;          // sequences a model advances together
  size_t kv_budget_bytes = size_t{1} << 30;  // KV cache memory per model; admission waits beyond it
  int threads = 0;
  RequestLimits limits;
  ImageFetchConfig image_fetch;
  int64_t operation_retention_s = 3 * 24 * 3600;  // done operations are purged after this (`operations: retention`)
  int operation_concurrency = 4;                  // async operations running at once
  // `batch:` — batch tasks and datasets.
  int batch_lines_in_flight = 16;                 // lines of a task in the scheduler at once (`lines_in_flight`)
  int batch_concurrency = 1;                      // tasks running at once (`tasks`)
  int64_t max_dataset_bytes = int64_t{5} << 30;   // a dataset's content (`max_dataset_size`)
  size_t max_upload_body_bytes = size_t{5} << 30; // one upload PUT, spooled to disk (`max_upload_size`)
  int workflow_concurrency = 8;                   // workflow executions running at once (`workflows: executions`)
  int64_t workflow_template_timeout_s = 10;       // one jq template's run before it is stopped (`template_timeout`)

  const ModelConfig* find(const std::string& name) const;
};

// Parses the YAML configuration; throws std::runtime_error naming the file, line and problem.
ServiceConfig load_service_config(const std::string& path);
ServiceConfig parse_service_config(const std::string& yaml_text, const std::string& origin = "config");

struct ModelUri {
  std::string scheme;  // "gpt", "art", "cls", "emb", or "" for a bare name
  std::string folder;  // empty for a bare name
  std::string name;
  std::string branch = "latest";
};

// nullopt with *error set when the text is not a model URI.
std::optional<ModelUri> parse_model_uri(std::string_view text, std::string* error);
std::string format_model_uri(const ModelUri& uri);

}  // namespace fm
