// The YaWL interpreter. Bodies (the document's, a foreach iteration's, a parallel branch's, a while iteration's) run
// their steps one after another; foreach and parallel run their bodies on threads of their own, up to their
// `concurrency`. Everything a step does that is not a pure function of the state and the document (a model or HTTP
// call, a wait) is journalled, so a replay after a crash reaches the same state without repeating it.
#include "workflow/engine.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <exception>
#include <thread>
#include <vector>

#include "workflow/jq_template.h"
#include "workflow/yawl_document.h"

namespace fm::workflow {

struct Engine::Body {
  std::string prefix;                         // key prefix of its steps ("" at the top)
  const json* global = nullptr;               // $global: the state outside the body (null: the body's own state)
  json counter = nullptr;                     // $counter inside a while body
  const std::atomic<bool>* aborted = nullptr; // a sibling iteration failed: stop at the next step
  const Body* parent = nullptr;
};

namespace {

// A `success` step: the whole execution ends, FINISHED, with this state.
struct Succeeded {
  json state;
};
// stop / terminate / a failed sibling: the body ends where it is.
struct Halted {};

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool truthy(const json& v) { return !(v.is_null() || (v.is_boolean() && !v.get<bool>())); }

void merge(json& state, const json& output) {
  for (auto it = output.begin(); it != output.end(); ++it) state[it.key()] = it.value();
}

// Templates run with their errors named as the service names them.
json render_step(const json& value, const json& input, const json& vars) {
  try {
    return render(value, input, vars);
  } catch (const TemplateError& e) {
    throw StepFailure("STEP_INVALID_TEMPLATE_EXPRESSION", e.what());
  }
}

// A condition is a template (`\(.n > 2)`) or a bare jq program (`.n > 2`).
bool condition_holds(const json& condition, const json& input, const json& vars) {
  const std::string text = condition.get<std::string>();
  if (is_template(text)) return truthy(render_step(condition, input, vars));
  try {
    return truthy(jq_eval(text, input, vars));
  } catch (const TemplateError& e) {
    throw StepFailure("STEP_INVALID_TEMPLATE_EXPRESSION", e.what());
  }
}

bool listed(const json& rule, const std::string& code) {
  const json list = rule.value("errorList", json::array());
  bool in = false;
  for (const auto& e : list)
    if (e == code || e == "ALL") in = true;
  return rule.value("errorListMode", std::string("INCLUDE")) == "EXCLUDE" ? !in : in;
}

int64_t parse_rfc3339_ms(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) throw StepFailure("STEP_INVALID_ARGUMENT", "wait.until '" + text + "' is not an RFC 3339 time");
  double frac = 0;
  if (*rest == '.') frac = std::strtod(rest, const_cast<char**>(&rest));
  int64_t offset_s = 0;
  if (*rest == '+' || *rest == '-') {
    int h = 0, m = 0;
    if (std::sscanf(rest + 1, "%d:%d", &h, &m) != 2) throw StepFailure("STEP_INVALID_ARGUMENT", "wait.until '" + text + "' has a bad offset");
    offset_s = (*rest == '+' ? 1 : -1) * (h * 3600 + m * 60);
  } else if (*rest != 'Z' && *rest != 'z') {
    throw StepFailure("STEP_INVALID_ARGUMENT", "wait.until '" + text + "' needs a time zone (Z or ±hh:mm)");
  }
  return (static_cast<int64_t>(timegm(&tm)) - offset_s) * 1000 + static_cast<int64_t>(frac * 1000);
}

}  // namespace

const char* execution_status_name(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::kFinished: return "FINISHED";
    case ExecutionStatus::kFailed: return "FAILED";
    case ExecutionStatus::kStopped: return "STOPPED";
  }
  return "FAILED";
}

json initial_state(const json& input) {
  json state = json::object();
  state["input"] = input;
  if (input.is_object()) merge(state, input);
  return state;
}

Engine::Engine(const json& document, StepCalls& calls, ExecutionJournal& journal, ExecutionControl& control,
               std::string folder, EngineOptions options)
    : doc_(document), calls_(calls), journal_(journal), control_(control), folder_(std::move(folder)), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
}

ExecutionOutcome Engine::run(const json& input) {
  ExecutionOutcome out;
  try {
    out.state = run_body(doc_, initial_state(input), Body{});
    out.status = ExecutionStatus::kFinished;
  } catch (Succeeded& s) {
    out.state = std::move(s.state);
    out.status = ExecutionStatus::kFinished;
  } catch (const Halted&) {
    out.status = ExecutionStatus::kStopped;
  } catch (const StepFailure& f) {
    out.status = ExecutionStatus::kFailed;
    out.error = f.error;
  }
  return out;
}

void Engine::check_running(const Body& scope) const {
  if (control_.stop.load() || control_.terminate.load()) throw Halted{};
  for (const Body* b = &scope; b; b = b->parent)
    if (b->aborted && b->aborted->load()) throw Halted{};
}

void Engine::record(StepRecord r) {
  if (r.finished_ms == 0) r.finished_ms = options_.now_ms();
  journal_.record(r);
}

json Engine::run_body(const json& body, json state, const Body& scope) {
  const json& steps = body.at("steps");
  std::string id = body.at("start").get<std::string>();
  std::map<std::string, int> visits;
  while (!id.empty()) {
    if (step_runs_.fetch_add(1) >= options_.max_step_runs)
      throw StepFailure("STEP_INTERNAL", "more than " + std::to_string(options_.max_step_runs) + " step runs: the document loops");
    check_running(scope);
    const std::string key = scope.prefix + id + "#" + std::to_string(visits[id]++);
    id = run_step(id, steps.at(id), state, scope, key);
  }
  return state;
}

std::string Engine::run_step(const std::string& id, const json& step, json& state, const Body& scope, const std::string& key) {
  const std::string type = step_type(step);
  if (std::optional<StepRecord> done = journal_.find(key)) {
    // Replayed: the journalled outcome, not a second run. Integration failures still go through `catch`.
    if (done->status == "FINISHED") {
      if (type == "success") throw Succeeded{state};
      if (done->output.is_object()) merge(state, done->output);
      return done->next;
    }
    if (type == "foundationModelsCall" || type == "httpCall") return integration_step(id, step, type, state, scope, key);
    throw StepFailure(done->error.value_or(StepError{"STEP_INTERNAL", "step failed"}));
  }
  if (type == "foundationModelsCall" || type == "httpCall") return integration_step(id, step, type, state, scope, key);

  const json& spec = step.at(type);
  const json vars = {{"global", scope.global ? *scope.global : state}, {"counter", scope.counter}};
  StepRecord r;
  r.key = key;
  r.step_id = id;
  r.title = step.value("title", id);
  r.type = type;
  r.status = "FINISHED";
  r.started_ms = options_.now_ms();
  r.next = spec.value("next", std::string());
  const auto fail = [&](const StepError& e) {
    r.status = "FAILED";
    r.error = e;
    record(r);
    throw StepFailure(e);
  };
  try {
    const json input = spec.contains("input") ? render_step(spec["input"], state, vars) : state;
    r.input = input;
    if (type == "switch") {
      r.next.clear();
      bool chosen = false;
      for (const auto& choice : spec.at("choices"))
        if (condition_holds(choice.at("condition"), input, vars)) {
          r.next = choice.at("next").get<std::string>();
          chosen = true;
          break;
        }
      if (!chosen) {
        if (!spec.contains("default")) throw StepFailure("STEP_NO_CHOICE_MATCHED", "no condition of switch '" + id + "' holds and it has no default");
        r.next = spec["default"].at("next").get<std::string>();
      }
      r.output = nullptr;
    } else if (type == "noOp") {
      if (spec.contains("output")) {
        r.output = render_step(spec["output"], input, vars);
        if (!r.output.is_object()) throw StepFailure("STEP_INVALID_OUTPUT", "the output of step '" + id + "' is not an object");
      }
    } else if (type == "success") {
      r.next.clear();
      record(r);
      throw Succeeded{state};
    } else if (type == "fail") {
      const json message = spec.contains("errorMessage") ? render_step(spec["errorMessage"], input, vars) : json("failed");
      fail(StepError{"STEP_FAIL", message.is_string() ? message.get<std::string>() : message.dump(-1, ' ', false, json::error_handler_t::replace)});
    } else if (type == "wait") {
      int64_t ms = 0;
      if (spec.contains("duration")) {
        try {
          ms = parse_duration_ms(spec["duration"]);
        } catch (const std::exception& e) {
          throw StepFailure("STEP_INVALID_ARGUMENT", std::string("wait.duration ") + e.what());
        }
      } else {
        const json until = render_step(spec["until"], input, vars);
        if (!until.is_string()) throw StepFailure("STEP_INVALID_ARGUMENT", "wait.until is not a time string");
        ms = std::max<int64_t>(0, parse_rfc3339_ms(until.get<std::string>()) - options_.now_ms());
      }
      if (ms > options_.max_wait_ms)
        throw StepFailure("STEP_INVALID_ARGUMENT", "wait of " + std::to_string(ms) + " ms is longer than the limit of " + std::to_string(options_.max_wait_ms) + " ms");
      sleep_ms(ms, true);
    } else if (type == "foreach" || type == "parallel") {
      json raw;
      if (type == "foreach") {
        if (!input.is_array()) throw StepFailure("STEP_INVALID_ARGUMENT", "the input of foreach '" + id + "' is not an array");
      }
      raw = iterate(spec, input, vars["global"], scope, key, type == "parallel");
      r.output = spec.contains("output") ? render_step(spec["output"], raw, vars) : raw;
      if (!r.output.is_object())
        throw StepFailure("STEP_INVALID_OUTPUT", "the output of " + type + " '" + id + "' is not an object" +
                                                     (type == "foreach" ? " (its results are an array: give it an output such as \\({results: .}))" : ""));
    } else if (type == "while") {
      if (!input.is_object()) throw StepFailure("STEP_INVALID_ARGUMENT", "the input of while '" + id + "' is not an object");
      const int64_t max = spec.value("max_iterations", spec.value("maxIterations", int64_t{100000}));
      json loop = input;
      for (int64_t i = 0; i < max; ++i) {
        const json loop_vars = {{"global", vars["global"]}, {"counter", i}};
        if (spec.contains("condition") && !condition_holds(spec["condition"], loop, loop_vars)) break;
        Body inner{key + "[" + std::to_string(i) + "]/", &vars["global"], i, nullptr, &scope};
        loop = run_body(spec.at("do"), loop, inner);
      }
      r.output = spec.contains("output") ? render_step(spec["output"], loop, vars) : loop;
      if (!r.output.is_object()) throw StepFailure("STEP_INVALID_OUTPUT", "the output of while '" + id + "' is not an object");
    }
  } catch (const StepFailure& f) {
    fail(f.error);
  }
  if (r.output.is_object()) merge(state, r.output);
  record(r);
  return r.next;
}

// foreach: one body run per item ({"input": item} + item's keys); parallel: one per branch on a copy of the input.
json Engine::iterate(const json& spec, const json& items, const json& global, const Body& scope, const std::string& key,
                     bool branches) {
  std::vector<std::string> names;
  std::vector<const json*> bodies;
  if (branches) {
    for (auto it = spec.at("branches").begin(); it != spec.at("branches").end(); ++it) {
      names.push_back(it.key());
      bodies.push_back(&it.value());
    }
  } else {
    for (size_t i = 0; i < items.size(); ++i) bodies.push_back(&spec.at("do"));
  }
  const size_t n = bodies.size();
  std::vector<json> results(n);
  std::vector<std::exception_ptr> errors(n);
  std::atomic<bool> aborted{false};
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      if (aborted.load()) break;
      std::string prefix = key;
      if (branches) prefix.append("{").append(names[i]).append("}/");
      else prefix.append("[").append(std::to_string(i)).append("]/");
      Body inner{std::move(prefix), &global, scope.counter, &aborted, &scope};
      try {
        results[i] = run_body(*bodies[i], branches ? items : initial_state(items[i]), inner);
      } catch (...) {
        errors[i] = std::current_exception();
        aborted = true;
      }
    }
  };
  const int64_t limit = spec.value("concurrency", int64_t{branches ? 30 : 1});
  const size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max<int64_t>(1, limit)));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  // The first real failure wins over the Halted of the siblings it stopped; a success ends the whole execution.
  std::exception_ptr halted;
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i]) continue;
    try {
      std::rethrow_exception(errors[i]);
    } catch (const Halted&) {
      if (!halted) halted = errors[i];
    } catch (...) {
      throw;
    }
  }
  if (halted) std::rethrow_exception(halted);
  if (!branches) return json(results);
  json out = json::object();
  for (size_t i = 0; i < n; ++i) out[names[i]] = std::move(results[i]);
  return out;
}

void Engine::sleep_ms(int64_t ms, bool stop_ends_it) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (control_.terminate.load() || (stop_ends_it && control_.stop.load())) throw Halted{};
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
  }
}

json Engine::call_once(const std::string& type, const json& spec, const json& input, const json& state, const Body& scope) {
  static const char* kCommon[] = {"input", "output", "next", "timeout", "retryPolicy", "catch"};
  json fields = json::object();
  for (auto it = spec.begin(); it != spec.end(); ++it)
    if (std::none_of(std::begin(kCommon), std::end(kCommon), [&](const char* k) { return it.key() == k; })) fields[it.key()] = it.value();
  const json vars = {{"global", scope.global ? *scope.global : state}, {"counter", scope.counter}};
  fields = render_step(fields, input, vars);
  CallContext ctx;
  ctx.folder = folder_;
  const int64_t timeout = spec.contains("timeout") ? parse_duration_ms(spec["timeout"]) : options_.default_timeout_ms;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  ctx.terminated = &control_.terminate;
  const json raw = type == "foundationModelsCall" ? calls_.foundation_models_call(fields, ctx) : calls_.http_call(fields, ctx);
  if (control_.terminate.load()) throw Halted{};
  if (std::chrono::steady_clock::now() > ctx.deadline) throw StepFailure("STEP_TIMEOUT", "the step ran longer than its timeout");
  json out = spec.contains("output") ? render_step(spec["output"], raw, vars) : raw;
  if (!out.is_object()) throw StepFailure("STEP_INVALID_OUTPUT", "the step's output is not an object: " + out.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 200));
  return out;
}

std::string Engine::integration_step(const std::string& id, const json& step, const std::string& type, json& state,
                                     const Body& scope, const std::string& key) {
  const json& spec = step.at(type);
  std::optional<StepRecord> done = journal_.find(key);
  StepRecord r;
  if (done) {
    r = *done;
  } else {
    r.key = key;
    r.step_id = id;
    r.title = step.value("title", id);
    r.type = type;
    r.started_ms = options_.now_ms();
    r.next = spec.value("next", std::string());
    const json* policy = spec.contains("retryPolicy") ? &spec["retryPolicy"] : doc_.contains("defaultRetryPolicy") ? &doc_["defaultRetryPolicy"] : nullptr;
    const json vars = {{"global", scope.global ? *scope.global : state}, {"counter", scope.counter}};
    int64_t delay = policy ? parse_duration_ms(policy->value("initialDelay", json("1s"))) : 0;
    for (r.attempts = 1;; ++r.attempts) {
      try {
        const json input = spec.contains("input") ? render_step(spec["input"], state, vars) : state;
        r.input = input;
        r.output = call_once(type, spec, input, state, scope);
        r.status = "FINISHED";
        r.error.reset();
        break;
      } catch (const StepFailure& f) {
        r.status = "FAILED";
        r.error = f.error;
        if (!policy || r.attempts > policy->value("retryCount", 3) || !listed(*policy, f.error.code)) break;
        check_running(scope);
        sleep_ms(std::min(delay, options_.max_wait_ms), false);
        const int64_t max_delay = parse_duration_ms(policy->value("maxDelay", json("1h")));
        delay = std::min<int64_t>(max_delay, static_cast<int64_t>(std::llround(delay * policy->value("backoffRate", 2.0))));
      } catch (const std::exception& e) {
        r.status = "FAILED";
        r.error = StepError{"STEP_INTERNAL", e.what()};
        break;
      }
    }
    record(r);
  }
  if (r.status == "FINISHED") {
    merge(state, r.output);
    return r.next;
  }
  // Failed for good: the first matching catch rule decides where the execution goes on.
  const StepError error = r.error.value_or(StepError{"STEP_INTERNAL", "step failed"});
  for (const auto& rule : spec.value("catch", json::array())) {
    if (!listed(rule, error.code)) continue;
    const json caught = {{"error", error.code}, {"message", error.message}};
    const json vars = {{"global", scope.global ? *scope.global : state}, {"counter", scope.counter}};
    const json out = rule.contains("output") ? render_step(rule["output"], caught, vars) : caught;
    if (!out.is_object()) throw StepFailure("STEP_INVALID_OUTPUT", "the catch output of step '" + id + "' is not an object");
    merge(state, out);
    return rule.at("next").get<std::string>();
  }
  throw StepFailure(error);
}

}  // namespace fm::workflow
