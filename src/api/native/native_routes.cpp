// The native dialect's route families.
#include "api/routes.h"

namespace fm {

void add_completion_routes(Router& router, const ApiContext& ctx);  // completion.cpp
void add_tokenize_routes(Router& router, const ApiContext& ctx);    // tokenize.cpp
void add_embedding_routes(Router& router, const ApiContext& ctx);   // embedding.cpp
void add_classification_routes(Router& router, const ApiContext& ctx);  // classification.cpp
void add_dataset_routes(Router& router, const ApiContext& ctx);     // datasets.cpp: /datasets/v1/...
void add_batch_routes(Router& router, const ApiContext& ctx);       // batch.cpp: completionBatch, /batchInference/v1/tasks
void add_image_generation_routes(Router& router, const ApiContext& ctx);  // image_generation.cpp: imageGenerationAsync

void add_native_routes(Router& router, const ApiContext& ctx) {
  add_completion_routes(router, ctx);
  add_tokenize_routes(router, ctx);
  add_embedding_routes(router, ctx);
  add_classification_routes(router, ctx);
  add_dataset_routes(router, ctx);
  add_batch_routes(router, ctx);
  add_image_generation_routes(router, ctx);
}

}  // namespace fm
