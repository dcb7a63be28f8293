#pragma once
// How the services get a model: the model manager's acquire (which may load it first) with every failure turned
// into a ServiceError: unknown model -> NOT_FOUND, a load that failed -> UNAVAILABLE, a ServiceError thrown by the
// continuation -> itself, anything else -> INTERNAL (with no library text).
#include <functional>
#include <memory>
#include <string>

#include "service/model_manager.h"
#include "service/service_error.h"

namespace fm {

void with_model(ModelManager& models, const std::string& model, const std::string& branch,
                std::function<void(const std::shared_ptr<LoadedModel>&)> then, std::function<void(const ServiceError&)> fail);

}  // namespace fm
