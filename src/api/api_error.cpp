#include "api/api_error.h"

#include <nlohmann/json.hpp>

namespace fm {

ApiError::ApiError(ErrorCode code, const std::string& message, std::string reason, int http_status, int retry_after_s)
    : std::runtime_error(message),
      code_(code),
      reason_(std::move(reason)),
      http_status_(http_status ? http_status : http_status_of(code)),
      retry_after_s_(retry_after_s) {}

ApiError::ApiError(const ServiceError& e) : ApiError(e.code(), e.what(), e.reason(), 0, e.retry_after_s()) {}

ApiError bad_request(const std::string& message, std::string reason) {
  return ApiError(ErrorCode::kInvalidArgument, message, std::move(reason));
}

int http_status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kCancelled: return 499;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kFailedPrecondition: return 400;
    case ErrorCode::kDeadlineExceeded: return 504;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kResourceExhausted: return 429;
    case ErrorCode::kUnimplemented: return 501;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kUnauthenticated: return 401;
  }
  return 500;
}

const char* http_reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
  }
  return "Error";
}

namespace {

const char* openai_type(int status) {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 404) return "not_found_error";
  if (status == 429) return "rate_limit_error";
  if (status == 499) return "cancelled";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

}  // namespace

std::string error_body(Dialect dialect, const ApiError& e) {
  using json = nlohmann::ordered_json;
  const int status = e.http_status();
  json body;
  if (dialect == Dialect::kOpenAi) {
    body = {{"error", {{"message", e.what()}, {"type", openai_type(status)}, {"param", nullptr},
                       {"code", e.reason().empty() ? json(nullptr) : json(e.reason())}}}};
  } else {
    body = {{"error", {{"grpcCode", static_cast<int>(e.code())}, {"httpCode", status}, {"message", e.what()},
                       {"httpStatus", http_reason_phrase(status)}, {"details", json::array()}}}};
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace fm
