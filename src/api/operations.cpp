// GET /operations/{id} and GET /operations/{id}:cancel: any folder's operation, readable only with a key of
// that folder (others get 404, as if it did not exist).
#include "api/auth.h"
#include "api/native/native_wire.h"
#include "api/routes.h"

namespace fm {
namespace {

Operation find_operation(const ApiContext& ctx, const HttpRequest& http, const std::string& id) {
  const ApiKeyRecord key = authenticate(http, ctx.keys);
  std::optional<Operation> op = ctx.operation_store.get(id);
  if (!op || op->folder != key.folder) throw ApiError(ErrorCode::kNotFound, "operation not found", "not_found");
  return *op;
}

}  // namespace

void add_operation_routes(Router& router, const ApiContext& ctx) {
  router.add("GET", "/operations/{id}", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams& params, const std::shared_ptr<Reply>& reply) {
               reply->json(200, native::operation_json(find_operation(ctx, http, params[0])));
             });
  router.add("GET", "/operations/{id}:cancel", Dialect::kNative,
             [&ctx](const HttpRequest& http, const RouteParams& params, const std::shared_ptr<Reply>& reply) {
               const Operation op = find_operation(ctx, http, params[0]);
               std::optional<Operation> after = op.done ? op : ctx.operations.cancel(op.id);
               if (!after) throw ApiError(ErrorCode::kNotFound, "operation not found", "not_found");
               reply->json(200, native::operation_json(*after));
             });
}

}  // namespace fm
