// The native dialect's route families.
#include "api/routes.h"

namespace fm {

void add_completion_routes(Router& router, const ApiContext& ctx);  // completion.cpp
void add_tokenize_routes(Router& router, const ApiContext& ctx);    // tokenize.cpp
void add_embedding_routes(Router& router, const ApiContext& ctx);   // embedding.cpp
void add_classification_routes(Router& router, const ApiContext& ctx);  // classification.cpp

void add_native_routes(Router& router, const ApiContext& ctx) {
  add_completion_routes(router, ctx);
  add_tokenize_routes(router, ctx);
  add_embedding_routes(router, ctx);
  add_classification_routes(router, ctx);
}

}  // namespace fm
