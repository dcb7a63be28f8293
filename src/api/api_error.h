#pragma once
// Errors as the two API dialects send them. Both start from a gRPC code (the services' ServiceError); the OpenAI
// dialect (/v1) answers {"error":{"message","type","param","code"}}, the native one
// {"error":{"grpcCode","httpCode","message","httpStatus","details":[]}}. Messages are ours: exception text from a
// library never reaches a client.
#include <string>

#include "service/service_error.h"

namespace fm {

enum class Dialect { kOpenAi, kNative };

class ApiError : public std::runtime_error {
 public:
  // http_status 0: the status that goes with the code.
  ApiError(ErrorCode code, const std::string& message, std::string reason = {}, int http_status = 0, int retry_after_s = 0);
  explicit ApiError(const ServiceError& e);
  ErrorCode code() const { return code_; }
  int http_status() const { return http_status_; }
  const std::string& reason() const { return reason_; }
  int retry_after_s() const { return retry_after_s_; }

 private:
  ErrorCode code_;
  std::string reason_;
  int http_status_;
  int retry_after_s_;
};

// A 400 for a request field: "messages[0].content must be a string".
ApiError bad_request(const std::string& message, std::string reason = "invalid_value");

int http_status_of(ErrorCode code);
const char* http_reason_phrase(int status);  // "Bad Request", 499 "Client Closed Request"
// The error body in the dialect's shape.
std::string error_body(Dialect dialect, const ApiError& error);

}  // namespace fm
