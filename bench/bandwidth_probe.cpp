// Memory read bandwidth with 1..N threads, as JSON: the bound on decode speed (bytes per token / bandwidth).
// Usage: bandwidth_probe [MAX_THREADS] [MiB]
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tensor/bandwidth.h"
#include "tensor/thread_pool.h"

int main(int argc, char** argv) {
  const int max_threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  const size_t mib = argc > 2 ? static_cast<size_t>(std::atoll(argv[2])) : 512;
  nlohmann::ordered_json report;
  report["buffer_mib"] = mib;
  for (int t = 1; t <= std::max(1, max_threads); ++t) {
    fm::ThreadPool pool(t);
    report["read_gb_per_s"][std::to_string(t)] = fm::measure_read_bandwidth(pool, mib << 20, 5) / 1e9;
  }
  std::cout << report.dump() << std::endl;
  return 0;
}
