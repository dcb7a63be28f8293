#pragma once
// The HTTP API: every route family on one route table, over the wire-free services.
#include <memory>
#include <string>

#include "api/api_context.h"
#include "api/http_server.h"
#include "api/router.h"

namespace fm {

class Api {
 public:
  explicit Api(const ApiContext& ctx);
  void handle(const HttpRequest& request, std::shared_ptr<Responder> responder) const;
  // The body (in the path's dialect) of an error the HTTP layer raises itself (413, 431, 408, malformed request);
  // counted in the metrics under the path's route label.
  std::string transport_error(const std::string& path, int status, const std::string& message) const;

 private:
  ApiContext ctx_;
  Router router_;
};

}  // namespace fm
