#pragma once
// A fixed set of worker threads that run one data-parallel loop at a time. Workers spin briefly between
// loops (decode issues hundreds of small loops per token) and then park on an atomic wait.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace fm {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // total threads including the caller's
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Index of the calling thread inside the pool's loops: 0 for the caller, 1..size()-1 for workers.
  static int current_thread_index();

  // Profiling (`fmserve bench --profile`): the loops run and the time the calling thread waited for the workers at
  // their ends (load imbalance and wake-up latency). Off, no clock is read.
  void set_profiling(bool on) { profiling_ = on; }
  int64_t profiled_loops() const { return loops_; }
  double barrier_seconds() const { return barrier_seconds_; }
  void clear_profile() { loops_ = 0, barrier_seconds_ = 0; }

  // Calls fn(begin, end) over disjoint ranges of at most `grain` covering [0, n), on every thread; returns
  // when all ranges are done. Allocates nothing. Not reentrant: fn must not call parallel_for.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n <= grain) {
      fn(int64_t{0}, n);
      return;
    }
    run(n, grain < 1 ? 1 : grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); }, &fn);
  }

 private:
  using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
  void run(int64_t n, int64_t grain, RangeFn fn, void* ctx);
  void work_on_current_job();
  void worker_loop();

  int n_threads_;
  std::vector<std::thread> workers_;
  // Current job; written by the caller before generation_ is bumped (release), read after (acquire).
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  RangeFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int64_t> next_{0};
  alignas(64) std::atomic<int> busy_{0};
  std::atomic<bool> stop_{false};
  bool profiling_ = false;  // the rest is touched by the calling thread only
  int64_t loops_ = 0;
  double barrier_seconds_ = 0;
};

}  // namespace fm
