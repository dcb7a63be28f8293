#pragma once
// Prometheus text-format metrics: requests by route and status, token counts, latency histograms; gauges from the
// schedulers are added at scrape time. Route labels come from the route table (a fixed set), never from raw paths,
// so no client can grow the number of series.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "runtime/scheduler.h"
#include "service/image_input.h"

namespace fm {

class Metrics {
 public:
  void request(const std::string& route, int status);
  void tokens(int64_t prompt, int64_t generated);
  void time_to_first_token(double seconds);
  void per_token_latency(double seconds);
  void stream_dropped();  // a client too slow to read its stream was disconnected
  std::string render(const SchedulerStats& scheduler, size_t models_loaded, const ImageCacheStats& images = {}) const;

 private:
  struct Histogram {
    static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    std::array<uint64_t, 13> counts{};
    double sum = 0;
    uint64_t n = 0;
    void observe(double v);
    void render(std::string& out, const std::string& name) const;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, streams_dropped_ = 0;
  Histogram ttft_, token_latency_;
};

}  // namespace fm
