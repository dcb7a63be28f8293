#pragma once
// The route families; each file registers its routes on the table (api_server.cpp lists them all).
#include "api/api_context.h"
#include "api/router.h"

namespace fm {

void add_system_routes(Router& router, const ApiContext& ctx);     // system_routes.cpp: /health, /ready, /metrics
void add_openai_routes(Router& router, const ApiContext& ctx);     // openai/: /v1/chat/completions, /v1/completions, /v1/models
void add_native_routes(Router& router, const ApiContext& ctx);     // native/: /foundationModels/v1/...
void add_operation_routes(Router& router, const ApiContext& ctx);  // operations.cpp: /operations/{id}[:cancel]
void add_workflow_routes(Router& router, const ApiContext& ctx);   // workflows/: /workflows/v1/...

}  // namespace fm
