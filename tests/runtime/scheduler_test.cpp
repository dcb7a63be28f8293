// Continuous batching: outputs identical alone and batched with 31 others, n > 1 sharing the prompt, cancellation
// freeing the KV cache, admission limits. Every wait is bounded in time.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/scheduler.h"
#include "runtime/session.h"
#include "support/fixtures.h"
#include "tensor/thread_pool.h"

namespace fm {
namespace {

using namespace std::chrono_literals;

struct Collector {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<std::vector<int32_t>> tokens;  // per choice
  std::vector<ChoiceResult> results;
  bool done = false;

  std::shared_ptr<SchedulerRequest> request(std::vector<int32_t> prompt, int64_t max_tokens, int n = 1) {
    auto r = std::make_shared<SchedulerRequest>();
    r->prompt = std::move(prompt);
    r->max_tokens = max_tokens;
    r->n = n;
    r->sampling.temperature = 0;
    tokens.assign(static_cast<size_t>(n), {});
    r->on_token = [this](const TokenEvent& e) {
      std::lock_guard<std::mutex> lock(mutex);
      tokens[static_cast<size_t>(e.choice)].push_back(e.token);
      return true;
    };
    r->on_finish = [this](const std::vector<ChoiceResult>& res, int64_t) {
      std::lock_guard<std::mutex> lock(mutex);
      results = res;
      done = true;
      done_cv.notify_all();
    };
    return r;
  }
  bool wait(std::chrono::seconds limit = 60s) {
    std::unique_lock<std::mutex> lock(mutex);
    return done_cv.wait_for(lock, limit, [&] { return done; });
  }
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = GgufFile::open(test::fixture_path("models/synthetic/syn-qwen3-Q8_0.gguf"));
    model_ = load_model(*file_);
  }
  std::vector<int32_t> prompt(int i) const {
    std::vector<int32_t> p;
    for (int k = 0; k < 3 + i % 17; ++k) p.push_back(259 + (i * 7 + k * 13) % 250);
    return p;
  }
  std::vector<int32_t> greedy_alone(const std::vector<int32_t>& p, int n) {
    ThreadPool pool(2);
    Session s(*model_, static_cast<int64_t>(p.size()) + n, 64, pool);
    std::vector<int32_t> out;
    const float* logits = s.eval(p.data(), static_cast<int64_t>(p.size()));
    for (int i = 0; i < n; ++i) {
      out.push_back(argmax(logits, s.n_vocab()));
      if (i + 1 < n) logits = s.decode(out.back());
    }
    return out;
  }
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Model> model_;
};

TEST_F(SchedulerTest, ThirtyTwoConcurrentGreedyRequestsMatchSerialRuns) {
  SchedulerOptions opt;
  opt.n_ctx = 128;
  opt.max_batch_tokens = 48;  // forces chunked prefill interleaved with decoding
  opt.threads = 2;
  Scheduler scheduler(*model_, opt);
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < 32; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_EQ(scheduler.submit(collectors.back()->request(prompt(i), 24)), Scheduler::Admission::kQueued);
  }
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(collectors[i]->wait()) << "request " << i << " did not finish";
    EXPECT_EQ(collectors[i]->results[0].reason, FinishReason::kLength);
    EXPECT_EQ(collectors[i]->tokens[0], greedy_alone(prompt(i), 24)) << "request " << i;
  }
  const SchedulerStats stats = scheduler.stats();
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.kv_bytes_in_use, 0u);
  EXPECT_EQ(stats.tokens_generated, 32 * 24);
  EXPECT_LT(stats.steps, 32 * 24) << "sequences must advance together";
}

// Sampling runs on the pool, one sequence per task: eight seeded requests at temperature 1 with penalties give the
// tokens each gives alone, and every reported log-probability is the log-softmax of the model's logits with the
// alternatives in order.
TEST_F(SchedulerTest, SampledConcurrentRequestsMatchTheirRunsAloneWithLogprobs) {
  SchedulerOptions opt;
  opt.n_ctx = 64;
  opt.threads = 2;
  Scheduler scheduler(*model_, opt);
  struct Run {
    std::vector<int32_t> tokens;
    std::vector<TokenEvent> events;
  };
  auto request = [&](int i, Run& out, Collector& c) {
    auto r = c.request(prompt(i), 16);
    r->sampling = {1.0f, 0, 1.f, 0.f, 100u + static_cast<uint64_t>(i)};
    r->presence_penalty = 0.5f;
    r->frequency_penalty = 0.25f;
    r->top_logprobs = 3;
    r->on_token = [&out](const TokenEvent& e) {
      out.tokens.push_back(e.token);
      out.events.push_back(e);
      return true;
    };
    return r;
  };
  constexpr int kRequests = 8;
  std::vector<Run> alone(kRequests), together(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    Collector c;
    ASSERT_EQ(scheduler.submit(request(i, alone[static_cast<size_t>(i)], c)), Scheduler::Admission::kQueued);
    ASSERT_TRUE(c.wait());
  }
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < kRequests; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_EQ(scheduler.submit(request(i, together[static_cast<size_t>(i)], *collectors.back())),
              Scheduler::Admission::kQueued);
  }
  for (auto& c : collectors) ASSERT_TRUE(c->wait());

  ThreadPool pool(2);
  for (int i = 0; i < kRequests; ++i) {
    const Run& got = together[static_cast<size_t>(i)];
    ASSERT_EQ(got.tokens.size(), 16u);
    EXPECT_EQ(got.tokens, alone[static_cast<size_t>(i)].tokens) << "request " << i;
    // The log-probabilities against the model's own logits, token by token.
    const std::vector<int32_t> p = prompt(i);
    Session s(*model_, static_cast<int64_t>(p.size()) + 16, 64, pool);
    const float* logits = s.eval(p.data(), static_cast<int64_t>(p.size()));
    for (size_t t = 0; t < got.events.size(); ++t) {
      const int64_t n = s.n_vocab();
      double z = 0;
      const float m = *std::max_element(logits, logits + n);
      for (int64_t k = 0; k < n; ++k) z += std::exp(static_cast<double>(logits[k] - m));
      const double log_z = m + std::log(z);
      std::vector<int32_t> ids(static_cast<size_t>(n));
      for (int64_t k = 0; k < n; ++k) ids[static_cast<size_t>(k)] = static_cast<int32_t>(k);
      std::partial_sort(ids.begin(), ids.begin() + 3, ids.end(), [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
      });
      const TokenEvent& e = got.events[t];
      EXPECT_NEAR(e.logprob, logits[e.token] - log_z, 1e-4) << "request " << i << " token " << t;
      ASSERT_EQ(e.top.size(), 3u);
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(e.top[k].token, ids[k]) << "request " << i << " token " << t;
        EXPECT_NEAR(e.top[k].logprob, logits[ids[k]] - log_z, 1e-4);
      }
      if (t + 1 < got.events.size()) logits = s.decode(e.token);
    }
  }
}

TEST_F(SchedulerTest, ChoicesShareThePromptAndSeedsReproduce) {
  SchedulerOptions opt;
  opt.n_ctx = 64;
  opt.threads = 2;
  Scheduler scheduler(*model_, opt);
  auto run = [&](uint64_t seed) {
    Collector c;
    auto r = c.request(prompt(3), 12, 3);
    r->sampling = {1.0f, 0, 1.f, 0.f, seed};
    EXPECT_EQ(scheduler.submit(r), Scheduler::Admission::kQueued);
    EXPECT_TRUE(c.wait());
    return c.tokens;
  };
  const auto a = run(11), b = run(11), c = run(12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_NE(a[0], a[1]) << "choices are sampled independently";
  for (const auto& choice : a) EXPECT_EQ(choice.size(), 12u);
}

TEST_F(SchedulerTest, CancellationFreesTheSequenceAtOnce) {
  SchedulerOptions opt;
  opt.n_ctx = 512;
  opt.threads = 2;
  Scheduler scheduler(*model_, opt);
  Collector c;
  auto r = c.request(prompt(1), 400);
  std::atomic<int> seen{0};
  auto inner = r->on_token;
  r->on_token = [&, inner](const TokenEvent& e) {
    if (++seen == 5) r->cancelled->store(true);
    return inner(e);
  };
  ASSERT_EQ(scheduler.submit(r), Scheduler::Admission::kQueued);
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.results[0].reason, FinishReason::kCancelled);
  EXPECT_LT(c.tokens[0].size(), 50u);
  EXPECT_EQ(scheduler.stats().kv_bytes_in_use, 0u);
  EXPECT_EQ(scheduler.stats().running, 0);
}

TEST_F(SchedulerTest, ARequestWithChoicesCancelledDuringItsPromptStillFinishes) {
  SchedulerOptions opt;
  opt.n_ctx = 64;
  opt.threads = 1;
  Scheduler scheduler(*model_, opt);
  Collector c;
  auto r = c.request(prompt(4), 8, 3);
  r->cancelled->store(true);  // before the prompt is evaluated: the other choices never fork
  ASSERT_EQ(scheduler.submit(r), Scheduler::Admission::kQueued);
  ASSERT_TRUE(c.wait(20s));
  ASSERT_EQ(c.results.size(), 3u);
  for (const auto& res : c.results) EXPECT_EQ(res.reason, FinishReason::kCancelled);
  EXPECT_EQ(scheduler.stats().kv_bytes_in_use, 0u);
  EXPECT_EQ(scheduler.stats().running, 0);
}

TEST_F(SchedulerTest, AdmissionLimitsAndStopTokens) {
  SchedulerOptions opt;
  opt.n_ctx = 32;
  opt.max_queue = 2;
  opt.threads = 1;
  std::vector<std::unique_ptr<Collector>> many;  // outlives the scheduler, which cancels what is still queued
  Scheduler scheduler(*model_, opt);
  Collector too_long, too_many;
  EXPECT_EQ(scheduler.submit(too_long.request(prompt(0), 40)), Scheduler::Admission::kTooLong);
  auto wide = too_many.request(prompt(0), 4, 65);  // more choices than sequences may run together
  EXPECT_EQ(scheduler.submit(wide), Scheduler::Admission::kTooLong);

  const std::vector<int32_t> expected = greedy_alone(prompt(2), 8);
  Collector stop;
  auto r = stop.request(prompt(2), 8);
  r->stop_tokens = {expected[3]};
  ASSERT_EQ(scheduler.submit(r), Scheduler::Admission::kQueued);
  ASSERT_TRUE(stop.wait());
  EXPECT_EQ(stop.results[0].reason, FinishReason::kStop);
  EXPECT_EQ(stop.tokens[0], std::vector<int32_t>(expected.begin(), expected.begin() + 3)) << "the stop token is not emitted";

  // A full queue refuses at once.
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    many.push_back(std::make_unique<Collector>());
    refused += scheduler.submit(many.back()->request(prompt(i), 16)) == Scheduler::Admission::kQueueFull;
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace fm
