// Reading request JSON: the nesting scan ignores brackets inside strings, field paths name nested members, proto3
// int64 strings and enum names are accepted where the native API allows them.
#include <gtest/gtest.h>

#include "api/json_input.h"
#include "api/router.h"

namespace fm {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.http_status(), 400);
    return e.what();
  }
  return "";
}

TEST(JsonInput, NestingDepthSkipsStrings) {
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,{"b":"[[[[{{{{"}]})", 100), 3);
  EXPECT_EQ(json_nesting_depth(R"({"a":"\"[[[["})", 100), 1);
  EXPECT_EQ(json_nesting_depth(std::string(100000, '['), 64), 65);  // stops counting past the limit
  EXPECT_NE(error_of([] { parse_json_body(std::string(65, '[') + std::string(65, ']'), 64); }).find("deeper than 64"), std::string::npos);
  EXPECT_NO_THROW(parse_json_body(R"({"a":[[[]]]})", 64));
  EXPECT_EQ(error_of([] { parse_json_body("[1]", 64); }), "the request body must be a JSON object");
}

TEST(JsonInput, ErrorsNameThePath) {
  const ojson body = ojson::parse(R"({"a":{"b":[{"c":5}]},"n":"12","m":"x","e":"B","f":1.5,"big":1e300})");
  const JsonField root(body);
  EXPECT_EQ(error_of([&] { root["a"]["b"][0]["c"].string(); }), "a.b[0].c must be a string, not a number");
  EXPECT_EQ(error_of([&] { root["a"]["x"].string(); }), "a.x is required");
  EXPECT_EQ(error_of([&] { root["m"]["k"].string(); }), "m must be an object, not a string");
  EXPECT_EQ(error_of([&] { root["a"]["b"].array(0); }), "a.b may hold at most 0 items");
  EXPECT_EQ(root["n"].int64_or(0, 0, 100), 12);
  EXPECT_EQ(error_of([&] { root["m"].int64_or(0, 0, 100); }), "m must be an integer (a number or a decimal string)");
  EXPECT_EQ(error_of([&] { root["f"].integer_or(0, 0, 100); }), "f must be an integer");
  EXPECT_EQ(error_of([&] { root["big"].integer_or(0, 0, 100); }), "big must be between 0 and 100");
  EXPECT_EQ(root["e"].enum_or(0, {"A", "B"}), 1u);
  EXPECT_EQ(error_of([&] { root["m"].enum_or(0, {"A", "B"}); }), "m must be one of A, B");
  EXPECT_EQ(root["absent"].number_or(0.25, 0, 1), 0.25);
}

TEST(JsonInput, SnakeCaseAliases) {
  const ojson body = ojson::parse(R"({"model_uri":"gpt://f/m","completion_options":{"max_tokens":"7"}})");
  const JsonField root(body, /*snake_aliases=*/true);
  EXPECT_EQ(root["modelUri"].string(), "gpt://f/m");
  EXPECT_EQ(root["completionOptions"]["maxTokens"].int64_or(0, 1, 100), 7);
  EXPECT_FALSE(JsonField(body)["modelUri"].present());
}

TEST(Router, PatternsParametersAndLabels) {
  Metrics metrics;
  Router router(metrics);
  router.add("GET", "/operations/{id}", Dialect::kNative, nullptr);
  router.add("GET", "/operations/{id}:cancel", Dialect::kNative, nullptr);
  router.add("POST", "/v1/completions", Dialect::kOpenAi, nullptr);
  EXPECT_EQ(router.label_of("/operations/abc"), "/operations/{id}");
  EXPECT_EQ(router.label_of("/operations/abc:cancel"), "/operations/{id}:cancel");
  EXPECT_EQ(router.label_of("/operations/a:b:cancel"), kUnmatchedRoute);
  EXPECT_EQ(router.label_of("/operations/"), kUnmatchedRoute);
  EXPECT_EQ(router.label_of("/v1/completions/x"), kUnmatchedRoute);
  EXPECT_EQ(router.dialect_of("/v1/anything"), Dialect::kOpenAi);
  EXPECT_EQ(router.dialect_of("/operations/x"), Dialect::kNative);
}

}  // namespace
}  // namespace fm
