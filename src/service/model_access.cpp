#include "service/model_access.h"

namespace fm {
namespace {

ServiceError load_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ServiceError& e) {
    return e;
  } catch (const std::exception& e) {
    return ServiceError(ErrorCode::kUnavailable, std::string("model unavailable: ") + e.what(), "model_unavailable");
  }
}

}  // namespace

void with_model(ModelManager& models, const std::string& model, const std::string& branch,
                std::function<void(const std::shared_ptr<LoadedModel>&)> then, std::function<void(const ServiceError&)> fail) {
  auto run = [then, fail](std::shared_ptr<LoadedModel> loaded, std::exception_ptr error) {
    if (error) return fail(load_error(error));
    try {
      then(loaded);
    } catch (const ServiceError& e) {
      fail(e);
    } catch (const std::exception&) {
      fail(ServiceError(ErrorCode::kInternal, "internal error", "internal_error"));
    }
  };
  try {
    models.acquire(model, branch, run);
  } catch (const ModelNotFound& e) {
    fail(ServiceError(ErrorCode::kNotFound, e.what(), "model_not_found"));
  }
}

}  // namespace fm
