#include "api/reply.h"

namespace fm {

std::string dump_json(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void Reply::json(int status, const nlohmann::ordered_json& body, const std::map<std::string, std::string>& headers) {
  metrics_.request(route_, status);
  res_->respond(status, "application/json", dump_json(body), headers);
}

void Reply::text(int status, const std::string& content_type, std::string body) {
  metrics_.request(route_, status);
  res_->respond(status, content_type, std::move(body));
}

void Reply::file(const std::string& content_type, const std::string& path) {
  if (!res_->respond_file(200, content_type, path)) throw ApiError(ErrorCode::kNotFound, "the content is gone", "not_found");
  metrics_.request(route_, 200);
}

void Reply::error(const ApiError& e) {
  std::map<std::string, std::string> headers;
  if (e.retry_after_s() > 0) headers["Retry-After"] = std::to_string(e.retry_after_s());
  metrics_.request(route_, e.http_status());
  res_->respond(e.http_status(), "application/json", error_body(dialect_, e), headers);
}

void Reply::start_stream(const std::string& content_type) {
  metrics_.request(route_, 200);
  res_->start_stream(200, content_type);
}

bool Reply::write(std::string chunk) { return res_->write_chunk(std::move(chunk)); }

void Reply::end_stream() { res_->end_stream(); }

}  // namespace fm
