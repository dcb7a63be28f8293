#pragma once
// The shapes of datasets and batch inference tasks on fmserve's REST routes for the cloud's gRPC-only services
// (shared/reference/foundation-models-api.md §9, §10): DatasetInfo, BatchInferenceTask, and their requests.
#include <string>

#include "api/json_input.h"
#include "service/dataset_service.h"
#include "store/batch_store.h"

namespace fm::native {

ojson dataset_json(const Dataset& d);
// BatchInferenceTask; `line_errors` go to errors.lineErrors.
ojson task_json(const BatchTask& t, const std::vector<LineError>& line_errors);

struct DatasetCreateCall {
  std::string folder;  // folderId as sent
  DatasetDraft draft;
};
DatasetCreateCall parse_dataset_create(const ojson& body);
// UpdateDatasetRequest: updateMask ("name,labels"; absent: every field present) with name, description, labels.
DatasetUpdate parse_dataset_update(const ojson& body);

// The JSON Schema of a task type's rows (ListUploadSchemas).
ojson upload_schema(const std::string& task_type);

}  // namespace fm::native
