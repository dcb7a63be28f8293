#include "api/metrics.h"

namespace fm {

void Metrics::Histogram::observe(double v) {
  size_t i = 0;
  while (i < kBounds.size() && v > kBounds[i]) ++i;
  ++counts[i];
  sum += v;
  ++n;
}

void Metrics::Histogram::render(std::string& out, const std::string& name) const {
  out += "# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += counts[i];
    out += name + "_bucket{le=\"" + std::to_string(kBounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(n) + "\n";
  out += name + "_sum " + std::to_string(sum) + "\n" + name + "_count " + std::to_string(n) + "\n";
}

void Metrics::request(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
}
void Metrics::stream_dropped() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++streams_dropped_;
}
void Metrics::tokens(int64_t prompt, int64_t generated) {
  std::lock_guard<std::mutex> lock(mutex_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  generated_tokens_ += static_cast<uint64_t>(generated);
}
void Metrics::time_to_first_token(double s) {
  std::lock_guard<std::mutex> lock(mutex_);
  ttft_.observe(s);
}
void Metrics::per_token_latency(double s) {
  std::lock_guard<std::mutex> lock(mutex_);
  token_latency_.observe(s);
}

namespace {
// A label value in the Prometheus text format: backslash, double quote and newline escaped.
std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}
}  // namespace

std::string Metrics::render(const SchedulerStats& st, size_t models_loaded, const ImageCacheStats& images) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "# TYPE fmserve_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out += "fmserve_requests_total{route=\"" + escape_label(key.first) + "\",code=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(count) + "\n";
  out += "# TYPE fmserve_prompt_tokens_total counter\nfmserve_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  out += "# TYPE fmserve_generated_tokens_total counter\nfmserve_generated_tokens_total " + std::to_string(generated_tokens_) + "\n";
  out += "# TYPE fmserve_queue_depth gauge\nfmserve_queue_depth " + std::to_string(st.queued) + "\n";
  out += "# TYPE fmserve_running_sequences gauge\nfmserve_running_sequences " + std::to_string(st.running) + "\n";
  out += "# TYPE fmserve_kv_cache_bytes gauge\nfmserve_kv_cache_bytes " + std::to_string(st.kv_bytes_in_use) + "\n";
  // The names inference gateways read from model servers (waiting and running requests, KV-cache use 0..1).
  out += "# TYPE fmserve_requests_waiting gauge\nfmserve_requests_waiting " + std::to_string(st.queued) + "\n";
  out += "# TYPE fmserve_requests_running gauge\nfmserve_requests_running " + std::to_string(st.running) + "\n";
  const double kv_fraction = st.kv_budget_bytes ? static_cast<double>(st.kv_bytes_in_use) / static_cast<double>(st.kv_budget_bytes) : 0.0;
  out += "# TYPE fmserve_kv_cache_utilization gauge\nfmserve_kv_cache_utilization " + std::to_string(kv_fraction) + "\n";
  out += "# TYPE fmserve_streams_dropped_total counter\nfmserve_streams_dropped_total " + std::to_string(streams_dropped_) + "\n";
  out += "# TYPE fmserve_models_loaded gauge\nfmserve_models_loaded " + std::to_string(models_loaded) + "\n";
  out += "# TYPE fmserve_image_cache_hits_total counter\nfmserve_image_cache_hits_total " + std::to_string(images.hits) + "\n";
  out += "# TYPE fmserve_image_cache_misses_total counter\nfmserve_image_cache_misses_total " + std::to_string(images.misses) + "\n";
  out += "# TYPE fmserve_image_cache_bytes gauge\nfmserve_image_cache_bytes " + std::to_string(images.bytes) + "\n";
  ttft_.render(out, "fmserve_time_to_first_token_seconds");
  token_latency_.render(out, "fmserve_token_latency_seconds");
  return out;
}

}  // namespace fm
