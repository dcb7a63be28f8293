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

namespace fm {
namespace {

TEST(ServiceConfig, VisionModelsAndImageFetch) {
  const ServiceConfig cfg = parse_service_config(R"(
image_fetch:
  connect_timeout: 2s
  timeout: 1m
  max_size: 4MiB
  max_redirects: 1
  allow_hosts: [127.0.0.1, images.internal]
  cache_size: 64MiB
  s3: {endpoint: "http://127.0.0.1:9000", region: eu-west-1, access_key_id: k, secret_access_key: s}
models:
  - name: gemma3
    kind: vision
    mmproj: /m/mmproj.gguf
    image_max_side: 768
    branches: {latest: /m/text.gguf, rc: {model: /m/rc.gguf, mmproj: /m/mmproj-rc.gguf}}
)");
  const ImageFetchConfig& f = cfg.image_fetch;
  EXPECT_EQ(f.connect_timeout_s, 2);
  EXPECT_EQ(f.timeout_s, 60);
  EXPECT_EQ(f.max_bytes, size_t{4} << 20);
  EXPECT_EQ(f.max_redirects, 1);
  EXPECT_EQ(f.allow_hosts, (std::vector<std::string>{"127.0.0.1", "images.internal"}));
  EXPECT_EQ(f.cache_bytes, size_t{64} << 20);
  EXPECT_EQ(f.s3_endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(f.s3_region, "eu-west-1");
  const ModelConfig* m = cfg.find("gemma3");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kind, ModelKind::kVision);
  EXPECT_EQ(m->branches.at("rc"), "/m/rc.gguf");
  EXPECT_EQ(m->mmproj_for("latest"), "/m/mmproj.gguf");
  EXPECT_EQ(m->mmproj_for("rc"), "/m/mmproj-rc.gguf");
  EXPECT_EQ(m->image_max_side, 768);
}

TEST(ServiceConfig, VisionMistakesAreRefusedWithTheirReason) {
  const std::pair<const char*, const char*> bad[] = {
      {"models:\n  - name: v\n    kind: vision\n    branches: {latest: a}", "needs an 'mmproj'"},
      {"models:\n  - name: t\n    mmproj: p\n    branches: {latest: a}", "'mmproj' applies to kind: vision"},
      {"image_fetch: {teleport: yes}\nmodels:\n  - name: t\n    branches: {latest: a}", "unknown image_fetch key 'teleport'"},
      {"image_fetch: {allow_hosts: localhost}\nmodels:\n  - name: t\n    branches: {latest: a}", "must be a list"},
      {"models:\n  - name: t\n    image_max_side: 512\n    branches: {latest: a}", "'image_max_side' applies to kind: vision"},
  };
  for (const auto& [text, reason] : bad) {
    try {
      parse_service_config(text, "cfg.yaml");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace fm

#include "service/image_fetch.h"

namespace fm {
namespace {

TEST(ImageFetch, InternalAddressesAreRecognised) {
  for (const char* ip : {"127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                         "0.0.0.0", "100.64.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "garbage"})
    EXPECT_TRUE(is_internal_address(ip)) << ip;
  for (const char* ip : {"8.8.8.8", "172.32.0.1", "192.169.0.1", "100.128.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"})
    EXPECT_FALSE(is_internal_address(ip)) << ip;
}

}  // namespace
}  // namespace fm
