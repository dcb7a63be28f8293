// Hostile and malformed requests through the whole API in-process: each is answered with a 4xx naming the problem
// in the route's dialect, never a 500 or a crash. The first cases reproduce the issue that made this suite
// (a 200,000-level `tools` schema killed the server; wrong types inside content parts and stream_options earned a
// 500 with the library's exception text); later ones are what the API fuzzer found.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/api_harness.h"

namespace fm::test {
namespace {

using json = nlohmann::json;

class HostileRequests : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { api_ = new ApiHarness(); }
  static void TearDownTestSuite() {
    delete api_;
    api_ = nullptr;
  }
  static ApiResponse post(const std::string& path, const std::string& body) { return api_->call("POST", path, body); }
  // The error message of a 400 (fails the test when the answer is anything else).
  static std::string bad_request_message(const ApiResponse& r) {
    EXPECT_TRUE(r.completed);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(is_error_body(r.body)) << r.body;
    const json j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("message", "") : "";
  }
  static inline ApiHarness* api_ = nullptr;
};

std::string deep_object(size_t levels) {
  std::string s;
  for (size_t i = 0; i < levels; ++i) s += "{\"a\":";
  s += "1";
  s.append(levels, '}');
  return s;
}

TEST_F(HostileRequests, DeeplyNestedToolSchemaIsRefusedNotACrash) {
  const std::string body = R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":)" +
                           deep_object(200000) + "}}]}";
  ASSERT_GT(body.size(), size_t{1} << 20);
  const std::string message = bad_request_message(post("/v1/chat/completions", body));
  EXPECT_NE(message.find("deeper than 64"), std::string::npos) << message;
  // The server still serves.
  EXPECT_EQ(post("/v1/completions", R"({"model":"tiny","prompt":"a","max_tokens":2})").status, 200);
}

TEST_F(HostileRequests, WrongTypesGetA400NamingTheField) {
  EXPECT_EQ(bad_request_message(post("/v1/chat/completions",
                                     R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":5}]}]})")),
            "messages[0].content[0].text must be a string, not a number");
  EXPECT_EQ(bad_request_message(post("/v1/chat/completions",
                                     R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":"yes"}})")),
            "stream_options.include_usage must be a boolean, not a string");
  EXPECT_EQ(bad_request_message(post("/v1/completions", R"({"model":"tiny","prompt":"a","temperature":"hot"})")),
            "temperature must be a number, not a string");
  EXPECT_EQ(bad_request_message(post("/v1/completions", R"({"model":"tiny","prompt":"a","n":1.5})")), "n must be an integer");
  EXPECT_EQ(bad_request_message(post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"robot","content":"x"}]})")),
            "messages[0].role must be one of system, developer, user, assistant, tool (got 'robot')");
}

TEST_F(HostileRequests, ErrorsNeverEchoLibraryExceptions) {
  for (const std::string body : {R"({"model":"tiny","prompt":"a","max_tokens":1e400})", "{\"model\":\"tiny\",\"prompt\":\"\xff\xfe\"}",
                                 R"({"model":"tiny","prompt":"a","max_tokens":18446744073709551616})", "[1,2]", "", "{"}) {
    const ApiResponse r = post("/v1/completions", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(is_error_body(r.body)) << r.body;
    EXPECT_EQ(r.body.find("json.exception"), std::string::npos) << r.body;
  }
}

TEST_F(HostileRequests, NulBytesAndDuplicateKeysAreOrdinaryInput) {
  EXPECT_EQ(post("/v1/completions", R"({"model":"tiny","prompt":"a\u0000b","max_tokens":2})").status, 200);
  EXPECT_EQ(post("/v1/completions", R"({"model":"tiny","prompt":"a","max_tokens":"x","max_tokens":2})").status, 200);
}

TEST_F(HostileRequests, PerRequestLimitsAre400s) {
  json many = {{"model", "tiny"}, {"messages", json::array()}};
  for (int i = 0; i < 1025; ++i) many["messages"].push_back({{"role", "user"}, {"content", "x"}});
  EXPECT_EQ(bad_request_message(post("/v1/chat/completions", many.dump())), "messages may hold at most 1024 items");
  json parts = {{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", json::array()}}}}};
  for (int i = 0; i < 65; ++i) parts["messages"][0]["content"].push_back({{"type", "text"}, {"text", "x"}});
  EXPECT_EQ(bad_request_message(post("/v1/chat/completions", parts.dump())), "messages[0].content may hold at most 64 items");
  EXPECT_EQ(bad_request_message(post("/v1/completions", R"({"model":"tiny","prompt":"a","stop":["a","b","c","d","e"]})")),
            "stop may hold at most 4 items");
  json tools = {{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}, {"tools", json::array()}};
  for (int i = 0; i < 129; ++i) tools["tools"].push_back({{"type", "function"}, {"function", {{"name", "f"}}}});
  EXPECT_EQ(bad_request_message(post("/v1/chat/completions", tools.dump())), "tools may hold at most 128 items");
}

TEST_F(HostileRequests, FeaturesNotServedYetAreRefusedNotIgnored) {
  // Tools on a model whose chat template has no known tool-call syntax (the tiny model's default ChatML).
  const std::string tools_message = bad_request_message(post("/v1/chat/completions",
      R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]})"));
  EXPECT_NE(tools_message.find("tool-call syntax"), std::string::npos) << tools_message;
  // Images on a text model.
  const std::string image_message = bad_request_message(post("/v1/chat/completions",
      R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]})"));
  EXPECT_NE(image_message.find("(kind text) does not take images"), std::string::npos) << image_message;
}

TEST_F(HostileRequests, SchemasTheEngineCannotEnforceAreRefusedByName) {
  std::string message = bad_request_message(post("/v1/chat/completions",
      R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema",
          "json_schema":{"name":"n","schema":{"type":"object","properties":{"tags":{"type":"array","uniqueItems":true}}}}}})"));
  EXPECT_NE(message.find("uniqueItems"), std::string::npos) << message;
  EXPECT_NE(message.find("#/properties/tags"), std::string::npos) << message;
  message = bad_request_message(post("/foundationModels/v1/completion",
      R"({"modelUri":"gpt://f1/tiny","jsonSchema":{"schema":{"not":{"type":"string"}}},"messages":[{"role":"user","text":"x"}]})"));
  EXPECT_NE(message.find("'not'"), std::string::npos) << message;
}

TEST_F(HostileRequests, NativeRoutesAnswerInTheServiceShape) {
  struct Case {
    std::string body;
    int status, grpc;
    std::string message;
  };
  const std::string m = R"("messages":[{"role":"user","text":"a"}])";
  const Case cases[] = {
      {R"({"modelUri":"gpt://f1/tiny","completionOptions":{"temperature":1.5},)" + m + "}", 400, 3,
       "completionOptions.temperature must be between 0 and 1"},
      {R"({"modelUri":"gpt://f1/tiny","messages":[{"role":"bot","text":"a"}]})", 400, 3,
       "messages[0].role must be one of system, user, assistant (got 'bot')"},
      {R"({"modelUri":"gpt://f1/tiny","messages":[]})", 400, 3, "messages must not be empty"},
      {R"({"modelUri":"gpt://f1/tiny","completionOptions":{"maxTokens":0},)" + m + "}", 400, 3,
       "completionOptions.maxTokens must be between 1 and 2147483647"},
      {R"({"modelUri":"gpt://f1/tiny","completionOptions":{"maxTokens":"-5"},)" + m + "}", 400, 3,
       "completionOptions.maxTokens must be between 1 and 2147483647"},
      {R"({"modelUri":"gpt://f1/tiny","completionOptions":{"maxTokens":"many"},)" + m + "}", 400, 3,
       "completionOptions.maxTokens must be an integer (a number or a decimal string)"},
      {R"({"modelUri":"gpt:/f1/tiny",)" + m + "}", 400, 3, "modelUri: 'gpt:/f1/tiny' is not a model name or URI"},
      {R"({"modelUri":"gpt://f1/nope",)" + m + "}", 404, 5, "model 'nope' does not exist"},
      {R"({"modelUri":"gpt://f2/tiny",)" + m + "}", 403, 7, "the API key does not belong to the folder of modelUri"},
  };
  for (const Case& c : cases) {
    const ApiResponse r = post("/foundationModels/v1/completion", c.body);
    ASSERT_TRUE(r.completed);
    EXPECT_EQ(r.status, c.status) << c.body;
    const json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["grpcCode"], c.grpc) << r.body;
    EXPECT_EQ(j["error"]["httpCode"], c.status);
    EXPECT_EQ(j["error"]["message"], c.message);
    EXPECT_TRUE(j["error"]["details"].is_array());
  }
}

TEST_F(HostileRequests, MetricsLabelsComeFromTheRouteTable) {
  for (int i = 0; i < 50; ++i) api_->call("GET", "/no/such/path/" + std::to_string(i), "");
  api_->call("GET", "/bad\"label\nnewline", "");
  const std::string text = api_->metrics_text();
  EXPECT_EQ(text.find("/no/such/path"), std::string::npos);
  EXPECT_EQ(text.find("newline"), std::string::npos);
  EXPECT_NE(text.find("fmserve_requests_total{route=\"unmatched\",code=\"404\"}"), std::string::npos) << text;
  for (const char* gauge : {"fmserve_requests_waiting ", "fmserve_requests_running ", "fmserve_kv_cache_utilization "})
    EXPECT_NE(text.find(gauge), std::string::npos) << gauge;
}

TEST_F(HostileRequests, UnknownMethodsAndPaths) {
  const ApiResponse r = api_->call("DELETE", "/v1/models", "");
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(is_error_body(r.body));
  EXPECT_EQ(api_->call("GET", "/operations/x:cancel:cancel", "").status, 404);
}

}  // namespace
}  // namespace fm::test
