#pragma once
// Runs one execution of a validated YaWL document. The state starts as {"input": X} (plus X's keys when X is an
// object); each step sees the state (or what its `input` template makes of it) and merges the object it yields into
// the state by top-level keys. Every finished step run is written to the execution's journal under a key that
// names it exactly (its body, iteration and visit: "loop#0[2]/summarize#0"); a run resumed after a crash replays
// the document and takes each journalled step's outcome instead of running it again, so a finished model call is
// never repeated and the history never holds a step twice.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace fm::workflow {

using json = nlohmann::ordered_json;

// The service's error names: STEP_TIMEOUT, STEP_INVALID_TEMPLATE_EXPRESSION, STEP_INVALID_ARGUMENT,
// STEP_INVALID_OUTPUT, STEP_INTERNAL, STEP_FAIL, STEP_NO_CHOICE_MATCHED, HTTP_CALL_<status>, …
struct StepError {
  std::string code, message;
};

class StepFailure : public std::runtime_error {
 public:
  explicit StepFailure(StepError e) : std::runtime_error(e.code + ": " + e.message), error(std::move(e)) {}
  StepFailure(std::string code, std::string message) : StepFailure(StepError{std::move(code), std::move(message)}) {}
  StepError error;
};

// What an integration step's call may use: its folder (model URIs must be in it), its deadline and the
// execution's termination flag (a call in flight is abandoned when it is set).
struct CallContext {
  std::string folder;
  std::chrono::steady_clock::time_point deadline;
  const std::atomic<bool>* terminated = nullptr;
};

// The side effects of integration steps. Fields arrive with their templates evaluated; a failure is a StepFailure.
class StepCalls {
 public:
  virtual ~StepCalls() = default;
  // foundationModelsCall: {modelUrl, generate | classify | fewShotClassify | vision}; returns the service's response
  // without a `result` wrapper ({alternatives, usage, modelVersion}, {predictions, modelVersion, inputTokens}).
  virtual json foundation_models_call(const json& call, const CallContext& ctx) = 0;
  // httpCall: {url, method, headers, query, body}; returns the response body (JSON when it parses, else a string).
  virtual json http_call(const json& call, const CallContext& ctx) = 0;
};

// One finished step run, as the history shows it and as a resumed run replays it.
struct StepRecord {
  std::string key;      // unique within the execution
  std::string step_id, title, type;
  std::string status;   // FINISHED or FAILED
  json input;           // what the step saw
  json output;          // what it merged into the state (null for none)
  std::string next;     // where the execution went on ("" : the body ended)
  std::optional<StepError> error;
  int attempts = 1;
  int64_t started_ms = 0, finished_ms = 0;
};

class ExecutionJournal {
 public:
  virtual ~ExecutionJournal() = default;
  virtual std::optional<StepRecord> find(const std::string& key) = 0;
  // Stores the record durably before returning; a key already stored is left as it is. Called from several
  // threads at once (foreach and parallel bodies).
  virtual void record(const StepRecord& record) = 0;
};

// Set from outside while an execution runs.
struct ExecutionControl {
  std::atomic<bool> stop{false};       // end after the running step (STOPPED)
  std::atomic<bool> terminate{false};  // end at once, abandoning the running step (STOPPED)
};

enum class ExecutionStatus { kFinished, kFailed, kStopped };
const char* execution_status_name(ExecutionStatus s);

struct ExecutionOutcome {
  ExecutionStatus status = ExecutionStatus::kFinished;
  json state;                       // the final state (the execution's result when FINISHED)
  std::optional<StepError> error;   // when FAILED
};

struct EngineOptions {
  int64_t default_timeout_ms = 15 * 60 * 1000;  // a step's `timeout` when it has none
  int64_t max_step_runs = 100000;               // per execution run: a document looping forever fails
  int64_t max_wait_ms = int64_t{366} * 86400 * 1000;  // a longer `wait` (or retry delay) fails the step
  std::function<int64_t()> now_ms;              // wall clock (tests may fix it)
};

class Engine {
 public:
  Engine(const json& document, StepCalls& calls, ExecutionJournal& journal, ExecutionControl& control,
         std::string folder, EngineOptions options = {});
  ExecutionOutcome run(const json& input);

 private:
  struct Body;
  json run_body(const json& body, json state, const Body& scope);
  std::string run_step(const std::string& id, const json& step, json& state, const Body& scope, const std::string& key);
  std::string integration_step(const std::string& id, const json& step, const std::string& type, json& state,
                               const Body& scope, const std::string& key);
  json call_once(const std::string& type, const json& spec, const json& input, const json& state, const Body& scope);
  json iterate(const json& spec, const json& items, const json& global, const Body& scope, const std::string& key,
               bool branches);
  void sleep_ms(int64_t ms, bool stop_ends_it);
  void check_running(const Body& scope) const;
  void record(StepRecord r);

  const json& doc_;
  StepCalls& calls_;
  ExecutionJournal& journal_;
  ExecutionControl& control_;
  std::string folder_;
  EngineOptions options_;
  std::atomic<int64_t> step_runs_{0};
};

// The state an execution (or a foreach iteration) starts from for input X.
json initial_state(const json& input);

}  // namespace fm::workflow
