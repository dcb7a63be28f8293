// YaWL documents: YAML and JSON read alike, and every problem reported with its path.
#include <gtest/gtest.h>

#include "workflow/yawl_document.h"

namespace fm::workflow {
namespace {

std::vector<std::string> problems(const std::string& text) {
  try {
    parse_document(text);
  } catch (const DocumentError& e) {
    return e.problems();
  }
  return {};
}

bool has(const std::vector<std::string>& list, const std::string& line) {
  for (const auto& p : list)
    if (p.rfind(line, 0) == 0) return true;
  return false;
}

TEST(YawlDocument, YamlScalarsAreTypedOnlyWhenPlain) {
  const json doc = parse_document(R"(
yawl: "0.1"
start: a
steps:
  a:
    noOp:
      output: '\({n: 1})'
      next: b
  b:
    foreach:
      input: '\(.items)'
      concurrency: 4
      do: {start: x, steps: {x: {success: {}}}}
)");
  EXPECT_EQ(doc["yawl"], "0.1");
  EXPECT_EQ(doc["steps"]["b"]["foreach"]["concurrency"], 4);
  EXPECT_EQ(doc["steps"]["a"]["noOp"]["output"], "\\({n: 1})");
  EXPECT_EQ(step_type(doc["steps"]["b"]), "foreach");
  EXPECT_EQ(parse_document(R"({"yawl":"0.1","start":"s","steps":{"s":{"title":"T","success":{}}}})")["steps"]["s"]["title"], "T");
}

TEST(YawlDocument, EveryProblemHasItsPath) {
  const auto p = problems(R"(
yawl: "0.1"
start: summarize
defaultRetryPolicy: {errorList: [ALL], backoffRate: 0}
steps:
  summarize:
    foundationModelsCall:
      modelUrl: gpt://f/m
      generate:
        messages: {messages: [{role: user, text: hi}]}
      next: report
      timeout: soon
  report:
    noOp: {output: '\(.a', extra: 1}
  loop:
    while:
      do: {start: in, steps: {in: {noOp: {next: summarize}}}}
  branch:
    parallel:
      branches: {}
  choose:
    switch:
      choices: [{condition: '.a', next: ghost}]
      default: {next: report}
  two:
    noOp: {}
    success: {}
  pause:
    wait: {}
  http:
    httpCall: {method: FETCH, retryPolicy: {errorListMode: SOMETIMES}, catch: [{errorList: [ALL]}]}
  vision:
    foundationModelsCall:
      modelUrl: gpt://f/v
      vision:
        maxTokens: 10
        messages: {messages: [{role: system, text: x, images: [{base64: AAA, file: {url: x}}]}]}
)");
  for (const char* line : {
           "defaultRetryPolicy.backoffRate: must be a number in [1, 100]",
           "steps.summarize.foundationModelsCall.generate.maxTokens: required",
           "steps.summarize.foundationModelsCall.timeout: must be a duration",
           "steps.report.noOp.extra: unknown key",
           "steps.report.noOp.output: unbalanced",
           "steps.loop.while: needs a 'condition' or 'max_iterations'",
           "steps.loop.while.do.steps.in.noOp.next: step 'summarize' is outside this body",
           "steps.branch.parallel.branches: required",
           "steps.choose.switch.choices[0].next: no step 'ghost'",
           "steps.two: has more than one step type",
           "steps.pause.wait: exactly one of 'duration' and 'until' is required",
           "steps.http.httpCall.url: required",
           "steps.http.httpCall.method: must be one of",
           "steps.http.httpCall.retryPolicy.errorListMode: must be INCLUDE or EXCLUDE",
           "steps.http.httpCall.catch[0].next: required",
           "steps.vision.foundationModelsCall.vision.messages.messages[0].role: must be 'user' when the message has images",
           "steps.vision.foundationModelsCall.vision.messages.messages[0].images[0]: must have exactly one of 'base64' and 'file'",
       })
    EXPECT_TRUE(has(p, line)) << "missing: " << line;
}

TEST(YawlDocument, DocumentLevelProblems) {
  EXPECT_TRUE(has(problems("yawl: '0.2'\nstart: a\nsteps: {a: {success: {}}}"), "yawl: must be"));
  EXPECT_TRUE(has(problems("start: a\nsteps: {a: {success: {}}}"), "yawl: required"));
  EXPECT_TRUE(has(problems("yawl: '0.1'\nsteps: {a: {success: {}}}"), "start: required"));
  EXPECT_TRUE(has(problems("yawl: '0.1'\nstart: b\nsteps: {a: {success: {}}}"), "start: no step 'b'"));
  EXPECT_TRUE(has(problems("yawl: '0.1'\nstart: a\nsteps: {}"), "steps: required"));
  EXPECT_TRUE(has(problems("yawl: '0.1'\nstart: a\nsteps: {a: {sleep: {}}}"), "steps.a.sleep: unknown key"));
  EXPECT_TRUE(has(problems("[1, 2"), "document: not YAML or JSON"));
  EXPECT_TRUE(has(problems("- 1\n- 2"), "document: must be an object"));
  std::string deep = "yawl: '0.1'\nstart: a\nsteps: {a: {success: {}}}\nx: ";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  EXPECT_FALSE(problems(deep).empty());
}

TEST(YawlDocument, Durations) {
  EXPECT_EQ(parse_duration_ms("500ms"), 500);
  EXPECT_EQ(parse_duration_ms("1.5s"), 1500);
  EXPECT_EQ(parse_duration_ms("15m"), 900000);
  EXPECT_EQ(parse_duration_ms(2), 2000);
  EXPECT_EQ(parse_duration_ms("2h"), 7200000);
  for (const json& bad : {json("soon"), json("-1s"), json("1w"), json(true), json("1e400s")})
    EXPECT_THROW(parse_duration_ms(bad), std::invalid_argument) << bad.dump();
}

}  // namespace
}  // namespace fm::workflow
