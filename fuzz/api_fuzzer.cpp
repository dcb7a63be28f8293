// libFuzzer target: HTTP requests driven through the whole API in-process (route table, auth, body parsing, the
// generation service with a tiny real model). Every answer must be a non-500 status, and an error status must carry
// a JSON error body; crashes, hangs, leaks and UB are bugs (built with ASan/UBSan).
//
// Input: "METHOD PATH\n" + header lines "name: value\n" + "\n" + body. `$KEY` in a header is the harness key.
// A custom mutator mutates the body as JSON structure (types, depth, size, duplicate keys, invalid UTF-8, huge
// numbers, NUL bytes) as well as byte-wise, and swaps routes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/api_harness.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using json = nlohmann::ordered_json;

struct Request {
  std::string method = "POST", path = "/", body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Request parse(const std::string& in) {
  Request r;
  size_t line_end = in.find('\n');
  const std::string first = in.substr(0, line_end);
  const size_t space = first.find(' ');
  r.method = first.substr(0, space);
  r.path = space == std::string::npos ? "/" : first.substr(space + 1);
  if (r.path.empty() || r.path[0] != '/') r.path = "/" + r.path;
  size_t pos = line_end == std::string::npos ? in.size() : line_end + 1;
  while (pos < in.size()) {
    const size_t end = in.find('\n', pos);
    const std::string line = in.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? in.size() : end + 1;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value[0] == ' ') value.erase(0, 1);
    r.headers.emplace_back(line.substr(0, colon), value);
  }
  r.body = pos < in.size() ? in.substr(pos) : std::string();
  return r;
}

std::string serialize(const Request& r) {
  std::string out = r.method + " " + r.path + "\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\n";
  return out + "\n" + r.body;
}

const char* const kRoutes[][2] = {
    {"POST", "/v1/chat/completions"}, {"POST", "/v1/completions"}, {"GET", "/v1/models"},
    {"POST", "/foundationModels/v1/completion"}, {"POST", "/foundationModels/v1/completionAsync"},
    {"POST", "/foundationModels/v1/tokenize"}, {"POST", "/foundationModels/v1/tokenizeCompletion"},
    {"GET", "/operations/fm0000"}, {"GET", "/operations/fm0000:cancel"}, {"GET", "/health"}, {"GET", "/ready"},
    {"GET", "/metrics"}, {"DELETE", "/v1/models"}, {"POST", "/nope"}, {"POST", "/foundationModels/v1/textEmbedding"},
    {"POST", "/v1/embeddings"}, {"POST", "/foundationModels/v1/fewShotTextClassification"},
    {"POST", "/foundationModels/v1/textClassification"}, {"POST", "/datasets/v1/datasets"}, {"GET", "/datasets/v1/datasets"},
    {"PATCH", "/datasets/v1/datasets/fds0"}, {"POST", "/datasets/v1/datasets/fds0:validate"},
    {"POST", "/datasets/v1/datasets/fds0:startMultipartUploadDraft"}, {"POST", "/datasets/v1/datasets/fds0:finishMultipartUploadDraft"},
    {"PUT", "/datasets/v1/uploads/00"}, {"POST", "/foundationModels/v1/completionBatch"}, {"GET", "/batchInference/v1/tasks"},
    {"POST", "/batchInference/v1/tasks/fbt0:cancel"}};

// Every node of a JSON tree, to pick one to mutate.
void collect(json& j, std::vector<json*>& out) {
  out.push_back(&j);
  if (j.is_array() || j.is_object())
    for (auto& child : j) collect(child, out);
}

json random_scalar(std::mt19937& rng) {
  switch (rng() % 9) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng()) - (1 << 30);
    case 3: return -1;
    case 4: return 0.5;
    case 5: return "";
    case 6: return std::string(1 + rng() % 5000, 'x');
    case 7: return json::array();
    default: return json::object();
  }
}

// Mutations of the body's structure; some are textual because the JSON library cannot express them.
std::string mutate_json(const std::string& body, std::mt19937& rng) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return body;
  std::vector<json*> nodes;
  collect(j, nodes);
  json& target = *nodes[rng() % nodes.size()];
  std::string text;
  switch (rng() % 10) {
    case 0: target = random_scalar(rng); break;                        // a value of another type
    case 1: {                                                           // deeper nesting
      const int levels = 1 + static_cast<int>(rng() % 300);
      for (int i = 0; i < levels; ++i) target = rng() % 2 ? json::array({target}) : json{{"k", target}};
      break;
    }
    case 2:                                                             // bigger arrays
      if (target.is_array()) {
        json copy = target.empty() ? json("x") : target[0];
        for (int i = 0; i < 200; ++i) target.push_back(copy);
      } else {
        target = json::array({target, target, target});
      }
      break;
    case 3:                                                             // a member removed
      if (target.is_object() && !target.empty()) target.erase(target.begin());
      break;
    default: break;
  }
  text = j.dump();
  switch (rng() % 8) {
    case 0: {  // duplicate keys: repeat the first member
      const size_t colon = text.find("\":");
      const size_t open = text.find('{');
      if (open != std::string::npos && colon != std::string::npos && colon > open) {
        const size_t end = text.find_first_of(",}", colon);
        if (end != std::string::npos) text.insert(open + 1, text.substr(open + 1, end - open - 1) + ",");
      }
      break;
    }
    case 1: {  // invalid UTF-8 inside a string
      const size_t q = text.find('"');
      if (q != std::string::npos) text.insert(q + 1, rng() % 2 ? "\xff\xfe" : "\xc3");
      break;
    }
    case 2: {  // huge numbers
      static const char* const kNumbers[] = {"1e400", "-1e400", "18446744073709551616", "-9223372036854775809",
                                             "1e-400", "123456789012345678901234567890"};
      const size_t digit = text.find_first_of("0123456789");
      if (digit != std::string::npos) text.replace(digit, 1, kNumbers[rng() % 6]);
      break;
    }
    case 3: {  // NUL bytes, escaped and raw
      const size_t q = text.find('"');
      if (q != std::string::npos) text.insert(q + 1, rng() % 2 ? std::string("\\u0000") : std::string(1, '\0'));
      break;
    }
    default: break;
  }
  return text;
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  Request r = parse(std::string(reinterpret_cast<const char*>(data), size));
  switch (rng() % 4) {
    case 0: r.body = mutate_json(r.body, rng); break;
    case 1: {
      const auto& route = kRoutes[rng() % (sizeof kRoutes / sizeof kRoutes[0])];
      r.method = route[0];
      r.path = route[1];
      break;
    }
    default: return LLVMFuzzerMutate(data, size, max_size);
  }
  const std::string out = serialize(r);
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fm::test::ApiHarness* harness = new fm::test::ApiHarness();  // lives for the whole run
  const Request r = parse(std::string(reinterpret_cast<const char*>(data), size));
  std::map<std::string, std::string> headers;
  for (const auto& [k, v] : r.headers) headers[k] = v;
  const fm::test::ApiResponse res = harness->call(r.method, r.path, r.body, headers, std::chrono::seconds(60));
  if (!res.completed) {
    std::fprintf(stderr, "no answer within 60 s to %s %s\n", r.method.c_str(), r.path.c_str());
    std::abort();
  }
  if (res.status >= 500 && res.status != 503) {  // 503: the configured model that cannot load
    std::fprintf(stderr, "status %d for %s %s: %s\n", res.status, r.method.c_str(), r.path.c_str(), res.body.c_str());
    std::abort();
  }
  // 503 {"ready":false,...} by design; the server routes on the path without its query string
  const bool readiness = r.method == "GET" && r.path.substr(0, r.path.find('?')) == "/ready";
  if (res.status >= 400 && !readiness && !fm::test::is_error_body(res.body)) {
    std::fprintf(stderr, "status %d without a JSON error body: %s\n", res.status, res.body.c_str());
    std::abort();
  }
  return 0;
}
