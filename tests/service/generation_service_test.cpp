// The wire-free generation service, called as batch jobs and workflow steps will call it: no HTTP anywhere.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "service/generation_service.h"
#include "support/tiny_model.h"

namespace fm {
namespace {

class GenerationServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("fm-gen-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
    std::filesystem::create_directories(dir_);
    const std::vector<uint8_t> bytes = test::build_tiny_llama();
    std::ofstream((dir_ / "tiny.gguf").string(), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    const ServiceConfig config = parse_service_config("models:\n  - name: tiny\n    context: 160\n    branches: {latest: " +
                                                      (dir_ / "tiny.gguf").string() + "}\n");
    SchedulerOptions so;
    so.threads = 1;
    models_ = new ModelManager(config, so);
    service_ = new GenerationService(*models_);
  }
  static void TearDownTestSuite() {
    delete service_;
    delete models_;
    std::filesystem::remove_all(dir_);
  }
  static GenerationRequest request(int64_t max_tokens) {
    GenerationRequest r;
    r.model = "tiny";
    r.messages = {{"user", "a b", {}, {}, "", ""}};
    r.sampling.temperature = 0;
    r.max_tokens = max_tokens;
    return r;
  }
  static inline std::filesystem::path dir_;
  static inline ModelManager* models_ = nullptr;
  static inline GenerationService* service_ = nullptr;
};

TEST_F(GenerationServiceTest, GreedyGenerationIsDeterministicAndCounted) {
  const GenerationResult a = service_->generate(request(6));
  const GenerationResult b = service_->generate(request(6));
  ASSERT_EQ(a.choices.size(), 1u);
  EXPECT_EQ(a.choices[0].text, b.choices[0].text);
  EXPECT_GT(a.usage.prompt_tokens, 0);
  EXPECT_EQ(a.usage.completion_tokens, a.choices[0].completion_tokens);
  EXPECT_LE(a.usage.completion_tokens, 6);
  if (a.usage.completion_tokens == 6) {
    EXPECT_EQ(a.choices[0].finish, FinishStatus::kLength);
  }
  EXPECT_FALSE(a.model_version.empty());
}

TEST_F(GenerationServiceTest, StreamedTextAddsUpToTheResult) {
  struct Collect : GenerationObserver {
    std::mutex m;
    std::condition_variable cv;
    std::string streamed;
    int64_t prompt_tokens = -1;
    std::optional<GenerationResult> result;
    std::optional<ServiceError> error;
    void on_started(const GenerationStart& s) override { prompt_tokens = s.prompt_tokens; }
    void on_text(const TextEvent& e) override { streamed += e.delta; }
    void on_finished(const GenerationResult& r) override {
      std::lock_guard<std::mutex> lock(m);
      result = r;
      cv.notify_all();
    }
    void on_failed(const ServiceError& e) override {
      std::lock_guard<std::mutex> lock(m);
      error = e;
      cv.notify_all();
    }
  };
  auto collect = std::make_shared<Collect>();
  service_->start(request(8), collect);
  std::unique_lock<std::mutex> lock(collect->m);
  ASSERT_TRUE(collect->cv.wait_for(lock, std::chrono::seconds(60), [&] { return collect->result || collect->error; }));
  ASSERT_FALSE(collect->error) << collect->error->what();
  EXPECT_EQ(collect->streamed, collect->result->choices[0].text);
  EXPECT_EQ(collect->prompt_tokens, collect->result->usage.prompt_tokens);
}

TEST_F(GenerationServiceTest, RefusalsAreServiceErrors) {
  auto code_of = [](GenerationRequest r) {
    try {
      service_->generate(std::move(r));
    } catch (const ServiceError& e) {
      return e.code();
    }
    return ErrorCode::kCancelled;  // not refused
  };
  GenerationRequest unknown = request(4);
  unknown.model = "nope";
  EXPECT_EQ(code_of(unknown), ErrorCode::kNotFound);
  GenerationRequest image = request(4);
  image.messages[0].images.push_back({"data:image/png;base64,AA=="});
  EXPECT_EQ(code_of(image), ErrorCode::kInvalidArgument);
  GenerationRequest schema = request(4);
  schema.format = OutputFormat::kJsonSchema;
  EXPECT_EQ(code_of(schema), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of(request(1000)), ErrorCode::kInvalidArgument);  // beyond the 160-token context
  GenerationRequest ceiling = request(1000);
  ceiling.max_tokens_is_ceiling = true;  // the native dialect: capped at the room left
  EXPECT_NO_THROW(service_->generate(ceiling));
}

TEST_F(GenerationServiceTest, RequestsRoundTripThroughTheirStoredForm) {
  GenerationRequest r = request(5);
  r.stop = {"x", "yz"};
  r.sampling.seed = 123456789012345ull;
  r.messages.push_back({"assistant", "", {}, {{"id1", "f", "{\"a\":1}"}}, "", ""});
  r.priority = Priority::kBackground;
  const GenerationRequest back = generation_request_from_json(to_json(r));
  EXPECT_EQ(to_json(back), to_json(r));
  GenerationRequest short_request = request(5);
  short_request.stop = r.stop;
  const GenerationResult result = service_->generate(short_request);
  EXPECT_EQ(to_json(generation_result_from_json(to_json(result))), to_json(result));
}

TEST_F(GenerationServiceTest, TokenizeReportsPiecesAndSpecialTokens) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<TokenizeResult> got;
  service_->tokenize("tiny", "latest", "a b", [&](const TokenizeResult* r, const ServiceError*) {
    std::lock_guard<std::mutex> lock(m);
    got = r ? *r : TokenizeResult{};
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return got.has_value(); }));
  ASSERT_FALSE(got->tokens.empty());
  std::string joined;
  for (const auto& t : got->tokens) joined += t.text;
  EXPECT_NE(joined.find('a'), std::string::npos);
}

}  // namespace
}  // namespace fm
