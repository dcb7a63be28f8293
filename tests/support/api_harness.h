#pragma once
// The whole HTTP API in-process, without sockets: the route table over real services, a tiny real model
// (written to a temporary directory, served as "tiny" and as the embedding model "tiny-embed") and a key of
// folder "f1". Requests go straight to the handlers and
// every wait is bounded. Shared by the API fuzzer and the hostile-request regression tests.
#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace fm::test {

struct ApiResponse {
  int status = 0;
  std::string content_type;
  std::string body;        // whole body, or the concatenated chunks of a stream
  bool streamed = false;
  bool completed = false;  // false: no answer within the timeout
};

class ApiHarness {
 public:
  ApiHarness();
  ~ApiHarness();
  // `$KEY` in a header value is replaced by the harness key's secret.
  ApiResponse call(const std::string& method, const std::string& path, const std::string& body,
                   const std::map<std::string, std::string>& headers = {{"authorization", "Api-Key $KEY"}},
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
  const std::string& key() const;
  std::string metrics_text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `body` is a JSON object with an "error" object holding a non-empty "message" (either dialect).
bool is_error_body(const std::string& body);

}  // namespace fm::test
