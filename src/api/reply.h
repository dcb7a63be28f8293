#pragma once
// The answer to one API request, in its route's dialect: whole JSON responses, dialect-shaped errors, streams.
// Every status is counted in the metrics under the route's label. Shared by a handler and its asynchronous
// continuations (the generation observers); thread-safe through the Responder.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/api_error.h"
#include "api/http_server.h"
#include "api/metrics.h"

namespace fm {

using ojson = nlohmann::ordered_json;

class Reply {
 public:
  Reply(std::shared_ptr<Responder> responder, Dialect dialect, std::string route_label, Metrics& metrics)
      : res_(std::move(responder)), dialect_(dialect), route_(std::move(route_label)), metrics_(metrics) {}

  void json(int status, const nlohmann::ordered_json& body, const std::map<std::string, std::string>& headers = {});
  void text(int status, const std::string& content_type, std::string body);
  // 200 with a file's content, streamed at the client's pace (Responder::respond_file); ApiError 404 if the file
  // cannot be opened.
  void file(const std::string& content_type, const std::string& path);
  void error(const ApiError& e);
  void error(const ServiceError& e) { error(ApiError(e)); }

  void start_stream(const std::string& content_type);  // 200, chunked
  bool write(std::string chunk);                        // false once the client has gone
  void end_stream();
  bool gone() const { return res_->client_gone(); }
  void on_disconnect(std::function<void()> callback) { res_->on_disconnect(std::move(callback)); }

  Dialect dialect() const { return dialect_; }
  Metrics& metrics() { return metrics_; }

 private:
  std::shared_ptr<Responder> res_;
  Dialect dialect_;
  std::string route_;
  Metrics& metrics_;
};

// JSON text for the wire: never throws on invalid UTF-8 (replaced with U+FFFD).
std::string dump_json(const nlohmann::ordered_json& j);

}  // namespace fm
