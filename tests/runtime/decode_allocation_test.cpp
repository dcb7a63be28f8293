// The decode loop allocates nothing: after the first step, evaluating one more token performs no heap
// allocation (a global operator new counts them; this file is its own test binary).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "support/fixtures.h"
#include "tensor/thread_pool.h"

namespace {
std::atomic<long> g_allocations{0};
}

// The replacement operators pair malloc with free; GCC cannot see that and warns at every inlined delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace fm {
namespace {

class DecodeAllocations : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeAllocations, NoHeapAllocationPerGeneratedToken) {
  auto file = GgufFile::open(test::fixture_path("models/synthetic/syn-" + GetParam() + ".gguf"));
  auto model = load_model(*file);
  ThreadPool pool(2);
  Session session(*model, 64, 16, pool);
  Sampler sampler({0.8f, 40, 0.95f, 0.05f, 1});
  const int32_t prompt[] = {1, 317, 263, 269};
  const float* logits = session.eval(prompt, 4);
  int32_t token = sampler.sample(logits, session.n_vocab());
  logits = session.decode(token);  // first decode step may size the scratch buffers
  token = sampler.sample(logits, session.n_vocab());
  const long before = g_allocations.load();
  for (int i = 0; i < 20; ++i) {
    logits = session.decode(token);
    token = sampler.sample(logits, session.n_vocab());
  }
  EXPECT_EQ(g_allocations.load() - before, 0) << "heap allocations in 20 decode steps";
}

INSTANTIATE_TEST_SUITE_P(Families, DecodeAllocations,
                         ::testing::Values("llama-Q4_K_M", "qwen3moe-Q8_0", "gemma3-Q6_K", "phi3-F16"));

}  // namespace
}  // namespace fm
