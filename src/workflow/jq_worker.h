#pragma once
// jq programs run in helper processes (`fmserve-jq`, beside the binary that uses them), so that a program that
// never ends (`[range(1e12)]`, `def f: f; f`) is killed at its time limit instead of holding a thread for ever:
// libjq 1.6 cannot be interrupted. A small pool of helpers is started on demand and reused; each keeps its own cache
// of compiled programs. Requests and answers are length-prefixed JSON over a socket pair.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace fm::workflow {

// Evaluates `program` on `packed` ([input, $global, $counter]) in a helper. Returns {"v": first value or null} or
// {"e": message} (a compile or run-time error); throws std::runtime_error when the helper cannot run or runs longer
// than the time limit (the helper is killed).
nlohmann::ordered_json evaluate_in_helper(const std::string& program, const nlohmann::ordered_json& packed);

// The time limit of one evaluation (default 10 s) and the helpers running at once (default 4).
void set_jq_time_limit_ms(int64_t ms);
int64_t jq_time_limit_ms();

// The helper's side: answers requests on `fd` until it closes. Used by fmserve-jq's main().
int serve_jq_requests(int fd);

}  // namespace fm::workflow
