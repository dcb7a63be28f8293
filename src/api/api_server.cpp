#include "api/api_server.h"

#include "api/routes.h"

namespace fm {

Api::Api(const ApiContext& ctx) : ctx_(ctx), router_(ctx.metrics) {
  add_system_routes(router_, ctx_);
  add_openai_routes(router_, ctx_);
  add_native_routes(router_, ctx_);
  add_operation_routes(router_, ctx_);
  add_workflow_routes(router_, ctx_);
}

void Api::handle(const HttpRequest& request, std::shared_ptr<Responder> responder) const {
  router_.dispatch(request, std::move(responder));
}

std::string Api::transport_error(const std::string& path, int status, const std::string& message) const {
  ctx_.metrics.request(router_.label_of(path), status);
  const ErrorCode code = status == 408 ? ErrorCode::kDeadlineExceeded : ErrorCode::kInvalidArgument;
  return error_body(router_.dialect_of(path), ApiError(code, message, "bad_request", status));
}

}  // namespace fm
