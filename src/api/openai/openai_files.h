#pragma once
// Shared by the Files and Batches routes: a file's OpenAI object and the lookup of a caller's file.
#include "api/api_context.h"
#include "api/json_input.h"

namespace fm::openai {

ojson file_json(const Dataset& d);
// The caller's READY file `id`; throws ApiError 404 otherwise.
Dataset find_file(const ApiContext& ctx, const std::string& folder, const std::string& id);

}  // namespace fm::openai
