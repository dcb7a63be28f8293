#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "tensor/thread_pool.h"

namespace fm {
namespace {

TEST(ThreadPool, EveryIndexRunsExactlyOnceAcrossManyLoops) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 2000; ++round) {
      const int64_t n = 1 + round % 97;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> max_index{0};
      pool.parallel_for(n, 1 + round % 5, [&](int64_t b, int64_t e) {
        int idx = ThreadPool::current_thread_index();
        int prev = max_index.load();
        while (idx > prev && !max_index.compare_exchange_weak(prev, idx)) {
        }
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
      ASSERT_LT(max_index.load(), threads);
    }
  }
}

}  // namespace
}  // namespace fm
