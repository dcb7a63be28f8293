// The YaWL engine with scripted integration calls: state and merging, retries and catch, errors by name, stop and
// terminate, and replay from a journal (a resumed run makes no call twice).
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "workflow/engine.h"
#include "workflow/yawl_document.h"

namespace fm::workflow {
namespace {

// Answers calls by the `url` / generate text they carry; counts them; can fail the first N calls of a URL.
class ScriptedCalls final : public StepCalls {
 public:
  std::mutex mutex;
  std::map<std::string, int> calls;
  std::map<std::string, std::vector<StepError>> failures;  // popped in order before answering
  int sleep_ms = 0;
  std::atomic<bool>* set_on_call = nullptr;  // raised when an HTTP call starts (a stop or terminate mid-step)

  json foundation_models_call(const json& call, const CallContext&) override {
    const std::string text = call["generate"]["messages"]["messages"][0]["text"].get<std::string>();
    count("model:" + text);
    return {{"alternatives", {{{"message", {{"role", "assistant"}, {"text", "echo " + text}}}, {"status", "ALTERNATIVE_STATUS_FINAL"}}}},
            {"modelVersion", "test"}};
  }

  json http_call(const json& call, const CallContext& ctx) override {
    const std::string url = call["url"].get<std::string>();
    count(url);
    if (set_on_call) *set_on_call = true;
    if (sleep_ms) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(sleep_ms);
      while (std::chrono::steady_clock::now() < until && !ctx.terminated->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (std::chrono::steady_clock::now() > ctx.deadline) throw StepFailure("STEP_TIMEOUT", "slow");
    }
    std::lock_guard<std::mutex> lock(mutex);
    auto& f = failures[url];
    if (!f.empty()) {
      const StepError e = f.front();
      f.erase(f.begin());
      throw StepFailure(e);
    }
    return {{"url", url}, {"body", call.value("body", json())}};
  }

  int count_of(const std::string& k) {
    std::lock_guard<std::mutex> lock(mutex);
    return calls[k];
  }
  int total() {
    std::lock_guard<std::mutex> lock(mutex);
    int n = 0;
    for (auto& [k, v] : calls) n += v;
    return n;
  }

 private:
  void count(const std::string& k) {
    std::lock_guard<std::mutex> lock(mutex);
    ++calls[k];
  }
};

class MemoryJournal final : public ExecutionJournal {
 public:
  std::mutex mutex;
  std::vector<StepRecord> order;      // as recorded
  std::map<std::string, size_t> at;   // key -> index in order
  std::optional<StepRecord> find(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = at.find(key);
    if (it == at.end()) return std::nullopt;
    return order[it->second];
  }
  void record(const StepRecord& r) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (at.emplace(r.key, order.size()).second) order.push_back(r);
  }
  const StepRecord* get(const std::string& key) {
    auto it = at.find(key);
    return it == at.end() ? nullptr : &order[it->second];
  }
};

struct Harness {
  ScriptedCalls calls;
  MemoryJournal journal;
  ExecutionControl control;
  ExecutionOutcome go(const std::string& yaml, const json& input, EngineOptions options = {}) {
    const json doc = parse_document(yaml);
    Engine engine(doc, calls, journal, control, "f1", std::move(options));
    return engine.run(input);
  }
};

TEST(WorkflowEngine, StateStartsFromTheInputAndMergesByTopLevelKey) {
  EXPECT_EQ(initial_state(json::parse(R"({"a":"b","c":12})")), json::parse(R"({"input":{"a":"b","c":12},"a":"b","c":12})"));
  EXPECT_EQ(initial_state(json::parse("[1,2,3]")), json::parse(R"({"input":[1,2,3]})"));
  Harness r;
  const auto out = r.go(R"(
yawl: "0.1"
start: get
steps:
  get:
    httpCall:
      url: 'http://x/\(.name)'
      input: '\({name: .input.who})'
      output: '\({got: .url, strings: ["z"], seen: $global.numbers})'
      next: ask
  ask:
    foundationModelsCall:
      modelUrl: gpt://f1/m
      generate: {maxTokens: 5, messages: {messages: [{role: user, text: 'Hello \(.got)'}]}}
      output: '\({answer: .alternatives.[0].message.text})'
)", json::parse(R"({"who":"ann","numbers":[1,2],"strings":["a"]})"));
  ASSERT_EQ(out.status, ExecutionStatus::kFinished) << (out.error ? out.error->message : "");
  EXPECT_EQ(out.state["got"], "http://x/ann");
  EXPECT_EQ(out.state["strings"], json::parse(R"(["z"])")) << "a step's keys replace the state's";
  EXPECT_EQ(out.state["numbers"], json::parse("[1,2]"));
  EXPECT_EQ(out.state["seen"], json::parse("[1,2]")) << "$global is the state in output templates";
  EXPECT_EQ(out.state["answer"], "echo Hello http://x/ann");
  EXPECT_EQ(r.journal.get("get#0")->input, json::parse(R"({"name":"ann"})")) << "the input template filters what the step sees";
}

TEST(WorkflowEngine, RetriesFollowThePolicyAndCatchRulesGoInOrder) {
  Harness r;
  r.calls.failures["http://flaky"] = {{"HTTP_CALL_503", "busy"}, {"HTTP_CALL_503", "busy"}};
  r.calls.failures["http://broken"] = {{"HTTP_CALL_500", "a"}, {"HTTP_CALL_500", "b"}, {"HTTP_CALL_500", "c"}};
  r.calls.failures["http://gone"] = {{"HTTP_CALL_404", "not here"}};
  const auto out = r.go(R"(
yawl: "0.1"
start: flaky
defaultRetryPolicy: {errorList: [HTTP_CALL_500], initialDelay: 1ms, retryCount: 1}
steps:
  flaky:
    httpCall:
      url: http://flaky
      retryPolicy: {errorList: [HTTP_CALL_404], errorListMode: EXCLUDE, initialDelay: 10ms, backoffRate: 2, retryCount: 5}
      output: '\({flaky: .url})'
      next: broken
  broken:
    httpCall:
      url: http://broken
      catch:
        - {errorList: [HTTP_CALL_404], next: wrong}
        - {errorList: [ALL], output: '\({caught: .error, msg: .message})', next: gone}
  gone:
    httpCall:
      url: http://gone
      catch: [{errorList: [HTTP_CALL_404], next: done}]
  wrong:
    fail: {errorMessage: wrong}
  done:
    success: {}
)", json::object());
  ASSERT_EQ(out.status, ExecutionStatus::kFinished) << (out.error ? out.error->message : "");
  EXPECT_EQ(r.calls.count_of("http://flaky"), 3);
  EXPECT_EQ(r.journal.get("flaky#0")->attempts, 3);
  EXPECT_EQ(r.calls.count_of("http://broken"), 2) << "the default policy: one retry";
  EXPECT_EQ(out.state["caught"], "HTTP_CALL_500");
  EXPECT_EQ(out.state["msg"], "b");
  EXPECT_EQ(r.calls.count_of("http://gone"), 1);
  EXPECT_EQ(out.state["error"], "HTTP_CALL_404") << "a catch without output merges {error, message}";
  EXPECT_EQ(r.journal.get("gone#0")->status, "FAILED");
}

TEST(WorkflowEngine, ErrorsHaveTheServiceNames) {
  const auto error_of = [](const std::string& steps, const json& input = json::object()) {
    Harness r;
    const auto out = r.go("yawl: '0.1'\nstart: s\nsteps:\n" + steps, input);
    EXPECT_EQ(out.status, ExecutionStatus::kFailed) << steps;
    return out.error ? out.error->code : std::string("none");
  };
  EXPECT_EQ(error_of("  s: {noOp: {output: '\\(1 + \"a\")'}}"), "STEP_INVALID_TEMPLATE_EXPRESSION");
  EXPECT_EQ(error_of("  s: {noOp: {output: '\\([1])'}}"), "STEP_INVALID_OUTPUT");
  EXPECT_EQ(error_of("  s: {httpCall: {url: 'http://x', output: 'text'}}"), "STEP_INVALID_OUTPUT");
  EXPECT_EQ(error_of("  s: {switch: {choices: [{condition: '.a', next: t}]}}\n  t: {success: {}}"), "STEP_NO_CHOICE_MATCHED");
  EXPECT_EQ(error_of("  s: {foreach: {input: '\\(.a)', do: {start: x, steps: {x: {success: {}}}}}}", {{"a", 1}}), "STEP_INVALID_ARGUMENT");
  EXPECT_EQ(error_of("  s: {foreach: {input: '\\(.a)', do: {start: x, steps: {x: {noOp: {}}}}}}", {{"a", json::array({1})}}), "STEP_INVALID_OUTPUT");
  EXPECT_EQ(error_of("  s: {fail: {errorMessage: 'no \\(.input.x)'}}", {{"x", "way"}}), "STEP_FAIL");
  EXPECT_EQ(error_of("  s: {noOp: {next: t}}\n  t: {noOp: {next: s}}"), "STEP_INTERNAL") << "a loop without end";
}

TEST(WorkflowEngine, ControlSteps) {
  Harness r;
  const auto out = r.go(R"(
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\(.input.items)'
      concurrency: 3
      do:
        start: get
        steps:
          get: {httpCall: {url: 'http://i/\(.input)', output: '\({u: .url, g: $global.tag})'}}
      output: '\({urls: map(.u), tags: map(.g) | unique})'
      next: par
  par:
    parallel:
      input: '\({base: .tag})'
      branches:
        one: {start: a, steps: {a: {noOp: {output: '\({v: (.base + "1")})'}}}}
        two: {start: b, steps: {b: {wait: {duration: 20ms, next: c}}, c: {noOp: {output: '\({v: (.base + "2")})'}}}}
      next: loop
  loop:
    while:
      input: '\({k: 0})'
      condition: '\(.k < 3)'
      max_iterations: 10
      do: {start: inc, steps: {inc: {noOp: {output: '\({k: (.k + 1), last: $counter})'}}}}
      output: '\({k: .k, last: .last})'
      next: capped
  capped:
    while:
      input: '\({k: 0})'
      maxIterations: 2
      do: {start: inc, steps: {inc: {noOp: {output: '\({k: (.k + 1)})'}}}}
      output: '\({capped: .k})'
)", json::parse(R"({"items":["a","b","c","d"],"tag":"T"})"));
  ASSERT_EQ(out.status, ExecutionStatus::kFinished) << (out.error ? out.error->message : "");
  EXPECT_EQ(out.state["urls"], json::parse(R"(["http://i/a","http://i/b","http://i/c","http://i/d"])")) << "results in input order";
  EXPECT_EQ(out.state["tags"], json::parse(R"(["T"])"));
  EXPECT_EQ(out.state["one"]["v"], "T1");
  EXPECT_EQ(out.state["two"]["v"], "T2");
  EXPECT_EQ(out.state["k"], 3);
  EXPECT_EQ(out.state["last"], 2);
  EXPECT_EQ(out.state["capped"], 2);
  EXPECT_NE(r.journal.get("each#0[3]/get#0"), nullptr);
  EXPECT_NE(r.journal.get("par#0{two}/c#0"), nullptr);
  EXPECT_NE(r.journal.get("loop#0[2]/inc#0"), nullptr);
}

TEST(WorkflowEngine, SuccessInsideAForeachEndsTheExecutionAndFailInsideAParallelFailsIt) {
  Harness a;
  const auto ok = a.go(R"(
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\(.input)'
      do: {start: s, steps: {s: {success: {}}}}
      output: '\({x: 1})'
      next: after
  after: {fail: {errorMessage: not reached}}
)", json::array({1, 2}));
  EXPECT_EQ(ok.status, ExecutionStatus::kFinished);
  Harness b;
  const auto bad = b.go(R"(
yawl: "0.1"
start: par
steps:
  par:
    parallel:
      branches:
        a: {start: f, steps: {f: {fail: {errorMessage: branch a}}}}
        b: {start: w, steps: {w: {noOp: {}}}}
)", json::object());
  ASSERT_EQ(bad.status, ExecutionStatus::kFailed);
  EXPECT_EQ(bad.error->message, "branch a");
}

TEST(WorkflowEngine, AResumedRunReplaysTheJournalAndCallsNothingTwice) {
  const std::string doc = R"(
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\(.input.items)'
      do:
        start: fetch
        steps:
          fetch: {httpCall: {url: 'http://d/\(.input)', output: '\({u: .url})', next: ask}}
          ask:
            foundationModelsCall:
              modelUrl: gpt://f1/m
              generate: {maxTokens: 5, messages: {messages: [{role: user, text: '\(.u)'}]}}
              output: '\({a: .alternatives[0].message.text})'
      output: '\({answers: map(.a)})'
)";
  const json input = json::parse(R"({"items":[1,2,3,4]})");
  Harness full;
  const auto expected = full.go(doc, input);
  ASSERT_EQ(expected.status, ExecutionStatus::kFinished);
  EXPECT_EQ(full.calls.total(), 8);
  // A crash after the first 3 step runs: a new process starts from those journal entries only.
  Harness resumed;
  for (size_t i = 0; i < 3; ++i) resumed.journal.record(full.journal.order[i]);
  const auto out = resumed.go(doc, input);
  ASSERT_EQ(out.status, ExecutionStatus::kFinished);
  EXPECT_EQ(out.state, expected.state);
  EXPECT_EQ(resumed.calls.total(), 5) << "the 3 journalled calls are not made again";
  EXPECT_EQ(resumed.calls.count_of("http://d/1"), 0);
  EXPECT_EQ(resumed.calls.count_of("model:http://d/1"), 0);
  EXPECT_EQ(resumed.calls.count_of("http://d/2"), 0);
  EXPECT_EQ(resumed.journal.order.size(), full.journal.order.size());
  // A finished execution replayed whole: no call at all, the same state.
  Harness again;
  for (const auto& rec : full.journal.order) again.journal.record(rec);
  EXPECT_EQ(again.go(doc, input).state, expected.state);
  EXPECT_EQ(again.calls.total(), 0);
}

TEST(WorkflowEngine, StopEndsAfterTheRunningStepTerminateAtOnce) {
  const std::string doc = R"(
yawl: "0.1"
start: slow
steps:
  slow: {httpCall: {url: http://slow, output: '\({done: true})', next: next}}
  next: {httpCall: {url: http://next}}
)";
  Harness stop;
  stop.calls.sleep_ms = 100;
  stop.calls.set_on_call = &stop.control.stop;
  const auto stopped = stop.go(doc, json::object());
  EXPECT_EQ(stopped.status, ExecutionStatus::kStopped);
  EXPECT_NE(stop.journal.get("slow#0"), nullptr) << "the running step finished";
  EXPECT_EQ(stop.calls.count_of("http://next"), 0);

  Harness term;
  term.calls.sleep_ms = 5000;
  term.calls.set_on_call = &term.control.terminate;
  const auto begin = std::chrono::steady_clock::now();
  const auto terminated = term.go(doc, json::object());
  EXPECT_EQ(terminated.status, ExecutionStatus::kStopped);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(3));
  EXPECT_EQ(term.journal.get("slow#0"), nullptr) << "the abandoned step is not journalled";
}

TEST(WorkflowEngine, TimeoutsAndWaits) {
  Harness r;
  r.calls.sleep_ms = 200;
  const auto out = r.go("yawl: '0.1'\nstart: s\nsteps:\n  s: {httpCall: {url: http://s, timeout: 50ms}}\n", json::object());
  ASSERT_EQ(out.status, ExecutionStatus::kFailed);
  EXPECT_EQ(out.error->code, "STEP_TIMEOUT");
  Harness w;
  EngineOptions o;
  o.max_wait_ms = 1000;
  const auto begin = std::chrono::steady_clock::now();
  const auto waited = w.go("yawl: '0.1'\nstart: s\nsteps:\n  s: {wait: {duration: 100ms, next: t}}\n  t: {wait: {until: '2000-01-01T00:00:00Z'}}\n", json::object(), o);
  EXPECT_EQ(waited.status, ExecutionStatus::kFinished);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(100));
  Harness too_long;
  const auto refused = too_long.go("yawl: '0.1'\nstart: s\nsteps:\n  s: {wait: {duration: 10s}}\n", json::object(), o);
  ASSERT_EQ(refused.status, ExecutionStatus::kFailed);
  EXPECT_EQ(refused.error->code, "STEP_INVALID_ARGUMENT");
}

}  // namespace
}  // namespace fm::workflow
