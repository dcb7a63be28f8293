#include "tensor/thread_pool.h"

#include <immintrin.h>

#include <chrono>

namespace fm {
namespace {
constexpr int kSpinIterations = 4096;
thread_local int t_thread_index = 0;
}  // namespace

int ThreadPool::current_thread_index() { return t_thread_index; }

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) {
    workers_.emplace_back([this, i] {
      t_thread_index = i;
      worker_loop();
    });
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on_current_job() {
  for (;;) {
    const int64_t begin = next_.fetch_add(job_grain_, std::memory_order_relaxed);
    if (begin >= job_n_) return;
    const int64_t end = begin + job_grain_ < job_n_ ? begin + job_grain_ : job_n_;
    job_fn_(job_ctx_, begin, end);
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen; ++spin) {
      if (spin < kSpinIterations) {
        _mm_pause();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_relaxed)) return;
    work_on_current_job();
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) busy_.notify_one();
  }
}

void ThreadPool::run(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
  job_n_ = n;
  job_grain_ = grain;
  job_fn_ = fn;
  job_ctx_ = ctx;
  next_.store(0, std::memory_order_relaxed);
  busy_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  work_on_current_job();
  const auto wait_start = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  int busy = busy_.load(std::memory_order_acquire);
  for (int spin = 0; busy != 0; ++spin) {
    if (spin < kSpinIterations) {
      _mm_pause();
    } else {
      busy_.wait(busy, std::memory_order_acquire);
    }
    busy = busy_.load(std::memory_order_acquire);
  }
  if (profiling_) {
    ++loops_;
    barrier_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
  }
}

}  // namespace fm
