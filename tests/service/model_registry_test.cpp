#include <gtest/gtest.h>

#include "service/model_registry.h"

namespace fm {
namespace {

TEST(ModelRegistry, ParsesTheDocumentedShape) {
  const ServiceConfig cfg = parse_service_config(R"(
memory_budget: 2GiB
models:
  - name: aidreams
    kind: text
    context: 128
    branches: {latest: /path/a.gguf, rc: /path/b.gguf}
    chat_template: /path/template.jinja
  - name: qwen
    branches:
      latest: /m/qwen.gguf
)");
  ASSERT_EQ(cfg.models.size(), 2u);
  EXPECT_EQ(cfg.memory_budget_bytes, size_t{2} << 30);
  const ModelConfig* a = cfg.find("aidreams");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->context, 128);
  EXPECT_EQ(a->branches.at("rc"), "/path/b.gguf");
  EXPECT_EQ(a->chat_template, "/path/template.jinja");
  EXPECT_EQ(cfg.find("qwen")->kind, ModelKind::kText);
  EXPECT_EQ(cfg.find("missing"), nullptr);
}

TEST(ModelRegistry, BadConfigurationsNameTheLine) {
  const char* bad[] = {
      "models: 3",
      "models:\n  - kind: text\n    branches: {latest: a}",
      "models:\n  - name: x\n    branches: {nightly: a}",
      "models:\n  - name: x\n    kind: teapot\n    branches: {latest: a}",
      "models:\n  - name: x\n    branches: {latest: a}\n  - name: x\n    branches: {latest: b}",
      "models:\n  - name: 'a b'\n    branches: {latest: a}",
      "models: [unclosed",
  };
  for (const char* text : bad) {
    try {
      parse_service_config(text, "cfg.yaml");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("cfg.yaml", 0), 0u) << e.what();
    }
  }
}

TEST(ServiceConfig, BranchVersionsLimitsAndOperations) {
  const ServiceConfig cfg = parse_service_config(R"(
operations: {retention: 2h, concurrency: 2}
limits: {max_json_depth: 32, max_messages: 10, stream_buffer: 64KiB, header_timeout: 5s}
models:
  - name: m
    branches:
      latest: {path: /p/a.gguf, version: "01.06.2025"}
      rc: /p/b.gguf
)", "cfg.yaml");
  EXPECT_EQ(cfg.operation_retention_s, 7200);
  EXPECT_EQ(cfg.operation_concurrency, 2);
  EXPECT_EQ(cfg.limits.max_json_depth, 32);
  EXPECT_EQ(cfg.limits.max_messages, 10);
  EXPECT_EQ(cfg.limits.max_stream_buffer_bytes, size_t{64} << 10);
  EXPECT_EQ(cfg.limits.header_timeout_s, 5);
  EXPECT_EQ(cfg.limits.max_tools, 128);  // default kept
  const ModelConfig* m = cfg.find("m");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->branches.at("latest"), "/p/a.gguf");
  EXPECT_EQ(m->versions.at("latest"), "01.06.2025");
  EXPECT_FALSE(m->versions.count("rc"));
  for (const char* bad : {"limits: {max_messages: 0}\nmodels: []", "limits: {speed: 1}\nmodels: []",
                          "operations: {retention: soon}\nmodels: []"}) {
    EXPECT_THROW(parse_service_config(bad, "cfg.yaml"), std::runtime_error) << bad;
  }
}

TEST(ModelUri, AllAddressingForms) {
  std::string error;
  auto full = parse_model_uri("gpt://b1g2folder/aidreams/rc", &error);
  ASSERT_TRUE(full) << error;
  EXPECT_EQ(full->folder, "b1g2folder");
  EXPECT_EQ(full->name, "aidreams");
  EXPECT_EQ(full->branch, "rc");
  auto latest = parse_model_uri("gpt://f/aidreams", &error);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->branch, "latest");
  auto trailing = parse_model_uri("gpt://f/aidreams/", &error);  // the service's "latest" spelling
  ASSERT_TRUE(trailing) << error;
  EXPECT_EQ(trailing->branch, "latest");
  auto bare = parse_model_uri("aidreams", &error);
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->folder.empty());
  EXPECT_EQ(format_model_uri(*full), "gpt://b1g2folder/aidreams/rc");
  for (const char* bad : {"gpt://f", "gpt://f/m/nightly", "ftp://f/m", "gpt://f/m/rc/x", "a b", "", "gpt:///m"}) {
    EXPECT_FALSE(parse_model_uri(bad, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace fm
