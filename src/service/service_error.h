#pragma once
// Errors the wire-free services report, with gRPC status codes: each API dialect maps them to its own HTTP
// status and error shape. `reason` is a short machine-readable tag (OpenAI's `code`), `message` is for people.
#include <stdexcept>
#include <string>

namespace fm {

// google.rpc.Code values.
enum class ErrorCode {
  kCancelled = 1,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

class ServiceError : public std::runtime_error {
 public:
  ServiceError(ErrorCode code, const std::string& message, std::string reason = {}, int retry_after_s = 0)
      : std::runtime_error(message), code_(code), reason_(std::move(reason)), retry_after_s_(retry_after_s) {}
  ErrorCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  int retry_after_s() const { return retry_after_s_; }

 private:
  ErrorCode code_;
  std::string reason_;
  int retry_after_s_;
};

inline ServiceError invalid_argument(const std::string& message, std::string reason = "invalid_value") {
  return ServiceError(ErrorCode::kInvalidArgument, message, std::move(reason));
}

}  // namespace fm
